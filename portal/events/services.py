"""Webinars: writing series and events, and registration with its capacity and waitlist.

Seats are counted on the event row (`registered_count`) and taken by one conditional UPDATE ("one more, if
fewer than the capacity"), which the database runs one at a time per event: two people asking for the last
seat at once get one seat between them, on SQLite (one writer at a time) and on PostgreSQL (the row lock).
A check constraint refuses any count above the capacity. Every change of a registration's status is a
conditional UPDATE too ("cancelled, if it still is registered"), so a double click or two processes
cancelling the same place free one seat, not two. Whoever frees a seat hands it on to the first person on the
waitlist in the same transaction.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal import uow
from portal.audit.services import record_event
from portal.database import utcnow
from portal.events import notices
from portal.events.models import REGISTRATION, CalendarFeed, Event, EventResource, Registration, Series, new_key
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.library.models import AUDIENCES, Resource
from portal.members.models import Member
from portal.records import save_by_slug
from portal.text import clean_slug, clean_topics, clean_web_address, normalize_email
from portal.tokens import TokenInvalid, make_token, read_token

log = logging.getLogger(__name__)

RESERVED_SLUGS = {"series"}  # /events/series/<slug> is the series page
MAX_SPEAKERS = 12
# What an attendee's calendar must hear about: a change to any of these raises the event's SEQUENCE and
# mails every registrant.
CALENDAR_FIELDS = ("title", "starts_at", "ends_at", "timezone", "join_url", "status")
NOTICE_FIELDS = ("starts_at", "ends_at", "timezone", "join_url")
EDITABLE = ("title", "slug", "description", "series_id", "speakers", "audiences", "topics", "starts_at", "ends_at",
            "timezone", "registration_opens_at", "registration_closes_at", "capacity", "has_waitlist",
            "registration", "join_url", "recording_url", "slides_id")

CLOSED_MESSAGES = {
    "cancelled": "This event has been cancelled: registration is closed.",
    "past": "This event has already started: registration is closed.",
    "not_open": "Registration for this event has not opened yet.",
    "closed": "Registration for this event has closed.",
}
FULL = "This event is full, and it has no waiting list."
UNVERIFIED = "Confirm your email address before you register: we sent you a link when you joined."
MEMBERS_ONLY = "This event is for members of the community of practice: sign in or join to register."


# --- time zones --------------------------------------------------------------------------------------------

def known_timezones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def check_timezone(name: str | None, *, field: str = "timezone", allow_empty: bool = False) -> str:
    name = (name or "").strip()
    if not name and allow_empty:
        return ""
    try:
        if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(field, "Choose a time zone from the list, like America/Chicago.") from exc
    return name


def local_to_utc(local: datetime, zone: str) -> datetime:
    """A wall-clock time in `zone` (naive, as typed or written in content) as an aware UTC time."""
    if local.tzinfo is not None:
        return local.astimezone(timezone.utc)
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


# --- series ------------------------------------------------------------------------------------------------

def save_series(*, slug: str, title: str, summary: str = "") -> tuple[Series, bool]:
    slug = clean_slug(slug, title)
    title = " ".join((title or "").split())
    if not title or len(title) > 200:
        raise ValidationFailed("title", "Give the series a title (at most 200 characters).")
    return save_by_slug(Series, slug, {"title": title, "summary": (summary or "").strip()})


def get_series(slug: str) -> Series | None:
    return db.session.scalar(select(Series).where(Series.slug == slug))


def list_series() -> list[Series]:
    return list(db.session.scalars(select(Series).order_by(Series.title)))


# --- events ------------------------------------------------------------------------------------------------

def _clean_speakers(speakers) -> list[dict]:
    cleaned = []
    for speaker in speakers or []:
        if isinstance(speaker, str):
            speaker = {"name": speaker}
        if not isinstance(speaker, dict):
            raise ValidationFailed("speakers", "Give each speaker a name, and optionally a title and organisation.")
        entry = {key: " ".join(str(speaker.get(key) or "").split())[:200] for key in ("name", "title", "organisation")}
        if not entry["name"]:
            raise ValidationFailed("speakers", "Give each speaker a name.")
        cleaned.append(entry)
    if len(cleaned) > MAX_SPEAKERS:
        raise ValidationFailed("speakers", f"List at most {MAX_SPEAKERS} speakers.")
    return cleaned


def _resource_id(slug: str | None, field: str) -> int | None:
    if not slug:
        return None
    resource_id = db.session.scalar(select(Resource.id).where(Resource.slug == slug))
    if resource_id is None:
        raise ValidationFailed(field, f"No library resource has the slug {slug!r}.")
    return resource_id


def _aware(value, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationFailed(field, "Give the time with its time zone.")
    return value


def _clean(fields: dict, event: Event | None) -> dict:
    """Check and normalise event fields (times are aware datetimes); raises ValidationFailed naming the field."""
    out = dict(fields)
    if "title" in out:
        out["title"] = " ".join((out["title"] or "").split())
        if not out["title"]:
            raise ValidationFailed("title", "Give the event a title.")
        if len(out["title"]) > 200:
            raise ValidationFailed("title", "Use at most 200 characters for the title.")
    if "slug" in out:
        out["slug"] = clean_slug(out["slug"], out.get("title", ""))
        if out["slug"] in RESERVED_SLUGS:
            raise ValidationFailed("slug", "That address is reserved; choose another slug.")
    if "description" in out:
        out["description"] = (out["description"] or "").strip()
        if len(out["description"]) > 100_000:
            raise ValidationFailed("description", "The description is too long (100,000 characters at most).")
    if "series" in out:
        slug = out.pop("series")
        series = get_series(slug) if slug else None
        if slug and series is None:
            raise ValidationFailed("series", "Choose a series from the list.")
        out["series_id"] = series.id if series else None
    if "speakers" in out:
        out["speakers"] = _clean_speakers(out["speakers"])
    if "audiences" in out:
        chosen = set(out["audiences"] or [])
        out["audiences"] = [a for a in AUDIENCES if a in chosen]
        if len(out["audiences"]) != len(chosen):
            raise ValidationFailed("audiences", "Choose audiences from the list.")
    if "topics" in out:
        out["topics"] = clean_topics(out["topics"])
    if "timezone" in out:
        out["timezone"] = check_timezone(out["timezone"])
    for key in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
        if key in out:
            out[key] = _aware(out[key], key)
    starts = out.get("starts_at", event.starts_at if event else None)
    ends = out.get("ends_at", event.ends_at if event else None)
    if starts is None:
        raise ValidationFailed("starts_at", "Give the start time.")
    if ends is None or ends <= starts:
        raise ValidationFailed("ends_at", "The end must come after the start.")
    opens = out.get("registration_opens_at", event.registration_opens_at if event else None)
    closes = out.get("registration_closes_at", event.registration_closes_at if event else None)
    if opens is not None and closes is not None and closes <= opens:
        raise ValidationFailed("registration_closes_at", "Registration must close after it opens.")
    if "capacity" in out and out["capacity"] is not None:
        if not isinstance(out["capacity"], int) or isinstance(out["capacity"], bool) or not 0 < out["capacity"] <= 100_000:
            raise ValidationFailed("capacity", "Give the capacity as a whole number from 1 to 100,000, or leave it empty.")
        if event is not None and out["capacity"] < event.registered_count:
            raise ValidationFailed("capacity", f"{event.registered_count} people hold a seat: the capacity cannot be "
                                               "lower than that (cancel registrations first).")
    if "registration" in out and out["registration"] not in REGISTRATION:
        raise ValidationFailed("registration", "Choose who may register from the list.")
    for key in ("join_url", "recording_url"):
        if key in out:
            out[key] = clean_web_address(out[key], field=key)
    if "slides" in out:
        out["slides_id"] = _resource_id(out.pop("slides"), "slides")
    if "resources" in out:
        slugs = [s.strip() for s in (out["resources"] or []) if s and s.strip()]
        out["resources"] = list(dict.fromkeys(_resource_id(slug, "resources") for slug in slugs))
    return out


def _shorten(value):
    if isinstance(value, str) and len(value) > 300:
        return value[:300] + "…"
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _slug_taken(slug: str, event: Event) -> bool:
    with db.session.no_autoflush:
        other = db.session.scalar(select(Event.id).where(Event.slug == slug))
    return other is not None and other != event.id


def _set_resources(event: Event, resource_ids: list[int]) -> bool:
    if [link.resource_id for link in event.resource_links] == resource_ids:
        return False
    event.resource_links.clear()
    db.session.flush()
    event.resource_links.extend(EventResource(resource_id=rid, position=n) for n, rid in enumerate(resource_ids))
    return True


def _save(event: Event, *, actor, action: str, changes: dict) -> Event:
    if "slug" in changes and _slug_taken(event.slug, event):
        raise ValidationFailed("slug", "Another event already uses that slug; choose another.")
    record_event(actor=actor, action=f"event.{action}", subject=f"event {event.slug}", fields=sorted(changes))
    try:
        db.session.flush()
    except IntegrityError as exc:  # the same slug saved by someone else in the meantime
        uow.rollback()
        raise ValidationFailed("slug", "Another event already uses that slug; choose another.") from exc
    reindex(event)
    return event


def reindex(event: Event) -> None:
    """Bring the event's search document in line once the unit of work commits."""
    from portal.events import search_docs

    search_docs.reindex(event)


def create_event(*, actor, title: str, starts_at: datetime, ends_at: datetime, timezone: str, slug: str = "",
                 **fields) -> Event:
    """A scheduled event. Other fields: description, series (slug), speakers, audiences, topics,
    registration_opens_at, registration_closes_at, capacity, has_waitlist, registration, join_url,
    recording_url, slides (slug), resources (slugs)."""
    cleaned = _clean(dict(fields, title=title, slug=slug, starts_at=starts_at, ends_at=ends_at, timezone=timezone),
                     None)
    resources = cleaned.pop("resources", [])
    event = Event(created_by_id=actor.id if actor else None, **cleaned)
    if _slug_taken(event.slug, event):
        raise ValidationFailed("slug", "Another event already uses that slug; choose another.")
    db.session.add(event)
    _set_resources(event, resources)
    return _save(event, actor=actor, action="created", changes={key: [None, _shorten(v)] for key, v in cleaned.items()})


def update_event(event: Event, *, actor, **fields) -> Event:
    """Change an event; a change of time or join link raises its calendar SEQUENCE and mails every registrant,
    and more seats hand places to the waitlist."""
    cleaned = _clean(fields, event)
    resources = cleaned.pop("resources", None)
    changes = {}
    for key in EDITABLE:
        if key in cleaned and getattr(event, key) != cleaned[key]:
            changes[key] = [_shorten(getattr(event, key)), _shorten(cleaned[key])]
            setattr(event, key, cleaned[key])
    if resources is not None and _set_resources(event, resources):
        changes["resources"] = ["", ", ".join(str(r) for r in resources)]
    if not changes:
        return event
    if any(key in changes for key in CALENDAR_FIELDS):
        event.sequence += 1
    _save(event, actor=actor, action="updated", changes=changes)
    if any(key in changes for key in NOTICE_FIELDS) and not event.is_cancelled:
        notices.send_change(event, holders(event))
    if "capacity" in changes or "has_waitlist" in changes:
        fill_seats(event)
    return event


def cancel_event(event: Event, *, actor, note: str = "") -> Event:
    """Cancel the event and tell everyone who holds a place or waits for one."""
    if event.is_cancelled:
        return event
    event.status = "cancelled"
    event.sequence += 1
    _save(event, actor=actor, action="cancelled", changes={"status": ["scheduled", "cancelled"]})
    notices.send_cancellation(event, holders(event, waitlisted=True), note=note.strip())
    return event


def add_follow_up(event: Event, *, actor, recording_url: str = "", slides: str | None = None,
                  resources=None) -> Event:
    """After the event: its recording, slides and related resources."""
    fields = {"recording_url": recording_url, "slides": slides}
    if resources is not None:
        fields["resources"] = resources
    return update_event(event, actor=actor, **fields)


def get_event(slug: str) -> Event | None:
    return db.session.scalar(select(Event).where(Event.slug == slug))


def get_event_by_id(event_id: int) -> Event | None:
    return db.session.get(Event, event_id)


@dataclass
class EventFilters:
    series: str = ""
    audience: str = ""
    topic: str = ""


def _matches(event: Event, filters: EventFilters | None) -> bool:
    if filters is None:
        return True
    if filters.audience and filters.audience not in (event.audiences or []):
        return False
    if filters.topic and filters.topic.lower() not in (event.topics or []):
        return False
    return True


def upcoming_events(*, now: datetime | None = None, filters: EventFilters | None = None,
                    limit: int | None = None) -> list[Event]:
    """Events that have not ended, soonest first (cancelled ones too: people need to know)."""
    now = now or utcnow()
    query = select(Event).where(Event.ends_at > now).order_by(Event.starts_at, Event.id)
    if filters is not None and filters.series:
        query = query.join(Series, Event.series_id == Series.id).where(Series.slug == filters.series)
    events = [e for e in db.session.scalars(query) if _matches(e, filters)]
    return events[:limit] if limit is not None else events


def past_events(*, now: datetime | None = None, filters: EventFilters | None = None) -> list[Event]:
    """Events that have ended and were not cancelled, newest first."""
    now = now or utcnow()
    query = (select(Event).where(Event.ends_at <= now, Event.status == "scheduled")
             .order_by(Event.starts_at.desc(), Event.id.desc()))
    if filters is not None and filters.series:
        query = query.join(Series, Event.series_id == Series.id).where(Series.slug == filters.series)
    return [e for e in db.session.scalars(query) if _matches(e, filters)]


def next_events(*, limit: int = 3, now: datetime | None = None) -> list[Event]:
    """For the home page: the next scheduled events."""
    now = now or utcnow()
    return list(db.session.scalars(select(Event).where(Event.starts_at > now, Event.status == "scheduled")
                                   .order_by(Event.starts_at, Event.id).limit(limit)))


def event_topics() -> list[str]:
    topics = set()
    for row in db.session.scalars(select(Event.topics)):
        topics.update(row or [])
    return sorted(topics)


# --- seats -------------------------------------------------------------------------------------------------

def _take_seat(event: Event) -> bool:
    """One more seat, if the event is scheduled and not full: one statement, so the database decides."""
    result = db.session.execute(
        update(Event)
        .where(Event.id == event.id, Event.status == "scheduled",
               or_(Event.capacity.is_(None), Event.registered_count < Event.capacity))
        .values(registered_count=Event.registered_count + 1, updated_at=Event.updated_at)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _free_seat(event: Event) -> None:
    db.session.execute(update(Event).where(Event.id == event.id, Event.registered_count > 0)
                       .values(registered_count=Event.registered_count - 1, updated_at=Event.updated_at)
                       .execution_options(synchronize_session=False))


def _move(registration: Registration, *, from_status: str, to_status: str, now: datetime | None = None) -> bool:
    """Change a registration's status only if it still has `from_status` (someone else may have changed it)."""
    values = {"status": to_status, "updated_at": utcnow()}
    if to_status == "waitlisted":
        values["queued_at"] = now or utcnow()
    result = db.session.execute(update(Registration)
                                .where(Registration.id == registration.id, Registration.status == from_status)
                                .values(**values).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _refresh(*rows) -> None:
    for row in rows:
        db.session.refresh(row)


def fill_seats(event: Event) -> list[Registration]:
    """Hand free seats to the waitlist, first come first served; each promoted person is mailed."""
    promoted = []
    # Taking the seat first locks the event row (PostgreSQL) or the database (SQLite) before the waitlist is
    # read, so two people freeing seats at once promote two different people.
    while _take_seat(event):
        first = db.session.scalar(select(Registration)
                                  .where(Registration.event_id == event.id, Registration.status == "waitlisted")
                                  .order_by(Registration.queued_at, Registration.id).limit(1))
        if first is None:
            _free_seat(event)
            break
        if _move(first, from_status="waitlisted", to_status="registered"):
            promoted.append(first)
        else:  # they cancelled meanwhile: give the seat back and look again
            _free_seat(event)
    _refresh(event, *promoted)
    for registration in promoted:
        notices.send_promotion(registration)
    return promoted


# --- registration ------------------------------------------------------------------------------------------

def find_registration(event: Event, *, member=None, guest_email: str | None = None) -> Registration | None:
    if member is not None:
        condition = Registration.member_id == member.id
    else:
        condition = Registration.guest_email == normalize_email(guest_email or "")
    return db.session.scalar(select(Registration).where(Registration.event_id == event.id, condition))


def can_register(event: Event, user, now: datetime | None = None) -> str | None:
    """None when `user` (a member, or None for a guest) may register now, else the reason as a message."""
    state = event.registration_state(now or utcnow())
    if state != "open":
        return CLOSED_MESSAGES[state]
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    if signed_in and not user.is_verified:
        return UNVERIFIED
    if not signed_in and event.registration != "anyone":
        return MEMBERS_ONLY
    if event.seats_left() == 0 and not event.has_waitlist:
        return FULL
    return None


def register(event: Event, *, member=None, guest_name: str = "", guest_email: str | None = None,
             now: datetime | None = None) -> Registration:
    """A place for a member, or for a guest whose address is confirmed: a seat when one is free, else a place on
    the waitlist. Registering again changes nothing (a cancelled registration is renewed)."""
    now = now or utcnow()
    reason = can_register(event, member, now)
    if reason:
        raise ValidationFailed(None, reason)
    if member is None:
        guest_email = normalize_email(guest_email or "")
        guest_name = " ".join((guest_name or "").split())[:120]
        if not guest_email or not guest_name:
            raise ValidationFailed(None, "Give your name and email address to register.")
    existing = find_registration(event, member=member, guest_email=guest_email)
    if existing is not None and existing.status != "cancelled":
        return existing
    seated = _take_seat(event)
    if not seated and not event.has_waitlist:
        uow.rollback()
        raise ValidationFailed(None, FULL)
    status = "registered" if seated else "waitlisted"
    if existing is not None:
        if not _move(existing, from_status="cancelled", to_status=status, now=now):  # renewed by a second click
            uow.rollback()
            return find_registration(event, member=member, guest_email=guest_email)
        registration = existing
    else:
        registration = Registration(event_id=event.id, member_id=member.id if member else None,
                                    guest_name="" if member else guest_name, guest_email=None if member else guest_email,
                                    status=status, queued_at=now)
        db.session.add(registration)
        try:
            db.session.flush()
        except IntegrityError:
            # The same person registering twice at once: the other request holds the place. The seat this
            # one took goes back with the rollback.
            uow.rollback()
            return find_registration(event, member=member, guest_email=guest_email)
    _refresh(event, registration)
    if seated:
        notices.send_confirmation(registration)
    else:
        notices.send_waitlisted(registration)
    return registration


def cancel_registration(registration: Registration, *, actor=None) -> Registration:
    """Give up a place (or a place in line); a freed seat goes to the first on the waitlist."""
    before = registration.status
    if before == "cancelled" or not _move(registration, from_status=before, to_status="cancelled"):
        _refresh(registration)
        return registration
    event = registration.event
    if before == "registered":
        _free_seat(event)
        fill_seats(event)
    _refresh(registration)
    if actor is not None and actor.is_staff and actor.id != registration.member_id:
        record_event(actor=actor, action="event.registration_cancelled", subject=f"event {event.slug}",
                     registration=registration.id)
    return registration


def release_member(member) -> None:
    """The member's account goes: their seats go to the waitlists first."""
    for registration in db.session.scalars(select(Registration).where(Registration.member_id == member.id,
                                                                      Registration.status != "cancelled")):
        cancel_registration(registration)


def get_registration_by_key(key: str) -> Registration | None:
    if not key or len(key) > 64:
        return None
    return db.session.scalar(select(Registration).where(Registration.key == key))


def get_registration(registration_id: int) -> Registration | None:
    return db.session.get(Registration, registration_id)


def holders(event: Event, *, waitlisted: bool = False) -> list[Registration]:
    """Registered people (and with `waitlisted`, those in line too), in the order they came."""
    statuses = ("registered", "waitlisted") if waitlisted else ("registered",)
    return list(db.session.scalars(select(Registration)
                                   .where(Registration.event_id == event.id, Registration.status.in_(statuses))
                                   .order_by(Registration.queued_at, Registration.id)))


def registrations_for_staff(event: Event) -> list[Registration]:
    """Everyone who registered, waits or cancelled: seats first, then the waitlist in its order, then cancelled."""
    order = {"registered": 0, "waitlisted": 1, "cancelled": 2}
    rows = db.session.scalars(select(Registration).where(Registration.event_id == event.id)
                              .order_by(Registration.queued_at, Registration.id))
    return sorted(rows, key=lambda r: order[r.status])


def waitlist_position(registration: Registration) -> int | None:
    if registration.status != "waitlisted":
        return None
    ahead = db.session.scalar(select(func.count()).select_from(Registration).where(
        Registration.event_id == registration.event_id, Registration.status == "waitlisted",
        or_(Registration.queued_at < registration.queued_at,
            (Registration.queued_at == registration.queued_at) & (Registration.id < registration.id))))
    return ahead + 1


def registrations_of(member, *, now: datetime | None = None) -> tuple[list[Registration], list[Registration]]:
    """A member's places (not the cancelled ones): (upcoming soonest first, past newest first)."""
    now = now or utcnow()
    rows = list(db.session.scalars(select(Registration).join(Event, Registration.event_id == Event.id)
                                   .where(Registration.member_id == member.id, Registration.status != "cancelled")
                                   .order_by(Event.starts_at)))
    upcoming = [r for r in rows if r.event.ends_at > now]
    past = [r for r in rows if r.event.ends_at <= now][::-1]
    return upcoming, past


def mark_attendance(event: Event, *, actor, attended_ids) -> int:
    """After the event, staff tick who came; returns how many were marked as attending."""
    attended = {int(i) for i in attended_ids}
    count = 0
    for registration in holders(event):
        value = registration.id in attended
        count += value
        registration.attended = value
    record_event(actor=actor, action="event.attendance", subject=f"event {event.slug}", attended=count)
    return count


def message_registrants(event: Event, *, actor, subject: str, body: str) -> int:
    """Staff mail everyone who holds a seat; returns how many were written to."""
    subject, body = " ".join((subject or "").split()), (body or "").strip()
    if not subject or len(subject) > 200:
        raise ValidationFailed("subject", "Give the message a subject (at most 200 characters).")
    if not body or len(body) > 20_000:
        raise ValidationFailed("body", "Write the message (at most 20,000 characters).")
    recipients = holders(event)
    notices.send_message(event, recipients, subject=subject, body=body)
    record_event(actor=actor, action="event.messaged", subject=f"event {event.slug}", recipients=len(recipients),
                 message_subject=subject)
    return len(recipients)


# --- private calendar feeds --------------------------------------------------------------------------------

def calendar_feed(member) -> CalendarFeed:
    """The member's private calendar address, made the first time it is asked for."""
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.member_id == member.id))
    if feed is None:
        feed = CalendarFeed(member_id=member.id)
        db.session.add(feed)
        db.session.flush()
    return feed


def reset_calendar_feed(member) -> CalendarFeed:
    """A new secret: the old address stops working at once."""
    feed = calendar_feed(member)
    feed.secret = new_key()
    record_event(actor=member, action="event.calendar_reset", subject=f"member #{member.id}")
    return feed


def member_for_calendar(secret: str):
    if not secret or len(secret) > 64:
        return None
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.secret == secret))
    return db.session.get(Member, feed.member_id) if feed is not None else None


# --- guests ------------------------------------------------------------------------------------------------

GUEST_LINK_MAX_AGE = 3 * 24 * 3600


def request_guest_registration(event: Event, *, name: str, email: str, now: datetime | None = None) -> None:
    """A visitor without an account asks for a place: we mail a link that confirms their address and registers
    them. The answer is the same whether or not the address is known (no one learns who has registered)."""
    reason = can_register(event, None, now)
    if reason:
        raise ValidationFailed(None, reason)
    name = " ".join((name or "").split())
    if not name or len(name) > 120:
        raise ValidationFailed("name", "Give your name (at most 120 characters).")
    email = normalize_email(email or "")
    token = make_token("event-guest", {"event": event.id, "name": name, "email": email})
    notices.send_guest_link(event, name=name, email=email, token=token)


def confirm_guest_registration(token: str, *, now: datetime | None = None) -> Registration:
    """The mailed link was followed: the address is confirmed, so the guest registers (once, however often
    the link is used). Raises TokenInvalid for a bad or old link, ValidationFailed when registration closed."""
    payload = read_token("event-guest", token, GUEST_LINK_MAX_AGE)
    event = get_event_by_id(payload.get("event")) if isinstance(payload.get("event"), int) else None
    if event is None or not isinstance(payload.get("email"), str) or not isinstance(payload.get("name"), str):
        raise TokenInvalid()
    existing = find_registration(event, guest_email=payload["email"])
    if existing is not None and existing.status != "cancelled":
        return existing
    return register(event, guest_name=payload["name"], guest_email=payload["email"], now=now)
