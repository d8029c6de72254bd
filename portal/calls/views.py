"""Call-type analysis of a jurisdiction's dispatch data, for its representatives and staff: upload, map the
columns, watch the job, read the results, extend the classification, save the eligible-calls figure."""
import json

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from portal.calls import rules as classification
from portal.calls import services
from portal.calls.classify import RESPONSE_LABELS, load_table
from portal.calls.engine import REASONS
from portal.calls.files import DELIMITERS, ENCODING_LABELS
from portal.calls.mapping import FIELD_LABELS, FIELDS
from portal.calls.forms import AnalysisUploadForm, CodeTableForm, SaveFigureForm, mapping_form, rule_form
from portal.calls.heatmap import heatmap_svg, heatmap_table_markup
from portal.csv_export import csv_response
from portal.exceptions import ValidationFailed
from portal.forms import EmptyForm, apply_error, flash_error, flash_form_errors, run_confirmed
from portal.jurisdictions.services import get_jurisdiction
from portal.security import access, safe_next
from portal.streamed_uploads import claim_upload, streamed_path, streams_upload

bp = Blueprint("calls", __name__)


def _jurisdiction_or_404(slug: str):
    jurisdiction = get_jurisdiction(slug)
    if jurisdiction is None:
        abort(404)
    return jurisdiction


def _analysis_or_404(jurisdiction, analysis_id: int):
    analysis = services.get_analysis(jurisdiction, analysis_id)
    if analysis is None:
        abort(404)
    return analysis


def _me():
    return current_user._get_current_object()


def _page(template: str, jurisdiction, status: int = 200, **context):
    return render_template(f"calls/{template}", jurisdiction=jurisdiction, labels=RESPONSE_LABELS,
                           field_labels=FIELD_LABELS, reasons=REASONS, **context), status


def _show(jurisdiction, analysis_id: int, anchor: str = ""):
    return redirect(url_for("calls.show", slug=jurisdiction.slug, analysis_id=analysis_id) + anchor)


@bp.route("/jurisdictions/<slug>/analysis", methods=["GET", "POST"])
@access("representative")
@streams_upload("CALLS_MAX_BYTES", directory=services.calls_dir)
def analysis(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    form = AnalysisUploadForm(formdata=None) if request.method == "GET" else AnalysisUploadForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            path = streamed_path()
            try:
                if path is None:
                    raise ValidationFailed("file", "Choose a CSV file.")
                created = services.start_analysis(jurisdiction, actor=_me(), token=path.stem,
                                                  filename=form.file.data.filename)
            except ValidationFailed as error:
                apply_error(form, error)
            else:
                claim_upload()
                return _show(jurisdiction, created.id)
        status = 400
    return _page("analysis.html", jurisdiction, status, form=form, analyses=services.analyses_of(jurisdiction),
                 max_bytes=current_app.config["CALLS_MAX_BYTES"],
                 code_count=len(classification.code_table_of(jurisdiction)),
                 rule_count=len(classification.rules_of(jurisdiction)))


@bp.route("/jurisdictions/<slug>/analysis/<int:analysis_id>", methods=["GET", "POST"])
@access("representative")
def show(slug, analysis_id):
    jurisdiction = _jurisdiction_or_404(slug)
    analysis = _analysis_or_404(jurisdiction, analysis_id)
    if analysis.status == "uploaded":
        return _mapping(jurisdiction, analysis)
    if request.method == "POST":
        flash("This analysis has already started; its columns can no longer change.", "error")
        return _show(jurisdiction, analysis.id)
    if analysis.status != "done":
        return _page("progress.html", jurisdiction, analysis=analysis)
    return _results_page(jurisdiction, analysis)


def _mapping(jurisdiction, analysis):
    info = services.file_info(analysis)
    form = mapping_form(analysis.header, analysis.mapping, formdata=request.form if request.method == "POST"
                        else None)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.queue_analysis(analysis, actor=_me(),
                                        mapping={name: getattr(form, name).data or "" for name in FIELDS})
            except ValidationFailed as error:
                apply_error(form, error)
            else:
                return _show(jurisdiction, analysis.id)
        status = 400
    return _page("mapping.html", jurisdiction, status, analysis=analysis, form=form, info=info,
                 fields=FIELDS, encodings=ENCODING_LABELS, delimiters=DELIMITERS)


def _results_page(jurisdiction, analysis):
    rules = classification.rules_of(jurisdiction)
    table = classification.table_for(jurisdiction, rules)
    results = services.results_of(analysis, table=table)
    categories = list(table.categories.values())
    period = services.whole_months(analysis)
    return _page("results.html", jurisdiction, analysis=analysis, results=results, categories=categories,
                 save_form=SaveFigureForm(formdata=None), delete_form=EmptyForm(formdata=None), period=period,
                 heatmap=heatmap_svg(results.heatmap, title="Calls by hour of day and day of week",
                                     id_prefix="heatmap") if results.has_times else None,
                 heatmap_table=heatmap_table_markup(results.heatmap) if results.has_times else None)


@bp.route("/jurisdictions/<slug>/analysis/<int:analysis_id>/progress.json")
@access("representative")
def progress(slug, analysis_id):
    jurisdiction = _jurisdiction_or_404(slug)
    analysis = _analysis_or_404(jurisdiction, analysis_id)
    response = jsonify(status=analysis.status, stage=analysis.stage, rows_read=analysis.rows_read,
                       rows_estimated=analysis.rows_estimated, progress=analysis.progress)
    response.headers["Cache-Control"] = "no-store"
    return response


def _results_or_404(slug, analysis_id):
    jurisdiction = _jurisdiction_or_404(slug)
    analysis = _analysis_or_404(jurisdiction, analysis_id)
    results = services.results_of(analysis)
    if results is None:
        abort(404)
    return jurisdiction, analysis, results


@bp.route("/jurisdictions/<slug>/analysis/<int:analysis_id>.csv")
@access("representative")
def export_csv(slug, analysis_id):
    jurisdiction, analysis, results = _results_or_404(slug, analysis_id)
    header, rows = results.to_csv_rows()
    return csv_response(f"{jurisdiction.slug}-call-types-{analysis.id}.csv", header, rows)


@bp.route("/jurisdictions/<slug>/analysis/<int:analysis_id>.json")
@access("representative")
def export_json(slug, analysis_id):
    jurisdiction, analysis, results = _results_or_404(slug, analysis_id)
    response = current_app.response_class(json.dumps(results.to_json(), indent=1), mimetype="application/json")
    name = f"{jurisdiction.slug}-call-types-{analysis.id}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.route("/jurisdictions/<slug>/analysis/<int:analysis_id>/save", methods=["POST"])
@access("representative")
def save_figure(slug, analysis_id):
    jurisdiction = _jurisdiction_or_404(slug)
    analysis = _analysis_or_404(jurisdiction, analysis_id)
    form = SaveFigureForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _show(jurisdiction, analysis.id, "#save")
    # The site's own address (as mail and feeds give it), so the report's source works from anywhere.
    source = current_app.config["SITE_URL"] + url_for("calls.show", slug=jurisdiction.slug, analysis_id=analysis.id)
    try:
        report = services.save_eligible_figure(analysis, actor=_me(), source_url=source,
                                               include_co_response=form.include_co_response.data,
                                               diverted=form.diverted.data,
                                               origin="staff" if current_user.is_staff else "analysis")
    except ValidationFailed as error:
        flash_error(error)
        return _show(jurisdiction, analysis.id, "#save")
    period = f"{report.period_start:%B %Y}" + (f" to {report.period_end:%B %Y}" if report.months > 1 else "")
    flash(f"Saved {report.eligible:,} eligible calls as the figure of {jurisdiction.name} for {period}.", "success")
    return _show(jurisdiction, analysis.id, "#save")


@bp.route("/jurisdictions/<slug>/analysis/<int:analysis_id>/delete", methods=["POST"])
@access("representative")
def delete(slug, analysis_id):
    jurisdiction = _jurisdiction_or_404(slug)
    analysis = _analysis_or_404(jurisdiction, analysis_id)
    run_confirmed(lambda: services.delete_analysis(analysis, actor=_me()), "The analysis was deleted.")
    return redirect(url_for("calls.analysis", slug=jurisdiction.slug))


# --- the jurisdiction's own classification lines and code table -----------------------------------------------

@bp.route("/jurisdictions/<slug>/analysis/rules", methods=["GET", "POST"])
@access("representative")
def rules(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    categories = list(load_table().categories.values())
    categories_by_slug = {category.slug: category for category in categories}
    form = rule_form(categories, formdata=request.form if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        back = safe_next(form.next.data, default="")
        if form.validate_on_submit():
            try:
                rule = classification.save_rule(jurisdiction, actor=_me(), name=form.name.data,
                                          category=form.category.data)
            except ValidationFailed as error:
                apply_error(form, error)
            else:
                flash(f"“{rule.name}” is now counted as {categories_by_slug[rule.category].name}.", "success")
                return redirect(back or url_for("calls.rules", slug=jurisdiction.slug))
        if back:  # a form of the results page: its message goes back there
            flash_form_errors(form)
            return redirect(back)
        status = 400
    return _page("rules.html", jurisdiction, status, form=form, rules=classification.rules_of(jurisdiction),
                 categories=categories_by_slug, delete_form=EmptyForm(formdata=None),
                 code_form=CodeTableForm(formdata=None), codes=classification.code_table_of(jurisdiction))


@bp.route("/jurisdictions/<slug>/analysis/rules/<int:rule_id>/delete", methods=["POST"])
@access("representative")
def delete_rule(slug, rule_id):
    jurisdiction = _jurisdiction_or_404(slug)
    rule = next((rule for rule in classification.rules_of(jurisdiction) if rule.id == rule_id), None)
    if rule is None:
        abort(404)
    run_confirmed(lambda: classification.delete_rule(rule, actor=_me()),
                  f"“{rule.name}” follows the default table again.")
    return redirect(url_for("calls.rules", slug=jurisdiction.slug))


@bp.route("/jurisdictions/<slug>/analysis/codes", methods=["POST"])
@access("representative")
def codes(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    form = CodeTableForm()
    if form.validate_on_submit():
        try:
            saved = classification.save_code_table(jurisdiction, actor=_me(),
                                             data=form.file.data.read(classification.MAX_CODE_TABLE_BYTES + 1))
        except ValidationFailed as error:
            flash_error(error)
        else:
            flash(f"The code table was saved: {len(saved):,} codes. Call types that are codes are now classified "
                  "by their descriptions.", "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("calls.rules", slug=jurisdiction.slug) + "#codes")


@bp.route("/jurisdictions/<slug>/analysis/codes/delete", methods=["POST"])
@access("representative")
def delete_codes(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    run_confirmed(lambda: classification.clear_code_table(jurisdiction, actor=_me()), "The code table was removed.")
    return redirect(url_for("calls.rules", slug=jurisdiction.slug) + "#codes")
