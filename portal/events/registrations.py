"""Registration for webinars: seats, the waitlist, guests, attendance and messages to registrants.

Seats are counted on the event row (`registered_count`) and taken by one conditional UPDATE ("one more, if
fewer than the capacity"), which the database runs one at a time per event: two people asking for the last
seat at once get one seat between them, on SQLite (one writer at a time) and on PostgreSQL (the row lock).
A check constraint refuses any count above the capacity. Every change of a registration's status is a
conditional UPDATE too ("cancelled, if it still is registered"), so a double click or two processes
cancelling the same place free one seat, not two. Whoever frees a seat hands it on to the first person on the
waitlist in the same transaction.
"""
import logging
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal import uow
from portal.audit.services import record_event
from portal.database import utcnow
from portal.events import notices
from portal.events.models import GUEST_LINK_MAX_AGE, Event, Registration
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.text import normalize_email
from portal.tokens import TokenInvalid, make_token, read_token

log = logging.getLogger(__name__)

CLOSED_MESSAGES = {
    "cancelled": "This event has been cancelled: registration is closed.",
    "past": "This event has already started: registration is closed.",
    "not_open": "Registration for this event has not opened yet.",
    "closed": "Registration for this event has closed.",
}
FULL = "This event is full, and it has no waiting list."
UNVERIFIED = "Confirm your email address before you register: we sent you a link when you joined."
MEMBERS_ONLY = "This event is for members of the community of practice: sign in or join to register."


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
        notices.send_waitlisted(registration, position=waitlist_position(registration))
    return registration


def cancel_registration(registration: Registration, *, actor=None) -> Registration:
    """Give up a place (or a place in line); a freed seat goes to the first on the waitlist."""
    for _ in range(3):  # the status read may be old: another request may have seated this person meanwhile
        before = registration.status
        if before == "cancelled":
            return registration
        if _move(registration, from_status=before, to_status="cancelled"):
            break
        _refresh(registration)
    else:
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


def attendance_refusal(event: Event, now: datetime | None = None) -> str | None:
    """Why attendance cannot be marked yet (or at all), or None."""
    if event.is_cancelled:
        return "The event was cancelled: there is no attendance to mark."
    if event.starts_at > (now or utcnow()):
        return "Attendance can be marked once the event has started."
    return None


def mark_attendance(event: Event, *, actor, attended_ids, now: datetime | None = None) -> int:
    """Once the event has started, staff tick who came; returns how many were marked as attending."""
    refusal = attendance_refusal(event, now)
    if refusal:
        raise ValidationFailed(None, refusal)
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


# --- guests ------------------------------------------------------------------------------------------------

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
    event = db.session.get(Event, payload["event"]) if isinstance(payload.get("event"), int) else None
    if event is None or not isinstance(payload.get("email"), str) or not isinstance(payload.get("name"), str):
        raise TokenInvalid()
    existing = find_registration(event, guest_email=payload["email"])
    if existing is not None and existing.status != "cancelled":
        return existing
    return register(event, guest_name=payload["name"], guest_email=payload["email"], now=now)


def waitlist_counts(event_ids) -> dict[int, int]:
    """How many wait for a seat at each of these events, in one grouped COUNT."""
    ids = list(event_ids)
    if not ids:
        return {}
    rows = db.session.execute(select(Registration.event_id, func.count())
                              .where(Registration.event_id.in_(ids), Registration.status == "waitlisted")
                              .group_by(Registration.event_id))
    return {event_id: count for event_id, count in rows}
