"""A jurisdiction's representatives (and staff) keep its page current: profile, goal and links, programs,
metric reports by form or CSV, API tokens, program models for the library. Members ask to represent one."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from portal.exceptions import ValidationFailed
from portal.forms import EmptyForm, apply_error, flash_error, flash_form_errors, run_confirmed
from portal.jurisdictions import metrics, programs, representatives, tokens
from portal.jurisdictions.forms import (LINK_ROWS, CorrectMetricForm, JurisdictionForm, MetricForm, MetricsUploadForm,
                                        ProgramForm, SuggestForm, TokenForm, representation_form)
from portal.jurisdictions.services import get_jurisdiction, update_jurisdiction
from portal.library.services import newest_resources
from portal.library.suggestions import submit_suggestion
from portal.security import access

bp = Blueprint("jurisdiction_manage", __name__)

MAX_CSV_BYTES = 1024 * 1024


def _jurisdiction_or_404(slug: str):
    jurisdiction = get_jurisdiction(slug)
    if jurisdiction is None:
        abort(404)
    return jurisdiction


def _me():
    return current_user._get_current_object()


def _origin(representative_origin: str) -> str:
    """Where a report's change came from, for its revision: staff, or the representative's form or upload."""
    return "staff" if current_user.is_staff else representative_origin


def _page(template: str, jurisdiction, status: int = 200, **context):
    return render_template(f"jurisdiction_manage/{template}", jurisdiction=jurisdiction, **context), status


# --- asking to represent one ------------------------------------------------------------------------------------

@bp.route("/account/representation", methods=["POST"])
@access("verified")
def request_representation():
    form = representation_form(request.form)
    if form.validate_on_submit():
        jurisdiction = get_jurisdiction(form.represented.data)
        try:
            if jurisdiction is None:
                raise ValidationFailed("jurisdiction", "Choose a jurisdiction from the list.")
            representatives.request_representation(member=_me(), jurisdiction=jurisdiction,
                                                   role_title=form.role_title.data, note=form.note.data)
        except ValidationFailed as error:
            flash_error(error)
            return redirect(url_for("members.account") + "#representation")
        flash(f"Your request to represent {jurisdiction.name} is with staff; you will get an email with their "
              "answer.", "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("members.account") + "#representation")


# --- the page ---------------------------------------------------------------------------------------------------

def _profile_values(form: JurisdictionForm) -> dict:
    names = ["state", "kind", "population", "summary", "goal_rate", "goal_year", "goal_baseline_year",
             "goal_baseline_rate", "goal_source", "annual_calls", "annual_calls_source"]
    if current_user.is_staff:
        names += list(JurisdictionForm.STAFF_FIELDS)
    return {name: getattr(form, name).data for name in names}


def _profile_data(jurisdiction) -> dict:
    def rate(value):
        return "" if value is None else f"{value * 100:g}%"

    def whole(value):
        return "" if value is None else str(value)

    links = [{"label": link.label, "url": link.url} for link in jurisdiction.links]
    links += [{"label": "", "url": ""}] * max(LINK_ROWS - len(links), 1)
    return {"name": jurisdiction.name, "is_partner": jurisdiction.is_partner,
            "joined_on": jurisdiction.joined_on.isoformat() if jurisdiction.joined_on else "",
            "state": jurisdiction.state, "kind": jurisdiction.kind, "population": whole(jurisdiction.population),
            "summary": jurisdiction.summary, "goal_rate": rate(jurisdiction.goal_rate),
            "goal_year": whole(jurisdiction.goal_year), "goal_baseline_year": whole(jurisdiction.goal_baseline_year),
            "goal_baseline_rate": rate(jurisdiction.goal_baseline_rate), "goal_source": jurisdiction.goal_source,
            "annual_calls": whole(jurisdiction.annual_calls), "annual_calls_source": jurisdiction.annual_calls_source,
            "links": links}


@bp.route("/jurisdictions/<slug>/edit", methods=["GET", "POST"])
@access("representative")
def edit(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    if request.method == "GET":
        return _page("edit.html", jurisdiction, form=JurisdictionForm(formdata=None, data=_profile_data(jurisdiction)))
    form = JurisdictionForm()
    if form.validate_on_submit():
        try:
            update_jurisdiction(jurisdiction, actor=_me(), links=[entry.data for entry in form.links],
                                **_profile_values(form))
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("The page is saved.", "success")
            return redirect(url_for("jurisdictions.show", slug=jurisdiction.slug))
    return _page("edit.html", jurisdiction, 400, form=form)


# --- programs -----------------------------------------------------------------------------------------------------

def _program_form(program=None, formdata=None) -> ProgramForm:
    data = None
    if program is not None and formdata is None:
        data = {"name": program.name, "model": program.model, "agency": program.agency,
                "launched_on": program.launched_on.isoformat() if program.launched_on else "",
                "hours": program.hours, "call_types": "\n".join(program.call_types), "url": program.url,
                "description": program.description, "sources": "\n".join(program.sources),
                "resources": [resource.slug for resource in program.resources]}
    form = ProgramForm(formdata=formdata, data=data)
    # The library's published resources, program models first: what a program can link to.
    choices = sorted(newest_resources(limit=200), key=lambda r: (r.type != "program_model", r.title.lower()))
    form.resources.choices = [SelectChoice(resource.slug, resource.title) for resource in choices]
    return form


def _program_values(form: ProgramForm) -> dict:
    return {name: getattr(form, name).data for name in ("name", "model", "agency", "launched_on", "hours", "url",
                                                        "description")} | {
        "call_types": (form.call_types.data or "").splitlines(), "sources": (form.sources.data or "").splitlines(),
        "resources": form.resources.data or []}


def _save_program_view(jurisdiction, program=None):
    form = _program_form(program, request.form)
    if form.validate_on_submit():
        try:
            programs.save_program(jurisdiction, actor=_me(), slug=program.slug if program else "",
                                  **_program_values(form))
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("The program is saved.", "success")
            return redirect(url_for("jurisdictions.show", slug=jurisdiction.slug) + "#programs-title")
    return _page("program.html", jurisdiction, 400, form=form, program=program, delete_form=EmptyForm())


@bp.route("/jurisdictions/<slug>/programs/new", methods=["GET", "POST"])
@access("representative")
def new_program(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    if request.method == "POST":
        return _save_program_view(jurisdiction)
    return _page("program.html", jurisdiction, form=_program_form(), program=None, delete_form=EmptyForm())


@bp.route("/jurisdictions/<slug>/programs/<int:program_id>", methods=["GET", "POST"])
@access("representative")
def edit_program(slug, program_id):
    jurisdiction = _jurisdiction_or_404(slug)
    program = programs.get_program(jurisdiction, program_id) or abort(404)
    if request.method == "POST":
        return _save_program_view(jurisdiction, program)
    return _page("program.html", jurisdiction, form=_program_form(program), program=program,
                 delete_form=EmptyForm())


@bp.route("/jurisdictions/<slug>/programs/<int:program_id>/delete", methods=["POST"])
@access("representative")
def delete_program(slug, program_id):
    jurisdiction = _jurisdiction_or_404(slug)
    program = programs.get_program(jurisdiction, program_id) or abort(404)
    run_confirmed(lambda: programs.delete_program(program, actor=_me()), f"{program.name} is removed.")
    return redirect(url_for("jurisdictions.show", slug=jurisdiction.slug))


# --- metrics -------------------------------------------------------------------------------------------------------

def _metrics_page(jurisdiction, status=200, **forms):
    forms.setdefault("form", MetricForm(formdata=None))
    return _page("metrics.html", jurisdiction, status, reports=metrics.reports_of(jurisdiction),
                 revisions=metrics.revisions_of(jurisdiction)[:50], **forms)


@bp.route("/jurisdictions/<slug>/metrics", methods=["GET", "POST"], endpoint="metrics")
@access("representative")
def metrics_page(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    if request.method == "GET":
        return _metrics_page(jurisdiction)
    form = MetricForm()
    if form.validate_on_submit():
        try:
            metrics.report_metrics(jurisdiction, actor=_me(), origin=_origin("form"),
                                   **{name: getattr(form, name).data for name in (
                                       "period_start", "period_end", "total", "diverted", "eligible", "source_url",
                                       "is_sample")})
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("The report is saved.", "success")
            return redirect(url_for("jurisdiction_manage.metrics", slug=jurisdiction.slug))
    return _metrics_page(jurisdiction, 400, form=form)


@bp.route("/jurisdictions/<slug>/metrics/<int:report_id>", methods=["GET", "POST"])
@access("representative")
def correct_report(slug, report_id):
    jurisdiction = _jurisdiction_or_404(slug)
    report = metrics.get_report(jurisdiction, report_id) or abort(404)
    if request.method == "GET":
        form = CorrectMetricForm(formdata=None, data={
            "version": report.version, "total": report.total, "diverted": report.diverted,
            "eligible": "" if report.eligible is None else report.eligible, "source_url": report.source_url,
            "is_sample": report.is_sample})
        return _page("report.html", jurisdiction, form=form, report=report, delete_form=EmptyForm())
    form = CorrectMetricForm()
    if form.validate_on_submit():
        try:
            version = int(form.version.data) if (form.version.data or "").isdigit() else None
            metrics.correct_metrics(report, actor=_me(), origin=_origin("form"),
                                    expected_version=version, total=form.total.data, diverted=form.diverted.data,
                                    eligible=form.eligible.data, source_url=form.source_url.data,
                                    is_sample=form.is_sample.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("The report is corrected.", "success")
            return redirect(url_for("jurisdiction_manage.metrics", slug=jurisdiction.slug))
    return _page("report.html", jurisdiction, 400, form=form, report=report, delete_form=EmptyForm())


@bp.route("/jurisdictions/<slug>/metrics/<int:report_id>/delete", methods=["POST"])
@access("representative")
def delete_report(slug, report_id):
    jurisdiction = _jurisdiction_or_404(slug)
    report = metrics.get_report(jurisdiction, report_id) or abort(404)
    run_confirmed(lambda: metrics.delete_metrics(report, actor=_me(), origin=_origin("form")),
                  "The report is deleted; its history is kept.")
    return redirect(url_for("jurisdiction_manage.metrics", slug=jurisdiction.slug))


def _uploaded_text(form: MetricsUploadForm) -> str:
    data = form.file.data.stream.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise ValidationFailed("file", "The file is larger than 1 MB; split it into smaller files.")
    if b"\x00" in data:
        raise ValidationFailed("file", "This is not a CSV text file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("file", "The file is not UTF-8 text: save it as “CSV UTF-8” and upload it again.") \
            from None


@bp.route("/jurisdictions/<slug>/metrics/upload", methods=["GET", "POST"])
@access("representative")
def upload_metrics(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    if request.method == "GET":
        return _page("upload.html", jurisdiction, form=MetricsUploadForm(formdata=None), rows=[])
    form = MetricsUploadForm()
    rows = []
    if form.validate_on_submit():
        try:
            result = metrics.import_metrics_csv(jurisdiction, actor=_me(), text=_uploaded_text(form),
                                                origin=_origin("csv"))
        except metrics.RowErrors as error:
            apply_error(form, error)
            rows = error.rows
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash(f"{len(result.created)} report(s) added, {len(result.corrected)} corrected, {result.unchanged} "
                  "unchanged.", "success")
            return redirect(url_for("jurisdictions.show", slug=jurisdiction.slug) + "#reports")
    return _page("upload.html", jurisdiction, 400, form=form, rows=rows)


# --- API tokens -----------------------------------------------------------------------------------------------------

@bp.route("/jurisdictions/<slug>/tokens", methods=["GET", "POST"], endpoint="tokens")
@access("representative")
def tokens_page(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    secret, status = None, 200
    form = TokenForm(formdata=None) if request.method == "GET" else TokenForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                _, secret = tokens.create_token(jurisdiction, actor=_me(), name=form.name.data)
            except ValidationFailed as error:
                apply_error(form, error)
                status = 400
            else:
                form = TokenForm(formdata=None)
        else:
            status = 400
    rendered, status = _page("tokens.html", jurisdiction, status, form=form, secret=secret,
                             tokens=tokens.tokens_of(jurisdiction), revoke_form=EmptyForm())
    # The secret is on this one answer only: never kept by a cache or offered again.
    return rendered, status, {"Cache-Control": "no-store"}


@bp.route("/jurisdictions/<slug>/tokens/<int:token_id>/revoke", methods=["POST"])
@access("representative")
def revoke_token(slug, token_id):
    jurisdiction = _jurisdiction_or_404(slug)
    token = tokens.get_token(jurisdiction, token_id) or abort(404)
    run_confirmed(lambda: tokens.revoke_token(token, actor=_me()), f"The token “{token.name}” no longer works.")
    return redirect(url_for("jurisdiction_manage.tokens", slug=jurisdiction.slug))


# --- program models for the library ----------------------------------------------------------------------------------

@bp.route("/jurisdictions/<slug>/suggest", methods=["GET", "POST"])
@access("representative")
def suggest(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    if request.method == "GET":
        return _page("suggest.html", jurisdiction, form=SuggestForm(formdata=None))
    form = SuggestForm()
    if form.validate_on_submit():
        try:
            submit_suggestion(member=_me(), title=form.title.data, type=form.type.data, summary=form.summary.data,
                              external_url=form.external_url.data, jurisdiction=jurisdiction.slug,
                              note=form.note.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("Thank you: staff will review it for the library.", "success")
            return redirect(url_for("jurisdictions.show", slug=jurisdiction.slug))
    return _page("suggest.html", jurisdiction, 400, form=form)

