"""Staff work on the library: write and preview, the workflow, files, and the suggestion queue."""
from datetime import timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.database import utcnow
from portal.exceptions import ValidationFailed
from portal.forms import EmptyForm, apply_error, flash_error, page_number
from portal.jurisdictions.services import list_jurisdictions
from portal.library import attachments, services, suggestions
from portal.library.forms import WORKFLOW_ACTIONS, DecisionForm, ResourceForm, StatusForm, UploadForm
from portal.library.models import STATUSES
from portal.markdown import render_markdown
from portal.security import access

bp = Blueprint("library_staff", __name__, url_prefix="/staff")


STATUS_WORDS = {"draft": "a draft", "review": "in review", "published": "published", "archived": "archived"}


def _actor():
    return current_user._get_current_object()


def _utc(value):
    return value.replace(tzinfo=timezone.utc) if value is not None else None


def _resource_form(resource=None, bound: bool = True) -> ResourceForm:
    """The editor form: bound to the request, or (bound=False) showing the resource as saved."""
    form = ResourceForm() if bound else ResourceForm(formdata=None)
    form.jurisdiction.choices = {"": "None", **{j.slug: j.label for j in list_jurisdictions()}}
    if resource is not None and not (bound and form.is_submitted()):
        form.process(obj=resource, data={})
        form.jurisdiction.data = resource.jurisdiction.slug if resource.jurisdiction else ""
        form.topics.data = ", ".join(resource.topics or [])
        form.published_at.data = resource.published_at.replace(tzinfo=None) if resource.published_at else None
    return form


def _publish_time(form: ResourceForm, resource):
    """The form shows minutes: an unchanged field keeps the stored time to the second."""
    value = _utc(form.published_at.data)
    if resource is not None and resource.published_at and value == resource.published_at.replace(second=0,
                                                                                                 microsecond=0):
        return resource.published_at
    return value


def _fields(form: ResourceForm, resource=None) -> dict:
    return dict(title=form.title.data, slug=form.slug.data or "", summary=form.summary.data or "",
                body=form.body.data or "", type=form.type.data, audiences=form.audiences.data or [],
                topics=form.topics.data or "", jurisdiction=form.jurisdiction.data or None,
                external_url=form.external_url.data or "", author=form.author.data or "", access=form.access.data,
                members_until=form.members_until.data, is_featured=form.is_featured.data,
                published_at=_publish_time(form, resource))


def _resource_or_404(resource_id: int):
    resource = services.get_resource(resource_id)
    if resource is None:
        abort(404)
    return resource


@bp.route("/resources")
@access("staff")
def resources():
    status = request.args.get("status", "")
    status = status if status in STATUSES else None
    return render_template("library_staff/resources.html", status=status, statuses=STATUSES,
                           resources=services.list_for_staff(status=status, page=page_number()))


def next_action(resource) -> str:
    """The step that usually follows the resource's state, offered first: a draft goes to review, a review is
    published, a live resource is archived, a scheduled one can be taken back, an archived one republished."""
    if resource.status == "published":
        scheduled = resource.published_at is not None and resource.published_at > utcnow()
        return "unpublish" if scheduled else "archive"
    return {"draft": "review", "review": "publish", "archived": "publish"}.get(resource.status, "review")


def _status_form(resource) -> StatusForm | None:
    """Only the actions the state allows (the service still refuses any other that is posted)."""
    if resource is None:
        return None
    form = StatusForm(formdata=None)
    form.action.choices = {action: label for action, label in WORKFLOW_ACTIONS.items()
                           if resource.status in services.TRANSITIONS[action][0]}
    form.action.data = next_action(resource)
    return form


def _editor(resource, form, status=200, preview=None, upload_form=None):
    return render_template("library_staff/edit.html", resource=resource, form=form, preview=preview,
                           status_form=_status_form(resource), action_form=EmptyForm(formdata=None),
                           upload_form=upload_form or UploadForm(formdata=None),
                           counts=attachments.download_counts(resource) if resource else {}), status


def _write(resource=None):
    """The editor: preview without saving, or save a new draft or the changes."""
    form = _resource_form(resource)
    if form.validate_on_submit():
        if request.form.get("action") == "preview":
            return _editor(resource, form, preview=render_markdown(form.body.data or ""))
        try:
            if resource is None:
                saved = services.create_resource(actor=_actor(), **_fields(form))
            else:
                saved = services.update_resource(resource, actor=_actor(), **_fields(form, resource))
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("Changes saved." if resource is not None else "Draft saved.", "success")
            return redirect(url_for("library_staff.edit_resource", resource_id=saved.id))
    return _editor(resource, form, 400 if form.errors else 200)


@bp.route("/resources/new", methods=["GET", "POST"])
@access("staff")
def new_resource():
    return _write()


@bp.route("/resources/<int:resource_id>/edit", methods=["GET", "POST"])
@access("staff")
def edit_resource(resource_id):
    return _write(_resource_or_404(resource_id))


@bp.route("/resources/<int:resource_id>/status", methods=["POST"])
@access("staff")
def change_status(resource_id):
    resource = _resource_or_404(resource_id)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            services.change_status(resource, action=form.action.data, actor=_actor())
        except ValidationFailed as error:
            flash_error(error)
        else:
            flash(f"The resource is now {STATUS_WORDS[resource.status]}.", "success")
    else:
        flash("Choose a valid action.", "error")
    return redirect(url_for("library_staff.edit_resource", resource_id=resource.id))


@bp.route("/resources/<int:resource_id>/files", methods=["POST"])
@access("staff")
def upload(resource_id):
    resource = _resource_or_404(resource_id)
    form = UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            data = upload.stream.read(attachments.max_upload_bytes() + 1)
            attachments.attach_file(resource, actor=_actor(), filename=upload.filename or "file", data=data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("File attached.", "success")
            return redirect(url_for("library_staff.edit_resource", resource_id=resource.id))
    return _editor(resource, _resource_form(resource, bound=False), 400, upload_form=form)


@bp.route("/resources/<int:resource_id>/files/<int:file_id>/delete", methods=["POST"])
@access("staff")
def delete_file(resource_id, file_id):
    resource = _resource_or_404(resource_id)
    attachment = attachments.find_attachment(resource, file_id) or abort(404)
    if EmptyForm().validate_on_submit():
        attachments.remove_attachment(attachment, actor=_actor())
        flash("File removed.", "success")
    return redirect(url_for("library_staff.edit_resource", resource_id=resource.id))


@bp.route("/suggestions")
@access("staff")
def suggestion_queue():
    return render_template("library_staff/suggestions.html", pending=suggestions.list_suggestions(),
                           form=DecisionForm(formdata=None))


@bp.route("/suggestions/<int:suggestion_id>", methods=["POST"])
@access("staff")
def decide(suggestion_id):
    suggestion = suggestions.get_suggestion(suggestion_id)
    if suggestion is None:
        abort(404)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            if form.decision.data == "accept":
                resource = suggestions.accept_suggestion(suggestion, actor=_actor(), note=form.note.data)
                flash("Accepted: it is now a draft you can edit and publish.", "success")
                return redirect(url_for("library_staff.edit_resource", resource_id=resource.id))
            suggestions.decline_suggestion(suggestion, actor=_actor(), note=form.note.data)
            flash("Declined; the member has been told.", "success")
        except ValidationFailed as error:
            flash_error(error)
    else:
        flash("Choose accept or decline.", "error")
    return redirect(url_for("library_staff.suggestion_queue"))
