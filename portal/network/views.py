"""The member directory: /network for verified members (what it is, to everyone else), one profile, the
directory section of /account, writing to a member, and the inbox of messages with its block and report."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import search
from portal.exceptions import NotAllowed, ValidationFailed
from portal.extensions import limiter
from portal.forms import EmptyForm, apply_error, page_number, run_confirmed
from portal.markdown import render_markdown
from portal.members.views import account_page
from portal.network import contact, services
from portal.network.forms import ContactForm, ReportForm, directory_form
from portal.security import access, allows

bp = Blueprint("network", __name__)


def _me():
    return current_user._get_current_object()


@bp.route("/account/directory", methods=["POST"])
@access("verified")
def save_profile():
    form = directory_form(formdata=request.form)
    if form.validate_on_submit():
        try:
            profile = services.save_profile(
                _me(), is_listed=form.is_listed.data,
                display_name=form.display_name.data, title=form.title.data, organisation=form.organisation.data,
                sector=form.sector.data, jurisdiction=form.jurisdiction.data, programs=form.programs.data,
                topics=form.topics.data, bio=form.bio.data, is_open_to_contact=form.is_open_to_contact.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("Your directory profile is saved and listed." if profile.is_listed else
                  "Your directory profile is saved. It is not listed: no one else sees it.", "success")
            return redirect(url_for("members.account") + "#directory")
    return account_page(400, directory_form=form)


def _suspended(own):
    """The page a member whose directory access staff suspended sees instead (None for everyone else); `own` is
    the member's profile (None: they have none)."""
    notice = services.suspended_notice(own)
    return (render_template("network/suspended.html", notice=notice), 403) if notice else None


@bp.route("/network")
@access("public")
def index():
    if not allows(current_user, "verified"):
        return render_template("network/about.html")
    own = services.profile_of(current_user)
    if (suspended := _suspended(own)) is not None:
        return suspended
    filters = {name: request.args.get(name, "")[:120] for name in services.FILTERS}
    q = request.args.get("q", "")[:search.MAX_QUERY_CHARS]
    directory = services.list_directory(q=q, filters=filters, page=page_number())
    active = {name: value for name, value in {"q": q, **filters}.items() if value}
    return render_template("network/index.html", directory=directory, filters=filters, own=own, q=q,
                           active=active)


@bp.route("/network/<int:profile_id>")
@access("verified")
def profile(profile_id):
    own = services.profile_of(current_user)
    if (suspended := _suspended(own)) is not None:
        return suspended
    found = _listed_or_404(profile_id)
    return render_template("network/profile.html", profile=found, bio=render_markdown(found.bio),
                           is_own=found.member_id == current_user.id, refusal=contact.refusal(own, found))


def _listed_or_404(profile_id):
    found = services.get_listed_profile(profile_id)
    if found is None:
        abort(404, description="No one is listed in the directory under this address.")
    return found


@bp.route("/network/<int:profile_id>/contact", methods=["GET", "POST"])
@access("verified")
@limiter.limit("20 per hour", methods=["POST"])
def write(profile_id):
    own = services.profile_of(current_user)
    if (suspended := _suspended(own)) is not None:
        return suspended
    found = _listed_or_404(profile_id)
    refusal = contact.refusal(own, found)
    form = ContactForm() if request.method == "POST" else ContactForm(formdata=None)
    status = 200  # a GET: the page says why no message can be sent, when none can
    if request.method == "POST":
        status = 403 if refusal else 400
        if refusal is None and form.validate_on_submit():
            try:
                contact.send_message(_me(), found, subject=form.subject.data, body=form.body.data,
                                     share_address=form.share_address.data)
            except ValidationFailed as error:
                apply_error(form, error)
            except NotAllowed as error:
                refusal, status = str(error), 429 if isinstance(error, contact.LimitReached) else 403
            else:
                flash(f"Your message is on its way to {found.display_name}.", "success")
                return redirect(url_for("network.profile", profile_id=found.id))
    return render_template("network/contact.html", profile=found, form=form, refusal=refusal), status


@bp.route("/network/messages")
@access("verified")
def messages():
    box = contact.inbox(_me(), page=page_number())
    return render_template("network/messages.html", box=box, blocks=contact.blocks_of(_me()), form=EmptyForm())


@bp.route("/network/messages/sent")
@access("verified")
def sent():
    return render_template("network/sent.html", box=contact.sent(_me(), page=page_number()))


def _received_or_404(message_id):
    found = contact.received_message(_me(), message_id)
    if found is None:
        abort(404, description="There is no message to you under this address.")
    return found


@bp.route("/network/messages/<int:message_id>/block", methods=["POST"])
@access("verified")
def block(message_id):
    found = _received_or_404(message_id)
    run_confirmed(lambda: contact.block_sender(_me(), found),
                  f"{found.sender_name} can no longer write to you. You can lift the block below.")
    return redirect(url_for("network.messages") + "#blocked-heading")


@bp.route("/network/blocks/<int:member_id>/delete", methods=["POST"])
@access("verified")
def unblock(member_id):
    if not contact.has_blocked(_me(), member_id):
        abort(404, description="You have not blocked this member.")
    run_confirmed(lambda: contact.unblock(_me(), member_id), "The block is lifted: they can write to you again.")
    return redirect(url_for("network.messages") + "#blocked-heading")


@bp.route("/network/messages/<int:message_id>/report", methods=["GET", "POST"])
@access("verified")
@limiter.limit("20 per hour", methods=["POST"])
def report(message_id):
    found = _received_or_404(message_id)
    form = ReportForm() if request.method == "POST" else ReportForm(formdata=None)
    if request.method == "POST" and form.validate_on_submit():
        try:
            contact.report_message(_me(), found, reason=form.reason.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("Thank you: staff will read the message and decide what to do. You can also block the sender.",
                  "success")
            return redirect(url_for("network.messages"))
    return render_template("network/report.html", message=found, form=form), 400 if form.errors else 200
