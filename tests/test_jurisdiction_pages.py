"""The public jurisdiction pages worked by hand: the directory's filters and sorts, a page's headline, goal and
pace, the CSVs and the badge; sample figures labelled exactly where they count; cached pages change with
every figure they show."""
import csv
import io
from datetime import date

import pytest
from defusedxml import ElementTree

from portal import http_cache
from portal.database import utcnow
from portal.jurisdictions import metrics, programs
from portal.jurisdictions.services import get_jurisdiction
from tests.conftest import create_jurisdiction, create_representative, unit
from tests.test_jurisdiction_metrics import month, quarter


@pytest.fixture
def places(app):
    # Riverton: Q2 2025 (quarter), July and August 2025, then a gap, then October 2025 (sample).
    create_jurisdiction(app, goal_rate=0.2, goal_year=2030, goal_baseline_year=2024, goal_baseline_rate=0.05,
                        annual_calls=120_000, is_partner=True,
                        reports=[quarter(2025, 4, 9000, 450), month(2025, 7, 3000, 300), month(2025, 8, 3000, 300),
                                 month(2025, 10, 3000, 450, is_sample=True)])
    create_jurisdiction(app, slug="lakeside", name="Lakeside", state="Ohio",
                        reports=[month(2025, 10, 1000, 300)])
    with unit(app):
        programs.save_program(get_jurisdiction("lakeside"), actor=None, name="Lake line", model="crisis_line")
    return app


def test_a_page_works_out_its_headline_goal_and_pace(places):
    html = places.test_client().get("/jurisdictions/riverton").get_data(as_text=True)
    # Nov 2024 - Oct 2025: 3 + 1 + 1 + 1 = 6 months; 1,500 of 18,000 = 8.3%.
    assert "8.3%" in html and "6 of 12 months reported; 1,500 of 18,000 calls" in html
    # From 5% to 20%: (0.0833 - 0.05) / 0.15 = 22% of the way; 11.7 points left over 5 years = 2.33 a year.
    assert "22% of the way from the baseline to the goal" in html
    assert "rise by 2.33 percentage points a year over the 5 years left" in html
    # The headline includes October's sample figures: labelled there and in that row.
    headline = html.split('id="headline-title"')[1].split("</section>")[0]
    assert "sample data" in headline
    october = html.split('id="report-2025-10-01"')[1].split("</tr>")[0]
    july = html.split('id="report-2025-07-01"')[1].split("</tr>")[0]
    assert "sample data" in october and "sample data" not in july
    # At its goal, 120,000 x 20% = 24,000 calls a year.
    assert "24,000 calls a year" in html
    assert "<title" in html.split('class="rate-chart"')[1]


def test_the_directory_filters_and_sorts(places):
    client = places.test_client()

    def names(query):
        html = client.get(f"/jurisdictions?{query}").get_data(as_text=True)
        return [name for name in ("Lakeside", "Riverton", "Minneapolis") if f">{name}, " in html] if html else []

    assert names("state=Ohio") == ["Lakeside"]
    assert names("model=crisis_line") == ["Lakeside"]
    html = client.get("/jurisdictions?sort=rate").get_data(as_text=True)
    assert html.index("Lakeside, Ohio") < html.index("Riverton, Oregon")  # 30% before 8.3%
    html = client.get("/jurisdictions?partner=no").get_data(as_text=True)
    assert "Lakeside, Ohio" in html and "Riverton, Oregon" not in html
    assert client.get("/jurisdictions?sort=nonsense&partner=maybe&model=x").status_code == 200


def test_the_csvs_hold_every_report_with_its_rate(places):
    client = places.test_client()
    rows = list(csv.DictReader(io.StringIO(client.get("/jurisdictions/riverton/metrics.csv").get_data(as_text=True))))
    assert [(r["period_start"], r["period"], r["diversion_rate"], r["sample"]) for r in rows] == [
        ("2025-04-01", "quarter", "0.050000", "no"), ("2025-07-01", "month", "0.100000", "no"),
        ("2025-08-01", "month", "0.100000", "no"), ("2025-10-01", "month", "0.150000", "yes")]
    everything = client.get("/jurisdictions/metrics.csv").get_data(as_text=True)
    assert "lakeside,2025-10-01,2025-10-31,month,1000,300," in everything


def test_the_badge_is_valid_svg_without_script(places):
    response = places.test_client().get("/jurisdictions/lakeside/badge.svg")
    assert response.mimetype == "image/svg+xml" and "max-age" in response.headers["Cache-Control"]
    root = ElementTree.fromstring(response.data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}title").text == "Lakeside: 911 calls diverted 30.0% (1 mo)"
    assert b"<script" not in response.data
    assert places.test_client().get("/jurisdictions/nowhere/badge.svg").status_code == 404


def test_unknown_jurisdictions_are_404(client):
    for path in ["/jurisdictions/nowhere", "/jurisdictions/nowhere/metrics.csv"]:
        assert client.get(path).status_code == 404


@pytest.fixture
def steady_clock(monkeypatch):
    moment = utcnow()
    monkeypatch.setattr(http_cache, "utcnow", lambda: moment)


def test_cached_pages_change_with_every_figure_they_show(places, steady_clock):
    client = places.test_client()
    paths = ["/", "/initiative", "/jurisdictions", "/jurisdictions/riverton", "/jurisdictions/riverton/metrics.csv",
             "/jurisdictions/metrics.csv", "/sitemap.xml"]

    def etags():
        return {path: client.get(path).headers.get("ETag") for path in paths}

    def changed(before, after, which):
        for path in which:
            assert before[path] != after[path], f"{path} kept its ETag"

    before = etags()
    assert all(before.values())
    assert client.get("/jurisdictions/riverton", headers={"If-None-Match": before["/jurisdictions/riverton"]}
                      ).status_code == 304
    with unit(places):
        metrics.report_metrics(get_jurisdiction("riverton"), actor=None, origin="staff",
                               **month(2025, 11, 3000, 600))
    after = etags()
    changed(before, after, paths[:-1])
    with unit(places):
        programs.save_program(get_jurisdiction("riverton"), actor=None, name="River team", model="co_responder")
    changed(after, etags(), ["/jurisdictions", "/jurisdictions/riverton"])
    again = etags()
    create_representative(places)
    changed(again, etags(), ["/jurisdictions/riverton"])
    assert "Rita Representative" in client.get("/jurisdictions/riverton").get_data(as_text=True)
    with unit(places):
        report = metrics.find_report(get_jurisdiction("riverton"), date(2025, 11, 1))
        metrics.delete_metrics(report, actor=None, origin="staff")
    assert "2025-11-01" not in client.get("/jurisdictions/riverton").get_data(as_text=True)


def test_a_page_lists_the_webinars_about_its_programs(library):
    html = library.test_client().get("/jurisdictions/minneapolis").get_data(as_text=True)
    section = html.split('id="events-title"')[1].split("</section>")[0]
    assert "/events/partner-programs-minneapolis-denver" in section
