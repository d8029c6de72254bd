"""Representatives keep their jurisdiction current, and only their own: the request and its review, the page,
programs, metrics by form and by CSV, API tokens, program models for the library; joining the initiative."""
import hashlib
import io
import re

import pytest

from portal.extensions import db, limiter
from portal.jurisdictions import metrics
from portal.jurisdictions.models import ApiToken, JoinApplication, MetricReport, Program, Representative
from portal.jurisdictions.services import get_jurisdiction
from portal.library.models import Suggestion
from tests.conftest import Outbox, create_jurisdiction, create_member, create_representative, login, post_form
from tests.test_jurisdiction_metrics import month

CSV = ("period_start,period_end,total,diverted,eligible,source,sample\n"
       "2026-01-01,2026-01-31,1000,100,400,https://example.org/jan,no\n"
       "2026-02-01,2026-02-28,1000,150,,https://example.org/feb,yes\n")


@pytest.fixture
def rep(app):
    create_jurisdiction(app)
    create_jurisdiction(app, slug="lakeside", name="Lakeside", state="Ohio", reports=[month(2026, 1, 500, 50)])
    email = create_representative(app)
    client = app.test_client()
    login(client, email)
    return client


def post(client, path, data=None, **kwargs):
    """A form sent with the session's CSRF token (read from /login, which every visitor can open)."""
    return post_form(client, path, data, token_from="/login", **kwargs)


def test_a_member_asks_staff_approve_and_the_member_is_mailed(app, staff, outbox):
    create_jurisdiction(app)
    create_member(app, email="maya@example.org")
    client = app.test_client()
    login(client, "maya@example.org")
    response = post(client, "/account/representation", {"represented": "riverton", "role_title": "Analyst",
                                                         "note": "I run the 911 data team."})
    assert response.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "Riverton, Oregon: waiting for staff" in page
    # Asking twice is refused with a message.
    post(client, "/account/representation", {"represented": "riverton", "role_title": "Analyst"})
    assert "waiting for staff" in client.get("/account").get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Representative).count() == 1
        request_id = db.session.query(Representative).one().id
    staff_client = app.test_client()
    login(staff_client, staff)
    assert '1</span> representative request<' in staff_client.get("/staff/").get_data(as_text=True)
    response = post(staff_client, f"/staff/jurisdictions/requests/{request_id}", {"decision": "decline"})
    assert response.status_code == 400 and "Write a short note" in response.get_data(as_text=True)
    response = post(staff_client, f"/staff/jurisdictions/requests/{request_id}", {"decision": "approve"})
    assert response.status_code == 302
    assert "You now represent Riverton" in outbox.last("maya@example.org")["Subject"]
    assert client.get("/jurisdictions/riverton/edit").status_code == 200
    assert "Maya Member, Analyst" in client.get("/jurisdictions/riverton").get_data(as_text=True)


def test_an_unverified_member_cannot_ask(app):
    create_jurisdiction(app)
    create_member(app, email="new@example.org", verified=False)
    client = app.test_client()
    login(client, "new@example.org")
    assert post(client, "/account/representation", {"represented": "riverton", "role_title": "x"}).status_code == 403


def test_the_representative_edits_the_page_goal_and_links(app, rep):
    response = post(rep, "/jurisdictions/riverton/edit", {
        "state": "Oregon", "kind": "city", "population": "180,000", "summary": "A **river** city.",
        "goal_rate": "15%", "goal_year": "2032", "goal_baseline_year": "2025", "goal_baseline_rate": "0.05",
        "goal_source": "https://example.org/goal", "annual_calls": "250000", "annual_calls_source": "",
        "links-0-label": "Our 911 dashboard", "links-0-url": "https://example.org/dash",
        # Staff-only fields are ignored for a representative.
        "name": "Renamed", "is_partner": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        jurisdiction = get_jurisdiction("riverton")
        assert (jurisdiction.name, jurisdiction.is_partner) == ("Riverton", False)
        assert (jurisdiction.goal_rate, jurisdiction.goal_year, jurisdiction.population) == (0.15, 2032, 180000)
        assert [(link.label, link.url) for link in jurisdiction.links] == [("Our 911 dashboard",
                                                                            "https://example.org/dash")]
    page = rep.get("/jurisdictions/riverton").get_data(as_text=True)
    assert 'href="https://example.org/dash"' in page and "<strong>river</strong>" in page
    assert "Divert 15% of 911 calls by 2032" in page
    # At its goal, 250,000 × 15% = 37,500 calls a year.
    assert "37,500 calls a year" in page
    bad = post(rep, "/jurisdictions/riverton/edit", {"kind": "city", "goal_rate": "150%", "goal_year": "2032"})
    assert bad.status_code == 400 and "between 0 and 1" in bad.get_data(as_text=True)


def test_programs_are_added_edited_and_removed(app, rep):
    response = post(rep, "/jurisdictions/riverton/programs/new", {
        "name": "River Responders", "model": "community_responder", "agency": "Fire Department",
        "launched_on": "2024-06-01", "hours": "every day", "call_types": "welfare check\nintoxication",
        "url": "https://example.org/rr", "description": "Two-person teams.", "sources": "https://example.org/src"})
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    with app.app_context():
        program = db.session.query(Program).one()
        program_id = program.id
        assert program.call_types == ["welfare check", "intoxication"]
    page = rep.get("/jurisdictions/riverton").get_data(as_text=True)
    assert "River Responders" in page and "Calls it takes: welfare check, intoxication." in page
    bad = post(rep, f"/jurisdictions/riverton/programs/{program_id}", {"name": "River Responders",
                                                                       "launched_on": "June 2024"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.get_data(as_text=True)
    assert post(rep, f"/jurisdictions/riverton/programs/{program_id}/delete").status_code == 302
    with app.app_context():
        assert db.session.query(Program).count() == 0


def test_metrics_by_form_and_correction(app, rep):
    response = post(rep, "/jurisdictions/riverton/metrics", {
        "period_start": "2026-01-01", "period_end": "2026-03-31", "total": "3,000", "diverted": "300",
        "eligible": "", "source_url": "https://example.org/q1"})
    assert response.status_code == 302
    bad = post(rep, "/jurisdictions/riverton/metrics", {"period_start": "2026-02-01", "period_end": "2026-02-28",
                                                        "total": "10", "diverted": "1"})
    assert bad.status_code == 400 and "overlaps the report for 2026-01-01 to 2026-03-31" in bad.get_data(as_text=True)
    with app.app_context():
        report = db.session.query(MetricReport).filter_by(jurisdiction_id=get_jurisdiction("riverton").id).one()
        report_id = report.id
    assert post(rep, f"/jurisdictions/riverton/metrics/{report_id}", {
        "version": "1", "total": "3000", "diverted": "600", "source_url": "https://example.org/q1b"}).status_code == 302
    # A form opened before that correction is refused rather than overwriting it.
    stale = post(rep, f"/jurisdictions/riverton/metrics/{report_id}", {"version": "1", "total": "3000",
                                                                       "diverted": "1"})
    assert stale.status_code == 400 and "corrected by someone else" in stale.get_data(as_text=True)
    page = rep.get("/jurisdictions/riverton").get_data(as_text=True)
    assert "20.0%" in page  # 600 / 3000
    history = rep.get("/jurisdictions/riverton/metrics").get_data(as_text=True)
    assert "corrected 2026-01-01 to 2026-03-31 (600 of 3,000) by Rita Representative" in history


def test_csv_upload_all_or_none_with_line_numbers(app, rep):
    bad = CSV.replace("1000,150", "1000,1500") + "2026-03-01,2026-03-15,10,1,,,\n"
    response = post(rep, "/jurisdictions/riverton/metrics/upload",
                    {"file": (io.BytesIO(bad.encode()), "metrics.csv")}, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Line 3: Diverted calls cannot be more than the total" in html and "Line 4: A period ends on the last" in html
    with app.app_context():
        assert metrics.reports_of(get_jurisdiction("riverton")) == []
    for content, words in [(b"\xff\xfe\x00b", "not a CSV text file"), ("période".encode("latin-1"), "not UTF-8"),
                           (b"a,b\n1,2\n", "missing: period_start")]:
        response = post(rep, "/jurisdictions/riverton/metrics/upload",
                        {"file": (io.BytesIO(content), "x.csv")}, content_type="multipart/form-data")
        assert response.status_code == 400 and words in response.get_data(as_text=True), words
    response = post(rep, "/jurisdictions/riverton/metrics/upload",
                    {"file": (io.BytesIO(("\ufeff" + CSV).encode()), "metrics.csv")}, content_type="multipart/form-data")
    assert response.status_code == 302
    page = rep.get("/jurisdictions/riverton").get_data(as_text=True)
    # 250 of 2,000 over two months; February is sample data.
    assert "12.5%" in page and "2 of 12 months reported" in page and "sample data" in page


def test_tokens_are_shown_once_and_stored_hashed(app, rep):
    response = post(rep, "/jurisdictions/riverton/tokens", {"name": "Nightly upload"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    secret = re.search(r'<p class="token-secret">([^<]+)</p>', html).group(1)
    with app.app_context():
        token = db.session.query(ApiToken).one()
        assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in token.token_hash
        token_id = token.id
    assert secret not in rep.get("/jurisdictions/riverton/tokens").get_data(as_text=True)
    assert post(rep, f"/jurisdictions/riverton/tokens/{token_id}/revoke").status_code == 302
    with app.app_context():
        from portal.jurisdictions.tokens import authenticate_token
        assert authenticate_token(secret) is None


def test_a_program_model_goes_to_the_librarys_review_queue(app, rep):
    response = post(rep, "/jurisdictions/riverton/suggest", {"title": "River Responders protocol",
                                                             "type": "program_model", "summary": "How we dispatch."})
    assert response.status_code == 302
    with app.app_context():
        suggestion = db.session.query(Suggestion).one()
        assert (suggestion.type, suggestion.jurisdiction.slug) == ("program_model", "riverton")


WRITES = [
    ("/jurisdictions/lakeside/edit", {"kind": "city", "summary": "Taken over"}),
    ("/jurisdictions/lakeside/programs/new", {"name": "Intruder program"}),
    ("/jurisdictions/lakeside/metrics", {"period_start": "2026-02-01", "period_end": "2026-02-28", "total": "5",
                                         "diverted": "1"}),
    ("/jurisdictions/lakeside/metrics/{report_id}", {"version": "1", "total": "5", "diverted": "5"}),
    ("/jurisdictions/lakeside/metrics/{report_id}/delete", {}),
    ("/jurisdictions/lakeside/metrics/upload", {"file": (io.BytesIO(CSV.encode()), "m.csv")}),
    ("/jurisdictions/lakeside/tokens", {"name": "Intruder"}),
    ("/jurisdictions/lakeside/suggest", {"title": "Intruder", "type": "policy"}),
]


def test_a_representative_cannot_touch_another_jurisdiction(app, rep):
    with app.app_context():
        lakeside = get_jurisdiction("lakeside")
        report_id = metrics.reports_of(lakeside)[0].id
        before = (lakeside.summary, lakeside.headline_diverted, lakeside.updated_at)
    for path, data in WRITES:
        path = path.format(report_id=report_id)
        assert rep.get(path).status_code in (403, 405), path
        response = post(rep, path, data, content_type="multipart/form-data")
        assert response.status_code == 403, (path, response.status_code)
    with app.app_context():
        lakeside = get_jurisdiction("lakeside")
        assert (lakeside.summary, lakeside.headline_diverted, lakeside.updated_at) == before
        assert db.session.query(Program).count() == 0 and db.session.query(ApiToken).count() == 0
        assert db.session.query(Suggestion).count() == 0
    # And not by guessing ids: Riverton's URL with Lakeside's report is not found.
    assert rep.get(f"/jurisdictions/riverton/metrics/{report_id}").status_code == 404


def test_revoking_a_representative_ends_their_access_and_tokens(app, rep, staff):
    response = post(rep, "/jurisdictions/riverton/tokens", {"name": "Nightly"})
    secret = re.search(r'<p class="token-secret">([^<]+)</p>', response.get_data(as_text=True)).group(1)
    with app.app_context():
        request_id = db.session.query(Representative).filter_by(status="approved").one().id
    staff_client = app.test_client()
    login(staff_client, staff)
    assert post(staff_client, f"/staff/jurisdictions/representatives/{request_id}/revoke").status_code == 302
    assert rep.get("/jurisdictions/riverton/edit").status_code == 403
    with app.app_context():
        from portal.jurisdictions.tokens import authenticate_token
        assert authenticate_token(secret) is None


# --- joining the initiative -------------------------------------------------------------------------------------

JOIN = {"name": "Brookfield", "state": "Iowa", "kind": "city", "contact_name": "Bea Brook",
        "contact_email": "Bea@Brookfield.example.org", "contact_role": "Deputy mayor", "population": "95,000",
        "annual_calls": "60000", "programs": "A crisis line pilot.", "interests": "Peers."}


def test_a_city_applies_staff_approve_and_the_contact_becomes_its_representative(app, staff, outbox):
    client = app.test_client()
    assert client.get("/initiative/join").status_code == 200
    bad = post(client, "/initiative/join", {**JOIN, "contact_email": "not-an-address", "population": "many"})
    assert bad.status_code == 400
    with app.app_context():
        assert db.session.query(JoinApplication).count() == 0
    assert post(client, "/initiative/join", JOIN).status_code == 302
    again = post(client, "/initiative/join", JOIN)
    assert again.status_code == 400 and "already waiting" in again.get_data(as_text=True)
    with app.app_context():
        application = db.session.query(JoinApplication).one()
        assert (application.contact_email, application.population) == ("bea@brookfield.example.org", 95000)
        application_id = application.id
    staff_client = app.test_client()
    login(staff_client, staff)
    assert '1</span> application to join<' in staff_client.get("/staff/").get_data(as_text=True)
    response = post(staff_client, f"/staff/jurisdictions/applications/{application_id}", {"decision": "approve"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/jurisdictions/brookfield")
    with app.app_context():
        brookfield = get_jurisdiction("brookfield")
        assert brookfield.is_partner and brookfield.joined_on is not None and brookfield.annual_calls == 60000
    invitation = outbox.last("bea@brookfield.example.org")
    assert "has joined" in invitation["Subject"] and "/signup" in Outbox.text(invitation)
    # She signs up with that address and confirms it: she is Brookfield's representative.
    create_member(app, email="bea@brookfield.example.org", name="Bea Brook")
    bea = app.test_client()
    login(bea, "bea@brookfield.example.org")
    assert bea.get("/jurisdictions/brookfield/edit").status_code == 200
    assert "Bea Brook, Deputy mayor" in client.get("/jurisdictions/brookfield").get_data(as_text=True)
    assert "Partner" in client.get("/jurisdictions").get_data(as_text=True)


def test_declining_an_application_needs_a_note_and_mails_it(app, staff, outbox):
    client = app.test_client()
    post(client, "/initiative/join", JOIN)
    with app.app_context():
        application_id = db.session.query(JoinApplication).one().id
    staff_client = app.test_client()
    login(staff_client, staff)
    path = f"/staff/jurisdictions/applications/{application_id}"
    assert post(staff_client, path, {"decision": "decline"}).status_code == 400
    assert post(staff_client, path, {"decision": "decline", "note": "Not a US city."}).status_code == 302
    assert "Not a US city." in Outbox.text(outbox.last("bea@brookfield.example.org"))
    with app.app_context():
        assert get_jurisdiction("brookfield") is None


def test_the_join_form_is_rate_limited_and_needs_its_csrf_token(app):
    client = app.test_client()
    assert client.post("/initiative/join", data=JOIN).status_code == 400  # no CSRF token
    with app.app_context():
        limiter.reset()
    statuses = [post(client, "/initiative/join", {**JOIN, "name": f"Town {n}"}).status_code for n in range(11)]
    assert statuses[:10] == [302] * 10 and statuses[10] == 429


def test_the_audit_log_tells_what_representatives_did(app, rep, staff):
    post(rep, "/jurisdictions/riverton/metrics", {"period_start": "2026-01-01", "period_end": "2026-01-31",
                                                  "total": "100", "diverted": "10"})
    post(rep, "/jurisdictions/riverton/edit", {"kind": "city", "goal_rate": "10%", "goal_year": "2030"})
    staff_client = app.test_client()
    login(staff_client, staff)
    html = staff_client.get("/staff/audit").get_data(as_text=True)
    assert "Rita Representative reported the metrics of" in html and "2026-01-01 to 2026-01-31 (form)" in html
    assert 'href="/jurisdictions/riverton">Riverton</a>' in html
    assert "changed the target rate, target year and state of" in html  # the form sent no state
