"""Form fuzzing for the call-type analysis, with the helpers and rules of tests/test_forms_fuzz.py: never a 500,
a refusal is a 400 (or a redirect with the message, for the forms of the results page), nothing half saved, and
no file left behind by a refused upload."""
import io

from hypothesis import given, strategies as st

from portal.calls.forms import AnalysisUploadForm, CodeTableForm, MappingForm, RuleForm, SaveFigureForm, mapping_form
from portal.calls.models import CallAnalysis, CallSettings, CallTypeRule
from portal.extensions import db
from portal.jurisdictions.models import MetricReport
from tests.conftest import create_jurisdiction, create_representative, unit
from tests.test_calls import FLOW_ROWS, analysis_id, calls_dir_files, csv_bytes, sample_analysis, upload
from tests.test_forms_fuzz import FUZZ, fresh_limits, no_server_error, payloads, post, resolve
from tests.test_jurisdictions_fuzz import client_for

# Read by tests/test_forms_fuzz.py's test_every_form_is_fuzzed.
CALLS_FUZZED_FORMS = {AnalysisUploadForm, MappingForm, RuleForm, CodeTableForm, SaveFigureForm}
TABLES = (CallAnalysis, CallSettings, CallTypeRule, MetricReport)


def state(app) -> tuple:
    with unit(app):
        db.session.expire_all()
        settings = db.session.query(CallSettings).all()
        return (tuple(db.session.query(model).count() for model in TABLES),
                tuple(sorted((s.jurisdiction_id, repr(s.mapping), repr(s.code_table)) for s in settings)),
                tuple(sorted((r.name, r.category) for r in db.session.query(CallTypeRule))),
                tuple(sorted((a.id, a.status) for a in db.session.query(CallAnalysis))))


def fields_of(app, form):
    with app.test_request_context():
        made = form(meta={"csrf": False}) if isinstance(form, type) else form()
        return {field.name: (field.short_name, field) for field in made if field.type != "CSRFTokenField"}


def fuzz(app, client, token, path, fields, valid, *, statuses=(200, 302, 400)):
    @FUZZ
    @given(payload=payloads(fields, valid))
    def run(payload):
        fresh_limits(app)
        data = resolve(payload, fields, valid)
        before = state(app)
        response = post(client, path, data, token)
        no_server_error(response, data)
        assert response.status_code in statuses, (response.status_code, data)
        if response.status_code == 400:
            assert state(app) == before, f"a refused form saved something: {data}"

    run()


def test_mapping_rule_and_save_forms_fuzz(app):
    create_jurisdiction(app)
    client, token = client_for(app, create_representative(app))
    number = analysis_id(upload(client, csv_bytes(FLOW_ROWS)))
    with unit(app):
        header = db.session.get(CallAnalysis, number).header
    # The mapping form's fields are made from the file's header: fuzz it as made for this file. A valid
    # submission queues the analysis (and, under test, runs it), so the valid values leave out the call type.
    fuzz(app, client, token, f"/jurisdictions/riverton/analysis/{number}",
         fields_of(app, lambda: mapping_form(header, {}, formdata=None)), {"priority": "Priority"})
    fuzz(app, client, token, "/jurisdictions/riverton/analysis/rules", fields_of(app, RuleForm),
         {"name": "ZZ LOCAL 77", "category": "administrative", "next": ""})
    with unit(app):
        from portal.jurisdictions.services import get_jurisdiction
        done = sample_analysis(get_jurisdiction("riverton")).id
    # The results page's forms answer with a redirect that carries the message (a NUL is refused first, 400).
    fuzz(app, client, token, f"/jurisdictions/riverton/analysis/{done}/save", fields_of(app, SaveFigureForm),
         {"include_co_response": "", "diverted": "1"}, statuses=(302, 400))


FILES = st.builds(lambda head, body: head + body,
                  st.sampled_from([b"", b"TypeText,Received\n", b"\xef\xbb\xbfcode,description\n", b"\x1f\x8b",
                                   b"\xff\xfe", b"PK\x03\x04"]),
                  st.binary(max_size=400) | st.text(max_size=400).map(str.encode))


def test_upload_and_code_table_fuzz(app):
    create_jurisdiction(app)
    client, token = client_for(app, create_representative(app))

    @FUZZ
    @given(data=FILES, name=st.text(max_size=80))
    def run(data, name):
        fresh_limits(app)
        before = state(app)
        kept = calls_dir_files(app)
        response = client.post("/jurisdictions/riverton/analysis", data={
            "csrf_token": token, "file": (io.BytesIO(data), name or "x.csv")}, content_type="multipart/form-data")
        no_server_error(response, data)
        assert response.status_code in (302, 400)
        if response.status_code == 400:
            assert state(app) == before and calls_dir_files(app) == kept
        response = client.post("/jurisdictions/riverton/analysis/codes", data={
            "csrf_token": token, "file": (io.BytesIO(data), name or "x.csv")}, content_type="multipart/form-data")
        no_server_error(response, data)
        assert response.status_code == 302

    run()
