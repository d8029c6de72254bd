"""The default webinars in content/events/: loaded through the event services with the right UTC times, a
second load changes nothing, and a bad file is named in the report with nothing from the load saved."""
from datetime import datetime, timezone
from textwrap import dedent
from zoneinfo import ZoneInfo

import frontmatter
import pytest
from markupsafe import escape
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.content import load_content
from portal.events import services as events
from portal.events.models import Event, Series
from portal.extensions import db
from portal.pages.services import get_page
from tests.conftest import ROOT, unit

EVENTS = ROOT / "content" / "events"
EVENT_FILES = sorted(EVENTS.glob("*.md"))
SERIES_FILES = sorted((EVENTS / "series").glob("*.md"))
# The content's "now": past sessions end before it, upcoming ones are in 2027.
CUTOFF = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _utc(local: datetime, zone: str) -> datetime:
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def test_the_default_content_has_one_series_with_past_and_upcoming_sessions():
    assert len(SERIES_FILES) == 1 and 6 <= len(EVENT_FILES) <= 8
    posts = [frontmatter.load(path) for path in EVENT_FILES]
    past = [p for p in posts if _utc(p["ends"], p["timezone"]) < CUTOFF]
    upcoming = [p for p in posts if p["starts"].year == 2027]
    assert 3 <= len(past) <= 4 and 3 <= len(upcoming) <= 4 and len(past) + len(upcoming) == len(posts)
    assert all(p["starts"].year in (2025, 2026) and p["recording_url"] for p in past)
    assert not any(p.get("recording_url") for p in upcoming)
    assert {p["registration"] for p in posts} == {"members", "anyone"}
    assert [p["registration"] for p in posts].count("anyone") == 1
    assert any(p.get("capacity") for p in posts) and any(not p.get("capacity") for p in posts)
    for post in posts:
        minutes = (post["ends"] - post["starts"]).total_seconds() / 60
        assert 60 <= minutes <= 90, post["slug"]
        # Joining links are added by staff on the site; the default content has none to give away.
        assert not post.get("join_url"), post["slug"]


def test_loading_content_creates_the_series_and_events_at_the_right_utc_times(library):
    with unit(library):
        series = events.get_series("community-of-practice-webinars")
        assert series.title == "Community of practice webinars" and "regular webinar series" in series.summary
        assert db.session.scalar(select(func.count()).select_from(Event)) == len(EVENT_FILES)
        for path in EVENT_FILES:
            post = frontmatter.load(path)
            event = events.get_event(post["slug"])
            assert event.series_id == series.id and event.status == "scheduled"
            assert event.starts_at == _utc(post["starts"], post["timezone"])
            assert event.ends_at == _utc(post["ends"], post["timezone"])
            assert event.local_start.replace(tzinfo=None) == post["starts"]
            assert [r.slug for r in event.resources] == post["resources"]
            assert event.capacity == post.get("capacity") and event.registration == post["registration"]
            assert event.speakers == [{"name": s["name"], "title": s.get("title", ""),
                                       "organisation": s.get("organisation", "")} for s in post["speakers"]]
            assert event.description == post.content
        # Three zones, both sides of daylight saving time, spelled out.
        utc = {slug: events.get_event(slug).starts_at for slug in
               ("call-categories-framework", "joining-the-initiative", "partner-programs-minneapolis-denver",
                "tucson-service-portfolio")}
        assert utc == {
            "call-categories-framework": datetime(2025, 10, 15, 17, 0, tzinfo=timezone.utc),  # EDT, UTC-4
            "joining-the-initiative": datetime(2027, 2, 10, 18, 0, tzinfo=timezone.utc),  # EST, UTC-5
            "partner-programs-minneapolis-denver": datetime(2027, 3, 17, 17, 0, tzinfo=timezone.utc),  # CDT, UTC-5
            "tucson-service-portfolio": datetime(2027, 5, 12, 17, 0, tzinfo=timezone.utc),  # Arizona: MST all year
        }
        minneapolis_denver = events.get_event("partner-programs-minneapolis-denver")
        assert minneapolis_denver.registration_opens_at == datetime(2027, 1, 11, 15, 0, tzinfo=timezone.utc)
        assert minneapolis_denver.registration_closes_at == datetime(2027, 3, 16, 22, 0, tzinfo=timezone.utc)
        assert [e.slug for e in events.past_events(now=CUTOFF)] == [
            "advocates-toolkit-workshop", "mapping-community-safety-services", "journalists-toolkit-briefing",
            "call-categories-framework"]


def test_a_second_load_changes_nothing(library, outbox):
    with unit(library):
        before = {e.slug: (e.updated_at, e.sequence) for e in db.session.scalars(select(Event))}
        series_updated = db.session.scalar(select(Series.updated_at))
        audit_rows = db.session.scalar(select(func.count()).select_from(AuditEvent))
    mail_before = len(outbox.messages())

    with unit(library):
        report = load_content(ROOT / "content")

    assert not report.errors and report.created_or_updated == []
    assert {f"events/{p.name}" for p in EVENT_FILES} | {f"events/series/{p.name}" for p in SERIES_FILES} <= set(
        report.unchanged)
    with unit(library):
        assert {e.slug: (e.updated_at, e.sequence) for e in db.session.scalars(select(Event))} == before
        assert db.session.scalar(select(Series.updated_at)) == series_updated
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == audit_rows
    assert len(outbox.messages()) == mail_before


def test_the_default_webinars_have_their_pages(library):
    client = library.test_client()
    listing = client.get("/events").get_data(as_text=True)
    series = client.get("/events/series/community-of-practice-webinars")
    assert series.status_code == 200
    for path in EVENT_FILES:
        post = frontmatter.load(path)
        page = client.get(f"/events/{post['slug']}")
        assert page.status_code == 200, post["slug"]
        assert f'href="/events/{post["slug"]}"' in listing, post["slug"]
        assert escape(post["title"]) in page.get_data(as_text=True), post["slug"]
        if post.get("recording_url"):
            assert post["recording_url"] in page.get_data(as_text=True), post["slug"]


# --- a folder of our own ------------------------------------------------------------------------------------

SERIES = """
    ---
    title: Peer exchange
    slug: peer-exchange
    ---
    Practitioners compare notes.
"""

EVENT = """
    ---
    title: Dispatch protocols compared
    slug: dispatch-protocols
    series: peer-exchange
    starts: 2027-06-09T12:00:00
    ends: 2027-06-09T13:00:00
    timezone: America/Chicago
    capacity: 40
    registration: members
    closes: 2027-06-08T17:00:00
    audiences: [practitioners]
    topics: [Dispatch]
    speakers:
      - name: Research team
        organisation: Policing Project at NYU School of Law
    ---
    How calls reach the responders.
"""


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text).lstrip())
    return path


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "content"
    write(folder, "pages/peer-notes.md", "---\ntitle: Peer notes\nslug: peer-notes\n---\nNotes.\n")
    write(folder, "events/series/peer-exchange.md", SERIES)
    write(folder, "events/dispatch-protocols.md", EVENT)
    return folder


def load(app, folder):
    with unit(app):
        return load_content(folder)


def test_a_folder_of_events_loads_and_reloads_unchanged(app, folder):
    first = load(app, folder)
    assert not first.errors
    assert {"events/series/peer-exchange.md", "events/dispatch-protocols.md"} <= set(first.created_or_updated)
    with unit(app):
        event = events.get_event("dispatch-protocols")
        assert event.series.slug == "peer-exchange" and event.topics == ["dispatch"]
        assert event.starts_at == datetime(2027, 6, 9, 17, 0, tzinfo=timezone.utc)
        assert event.registration_closes_at == datetime(2027, 6, 8, 22, 0, tzinfo=timezone.utc)
        assert event.speakers == [{"name": "Research team", "title": "",
                                   "organisation": "Policing Project at NYU School of Law"}]

    second = load(app, folder)
    assert second.created_or_updated == [] and "events/dispatch-protocols.md" in second.unchanged

    write(folder, "events/dispatch-protocols.md", EVENT.replace("T13:00:00", "T13:30:00"))
    third = load(app, folder)
    assert third.created_or_updated == ["events/dispatch-protocols.md"]
    with unit(app):
        event = events.get_event("dispatch-protocols")
        assert event.ends_at == datetime(2027, 6, 9, 18, 30, tzinfo=timezone.utc) and event.sequence == 1


def test_a_load_keeps_the_addresses_staff_set_and_replaces_example_ones(app, folder):
    example = "https://example.org/recordings/dispatch-protocols"
    with_example = EVENT.replace("audiences:", f"recording_url: {example}\n    audiences:")
    write(folder, "events/dispatch-protocols.md", with_example)
    load(app, folder)
    with unit(app):
        event = events.get_event("dispatch-protocols")
        assert event.recording_url == example and event.join_url == ""
        events.update_event(event, actor=None, join_url="https://meet.portal.test/dispatch")

    assert load(app, folder).created_or_updated == []  # the file has no join_url: staff's stays
    with unit(app):
        assert events.get_event("dispatch-protocols").join_url == "https://meet.portal.test/dispatch"

    real = "https://video.portal.test/dispatch-protocols"
    write(folder, "events/dispatch-protocols.md", EVENT.replace("audiences:", f"recording_url: {real}\n    audiences:"))
    assert load(app, folder).created_or_updated == ["events/dispatch-protocols.md"]
    with unit(app):
        event = events.get_event("dispatch-protocols")
        assert event.recording_url == real
        events.update_event(event, actor=None, recording_url="https://video.portal.test/edited-by-staff")
    load(app, folder)
    with unit(app):
        assert events.get_event("dispatch-protocols").recording_url == "https://video.portal.test/edited-by-staff"


def test_a_cancelled_file_cancels_the_event_once_and_a_cancellation_stands(app, folder):
    load(app, folder)
    write(folder, "events/dispatch-protocols.md", EVENT.replace("registration: members",
                                                               "registration: members\n    status: cancelled"))
    assert load(app, folder).created_or_updated == ["events/dispatch-protocols.md"]
    assert load(app, folder).created_or_updated == []
    with unit(app):
        event = events.get_event("dispatch-protocols")
        assert event.status == "cancelled" and event.sequence == 1

    write(folder, "events/dispatch-protocols.md", EVENT)  # says nothing of a status: scheduled
    assert load(app, folder).created_or_updated == []
    with unit(app):
        assert events.get_event("dispatch-protocols").status == "cancelled"


@pytest.mark.parametrize("change, expected", [
    (("timezone: America/Chicago", "timezone: America/Springfield"), "timezone: Choose a time zone"),
    (("timezone: America/Chicago", "timezone: ''"), "timezone: required: an IANA name"),
    (("ends: 2027-06-09T13:00:00", "ends: 2027-06-09T11:00:00"), "ends: The end must come after the start."),
    (("ends: 2027-06-09T13:00:00", ""), "ends: required: a local time"),
    (("starts: 2027-06-09T12:00:00", "starts: 2027-06-09"), "starts: give a time of day too"),
    (("starts: 2027-06-09T12:00:00", "starts: 2027-06-09T12:00:00-04:00"), "starts: give the local time without an offset"),
    (("starts: 2027-06-09T12:00:00", "starts: '9 June, noon'"), "starts: give a local time like"),
    (("starts: 2027-06-09T12:00:00", "starts: 2027-03-14T02:30:00"), "starts: 2027-03-14 02:30 does not exist in America/Chicago"),
    (("closes: 2027-06-08T17:00:00", "closes: 2027-06-08T17:00:00\n    resources: [no-such-resource]"),
     "resources: No library resource has the slug 'no-such-resource'."),
    (("closes: 2027-06-08T17:00:00", "slides: no-such-slides"), "slides: No library resource has the slug"),
    (("series: peer-exchange", "series: no-such-series"), "series: Choose a series from the list."),
    (("registration: members", "registration: everyone"), "registration: Choose who may register"),
    (("capacity: 40", "capacity: lots"), "capacity: Give the capacity as a whole number"),
    (("audiences: [practitioners]", "audiences: [dispatchers]"), "audiences: Choose audiences from the list."),
    (("registration: members", "registration: members\n    status: postponed"), "status: status must be"),
    (("registration: members", "registration: members\n    start: 2027-06-09T12:00:00"),
     "unknown front matter start"),
    (("title: Dispatch protocols compared", "title: ''"), "title: Give the event a title."),
    (("  - name: Research team", "  - title: Director"), "speakers: Give each speaker a name."),
])
def test_a_bad_event_file_is_named_and_nothing_from_the_load_is_saved(app, folder, change, expected):
    write(folder, "events/a-good-one.md", EVENT.replace("dispatch-protocols", "a-good-one"))
    write(folder, "events/dispatch-protocols.md", EVENT.replace(*change))

    report = load(app, folder)

    assert len(report.errors) == 1, report.errors
    assert report.errors[0].startswith("events/dispatch-protocols.md: ") and expected in report.errors[0], report
    assert report.created_or_updated == [] and report.unchanged == []
    with unit(app):
        assert db.session.scalar(select(func.count()).select_from(Event)) == 0
        assert db.session.scalar(select(func.count()).select_from(Series)) == 0
        assert get_page("peer-notes") is None


def test_a_bad_series_file_is_named_and_nothing_is_saved(app, folder):
    write(folder, "events/series/peer-exchange.md", SERIES.replace("title: Peer exchange", "title: ''"))

    report = load(app, folder)

    assert report.errors == ["events/series/peer-exchange.md: Give the series a title (at most 200 characters)."]
    with unit(app):
        assert db.session.scalar(select(func.count()).select_from(Series)) == 0
        assert get_page("peer-notes") is None


def test_the_cli_loads_the_sites_events_and_a_second_run_changes_nothing(runner):
    first = runner.invoke(args=["content", "load"])
    assert first.exit_code == 0, first.output
    assert "events/joining-the-initiative.md" in first.output

    second = runner.invoke(args=["content", "load"])
    assert second.exit_code == 0 and second.output.startswith("0 created or updated,"), second.output
