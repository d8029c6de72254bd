"""The JSON API, /api/v1: jurisdictions, their metrics and programs, national progress and the library's
search for anyone (CORS open, rate-limited); metric reports written with a jurisdiction's bearer token."""
from datetime import date

from flask import current_app, request, url_for
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort

from portal.api import schemas
from portal.database import utcnow
from portal.exceptions import ValidationFailed
from portal.extensions import csrf, limiter
from portal.jurisdictions import figures, metrics
from portal.jurisdictions.models import Jurisdiction
from portal.jurisdictions.programs import programs_of
from portal.jurisdictions.services import get_jurisdiction, list_jurisdictions
from portal.jurisdictions.tokens import authenticate_token
from portal.library.services import search_library
from portal.security import access

blp = Blueprint("api_v1", __name__, url_prefix="/api/v1",
                description="Read jurisdictions, metrics, programs, national progress and the library; write "
                            "metric reports with a jurisdiction's token.")

# The blueprint's limits are declared once, at import: declaring them in register_api would add them again for
# every app made in one process (as the test suite does), and every request would be counted that many times.
limiter.limit(lambda: current_app.config["API_READ_LIMIT"], methods=["GET", "HEAD", "OPTIONS"])(blp)
limiter.limit(lambda: current_app.config["API_WRITE_LIMIT"], methods=["POST", "PUT", "DELETE"])(blp)


class PortalApi(Api):
    """flask-smorest, with the site's own JSON errors (portal/errors.py) instead of its handler, so that every
    error under /api has one shape, documented as ErrorEnvelope."""

    ERROR_SCHEMA = schemas.ErrorEnvelope

    def _register_error_handlers(self):
        pass


def register_api(app) -> None:
    app.config.setdefault("API_TITLE", "12 Million Calls Initiative API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = PortalApi(app, spec_kwargs={"info": {"description": (
        "Figures reported by the jurisdictions of the 12 Million Calls Initiative, with their sources. Reading needs "
        "no account. Writing a metric report needs a jurisdiction's API token, made by its representative on the "
        "site, sent as `Authorization: Bearer <token>`.")}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    csrf.exempt(blp)  # writes carry a bearer token, never a cookie: no cross-site request can make one
    api.register_blueprint(blp)
    # The generated document is public too (the route walk checks every view declares its level).
    app.view_functions["api-docs.openapi_json"] = access("public")(app.view_functions["api-docs.openapi_json"])


@blp.after_request
def open_reads_to_every_origin(response):
    if request.method in ("GET", "HEAD", "OPTIONS"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = "ETag, Location"
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


# --- shaping ---------------------------------------------------------------------------------------------------

def _headline(headline: figures.Headline) -> dict:
    return {"period_start": headline.start if headline.months else None,
            "period_end": headline.end if headline.months else None, "months": headline.months,
            "total": headline.total, "diverted": headline.diverted, "diversion_rate": headline.rate,
            "sample": headline.is_sample}


def _summary(jurisdiction: Jurisdiction) -> dict:
    return {"slug": jurisdiction.slug, "name": jurisdiction.name, "state": jurisdiction.state,
            "kind": jurisdiction.kind, "partner": jurisdiction.is_partner, "joined_on": jurisdiction.joined_on,
            "headline": _headline(figures.headline_of(jurisdiction)),
            "url": url_for("jurisdictions.show", slug=jurisdiction.slug, _external=True)}


def _detail(jurisdiction: Jurisdiction) -> dict:
    progress = figures.goal_progress(jurisdiction)
    goal = None
    if progress is not None:
        goal = {"rate": progress.target_rate, "year": progress.target_year, "baseline_rate": progress.baseline_rate,
                "baseline_year": progress.baseline_year, "source": jurisdiction.goal_source,
                "sample": jurisdiction.goal_is_sample, "progress": progress.share, "pace_needed": progress.pace_needed}
    return {**_summary(jurisdiction), "population": jurisdiction.population, "summary": jurisdiction.summary,
            "annual_calls": jurisdiction.annual_calls, "annual_calls_source": jurisdiction.annual_calls_source,
            "annual_calls_sample": jurisdiction.annual_calls_is_sample,
            "pledged_calls": figures.pledged_calls(jurisdiction), "goal": goal,
            "links": [{"label": link.label, "url": link.url} for link in jurisdiction.links],
            "figures_updated_at": jurisdiction.figures_updated_at}


def _report(report) -> dict:
    return {"period_start": report.period_start, "period_end": report.period_end, "period": report.period_kind,
            "total": report.total, "diverted": report.diverted, "eligible": report.eligible,
            "diversion_rate": report.rate, "eligible_share": report.eligible_share, "source": report.source_url,
            "sample": report.is_sample, "version": report.version, "updated_at": report.updated_at}


def _links(endpoint: str, page: int, per_page: int, total: int, **args) -> dict:
    last = max(1, -(-total // per_page))

    def at(number):
        return url_for(endpoint, page=number, per_page=per_page, _external=True, **args)

    return {"self": at(page), "first": at(1), "last": at(last), "next": at(page + 1) if page < last else None,
            "prev": at(page - 1) if 1 < page <= last + 1 else None}


def _jurisdiction_or_404(slug: str) -> Jurisdiction:
    jurisdiction = get_jurisdiction(slug)
    if jurisdiction is None:
        abort(404, message=f"No jurisdiction has the slug {slug!r}.")
    return jurisdiction


# --- reading --------------------------------------------------------------------------------------------------

@blp.route("/jurisdictions")
@access("public")
@blp.arguments(schemas.JurisdictionArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.JurisdictionPage)
def jurisdictions(page, per_page, state=None, partner=None):
    """Every jurisdiction, by name, with its headline diversion rate."""
    rows = [j for j in list_jurisdictions() if (state is None or j.state == state)
            and (partner is None or j.is_partner == partner)]
    args = {key: value for key, value in (("state", state), ("partner", partner)) if value is not None}
    listed = rows[(page - 1) * per_page: page * per_page]
    return {"items": [_summary(j) for j in listed], "total": len(rows), "page": page, "per_page": per_page,
            "links": _links("api_v1.jurisdictions", page, per_page, len(rows), **args)}


@blp.route("/jurisdictions/<slug>")
@access("public")
@blp.response(200, schemas.JurisdictionDetail)
@blp.alt_response(404, schema=schemas.ErrorEnvelope)
def jurisdiction(slug):
    """One jurisdiction: its profile, goal and progress, annual calls and pledge, dashboard links."""
    return _detail(_jurisdiction_or_404(slug))


@blp.route("/jurisdictions/<slug>/programs")
@access("public")
@blp.response(200, schemas.ProgramList)
@blp.alt_response(404, schema=schemas.ErrorEnvelope)
def programs(slug):
    jurisdiction = _jurisdiction_or_404(slug)
    items = [{"name": p.name, "model": p.model, "agency": p.agency, "launched_on": p.launched_on, "hours": p.hours,
              "call_types": p.call_types, "url": p.url, "description": p.description, "sources": p.sources,
              "resources": [url_for("library.detail", slug=r.slug, _external=True) for r in p.resources
                            if r.status == "published"]}
             for p in programs_of(jurisdiction)]
    return {"jurisdiction": jurisdiction.slug, "items": items}


@blp.route("/progress")
@access("public")
@blp.response(200, schemas.Progress)
def progress():
    """National progress toward 12 million diverted calls a year, and what it is made of."""
    national = figures.national_progress(list_jurisdictions())
    return {"target": national.target, "target_source": figures.INITIATIVE_SOURCE, "diverted": national.diverted,
            "diverted_share": national.share, "diverted_sample": national.diverted_is_sample,
            "pledged": national.pledged, "pledged_share": national.pledged_share,
            "pledged_sample": national.pledged_is_sample,
            "contributions": [{"jurisdiction": item.jurisdiction.slug, "headline": _headline(item.headline),
                               "pledged_calls": item.pledged, "pledge_sample": figures.pledge_is_sample(item.jurisdiction)}
                              for item in national.contributions]}


@blp.route("/resources")
@access("public")
@blp.arguments(schemas.ResourceArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.ResourcePage)
def resources(page, per_page, q, type, audience, topic, jurisdiction):
    """The library's search, as an anonymous visitor sees it (members-only resources are listed, flagged)."""
    filters = {"type": type, "audience": audience, "topic": topic, "jurisdiction": jurisdiction}
    now = utcnow()
    found = search_library(user=None, q=q, filters={k: v for k, v in filters.items() if v}, sort="relevance" if q
                           else "newest", page=page, per_page=per_page, now=now)
    if found.result.unavailable:
        abort(503, message="Search is being updated. Please try again in a few minutes.")
    items = [{"slug": r.slug, "title": r.title, "type": r.type, "summary": r.summary, "audiences": r.audiences,
              "topics": r.topics, "jurisdiction": r.jurisdiction.slug if r.jurisdiction else None,
              "published_at": r.published_at, "members_only": r.is_members_only(now),
              "url": url_for("library.detail", slug=r.slug, _external=True)} for r in found.resources]
    args = {key: value for key, value in filters.items() if value}
    if q:
        args["q"] = q
    return {"items": items, "total": found.result.total, "page": page, "per_page": per_page,
            "links": _links("api_v1.resources", page, per_page, found.result.total, **args)}


# --- writing --------------------------------------------------------------------------------------------------

def _authorised(jurisdiction: Jurisdiction):
    """The token's maker, when the bearer token is live and this jurisdiction's; 401 or 403 otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    token = authenticate_token(secret.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        abort(401, message="Send a live API token of this jurisdiction as “Authorization: Bearer <token>”.")
    if token.jurisdiction_id != jurisdiction.id:
        abort(403, message="This token belongs to another jurisdiction.")
    return token.member


def _refused(error: ValidationFailed):
    """A service's refusal as its status: 409 for an overlap, 412 for a stale version, 422 for bad figures."""
    if isinstance(error, metrics.PeriodOverlaps):
        abort(409, message=error.message)
    if isinstance(error, metrics.StaleVersion):
        abort(412, message=error.message)
    abort(422, message=error.message, errors={"json": {error.field or "_schema": [error.message]}})


def _period(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(404, message="A report is addressed by its first day, as YYYY-MM-DD.")


def _report_or_404(jurisdiction: Jurisdiction, period_start: str):
    report = metrics.find_report(jurisdiction, _period(period_start))
    if report is None:
        abort(404, message=f"{jurisdiction.name} has no report starting on {period_start}.")
    return report


WRITE_ERRORS = (400, 401, 403, 404, 409, 412, 422, 429)


def _write_errors(view):
    for code in WRITE_ERRORS:
        view = blp.alt_response(code, schema=schemas.ErrorEnvelope,
                                description={409: "The period overlaps a stored report.",
                                             412: "If-Match names a version corrected since."}.get(code))(view)
    return view


@blp.route("/jurisdictions/<slug>/metrics")
class MetricReports(MethodView):
    decorators = [access("public")]

    @blp.response(200, schemas.ReportList)
    @blp.alt_response(404, schema=schemas.ErrorEnvelope)
    def get(self, slug):
        """Every report of the jurisdiction, oldest first, with its headline."""
        jurisdiction = _jurisdiction_or_404(slug)
        return {"jurisdiction": jurisdiction.slug, "headline": _headline(figures.headline_of(jurisdiction)),
                "items": [_report(report) for report in metrics.reports_of(jurisdiction)]}

    @blp.doc(security=[{"bearer": []}])
    @blp.arguments(schemas.ReportIn)
    @blp.response(201, schemas.Report, headers={"Location": {"schema": {"type": "string"}}})
    @_write_errors
    def post(self, values, slug):
        """Add one period's report (a month, a quarter or a year that overlaps no other)."""
        jurisdiction = _jurisdiction_or_404(slug)
        actor = _authorised(jurisdiction)
        try:
            report = metrics.report_metrics(jurisdiction, actor=actor, origin="api",
                                            period_start=values["period_start"], period_end=values["period_end"],
                                            total=values["total"], diverted=values["diverted"],
                                            eligible=values.get("eligible"), source_url=values["source"],
                                            is_sample=values["sample"])
        except ValidationFailed as error:
            _refused(error)
        location = url_for("api_v1.MetricReport", slug=jurisdiction.slug, period_start=report.period_start.isoformat())
        return _report(report), 201, {"Location": location, "ETag": f'"{report.version}"'}


@blp.route("/jurisdictions/<slug>/metrics/<period_start>")
class MetricReport(MethodView):
    decorators = [access("public")]

    @blp.response(200, schemas.Report)
    @blp.alt_response(404, schema=schemas.ErrorEnvelope)
    def get(self, slug, period_start):
        """One report, addressed by its first day."""
        report = _report_or_404(_jurisdiction_or_404(slug), period_start)
        return _report(report), 200, {"ETag": f'"{report.version}"'}

    @blp.doc(security=[{"bearer": []}], parameters=[{"in": "header", "name": "If-Match", "required": False,
                                                     "schema": {"type": "string"},
                                                     "description": "The version read (its ETag)."}])
    @blp.arguments(schemas.ReportCorrection)
    @blp.response(200, schemas.Report)
    @_write_errors
    def put(self, values, slug, period_start):
        """Correct a report's figures; its period stays (delete it and report again to change that)."""
        jurisdiction = _jurisdiction_or_404(slug)
        actor = _authorised(jurisdiction)
        report = _report_or_404(jurisdiction, period_start)
        expected = request.headers.get("If-Match", "").strip().strip('"').removeprefix("W/").strip('"')
        try:
            metrics.correct_metrics(report, actor=actor, origin="api",
                                    expected_version=int(expected) if expected.isdigit() else None,
                                    total=values["total"], diverted=values["diverted"],
                                    eligible=values.get("eligible"), source_url=values["source"],
                                    is_sample=values["sample"])
        except ValidationFailed as error:
            _refused(error)
        return _report(report), 200, {"ETag": f'"{report.version}"'}

    @blp.doc(security=[{"bearer": []}])
    @blp.response(204)
    @_write_errors
    def delete(self, slug, period_start):
        """Delete a report (its history is kept)."""
        jurisdiction = _jurisdiction_or_404(slug)
        actor = _authorised(jurisdiction)
        metrics.delete_metrics(_report_or_404(jurisdiction, period_start), actor=actor, origin="api")
        return ""
