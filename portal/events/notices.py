"""The mail about registrations and events, sent through portal/mail.py once the unit of work commits.

Every message is rendered from templates/mail/event_*.txt and .html (autoescaped). The join link is in a
message only for someone who holds a seat, and so is the calendar file (which carries it too).
"""
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal.events import calendar
from portal.events.models import GUEST_LINK_MAX_AGE
from portal.mail import build_message, send_mail, site_url_for
from portal.text import paragraphs

REMINDER_SUBJECTS = {"day": "Coming up: {title}", "hour": "Starting within the hour: {title}"}


def _format(start: datetime, end: datetime, zone_name: str) -> str:
    """"Tuesday 8 December 2026, 10:00 to 11:00 (CST, America/Chicago)" in `zone_name`."""
    zone = ZoneInfo(zone_name)
    start, end = start.astimezone(zone), end.astimezone(zone)
    day = f"{start:%A} {start.day} {start:%B %Y}"
    if end.date() != start.date():
        until = f"{end:%A} {end.day} {end:%B %Y}, {end:%H:%M}"
    else:
        until = f"{end:%H:%M}"
    # A daylight-saving change during the event: each time with its own abbreviation.
    if start.tzname() != end.tzname():
        return f"{day}, {start:%H:%M %Z} to {until} {end:%Z} ({zone_name})"
    return f"{day}, {start:%H:%M} to {until} ({start:%Z}, {zone_name})"


def _member_zone(registration, event) -> str | None:
    """The member's own zone when they set one that differs from the event's (a guest has none)."""
    member = registration.member if registration is not None else None
    name = (getattr(member, "timezone", "") or "").strip()
    if not name or name == event.timezone:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # a zone removed from tzdata since it was saved
        return None
    return name


def _details(event, registration=None) -> dict:
    """What every message about an event shows: when (in the event's zone and the reader's), its page, the
    join link for a seat, and where a guest manages their place (a member does it from the event page)."""
    seated = registration is not None and registration.status == "registered" and not event.is_cancelled
    yours = _member_zone(registration, event)
    is_guest = registration is not None and registration.member_id is None
    return {
        "event": event,
        "name": registration.name if registration is not None else "",
        "when": _format(event.starts_at, event.ends_at, event.timezone),
        "your_zone": yours,
        "when_yours": _format(event.starts_at, event.ends_at, yours) if yours else None,
        "event_url": site_url_for("events.detail", slug=event.slug),
        "join_url": event.join_url if seated and event.join_url else "",
        "manage_url": site_url_for("events.registration", key=registration.key) if is_guest else None,
    }


def _ics(event, *, registration=None, method: str | None = None) -> tuple[str, str, bytes]:
    options = {"method": method} if method else {}
    return f"{event.slug}.ics", "text/calendar", calendar.event_calendar(event, registration=registration, **options)


def _send(registration, *, subject: str, template: str, attachments=(), **context) -> None:
    event = registration.event
    send_mail(to=registration.email, subject=subject, template=template, attachments=attachments,
              **_details(event, registration), **context)


def send_confirmation(registration) -> None:
    event = registration.event
    _send(registration, subject=f"You are registered: {event.title}", template="event_confirmation",
          attachments=[_ics(event, registration=registration)])


def send_waitlisted(registration, *, position: int) -> None:
    event = registration.event
    _send(registration, subject=f"You are on the waitlist: {event.title}", template="event_waitlisted",
          position=position)


def send_promotion(registration) -> None:
    event = registration.event
    _send(registration, subject=f"A seat is yours: {event.title}", template="event_promotion",
          attachments=[_ics(event, registration=registration)])


def send_change(event, registrations) -> None:
    """The new time (or join link) to each; the calendar file with the raised SEQUENCE replaces the old one."""
    for registration in registrations:
        seated = registration.status == "registered"
        _send(registration, subject=f"Changed: {event.title}", template="event_change",
              attachments=[_ics(event, registration=registration)] if seated else [])


def send_cancellation(event, registrations, *, note: str = "") -> None:
    """To everyone who held a seat or waited for one; a seat holder's calendar gets the cancellation."""
    events_url = site_url_for("events.index")
    for registration in registrations:
        seated = registration.status == "registered"
        _send(registration, subject=f"Cancelled: {event.title}", template="event_cancellation", note=note,
              note_paragraphs=paragraphs(note), seated=seated, events_url=events_url,
              attachments=[_ics(event, registration=registration, method="CANCEL")] if seated else [])


def send_message(event, registrations, *, subject: str, body: str) -> None:
    """Staff's own words, as plain text (the HTML part escapes them and keeps the paragraphs)."""
    shown = paragraphs(body)
    for registration in registrations:
        _send(registration, subject=subject, template="event_message", message_subject=subject, body=body,
              paragraphs=shown)


def reminder_message(registration, kind: str) -> EmailMessage:
    """The "day" or "hour" reminder, built but not sent: portal/events/reminders.py delivers it only once its
    claim on the reminder has been committed."""
    event = registration.event
    return build_message(to=registration.email, subject=REMINDER_SUBJECTS[kind].format(title=event.title),
                         template="event_reminder", kind=kind, **_details(event, registration))


def send_guest_link(event, *, name: str, email: str, token: str) -> None:
    """The link that confirms a guest's address and registers them; no registration exists yet."""
    context = _details(event)
    context["name"] = name
    send_mail(to=email, subject=f"Confirm your registration: {event.title}", template="event_guest_link",
              link=site_url_for("events.confirm_guest", slug=event.slug, token=token),
              valid_days=GUEST_LINK_MAX_AGE // (24 * 3600), **context)
