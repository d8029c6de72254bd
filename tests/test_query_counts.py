"""No page's number of SQL statements grows with the library: the same count at N and at 3N resources.

Each resource has a jurisdiction and a file, some are featured or members-only, so a lazy load of any of
them (one query per card, per entry or per file) shows up as a count that grows.
"""
from datetime import timedelta

import pytest

from portal.database import utcnow
from portal.extensions import db
from portal.jurisdictions.models import Jurisdiction
from portal.library import attachments, services
from tests.conftest import counted_queries, login, unit

N = 4
PAGES = ["/", "/resources", "/resources?q=program", "/resources?q=program&type=toolkit&sort=newest",
         "/resources/resource-0", "/feed.atom", "/resources/feed.atom?q=program", "/sitemap.xml"]


def _add_resources(app, start: int, count: int) -> None:
    with unit(app):
        places = list(db.session.scalars(db.select(Jurisdiction.slug)))
        assert places, "the app fixture loads the jurisdictions"
        for number in range(start, start + count):
            resource = services.create_resource(
                actor=None, title=f"Program model {number}", slug=f"resource-{number}", type="program_model",
                summary=f"A program model for city {number}.", body=f"How program {number} runs, step by step.",
                audiences=["officials"], topics=["dispatch", f"topic {number}"],
                jurisdiction=places[number % len(places)], is_featured=number % 2 == 0,
                access="members" if number % 3 == 2 else "public")
            services.change_status(resource, action="publish", actor=None,
                                   publish_at=utcnow() - timedelta(hours=number + 1))
            attachments.attach_file(resource, actor=None, filename=f"calls-{number}.csv",
                                    data=f"call_type,count\nwelfare check,{number}\n".encode())


def _counts(app, client) -> dict[str, int]:
    """Statements per page, each page rendered in full (the page cache off, no validator sent)."""
    app.extensions["portal.page_cache"].size = 0
    # Every request reads its validator: reusing the last one for a second would drop a statement or not,
    # depending on how long the warming request took.
    app.extensions["portal.validators"].reuse = timedelta(0)
    counts = {}
    with counted_queries(app) as seen:
        for path in PAGES:
            client.get(path)  # the first request of a kind may warm caches (the index searcher)
            seen.clear()
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            counts[path] = len(seen)
    return counts


@pytest.mark.parametrize("who", ["anonymous", "verified member", "staff"])
def test_no_page_runs_more_statements_for_a_bigger_library(app, who, member, staff):
    client = app.test_client()
    if who != "anonymous":
        login(client, member if who == "verified member" else staff)
    _add_resources(app, 0, N)
    small = _counts(app, client)
    _add_resources(app, N, 2 * N)
    large = _counts(app, client)
    assert large == small, {path: (small[path], large[path]) for path in PAGES if small[path] != large[path]}


def test_the_counts_are_small(app):
    _add_resources(app, 0, N)
    counts = _counts(app, app.test_client())
    # The validator, the page's own reads and the search's check against the database: a handful each.
    assert max(counts.values()) <= 8, counts
