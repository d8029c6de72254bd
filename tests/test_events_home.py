"""Events on the home page and in the sitemap, and the HTTP-cache validators of the public events pages."""
from datetime import timedelta

import lxml.html
import pytest

from portal import http_cache
from portal.database import utcnow
from portal.events import account as event_account, registrations, services as events
from portal.members import services as members
from tests.conftest import create_event, create_member, login, unit

JOIN = "https://meet.example.org/j/5550199"


@pytest.fixture(autouse=True)
def steady_clock(monkeypatch):
    """The validators' clock stands still unless a test moves it (as in tests/test_http_cache.py)."""
    moment = utcnow()
    monkeypatch.setattr(http_cache, "utcnow", lambda: moment)
    return moment


def set_clock(monkeypatch, moment):
    monkeypatch.setattr(http_cache, "utcnow", lambda: moment)


def next_events_section(client):
    page = lxml.html.fromstring(client.get("/").get_data(as_text=True))
    (section,) = page.xpath('//section[@aria-labelledby="events-title"]')
    return section


def etag(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["Cache-Control"] == http_cache.PUBLIC, path
    assert response.headers["ETag"].startswith('W/"'), path
    return response.headers["ETag"]


def still_fresh(client, path: str, tag: str) -> bool:
    return client.get(path, headers={"If-None-Match": tag}).status_code == 304


def take_place(app, slug: str, email: str) -> None:
    with unit(app):
        registrations.register(events.get_event(slug), member=members.find_member_by_email(email))


# --- the home page -------------------------------------------------------------------------------------

def test_home_shows_the_next_three_scheduled_events(app, client):
    with unit(app):
        events.save_series(slug="practice-calls", title="Practice calls")
    create_event(app, title="Fourth in line", days_ahead=20)
    third = create_event(app, title="Third in line", days_ahead=9, timezone="Europe/London")
    first = create_event(app, title="First in line", days_ahead=2, series="practice-calls")
    cancelled = create_event(app, title="Called off", days_ahead=1)
    second = create_event(app, title="Second in line", days_ahead=5)
    past = create_event(app, title="Already over", days_ahead=1)
    with unit(app):
        events.cancel_event(events.get_event(cancelled), actor=None)
        start = utcnow() - timedelta(days=2)
        events.update_event(events.get_event(past), actor=None, starts_at=start, ends_at=start + timedelta(hours=1))
    section = next_events_section(client)
    links = section.xpath(".//h3/a")
    assert [a.text_content() for a in links] == ["First in line", "Second in line", "Third in line"]
    assert [a.get("href") for a in links] == [f"/events/{first}", f"/events/{second}", f"/events/{third}"]
    text = " ".join(section.text_content().split())
    assert "Fourth in line" not in text and "Called off" not in text and "Already over" not in text
    with unit(app):
        event = events.get_event(third)
        start, local = event.starts_at, event.local_start
    when = section.xpath(f'.//article[.//a[@href="/events/{third}"]]//time')[0]
    assert when.get("datetime") == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert local.strftime("%-I:%M %p") in when.text_content() and local.strftime("%B %-d") in when.text_content()
    (series,) = section.xpath('.//a[@href="/events/series/practice-calls"]')
    assert series.text_content() == "Practice calls"
    assert section.xpath('.//a[@href="/events"]')


def test_home_without_events_points_to_the_events_page(client):
    section = next_events_section(client)
    assert "No event is scheduled right now." in section.text_content()
    assert section.xpath('.//a[@href="/events"]')
    assert not section.xpath(".//h3")


def test_home_never_shows_the_join_link(app, client, member):
    slug = create_event(app, title="Members only hour", join_url=JOIN)
    take_place(app, slug, member)
    assert JOIN not in client.get("/").get_data(as_text=True)
    login(client)
    assert JOIN not in client.get("/").get_data(as_text=True)


def test_the_home_validator_changes_when_an_event_is_added_or_edited(app, client):
    before = etag(client, "/")
    assert still_fresh(client, "/", before)
    slug = create_event(app, title="Brand new webinar")
    response = client.get("/", headers={"If-None-Match": before})
    assert response.status_code == 200 and "Brand new webinar" in response.get_data(as_text=True)
    added = response.headers["ETag"]
    with unit(app):
        events.update_event(events.get_event(slug), actor=None, title="Renamed webinar")
    response = client.get("/", headers={"If-None-Match": added})
    assert response.status_code == 200 and "Renamed webinar" in response.get_data(as_text=True)


def test_the_home_validator_changes_when_the_next_event_starts(app, client, monkeypatch):
    # A start half a minute into its minute, and a clock ten seconds either side: the same minute, so only
    # the next start can tell the two moments apart.
    start = (utcnow() + timedelta(days=1)).replace(second=30, microsecond=0)
    with unit(app):
        events.create_event(actor=None, title="Starting soon", starts_at=start, ends_at=start + timedelta(hours=1),
                            timezone="America/Chicago")
    set_clock(monkeypatch, start - timedelta(seconds=10))
    before = etag(client, "/")
    assert still_fresh(client, "/", before)
    set_clock(monkeypatch, start + timedelta(seconds=10))
    assert not still_fresh(client, "/", before)


# --- the sitemap ---------------------------------------------------------------------------------------

def test_the_sitemap_lists_event_and_series_pages_and_nothing_private(app, client, member):
    with unit(app):
        events.save_series(slug="practice-calls", title="Practice calls")
    upcoming = create_event(app, title="Upcoming webinar", series="practice-calls", join_url=JOIN,
                            registration="anyone")
    past = create_event(app, title="Past webinar", days_ahead=1)
    cancelled = create_event(app, title="Cancelled webinar", days_ahead=3)
    take_place(app, upcoming, member)
    with unit(app):
        start = utcnow() - timedelta(days=5)
        events.update_event(events.get_event(past), actor=None, starts_at=start, ends_at=start + timedelta(hours=1))
        events.cancel_event(events.get_event(cancelled), actor=None)
        registration = registrations.find_registration(events.get_event(upcoming),
                                                member=members.find_member_by_email(member))
        key, secret = registration.key, event_account.calendar_feed(members.find_member_by_email(member)).secret
    xml = client.get("/sitemap.xml").get_data(as_text=True)
    for path in ("/events", f"/events/{upcoming}", f"/events/{past}", "/events/series/practice-calls"):
        assert f"<loc>http://localhost{path}</loc>" in xml, path
    assert f"/events/{cancelled}<" not in xml
    for private in ("/events/registration/", "/account/calendar", key, secret, JOIN, ".ics", "/register",
                    "/confirm/"):
        assert private not in xml, private


def test_the_sitemap_follows_new_events(app, client):
    before = etag(client, "/sitemap.xml")
    slug = create_event(app, title="Listed later")
    response = client.get("/sitemap.xml", headers={"If-None-Match": before})
    assert response.status_code == 200 and f"/events/{slug}</loc>" in response.get_data(as_text=True)


# --- validators of the events pages --------------------------------------------------------------------

@pytest.fixture
def listed(app, member):
    with unit(app):
        events.save_series(slug="practice-calls", title="Practice calls")
    slug = create_event(app, title="Seats counted", series="practice-calls", capacity=10, join_url=JOIN)
    return slug


def event_paths(slug):
    return ["/events", f"/events/{slug}", "/events/series/practice-calls", "/events.ics", f"/events/{slug}.ics"]


def test_the_events_pages_answer_304_to_their_validator(app, listed):
    client = app.test_client()
    for path in event_paths(listed):
        tag = etag(client, path)
        again = client.get(path, headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.data == b"", path
        assert client.get(path, headers={"If-None-Match": 'W/"other"'}).status_code == 200, path


def test_an_event_edit_changes_every_events_page(app, listed):
    client = app.test_client()
    before = {path: etag(client, path) for path in event_paths(listed)}
    with unit(app):
        events.update_event(events.get_event(listed), actor=None, title="Seats counted, again")
    for path, tag in before.items():
        assert not still_fresh(client, path, tag), path
    assert "Seats counted, again" in client.get(f"/events/{listed}").get_data(as_text=True)


def test_a_series_edit_changes_its_page(app, listed):
    client = app.test_client()
    before = etag(client, "/events/series/practice-calls")
    with unit(app):
        events.save_series(slug="practice-calls", title="Practice calls, renamed")
    assert not still_fresh(client, "/events/series/practice-calls", before)


def test_a_seat_taken_or_given_back_changes_the_pages_that_count_seats(app, listed, member):
    """Taking a seat leaves the event's updated_at alone: the registrations are what the validators watch."""
    client = app.test_client()
    paths = ["/", "/events", f"/events/{listed}", "/events/series/practice-calls"]  # the home page's cards too
    before = {path: etag(client, path) for path in paths}
    take_place(app, listed, member)
    after = {}
    for path, tag in before.items():
        response = client.get(path, headers={"If-None-Match": tag})
        assert response.status_code == 200, path
        after[path] = response.headers["ETag"]
    with unit(app):
        event = events.get_event(listed)
        registrations.cancel_registration(registrations.find_registration(event, member=members.find_member_by_email(member)))
    for path, tag in after.items():
        assert not still_fresh(client, path, tag), path


def test_an_event_page_changes_when_registration_closes(app, client, monkeypatch):
    start = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    closes = start - timedelta(days=1, seconds=-30)  # half a minute into its minute
    with unit(app):
        event = events.create_event(actor=None, title="Closing soon", starts_at=start,
                                    ends_at=start + timedelta(hours=1), timezone="America/Chicago",
                                    registration_closes_at=closes)
        slug = event.slug
    set_clock(monkeypatch, closes - timedelta(seconds=10))
    before = {path: etag(client, path) for path in ("/events", f"/events/{slug}")}
    set_clock(monkeypatch, closes + timedelta(seconds=10))
    for path, tag in before.items():
        assert not still_fresh(client, path, tag), path


def test_signed_in_readers_and_unknown_events_get_no_validator(app, listed, member):
    client = app.test_client()
    missing = client.get("/events/no-such-event", headers={"If-None-Match": "*"})
    assert missing.status_code == 404 and "ETag" not in missing.headers
    take_place(app, listed, member)
    login(client)
    for path in event_paths(listed):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "ETag" not in response.headers and response.headers["Cache-Control"] == http_cache.PRIVATE, path
    # The seat holder's own page and calendar file carry the join link; the anonymous ones never do.
    assert JOIN in client.get(f"/events/{listed}").get_data(as_text=True)
    anonymous = app.test_client()
    for _ in range(2):  # rendered, then served from the page cache
        for path in event_paths(listed):
            assert JOIN not in anonymous.get(path).get_data(as_text=True), path


def test_a_page_with_the_guest_form_is_never_shared(app, client):
    slug = create_event(app, title="Open to anyone", registration="anyone")
    response = client.get(f"/events/{slug}")
    assert response.status_code == 200 and 'name="csrf_token"' in response.get_data(as_text=True)
    assert "ETag" not in response.headers and response.headers["Cache-Control"] == http_cache.PRIVATE


def test_members_only_events_page_for_anonymous_readers_is_shared(app, listed):
    create_member(app, email="second@example.org", name="Sol Second")
    client = app.test_client()
    first = client.get(f"/events/{listed}")
    second = client.get(f"/events/{listed}")
    assert first.headers["ETag"] == second.headers["ETag"] and first.data == second.data
    assert "Set-Cookie" not in first.headers
