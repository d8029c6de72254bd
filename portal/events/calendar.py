"""Calendar files (RFC 5545) for events: one event, the public feed, and a member's private feed.

These functions only read: the views and the mail put the bytes they return on the wire. The join link goes
only into a file made for someone who holds a seat (their registration is passed in); the public feed and
the event's public file never carry it.
"""
import re
from datetime import date, datetime, timedelta, timezone
from email.utils import parseaddr
from urllib.parse import urlsplit

from flask import current_app
from icalendar import Calendar, Conference, Event as VEvent, Timezone, vCalAddress

from portal.database import utcnow
from portal.mail import site_url_for
from portal.markdown import markdown_to_text

SITE_NAME = "12 Million Calls"
PRODID = "-//12 Million Calls Initiative//Events//EN"
METHODS = ("PUBLISH", "CANCEL")
# How often a subscribed feed asks for news: a moved or cancelled webinar reaches calendars within the hour.
REFRESH = timedelta(hours=1)
DESCRIPTION_LIMIT = 1500
# RFC 5545 wants at least one component in a calendar, and an empty feed (no events yet, or a member with no
# seats) must still be valid: it then carries the UTC time zone alone.
EMPTY_FEED_ZONE = "UTC"
# TEXT values may not carry control characters other than tab (newlines are escaped by icalendar).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(value: str | None) -> str:
    return _CONTROL.sub("", value or "")


def _host() -> str:
    return urlsplit(current_app.config["SITE_URL"]).hostname or "localhost"


def event_uid(event) -> str:
    """The same for the life of the event, in every file it appears in: calendars update it rather than
    adding a second copy."""
    return f"event-{event.id}@{_host()}"


def _organizer() -> vCalAddress:
    address = current_app.config.get("CONTACT_EMAIL") or parseaddr(current_app.config["MAIL_FROM"])[1]
    organizer = vCalAddress(f"mailto:{address}")
    organizer.params["CN"] = SITE_NAME
    return organizer


def _when(instant: datetime, zone) -> datetime:
    """The event's wall-clock time in its zone (written with TZID), or UTC when the wall time cannot say it.

    In the hour that repeats when daylight saving ends, a local time names the first of its two instants
    (RFC 5545 3.3.5); a start in the second one is written in UTC so that calendars show the right moment."""
    local = instant.astimezone(zone)
    if local.fold:
        return instant.astimezone(timezone.utc)
    return local


def _shorten(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    words = head.rsplit(None, 1)  # end on a whole word when there is more than one
    return (words[0] if len(words) == 2 else head).rstrip(" ,.;:") + "…"


def _speakers(event) -> str:
    names = []
    for speaker in event.speakers or []:
        extra = ", ".join(part for part in (speaker.get("title"), speaker.get("organisation")) if part)
        names.append(f"{speaker.get('name', '')} ({extra})" if extra else speaker.get("name", ""))
    return "Speakers: " + "; ".join(names) if names else ""


def _join_url(event, registration) -> str:
    """The join link, for a seat holder of this (not cancelled) event only."""
    if registration is None or registration.event_id != event.id or registration.status != "registered":
        return ""
    if event.is_cancelled:
        return ""
    return event.join_url or ""


def _vevent(event, *, join_url: str = "", cancelled: bool = False, attendee=None, stamp=None) -> VEvent:
    page = site_url_for("events.detail", slug=event.slug)
    parts = []
    if event.is_cancelled or cancelled:
        parts.append("This event has been cancelled.")
    if join_url:
        parts.append(f"Join the webinar: {join_url}")
    summary = _shorten(markdown_to_text(event.description))
    parts.extend(part for part in (summary, _speakers(event), f"Details: {page}") if part)
    vevent = VEvent.new(
        uid=event_uid(event),
        # When this version of the event was written: the same bytes for the same event, until it changes.
        stamp=(stamp or event.updated_at or utcnow()).astimezone(timezone.utc),
        start=_when(event.starts_at, event.zone),
        end=_when(event.ends_at, event.zone),
        sequence=event.sequence,
        status="CANCELLED" if event.is_cancelled or cancelled else "CONFIRMED",
        summary=_text(event.title),
        description=_text("\n\n".join(parts)),
        location=join_url or "Online",
        url=page,
        categories=[_text(topic) for topic in event.topics or []],
        organizer=_organizer(),
        conferences=[Conference(join_url, feature=["AUDIO", "VIDEO"], label="Join the webinar")] if join_url else None,
    )
    if attendee is not None:
        vevent.add("ATTENDEE", attendee)
    vevent.add("TRANSP", "OPAQUE")
    return vevent


def _calendar(components: list, *, method: str = "PUBLISH", uid: str, name: str = "",
              feed: bool = False, zones_around: list | None = None) -> bytes:
    calendar = Calendar.new(prodid=PRODID, method=method, uid=uid, name=name or None)
    if feed:
        # RFC 7986 REFRESH-INTERVAL takes its VALUE parameter; X-PUBLISHED-TTL is what Outlook reads.
        calendar.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
        calendar.add("X-PUBLISHED-TTL", REFRESH)
    for component in components:
        calendar.add_component(component)
    if zones_around:
        # A year either side of the events: each VTIMEZONE then shows both offsets of a zone that has daylight
        # saving, with the transitions that fall between the events.
        first = min(zones_around).date() - timedelta(days=366)
        last = max(zones_around).date() + timedelta(days=366)
        calendar.add_missing_timezones(first_date=first, last_date=last)
    if not calendar.subcomponents:
        calendar.add_component(Timezone.from_tzid(EMPTY_FEED_ZONE, first_date=date(2000, 1, 1),
                                                  last_date=date(2001, 1, 1)))
    return calendar.to_ical()


def _instants(events) -> list[datetime]:
    return [moment for event in events for moment in (event.starts_at, event.ends_at)]


def event_calendar(event, *, registration=None, method: str | None = None) -> bytes:
    """One event. With the `registration` of someone who holds a seat, the file carries the join link (their
    page, their mail). `method="CANCEL"` makes the cancellation notice that removes it from calendars."""
    method = (method or "PUBLISH").upper()
    if method not in METHODS:
        raise ValueError(f"unknown iTIP method {method!r}")
    cancel = method == "CANCEL"
    attendee = None
    stamp = None
    if registration is not None and registration.event_id == event.id:
        # A promotion from the waitlist changes only the registration: the newer stamp lets calendars take the
        # file with the join link over the one they already have.
        stamp = max(event.updated_at or utcnow(), registration.updated_at or utcnow())
        if cancel and registration.email:
            attendee = vCalAddress(f"mailto:{registration.email}")
            attendee.params["CN"] = _text(registration.name)
    vevent = _vevent(event, join_url="" if cancel else _join_url(event, registration), cancelled=cancel,
                     attendee=attendee, stamp=stamp)
    return _calendar([vevent], method=method, uid=f"{event_uid(event)}-file", zones_around=_instants([event]))


def feed_calendar(events) -> bytes:
    """The public feed: every event given, never a join link."""
    events = list(events)
    return _calendar([_vevent(event) for event in events], uid=f"events-feed@{_host()}",
                     name=f"{SITE_NAME} webinars", feed=True, zones_around=_instants(events))


def member_calendar(member, registrations) -> bytes:
    """A member's private feed: the events where they hold a seat, each with its join link."""
    seats = [r for r in registrations if r.member_id == member.id and r.status == "registered"]
    components = [_vevent(r.event, join_url=_join_url(r.event, r),
                          stamp=max(r.event.updated_at or utcnow(), r.updated_at or utcnow()))
                  for r in seats]
    return _calendar(components, uid=f"member-{member.id}-feed@{_host()}", name=f"{SITE_NAME}: my webinars",
                     feed=True, zones_around=_instants(r.event for r in seats))
