"""The analysis job: read the mapped columns of the waiting file into its aggregate, showing progress, and
delete the file when it ends, whatever the outcome. The worker runs it; `flask calls analyze` calls it directly."""
import logging
import time
from collections.abc import Callable

import duckdb
from flask import current_app

from portal import queue
from portal.calls import engine, files, services

log = logging.getLogger(__name__)
PROGRESS_EVERY = 0.5  # seconds between two progress writes to the database


@queue.task("calls.run_analysis", in_unit_of_work=False)
def run_analysis_task(*, analysis_id: int) -> None:
    run_analysis(analysis_id)


@queue.periodic("calls.clean_stale_files", minute="*/10", in_unit_of_work=False)
def clean_stale_files() -> None:
    """Every ten minutes: delete files nobody mapped in time and leftovers no analysis owns."""
    services.clean_stale_files()


def run_analysis(analysis_id: int, *, progress: Callable[[str, float, int], None] | None = None) -> None:
    """Run one queued analysis; `progress(stage, fraction, rows_read)` is told as the file is read."""
    started = time.monotonic()
    marked = services.mark_running(analysis_id)
    if marked is None:  # already run, deleted, or never queued
        return
    analysis, info = marked
    token, estimated, mapping = analysis.file_token, analysis.rows_estimated, dict(analysis.mapping)
    written = [0.0]

    def report(stage: str, fraction: float) -> None:
        rows = int(fraction * estimated) if stage == "reading" else 0
        if progress is not None:
            progress(stage, fraction, rows)
        now = time.monotonic()
        if now - written[0] >= PROGRESS_EVERY:
            written[0] = now
            services.record_progress(analysis_id, stage=stage, rows_read=rows)

    aggregate, error = None, ""
    try:
        aggregate = engine.analyse(services.upload_path(token), info, mapping,
                                   settings=services.engine_settings(), work_path=services.work_path(token),
                                   max_bytes=current_app.config["CALLS_MAX_BYTES"], progress=report)
    except files.FileProblem as problem:
        error = str(problem)
    except duckdb.OutOfMemoryException:
        error = ("The analysis needed more memory than it may use (CALLS_MEMORY_LIMIT): the file has too many "
                 "distinct values in its mapped columns (a call type column of free text, say). Map another "
                 "column, split the file, or ask staff to raise the limit.")
    except Exception:
        log.exception("call analysis %s failed", analysis_id)
        error = "The analysis stopped on an unexpected error; staff can see it in the worker's log."
    except BaseException:  # interrupted (Ctrl-C in the command, the worker stopping): the file goes too
        services.delete_files(token)
        services.finish_analysis(analysis_id, aggregate=None, seconds=time.monotonic() - started,
                                 error="The analysis was interrupted; the file was deleted. Upload it again.")
        raise
    finally:
        services.delete_files(token)
    services.finish_analysis(analysis_id, aggregate=aggregate, error=error, seconds=time.monotonic() - started)
