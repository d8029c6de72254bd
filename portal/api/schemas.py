"""The API's shapes (marshmallow): they validate what comes in, shape what goes out, and are what the OpenAPI
document at /api/v1/openapi.json is generated from."""
from marshmallow import Schema, fields, validate

from portal.jurisdictions.models import KINDS, PROGRAM_MODELS
from portal.library.models import AUDIENCES, TYPES

MAX_COUNT = 100_000_000


class Error(Schema):
    status = fields.Integer(required=True)
    title = fields.String(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata={
        "description": "What was wrong, by field (validation errors only)."})


class ErrorEnvelope(Schema):
    error = fields.Nested(Error, required=True)


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class JurisdictionArgs(PageArgs):
    state = fields.String(validate=validate.Length(max=60))
    partner = fields.Boolean(metadata={"description": "true: partners only; false: the others."})


class Links(Schema):
    self = fields.Url(required=True)
    first = fields.Url(required=True)
    last = fields.Url(required=True)
    next = fields.Url(allow_none=True, required=True)
    prev = fields.Url(allow_none=True, required=True)


class Headline(Schema):
    """The diversion rate over the twelve months ending with the latest report."""

    period_start = fields.Date(allow_none=True, required=True)
    period_end = fields.Date(allow_none=True, required=True)
    months = fields.Integer(required=True, metadata={"description": "Months of the twelve that reports cover."})
    total = fields.Integer(required=True)
    diverted = fields.Integer(required=True)
    diversion_rate = fields.Float(allow_none=True, required=True, metadata={"description": "diverted / total"})
    sample = fields.Boolean(required=True, metadata={"description": "Includes sample data, not real figures."})


class Goal(Schema):
    rate = fields.Float(required=True)
    year = fields.Integer(required=True)
    baseline_rate = fields.Float(allow_none=True, required=True)
    baseline_year = fields.Integer(allow_none=True, required=True)
    source = fields.String(required=True)
    sample = fields.Boolean(required=True)
    progress = fields.Float(allow_none=True, required=True, metadata={
        "description": "Share of the way from the baseline (or zero) to the target; 1 is the goal reached."})
    pace_needed = fields.Float(allow_none=True, required=True, metadata={
        "description": "Rise of the rate still needed each year to reach the goal by its year (a fraction)."})


class Link(Schema):
    label = fields.String(required=True)
    url = fields.String(required=True)


class JurisdictionSummary(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    state = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS)))
    partner = fields.Boolean(required=True)
    joined_on = fields.Date(allow_none=True, required=True)
    headline = fields.Nested(Headline, required=True)
    url = fields.Url(required=True, metadata={"description": "The jurisdiction's page on this site."})


class JurisdictionDetail(JurisdictionSummary):
    population = fields.Integer(allow_none=True, required=True)
    summary = fields.String(required=True, metadata={"description": "Markdown."})
    annual_calls = fields.Integer(allow_none=True, required=True)
    annual_calls_source = fields.String(required=True)
    annual_calls_sample = fields.Boolean(required=True)
    pledged_calls = fields.Integer(allow_none=True, required=True, metadata={
        "description": "annual_calls x goal rate, rounded."})
    goal = fields.Nested(Goal, allow_none=True, required=True)
    links = fields.List(fields.Nested(Link), required=True)
    figures_updated_at = fields.DateTime(allow_none=True, required=True)


class JurisdictionPage(Schema):
    items = fields.List(fields.Nested(JurisdictionSummary), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    links = fields.Nested(Links, required=True)


class Report(Schema):
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    period = fields.String(required=True, validate=validate.OneOf(["month", "quarter", "year"]))
    total = fields.Integer(required=True)
    diverted = fields.Integer(required=True)
    eligible = fields.Integer(allow_none=True, required=True)
    diversion_rate = fields.Float(allow_none=True, required=True)
    eligible_share = fields.Float(allow_none=True, required=True, metadata={"description": "diverted / eligible"})
    source = fields.String(required=True)
    sample = fields.Boolean(required=True)
    version = fields.Integer(required=True, metadata={"description": "Raised by every correction (the ETag)."})
    updated_at = fields.DateTime(required=True)


class ReportList(Schema):
    jurisdiction = fields.String(required=True)
    headline = fields.Nested(Headline, required=True)
    items = fields.List(fields.Nested(Report), required=True)


def _count(description: str, *, required: bool = True):
    return fields.Integer(required=required, strict=True, validate=validate.Range(min=0, max=MAX_COUNT),
                          allow_none=not required, metadata={"description": description})


class ReportCorrection(Schema):
    total = _count("Total 911 calls for service in the period.")
    diverted = _count("Calls answered by alternative responders.")
    eligible = _count("Calls eligible for alternative response (optional).", required=False)
    source = fields.String(load_default="", validate=validate.Length(max=500),
                           metadata={"description": "https address of the published figures."})
    sample = fields.Boolean(load_default=False)


class ReportIn(ReportCorrection):
    period_start = fields.Date(required=True, metadata={"description": "The first day of a month."})
    period_end = fields.Date(required=True, metadata={
        "description": "The last day of the same month, or of the third or twelfth month."})


class Program(Schema):
    name = fields.String(required=True)
    model = fields.String(required=True, validate=validate.OneOf(list(PROGRAM_MODELS)))
    agency = fields.String(required=True)
    launched_on = fields.Date(allow_none=True, required=True)
    hours = fields.String(required=True)
    call_types = fields.List(fields.String(), required=True)
    url = fields.String(required=True)
    description = fields.String(required=True, metadata={"description": "Markdown."})
    sources = fields.List(fields.String(), required=True)
    resources = fields.List(fields.Url(), required=True, metadata={"description": "Library pages about it."})


class ProgramList(Schema):
    jurisdiction = fields.String(required=True)
    items = fields.List(fields.Nested(Program), required=True)


class Contribution(Schema):
    jurisdiction = fields.String(required=True)
    headline = fields.Nested(Headline, required=True)
    pledged_calls = fields.Integer(allow_none=True, required=True)
    pledge_sample = fields.Boolean(required=True)


class Progress(Schema):
    target = fields.Integer(required=True, metadata={"description": "12,000,000 calls a year."})
    target_source = fields.Url(required=True)
    diverted = fields.Integer(required=True, metadata={
        "description": "Diverted calls over each jurisdiction's latest twelve months, summed."})
    diverted_share = fields.Float(required=True)
    diverted_sample = fields.Boolean(required=True)
    pledged = fields.Integer(required=True, metadata={"description": "Sum of annual calls x goal rate."})
    pledged_share = fields.Float(required=True)
    pledged_sample = fields.Boolean(required=True)
    contributions = fields.List(fields.Nested(Contribution), required=True)


class ResourceArgs(PageArgs):
    q = fields.String(load_default="", validate=validate.Length(max=256))
    type = fields.List(fields.String(validate=validate.OneOf(list(TYPES))), load_default=list)
    audience = fields.List(fields.String(validate=validate.OneOf(list(AUDIENCES))), load_default=list)
    topic = fields.List(fields.String(validate=validate.Length(max=120)), load_default=list)
    jurisdiction = fields.List(fields.String(validate=validate.Length(max=120)), load_default=list)


class Resource(Schema):
    slug = fields.String(required=True)
    title = fields.String(required=True)
    type = fields.String(required=True)
    summary = fields.String(required=True)
    audiences = fields.List(fields.String(), required=True)
    topics = fields.List(fields.String(), required=True)
    jurisdiction = fields.String(allow_none=True, required=True)
    published_at = fields.DateTime(allow_none=True, required=True)
    members_only = fields.Boolean(required=True, metadata={
        "description": "Members-only for now: the listing is public, the body needs an account."})
    url = fields.Url(required=True)


class ResourcePage(Schema):
    items = fields.List(fields.Nested(Resource), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    links = fields.Nested(Links, required=True)
