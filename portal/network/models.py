"""The peer network: a member's opt-in directory profile and the programs they work on; the messages members
write to each other through it, and the senders a member has blocked."""
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from portal.database import UTCDateTime, utcnow
from portal.extensions import db
from portal.library.models import NEVER_REUSE_IDS
from portal.members.models import SECTORS, Member

profile_programs = Table(
    "network_profile_programs", db.metadata,
    Column("profile_id", ForeignKey("network_profiles.id", ondelete="CASCADE"), primary_key=True),
    Column("program_id", ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class NetworkProfile(db.Model):
    """What a member chose to show other verified members. Off (`is_listed` false) by default: a row exists
    once the member saved the form, listed or not."""

    __tablename__ = "network_profiles"
    __table_args__ = (
        CheckConstraint("sector IN ('government', 'first_responder', 'behavioral_health', 'advocate', "
                        "'journalist', 'researcher', 'other')", name="sector_known"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), unique=True)
    is_listed: Mapped[bool] = mapped_column(default=False, server_default=false(), index=True)
    display_name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(120), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    sector: Mapped[str] = mapped_column(String(32), default="other")
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id", ondelete="SET NULL"),
                                                        index=True)
    topics: Mapped[list] = mapped_column(JSON, default=list)  # the library's topics, lower-cased
    bio: Mapped[str] = mapped_column(Text, default="")  # Markdown, rendered sanitised
    is_open_to_contact: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Staff moderation: hidden takes the profile out of the directory; suspended also takes away the member's
    # own use of it (reading profiles, writing to people).
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    member = relationship("Member", lazy="joined",
                          backref=db.backref("network_profile", uselist=False, cascade="all, delete-orphan",
                                             passive_deletes=True))
    jurisdiction = relationship("Jurisdiction", lazy="joined")
    programs = relationship("Program", secondary=profile_programs, lazy="selectin", order_by="Program.name")

    @property
    def is_shown(self) -> bool:
        """In the directory now: listed, not hidden or suspended by staff, by an account that still has a
        confirmed address (as `only_listed`)."""
        return (self.is_listed and self.hidden_at is None and self.suspended_at is None
                and self.member.is_verified)

    @property
    def sector_label(self) -> str:
        return SECTORS.get(self.sector, "Other")


def only_listed(query):
    """The query narrowed to profiles in the directory now (the SQL form of `NetworkProfile.is_shown`)."""
    return (query.join(Member, Member.id == NetworkProfile.member_id)
            .where(NetworkProfile.is_listed.is_(True), NetworkProfile.hidden_at.is_(None),
                   NetworkProfile.suspended_at.is_(None), Member.email_verified_at.is_not(None)))


REPORT_STATUSES = ("", "open", "dismissed", "acted")


class ContactMessage(db.Model):
    """A message one member wrote to another through the directory. The recipient reads it in their mail and
    at /network/messages; staff read one only when the recipient reports it."""

    __tablename__ = "network_messages"
    __table_args__ = (
        CheckConstraint("report_status IN ('', 'open', 'dismissed', 'acted')", name="report_status_known"),
        CheckConstraint("report_status = '' OR reported_at IS NOT NULL", name="reported_when"),
        Index("ix_network_messages_sender_time", "sender_id", "created_at"),
        Index("ix_network_messages_recipient_time", "recipient_id", "created_at"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    # The directory names both had when it was written: the inbox and the export name people as it did.
    sender_name: Mapped[str] = mapped_column(String(120))
    recipient_name: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)  # plain text
    shares_address: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    report_status: Mapped[str] = mapped_column(String(16), default="", server_default="", index=True)
    report_reason: Mapped[str] = mapped_column(Text, default="")
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    sender = relationship("Member", foreign_keys=[sender_id])
    recipient = relationship("Member", foreign_keys=[recipient_id])


class ContactBlock(db.Model):
    """The blocker takes no more messages from the blocked member."""

    __tablename__ = "network_blocks"

    blocker_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    blocked_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)
    blocked_name: Mapped[str] = mapped_column(String(120))  # as the messages named them
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
