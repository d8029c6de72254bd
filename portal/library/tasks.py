"""The library's scheduled jobs, run by the worker's scheduler (`flask worker`), and its queued tasks."""
from portal import queue, search
from portal.library import attachments
from portal.library.alerts import send_alerts


# Outside a unit of work, as `flask alerts send` runs it: each member's digest is its own unit.
@queue.periodic("library.send_alerts", minute="0", in_unit_of_work=False)
def send_alerts_hourly() -> None:
    """What `flask alerts send` does, every hour on the hour; an item is never sent to the same member twice."""
    send_alerts()


@queue.periodic("search.sync", minute="*")
def sync_search_index() -> None:
    """Every minute: index what became due (scheduled releases, members-only turning public) and repair
    whatever a failed after-commit update left stale."""
    search.sync()


@queue.task("library.extract_text", retries=2, retry_delay=60)
def extract_text(*, attachment_id: int) -> None:
    """An uploaded file's text, extracted within the limits of portal/library/extraction.py, saved and indexed."""
    attachments.extract_stored_text(attachment_id)


@queue.periodic("library.extract_pending", minute="*/15")
def extract_pending() -> None:
    """Queue again the files still waiting for their text long after their upload (a job lost with a crashed
    worker or an unreachable queue); extracting twice does no harm."""
    attachments.requeue_pending_extractions()
