"""Members: accounts, roles and sign-in state."""
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import UTCDateTime, utcnow
from portal.extensions import db

SECTORS = {
    "government": "Government",
    "first_responder": "First responder",
    "behavioral_health": "Behavioral health",
    "advocate": "Advocate",
    "journalist": "Journalist",
    "researcher": "Researcher",
    "other": "Other",
}
ROLES = ("member", "staff", "admin")


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


class Member(UserMixin, db.Model):
    __tablename__ = "members"
    __table_args__ = (
        # Emails are stored lower-cased, so the unique constraint is case-insensitive.
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("role IN ('member', 'staff', 'admin')", name="role_known"),
        # Ids travel in mailed links and URLs: SQLite must never hand a deleted member's id to a new one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    pending_email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(120))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(120), default="")
    sector: Mapped[str] = mapped_column(String(32), default="other")
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id", ondelete="SET NULL"),
                                                        index=True)
    # A place that is not (yet) in the directory, in the member's words.
    jurisdiction_other: Mapped[str] = mapped_column(String(120), default="")
    wants_alerts: Mapped[bool] = mapped_column(default=False)
    # The member's IANA time zone ("" = not set): event times are shown in it beside the event's own.
    timezone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    role: Mapped[str] = mapped_column(String(16), default="member")
    # Part of every session and remember-me cookie: rotated at sign-out and when the password changes or is
    # reset, so every cookie issued before stops working (see members.services.end_sessions).
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    jurisdiction = relationship("Jurisdiction", lazy="joined")

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def jurisdiction_label(self) -> str:
        return self.jurisdiction.label if self.jurisdiction is not None else self.jurisdiction_other

    @property
    def sector_label(self) -> str:
        return SECTORS.get(self.sector, "Other")

    def __repr__(self) -> str:
        return f"<Member {self.id} {self.role}>"
