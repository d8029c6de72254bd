"""Call-type analysis: reading extracts (encodings, separators, times, bad input), the job and its file, the
pages of a representative, the classification they extend, the saved figure, privacy, and the command."""
import csv
import gzip
import io
import json
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from portal.calls import engine, files, services
from portal.calls import rules as classification
from portal.calls.mapping import check_mapping, propose_mapping
from portal.calls.aggregate import Aggregate
from portal.calls.models import CallAnalysis, CallSettings, CallTypeRule
from portal.extensions import db
from portal.jurisdictions.models import MetricReport
from tests.conftest import (_empty_database, create_jurisdiction, create_member, create_representative, csrf_token, login,
                            make_app, post_form, running_consumer, unit)

SETTINGS = engine.EngineSettings(threads=2, memory_limit="100MB")
HEADER = ["Incident", "TypeText", "Received", "Priority", "Disposition", "Unit Type", "Address", "Narrative"]


def sample_analysis(jurisdiction, groups=None, **fields) -> CallAnalysis:
    """A finished analysis made directly (no file): for the route walk and the query counts."""
    groups = groups if groups is not None else [("WELFARE CHECK", 8, 0, "2", "Advised", "CRISIS TEAM", 5),
                                                ("UNKNOWN THING", 9, 1, "3", None, "PATROL", 2)]
    aggregate = Aggregate.from_groups(groups, rows=sum(g[-1] for g in groups), period_start=date(2026, 2, 1),
                                      period_end=date(2026, 2, 27), mapped=("call_type", "received_at"))
    values = dict(jurisdiction_id=jurisdiction.id, status="done", filename="sample.csv", header=["type"],
                  mapping={"call_type": "type"}, aggregate=aggregate.to_json(), rows=aggregate.rows,
                  calls=aggregate.calls, period_start=aggregate.period_start, period_end=aggregate.period_end,
                  seconds=0.1)
    values.update(fields)
    analysis = CallAnalysis(**values)
    db.session.add(analysis)
    db.session.flush()
    return analysis


def csv_bytes(rows, header=HEADER, *, delimiter=",", encoding="utf-8") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def call(kind, received="2026-03-02T08:15:00", priority="2", disposition="Advised", unit="PATROL",
         narrative="caller reports", incident="1"):
    return [incident, kind, received, priority, disposition, unit, "100 MAIN ST", narrative]


def analyse_bytes(tmp_path, data: bytes, mapping=None, *, max_bytes=1 << 30, name="calls.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    info = files.inspect_file(path)
    mapping = mapping or propose_mapping(info.header)
    return info, engine.analyse(path, info, mapping, settings=SETTINGS, work_path=tmp_path / "work.utf8",
                                max_bytes=max_bytes)


# --- reading files -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header, expected", [
    (["TypeText", "TimeCreate", "Priority", "Disposition"],
     {"call_type": "TypeText", "received_at": "TimeCreate", "priority": "Priority", "disposition": "Disposition"}),
    (["CAD Event Number", "Event Clearance Group", "Original Time Queued", "Initial Call Type"],
     {"call_type": "Initial Call Type", "received_at": "Original Time Queued"}),
    (["CAD Event Number", "Event Clearance Group", "Event Clearance Date"], {"call_type": "Event Clearance Group"}),
    (["incident_id", "nature_code", "received_datetime", "priority_final", "unit_type"],
     {"call_type": "nature_code", "received_at": "received_datetime", "priority": "priority_final",
      "unit_type": "unit_type"}),
    (["call_type_original_desc", "call_date_time", "disposition", "agency"],
     {"call_type": "call_type_original_desc", "received_at": "call_date_time", "disposition": "disposition",
      "unit_type": "agency"}),
    (["id", "address", "narrative"], {}),
])
def test_mapping_proposed_from_city_headers(header, expected):
    assert propose_mapping(header) == expected


def test_remembered_mapping_wins_where_its_columns_are_there():
    header = ["Nature", "When", "Type"]
    assert propose_mapping(header, {"call_type": "Type", "received_at": "When", "priority": "Gone"}) == {
        "call_type": "Type", "received_at": "When"}


def test_check_mapping_names_what_is_wrong():
    header = ["a", "b"]
    with pytest.raises(files.FileProblem, match="Choose the column that holds the call type"):
        check_mapping({"priority": "a"}, header)
    with pytest.raises(files.FileProblem, match="the file has no column 'zz'"):
        check_mapping({"call_type": "zz"}, header)
    with pytest.raises(files.FileProblem, match="chosen for two fields"):
        check_mapping({"call_type": "a", "priority": "a"}, header)
    with pytest.raises(files.FileProblem, match="Unknown field"):
        check_mapping({"call_type": "a", "address": "b"}, header)
    assert check_mapping({"call_type": "a", "priority": ""}, header) == {"call_type": "a"}


@pytest.mark.parametrize("data, problem", [
    (b"", "The file is empty"),
    (b"  \r\n\n", "The file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary file"),
    (b"PK\x03\x04" + b"\x00" * 100, "Excel workbook"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF document"),
    ("TypeText,Received\n".encode("utf-16"), "UTF-16"),
    (b"<!DOCTYPE html><html><body>calls</body></html>", "web page or JSON"),
    (b'[{"type": "WELFARE CHECK"}]', "web page or JSON"),
    (b"TypeText,Received,Priority\r\n", "a header row but no calls"),
    (gzip.compress(b"TypeText,Received\nWELFARE CHECK,2026-01-01 10:00\n")[:30], "cut off or damaged"),
    (gzip.compress(b""), "holds nothing"),
])
def test_files_that_are_not_readable_csv(tmp_path, data, problem):
    path = tmp_path / "upload"
    path.write_bytes(data)
    with pytest.raises(files.FileProblem, match=problem):
        files.inspect_file(path)


@pytest.mark.parametrize("encoding, text, label", [
    ("utf-8", "Welfare check – café", "UTF-8"),
    ("utf-8-sig", "Welfare check – café", "UTF-8 with a byte-order mark"),
    ("cp1252", "Welfare check “café”", "Windows-1252 (cp1252)"),
    ("latin-1", "Welfare check café ñ", "Latin-1 (ISO 8859-1)"),
])
def test_encodings_are_detected_and_read(tmp_path, encoding, text, label):
    data = csv_bytes([call(text), call("NOISE COMPLAINT")], encoding=encoding)
    info, aggregate = analyse_bytes(tmp_path, data)
    assert info.encoding_label == label and info.header == HEADER
    assert aggregate.call_types == {text: 1, "NOISE COMPLAINT": 1} and aggregate.unreadable == {}


@pytest.mark.parametrize("delimiter, label", [(";", "semicolon"), ("\t", "tab"), ("|", "vertical bar"),
                                              (",", "comma")])
def test_separators(tmp_path, delimiter, label):
    data = csv_bytes([call("WELFARE CHK, ELDERLY"), call("NOISE")], delimiter=delimiter)
    info, aggregate = analyse_bytes(tmp_path, data)
    assert info.delimiter_label == label
    assert aggregate.call_types == {"WELFARE CHK, ELDERLY": 1, "NOISE": 1}


def test_times_in_several_formats_worked_by_hand(tmp_path):
    rows = [
        call("A", "2026-03-02T08:15:00"),             # Monday 08
        call("A", "2026-03-02 08:59:59.250-07:00"),   # Monday 08, the offset dropped (the city's own hour)
        call("A", "03/03/2026 01:05:00 PM"),          # Tuesday 13
        call("A", "03/03/2026 13:30"),                # Tuesday 13
        call("A", "1772582400"),                      # epoch seconds: 2026-03-04 00:00 UTC, Wednesday 00
        call("A", "yesterday"),                       # unreadable
        call("A", ""),                                # no time given: counted, not in the heat map
    ]
    _, aggregate = analyse_bytes(tmp_path, csv_bytes(rows))
    assert aggregate.calls == 6 and aggregate.unreadable == {"received_at": 1}
    assert aggregate.times[0][8] == 2 and aggregate.times[1][13] == 2 and aggregate.times[2][0] == 1
    assert sum(map(sum, aggregate.times)) == 5
    assert (aggregate.period_start, aggregate.period_end) == (date(2026, 3, 2), date(2026, 3, 4))
    assert aggregate.examples == [[7, "a received time that could not be read: 'yesterday'"]]


def test_ragged_rows_quoted_newlines_and_missing_types_counted_with_their_lines(tmp_path):
    text = ("TypeText,Received,Narrative\r\n"
            "WELFARE CHECK,2026-03-02 08:00,\"two\r\nlines\"\r\n"      # lines 2-3
            "NOISE,2026-03-02 09:00,x,extra\r\n"                       # line 4: too many fields
            "NOISE\r\n"                                                # line 5: too few
            ",2026-03-02 10:00,no type\r\n"                            # line 6
            "ALARM,2026-03-02 11:00,ok\r\n")                           # line 7
    _, aggregate = analyse_bytes(tmp_path, text.encode())
    assert aggregate.rows == 5 and aggregate.calls == 2
    assert aggregate.unreadable == {"ragged": 2, "call_type": 1}
    assert aggregate.examples == [
        [4, "a different number of fields from the header (4 where the header has 3)"],
        [5, "a different number of fields from the header (1 where the header has 3)"],
        [6, "no call type"]]


def test_at_most_twenty_examples(tmp_path):
    rows = [call("", incident=str(n)) for n in range(60)] + [call("NOISE")]
    _, aggregate = analyse_bytes(tmp_path, csv_bytes(rows))
    assert aggregate.unreadable == {"call_type": 60} and len(aggregate.examples) == 20
    assert aggregate.examples[0] == [2, "no call type"] and aggregate.examples[-1] == [21, "no call type"]


def test_only_mapped_columns_reach_the_aggregate(tmp_path):
    rows = [call("WELFARE CHECK", narrative="zebra-narrative-7731")]
    _, aggregate = analyse_bytes(tmp_path, csv_bytes(rows), {"call_type": "TypeText"})
    stored = json.dumps(aggregate.to_json())
    assert "zebra-narrative-7731" not in stored and "MAIN ST" not in stored and "PATROL" not in stored
    assert aggregate.priorities == {} and aggregate.unit_types == {} and aggregate.mapped == ("call_type",)


def test_gzip_read_and_the_bomb_stopped_at_the_limit(tmp_path):
    data = csv_bytes([call("WELFARE CHECK")] * 50 + [call("NOISE")])
    _, aggregate = analyse_bytes(tmp_path, gzip.compress(data), name="calls.csv.gz")
    assert aggregate.call_types == {"WELFARE CHECK": 50, "NOISE": 1}
    # 40 MB of one repeated line compresses to a few tens of KB: stopped at a 1 MB limit on the text.
    bomb = gzip.compress(csv_bytes([call("NOISE")] * 600_000), compresslevel=9)
    assert len(bomb) < 1 << 20
    with pytest.raises(files.FileProblem, match="Uncompressed, the file is over the limit of 1 MB"):
        analyse_bytes(tmp_path, bomb, max_bytes=1 << 20, name="bomb.csv.gz")


CALL_TYPE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(types=st.lists(CALL_TYPE_TEXT, min_size=1, max_size=12))
def test_any_call_type_text_is_counted_as_python_reads_it(tmp_path, types):
    """Quotes, separators, line breaks, control characters, any script: DuckDB's reading agrees with Python's."""
    data = csv_bytes([[kind, "2026-01-05 10:00"] for kind in types], header=["TypeText", "Received"])
    path = tmp_path / "typed.csv"
    path.write_bytes(data)
    try:
        info = files.inspect_file(path)
    except files.FileProblem:
        return  # e.g. text that reads as binary: refused with a message, which is the other allowed outcome
    aggregate = engine.analyse(path, info, {"call_type": "TypeText", "received_at": "Received"},
                               settings=SETTINGS, work_path=tmp_path / "typed.utf8", max_bytes=1 << 30)
    expected = Counter(engine.clean_value(kind) for kind in types if engine.clean_value(kind))
    assert Counter(aggregate.call_types) == expected
    assert aggregate.unreadable.get("call_type", 0) == sum(1 for kind in types if not engine.clean_value(kind))


# --- the pages ------------------------------------------------------------------------------------------------

@pytest.fixture
def new_app(tmp_path):
    """Apps with a site address a saved figure can give as its source (a full https address); their database
    is emptied afterwards."""
    made = []

    def make(**overrides):
        app = make_app(tmp_path / f"app{len(made)}", SITE_URL="https://portal.example.org", **overrides)
        made.append(app)
        return app

    yield make
    for app in made:
        _empty_database(app)


@pytest.fixture
def app(new_app):
    return new_app()


@pytest.fixture
def rep(app):
    create_jurisdiction(app)
    email = create_representative(app)
    client = app.test_client()
    login(client, email)
    return client


def calls_dir_files(app) -> list[str]:
    folder = Path(app.config["CALLS_DIR"])
    return sorted(p.name for p in folder.glob("*") if p.is_file()) if folder.exists() else []


def upload(client, data: bytes, filename="calls.csv", slug="riverton", token_from=None):
    token = csrf_token(client, token_from or f"/jurisdictions/{slug}/analysis")
    return client.post(f"/jurisdictions/{slug}/analysis", data={"csrf_token": token,
                                                                "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def analysis_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


FLOW_ROWS = ([call("WELFARE CHK", unit="CRISIS TEAM", narrative="quokka-secret-4412")] * 6
             + [call("Noise Complaint", "03/03/2026 11:00:00 PM")] * 4
             + [call("SHOTS FIRED")] * 3 + [call("ZZ LOCAL 77", unit="")] * 5 + [call("")] * 2)


def test_upload_map_results_and_save(app, rep):
    response = upload(rep, csv_bytes(FLOW_ROWS))
    number = analysis_id(response)
    page = rep.get(f"/jurisdictions/riverton/analysis/{number}").get_data(as_text=True)
    # The proposal and a preview of the first rows; the file waits under CALLS_DIR.
    assert '<option selected value="TypeText">' in page and '<option selected value="Unit Type">' in page
    assert "WELFARE CHK" in page and len(calls_dir_files(app)) == 1
    response = post_form(rep, f"/jurisdictions/riverton/analysis/{number}", {
        "call_type": "TypeText", "received_at": "Received", "priority": "Priority", "disposition": "Disposition",
        "unit_type": "Unit Type"})
    assert response.status_code == 302
    assert calls_dir_files(app) == []  # the job ran (at once, under test) and deleted the file
    page = rep.get(f"/jurisdictions/riverton/analysis/{number}").get_data(as_text=True)
    # 18 calls: welfare 6 + noise 4 alternative (10), shots 3 police, ZZ LOCAL 77 5 unmapped; 2 without type.
    assert 'id="alternative-share">55.6%' in page and 'id="coverage">72.2%' in page
    assert "2 rows could not be read" in page and "ZZ LOCAL 77" in page
    # Non-police: the crisis team answered 6 of the 13 calls with a unit type.
    assert 'id="non-police-share">46.2%' in page
    # Map the unmapped type from the results: the shares change at once, from the stored aggregate.
    response = post_form(rep, "/jurisdictions/riverton/analysis/rules", {
        "name": "ZZ LOCAL 77", "category": "administrative", "next": f"/jurisdictions/riverton/analysis/{number}"},
        token_from=f"/jurisdictions/riverton/analysis/{number}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/analysis/{number}")
    page = rep.get(f"/jurisdictions/riverton/analysis/{number}").get_data(as_text=True)
    assert 'id="alternative-share">83.3%' in page and 'id="coverage">100.0%' in page
    # Save the eligible calls: no report of March 2026 yet, so one is made (total 18, diverted 6).
    response = post_form(rep, f"/jurisdictions/riverton/analysis/{number}/save", {"include_co_response": ""},
                         token_from=f"/jurisdictions/riverton/analysis/{number}", follow_redirects=True)
    assert "Saved 15 eligible calls" in response.get_data(as_text=True), response.get_data(as_text=True)[:3000]
    with unit(app):
        report = riverton_reports().one()
        assert (report.period_start, report.period_end, report.months) == (date(2026, 3, 1), date(2026, 3, 31), 1)
        assert (report.total, report.diverted, report.eligible, report.origin) == (18, 6, 15, "analysis")
        assert report.source_url.endswith(f"/jurisdictions/riverton/analysis/{number}")
        assert db.session.get(CallAnalysis, number).report_id == report.id
    # Exports.
    data = json.loads(rep.get(f"/jurisdictions/riverton/analysis/{number}.json").get_data(as_text=True))
    assert data["calls"] == 18 and data["unreadable"] == 2
    assert {"call_type": "ZZ LOCAL 77", "calls": 5, "category": "administrative",
            "category_name": data["call_types"][1]["category_name"], "response": "alternative",
            "share": 5 / 18} in data["call_types"]
    assert {entry["response"] for entry in data["call_types"]} <= {"alternative", "co_response", "police",
                                                                   "fire_medical", "unmapped"}
    text = rep.get(f"/jurisdictions/riverton/analysis/{number}.csv").get_data(as_text=True)
    assert text.splitlines()[0] == "call_type,description,calls,share,category,category_name,response"
    # Privacy: the narrative's word is nowhere, in the database or under the instance folder.
    assert_nowhere(app, "quokka-secret-4412")


def riverton():
    from portal.jurisdictions.services import get_jurisdiction
    return get_jurisdiction("riverton")


def riverton_reports():
    return db.session.query(MetricReport).filter_by(jurisdiction_id=riverton().id)


def assert_nowhere(app, word: str) -> None:
    with unit(app):
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(table.select()):
                assert word not in repr(tuple(row)), f"{word!r} found in {table.name}"
    instance = Path(app.instance_path)
    for path in [instance, Path(app.config["CALLS_DIR"])]:
        for file in path.rglob("*") if path.exists() else ():
            if file.is_file() and file.suffix not in (".db-wal", ".db-shm"):
                assert word.encode() not in file.read_bytes(), f"{word!r} found in {file}"


def test_mapping_form_refusals(app, rep):
    number = analysis_id(upload(rep, csv_bytes(FLOW_ROWS)))
    path = f"/jurisdictions/riverton/analysis/{number}"
    response = post_form(rep, path, {"call_type": "", "priority": "Priority"})
    assert response.status_code == 400 and "Choose the column of the call type" in response.get_data(as_text=True)
    response = post_form(rep, path, {"call_type": "Not a column"})
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)
    response = post_form(rep, path, {"call_type": "TypeText", "priority": "TypeText"})
    assert response.status_code == 400 and "chosen for two fields" in response.get_data(as_text=True)
    with unit(app):
        assert db.session.get(CallAnalysis, number).status == "uploaded"
    assert len(calls_dir_files(app)) == 1


@pytest.mark.parametrize("data, problem", [
    (b"", "The file is empty"),
    (b"\x00\x01\x02binary" * 100, "binary file"),
    (b"TypeText,Received\n", "a header row but no calls"),
    (b"PK\x03\x04zipzip", "Excel workbook"),
])
def test_refused_uploads_leave_no_file(app, rep, data, problem):
    response = upload(rep, data)
    assert response.status_code == 400 and problem in response.get_data(as_text=True)
    assert calls_dir_files(app) == []
    with unit(app):
        assert db.session.query(CallAnalysis).count() == 0


def test_the_size_limit_is_this_routes_own(new_app):
    app = new_app(CALLS_MAX_BYTES=200_000, MAX_CONTENT_LENGTH=100_000)
    create_jurisdiction(app)
    client = app.test_client()
    login(client, create_representative(app))
    big = csv_bytes([call("WELFARE CHECK", narrative="x" * 100)] * 1000)   # ~150 KB: over the app's cap
    assert 100_000 < len(big) < 200_000
    assert analysis_id(upload(client, big)) > 0
    token = csrf_token(client, "/jurisdictions/riverton/metrics/upload")
    response = client.post("/jurisdictions/riverton/metrics/upload", data={"csrf_token": token,
                           "file": (io.BytesIO(big), "m.csv")}, content_type="multipart/form-data")
    assert response.status_code == 413
    too_big = csv_bytes([call("WELFARE CHECK", narrative="x" * 100)] * 2000)
    response = upload(client, too_big)
    assert response.status_code == 413
    assert "over the limit of 195 KB" in response.get_data(as_text=True)
    assert len(calls_dir_files(app)) == 1  # only the accepted one


def test_an_upload_cut_off_midway_leaves_nothing(app, rep):
    token = csrf_token(rep, "/jurisdictions/riverton/analysis")
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + token.encode()
            + b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.csv\"\r\n"
            b"Content-Type: text/csv\r\n\r\n" + csv_bytes([call("NOISE")] * 200))
    response = rep.post("/jurisdictions/riverton/analysis", input_stream=io.BytesIO(body),
                        content_type="multipart/form-data; boundary=XyZ",
                        headers={"Content-Length": str(len(body) + 50_000)})
    assert response.status_code == 400 and "cut off" in response.get_data(as_text=True)
    assert calls_dir_files(app) == []


def test_nobody_else_can_send_a_file_to_disk(app):
    create_jurisdiction(app)
    create_member(app, email="other@example.org")
    client = app.test_client()
    login(client, "other@example.org")
    response = upload(client, csv_bytes([call("NOISE")]), token_from="/account")
    assert response.status_code == 403 and calls_dir_files(app) == []
    anonymous = app.test_client()
    assert upload(anonymous, csv_bytes([call("NOISE")]), token_from="/login").status_code == 302
    assert calls_dir_files(app) == []


def test_a_failed_job_says_why_and_deletes_the_file(new_app):
    app = new_app(CALLS_MAX_BYTES=1 << 20)
    create_jurisdiction(app)
    client = app.test_client()
    login(client, create_representative(app))
    bomb = gzip.compress(csv_bytes([call("NOISE")] * 200_000), compresslevel=9)
    number = analysis_id(upload(client, bomb, "bomb.csv.gz"))
    post_form(client, f"/jurisdictions/riverton/analysis/{number}", {"call_type": "TypeText"})
    page = client.get(f"/jurisdictions/riverton/analysis/{number}").get_data(as_text=True)
    assert "failed" in page and "over the limit of 1 MB" in page
    assert calls_dir_files(app) == []


def test_rules_saved_changed_and_removed(app, rep):
    path = "/jurisdictions/riverton/analysis/rules"
    assert post_form(rep, path, {"name": "zz local 77", "category": "administrative"}).status_code == 302
    assert post_form(rep, path, {"name": "ZZ-LOCAL-77", "category": "code_violation"}).status_code == 302
    response = post_form(rep, path, {"name": "re:([", "category": "administrative"})
    assert response.status_code == 400 and "regular expression is not valid" in response.get_data(as_text=True)
    response = post_form(rep, path, {"name": "!!!", "category": "administrative"})
    assert response.status_code == 400 and "at least one letter or digit" in response.get_data(as_text=True)
    assert post_form(rep, path, {"name": "X", "category": "nope"}).status_code == 400
    with unit(app):
        rules = db.session.query(CallTypeRule).all()
        assert [(r.name, r.category) for r in rules] == [("ZZ-LOCAL-77", "code_violation")]
        rule_id = rules[0].id
    assert post_form(rep, f"{path}/{rule_id}/delete", token_from=path).status_code == 302
    with unit(app):
        assert db.session.query(CallTypeRule).count() == 0


def test_a_code_table_classifies_codes_by_their_descriptions(app, rep):
    with unit(app):
        from portal.jurisdictions.services import get_jurisdiction
        jurisdiction = get_jurisdiction("riverton")
        number = sample_analysis(jurisdiction, [("10-50", 8, 0, None, None, None, 4),
                                                ("5150", 9, 1, None, None, None, 6)]).id
    codes = b"code,description\r\n10-50,Traffic accident no injury\r\n5150,Mental health crisis\r\n"
    token = csrf_token(rep, "/jurisdictions/riverton/analysis/rules")
    response = rep.post("/jurisdictions/riverton/analysis/codes", data={
        "csrf_token": token, "file": (io.BytesIO(codes), "codes.csv")}, content_type="multipart/form-data")
    assert response.status_code == 302
    data = rep.get(f"/jurisdictions/riverton/analysis/{number}.json").get_json()
    found = {entry["call_type"]: (entry.get("description"), entry["response"]) for entry in data["call_types"]}
    assert found == {"10-50": ("Traffic accident no injury", "alternative"),
                     "5150": ("Mental health crisis", "alternative")}
    for bad, problem in ((b"10-50\r\n", "Line 1: expected two columns"), (b"a,b\r\n,c\r\n", "Line 2: both"),
                         (b"\x00\x01", "binary file"), (b"code,description\r\n", "holds no codes")):
        response = rep.post("/jurisdictions/riverton/analysis/codes", data={
            "csrf_token": token, "file": (io.BytesIO(bad), "codes.csv")}, content_type="multipart/form-data",
            follow_redirects=True)
        assert problem in response.get_data(as_text=True)
    with unit(app):
        assert len(db.session.get(CallSettings, riverton().id).code_table) == 2


def _finished(app, groups, start, end):
    with unit(app):
        from portal.jurisdictions.services import get_jurisdiction
        return sample_analysis(get_jurisdiction("riverton"), groups, period_start=start, period_end=end,
                               aggregate=Aggregate.from_groups(groups, rows=sum(g[-1] for g in groups),
                                                               period_start=start, period_end=end).to_json()).id


def test_saving_the_figure_to_a_reported_period_or_refusing(app, rep):
    from tests.test_jurisdiction_metrics import month
    with unit(app):
        from portal.jurisdictions import metrics
        from portal.jurisdictions.services import get_jurisdiction
        metrics.report_metrics(get_jurisdiction("riverton"), actor=None, origin="staff",
                               **month(2026, 1, 1000, 100))
    groups = [("WELFARE CHECK", 8, 0, None, None, None, 30), ("DISTURBANCE", 9, 1, None, None, None, 20)]
    january = _finished(app, groups, date(2026, 1, 3), date(2026, 1, 30))
    response = post_form(rep, f"/jurisdictions/riverton/analysis/{january}/save", {"include_co_response": "y"},
                         token_from=f"/jurisdictions/riverton/analysis/{january}")
    assert response.status_code == 302
    with unit(app):
        report = riverton_reports().one()
        assert (report.total, report.diverted, report.eligible, report.version) == (1000, 100, 50, 2)
    five_months = _finished(app, groups, date(2026, 2, 3), date(2026, 6, 30))
    page = post_form(rep, f"/jurisdictions/riverton/analysis/{five_months}/save", {},
                     token_from=f"/jurisdictions/riverton/analysis/{five_months}", follow_redirects=True)
    assert "cover 5 calendar months" in page.get_data(as_text=True)
    no_units = _finished(app, groups, date(2026, 7, 1), date(2026, 9, 30))
    page = post_form(rep, f"/jurisdictions/riverton/analysis/{no_units}/save", {},
                     token_from=f"/jurisdictions/riverton/analysis/{no_units}", follow_redirects=True)
    assert "enter how many calls alternative responders answered" in page.get_data(as_text=True)
    assert post_form(rep, f"/jurisdictions/riverton/analysis/{no_units}/save", {"diverted": "12"},
                     token_from=f"/jurisdictions/riverton/analysis/{no_units}").status_code == 302
    with unit(app):
        quarter = riverton_reports().filter_by(months=3).one()
        assert (quarter.total, quarter.diverted, quarter.eligible) == (50, 12, 30)


def test_stale_files_are_deleted(app):
    """What the worker does when it starts and every ten minutes: a job whose process is gone (on this host), or
    silent too long (on any), is interrupted and its file deleted; a live job elsewhere keeps its file."""
    import subprocess
    import sys

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    create_jurisdiction(app)
    with unit(app):
        jurisdiction = riverton()
        folder = services.calls_dir()
        made = {}
        for token, worker in (("a", f"{services.this_worker().rpartition(':')[0]}:{finished.stdout.strip()}"),
                              ("d", services.this_worker()), ("e", "another-host:1"), ("f", "another-host:2")):
            made[token] = sample_analysis(jurisdiction, status="running", file_token=token * 32, aggregate=None,
                                          worker=worker).id
        made["b"] = sample_analysis(jurisdiction, status="uploaded", file_token="b" * 32, aggregate=None).id
    with unit(app):  # another host's job that has shown no progress for an hour
        db.session.get(CallAnalysis, made["f"]).updated_at = datetime(2020, 1, 1, tzinfo=timezone.utc)
    for token in "abcdef":
        (folder / f"{token * 32}.upload").write_bytes(b"TypeText\nNOISE\n")
    (folder / f"{'a' * 32}.utf8").write_bytes(b"TypeText\nNOISE\n")
    with app.app_context():
        # a (its process is gone, and its work file), c (nobody's), f (silent): 4 files.
        assert services.clean_stale_files() == 4
    assert calls_dir_files(app) == [f"{token * 32}.upload" for token in "bde"]
    with unit(app):
        states = {token: db.session.get(CallAnalysis, number).status for token, number in made.items()}
        assert states == {"a": "failed", "b": "uploaded", "d": "running", "e": "running", "f": "failed"}
        assert "interrupted" in db.session.get(CallAnalysis, made["a"]).error
        db.session.get(CallAnalysis, made["b"]).created_at = datetime(2020, 1, 1, tzinfo=timezone.utc)
    with app.app_context():
        assert services.clean_stale_files() == 1  # b waited too long for its columns
    with unit(app):
        assert db.session.get(CallAnalysis, made["b"]).status == "failed"
    assert calls_dir_files(app) == [f"{token * 32}.upload" for token in "de"]


def test_a_real_worker_runs_the_job_and_the_page_follows_it(new_app):
    app = new_app(QUEUE_IMMEDIATE=False)
    create_jurisdiction(app)
    client = app.test_client()
    login(client, create_representative(app))
    number = analysis_id(upload(client, csv_bytes(FLOW_ROWS)))
    post_form(client, f"/jurisdictions/riverton/analysis/{number}", {"call_type": "TypeText"})
    state = client.get(f"/jurisdictions/riverton/analysis/{number}/progress.json").get_json()
    assert state["status"] == "queued"
    page = client.get(f"/jurisdictions/riverton/analysis/{number}").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="3">' in page and "/static/js/calls-progress." in page
    with running_consumer(app) as consumer:
        consumer.wait("calls.run_analysis")
    state = client.get(f"/jurisdictions/riverton/analysis/{number}/progress.json").get_json()
    assert state["status"] == "done" and state["rows_read"] == 20
    assert calls_dir_files(app) == []
    assert 'id="alternative-share">55.6%' in client.get(f"/jurisdictions/riverton/analysis/{number}").get_data(
        as_text=True)


def test_the_command_runs_the_same_job(app, runner, tmp_path):
    create_jurisdiction(app)
    extract = tmp_path / "extract.csv"
    extract.write_bytes(csv_bytes([call("415")] * 3 + [call("WELFARE CHECK")] * 2,
                                  header=["Incident", "Code", "When", "Priority", "Disposition", "Unit Type",
                                          "Address", "Narrative"]))
    codes = tmp_path / "codes.csv"
    codes.write_text("415,Noise complaint\n")
    output = tmp_path / "result.json"
    result = runner.invoke(args=["calls", "analyze", str(extract), "--jurisdiction", "riverton", "--map",
                                 "call_type=Code", "--map", "received_at=When", "--code-table", str(codes),
                                 "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert "5 calls counted of 5 rows" in result.output and "Alternative response: 100.0%" in result.output
    data = json.loads(output.read_text())
    assert data["calls"] == 5 and data["unreadable"] == 0
    assert [(e["call_type"], e["calls"], e["response"]) for e in data["call_types"]] == [
        ("415", 3, "alternative"), ("WELFARE CHECK", 2, "alternative")]
    assert calls_dir_files(app) == [] and extract.exists()
    bad = runner.invoke(args=["calls", "analyze", str(extract), "--jurisdiction", "riverton", "--map", "nope=x"])
    assert bad.exit_code != 0 and "FIELD=COLUMN" in bad.output
    bad = runner.invoke(args=["calls", "analyze", str(extract), "--jurisdiction", "riverton", "--map",
                              "call_type=Missing"])
    assert bad.exit_code != 0 and "the file has no column 'Missing'" in bad.output
    assert calls_dir_files(app) == []
    bad = runner.invoke(args=["calls", "analyze", str(extract), "--jurisdiction", "nowhere"])
    assert bad.exit_code != 0 and "No jurisdiction" in bad.output


def test_no_analysis_page_runs_more_statements_for_more_data(app, rep):
    from datetime import timedelta

    from tests.conftest import counted_queries
    app.extensions["portal.validators"].reuse = timedelta(0)

    def add(analyses: int, types: int, rules: int) -> int:
        with unit(app):
            jurisdiction = riverton()
            groups = [(f"TYPE {n}", n % 24, n % 7, str(n % 5), "Advised", "PATROL", n + 1) for n in range(types)]
            made = [sample_analysis(jurisdiction, groups).id for _ in range(analyses)]
            for n in range(rules):
                classification.save_rule(jurisdiction, actor=None, name=f"TYPE {n}", category="administrative")
            return made[-1]

    def counts(number: int) -> dict:
        paths = ["/jurisdictions/riverton/analysis", f"/jurisdictions/riverton/analysis/{number}",
                 f"/jurisdictions/riverton/analysis/{number}.json", f"/jurisdictions/riverton/analysis/{number}.csv",
                 f"/jurisdictions/riverton/analysis/{number}/progress.json", "/jurisdictions/riverton/analysis/rules"]
        found = {}
        with counted_queries(app) as seen:
            for path in paths:
                rep.get(path)
                seen.clear()
                assert rep.get(path).status_code == 200, path
                found[path.replace(str(number), "N")] = len(seen)
        return found

    few = counts(add(1, 2, 1))
    many = counts(add(30, 500, 40))
    assert many == few
