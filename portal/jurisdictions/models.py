"""Jurisdictions: the cities and counties of the network, their programs, goals and diversion metrics,
the members who represent them, their API tokens, and applications to join the initiative."""
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from portal.database import UTCDateTime, utcnow
from portal.extensions import db
from portal.library.models import NEVER_REUSE_IDS

KINDS = {"city": "City", "county": "County", "region": "Region"}
PROGRAM_MODELS = {
    "community_responder": "Community responder",
    "co_responder": "Co-responder",
    "clinician_in_911": "Clinician in the 911 centre",
    "crisis_line": "Crisis line",
    "other": "Other",
}
# A report covers whole calendar months: one (a month), three (a quarter) or twelve (a year).
PERIOD_MONTHS = {1: "month", 3: "quarter", 12: "year"}
# Where a report came from: the default content, a representative's form or CSV upload, the API, or staff.
ORIGINS = ("content", "form", "csv", "api", "staff", "analysis")
REQUEST_STATUSES = ("pending", "approved", "declined", "revoked")
APPLICATION_STATUSES = ("pending", "approved", "declined")


class Jurisdiction(db.Model):
    __tablename__ = "jurisdictions"
    __table_args__ = (
        CheckConstraint("kind IN ('city', 'county', 'region')", name="kind_known"),
        CheckConstraint("goal_rate IS NULL OR (goal_rate >= 0 AND goal_rate <= 1)", name="goal_rate_fraction"),
        CheckConstraint("goal_baseline_rate IS NULL OR (goal_baseline_rate >= 0 AND goal_baseline_rate <= 1)",
                        name="goal_baseline_rate_fraction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(60), default="")
    kind: Mapped[str] = mapped_column(String(16), default="city", server_default="city")
    population: Mapped[int | None] = mapped_column(Integer)
    is_partner: Mapped[bool] = mapped_column(default=False, server_default=false())
    joined_on: Mapped[date | None] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text, default="")
    # The goal: a target diversion rate (a fraction) by a target year, from a baseline rate in a baseline year.
    goal_rate: Mapped[float | None] = mapped_column(Float)
    goal_year: Mapped[int | None] = mapped_column(Integer)
    goal_baseline_year: Mapped[int | None] = mapped_column(Integer)
    goal_baseline_rate: Mapped[float | None] = mapped_column(Float)
    goal_source: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # Sample figures (the default content's, where PRODUCT.md gives none) are flagged and labelled on every page.
    goal_is_sample: Mapped[bool] = mapped_column(default=False, server_default=false())
    annual_calls: Mapped[int | None] = mapped_column(Integer)
    annual_calls_source: Mapped[str] = mapped_column(String(500), default="", server_default="")
    annual_calls_is_sample: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The latest change to any of its figures (goal, annual calls, a metric report): the page's "last updated".
    # Every metric write also updates this row first, which serialises writes to one jurisdiction's reports
    # on both databases (the overlap check then sees every committed report).
    figures_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The headline, derived from the reports by metrics.refresh_headline after every change, so the
    # directory, the home page and the API read one row per jurisdiction, never every report.
    headline_start: Mapped[date | None] = mapped_column(Date)
    headline_end: Mapped[date | None] = mapped_column(Date)
    headline_months: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    headline_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    headline_diverted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    headline_is_sample: Mapped[bool] = mapped_column(default=False, server_default=false())
    # diverted / total of the headline (None without reports), kept so the directory can sort by it.
    headline_rate: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    links = relationship("JurisdictionLink", order_by="JurisdictionLink.position", cascade="all, delete-orphan",
                         back_populates="jurisdiction")

    @property
    def label(self) -> str:
        return f"{self.name}, {self.state}" if self.state else self.name

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)

    @property
    def has_goal(self) -> bool:
        return self.goal_rate is not None and self.goal_year is not None


class JurisdictionLink(db.Model):
    """A link to the jurisdiction's own dashboard or open data."""

    __tablename__ = "jurisdiction_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(120))
    url: Mapped[str] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(Integer, default=0)

    jurisdiction = relationship("Jurisdiction", back_populates="links")


class Program(db.Model):
    __tablename__ = "programs"
    __table_args__ = (
        UniqueConstraint("jurisdiction_id", "slug", name="uq_programs_jurisdiction_slug"),
        CheckConstraint("model IN ('community_responder', 'co_responder', 'clinician_in_911', 'crisis_line', "
                        "'other')", name="model_known"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(32), default="other")
    agency: Mapped[str] = mapped_column(String(200), default="")
    launched_on: Mapped[date | None] = mapped_column(Date)
    hours: Mapped[str] = mapped_column(String(200), default="")
    # The call types it takes, one per item: ["welfare check", "mental-health distress"].
    call_types: Mapped[list] = mapped_column(JSON, default=list)
    url: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")  # Markdown
    sources: Mapped[list] = mapped_column(JSON, default=list)  # https URLs
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    jurisdiction = relationship("Jurisdiction")
    resources = relationship("Resource", secondary="program_resources", order_by="Resource.title")

    @property
    def model_label(self) -> str:
        return PROGRAM_MODELS.get(self.model, self.model)


class ProgramResource(db.Model):
    """A library resource about a program (its program model, an evaluation)."""

    __tablename__ = "program_resources"

    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True)


class MetricReport(db.Model):
    """One period of one jurisdiction: total 911 calls for service, diverted calls, eligible calls."""

    __tablename__ = "metric_reports"
    __table_args__ = (
        UniqueConstraint("jurisdiction_id", "period_start", name="uq_metric_reports_jurisdiction_start"),
        CheckConstraint("total >= 0 AND diverted >= 0 AND (eligible IS NULL OR eligible >= 0)",
                        name="counts_not_negative"),
        CheckConstraint("diverted <= total AND (eligible IS NULL OR eligible <= total)", name="counts_within_total"),
        CheckConstraint("period_end > period_start", name="ends_after_start"),
        CheckConstraint("months IN (1, 3, 12)", name="months_known"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id", ondelete="CASCADE"), index=True)
    period_start: Mapped[date] = mapped_column(Date)  # the first day of its first month
    period_end: Mapped[date] = mapped_column(Date)    # the last day of its last month
    months: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    diverted: Mapped[int] = mapped_column(Integer)
    eligible: Mapped[int | None] = mapped_column(Integer)
    source_url: Mapped[str] = mapped_column(String(500), default="")
    is_sample: Mapped[bool] = mapped_column(default=False)
    origin: Mapped[str] = mapped_column(String(16), default="form")
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    # Raised at every correction: the API's ETag, and the revision number.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    jurisdiction = relationship("Jurisdiction")
    reported_by = relationship("Member")

    @property
    def period_kind(self) -> str:
        return PERIOD_MONTHS[self.months]

    @property
    def rate(self) -> float | None:
        return self.diverted / self.total if self.total else None

    @property
    def eligible_share(self) -> float | None:
        """The share of eligible calls that alternative responders handled."""
        return self.diverted / self.eligible if self.eligible else None


class MetricRevision(db.Model):
    """Every change to a report, kept: what it said after a create or correction, or that it was deleted."""

    __tablename__ = "metric_revisions"
    __table_args__ = (CheckConstraint("action IN ('create', 'correct', 'delete')", name="action_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id", ondelete="CASCADE"), index=True)
    # Kept when the report is deleted: the history of a period outlives it.
    report_id: Mapped[int | None] = mapped_column(ForeignKey("metric_reports.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    total: Mapped[int] = mapped_column(Integer)
    diverted: Mapped[int] = mapped_column(Integer)
    eligible: Mapped[int | None] = mapped_column(Integer)
    source_url: Mapped[str] = mapped_column(String(500), default="")
    is_sample: Mapped[bool] = mapped_column(default=False)
    origin: Mapped[str] = mapped_column(String(16), default="form")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor = relationship("Member")


class Representative(db.Model):
    """A member's request to represent a jurisdiction; an approved one makes them its representative."""

    __tablename__ = "representatives"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'declined', 'revoked')", name="status_known"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id", ondelete="CASCADE"), index=True)
    role_title: Mapped[str] = mapped_column(String(120), default="")  # their role there, in their words
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    staff_note: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    member = relationship("Member", foreign_keys=[member_id], lazy="joined")
    jurisdiction = relationship("Jurisdiction", lazy="joined")


class ApiToken(db.Model):
    """A bearer token for the metrics write API, scoped to one jurisdiction. Only its hash is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so the owner can tell tokens apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the whole token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    jurisdiction = relationship("Jurisdiction", lazy="joined")
    member = relationship("Member")


class JoinApplication(db.Model):
    """A city or county's application to join the initiative, reviewed by staff."""

    __tablename__ = "join_applications"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'declined')", name="status_known"),
        CheckConstraint("kind IN ('city', 'county', 'region')", name="kind_known"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(16), default="city")
    contact_name: Mapped[str] = mapped_column(String(120))
    contact_email: Mapped[str] = mapped_column(String(254))
    contact_role: Mapped[str] = mapped_column(String(120), default="")
    population: Mapped[int | None] = mapped_column(Integer)
    annual_calls: Mapped[int | None] = mapped_column(Integer)
    programs: Mapped[str] = mapped_column(Text, default="")
    interests: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    staff_note: Mapped[str] = mapped_column(Text, default="")
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    jurisdiction = relationship("Jurisdiction")

    @property
    def label(self) -> str:
        return f"{self.name}, {self.state}"
