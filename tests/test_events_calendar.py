"""Calendar files (RFC 5545): one event, the public feed, a member's private feed; times across daylight saving."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from portal.events import account as event_account, calendar, registrations as places, services
from portal.members.services import get_member
from tests.conftest import create_member, login, unit

CHICAGO = "America/Chicago"
JOIN = "https://meet.example.org/j/8675309"


def parse(raw: bytes) -> Calendar:
    """The calendar, after checking it the way a strict client would."""
    assert isinstance(raw, bytes)
    assert raw.endswith(b"\r\n")
    lines = raw.split(b"\r\n")[:-1]
    assert not any(b"\n" in line or b"\r" in line for line in lines), "a line ends with a bare LF or CR"
    assert all(len(line) <= 75 for line in lines), "a line is longer than 75 octets (not folded)"
    parsed = Calendar.from_ical(raw)
    parsed.validate()
    assert [c.errors for c in parsed.walk() if c.errors] == []
    assert str(parsed["VERSION"]) == "2.0" and str(parsed["PRODID"]) == calendar.PRODID
    assert parsed.get_missing_tzids() == set()  # a VTIMEZONE for every TZID used
    for vevent in parsed.events:
        for prop in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "STATUS", "SUMMARY", "URL", "ORGANIZER"):
            assert prop in vevent, prop
        assert vevent["DTSTAMP"].dt.utcoffset() == timedelta(0)
        assert vevent["DTSTAMP"].to_ical().endswith(b"Z")
    assert parsed.to_ical() == raw  # nothing lost or changed on the way
    return parsed


def make_event(app, local: datetime, *, zone=CHICAGO, title="Welfare checks without police", hours=1, **fields):
    with unit(app):
        starts = services.local_to_utc(local, zone)
        event = services.create_event(actor=None, title=title, starts_at=starts, ends_at=starts + timedelta(hours=hours),
                                      timezone=zone, **fields)
        return event.id


def seat(app, event_id, member_id):
    with unit(app):
        registration = places.register(services.get_event_by_id(event_id), member=get_member(member_id))
        return registration.id, registration.status


def build(app, fn, *args, **kwargs) -> bytes:
    with unit(app):
        return fn(*args, **kwargs)


def unfolded(raw: bytes) -> bytes:
    """The file with its folded lines joined: a link split by folding must not slip past a "not in" check."""
    return raw.replace(b"\r\n ", b"").replace(b"\r\n\t", b"")


def vtimezone_offsets(parsed: Calendar, tzid: str) -> set[timedelta]:
    zone = next(tz for tz in parsed.timezones if tz.tz_name == tzid)
    return {sub["TZOFFSETTO"].td for sub in zone.walk() if sub.name in ("STANDARD", "DAYLIGHT")}


def resolved_through_vtimezone(parsed: Calendar, prop) -> datetime:
    """The UTC instant a client gets from the file's own VTIMEZONE (not the system's zone database)."""
    tzid = prop.params.get("TZID")
    if tzid is None:
        return prop.dt.astimezone(timezone.utc)
    zone = next(tz for tz in parsed.timezones if tz.tz_name == tzid).to_tz(lookup_tzid=False)
    return prop.dt.replace(tzinfo=zone).astimezone(timezone.utc)


# --- one event ---------------------------------------------------------------------------------------------

def test_the_event_file_describes_the_event_without_the_join_link(app):
    event_id = make_event(app, datetime(2027, 3, 14, 10, 0), topics=["crisis response", "dispatch"], join_url=JOIN,
                          description="## Agenda\n\nHow **Denver's STAR** teams take [welfare checks](https://example.org).",
                          speakers=[{"name": "Rae Ruiz", "title": "Director", "organisation": "STAR"}])
    with unit(app):
        event = services.get_event_by_id(event_id)
        raw = calendar.event_calendar(event)
        slug, updated = event.slug, event.updated_at
    parsed = parse(raw)
    assert str(parsed["METHOD"]) == "PUBLISH"
    [vevent] = parsed.events
    assert str(vevent["UID"]) == f"event-{event_id}@localhost"
    assert vevent["SEQUENCE"] == 0
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["SUMMARY"]) == "Welfare checks without police"
    assert str(vevent["URL"]) == f"http://localhost/events/{slug}"
    assert vevent["DTSTAMP"].dt == updated.replace(microsecond=0)
    assert vevent.categories == ["crisis response", "dispatch"]
    description = str(vevent["DESCRIPTION"])
    assert "How Denver's STAR teams take welfare checks." in description
    assert "**" not in description and "##" not in description and "](" not in description
    assert "Rae Ruiz (Director, STAR)" in description
    assert f"http://localhost/events/{slug}" in description
    assert b"meet.example.org" not in unfolded(raw)
    assert str(vevent["LOCATION"]) == "Online"
    assert "CONFERENCE" not in vevent


def test_a_long_description_is_shortened_and_control_characters_dropped(app):
    event_id = make_event(app, datetime(2027, 5, 4, 12, 0), description="word " * 2000,
                          title="Tabs\tand a bell\x07 in the title")
    raw = build(app, lambda: calendar.event_calendar(services.get_event_by_id(event_id)))
    [vevent] = parse(raw).events
    assert len(str(vevent["DESCRIPTION"])) < calendar.DESCRIPTION_LIMIT + 200
    assert str(vevent["DESCRIPTION"]).split("\n\n")[0].endswith("word…")
    assert str(vevent["SUMMARY"]) == "Tabs and a bell in the title"  # the bell would make the file invalid


@pytest.mark.parametrize(("local", "utc", "offset"), [
    # US daylight saving starts on 14 March 2027 at 02:00 (CST, -6 -> CDT, -5) ...
    (datetime(2027, 3, 14, 10, 0), datetime(2027, 3, 14, 15, 0, tzinfo=timezone.utc), timedelta(hours=-5)),
    (datetime(2027, 3, 13, 10, 0), datetime(2027, 3, 13, 16, 0, tzinfo=timezone.utc), timedelta(hours=-6)),
    # ... and ends on 7 November 2027 at 02:00 (CDT -> CST).
    (datetime(2027, 11, 7, 10, 0), datetime(2027, 11, 7, 16, 0, tzinfo=timezone.utc), timedelta(hours=-6)),
    (datetime(2027, 11, 6, 10, 0), datetime(2027, 11, 6, 15, 0, tzinfo=timezone.utc), timedelta(hours=-5)),
])
def test_times_are_the_events_wall_clock_time_across_daylight_saving(app, local, utc, offset):
    event_id = make_event(app, local, hours=2)
    with unit(app):
        event = services.get_event_by_id(event_id)
        assert event.starts_at == utc
        raw = calendar.event_calendar(event)
        local_start, local_end = event.local_start, event.local_end
    parsed = parse(raw)
    [vevent] = parsed.events
    start, end = vevent["DTSTART"], vevent["DTEND"]
    assert start.params["TZID"] == CHICAGO and end.params["TZID"] == CHICAGO
    assert f"DTSTART;TZID={CHICAGO}:{local:%Y%m%dT%H%M%S}".encode() in raw
    assert start.dt.replace(tzinfo=None) == local == local_start.replace(tzinfo=None)
    assert end.dt.replace(tzinfo=None) == local_end.replace(tzinfo=None) == local + timedelta(hours=2)
    assert local_start.utcoffset() == offset
    # The file's own VTIMEZONE gives the same instants as the event.
    assert resolved_through_vtimezone(parsed, start) == utc
    assert resolved_through_vtimezone(parsed, end) == utc + timedelta(hours=2)
    assert vtimezone_offsets(parsed, CHICAGO) == {timedelta(hours=-6), timedelta(hours=-5)}


def test_a_start_in_the_repeated_hour_keeps_its_instant(app):
    """01:30 happens twice in Chicago on 7 November 2027: a local time names the first (RFC 5545 3.3.5), so the
    first is written with its TZID and the second in UTC."""
    first = datetime(2027, 11, 7, 6, 30, tzinfo=timezone.utc)  # 01:30 CDT
    second = datetime(2027, 11, 7, 7, 30, tzinfo=timezone.utc)  # 01:30 CST
    ids = [make_event(app, moment, title=f"Night shift {n}", hours=0.5) for n, moment in enumerate((first, second))]
    raw = build(app, lambda: calendar.feed_calendar([services.get_event_by_id(i) for i in ids]))
    parsed = parse(raw)
    by_uid = {str(e["UID"]): e for e in parsed.events}
    early, late = by_uid[f"event-{ids[0]}@localhost"], by_uid[f"event-{ids[1]}@localhost"]
    assert early["DTSTART"].params["TZID"] == CHICAGO
    assert resolved_through_vtimezone(parsed, early["DTSTART"]) == first
    assert "TZID" not in late["DTSTART"].params and b"DTSTART:20271107T073000Z" in raw
    assert resolved_through_vtimezone(parsed, late["DTSTART"]) == second
    assert resolved_through_vtimezone(parsed, late["DTEND"]) == second + timedelta(minutes=30)


def test_an_event_in_utc_needs_no_vtimezone_of_its_own(app):
    event_id = make_event(app, datetime(2027, 6, 1, 14, 0), zone="UTC")
    raw = build(app, lambda: calendar.event_calendar(services.get_event_by_id(event_id)))
    parsed = parse(raw)
    assert b"DTSTART:20270601T140000Z" in raw
    assert parsed.events[0]["DTSTART"].dt == datetime(2027, 6, 1, 14, 0, tzinfo=timezone.utc)


def test_the_uid_stays_and_the_sequence_rises_with_each_change(app):
    event_id = make_event(app, datetime(2027, 3, 14, 10, 0))
    files = [build(app, lambda: calendar.event_calendar(services.get_event_by_id(event_id)))]
    with unit(app):
        event = services.get_event_by_id(event_id)
        services.update_event(event, actor=None, starts_at=event.starts_at + timedelta(hours=1),
                              ends_at=event.ends_at + timedelta(hours=1))
    files.append(build(app, lambda: calendar.event_calendar(services.get_event_by_id(event_id))))
    with unit(app):
        services.update_event(services.get_event_by_id(event_id), actor=None, description="Now with an agenda.")
    files.append(build(app, lambda: calendar.event_calendar(services.get_event_by_id(event_id))))
    with unit(app):
        services.cancel_event(services.get_event_by_id(event_id), actor=None, note="Speaker unwell.")
    files.append(build(app, lambda: calendar.event_calendar(services.get_event_by_id(event_id))))

    events = [parse(raw).events[0] for raw in files]
    assert {str(e["UID"]) for e in events} == {f"event-{event_id}@localhost"}
    # A new time raises the sequence, a new description does not (calendars need not re-ask), a cancellation does.
    assert [e["SEQUENCE"] for e in events] == [0, 1, 1, 2]
    assert [str(e["STATUS"]) for e in events] == ["CONFIRMED", "CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert events[0]["DTSTART"].dt.hour == 10 and events[1]["DTSTART"].dt.hour == 11
    stamps = [e["DTSTAMP"].dt for e in events]
    assert stamps == sorted(stamps)
    assert "This event has been cancelled." in str(events[3]["DESCRIPTION"])
    # The same event, unchanged, gives the same bytes (a client or cache sees no change).
    assert build(app, lambda: calendar.event_calendar(services.get_event_by_id(event_id))) == files[3]


# --- the join link -----------------------------------------------------------------------------------------

@pytest.fixture
def seats(app):
    """An event with one seat and a join link: Maya holds the seat, Omar waits, Lee cancelled; another event."""
    event_id = make_event(app, datetime(2027, 3, 14, 10, 0), capacity=1, join_url=JOIN)
    other_id = make_event(app, datetime(2027, 11, 7, 10, 0), title="Another webinar", join_url=JOIN + "0")
    people = {name: create_member(app, email=f"{name}@example.org", name=name.title())
              for name in ("maya", "omar", "lee")}
    registrations = {name: seat(app, event_id, member_id)[0] for name, member_id in people.items()}
    with unit(app):
        places.cancel_registration(places.get_registration(registrations["lee"]))
    # Lee cancelled from the waitlist, so no seat moved.
    with unit(app):
        states = {name: places.get_registration(rid).status for name, rid in registrations.items()}
    assert states == {"maya": "registered", "omar": "waitlisted", "lee": "cancelled"}
    return {"event": event_id, "other": other_id, "people": people, "registrations": registrations}


def file_for(app, event_id, registration_id, **kwargs) -> bytes:
    with unit(app):
        registration = places.get_registration(registration_id) if registration_id else None
        return calendar.event_calendar(services.get_event_by_id(event_id), registration=registration, **kwargs)


def test_the_join_link_is_only_in_a_seat_holders_file(app, seats):
    raw = file_for(app, seats["event"], seats["registrations"]["maya"])
    [vevent] = parse(raw).events
    assert str(vevent["LOCATION"]) == JOIN
    assert f"Join the webinar: {JOIN}" in str(vevent["DESCRIPTION"])
    assert [c.uri for c in vevent.conferences] == [JOIN]
    assert "ATTENDEE" not in vevent
    for name in ("omar", "lee"):
        assert b"meet.example.org" not in unfolded(file_for(app, seats["event"], seats["registrations"][name])), name
    # A seat at one event does not open another event's file.
    assert b"meet.example.org" not in unfolded(file_for(app, seats["other"], seats["registrations"]["maya"]))


def test_a_waitlist_promotion_gives_a_newer_stamp(app, seats):
    omar = seats["registrations"]["omar"]
    before = parse(file_for(app, seats["event"], omar)).events[0]["DTSTAMP"].dt
    with unit(app):
        places.cancel_registration(places.get_registration(seats["registrations"]["maya"]))
    raw = file_for(app, seats["event"], omar)
    vevent = parse(raw).events[0]
    assert JOIN.encode() in unfolded(raw)
    assert vevent["DTSTAMP"].dt >= before
    assert vevent["SEQUENCE"] == 0


def test_a_cancelled_event_carries_no_join_link_and_a_cancel_notice_removes_it(app, seats):
    with unit(app):
        services.cancel_event(services.get_event_by_id(seats["event"]), actor=None)
    maya = seats["registrations"]["maya"]
    published = file_for(app, seats["event"], maya)
    assert b"meet.example.org" not in unfolded(published)
    assert str(parse(published).events[0]["STATUS"]) == "CANCELLED"
    notice = file_for(app, seats["event"], maya, method="CANCEL")
    parsed = parse(notice)
    assert str(parsed["METHOD"]) == "CANCEL"
    [vevent] = parsed.events
    assert str(vevent["STATUS"]) == "CANCELLED" and vevent["SEQUENCE"] == 1
    assert str(vevent["ATTENDEE"]) == "mailto:maya@example.org" and vevent["ATTENDEE"].params["CN"] == "Maya"
    assert str(vevent["ORGANIZER"]).startswith("mailto:")
    assert b"meet.example.org" not in unfolded(notice)
    with pytest.raises(ValueError):
        file_for(app, seats["event"], maya, method="REFRESH")


# --- feeds -------------------------------------------------------------------------------------------------

def test_the_public_feed_lists_every_event_given_and_never_a_join_link(app, seats):
    berlin = make_event(app, datetime(2027, 10, 31, 9, 0), zone="Europe/Berlin", title="European peers", join_url=JOIN)
    with unit(app):
        services.cancel_event(services.get_event_by_id(seats["other"]), actor=None)
        raw = calendar.feed_calendar([services.get_event_by_id(i) for i in (seats["event"], seats["other"], berlin)])
    parsed = parse(raw)
    assert str(parsed["X-WR-CALNAME"]) == "12 Million Calls webinars"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in raw
    assert b"meet.example.org" not in unfolded(raw)
    assert {str(e["UID"]) for e in parsed.events} == {f"event-{i}@localhost" for i in (seats["event"], seats["other"], berlin)}
    assert {str(e["STATUS"]) for e in parsed.events} == {"CONFIRMED", "CANCELLED"}
    assert sorted(tz.tz_name for tz in parsed.timezones) == [CHICAGO, "Europe/Berlin"]
    european = next(e for e in parsed.events if str(e["SUMMARY"]) == "European peers")
    # Europe leaves summer time on 31 October 2027, a week before the US: 09:00 CET is 08:00 UTC.
    assert resolved_through_vtimezone(parsed, european["DTSTART"]) == datetime(2027, 10, 31, 8, 0, tzinfo=timezone.utc)
    assert vtimezone_offsets(parsed, "Europe/Berlin") == {timedelta(hours=1), timedelta(hours=2)}


def test_an_empty_feed_is_still_a_valid_calendar(app):
    parsed = parse(build(app, calendar.feed_calendar, []))
    assert parsed.events == [] and [tz.tz_name for tz in parsed.timezones] == ["UTC"]


def test_the_member_feed_lists_only_their_seats_with_join_links(app, seats):
    people, registrations = seats["people"], seats["registrations"]
    other_seat = seat(app, seats["other"], people["omar"])[0]
    maya_other = seat(app, seats["other"], people["maya"])[0]
    with unit(app):
        every = [places.get_registration(r) for r in (*registrations.values(), other_seat, maya_other)]
        maya_raw = calendar.member_calendar(get_member(people["maya"]), every)
        omar_raw = calendar.member_calendar(get_member(people["omar"]), every)
        lee_raw = calendar.member_calendar(get_member(people["lee"]), every)

    maya = parse(maya_raw)
    assert str(maya["X-WR-CALNAME"]) == "12 Million Calls: my webinars"
    assert {str(e["UID"]) for e in maya.events} == {f"event-{seats['event']}@localhost", f"event-{seats['other']}@localhost"}
    assert {str(e["LOCATION"]) for e in maya.events} == {JOIN, JOIN + "0"}
    # Omar waits for the first event: only the second, where he holds a seat, with its own link.
    omar = parse(omar_raw)
    assert [str(e["UID"]) for e in omar.events] == [f"event-{seats['other']}@localhost"]
    assert set(re.findall(rb"https://meet\.example\.org/j/\d+", unfolded(omar_raw))) == {JOIN.encode() + b"0"}
    assert str(omar.events[0]["LOCATION"]) == JOIN + "0"
    # Lee cancelled: an empty, valid calendar.
    assert parse(lee_raw).events == [] and b"meet.example.org" not in unfolded(lee_raw)


# --- over HTTP ---------------------------------------------------------------------------------------------

def get_calendar(client, path) -> tuple[Calendar, bytes]:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return parse(response.data), response.data


def test_the_public_calendar_addresses_serve_valid_files_without_join_links(app, client, seats):
    with unit(app):
        slug = services.get_event_by_id(seats["event"]).slug
    feed, raw = get_calendar(client, "/events.ics")
    assert {f"event-{seats['event']}@localhost", f"event-{seats['other']}@localhost"} <= {str(e["UID"]) for e in feed.events}
    assert b"meet.example.org" not in unfolded(raw)
    single, raw = get_calendar(client, f"/events/{slug}.ics")
    assert [str(e["UID"]) for e in single.events] == [f"event-{seats['event']}@localhost"]
    assert b"meet.example.org" not in unfolded(raw)
    assert client.get("/events/no-such-event.ics").status_code == 404


def test_a_seat_holder_gets_the_join_link_in_their_files(app, client, seats):
    with unit(app):
        slug = services.get_event_by_id(seats["event"]).slug
        secret = event_account.calendar_feed(get_member(seats["people"]["maya"])).secret
    own, raw = get_calendar(client, f"/account/calendar/{secret}.ics")  # calendar apps come without a session
    assert {str(e["LOCATION"]) for e in own.events} == {JOIN}
    assert client.get("/account/calendar/not-the-secret.ics").status_code == 404
    login(client, "maya@example.org")
    single, raw = get_calendar(client, f"/events/{slug}.ics")
    assert str(single.events[0]["LOCATION"]) == JOIN
    login(client, "omar@example.org")  # waitlisted: no link yet
    _, raw = get_calendar(client, f"/events/{slug}.ics")
    assert b"meet.example.org" not in unfolded(raw)
