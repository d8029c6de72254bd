"""What the staff dashboard counts: each figure is one COUNT in the database, never rows loaded to count."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from portal.database import utcnow
from portal.events.models import Event, Registration
from portal.extensions import db
from portal.jurisdictions.models import JoinApplication, Representative
from portal.library.models import Resource, Suggestion
from portal.members.models import Member
from portal.network.models import ContactMessage


@dataclass(frozen=True)
class WorkCounts:
    drafts: int
    in_review: int
    scheduled: int
    suggestions_pending: int
    members_verified: int
    members_unverified: int
    staff: int
    upcoming_events: int = 0
    registrations_this_month: int = 0
    representative_requests: int = 0
    applications_pending: int = 0
    reports_open: int = 0

    @property
    def members(self) -> int:
        return self.members_verified + self.members_unverified


def work_counts(*, now: datetime | None = None) -> WorkCounts:
    """Four queries, however many resources, suggestions, members, events and registrations there are."""
    now = now or utcnow()
    drafts, in_review, scheduled = db.session.execute(select(
        func.count(case((Resource.status == "draft", 1))),
        func.count(case((Resource.status == "review", 1))),
        func.count(case(((Resource.status == "published") & (Resource.published_at > now), 1))),
    )).one()
    pending = db.session.scalar(select(func.count()).select_from(Suggestion).where(Suggestion.status == "pending"))
    verified, unverified, staff = db.session.execute(select(
        func.count(Member.email_verified_at),
        func.count(case((Member.email_verified_at.is_(None), 1))),
        func.count(case((Member.role.in_(("staff", "admin")), 1))),
    )).one()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    upcoming, registrations, requests, applications, reports = db.session.execute(select(
        select(func.count()).select_from(Event)
        .where(Event.starts_at > now, Event.status == "scheduled").scalar_subquery(),
        # Places taken this month (a seat or a place in line), not the ones given up since.
        select(func.count()).select_from(Registration)
        .where(Registration.created_at >= month_start, Registration.status != "cancelled").scalar_subquery(),
        select(func.count()).select_from(Representative).where(Representative.status == "pending").scalar_subquery(),
        select(func.count()).select_from(JoinApplication).where(JoinApplication.status == "pending")
        .scalar_subquery(),
        select(func.count()).select_from(ContactMessage).where(ContactMessage.report_status == "open")
        .scalar_subquery(),
    )).one()
    return WorkCounts(drafts=drafts, in_review=in_review, scheduled=scheduled, suggestions_pending=pending,
                      members_verified=verified, members_unverified=unverified, staff=staff,
                      upcoming_events=upcoming, registrations_this_month=registrations,
                      representative_requests=requests, applications_pending=applications, reports_open=reports)


def scheduled_resources(*, limit: int = 10, now: datetime | None = None) -> list[tuple[int, str, datetime]]:
    """The next releases: (id, title, publish time), soonest first, without loading whole resources."""
    now = now or utcnow()
    return list(db.session.execute(
        select(Resource.id, Resource.title, Resource.published_at)
        .where(Resource.status == "published", Resource.published_at > now)
        .order_by(Resource.published_at, Resource.id).limit(limit)))
