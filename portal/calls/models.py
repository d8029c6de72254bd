"""Call-type analyses of a jurisdiction's dispatch data: the job and its stored aggregate (never the raw
file, which is deleted when the job ends), the jurisdiction's remembered column mapping, code table and its
own additions to the classification table."""
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import UTCDateTime, utcnow
from portal.extensions import db
from portal.library.models import NEVER_REUSE_IDS

# uploaded: the file is on disk, waiting for its mapping; queued/running: the job; done/failed: the file is gone.
STATUSES = ("uploaded", "queued", "running", "done", "failed")


class CallAnalysis(db.Model):
    __tablename__ = "call_analyses"
    __table_args__ = (
        CheckConstraint("status IN ('uploaded', 'queued', 'running', 'done', 'failed')", name="status_known"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="uploaded", index=True)
    # The raw file's name on disk under CALLS_DIR while it exists (never the person's name for it).
    file_token: Mapped[str] = mapped_column(String(32), default="", index=True)
    stage: Mapped[str] = mapped_column(String(16), default="")       # preparing / reading, while running
    worker: Mapped[str] = mapped_column(String(100), default="")     # host:pid of the process running the job
    filename: Mapped[str] = mapped_column(String(200), default="")   # as uploaded, for the person's reference
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    encoding: Mapped[str] = mapped_column(String(16), default="")
    delimiter: Mapped[str] = mapped_column(String(4), default="")
    is_compressed: Mapped[bool] = mapped_column(default=False)
    header: Mapped[list] = mapped_column(JSON, default=list)          # the column names (not the data)
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)         # field -> column
    rows_read: Mapped[int] = mapped_column(Integer, default=0)        # progress while running (estimated)
    rows_estimated: Mapped[int] = mapped_column(Integer, default=0)   # from the file's size and its first rows
    rows: Mapped[int] = mapped_column(Integer, default=0)             # records read, readable or not
    calls: Mapped[int] = mapped_column(Integer, default=0)            # records counted
    unreadable: Mapped[int] = mapped_column(Integer, default=0)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    seconds: Mapped[float | None] = mapped_column(Float)
    # The metric report its figure was saved to, if it was.
    report_id: Mapped[int | None] = mapped_column(ForeignKey("metric_reports.id", ondelete="SET NULL"))
    # The stored aggregate: counts by call type and hour/weekday/priority/disposition/unit type (see
    # portal/calls/engine.py); results are recomputed from it whenever the classification changes.
    aggregate: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    jurisdiction = relationship("Jurisdiction", lazy="joined")
    created_by = relationship("Member")

    @property
    def is_finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def progress(self) -> float | None:
        """The share of the file read so far, while it runs; None when unknown."""
        if self.status != "running" or not self.rows_estimated:
            return None
        return min(0.99, self.rows_read / self.rows_estimated)


class CallSettings(db.Model):
    """What a jurisdiction's analyses remember: its column mapping and its code table (code -> description)."""

    __tablename__ = "call_settings"

    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id", ondelete="CASCADE"),
                                                 primary_key=True)
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    code_table: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CallTypeRule(db.Model):
    """A jurisdiction's own line in the classification table: a call type name (or pattern) and its category;
    it wins over the default table."""

    __tablename__ = "call_type_rules"
    __table_args__ = (UniqueConstraint("jurisdiction_id", "name", name="uq_call_type_rules_jurisdiction_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
