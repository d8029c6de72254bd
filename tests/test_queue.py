"""The task queue against real consumers, on SQLite (the embedded default) and on Redis (REDIS_URL).

Jobs are queued after the commit and never for rolled back work; a task runs in its own unit of work and is
retried; the reset request does identical work whether or not the address has an account; the scheduled
jobs are declared; `flask worker` consumes the queue from another process.
"""
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from portal import queue
from portal.audit.models import AuditEvent
from portal.audit.services import record_event
from portal.extensions import db
from tests.conftest import (counted_queries, create_member, _empty_database, link_path, make_app, Outbox,
                           post_form, ROOT, running_consumer, unit)

ATTEMPTS: dict[str, int] = {}


@queue.task("tests.note", retries=2)
def note(*, subject: str, fail_first: int = 0) -> None:
    """Saves an audit event; fails its first `fail_first` attempts after writing (so each is rolled back)."""
    record_event(actor=None, action="tests.note", subject=subject)
    db.session.flush()
    ATTEMPTS[subject] = ATTEMPTS.get(subject, 0) + 1
    if ATTEMPTS[subject] <= fail_first:
        raise RuntimeError(f"attempt {ATTEMPTS[subject]} fails on purpose")


def gave_up(*, subject: str) -> None:
    record_event(actor=None, action="tests.gave_up", subject=subject)


@queue.task("tests.always_fails", retries=1, on_failure=gave_up)
def always_fails(*, subject: str) -> None:
    record_event(actor=None, action="tests.note", subject=subject)
    raise RuntimeError("never works")


@pytest.fixture(params=["sqlite", "redis"])
def queue_app(request, tmp_path):
    overrides = {"QUEUE_IMMEDIATE": False}
    if request.param == "redis":
        overrides["REDIS_URL"] = request.getfixturevalue("redis_url")
    app = make_app(tmp_path, **overrides)
    app.backend = request.param
    yield app
    _empty_database(app)


def huey_of(app):
    return app.extensions["portal.queue"].huey


def notes(app, action: str = "tests.note") -> list[str]:
    with unit(app):
        return list(db.session.scalars(select(AuditEvent.subject).where(AuditEvent.action == action)
                                       .order_by(AuditEvent.id)))


def test_the_backend_follows_redis_url(queue_app):
    storage = type(huey_of(queue_app).storage).__name__
    if queue_app.backend == "redis":
        assert storage == "RedisStorage"
    else:
        assert storage == "SqliteStorage"
        assert Path(queue_app.config["QUEUE_SQLITE_PATH"]).parent == Path(queue_app.instance_path)


def test_a_job_is_queued_only_when_its_unit_commits_and_runs_in_the_worker(queue_app):
    with unit(queue_app):
        queue.enqueue(note, subject="committed")
        queue.enqueue("tests.note", subject="committed")  # the same call twice in one unit: queued once
        assert huey_of(queue_app).pending_count() == 0  # not before the commit
    with pytest.raises(RuntimeError), unit(queue_app):
        queue.enqueue(note, subject="rolled back")
        raise RuntimeError("the unit fails")
    assert [task.kwargs for task in huey_of(queue_app).pending()] == [{"subject": "committed"}]

    with running_consumer(queue_app) as consumer:
        consumer.wait("tests.note")
    assert notes(queue_app) == ["committed"]
    assert huey_of(queue_app).pending_count() == 0


def test_a_failing_attempt_is_rolled_back_and_retried(queue_app):
    subject = f"retried-{queue_app.backend}"
    with unit(queue_app):
        queue.enqueue(note, subject=subject, fail_first=2)
    with running_consumer(queue_app) as consumer:
        consumer.wait("tests.note")
    assert consumer.count("tests.note", "error") == 2
    assert consumer.count("tests.note", "retrying") == 2
    # Three attempts each wrote an event; only the one that succeeded was committed.
    assert ATTEMPTS[subject] == 3
    assert notes(queue_app) == [subject]


def test_the_last_failure_runs_on_failure_once(queue_app):
    with unit(queue_app):
        queue.enqueue(always_fails, subject="hopeless")
    with running_consumer(queue_app) as consumer:
        consumer.wait("tests.always_fails", "error", count=2)
        consumer.wait("tests.always_fails", "retrying", count=1)
    assert notes(queue_app) == []
    assert notes(queue_app, "tests.gave_up") == ["hopeless"]


def test_unknown_tasks_and_undeclared_functions_are_refused(queue_app):
    with unit(queue_app):
        with pytest.raises(LookupError):
            queue.enqueue("tests.no_such_task")
        with pytest.raises(LookupError):
            queue.enqueue(gave_up, subject="x")


def test_immediate_mode_runs_the_job_right_after_the_commit(tmp_path):
    app = make_app(tmp_path)  # the suite's default: QUEUE_IMMEDIATE
    try:
        with unit(app):
            queue.enqueue(note, subject="at once")
            assert notes(app) == []
        assert notes(app) == ["at once"]
    finally:
        _empty_database(app)


# --- the password reset: same work whether or not the account exists ------------------

def _statements_during(app, action) -> list[str]:
    with counted_queries(app) as seen:
        response = action()
    assert response.status_code == 200
    return seen


def test_a_reset_request_does_identical_work_for_known_and_unknown_addresses(queue_app):
    create_member(queue_app, email="known@example.org")
    client = queue_app.test_client()
    huey = huey_of(queue_app)
    huey.flush()
    token = {"token_from": "/reset"}

    known_sql = _statements_during(queue_app, lambda: post_form(client, "/reset", {"email": "Known@Example.org"},
                                                                 **token))
    known_jobs = huey.pending()
    unknown_sql = _statements_during(queue_app, lambda: post_form(client, "/reset", {"email": "nobody@example.org"},
                                                                   **token))
    jobs = huey.pending()
    unknown_jobs = jobs[len(known_jobs):]

    assert known_sql == unknown_sql
    assert len(known_jobs) == len(unknown_jobs) == 1
    assert known_jobs[0].name == unknown_jobs[0].name == "members.send_password_reset"
    assert [job.kwargs for job in jobs] == [{"email": "known@example.org"}, {"email": "nobody@example.org"}]

    # The worker does the lookup: only the known address gets a link, and it works.
    outbox = Outbox(queue_app)
    with running_consumer(queue_app) as consumer:
        consumer.wait("members.send_password_reset", count=2)
    assert [message["To"] for message in outbox.messages() if "Reset" in message["Subject"]] == ["known@example.org"]
    assert client.get(link_path(outbox.link(outbox.last("known@example.org")))).status_code == 200


# --- scheduled jobs ---------------------------------------------------------------------

def test_alerts_run_hourly_and_the_search_sync_every_minute(queue_app):
    huey = huey_of(queue_app)
    on_the_hour = {task.name for task in huey.read_periodic(datetime(2026, 3, 4, 10, 0))}
    past_the_hour = {task.name for task in huey.read_periodic(datetime(2026, 3, 4, 10, 7))}
    # Other features add their own scheduled jobs; these two are the library's.
    assert {"library.send_alerts", "search.sync"} <= on_the_hour
    assert "search.sync" in past_the_hour and "library.send_alerts" not in past_the_hour


def test_the_hourly_alerts_job_mails_each_digest_once(queue_app):
    from tests.library_helpers import make_resource

    create_member(queue_app, email="reader@example.org", wants_alerts=True)
    make_resource(queue_app, title="Platypus policy", publish_at=datetime.now(timezone.utc))
    outbox = Outbox(queue_app)
    task_queue = queue_app.extensions["portal.queue"]
    with running_consumer(queue_app) as consumer:
        task_queue.push("library.send_alerts", {})  # what the scheduler does on the hour
        consumer.wait("library.send_alerts")
        task_queue.push("library.send_alerts", {})
        consumer.wait("library.send_alerts", count=2)
    digests = [m for m in outbox.messages("reader@example.org") if m["Subject"].startswith("New on")]
    assert len(digests) == 1
    assert "Platypus policy" in Outbox.text(digests[0])


def test_the_scheduler_runs_the_search_sync(queue_app):
    from portal import search

    with running_consumer(queue_app, periodic=True) as consumer:
        consumer.wait("search.sync")
    with queue_app.app_context():
        assert search.compare().ok


# --- `flask worker` in its own process --------------------------------------------------

def test_flask_worker_consumes_the_queue_and_stops_on_sigint(queue_app, tmp_path):
    create_member(queue_app, email="known@example.org")
    client = queue_app.test_client()
    assert post_form(client, "/reset", {"email": "known@example.org"}, token_from="/reset").status_code == 200
    config = queue_app.config
    env = dict(os.environ, PORTAL_INSTANCE_PATH=queue_app.instance_path,
               DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"], SEARCH_INDEX_DIR=config["SEARCH_INDEX_DIR"],
               UPLOAD_DIR=config["UPLOAD_DIR"], MAIL_OUTBOX_DIR=config["MAIL_OUTBOX_DIR"],
               SITE_URL=config["SITE_URL"], REDIS_URL=config["REDIS_URL"] or "")
    env.pop("MAIL_SERVER", None)
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--no-periodic"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outbox = Outbox(queue_app)
    try:
        deadline = time.monotonic() + 30
        while not [m for m in outbox.messages("known@example.org") if "Reset" in m["Subject"]]:
            assert worker.poll() is None, worker.stdout.read()
            assert time.monotonic() < deadline, "the worker did not send the reset mail"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGINT)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert "members.send_password_reset" in output
    assert client.get(link_path(outbox.link(outbox.last("known@example.org")))).status_code == 200


# --- `make run`: the worker beside the server, links on the port served ------------------

@pytest.mark.parametrize("arguments, site_url", [
    (["PORT=8123"], "http://127.0.0.1:8123"),
    (["HOST=0.0.0.0", "PORT=8080"], "http://127.0.0.1:8080"),  # every interface: link to loopback
    (["PORT=8123", "SITE_URL=https://portal.example.org"], "https://portal.example.org"),
])
def test_make_run_starts_a_worker_and_links_follow_the_port(arguments, site_url):
    # Not the settings of a make that runs this suite (`make test`): MAKEFLAGS/MAKELEVEL would add
    # "Entering directory" lines around the recipe.
    env = {key: value for key, value in os.environ.items()
           if key not in ("SITE_URL", "PORT", "HOST", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    recipe = subprocess.run(["make", "--no-print-directory", "--dry-run", "--always-make", "run", *arguments],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert f"export SITE_URL='{site_url}'" in recipe
    assert "flask --app app worker & worker=$!" in recipe
    assert "kill -INT $worker" in recipe  # stopped when the server stops
    port = next(a for a in arguments if a.startswith("PORT=")).split("=")[1]
    assert "flask --app app run --host" in recipe and recipe.rstrip().endswith(f"--port {port}")
