"""The webinar series: series, events, registrations with their waitlist, reminders sent, calendar feeds."""
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import UTCDateTime, utcnow
from portal.extensions import db
from portal.library.models import AUDIENCES, NEVER_REUSE_IDS

STATUSES = ("scheduled", "cancelled")
# Who may register: "members" are signed-in members with a confirmed email; "anyone" adds guests, who give a
# name and an address and confirm it from a mailed link before they hold a place.
REGISTRATION = {"members": "Members of the community of practice", "anyone": "Anyone with a confirmed email address"}
# A registration is "registered" (holds a seat), "waitlisted" (in line for one) or "cancelled".
REGISTRATION_STATUSES = ("registered", "waitlisted", "cancelled")
REMINDERS = {"day": 24 * 3600, "hour": 3600}  # kind -> seconds before the start
GUEST_LINK_MAX_AGE = 3 * 24 * 3600  # seconds a guest's mailed confirmation link works


def new_key() -> str:
    return secrets.token_urlsafe(24)


class Series(db.Model):
    __tablename__ = "event_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        # The seat count is kept by one conditional UPDATE (services.take_seat); the database refuses any
        # write that would seat more people than the capacity, whatever the code above it does.
        CheckConstraint("capacity IS NULL OR registered_count <= capacity", name="seats_within_capacity"),
        CheckConstraint("registered_count >= 0", name="seats_not_negative"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("status IN ('scheduled', 'cancelled')", name="status_known"),
        CheckConstraint("registration IN ('members', 'anyone')", name="registration_known"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    series_id: Mapped[int | None] = mapped_column(ForeignKey("event_series.id", ondelete="SET NULL"), index=True)
    # [{"name": ..., "title": ..., "organisation": ...}]
    speakers: Mapped[list] = mapped_column(JSON, default=list)
    audiences: Mapped[list] = mapped_column(JSON, default=list)
    topics: Mapped[list] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    capacity: Mapped[int | None] = mapped_column(Integer)
    registered_count: Mapped[int] = mapped_column(Integer, default=0)
    has_waitlist: Mapped[bool] = mapped_column(default=True)
    registration: Mapped[str] = mapped_column(String(16), default="members")
    # Shown only to registered people: never on a public page, feed, the index or the sitemap.
    join_url: Mapped[str] = mapped_column(String(500), default="")
    recording_url: Mapped[str] = mapped_column(String(500), default="")
    slides_id: Mapped[int | None] = mapped_column(ForeignKey("resources.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="scheduled", index=True)
    # The calendar SEQUENCE: raised whenever the time, place or status changes.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    series = relationship("Series", lazy="joined")
    slides = relationship("Resource", foreign_keys=[slides_id], lazy="joined")
    resource_links = relationship("EventResource", cascade="all, delete-orphan", order_by="EventResource.position",
                                  lazy="selectin")

    @property
    def resources(self) -> list:
        return [link.resource for link in self.resource_links]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(self.zone)

    @property
    def is_cancelled(self) -> bool:
        return self.status == "cancelled"

    def is_past(self, now: datetime) -> bool:
        return self.ends_at <= now

    def seats_left(self) -> int | None:
        return None if self.capacity is None else max(0, self.capacity - self.registered_count)

    def registration_state(self, now: datetime) -> str:
        """"open", or why not: "cancelled", "past", "not_open", "closed"."""
        if self.is_cancelled:
            return "cancelled"
        if self.starts_at <= now:
            return "past"
        if self.registration_opens_at is not None and now < self.registration_opens_at:
            return "not_open"
        if self.registration_closes_at is not None and now >= self.registration_closes_at:
            return "closed"
        return "open"

    @property
    def audience_labels(self) -> list[str]:
        return [AUDIENCES.get(a, a) for a in self.audiences or []]


class EventResource(db.Model):
    """A library resource related to an event (shown with it, mostly after it)."""

    __tablename__ = "event_resources"
    __table_args__ = (UniqueConstraint("event_id", "resource_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)

    resource = relationship("Resource", lazy="joined")


class Registration(db.Model):
    """One person's place at one event: a member's, or a guest's (name and confirmed address, no account)."""

    __tablename__ = "event_registrations"
    __table_args__ = (
        UniqueConstraint("event_id", "member_id", name="uq_event_registrations_event_member"),
        UniqueConstraint("event_id", "guest_email", name="uq_event_registrations_event_guest"),
        CheckConstraint("(member_id IS NULL) <> (guest_email IS NULL)", name="member_or_guest"),
        CheckConstraint("status IN ('registered', 'waitlisted', 'cancelled')", name="status_known"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    guest_name: Mapped[str] = mapped_column(String(120), default="")
    guest_email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), index=True)
    # The waitlist is served in this order; set each time the registration joins it.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A guest's own link to their registration (join link, calendar file, cancel), mailed to them.
    key: Mapped[str] = mapped_column(String(64), unique=True, default=new_key)
    attended: Mapped[bool | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    event = relationship("Event", lazy="joined")
    member = relationship("Member", lazy="joined")

    @property
    def name(self) -> str:
        return self.member.name if self.member is not None else self.guest_name

    @property
    def email(self) -> str:
        return self.member.email if self.member is not None else (self.guest_email or "")

    @property
    def is_registered(self) -> bool:
        return self.status == "registered"


class ReminderSent(db.Model):
    """A reminder of one kind mailed for one registration: the unique key makes each go out once."""

    __tablename__ = "event_reminders_sent"
    __table_args__ = (UniqueConstraint("registration_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("event_registrations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CalendarFeed(db.Model):
    """A member's private calendar address (/account/calendar/<secret>.ics); resetting it changes the secret."""

    __tablename__ = "event_calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str] = mapped_column(String(64), unique=True, default=new_key)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
