"""Metric reports: reporting, correcting and deleting one period, CSV import (all rows or none), and keeping
each jurisdiction's stored headline current. Every change is kept as a revision."""
import calendar
import csv
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update

from portal.audit.services import record_event
from portal.database import utcnow
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.jurisdictions.figures import compute_headline
from portal.jurisdictions.models import ORIGINS, PERIOD_MONTHS, Jurisdiction, MetricReport, MetricRevision
from portal.text import clean_web_address

MAX_COUNT = 100_000_000  # more 911 calls than any jurisdiction has in a year, by far
CSV_COLUMNS = ("period_start", "period_end", "total", "diverted", "eligible", "source", "sample")
MAX_CSV_ROWS = 5000


class PeriodOverlaps(ValidationFailed):
    """The period shares days with a report already stored (the API answers 409 Conflict)."""


class StaleVersion(ValidationFailed):
    """The report was corrected since the version the caller read (the API answers 412 Precondition Failed)."""


def _date(value, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationFailed(field, "Give a date as YYYY-MM-DD.") from None


def clean_period(period_start, period_end) -> tuple[date, date, int]:
    """The period as (first day, last day, months): whole calendar months, one, three or twelve of them."""
    start, end = _date(period_start, "period_start"), _date(period_end, "period_end")
    if end <= start:
        raise ValidationFailed("period_end", "The period must end after it starts.")
    if start.day != 1:
        raise ValidationFailed("period_start", "A period starts on the first day of a month.")
    if end.day != calendar.monthrange(end.year, end.month)[1]:
        raise ValidationFailed("period_end", "A period ends on the last day of a month.")
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    if months not in PERIOD_MONTHS:
        raise ValidationFailed("period_end", "A period is a month, a quarter (3 months) or a year (12 months).")
    return start, end, months


def _count(value, field: str, label: str, *, optional: bool = False) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise ValidationFailed(field, f"Give the number of {label}.")
    if isinstance(value, bool):
        raise ValidationFailed(field, f"The number of {label} must be a whole number.")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValidationFailed(field, f"The number of {label} must be a whole number.")
        value = int(value)
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text.lstrip("-").isdigit() or len(text) > 12:
            raise ValidationFailed(field, f"The number of {label} must be a whole number.")
        value = int(text)
    if value < 0:
        raise ValidationFailed(field, f"The number of {label} cannot be negative.")
    if value > MAX_COUNT:
        raise ValidationFailed(field, f"The number of {label} is larger than any jurisdiction reports.")
    return value


def clean_counts(total, diverted, eligible=None) -> tuple[int, int, int | None]:
    total = _count(total, "total", "calls for service")
    diverted = _count(diverted, "diverted", "diverted calls")
    eligible = _count(eligible, "eligible", "eligible calls", optional=True)
    if diverted > total:
        raise ValidationFailed("diverted", "Diverted calls cannot be more than the total calls for service.")
    if eligible is not None and eligible > total:
        raise ValidationFailed("eligible", "Eligible calls cannot be more than the total calls for service.")
    return total, diverted, eligible


def _lock(jurisdiction: Jurisdiction) -> None:
    """Stamp the jurisdiction's "last updated" with one UPDATE before reading its reports: the row lock (the
    write lock on SQLite) makes writers to one jurisdiction take turns, so the overlap check below sees every
    report committed before it, under any concurrency."""
    now = utcnow()
    db.session.execute(update(Jurisdiction).where(Jurisdiction.id == jurisdiction.id)
                       .values(figures_updated_at=now).execution_options(synchronize_session=False))
    jurisdiction.figures_updated_at = now


def overlapping_report(jurisdiction: Jurisdiction, start: date, end: date, *, besides: int | None = None):
    """The first report of this jurisdiction whose period shares a day with start..end, if any."""
    query = select(MetricReport).where(MetricReport.jurisdiction_id == jurisdiction.id,
                                       MetricReport.period_start <= end, MetricReport.period_end >= start)
    if besides is not None:
        query = query.where(MetricReport.id != besides)
    return db.session.scalars(query.order_by(MetricReport.period_start)).first()


def _period_words(report) -> str:
    return f"{report.period_start.isoformat()} to {report.period_end.isoformat()}"


def _revise(report: MetricReport, *, action: str, actor, origin: str) -> None:
    db.session.add(MetricRevision(
        jurisdiction_id=report.jurisdiction_id, report_id=report.id if action != "delete" else None,
        action=action, period_start=report.period_start, period_end=report.period_end, total=report.total,
        diverted=report.diverted, eligible=report.eligible, source_url=report.source_url,
        is_sample=report.is_sample, origin=origin, actor_id=actor.id if actor is not None else None))


def refresh_headline(jurisdiction: Jurisdiction) -> None:
    """Recompute the stored headline from the reports (called after every change, in the same unit)."""
    db.session.flush()
    reports = db.session.scalars(select(MetricReport).where(MetricReport.jurisdiction_id == jurisdiction.id))
    headline = compute_headline(reports)
    jurisdiction.headline_start, jurisdiction.headline_end = headline.start, headline.end
    jurisdiction.headline_months, jurisdiction.headline_total = headline.months, headline.total
    jurisdiction.headline_diverted, jurisdiction.headline_is_sample = headline.diverted, headline.is_sample
    jurisdiction.headline_rate = headline.rate
    db.session.flush()


@dataclass
class ReportValues:
    """One report's values, cleaned."""

    period_start: date
    period_end: date
    months: int
    total: int
    diverted: int
    eligible: int | None
    source_url: str
    is_sample: bool


def clean_report(*, period_start, period_end, total, diverted, eligible=None, source_url="",
                 is_sample=False) -> ReportValues:
    start, end, months = clean_period(period_start, period_end)
    total, diverted, eligible = clean_counts(total, diverted, eligible)
    source = clean_web_address(source_url, field="source_url")
    return ReportValues(start, end, months, total, diverted, eligible, source, bool(is_sample))


def _check_origin(origin: str) -> None:
    if origin not in ORIGINS:
        raise ValueError(f"unknown origin {origin!r}")


def _new_report(jurisdiction, values: ReportValues, *, actor, origin: str) -> MetricReport:
    return MetricReport(jurisdiction_id=jurisdiction.id, period_start=values.period_start,
                        period_end=values.period_end, months=values.months, total=values.total,
                        diverted=values.diverted, eligible=values.eligible, source_url=values.source_url,
                        is_sample=values.is_sample, origin=origin,
                        reported_by_id=actor.id if actor is not None else None, version=1)


def _add_reports(reports: list[MetricReport], *, actor, origin: str) -> None:
    """Insert new reports with their "create" revisions: two flushes however many there are."""
    db.session.add_all(reports)
    db.session.flush()
    for report in reports:
        _revise(report, action="create", actor=actor, origin=origin)


def _create(jurisdiction, values: ReportValues, *, actor, origin: str) -> MetricReport:
    clash = overlapping_report(jurisdiction, values.period_start, values.period_end)
    if clash is not None:
        raise PeriodOverlaps("period_start", f"This period overlaps the report for {_period_words(clash)}; "
                                             "correct that report instead.")
    report = _new_report(jurisdiction, values, actor=actor, origin=origin)
    _add_reports([report], actor=actor, origin=origin)
    return report


def _apply(report: MetricReport, values: ReportValues, *, actor, origin: str) -> bool:
    """Correct a report's figures; False when nothing differs (no revision, no new version)."""
    new = {"total": values.total, "diverted": values.diverted, "eligible": values.eligible,
           "source_url": values.source_url, "is_sample": values.is_sample}
    if all(getattr(report, key) == value for key, value in new.items()):
        return False
    for key, value in new.items():
        setattr(report, key, value)
    report.version += 1
    report.origin = origin
    report.reported_by_id = actor.id if actor is not None else report.reported_by_id
    db.session.flush()
    _revise(report, action="correct", actor=actor, origin=origin)
    return True


def report_metrics(jurisdiction: Jurisdiction, *, actor, origin: str = "form", **values) -> MetricReport:
    """Add one period's report. Raises ValidationFailed for bad figures or a period that overlaps another."""
    _check_origin(origin)
    cleaned = clean_report(**values)
    _lock(jurisdiction)
    report = _create(jurisdiction, cleaned, actor=actor, origin=origin)
    refresh_headline(jurisdiction)
    record_event(actor=actor, action="metrics.report", subject=f"jurisdiction {jurisdiction.slug}",
                 period=_period_words(report), origin=origin)
    return report


def correct_metrics(report: MetricReport, *, actor, origin: str = "form", expected_version: int | None = None,
                    total, diverted, eligible=None, source_url="", is_sample=False) -> MetricReport:
    """Correct one report's figures (its period stays; delete and report again to change it). With
    `expected_version`, refuses when someone corrected it in the meantime."""
    _check_origin(origin)
    cleaned = clean_report(period_start=report.period_start, period_end=report.period_end, total=total,
                           diverted=diverted, eligible=eligible, source_url=source_url, is_sample=is_sample)
    jurisdiction = db.session.get(Jurisdiction, report.jurisdiction_id)
    _lock(jurisdiction)
    db.session.refresh(report)
    if expected_version is not None and report.version != expected_version:
        raise StaleVersion(None, "This report was corrected by someone else in the meantime; "
                                 "reload it and try again.")
    if _apply(report, cleaned, actor=actor, origin=origin):
        refresh_headline(jurisdiction)
        record_event(actor=actor, action="metrics.correct", subject=f"jurisdiction {jurisdiction.slug}",
                     period=_period_words(report), origin=origin)
    return report


def delete_metrics(report: MetricReport, *, actor, origin: str = "form") -> None:
    _check_origin(origin)
    jurisdiction = db.session.get(Jurisdiction, report.jurisdiction_id)
    _lock(jurisdiction)
    _revise(report, action="delete", actor=actor, origin=origin)
    db.session.delete(report)
    refresh_headline(jurisdiction)
    record_event(actor=actor, action="metrics.delete", subject=f"jurisdiction {jurisdiction.slug}",
                 period=_period_words(report), origin=origin)


class RowErrors(ValidationFailed):
    """A CSV with errors: `rows` lists (line number, message); nothing was saved."""

    def __init__(self, rows: list[tuple[int, str]]):
        super().__init__("file", f"{len(rows)} line(s) have errors; nothing was saved.")
        self.rows = rows


@dataclass
class ImportResult:
    created: list[MetricReport]
    corrected: list[MetricReport]
    unchanged: int


def _truthy(value: str) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "y", "sample")


def read_metrics_csv(text: str) -> list[tuple[int, dict]]:
    """The CSV's rows as (line number, values); raises RowErrors for a file that is not the expected table."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in ("period_start", "period_end", "total", "diverted") if name not in header]
    if missing:
        raise RowErrors([(1, "The first line must name the columns; missing: " + ", ".join(missing) + ".")])
    reader.fieldnames = header
    rows = []
    for values in reader:
        if len(rows) >= MAX_CSV_ROWS:
            raise RowErrors([(reader.line_num, f"A file holds at most {MAX_CSV_ROWS} reports.")])
        if not any((value or "").strip() for value in values.values() if isinstance(value, str)):
            continue
        rows.append((reader.line_num, values))
    if not rows:
        raise RowErrors([(1, "The file has no reports below its header line.")])
    return rows


def import_metrics_csv(jurisdiction: Jurisdiction, *, actor, text: str, origin: str = "csv") -> ImportResult:
    """Report or correct every row of a CSV (columns CSV_COLUMNS; `eligible`, `source` and `sample` may be
    left out). A row for a period already reported with the same dates corrects it. All rows or none: any
    error raises RowErrors with every bad line, and nothing is saved."""
    _check_origin(origin)
    rows = read_metrics_csv(text)
    cleaned, errors = [], []
    for line, values in rows:
        try:
            cleaned.append((line, clean_report(
                period_start=values.get("period_start"), period_end=values.get("period_end"),
                total=values.get("total"), diverted=values.get("diverted"), eligible=values.get("eligible"),
                source_url=values.get("source") or values.get("source_url") or "",
                is_sample=_truthy(values.get("sample") or values.get("is_sample") or ""))))
        except ValidationFailed as error:
            errors.append((line, error.message))
    ordered = sorted(cleaned, key=lambda item: item[1].period_start)
    for (line_a, a), (line_b, b) in zip(ordered, ordered[1:]):
        if b.period_start <= a.period_end:
            errors.append((max(line_a, line_b), f"This period overlaps the one on line {min(line_a, line_b)}."))
    if errors:
        raise RowErrors(sorted(errors))
    result = store_reports(jurisdiction, cleaned, actor=actor, origin=origin, correct=True)
    record_event(actor=actor, action="metrics.import", subject=f"jurisdiction {jurisdiction.slug}",
                 created=len(result.created), corrected=len(result.corrected), origin=origin)
    return result


def store_reports(jurisdiction: Jurisdiction, rows: list[tuple[int, ReportValues]], *, actor, origin: str,
                  correct: bool) -> ImportResult:
    """Store cleaned rows (line, values) under one lock and one headline refresh. A row for a period already
    reported with the same dates corrects it when `correct` (the CSV upload), and is left alone otherwise (the
    content loader, which never overwrites a report); a row that overlaps another stored period is an error
    with `correct`, and skipped without. Raises RowErrors; the caller's unit of work then saves nothing."""
    _check_origin(origin)
    _lock(jurisdiction)
    stored = list(db.session.scalars(select(MetricReport).where(MetricReport.jurisdiction_id == jurisdiction.id)))
    by_start = {report.period_start: report for report in stored}
    result, errors, new = ImportResult([], [], 0), [], []
    for line, values in rows:
        report = by_start.get(values.period_start)
        if report is not None and report.period_end == values.period_end:
            if correct and _apply(report, values, actor=actor, origin=origin):
                result.corrected.append(report)
            else:
                result.unchanged += 1
            continue
        clash = next((other for other in stored if other.period_start <= values.period_end
                      and other.period_end >= values.period_start), None)
        if clash is not None:
            if correct:
                errors.append((line, f"This period overlaps the report for {_period_words(clash)}."))
            else:
                result.unchanged += 1
            continue
        new.append(_new_report(jurisdiction, values, actor=actor, origin=origin))
    if errors:
        raise RowErrors(sorted(errors))
    _add_reports(new, actor=actor, origin=origin)
    result.created.extend(new)
    if result.created or result.corrected:
        refresh_headline(jurisdiction)
    return result


def reports_of(jurisdiction: Jurisdiction) -> list[MetricReport]:
    return list(db.session.scalars(select(MetricReport).where(MetricReport.jurisdiction_id == jurisdiction.id)
                                   .order_by(MetricReport.period_start)))


def get_report(jurisdiction: Jurisdiction, report_id: int) -> MetricReport | None:
    report = db.session.get(MetricReport, report_id)
    return report if report is not None and report.jurisdiction_id == jurisdiction.id else None


def find_report(jurisdiction: Jurisdiction, period_start: date) -> MetricReport | None:
    return db.session.scalar(select(MetricReport).where(MetricReport.jurisdiction_id == jurisdiction.id,
                                                        MetricReport.period_start == period_start))


def revisions_of(jurisdiction: Jurisdiction) -> list[MetricRevision]:
    return list(db.session.scalars(select(MetricRevision).where(MetricRevision.jurisdiction_id == jurisdiction.id)
                                   .order_by(MetricRevision.created_at.desc(), MetricRevision.id.desc())))


def refresh_all_headlines(progress=lambda step: None) -> list[str]:
    """Recompute every jurisdiction's stored headline from its reports (`flask jurisdictions refresh`); the
    slugs of those whose stored headline was out of date. The headline is derived data: this repairs it."""
    changed = []
    for jurisdiction in db.session.scalars(select(Jurisdiction).order_by(Jurisdiction.slug)):
        before = (jurisdiction.headline_start, jurisdiction.headline_end, jurisdiction.headline_months,
                  jurisdiction.headline_total, jurisdiction.headline_diverted, jurisdiction.headline_is_sample)
        refresh_headline(jurisdiction)
        after = (jurisdiction.headline_start, jurisdiction.headline_end, jurisdiction.headline_months,
                 jurisdiction.headline_total, jurisdiction.headline_diverted, jurisdiction.headline_is_sample)
        if before != after:
            changed.append(jurisdiction.slug)
        progress(1)
    return changed
