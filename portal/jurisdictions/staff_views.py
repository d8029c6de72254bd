"""Staff work on jurisdictions: add one, answer representative requests and applications to join, revoke a
representative. Editing a jurisdiction's page is the same page its representatives use."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.exceptions import ValidationFailed
from portal.forms import EmptyForm, apply_error, run_confirmed
from portal.jurisdictions import applications, representatives
from portal.jurisdictions.forms import DecisionForm, NewJurisdictionForm
from portal.jurisdictions.services import get_jurisdiction, list_jurisdictions, save_jurisdiction
from portal.security import access
from portal.text import clean_slug

bp = Blueprint("jurisdictions_staff", __name__, url_prefix="/staff/jurisdictions")


def _me():
    return current_user._get_current_object()


def _index(status=200, **forms):
    forms.setdefault("new_form", NewJurisdictionForm(formdata=None))
    return render_template("jurisdictions_staff/index.html", jurisdictions=list_jurisdictions(),
                           requests=representatives.list_requests(status="pending"),
                           current=representatives.list_requests(status="approved"),
                           applications=applications.list_applications(status="pending"),
                           revoke_form=EmptyForm(), **forms), status


@bp.route("", methods=["GET", "POST"])
@access("staff")
def index():
    if request.method == "GET":
        return _index()
    form = NewJurisdictionForm()
    if form.validate_on_submit():
        try:
            slug = clean_slug(form.slug.data, form.name.data, max_length=80)
            if get_jurisdiction(slug) is not None:
                raise ValidationFailed("slug", "Another jurisdiction has this address; choose another slug.")
            jurisdiction, _ = save_jurisdiction(slug=slug, name=form.name.data, state=form.state.data,
                                                kind=form.kind.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash(f"{jurisdiction.label} is added.", "success")
            return redirect(url_for("jurisdiction_manage.edit", slug=jurisdiction.slug))
    return _index(400, new_form=form)


@bp.route("/requests/<int:request_id>", methods=["GET", "POST"])
@access("staff")
def review_request(request_id):
    pending = representatives.get_request(request_id) or abort(404)
    form = DecisionForm() if request.method == "POST" else DecisionForm(formdata=None)
    if request.method == "POST" and form.validate_on_submit():
        try:
            if form.decision.data == "approve":
                representatives.approve_representative(pending, actor=_me(), note=form.note.data)
            else:
                representatives.decline_representative(pending, actor=_me(), note=form.note.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash(f"The request is {'approved' if form.decision.data == 'approve' else 'declined'}; "
                  f"{pending.member.name} is mailed.", "success")
            return redirect(url_for("jurisdictions_staff.index"))
    return render_template("jurisdictions_staff/request.html", pending=pending, form=form), \
        400 if form.errors else 200


@bp.route("/representatives/<int:request_id>/revoke", methods=["POST"])
@access("staff")
def revoke(request_id):
    current = representatives.get_request(request_id) or abort(404)
    run_confirmed(lambda: representatives.revoke_representative(current, actor=_me()),
                  f"{current.member.name} no longer represents {current.jurisdiction.name}; their API tokens "
                  "stop working.")
    return redirect(url_for("jurisdictions_staff.index"))


@bp.route("/applications/<int:application_id>", methods=["GET", "POST"])
@access("staff")
def review_application(application_id):
    application = applications.get_application(application_id) or abort(404)
    form = DecisionForm() if request.method == "POST" else DecisionForm(formdata=None)
    if request.method == "POST" and form.validate_on_submit():
        try:
            if form.decision.data == "approve":
                jurisdiction = applications.approve_application(application, actor=_me(), note=form.note.data)
            else:
                applications.decline_application(application, actor=_me(), note=form.note.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            if form.decision.data == "approve":
                flash(f"{jurisdiction.label} is a partner now; {application.contact_email} is invited to "
                      "represent it.", "success")
                return redirect(url_for("jurisdictions.show", slug=jurisdiction.slug))
            flash(f"The application is declined; {application.contact_email} is mailed.", "success")
            return redirect(url_for("jurisdictions_staff.index"))
    return render_template("jurisdictions_staff/application.html", application=application, form=form), \
        400 if form.errors else 200


