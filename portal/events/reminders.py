"""Webinar reminders, 24 hours and 1 hour before the start, each mailed once however often, and in however
many processes at once, `send_due_reminders` runs (`flask events remind`, the worker's schedule).

Who gets which reminder:
- Each kind has a window: from its lead time before the start until the next shorter kind's window opens
  (for "day": from 24 h until 1 h before; for "hour": from 1 h before until the start). A run sends only the
  reminder whose window it is in, so nobody gets the day reminder and the hour reminder together, and a run
  missed for a whole window (the worker was down) skips that reminder rather than sending it late.
- Only to people who held their seat before the window opened: someone who registers, or is promoted from
  the waitlist, 3 hours before the start gets the 1-hour reminder only (their confirmation, just sent, has the
  time and the join link). The registration's `updated_at` is when its status last changed.
- A reminder counts as sent only if it was sent within the window of the event's current time: when the
  event moves to a later day after a reminder went out, that reminder is sent again before the new time.

How "once" is kept: the run claims each reminder in event_reminders_sent, whose (registration_id, kind) is
unique, with INSERT ... ON CONFLICT DO NOTHING RETURNING (a claim sent for an earlier time is renewed by a
conditional UPDATE), and mails only the claims that came back. A second process claiming the same rows at
the same time waits for the first one's commit (the unique index on PostgreSQL, the write lock on SQLite)
and gets nothing back.

The whole run is one unit of work: the claims commit together and the mail goes after the commit, never for
claims that were rolled back. Each message is rendered before it is claimed, so one that cannot be built is
logged and left for the next run instead of being claimed and lost; the claims are a few statements, not one
per reminder, so a large webinar does not keep the database locked.
"""
import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.orm import contains_eager

from portal import uow
from portal.database import insert_ignoring_conflict, utcnow
from portal.events import notices
from portal.events.models import REMINDERS, Event, Registration, ReminderSent
from portal.extensions import db
from portal.mail import deliver

log = logging.getLogger(__name__)
CLAIM_BATCH = 500  # rows per INSERT: well under SQLite's limit on bound parameters


def windows() -> list[tuple[str, timedelta, timedelta]]:
    """(kind, opens before the start, closes before the start), the longest lead first."""
    ordered = sorted(REMINDERS.items(), key=lambda item: -item[1])
    return [(kind, timedelta(seconds=lead), timedelta(seconds=ordered[n + 1][1] if n + 1 < len(ordered) else 0))
            for n, (kind, lead) in enumerate(ordered)]


def due_reminders(now: datetime) -> list[tuple[Registration, str, bool]]:
    """(registration, kind, already claimed for an earlier time) for every reminder due now; one query a kind,
    with the event and the member joined."""
    due = []
    for kind, opens, closes in windows():
        rows = db.session.execute(
            select(Registration, ReminderSent.sent_at)
            .join(Registration.event)
            .outerjoin(ReminderSent, and_(ReminderSent.registration_id == Registration.id, ReminderSent.kind == kind))
            .options(contains_eager(Registration.event))
            .where(Event.status == "scheduled", Registration.status == "registered",
                   Event.starts_at > now + closes, Event.starts_at <= now + opens)
            .order_by(Registration.id))
        for registration, sent_at in rows:
            window_opened = registration.event.starts_at - opens
            if sent_at is not None and sent_at >= window_opened:
                continue  # sent for the event's current time
            if registration.updated_at > window_opened:
                continue  # seated after the window opened: the confirmation was the reminder
            due.append((registration, kind, sent_at is not None))
    return due


def _claim_new(kind: str, registration_ids: list[int], now: datetime) -> set[int]:
    """Insert the claims; the ids that come back are this run's to mail (the others were claimed elsewhere)."""
    claimed = set()
    for start in range(0, len(registration_ids), CLAIM_BATCH):
        batch = registration_ids[start:start + CLAIM_BATCH]
        statement = (insert_ignoring_conflict(ReminderSent)
                     .values([{"registration_id": rid, "kind": kind, "sent_at": now} for rid in batch])
                     .returning(ReminderSent.registration_id))
        claimed.update(db.session.scalars(statement))
    return claimed


def _claim_renewed(registration: Registration, kind: str, opens: timedelta, now: datetime) -> bool:
    """A claim left from an earlier time of the event: renewed only if no one renewed it meanwhile."""
    result = db.session.execute(
        update(ReminderSent)
        .where(ReminderSent.registration_id == registration.id, ReminderSent.kind == kind,
               ReminderSent.sent_at < registration.event.starts_at - opens)
        .values(sent_at=now).execution_options(synchronize_session=False))
    return result.rowcount == 1


def send_due_reminders(now: datetime | None = None) -> int:
    """Mail every reminder due at `now` (default: the current time) that was not sent yet; returns how many."""
    now = now or utcnow()
    opens_by_kind = {kind: opens for kind, opens, _ in windows()}
    with uow.unit_of_work():
        built = []
        for registration, kind, renew in due_reminders(now):
            try:
                built.append((registration, kind, renew, notices.reminder_message(registration, kind)))
            except Exception:  # one message that cannot be built must not hold back everyone else's
                log.exception("the %s reminder for registration #%s could not be built", kind, registration.id)
        sent = 0
        for kind in opens_by_kind:
            fresh = [registration.id for registration, k, renew, _ in built if k == kind and not renew]
            claimed = _claim_new(kind, fresh, now) if fresh else set()
            for registration, k, renew, message in built:
                if k != kind:
                    continue
                won = _claim_renewed(registration, kind, opens_by_kind[kind], now) if renew \
                    else registration.id in claimed
                if won:
                    uow.after_commit(lambda message=message: deliver(message))
                    sent += 1
    return sent
