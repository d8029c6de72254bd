"""Members: accounts, roles and sign-in state."""
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

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
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    pending_email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(120))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(120), default="")
    sector: Mapped[str] = mapped_column(String(32), default="other")
    jurisdiction: Mapped[str] = mapped_column(String(120), default="")
    wants_alerts: Mapped[bool] = mapped_column(default=False)
    role: Mapped[str] = mapped_column(String(16), default="member")
    # Rotated when the password changes, which signs out every other session.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

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
    def sector_label(self) -> str:
        return SECTORS.get(self.sector, "Other")

    def __repr__(self) -> str:
        return f"<Member {self.id} {self.role}>"
