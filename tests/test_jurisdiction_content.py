"""The default jurisdictions: the five partner cities with their programs and sources, sample metric series
flagged as sample; loading twice changes nothing, and a load never overwrites what a representative set."""
from datetime import date
from pathlib import Path

import frontmatter
import pytest

from portal.content import load_content
from portal.jurisdictions import figures, metrics
from portal.jurisdictions.programs import programs_of
from portal.jurisdictions.services import get_jurisdiction, list_jurisdictions, update_jurisdiction
from portal.members import services as members
from tests.conftest import create_representative, login, unit

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "content" / "jurisdictions").glob("*.md"))
PARTNERS = {"minneapolis", "san-francisco", "tucson", "denver", "chicago"}


def test_the_five_partners_are_there_with_their_programs(library):
    with library.app_context():
        partners = {j.slug for j in list_jurisdictions() if j.is_partner}
        assert partners == PARTNERS
        minneapolis = get_jurisdiction("minneapolis")
        assert (minneapolis.goal_rate, minneapolis.goal_is_sample) == (0.2, True)
        assert minneapolis.goal_year - minneapolis.goal_baseline_year == 10  # "over ten years"
        [bcr] = programs_of(minneapolis)
        assert bcr.launched_on == date(2021, 12, 1) and bcr.model == "community_responder"
        assert {r.slug for r in bcr.resources} == {"minneapolis-asset-gap-analysis",
                                                   "minneapolis-behavioral-crisis-response"}
        sf = programs_of(get_jurisdiction("san-francisco"))[0]
        assert sf.launched_on == date(2020, 11, 30) and "all day, every day" in sf.hours
        chicago = programs_of(get_jurisdiction("chicago"))
        assert [p.launched_on for p in chicago] == [date(2021, 9, 1), date(2023, 1, 30)]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_metric_and_annual_figure_is_flagged_sample(path):
    post = frontmatter.load(path)
    assert post["metrics"], "a sample series to show the pages with"
    assert all(item["sample"] is True for item in post["metrics"])
    assert all(not item.get("source") for item in post["metrics"])  # sample figures have no source to cite
    if "annual_calls" in post.metadata:
        assert post["annual_calls_sample"] is True
    assert "population" not in post.metadata  # PRODUCT.md states none
    for program in post["programs"]:
        assert program["sources"] and all(s.startswith("https://") for s in program["sources"])


def test_sample_figures_are_labelled_wherever_they_are_shown(library):
    client = library.test_client()
    for path in ["/", "/initiative", "/jurisdictions", "/jurisdictions/minneapolis"]:
        html = client.get(path).get_data(as_text=True)
        assert "sample data" in html, path
    csv = client.get("/jurisdictions/metrics.csv").get_data(as_text=True).splitlines()
    assert len(csv) == 1 + 5 * 24 and all(line.endswith(",yes") for line in csv[1:])
    assert "sample data" in client.get("/jurisdictions/chicago/badge.svg").get_data(as_text=True)


def test_loading_twice_changes_nothing(library):
    with unit(library):
        report = load_content(ROOT / "content")
    assert report.created_or_updated == [] and not report.errors
    with library.app_context():
        assert len(metrics.reports_of(get_jurisdiction("denver"))) == 24


def test_a_load_never_overwrites_what_a_representative_set(library):
    email = create_representative(library, slug="tucson")
    with unit(library):
        tucson = get_jurisdiction("tucson")
        rep = members.find_member_by_email(email)
        update_jurisdiction(tucson, actor=rep, summary="Our own words.", annual_calls="512000")
        latest = metrics.reports_of(tucson)[-1]
        metrics.correct_metrics(latest, actor=rep, total=latest.total, diverted=latest.diverted + 7,
                                source_url="https://example.org/tucson-oct", is_sample=False)
        metrics.report_metrics(tucson, actor=rep, period_start=date(2026, 11, 1), period_end=date(2026, 11, 30),
                               total=40000, diverted=2000, source_url="https://example.org/tucson-nov")
    with unit(library):
        load_content(ROOT / "content")
    with library.app_context():
        tucson = get_jurisdiction("tucson")
        assert (tucson.summary, tucson.annual_calls, tucson.annual_calls_is_sample) == ("Our own words.", 512000,
                                                                                         True)
        reports = metrics.reports_of(tucson)
        assert len(reports) == 25 and reports[-1].diverted == 2000
        assert reports[-2].source_url == "https://example.org/tucson-oct" and not reports[-2].is_sample
        # The headline now mixes sample months and real ones: still labelled.
        assert figures.headline_of(tucson).is_sample
    client = library.test_client()
    login(client, email)
    assert client.get("/jurisdictions/tucson/edit").status_code == 200
