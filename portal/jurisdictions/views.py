"""Jurisdictions for readers: the directory, one jurisdiction's page, its metric history as CSV, its badge."""
from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user

from portal.csv_export import csv_response
from portal.jurisdictions import chart, directory, figures, metrics
from portal.jurisdictions.access import can_edit, representatives_of
from portal.jurisdictions.models import KINDS, PROGRAM_MODELS
from portal.jurisdictions.programs import programs_of
from portal.jurisdictions.services import get_jurisdiction
from portal.markdown import render_markdown
from portal.network import services as network
from portal.security import access

bp = Blueprint("jurisdictions", __name__)


@bp.app_template_filter("percent")
def percent_filter(rate, digits: int = 1) -> str:
    return chart.percent(rate, digits)


@bp.app_template_filter("month_year")
def month_year(day) -> str:
    return f"{day:%B %Y}" if day else ""


def _jurisdiction_or_404(slug: str):
    jurisdiction = get_jurisdiction(slug)
    if jurisdiction is None:
        abort(404)
    return jurisdiction


@bp.route("/jurisdictions")
@access("public")
def index():
    state = request.args.get("state", "").strip()[:60]
    partner = request.args.get("partner", "")
    model = request.args.get("model", "")
    sort = request.args.get("sort", "name")
    if sort not in directory.SORTS:
        sort = "name"
    entries = directory.directory(state=state, partner=partner if partner in ("yes", "no") else "",
                                  model=model if model in PROGRAM_MODELS else "", sort=sort)
    active = [label for label in (state, {"yes": "partners", "no": "not yet partners"}.get(partner, ""),
                                  PROGRAM_MODELS.get(model, "")) if label]
    return render_template("jurisdictions/index.html", entries=entries, states=directory.states(),
                           state=state, partner=partner, model=model, sort=sort, sorts=directory.SORTS,
                           models=PROGRAM_MODELS, active=active,
                           any_sample=any(entry.headline.is_sample for entry in entries))


@bp.route("/jurisdictions/metrics.csv")
@access("public")
def all_metrics_csv():
    reports, names = directory.all_reports()
    return csv_response("jurisdiction-metrics.csv", directory.CSV_HEADER, directory.csv_rows(reports, names))


@bp.route("/jurisdictions/<slug>")
@access("public")
def show(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    reports = metrics.reports_of(jurisdiction)
    headline = figures.compute_headline(reports)
    progress = figures.goal_progress(jurisdiction, headline)
    return render_template(
        "jurisdictions/show.html", jurisdiction=jurisdiction, summary=render_markdown(jurisdiction.summary),
        reports=reports, headline=headline, progress=progress,
        chart=chart.rate_chart(reports, goal_rate=jurisdiction.goal_rate),
        programs=programs_of(jurisdiction), representatives=representatives_of(jurisdiction),
        resources=directory.related_resources(jurisdiction), events=directory.related_events(jurisdiction),
        kinds=KINDS,
        pledged=figures.pledged_calls(jurisdiction), pledge_is_sample=figures.pledge_is_sample(jurisdiction),
        can_edit=can_edit(current_user, jurisdiction), render_markdown=render_markdown,
        # The member directory's people: for verified members only (everyone else's page never names them),
        # and not for one whose directory access staff suspended.
        people=network.people_of(jurisdiction) if network.reads_directory(current_user) else None)


@bp.route("/jurisdictions/<slug>/metrics.csv")
@access("public")
def metrics_csv(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    return csv_response(f"{jurisdiction.slug}-metrics.csv", directory.CSV_HEADER,
                        directory.csv_rows(metrics.reports_of(jurisdiction), {jurisdiction.id: jurisdiction.slug}))


@bp.route("/jurisdictions/<slug>/badge.svg")
@access("public")
def badge(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    headline = figures.headline_of(jurisdiction)
    progress = figures.goal_progress(jurisdiction, headline)
    svg = chart.badge(name=jurisdiction.name, rate=headline.rate, months=headline.months,
                      progress_share=progress.share if progress else None, is_sample=headline.is_sample)
    response = Response(svg, mimetype="image/svg+xml")
    # Other sites embed it: cacheable for an hour by anyone, and it never runs script.
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response
