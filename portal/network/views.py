"""The member directory: /network for verified members (what it is, to everyone else), one profile, and the
directory section of /account."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import search
from portal.exceptions import ValidationFailed
from portal.forms import apply_error, page_number
from portal.markdown import render_markdown
from portal.members.views import account_page
from portal.network import services
from portal.network.forms import directory_form
from portal.security import access, allows

bp = Blueprint("network", __name__)


@bp.route("/account/directory", methods=["POST"])
@access("verified")
def save_profile():
    form = directory_form(formdata=request.form)
    if form.validate_on_submit():
        try:
            profile = services.save_profile(
                current_user._get_current_object(), is_listed=form.is_listed.data,
                display_name=form.display_name.data, title=form.title.data, organisation=form.organisation.data,
                sector=form.sector.data, jurisdiction=form.jurisdiction.data, programs=form.programs.data,
                topics=form.topics.data, bio=form.bio.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("Your directory profile is saved and listed." if profile.is_listed else
                  "Your directory profile is saved. It is not listed: no one else sees it.", "success")
            return redirect(url_for("members.account") + "#directory")
    return account_page(400, directory_form=form)


@bp.route("/network")
@access("public")
def index():
    if not allows(current_user, "verified"):
        return render_template("network/about.html")
    filters = {name: request.args.get(name, "")[:120] for name in services.FILTERS}
    q = request.args.get("q", "")[:search.MAX_QUERY_CHARS]
    directory = services.list_directory(q=q, filters=filters, page=page_number())
    own = services.profile_of(current_user)
    active = {name: value for name, value in {"q": q, **filters}.items() if value}
    return render_template("network/index.html", directory=directory, filters=filters, own=own, q=q,
                           active=active)


@bp.route("/network/<int:profile_id>")
@access("verified")
def profile(profile_id):
    found = services.get_listed_profile(profile_id)
    if found is None:
        abort(404, description="No one is listed in the directory under this address.")
    return render_template("network/profile.html", profile=found, bio=render_markdown(found.bio),
                           is_own=found.member_id == current_user.id)
