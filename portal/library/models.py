"""The resource library: resources, their revisions and files, member suggestions and alerts."""
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import UTCDateTime, utcnow
from portal.extensions import db

TYPES = {
    "toolkit": "Toolkit",
    "program_model": "Program model",
    "policy": "Policy",
    "research": "Research",
    "overview": "Overview",
    "guide": "Guide",
    "dataset": "Dataset",
}
AUDIENCES = {
    "journalists": "Journalists",
    "advocates": "Advocates",
    "officials": "Officials",
    "practitioners": "Practitioners",
    "researchers": "Researchers",
}
STATUSES = ("draft", "review", "published", "archived")
ACCESS = ("public", "members")


def members_only_now(access: str, members_until: date | None, today: date) -> bool:
    """The one rule for early access: members-only until the date, then public by itself."""
    return access == "members" and (members_until is None or today < members_until)


# Ids that travel in URLs and mailed links (file downloads, staff pages, alerts) are never reused on SQLite,
# so an old link cannot reach a row made after a deletion. PostgreSQL sequences never reuse them anyway.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class Resource(db.Model):
    __tablename__ = "resources"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(32), index=True)
    audiences: Mapped[list] = mapped_column(JSON, default=list)
    topics: Mapped[list] = mapped_column(JSON, default=list)
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id", ondelete="SET NULL"),
                                                        index=True)
    external_url: Mapped[str] = mapped_column(String(500), default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    access: Mapped[str] = mapped_column(String(16), default="public")
    members_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    # Published and visible once this moment has passed: scheduling needs no job.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    is_featured: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    jurisdiction = relationship("Jurisdiction", lazy="joined")
    attachments = relationship("Attachment", back_populates="resource", cascade="all, delete-orphan",
                               order_by="Attachment.id")
    revisions = relationship("ResourceRevision", back_populates="resource", cascade="all, delete-orphan",
                             order_by="ResourceRevision.id.desc()")

    @property
    def type_label(self) -> str:
        return TYPES.get(self.type, self.type)

    @property
    def audience_labels(self) -> list[str]:
        return [AUDIENCES.get(a, a) for a in self.audiences or []]

    def is_visible(self, now: datetime) -> bool:
        return self.status == "published" and self.published_at is not None and self.published_at <= now

    def is_members_only(self, now: datetime) -> bool:
        return members_only_now(self.access, self.members_until, now.date())


class ResourceRevision(db.Model):
    __tablename__ = "resource_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    # {field: [old, new]} for what changed, long text shortened.
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    resource = relationship("Resource", back_populates="revisions")
    actor = relationship("Member", lazy="joined")


class Attachment(db.Model):
    __tablename__ = "attachments"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    # The text is extracted on the task queue after the upload: "pending" until then, "done", "partial"
    # (cut at a limit) or "none"; text_note says why for the last two. Rows older than the column had
    # their text extracted during the upload, hence the server default.
    text_status: Mapped[str] = mapped_column(String(16), default="pending", server_default="done")
    text_note: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    resource = relationship("Resource", back_populates="attachments")
    downloads = relationship("AttachmentDownload", cascade="all, delete-orphan")


class AttachmentDownload(db.Model):
    """Download counts by member sector ("visitor" when not signed in): no one is tracked."""

    __tablename__ = "attachment_downloads"
    __table_args__ = (UniqueConstraint("attachment_id", "sector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"))
    sector: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer, default=0)


class Suggestion(db.Model):
    """A resource a member proposes; staff accept it (as a draft) or decline it with a note."""

    __tablename__ = "suggestions"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(32))
    external_url: Mapped[str] = mapped_column(String(500), default="")
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id", ondelete="SET NULL"))
    jurisdiction_other: Mapped[str] = mapped_column(String(120), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    staff_note: Mapped[str] = mapped_column(Text, default="")
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resources.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    member = relationship("Member", foreign_keys=[member_id], lazy="joined")
    resource = relationship("Resource")
    jurisdiction = relationship("Jurisdiction", lazy="joined")

    @property
    def jurisdiction_label(self) -> str:
        return self.jurisdiction.label if self.jurisdiction is not None else self.jurisdiction_other

    @property
    def type_label(self) -> str:
        return TYPES.get(self.type, self.type)


class SavedSearch(db.Model):
    """A member's alert: a saved search, or a picked topic or type (stored as a search too)."""

    __tablename__ = "saved_searches"
    __table_args__ = (UniqueConstraint("member_id", "query_string"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    query_string: Mapped[str] = mapped_column(String(600))
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertDelivery(db.Model):
    """One resource sent to one member in a digest: never the same item twice."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("member_id", "resource_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
