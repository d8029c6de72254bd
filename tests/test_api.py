"""The API: figures equal the pages', every error status, tokens scoped to their jurisdiction, CORS, and the
OpenAPI document generated from the schemas (openapi-spec-validator accepts it; schemathesis_test.py fuzzes it)."""
from datetime import date

import pytest
from openapi_spec_validator import validate

from portal.extensions import db, limiter
from portal.jurisdictions import tokens
from portal.jurisdictions.models import MetricRevision
from portal.jurisdictions.services import get_jurisdiction
from portal.members import services as members
from tests.conftest import create_jurisdiction, create_representative, unit
from tests.test_jurisdiction_metrics import month, quarter


def token_for(app, email: str, slug: str) -> str:
    with unit(app):
        _, secret = tokens.create_token(get_jurisdiction(slug), actor=members.find_member_by_email(email),
                                        name="test")
    return secret


@pytest.fixture
def seeded(app):
    create_jurisdiction(app, annual_calls=200_000, goal_rate=0.1, goal_year=2030, is_partner=True,
                        reports=[quarter(2025, 4, 9000, 900), month(2025, 7, 3000, 150),
                                 month(2025, 8, 3000, 150, is_sample=True)])
    create_jurisdiction(app, slug="lakeside", name="Lakeside", state="Ohio")
    email = create_representative(app)
    return {"token": token_for(app, email, "riverton"), "client": app.test_client()}


def auth(secret):
    return {"Authorization": f"Bearer {secret}"}


def test_the_document_is_valid_openapi_3_1(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    validate(document)
    assert {"/api/v1/jurisdictions", "/api/v1/jurisdictions/{slug}/metrics", "/api/v1/progress",
            "/api/v1/resources"} <= set(document["paths"])
    post = document["paths"]["/api/v1/jurisdictions/{slug}/metrics"]["post"]
    assert {"201", "401", "403", "409", "422"} <= set(post["responses"])


def test_figures_equal_what_the_reports_imply(app, seeded):
    client = seeded["client"]
    one = client.get("/api/v1/jurisdictions/riverton").get_json()
    # Window Sep 2024 - Aug 2025 holds all three reports: 5 months, 1,200 of 15,000.
    assert one["headline"] == {"period_start": "2024-09-01", "period_end": "2025-08-31", "months": 5,
                               "total": 15000, "diverted": 1200, "diversion_rate": 0.08, "sample": True}
    assert one["pledged_calls"] == 20000 and one["goal"]["progress"] == pytest.approx(0.8)
    metrics_body = client.get("/api/v1/jurisdictions/riverton/metrics").get_json()
    assert [item["period"] for item in metrics_body["items"]] == ["quarter", "month", "month"]
    assert metrics_body["items"][0]["diversion_rate"] == 0.1
    progress = client.get("/api/v1/progress").get_json()
    riverton = next(item for item in progress["contributions"] if item["jurisdiction"] == "riverton")
    assert riverton["headline"]["diverted"] == 1200 and riverton["pledged_calls"] == 20000
    # The national figures are the sums of every contribution (the content's five cities, flagged sample).
    assert progress["diverted"] == sum(item["headline"]["diverted"] for item in progress["contributions"])
    assert progress["pledged"] == sum(item["pledged_calls"] or 0 for item in progress["contributions"])
    assert progress["diverted_sample"] and progress["target"] == 12_000_000
    page = client.get("/jurisdictions/riverton").get_data(as_text=True)
    assert "8.0%" in page and "5 of 12 months reported" in page


def test_lists_are_paginated_with_links_and_open_to_every_origin(app, seeded):
    client = seeded["client"]
    first = client.get("/api/v1/jurisdictions?per_page=2")
    body = first.get_json()
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    assert body["total"] == 7 and len(body["items"]) == 2  # 5 partner cities from content + 2 here
    assert body["links"]["next"].endswith("page=2&per_page=2") and body["links"]["prev"] is None
    last = client.get(body["links"]["last"].replace("http://localhost", "")).get_json()
    assert last["links"]["next"] is None and len(last["items"]) == 1
    partners = client.get("/api/v1/jurisdictions?partner=true&per_page=100").get_json()
    assert "lakeside" not in {item["slug"] for item in partners["items"]}
    assert client.get("/api/v1/jurisdictions?per_page=1000").status_code == 422


def test_writing_a_report_with_a_token(app, seeded):
    client, secret = seeded["client"], seeded["token"]
    new = {"period_start": "2025-09-01", "period_end": "2025-09-30", "total": 3000, "diverted": 300,
           "source": "https://example.org/sep"}
    created = client.post("/api/v1/jurisdictions/riverton/metrics", json=new, headers=auth(secret))
    assert created.status_code == 201, created.get_json()
    assert created.headers["Location"].endswith("/api/v1/jurisdictions/riverton/metrics/2025-09-01")
    assert created.get_json()["diversion_rate"] == 0.1 and created.get_json()["version"] == 1
    again = client.post("/api/v1/jurisdictions/riverton/metrics", json=new, headers=auth(secret))
    assert again.status_code == 409 and "overlaps" in again.get_json()["error"]["detail"]
    corrected = client.put("/api/v1/jurisdictions/riverton/metrics/2025-09-01", headers={**auth(secret),
                           "If-Match": '"1"'}, json={"total": 3000, "diverted": 600, "source": "https://example.org/s"})
    assert corrected.status_code == 200 and corrected.get_json()["version"] == 2
    stale = client.put("/api/v1/jurisdictions/riverton/metrics/2025-09-01", headers={**auth(secret),
                       "If-Match": '"1"'}, json={"total": 3000, "diverted": 1})
    assert stale.status_code == 412
    assert client.delete("/api/v1/jurisdictions/riverton/metrics/2025-09-01", headers=auth(secret)).status_code == 204
    assert client.get("/api/v1/jurisdictions/riverton/metrics/2025-09-01").status_code == 404
    with app.app_context():
        actions = [r.action for r in db.session.query(MetricRevision).filter_by(
            period_start=date(2025, 9, 1), jurisdiction_id=get_jurisdiction("riverton").id).order_by(MetricRevision.id)]
        assert actions == ["create", "correct", "delete"]


@pytest.mark.parametrize("body, status, field", [
    ({"period_start": "2025-09-01", "period_end": "2025-09-30", "total": 10, "diverted": 11}, 422, "diverted"),
    ({"period_start": "2025-09-01", "period_end": "2025-09-30", "total": -1, "diverted": 0}, 422, "total"),
    ({"period_start": "2025-09-01", "period_end": "2025-09-30", "total": "10", "diverted": 1}, 422, "total"),
    ({"period_start": "2025-09-02", "period_end": "2025-09-30", "total": 10, "diverted": 1}, 422, "period_start"),
    ({"period_start": "2025-09-01", "total": 10, "diverted": 1}, 422, "period_end"),
])
def test_bad_reports_are_422_with_the_field(app, seeded, body, status, field):
    response = seeded["client"].post("/api/v1/jurisdictions/riverton/metrics", json=body, headers=auth(seeded["token"]))
    assert response.status_code == status
    assert field in str(response.get_json()["error"]["errors"])


def test_every_error_status(app, seeded):
    client, secret = seeded["client"], seeded["token"]
    path = "/api/v1/jurisdictions/riverton/metrics"
    good = {"period_start": "2025-10-01", "period_end": "2025-10-31", "total": 1, "diverted": 0}
    assert client.post(path, data="{not json", headers={**auth(secret), "Content-Type": "application/json"}
                       ).status_code == 400
    missing = client.post(path, json=good)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post(path, json=good, headers=auth("p12m_not-a-token")).status_code == 401
    assert client.post("/api/v1/jurisdictions/lakeside/metrics", json=good, headers=auth(secret)).status_code == 403
    assert client.post("/api/v1/jurisdictions/nowhere/metrics", json=good, headers=auth(secret)).status_code == 404
    assert client.get("/api/v1/jurisdictions/nowhere").get_json()["error"]["status"] == 404
    with app.app_context():
        limiter.reset()
    statuses = {client.post(path, json={}, headers=auth(secret)).status_code for _ in range(61)}
    assert statuses == {422, 429}


def test_a_revoked_token_or_a_revoked_representative_stops_working(app, seeded):
    client, secret = seeded["client"], seeded["token"]
    with unit(app):
        from portal.jurisdictions.models import ApiToken
        tokens.revoke_token(db.session.query(ApiToken).one(), actor=members.find_member_by_email("rep@example.org"))
    good = {"period_start": "2025-10-01", "period_end": "2025-10-31", "total": 1, "diverted": 0}
    assert client.post("/api/v1/jurisdictions/riverton/metrics", json=good, headers=auth(secret)).status_code == 401


def test_resources_search_shows_what_an_anonymous_visitor_sees(library):
    client = library.test_client()
    body = client.get("/api/v1/resources?q=toolkit").get_json()
    assert body["total"] >= 2 and all(item["url"].startswith("http://localhost/resources/") for item in body["items"])
    assert client.get("/api/v1/resources?type=nonsense").status_code == 422


def test_the_api_page_has_examples_and_loads_nothing_from_elsewhere(client):
    html = client.get("/api").get_data(as_text=True)
    assert "curl" in html and "/api/v1/openapi.json" in html
    assert "cdn" not in html.lower() and "<script" not in html


def test_reads_are_cached_for_anonymous_clients_and_follow_every_write(app, seeded):
    client, secret = seeded["client"], seeded["token"]
    first = client.get("/api/v1/progress")
    etag = first.headers["ETag"]
    assert client.get("/api/v1/progress", headers={"If-None-Match": etag}).status_code == 304
    cached = client.get("/api/v1/progress")
    assert cached.headers["Access-Control-Allow-Origin"] == "*" and cached.get_json() == first.get_json()
    client.post("/api/v1/jurisdictions/riverton/metrics", headers=auth(secret), json={
        "period_start": "2025-09-01", "period_end": "2025-09-30", "total": 3000, "diverted": 300})
    after = client.get("/api/v1/progress", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.get_json()["diverted"] == first.get_json()["diverted"] + 300


def test_the_limits_count_each_request_once_however_many_apps_a_process_made(tmp_path):
    from tests.conftest import _empty_database, make_app
    apps = [make_app(tmp_path / str(number)) for number in range(4)]
    app = apps[-1]
    try:
        with app.app_context():
            limiter.reset()
        client = app.test_client()
        reads = [client.get("/api/v1/progress").status_code for _ in range(301)]
        assert reads[:300] == [200] * 300 and reads[300] == 429
        writes = [client.post("/api/v1/jurisdictions/x/metrics", json={}).status_code for _ in range(61)]
        assert 429 not in writes[:60] and writes[60] == 429
    finally:
        for made in apps:
            _empty_database(made)
