"""What the public pages read: the directory with its filters and sorts, one jurisdiction's page, the
metric tables for CSV. A fixed number of queries per page, whatever the number of jurisdictions or reports."""
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import or_, select

from portal.database import utcnow
from portal.events.models import Event, EventResource
from portal.extensions import db
from portal.jurisdictions import figures
from portal.jurisdictions.models import PROGRAM_MODELS, Jurisdiction, MetricReport, Program
from portal.library.models import Resource

SORTS = {"name": "Name", "rate": "Latest diversion rate", "progress": "Progress to goal"}
CSV_HEADER = ("jurisdiction", "period_start", "period_end", "period", "total", "diverted", "eligible",
              "diversion_rate", "eligible_share", "source", "sample")


@dataclass
class Entry:
    """One line of the directory."""

    jurisdiction: Jurisdiction
    headline: figures.Headline
    progress: figures.GoalProgress | None
    models: list[str]


def states() -> list[str]:
    return list(db.session.scalars(select(Jurisdiction.state).where(Jurisdiction.state != "").distinct()
                                   .order_by(Jurisdiction.state)))


def directory(*, state: str = "", partner: str = "", model: str = "", sort: str = "name") -> list[Entry]:
    """Two queries: the jurisdictions (filtered), and the program models of those listed."""
    query = select(Jurisdiction)
    if state:
        query = query.where(Jurisdiction.state == state)
    if partner == "yes":
        query = query.where(Jurisdiction.is_partner.is_(True))
    elif partner == "no":
        query = query.where(Jurisdiction.is_partner.is_(False))
    if model in PROGRAM_MODELS:
        query = query.where(Jurisdiction.id.in_(select(Program.jurisdiction_id).where(Program.model == model)))
    jurisdictions = list(db.session.scalars(query.order_by(Jurisdiction.name)))
    models = defaultdict(list)
    if jurisdictions:
        for jurisdiction_id, program_model in db.session.execute(
                select(Program.jurisdiction_id, Program.model).where(
                    Program.jurisdiction_id.in_([j.id for j in jurisdictions])).order_by(Program.position)):
            if program_model not in models[jurisdiction_id]:
                models[jurisdiction_id].append(program_model)
    entries = []
    for jurisdiction in jurisdictions:
        headline = figures.headline_of(jurisdiction)
        entries.append(Entry(jurisdiction, headline, figures.goal_progress(jurisdiction, headline),
                             models[jurisdiction.id]))
    if sort == "rate":
        entries.sort(key=lambda entry: (entry.headline.rate is None, -(entry.headline.rate or 0)))
    elif sort == "progress":
        entries.sort(key=lambda entry: (entry.progress is None or entry.progress.share is None,
                                        -(entry.progress.share or 0) if entry.progress else 0))
    return entries


def related_resources(jurisdiction: Jurisdiction) -> list[Resource]:
    """Published library resources about this jurisdiction (their pages apply the members-only rule)."""
    now = utcnow()
    return list(db.session.scalars(select(Resource).where(
        Resource.jurisdiction_id == jurisdiction.id, Resource.status == "published", Resource.published_at <= now)
        .order_by(Resource.published_at.desc()).limit(20)))


def related_events(jurisdiction: Jurisdiction, *, limit: int = 10) -> list[Event]:
    """Webinars (not cancelled) whose slides or related resources are about this jurisdiction, newest first:
    one query."""
    about = select(Resource.id).where(Resource.jurisdiction_id == jurisdiction.id)
    return list(db.session.scalars(select(Event).where(
        Event.status == "scheduled",
        or_(Event.slides_id.in_(about),
            Event.id.in_(select(EventResource.event_id).where(EventResource.resource_id.in_(about)))))
        .order_by(Event.starts_at.desc()).limit(limit)))


def csv_rows(reports, names: dict[int, str]):
    for report in reports:
        yield (names[report.jurisdiction_id], report.period_start.isoformat(), report.period_end.isoformat(),
               report.period_kind, report.total, report.diverted, "" if report.eligible is None else report.eligible,
               "" if report.rate is None else f"{report.rate:.6f}",
               "" if report.eligible_share is None else f"{report.eligible_share:.6f}", report.source_url,
               "yes" if report.is_sample else "no")


def all_reports() -> tuple[list[MetricReport], dict[int, str]]:
    """Every report of every jurisdiction, by jurisdiction and period: two queries."""
    names = dict(db.session.execute(select(Jurisdiction.id, Jurisdiction.slug)).all())
    reports = list(db.session.scalars(select(MetricReport).join(Jurisdiction).order_by(
        Jurisdiction.slug, MetricReport.period_start)))
    return reports, names
