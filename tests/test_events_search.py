"""Past webinars with a recording in the search index and the library search; the join link never indexed."""
import re
from datetime import timedelta

import lxml.html
import pytest
from sqlalchemy import update

from portal import search
from portal.database import utcnow
from portal.events import services as events
from portal.events.models import Event
from portal.extensions import db
from tests.conftest import check_accessible, counted_queries, create_event, create_member, login, unit
from tests.library_helpers import make_resource, sync_at

RECORDING = "https://example.org/recordings/triage"
KINDS = ("resource", "event")


def past_event(app, title="Triage of welfare checks", **fields) -> str:
    fields.setdefault("recording_url", RECORDING)
    return create_event(app, title=title, days_ahead=-3, **fields)


def event_id(app, slug: str) -> int:
    with unit(app):
        return events.get_event(slug).id


def found(app, q: str = "", **kwargs) -> list[tuple[str, int]]:
    """The (kind, id) hits of a library search over resources and webinars, as a visitor."""
    with unit(app):
        return search.search(search.SearchRequest(kinds=KINDS, q=q, per_page=100, **kwargs)).hits


def page_of(client, query_string=None):
    response = client.get("/resources", query_string=query_string)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def cards(html: str) -> list[dict]:
    """Every result card, in order: what it links to, its tag, its snippet and its whole text."""
    tree = lxml.html.fromstring(html)
    out = []
    for article in tree.xpath('//ol[@class="result-list"]//article'):
        link = article.xpath(".//h3/a")[0]
        snippet = article.xpath('.//p[@class="snippet"]')
        out.append({"href": link.get("href"), "title": link.text_content().strip(),
                    "tag": article.xpath('.//span[@class="tag"]')[0].text_content().strip(),
                    "snippet": " ".join(snippet[0].text_content().split()) if snippet else "",
                    "text": " ".join(article.text_content().split())})
    return out


def facet_counts(html: str, title: str) -> dict[str, int]:
    tree = lxml.html.fromstring(html)
    counts = {}
    for link in tree.xpath(f'//aside//section[h3="{title}"]//a'):
        text = " ".join(link.text_content().split()).removeprefix("Remove filter: ")
        label, count = text.rsplit(" (", 1)
        counts[label] = int(count.rstrip(")"))
    return counts


# --- found by the library search ----------------------------------------------------------------------

def test_a_past_webinar_with_a_recording_is_found_by_its_title_and_its_description(app, client):
    slug = past_event(app, title="Quillback dispatch roundtable",
                      description="## About\n\nHow **ptarmigan** teams answer welfare checks.\n\nMore later.",
                      speakers=[{"name": "Rosa Okafor", "title": "Director", "organisation": "Canopy Roots"}])
    key = ("event", event_id(app, slug))
    assert found(app, "quillback") == [key]  # the title
    assert found(app, "ptarmigan") == [key]  # the description, as text
    assert found(app, "okafor") == [key] and found(app, "canopy") == [key]  # speakers and organisations
    assert found(app, "director") == []  # a speaker's job title is not indexed

    html = page_of(client, {"q": "ptarmigan"})
    [card] = cards(html)
    assert card["href"] == f"/events/{slug}"
    assert card["tag"] == "Webinar"
    assert "Recording available" in card["text"]
    assert "ptarmigan" in card["snippet"]
    assert '<mark>ptarmigan</mark>' in html


def test_the_card_shows_the_date_the_series_and_the_first_paragraph(app, client):
    with unit(app):
        events.save_series(slug="peer-calls", title="Peer network calls")
    slug = past_event(app, title="Hummock response models", series="peer-calls", timezone="America/Chicago",
                      description="## Agenda\n\nThe first paragraph, about *responders*.\n\nA second paragraph.")
    with unit(app):
        event = events.get_event(slug)
        local = event.local_start
        assert search.search(search.SearchRequest(kind="event", q="hummock")).ids == [event.id]
        stored = [f for f in search.current_searcher().all_stored_fields() if f["kind"] == "event"]
    assert stored[0]["summary"] == "The first paragraph, about responders."
    [card] = cards(page_of(client, {"type": "webinar"}))  # browsing: no snippet, the summary instead
    assert card["text"].startswith(f"Webinar {local.day} {local:%B %Y} · Peer network calls")
    assert "The first paragraph, about responders." in card["text"]
    assert "A second paragraph" not in card["text"]
    assert f'datetime="{local.date().isoformat()}"' in page_of(client, {"type": "webinar"})


def test_the_type_facet_counts_webinars_and_choosing_it_lists_only_webinars(app, client):
    first = past_event(app, title="Crisis triage webinar one", topics=["dispatch"])
    second = past_event(app, title="Crisis triage webinar two")
    make_resource(app, title="Crisis triage toolkit", type="toolkit", topics=["dispatch"])
    make_resource(app, title="Crisis triage policy", type="policy")

    html = page_of(client, {"q": "crisis"})
    assert facet_counts(html, "Type") == {"Webinar": 2, "Policy": 1, "Toolkit": 1}
    assert facet_counts(html, "Topic") == {"dispatch": 2}  # the facets merge: one event, one resource
    assert len(cards(html)) == 4

    only = cards(page_of(client, {"q": "crisis", "type": "webinar"}))
    assert {c["href"] for c in only} == {f"/events/{first}", f"/events/{second}"}
    assert {c["tag"] for c in only} == {"Webinar"}
    filtered = page_of(client, {"type": "webinar"})
    assert "2 resources, filtered by Webinar" in " ".join(lxml.html.fromstring(filtered).xpath(
        '//h2[@id="results-title"]')[0].text_content().split())
    # Both types at once widen; a facet events do not have (jurisdiction) keeps to resources.
    assert len(cards(page_of(client, {"q": "crisis", "type": ["webinar", "policy"]}))) == 3


def test_future_cancelled_and_unrecorded_events_are_not_found(app, client):
    create_event(app, title="Marmot future webinar", days_ahead=5, recording_url=RECORDING)
    past_event(app, title="Marmot unrecorded webinar", recording_url="")
    with unit(app):
        start = (utcnow() - timedelta(days=2)).replace(microsecond=0)
        cancelled = events.create_event(actor=None, title="Marmot cancelled webinar", starts_at=start,
                                        ends_at=start + timedelta(hours=1), timezone="America/Chicago",
                                        recording_url=RECORDING)
        events.cancel_event(cancelled, actor=None)  # in the same unit: never indexed
    kept = past_event(app, title="Marmot recorded webinar")
    assert found(app, "marmot") == [("event", event_id(app, kept))]

    with unit(app):
        events.cancel_event(events.get_event(kept), actor=None)  # cancelled after it was indexed: removed
    assert found(app, "marmot") == []
    assert cards(page_of(client, {"q": "marmot"})) == []
    with unit(app):
        assert search.compare().ok


def test_an_event_becomes_findable_once_it_has_ended(app):
    slug = create_event(app, title="Pangolin response webinar", days_ahead=1, hours=1, recording_url=RECORDING)
    with unit(app):
        event = events.get_event(slug)
        ends, key = event.ends_at, ("event", event.id)
    assert found(app, "pangolin") == []
    before = ends - timedelta(minutes=1)
    assert sync_at(app, before).ok  # not due yet: nothing missing
    assert found(app, "pangolin", now=before) == []

    after = ends + timedelta(minutes=1)
    assert sync_at(app, after).missing == [key]  # what the minutely `search.sync` job does once it has ended
    assert found(app, "pangolin", now=after) == [key]
    assert sync_at(app, after).ok


def test_a_recording_added_after_the_event_makes_it_findable(app):
    slug = past_event(app, title="Axolotl follow-up webinar", recording_url="")
    assert found(app, "axolotl") == []
    with unit(app):
        events.add_follow_up(events.get_event(slug), actor=None, recording_url=RECORDING)
    assert found(app, "axolotl") == [("event", event_id(app, slug))]


# --- the join link -------------------------------------------------------------------------------------

def test_the_join_link_never_reaches_the_index(app, client):
    slug = past_event(app, title="Narwhal diversion webinar", description="Narwhal teams.",
                      join_url="https://meet.example.org/wombatsecret?pwd=zyzzyvakey")
    assert found(app, "narwhal") == [("event", event_id(app, slug))]
    for word in ("wombatsecret", "zyzzyvakey", "meet.example.org", "pwd"):
        assert found(app, word) == [], word
    with unit(app):
        stored = list(search.current_searcher().all_stored_fields())
        reader = search.current_searcher().reader()
        words = {text for fieldname, text in reader.all_terms()}
    assert stored and all("wombatsecret" not in str(value) and "zyzzyvakey" not in str(value)
                          for fields in stored for value in fields.values())
    assert not any(b"wombatsecret" in w or b"zyzzyvakey" in w for w in words)
    html = page_of(client, {"q": "narwhal"})
    assert "wombatsecret" not in html and "meet.example.org" not in html


# --- two kinds, one list --------------------------------------------------------------------------------

def test_a_resource_and_an_event_with_the_same_id_each_show_their_own_snippet(app, client):
    resource_id = make_resource(app, title="Resource about hedgerows", type="guide",
                                body="The resource text says quillwort grows by the library.")
    slug = past_event(app, title="Webinar about hedgerows",
                      description="The webinar text says quillwort grows by the stream.")
    assert event_id(app, slug) == resource_id  # two tables, two sequences: the same number
    hits = found(app, "quillwort")
    assert sorted(hits) == [("event", resource_id), ("resource", resource_id)]
    with unit(app):
        result = search.search(search.SearchRequest(kinds=KINDS, q="quillwort"))
    assert set(result.snippets) == {("event", resource_id), ("resource", resource_id)}
    assert "library" in result.snippet_for("resource", resource_id)
    assert "stream" in result.snippet_for("event", resource_id)

    by_tag = {card["tag"]: card for card in cards(page_of(client, {"q": "quillwort"}))}
    assert set(by_tag) == {"Webinar", "Guide"}
    assert "by the stream" in by_tag["Webinar"]["snippet"] and "library" not in by_tag["Webinar"]["snippet"]
    assert "by the library" in by_tag["Guide"]["snippet"] and "stream" not in by_tag["Guide"]["snippet"]
    # A one-kind search keeps its shape: ids and snippets by id.
    with unit(app):
        single = search.search(search.SearchRequest(kind="resource", q="quillwort"))
    assert single.ids == [resource_id] and set(single.snippets) == {resource_id}
    assert single.hits == [("resource", resource_id)]


def test_kinds_and_exclusions_are_named_without_ambiguity(app):
    resource_id = make_resource(app, title="Ibex toolkit", type="toolkit")
    slug = past_event(app, title="Ibex webinar")
    with unit(app):
        with pytest.raises(ValueError):
            search.search(search.SearchRequest(kind="resource", kinds=KINDS, q="ibex"))
        with pytest.raises(ValueError):
            search.search(search.SearchRequest(kinds=KINDS, q="ibex", exclude_ids=[resource_id]))
    assert found(app, "ibex", exclude_ids=[("resource", resource_id)]) == [("event", event_id(app, slug))]


def test_the_feed_and_single_kind_searches_stay_resources_only(app, client):
    past_event(app, title="Lemming webinar")
    resource_id = make_resource(app, title="Lemming toolkit", type="toolkit")
    with unit(app):
        assert search.search(search.SearchRequest(kind="resource", q="lemming")).ids == [resource_id]
    feed = client.get("/resources/feed.atom?q=lemming").get_data(as_text=True)
    assert "Lemming toolkit" in feed and "Lemming webinar" not in feed


def test_a_stale_index_never_lists_a_webinar_cancelled_since(app, client, monkeypatch):
    # Signed in: a member's pages are rendered every time (an anonymous one may come from the page cache,
    # whose validator follows the index generation, which this stale index does not move).
    create_member(app)
    login(client)
    slug = past_event(app, title="Okapi webinar")
    assert [c["title"] for c in cards(page_of(client, {"q": "okapi"}))] == ["Okapi webinar"]
    monkeypatch.setattr(search, "index_rows", lambda *args, **kwargs: None)  # the index misses the update
    with unit(app):
        events.cancel_event(events.get_event(slug), actor=None)
    assert found(app, "okapi") == [("event", event_id(app, slug))]  # still in the index...
    assert cards(page_of(client, {"q": "okapi"})) == []  # ...but the database has the last word
    monkeypatch.undo()
    with unit(app):
        assert search.sync().orphaned == [("event", event_id(app, slug))]
    assert found(app, "okapi") == []


# --- rebuild, check, and the cost of the page ---------------------------------------------------------------

def test_rebuild_and_check_cover_events(app, runner):
    past_event(app, title="Tapir webinar one")
    past_event(app, title="Tapir webinar two")
    create_event(app, title="Tapir webinar later", days_ahead=3, recording_url=RECORDING)
    make_resource(app, title="Tapir toolkit")
    result = runner.invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert len(found(app, "tapir")) == 3
    assert runner.invoke(args=["search", "check"]).exit_code == 0
    with app.app_context():  # a row changed without its document (as on a second host before its sync)
        db.session.execute(update(Event).where(Event.title == "Tapir webinar one").values(status="cancelled"))
        db.session.commit()
    assert runner.invoke(args=["search", "check"]).exit_code != 0
    assert runner.invoke(args=["search", "sync"]).exit_code == 0
    assert len(found(app, "tapir")) == 2


def _page_queries(app, client) -> int:
    with counted_queries(app) as statements:
        assert client.get("/resources?q=walrus").status_code == 200
    return len(statements)


def test_the_search_page_costs_the_same_queries_whatever_the_number_of_webinars(app, client):
    with unit(app):
        events.save_series(slug="walrus-series", title="Walrus series")
    for n in range(2):
        past_event(app, title=f"Walrus webinar {n}", series="walrus-series")
    make_resource(app, title="Walrus toolkit")
    page_of(client, {"q": "walrus"})  # caches warmed
    few = _page_queries(app, client)
    for n in range(2, 12):
        past_event(app, title=f"Walrus webinar {n}", series="walrus-series",
                   speakers=[{"name": f"Speaker {n}"}])
    assert len(cards(page_of(client, {"q": "walrus"}))) == 13
    assert _page_queries(app, client) == few


def test_the_time_an_event_ends_is_what_makes_it_due(app):
    """The index holds only events that ended (within the margin a commit needs), whatever created them."""
    start = (utcnow() - timedelta(hours=2)).replace(microsecond=0)
    with unit(app):
        event = events.create_event(actor=None, title="Capybara live webinar", starts_at=start,
                                    ends_at=utcnow() + timedelta(hours=1), timezone="America/Chicago",
                                    recording_url=RECORDING)
        key = ("event", event.id)
    assert found(app, "capybara") == []  # started, still running
    assert key[1] not in dict(_versions_at(app, utcnow()))
    assert re.fullmatch(r"\d+:p", dict(_versions_at(app, utcnow() + timedelta(hours=2)))[key[1]])
    assert sync_at(app, utcnow() + timedelta(hours=2)).missing == [key]


def _versions_at(app, moment):
    from portal.events.search_docs import EVENTS

    with unit(app):
        return list(EVENTS.versions(moment))


# --- in a browser ---------------------------------------------------------------------------------------

@pytest.mark.browser
def test_webinar_results_are_accessible_and_lead_to_the_event(app, page):
    expect = pytest.importorskip("playwright.sync_api").expect
    with unit(app):
        events.save_series(slug="peer-calls", title="Peer network calls")
    slug = past_event(app, title="Gannet crisis response webinar", series="peer-calls", topics=["dispatch"],
                      description="How gannet teams answer calls.", join_url="https://meet.example.org/gannetjoin")
    make_resource(app, title="Gannet crisis toolkit", type="toolkit", body="Gannet notes.")
    page.goto("/resources?q=gannet")
    expect(page.locator(".result-list > li")).to_have_count(2)
    check_accessible(page)
    filters = page.get_by_role("complementary", name="Filter results")  # open beside the results on a desktop
    with page.expect_navigation():
        filters.get_by_role("region", name="Type").get_by_role("link", name="Webinar (1)").click()
    expect(page.locator(".result-list > li")).to_have_count(1)
    check_accessible(page)
    assert "gannetjoin" not in page.content()
    with page.expect_navigation():
        page.get_by_role("link", name="Gannet crisis response webinar").click()
    assert page.url.endswith(f"/events/{slug}")
