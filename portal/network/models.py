"""The peer network: a member's opt-in directory profile, and the programs they work on."""
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, String, Table, Text
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    member = relationship("Member", lazy="joined",
                          backref=db.backref("network_profile", uselist=False, cascade="all, delete-orphan",
                                             passive_deletes=True))
    jurisdiction = relationship("Jurisdiction", lazy="joined")
    programs = relationship("Program", secondary=profile_programs, lazy="selectin", order_by="Program.name")

    @property
    def is_shown(self) -> bool:
        """In the directory now: listed, by an account that still has a confirmed address (as `only_listed`)."""
        return self.is_listed and self.member.is_verified

    @property
    def sector_label(self) -> str:
        return SECTORS.get(self.sector, "Other")


def only_listed(query):
    """The query narrowed to profiles in the directory now (the SQL form of `NetworkProfile.is_shown`)."""
    return (query.join(Member, Member.id == NetworkProfile.member_id)
            .where(NetworkProfile.is_listed.is_(True), Member.email_verified_at.is_not(None)))
