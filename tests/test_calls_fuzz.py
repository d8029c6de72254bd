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
from tests.test_forms_fuzz import FUZZ, form_fields, fresh_limits, fuzz_form, no_server_error
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


def fuzz(app, client, token, path, fields, valid, *, statuses=(200, 302, 400)):
    fuzz_form(app, client, token, path, fields, valid, state=state, statuses=statuses)


def test_mapping_rule_and_save_forms_fuzz(app):
    create_jurisdiction(app)
    client, token = client_for(app, create_representative(app))
    number = analysis_id(upload(client, csv_bytes(FLOW_ROWS)))
    with unit(app):
        header = db.session.get(CallAnalysis, number).header
    # The mapping form's fields are made from the file's header: fuzz it as made for this file. A valid
    # submission queues the analysis (and, under test, runs it), so the valid values leave out the call type.
    fuzz(app, client, token, f"/jurisdictions/riverton/analysis/{number}",
         form_fields(app, lambda: mapping_form(header, {}, formdata=None)), {"priority": "Priority"})
    fuzz(app, client, token, "/jurisdictions/riverton/analysis/rules", form_fields(app, RuleForm),
         {"name": "ZZ LOCAL 77", "category": "administrative", "next": ""})
    with unit(app):
        from portal.jurisdictions.services import get_jurisdiction
        done = sample_analysis(get_jurisdiction("riverton")).id
    # The results page's forms answer with a redirect that carries the message (a NUL is refused first, 400).
    fuzz(app, client, token, f"/jurisdictions/riverton/analysis/{done}/save", form_fields(app, SaveFigureForm),
         {"include_co_response": "", "diverted": "1"}, statuses=(302, 400))


FILES = st.builds(lambda head, body: head + body,
                  st.sampled_from([b"", b"TypeText,Received\n", b"\xef\xbb\xbfcode,description\n", b"\x1f\x8b",
                                   b"\xff\xfe", b"PK\x03\x04"]),
                  st.binary(max_size=400) | st.text(max_size=400).map(str.encode))


def test_upload_and_code_table_fuzz(app):
    create_jurisdiction(app)
    client, token = client_for(app, create_representative(app))

    @FUZZ
    # File names as a browser sends them: it escapes CR, LF and '"' in a multipart header, which the test client
    # cannot; an unescaped line break ends the header, and the file then arrives as a plain form field.
    @given(data=FILES, name=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='\r\n"'),
                                     max_size=80))
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
