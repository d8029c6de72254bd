"""No jurisdiction page runs more SQL statements for more jurisdictions, reports, programs or representatives:
the same count with 2 jurisdictions of 3 reports each and with 20 (place-0 and 18 more with 30 reports each):
the directory, one page with its chart, the home page, /initiative, both CSVs, the badge and the API."""
from datetime import timedelta

import pytest

from portal.jurisdictions import metrics, programs
from portal.jurisdictions.services import get_jurisdiction, save_jurisdiction
from tests.conftest import counted_queries, create_representative, login, unit
from tests.test_jurisdiction_metrics import month

PAGES = ["/", "/initiative", "/jurisdictions", "/jurisdictions?sort=rate&partner=yes",
         "/jurisdictions?model=co_responder&sort=progress", "/jurisdictions/place-0", "/jurisdictions/metrics.csv",
         "/jurisdictions/place-0/metrics.csv", "/jurisdictions/place-0/badge.svg", "/api/v1/progress",
         "/api/v1/jurisdictions", "/api/v1/jurisdictions/place-0", "/api/v1/jurisdictions/place-0/metrics",
         "/api/v1/jurisdictions/place-0/programs"]


def _add(app, start: int, count: int, months: int) -> None:
    with unit(app):
        for number in range(start, start + count):
            jurisdiction, _ = save_jurisdiction(slug=f"place-{number}", name=f"Place {number}", state="Ohio",
                                                is_partner=number % 2 == 0, annual_calls=10000 + number,
                                                goal_rate=0.2, goal_year=2034,
                                                links=[{"label": f"Dashboard {number}", "url": "https://example.org/d"}])
            rows = [(m, metrics.clean_report(**month(2020 + m // 12, m % 12 + 1, 1000, 10 + m, is_sample=m % 2 == 0)))
                    for m in range(months)]
            metrics.store_reports(jurisdiction, rows, actor=None, origin="staff", correct=False)
            for model in ("community_responder", "co_responder"):
                programs.save_program(jurisdiction, actor=None, name=f"{model} {number}", model=model,
                                      resources=[])


def _more_for_place_0(app, start: int, months: int) -> None:
    """Place 0 gets more reports too, so its own page sees more rows."""
    with unit(app):
        jurisdiction = get_jurisdiction("place-0")
        rows = [(m, metrics.clean_report(**month(2010 + m // 12, m % 12 + 1, 500, 5)))
                for m in range(start, start + months)]
        metrics.store_reports(jurisdiction, rows, actor=None, origin="staff", correct=False)
        programs.save_program(jurisdiction, actor=None, name=f"Extra {start}", model="crisis_line")


def _counts(app, client) -> dict[str, int]:
    app.extensions["portal.page_cache"].size = 0
    # Every request reads its validator: reusing the last one for a second would drop a statement or not,
    # depending on how long the warming request took.
    app.extensions["portal.validators"].reuse = timedelta(0)
    counts = {}
    with counted_queries(app) as seen:
        for path in PAGES:
            client.get(path)
            seen.clear()
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            counts[path] = len(seen)
    return counts


@pytest.mark.parametrize("who", ["anonymous", "representative"])
def test_no_jurisdiction_page_runs_more_statements_for_more_data(app, who):
    client = app.test_client()
    _add(app, 0, 2, months=3)
    if who == "representative":
        login(client, create_representative(app, slug="place-0"))
    small = _counts(app, client)
    _add(app, 2, 18, months=30)  # 2 jurisdictions of 3 reports, then 20, most of them with 30
    _more_for_place_0(app, 0, 27)
    create_representative(app, email="second@example.org", slug="place-0", name="Second Rep")
    large = _counts(app, client)
    assert all(small.values())
    assert large == small, {path: (small[path], large[path]) for path in PAGES if small[path] != large[path]}
