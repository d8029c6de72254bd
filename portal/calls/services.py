"""Call-type analyses: an uploaded extract is inspected, its columns mapped, and the job (portal/calls/tasks.py)
aggregates it; results are computed from the stored aggregate with the jurisdiction's classification table
(portal/calls/rules.py); the eligible-calls figure is saved through the metric-report service."""
import os
import secrets
import socket
import shutil
from calendar import monthrange
from datetime import date, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from portal import queue, uow
from portal.audit.services import record_event
from portal.database import utcnow
from portal.calls import engine, files
from portal.calls.mapping import check_mapping, propose_mapping
from portal.calls.aggregate import Aggregate
from portal.calls.classify import Table, TableError, load_table
from portal.calls.models import CallAnalysis
from portal.calls.rules import code_table_of, settings_of, table_for
from portal.calls.results import Results, compute_results
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.jurisdictions import metrics
from portal.jurisdictions.models import Jurisdiction, MetricReport
from portal.text import clean_filename


# --- files on disk --------------------------------------------------------------------------------------------

def calls_dir() -> Path:
    path = Path(current_app.config["CALLS_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def upload_path(token: str) -> Path:
    return calls_dir() / f"{token}.upload"


def work_path(token: str) -> Path:
    return calls_dir() / f"{token}.utf8"


def new_upload_path() -> tuple[str, Path]:
    """A fresh name under CALLS_DIR for a file being received (the upload streams straight into it)."""
    token = secrets.token_hex(16)
    return token, upload_path(token)


def delete_files(token: str) -> None:
    if not token:
        return
    for path in (upload_path(token), work_path(token)):
        path.unlink(missing_ok=True)


def engine_settings() -> engine.EngineSettings:
    config = current_app.config
    return engine.EngineSettings(threads=config["CALLS_THREADS"], memory_limit=config["CALLS_MEMORY_LIMIT"],
                                 temp_directory=str(calls_dir() / "spill"))


# --- starting an analysis -------------------------------------------------------------------------------------

def start_analysis(jurisdiction: Jurisdiction, *, actor, token: str, filename: str) -> CallAnalysis:
    """An analysis of the file received as `token`: inspected (a file that is not a readable CSV is refused and
    deleted), then waiting for its column mapping. Raises ValidationFailed("file", ...)."""
    path = upload_path(token)
    try:
        info = files.inspect_file(path)
    except files.FileProblem as problem:
        delete_files(token)
        raise ValidationFailed("file", str(problem)) from None
    except OSError:
        delete_files(token)
        raise ValidationFailed("file", "The file could not be read; upload it again.") from None
    analysis = CallAnalysis(jurisdiction_id=jurisdiction.id, created_by_id=actor.id if actor else None,
                            status="uploaded", file_token=token, filename=clean_filename(filename, "upload.csv"),
                            size_bytes=info.size_bytes, encoding=info.encoding, delimiter=info.delimiter,
                            is_compressed=info.is_compressed, header=info.header,
                            rows_estimated=info.estimated_rows(info.size_bytes),
                            mapping=propose_mapping(info.header, settings_of(jurisdiction).mapping))
    db.session.add(analysis)
    db.session.flush()
    # A file left behind by a rollback is found by clean_stale_files; one kept is deleted by the job.
    record_event(actor=actor, action="analysis.uploaded", subject=f"jurisdiction {jurisdiction.slug}",
                 analysis=analysis.id)
    return analysis


def file_info(analysis: CallAnalysis) -> files.FileInfo | None:
    """The waiting file inspected again (for the preview), None once it is gone."""
    if analysis.status != "uploaded":
        return None
    try:
        return files.inspect_file(upload_path(analysis.file_token))
    except (files.FileProblem, OSError):
        return None


def _stored_info(analysis: CallAnalysis) -> files.FileInfo:
    return files.FileInfo(size_bytes=analysis.size_bytes, is_compressed=analysis.is_compressed,
                           encoding=analysis.encoding, delimiter=analysis.delimiter, header=list(analysis.header))


def queue_analysis(analysis: CallAnalysis, *, actor, mapping: dict) -> CallAnalysis:
    """Run the analysis with this column mapping (remembered for the jurisdiction's next file)."""
    if analysis.status != "uploaded":
        raise ValidationFailed(None, "This analysis has already started; upload the file again to change its "
                                     "columns.")
    try:
        mapping = check_mapping(mapping, analysis.header)
    except files.FileProblem as problem:
        raise ValidationFailed("call_type", str(problem)) from None
    analysis.mapping = mapping
    analysis.status = "queued"
    jurisdiction = db.session.get(Jurisdiction, analysis.jurisdiction_id)
    settings_of(jurisdiction).mapping = dict(mapping)
    queue.enqueue("calls.run_analysis", analysis_id=analysis.id)
    return analysis


def analyse_file(jurisdiction: Jurisdiction, path: Path, *, actor, mapping: dict | None = None,
                 progress=None) -> CallAnalysis:
    """What `flask calls analyze` does: the same steps and the same job, in this process. The file is copied
    under CALLS_DIR first (a hard link when both are on one file system), so that the job deletes only its own
    name for it, never the person's file."""
    token, target = new_upload_path()
    try:
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
    except OSError as error:
        delete_files(token)
        raise ValidationFailed("file", f"The file could not be read: {error.strerror or error}.") from None
    with uow.unit_of_work():
        analysis = start_analysis(jurisdiction, actor=actor, token=token, filename=Path(path).name)
        proposed = dict(analysis.mapping)
        proposed.update(mapping or {})
        try:
            cleaned = check_mapping(proposed, analysis.header)
        except files.FileProblem as problem:
            delete_files(token)
            raise ValidationFailed("map", str(problem)) from None
        analysis.mapping = cleaned
        analysis.status = "queued"
        settings_of(jurisdiction).mapping = dict(cleaned)
        analysis_id = analysis.id
    from portal.calls.tasks import run_analysis

    run_analysis(analysis_id, progress=progress)
    return db.session.get(CallAnalysis, analysis_id)


# --- the job's steps (each its own unit of work: the page sees progress while the file is read) ----------------

def mark_running(analysis_id: int) -> tuple[CallAnalysis, files.FileInfo] | None:
    with uow.unit_of_work():
        analysis = db.session.get(CallAnalysis, analysis_id)
        if analysis is None or analysis.status != "queued":
            return None
        analysis.status, analysis.stage = "running", "preparing"
        analysis.started_at = utcnow()
        analysis.worker = this_worker()
    db.session.refresh(analysis)
    return analysis, _stored_info(analysis)


def record_progress(analysis_id: int, *, stage: str, rows_read: int) -> None:
    with uow.unit_of_work():
        db.session.execute(CallAnalysis.__table__.update().where(CallAnalysis.id == analysis_id)
                           .values(stage=stage, rows_read=rows_read))


def finish_analysis(analysis_id: int, *, aggregate: Aggregate | None, error: str = "", seconds: float) -> None:
    with uow.unit_of_work():
        analysis = db.session.get(CallAnalysis, analysis_id)
        if analysis is None:
            return
        analysis.stage = ""
        analysis.finished_at = utcnow()
        analysis.seconds = seconds
        if aggregate is None:
            analysis.status, analysis.error = "failed", error[:2000]
            return
        analysis.status = "done"
        analysis.aggregate = aggregate.to_json()
        analysis.rows, analysis.calls = aggregate.rows, aggregate.calls
        analysis.rows_read = aggregate.rows
        analysis.unreadable = aggregate.unreadable_rows
        analysis.period_start, analysis.period_end = aggregate.period_start, aggregate.period_end


def this_worker() -> str:
    """Who runs a job: this host and process, so that a worker starting on the same host can tell a job whose
    process is gone from one another worker is still running."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}"


def _gone(worker: str) -> bool:
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname()[:80] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def clean_stale_files() -> int:
    """Delete every raw file no waiting or live analysis owns: leftovers of a crash or a rollback; the file of a
    job whose process is gone (on this host, told by its pid: so at a worker's start) or that has not shown
    progress for CALLS_STALE_MINUTES (on any host), which is marked interrupted; and files that waited for
    their columns longer than CALLS_WAIT_MINUTES. Returns how many files were deleted. The worker runs it when
    it starts and every ten minutes."""
    config = current_app.config
    deleted = 0
    with uow.unit_of_work():
        waited = utcnow() - timedelta(minutes=config["CALLS_WAIT_MINUTES"])
        for analysis in db.session.scalars(select(CallAnalysis).where(CallAnalysis.status == "uploaded",
                                                                      CallAnalysis.created_at < waited)):
            analysis.status = "failed"
            analysis.error = (f"Nobody chose the file's columns within {config['CALLS_WAIT_MINUTES']} minutes, so "
                              "it was deleted; upload it again.")
        silent = utcnow() - timedelta(minutes=config["CALLS_STALE_MINUTES"])
        for analysis in db.session.scalars(select(CallAnalysis).where(CallAnalysis.status == "running")):
            if _gone(analysis.worker) or analysis.updated_at < silent:
                analysis.status, analysis.stage = "failed", ""
                analysis.error = ("The analysis was interrupted (its worker stopped); the file was deleted. "
                                  "Upload it again.")
        db.session.flush()
        kept = set(db.session.scalars(select(CallAnalysis.file_token).where(
            CallAnalysis.status.in_(("uploaded", "queued", "running")))))
    for path in calls_dir().iterdir():
        if path.is_file() and path.suffix in (".upload", ".utf8") and path.stem not in kept:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


# --- results --------------------------------------------------------------------------------------------------

def results_of(analysis: CallAnalysis, *, table: Table | None = None) -> Results | None:
    if analysis.status != "done" or analysis.aggregate is None:
        return None
    jurisdiction = analysis.jurisdiction
    try:
        table = table or table_for(jurisdiction)
    except TableError:  # a line that the default table no longer accepts: results without the overrides
        table = load_table()
    return compute_results(Aggregate.from_json(analysis.aggregate), table, code_table=code_table_of(jurisdiction))


def analyses_of(jurisdiction: Jurisdiction, *, limit: int = 50) -> list[CallAnalysis]:
    return list(db.session.scalars(select(CallAnalysis).where(CallAnalysis.jurisdiction_id == jurisdiction.id)
                                   .order_by(CallAnalysis.created_at.desc(), CallAnalysis.id.desc())
                                   .limit(limit)))


def get_analysis(jurisdiction: Jurisdiction, analysis_id: int) -> CallAnalysis | None:
    analysis = db.session.get(CallAnalysis, analysis_id)
    return analysis if analysis is not None and analysis.jurisdiction_id == jurisdiction.id else None


def delete_analysis(analysis: CallAnalysis, *, actor) -> None:
    """Forget an analysis (its aggregate); a saved figure stays in the jurisdiction's reports."""
    if analysis.status in ("queued", "running"):
        raise ValidationFailed(None, "The analysis is still running; delete it once it has finished.")
    token = analysis.file_token
    jurisdiction = analysis.jurisdiction
    db.session.delete(analysis)
    queue.when_committed(lambda: delete_files(token))
    record_event(actor=actor, action="analysis.deleted", subject=f"jurisdiction {jurisdiction.slug}",
                 analysis=analysis.id)


def whole_months(analysis: CallAnalysis) -> tuple[date, date, int] | None:
    """The calendar months the file's calls cover: (first day, last day, months), None without times."""
    if not analysis.period_start or not analysis.period_end:
        return None
    start = analysis.period_start.replace(day=1)
    end = analysis.period_end.replace(day=monthrange(analysis.period_end.year, analysis.period_end.month)[1])
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return start, end, months


def save_eligible_figure(analysis: CallAnalysis, *, actor, include_co_response: bool, diverted: int | None,
                         source_url: str, origin: str = "analysis") -> MetricReport:
    """Save the calls that could go to an alternative response (with co-responses, if chosen) as the
    jurisdiction's eligible calls for the file's months: a report of that period is corrected (its total and
    diverted stay), else a report is made with the file's calls as total and `diverted` (the non-police calls
    when the file says which units answered)."""
    results = results_of(analysis)
    if results is None:
        raise ValidationFailed(None, "The analysis has no results yet.")
    period = whole_months(analysis)
    if period is None:
        raise ValidationFailed(None, "The file gives no received times, so its period is unknown: report the "
                                     "figure on the metrics page with its period.")
    start, end, months = period
    if months not in (1, 3, 12):
        raise ValidationFailed(None, f"The file's calls cover {months} calendar months ({start:%B %Y} to "
                                     f"{end:%B %Y}); a report covers 1, 3 or 12 months. Upload a file of a "
                                     "month, a quarter or a year.")
    eligible = results.by_response["alternative"] + (results.by_response["co_response"] if include_co_response
                                                     else 0)
    jurisdiction = analysis.jurisdiction
    existing = next((report for report in metrics.reports_of(jurisdiction)
                     if report.period_start == start and report.period_end == end), None)
    if existing is not None:
        if eligible > existing.total:
            raise ValidationFailed(None, f"The report of this period counts {existing.total:,} calls in all, fewer "
                                         f"than the {eligible:,} eligible ones found here.")
        report = metrics.correct_metrics(existing, actor=actor, origin=origin, total=existing.total,
                                         diverted=existing.diverted, eligible=eligible,
                                         source_url=source_url, is_sample=existing.is_sample)
    else:
        if diverted is None:
            if not results.has_unit_type:
                raise ValidationFailed("diverted", "No report covers this period yet: enter how many calls "
                                                   "alternative responders answered.")
            diverted = results.non_police_calls
        report = metrics.report_metrics(jurisdiction, actor=actor, origin=origin, period_start=start,
                                        period_end=end, total=results.calls, diverted=diverted,
                                        eligible=eligible, source_url=source_url)
    analysis.report_id = report.id
    return report

