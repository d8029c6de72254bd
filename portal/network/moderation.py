"""Staff work on the directory: every profile with its state, hiding one, suspending a member's directory
access, the reports members made, and contact volume as counts (staff never read a message unless its
recipient reported it). Every action is audited."""
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import case, func, select, update

from portal.audit.services import record_event
from portal.database import utcnow
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.network import search_docs
from portal.network.models import ContactBlock, ContactMessage, NetworkProfile

PER_PAGE = 50


class Move(NamedTuple):
    column: str  # the timestamp the action sets (or clears)
    sets: bool
    done: str  # "<name> is ..." once it is done
    already: str  # the refusal when it is so already


ACTIONS = {
    "hide": Move("hidden_at", True, "hidden from the directory", "This profile is hidden already."),
    "show": Move("hidden_at", False, "shown in the directory again", "This profile is not hidden."),
    "suspend": Move("suspended_at", True, "suspended from the directory",
                    "This member's directory access is suspended already."),
    "restore": Move("suspended_at", False, "given back their directory access",
                    "This member's directory access is not suspended."),
}


def all_profiles(*, page: int = 1, per_page: int = PER_PAGE):
    """Every saved profile, listed or not, by name (a page of them)."""
    query = select(NetworkProfile).order_by(NetworkProfile.display_name, NetworkProfile.id)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def get_profile(profile_id: int) -> NetworkProfile | None:
    return db.session.get(NetworkProfile, profile_id)


def moderate(profile: NetworkProfile, action: str, *, actor) -> None:
    """Hide or show the profile, or suspend or restore the member's use of the directory. Suspending also
    closes their open reports as acted on."""
    move = ACTIONS.get(action)
    if move is None:
        raise ValidationFailed("action", "Choose an action from the list.")
    if (getattr(profile, move.column) is not None) == move.sets:
        raise ValidationFailed(None, move.already)
    setattr(profile, move.column, utcnow() if move.sets else None)
    if action == "suspend":
        db.session.execute(update(ContactMessage).where(ContactMessage.sender_id == profile.member_id,
                                                        ContactMessage.report_status == "open")
                           .values(report_status="acted").execution_options(synchronize_session=False))
    db.session.flush()
    search_docs.reindex(profile)  # out of (or back into) the search at the commit
    record_event(actor=actor, action=f"network.{action}", subject=f"member #{profile.member_id}")


def open_reports() -> list[tuple[ContactMessage, NetworkProfile | None]]:
    """Reported messages waiting for staff, oldest first, with the sender's profile (two queries)."""
    reports = list(db.session.scalars(select(ContactMessage).where(ContactMessage.report_status == "open")
                                      .order_by(ContactMessage.reported_at, ContactMessage.id)))
    senders = {m.sender_id for m in reports}
    profiles = {p.member_id: p for p in db.session.scalars(
        select(NetworkProfile).where(NetworkProfile.member_id.in_(senders)))} if senders else {}
    return [(message, profiles.get(message.sender_id)) for message in reports]


def get_report(message_id: int) -> ContactMessage | None:
    return db.session.scalar(select(ContactMessage).where(ContactMessage.id == message_id,
                                                          ContactMessage.report_status == "open"))


def dismiss_report(message: ContactMessage, *, actor) -> None:
    message.report_status = "dismissed"
    record_event(actor=actor, action="network.report_dismissed", subject=f"member #{message.sender_id}",
                 message=message.id)


@dataclass(frozen=True)
class Volume:
    last_day: int
    last_week: int
    last_month: int
    total: int
    senders_last_week: int
    blocks: int
    reports_open: int
    top_senders: list  # (display name, profile id, messages in the last week), most first


def contact_volume(*, now: datetime | None = None) -> Volume:
    """How much members write to each other: counts only, never a subject or a body (three queries)."""
    now = now or utcnow()
    created = ContactMessage.created_at
    day, week, month, total, senders, reports = db.session.execute(select(
        func.count(case((created > now - timedelta(days=1), 1))),
        func.count(case((created > now - timedelta(days=7), 1))),
        func.count(case((created > now - timedelta(days=30), 1))),
        func.count(),
        func.count(func.distinct(case((created > now - timedelta(days=7), ContactMessage.sender_id)))),
        func.count(case((ContactMessage.report_status == "open", 1))),
    )).one()
    blocks = db.session.scalar(select(func.count()).select_from(ContactBlock))
    sent = func.count(ContactMessage.id).label("sent")
    top = db.session.execute(
        select(NetworkProfile.display_name, NetworkProfile.id, sent)
        .join(ContactMessage, ContactMessage.sender_id == NetworkProfile.member_id)
        .where(created > now - timedelta(days=7))
        .group_by(NetworkProfile.id, NetworkProfile.display_name)
        .order_by(sent.desc(), NetworkProfile.display_name).limit(10)).all()
    return Volume(day, week, month, total, senders, blocks, reports, [tuple(row) for row in top])

