"""Form fuzzing for the jurisdictions: a representative's and staff's forms and the application to join, with
the helpers and rules of tests/test_forms_fuzz.py (never a 500, refusals are a 400, nothing half saved)."""
import io

from hypothesis import given

from portal.extensions import db
from portal.jurisdictions.forms import (CorrectMetricForm, DecisionForm, JoinForm, JurisdictionForm, MetricForm,
                                        MetricsUploadForm, NewJurisdictionForm, ProgramForm,
                                        RepresentationRequestForm, SuggestForm, TokenForm)
from portal.jurisdictions.models import (ApiToken, JoinApplication, Jurisdiction, MetricReport, MetricRevision,
                                         Program, Representative)
from portal.library.models import Suggestion
from tests.conftest import create_jurisdiction, create_member, create_representative, csrf_token, login, unit
from tests.test_forms_fuzz import FUZZ, form_fields, fuzz_form, no_server_error
from tests.test_jurisdiction_metrics import month

# Read by tests/test_forms_fuzz.py's test_every_form_is_fuzzed.
JURISDICTION_FUZZED_FORMS = {RepresentationRequestForm, JurisdictionForm, NewJurisdictionForm, ProgramForm,
                             MetricForm, CorrectMetricForm, MetricsUploadForm, TokenForm, SuggestForm, DecisionForm,
                             JoinForm}
TABLES = (Jurisdiction, MetricReport, MetricRevision, Program, ApiToken, Representative, JoinApplication, Suggestion)


def counts(app) -> dict:
    with unit(app):
        db.session.expire_all()
        return {model.__tablename__: db.session.query(model).count() for model in TABLES}


def headline(app) -> tuple:
    with unit(app):
        db.session.expire_all()
        j = db.session.query(Jurisdiction).filter_by(slug="riverton").one_or_none()
        return (j.headline_total, j.headline_diverted, j.goal_rate, j.summary, j.updated_at) if j else None


def client_for(app, email):
    client = app.test_client()
    login(client, email)
    return client, csrf_token(client, "/login")


def fuzz(app, client, token, path, form_class, valid, *, fields=None):
    """Post fuzzed versions of `valid`; a 400 leaves every table as it was."""
    fuzz_form(app, client, token, path, fields or form_fields(app, form_class), valid,
              state=lambda app: (counts(app), headline(app)))


def rep_client(app):
    create_jurisdiction(app, reports=[month(2025, 1, 1000, 100)])
    email = create_representative(app)
    return client_for(app, email)


def test_representative_forms_fuzz(app):
    client, token = rep_client(app)
    with unit(app):
        report_id = db.session.query(MetricReport).filter_by(
            jurisdiction_id=db.session.query(Jurisdiction).filter_by(slug="riverton").one().id).one().id
    fuzz(app, client, token, "/jurisdictions/riverton/metrics", MetricForm, {
        "period_start": "2026-02-01", "period_end": "2026-02-28", "total": "100", "diverted": "10", "eligible": "",
        "source_url": "https://example.org/a", "is_sample": ""})
    fuzz(app, client, token, f"/jurisdictions/riverton/metrics/{report_id}", CorrectMetricForm, {
        "version": "", "total": "1000", "diverted": "100", "eligible": "", "source_url": "", "is_sample": ""})
    fuzz(app, client, token, "/jurisdictions/riverton/tokens", TokenForm, {"name": "Nightly"})
    fuzz(app, client, token, "/jurisdictions/riverton/suggest", SuggestForm, {
        "title": "A protocol", "type": "program_model", "summary": "", "external_url": "", "note": ""})


def test_page_and_program_forms_fuzz(app):
    client, token = rep_client(app)
    fields = form_fields(app, JurisdictionForm)
    # The link rows are a list of subforms: fuzz their inputs by their posted names.
    fields = {name: value for name, value in fields.items() if name != "links"}
    from wtforms import StringField
    for row in range(2):
        for part in ("label", "url"):
            fields[f"links-{row}-{part}"] = (f"links-{row}-{part}", StringField())
    fuzz(app, client, token, "/jurisdictions/riverton/edit", JurisdictionForm, {
        "state": "Oregon", "kind": "city", "population": "", "summary": "Text", "goal_rate": "20%",
        "goal_year": "2030", "goal_baseline_year": "", "goal_baseline_rate": "", "goal_source": "",
        "annual_calls": "", "annual_calls_source": "", "links-0-label": "Dashboard",
        "links-0-url": "https://example.org/d"}, fields=fields)
    fuzz(app, client, token, "/jurisdictions/riverton/programs/new", ProgramForm, {
        "name": "Responders", "model": "community_responder", "agency": "", "launched_on": "2024-01-01",
        "hours": "", "call_types": "welfare check", "url": "", "description": "", "sources": "", "resources": []})


def test_upload_fuzz(app):
    client, token = rep_client(app)
    from hypothesis import strategies as st
    files = st.builds(lambda head, body: (io.BytesIO(head + body), "m.csv"),
                      st.sampled_from([b"", b"period_start,period_end,total,diverted\n", b"\xef\xbb\xbf", b"\xff"]),
                      st.binary(max_size=300) | st.text(max_size=300).map(str.encode))

    @FUZZ
    @given(upload=files)
    def run(upload):
        before = counts(app), headline(app)
        response = client.post("/jurisdictions/riverton/metrics/upload", data={"csrf_token": token, "file": upload},
                               content_type="multipart/form-data")
        no_server_error(response, upload)
        assert response.status_code in (302, 400)
        if response.status_code == 400:
            assert (counts(app), headline(app)) == before

    run()


def test_request_and_staff_forms_fuzz(app, staff):
    create_jurisdiction(app)
    create_member(app, email="maya@example.org")
    client, token = client_for(app, "maya@example.org")
    fuzz(app, client, token, "/account/representation", RepresentationRequestForm,
         {"represented": "riverton", "role_title": "Analyst", "note": ""})
    staff_client, staff_token = client_for(app, staff)
    fuzz(app, staff_client, staff_token, "/staff/jurisdictions", NewJurisdictionForm,
         {"name": "Newtown", "state": "Iowa", "kind": "city", "slug": ""})
    with unit(app):
        request_id = db.session.query(Representative).order_by(Representative.id).first().id
    fuzz(app, staff_client, staff_token, f"/staff/jurisdictions/requests/{request_id}", DecisionForm,
         {"decision": "decline", "note": "Not found there."})


def test_join_form_fuzz(app):
    client = app.test_client()
    token = csrf_token(client, "/login")
    fuzz(app, client, token, "/initiative/join", JoinForm, {
        "name": "Brookfield", "state": "Iowa", "kind": "city", "contact_name": "Bea", "contact_email":
        "bea@example.org", "contact_role": "", "population": "", "annual_calls": "", "programs": "", "interests": ""})
