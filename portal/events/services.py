"""Webinars: writing series and events (the time, the place, the follow-up), and listing them.

Registration, the seats and the waitlist are in portal/events/registrations.py."""
import logging
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import uow
from portal.audit.services import record_event
from portal.database import utcnow
from portal.events import notices, registrations, search_docs
from portal.events.models import REGISTRATION, Event, EventResource, Series
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.library.models import AUDIENCES, Resource
from portal.records import save_by_slug
from portal.text import clean_slug, clean_title, clean_topics, clean_web_address

log = logging.getLogger(__name__)

RESERVED_SLUGS = {"series", "registration"}  # /events/series/<slug> and /events/registration/<key>
MAX_SPEAKERS = 12
# What an attendee's calendar must hear about: a change to any of these raises the event's SEQUENCE and
# mails every registrant.
CALENDAR_FIELDS = ("title", "starts_at", "ends_at", "timezone", "join_url", "status")
NOTICE_FIELDS = ("starts_at", "ends_at", "timezone", "join_url")
EDITABLE = ("title", "slug", "description", "series_id", "speakers", "audiences", "topics", "starts_at", "ends_at",
            "timezone", "registration_opens_at", "registration_closes_at", "capacity", "has_waitlist",
            "registration", "join_url", "recording_url", "slides_id")


# --- time zones --------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def known_timezones() -> tuple[str, ...]:
    """The IANA zones people pick from (Area/Location names; tzdata is read once per process)."""
    return tuple(sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))))


def check_timezone(name: str | None, *, field: str = "timezone", allow_empty: bool = False) -> str:
    """A zone from the list people pick from (or "UTC"); anything else, even a file the tz database happens to
    hold ("posixrules", a bare "America" folder), is refused with a message."""
    name = (name or "").strip()
    if not name and allow_empty:
        return ""
    if name != "UTC" and name not in _known_set():
        raise ValidationFailed(field, "Choose a time zone from the list, like America/Chicago.")
    return name


@lru_cache(maxsize=1)
def _known_set() -> frozenset[str]:
    return frozenset(known_timezones())


def local_to_utc(local: datetime, zone: str) -> datetime:
    """A wall-clock time in `zone` (naive, as typed or written in content) as an aware UTC time."""
    if local.tzinfo is not None:
        return local.astimezone(timezone.utc)
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


# --- series ------------------------------------------------------------------------------------------------

def save_series(*, slug: str, title: str, summary: str = "", actor=None) -> tuple[Series, bool]:
    """Create or update the series with this slug; returns (series, changed)."""
    slug = clean_slug(slug, title)
    title = " ".join((title or "").split())
    if not title or len(title) > 200:
        raise ValidationFailed("title", "Give the series a title (at most 200 characters).")
    series, changed = save_by_slug(Series, slug, {"title": title, "summary": (summary or "").strip()})
    if changed:
        record_event(actor=actor, action="event.series_saved", subject=f"series {slug}")
    return series, changed


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
        out["title"] = clean_title(out["title"], what="event")
    if "slug" in out:
        out["slug"] = clean_slug(out["slug"], out.get("title", ""), reserved=RESERVED_SLUGS)
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
        notices.send_change(event, registrations.holders(event, waitlisted=True))
    if "capacity" in changes or "has_waitlist" in changes:
        registrations.fill_seats(event)
    return event


def cancel_event(event: Event, *, actor, note: str = "") -> Event:
    """Cancel the event and tell everyone who holds a place or waits for one."""
    if event.is_cancelled:
        return event
    event.status = "cancelled"
    event.sequence += 1
    _save(event, actor=actor, action="cancelled", changes={"status": ["scheduled", "cancelled"]})
    notices.send_cancellation(event, registrations.holders(event, waitlisted=True), note=note.strip())
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


def events_for_staff(*, now: datetime | None = None) -> tuple[list[Event], list[Event]]:
    """Every event for the staff list: (not ended, soonest first; ended, newest first), cancelled ones too."""
    now = now or utcnow()
    upcoming = list(db.session.scalars(select(Event).where(Event.ends_at > now).order_by(Event.starts_at, Event.id)))
    past = list(db.session.scalars(select(Event).where(Event.ends_at <= now)
                                   .order_by(Event.starts_at.desc(), Event.id.desc())))
    return upcoming, past


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
