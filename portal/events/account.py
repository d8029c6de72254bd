"""A member's own side of the webinars: their places as /account lists them, their data export, and their
private calendar address."""
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from portal.audit.services import record_event
from portal.database import insert_ignoring_conflict, utcnow
from portal.events.models import CalendarFeed, Event, Registration, new_key
from portal.events.registrations import registrations_of
from portal.extensions import db
from portal.members.models import Member


# --- private calendar feeds --------------------------------------------------------------------------------

def calendar_feed(member) -> CalendarFeed:
    """The member's private calendar address, made the first time it is asked for."""
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.member_id == member.id))
    if feed is None:
        # Two first views at once (two tabs): one row wins, the other request reads it.
        db.session.execute(insert_ignoring_conflict(CalendarFeed).values(member_id=member.id, secret=new_key(),
                                                                         created_at=utcnow()))
        feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.member_id == member.id))
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


# --- the member's own places (/account) ---------------------------------------------------------------

@dataclass(frozen=True)
class AccountEvent:
    """One of the member's places as the account page lists it."""

    registration: Registration
    event: Event
    waitlist_number: int | None
    # The member's own zone, when they set one and it differs from the event's: the times are shown in both.
    own_zone: ZoneInfo | None


@dataclass(frozen=True)
class AccountEvents:
    upcoming: list[AccountEvent]
    past: list[AccountEvent]
    calendar_secret: str


def waitlist_positions(registrations: list[Registration]) -> dict[int, int]:
    """Each waitlisted registration's place in line, for all of them in one query (the account page's query
    count must not grow with the member's registrations, as waitlist_position's one query each would)."""
    waiting = [r.id for r in registrations if r.status == "waitlisted"]
    if not waiting:
        return {}
    mine, ahead = aliased(Registration), aliased(Registration)
    rows = db.session.execute(
        select(mine.id, func.count(ahead.id))
        .join(ahead, and_(ahead.event_id == mine.event_id, ahead.status == "waitlisted",
                          or_(ahead.queued_at < mine.queued_at,
                              and_(ahead.queued_at == mine.queued_at, ahead.id <= mine.id))))
        .where(mine.id.in_(waiting)).group_by(mine.id))
    return dict(rows.all())


def account_events(member: Member) -> AccountEvents:
    """The member's upcoming and past places, and their private calendar address (made on first view: the
    request that shows it commits it)."""
    upcoming, past = registrations_of(member)
    numbers = waitlist_positions(upcoming)
    try:
        zone = ZoneInfo(member.timezone) if member.timezone else None
    except (ZoneInfoNotFoundError, ValueError):  # a zone the system's tz database no longer has: show none
        zone = None

    def row(registration: Registration) -> AccountEvent:
        event = registration.event
        own = zone if zone is not None and member.timezone != event.timezone else None
        return AccountEvent(registration, event, numbers.get(registration.id), own)

    return AccountEvents([row(r) for r in upcoming], [row(r) for r in past], calendar_feed(member).secret)


def export_registrations(member) -> list[dict]:
    """Every registration the member made, cancelled ones too, for their data export."""
    def when(value):
        return value.isoformat() if value else None

    return [{"event": registration.event.title, "slug": registration.event.slug,
             "starts_at": when(registration.event.starts_at), "status": registration.status,
             "registered_at": when(registration.created_at)}
            for registration in db.session.scalars(
                select(Registration).join(Event, Registration.event_id == Event.id)
                .where(Registration.member_id == member.id).order_by(Event.starts_at, Registration.id))]
