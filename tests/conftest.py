"""Fixtures: a fresh app per test on a temp database, index and outbox; clients; helpers.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set.
Every HTML page a test renders is kept so that tests/test_html_valid.py can check it.
"""
import email
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.pool import NullPool

from portal import create_app
from portal.extensions import db
from portal.uow import unit_of_work
from portal.members import services as members

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "a long and unusual passphrase 7"
# argon2id at its smallest cost: the production parameters made most of the suite's CPU time, and
# tests/test_security.py keeps one test on the production defaults.
TEST_HASH_PARAMS = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}

# Pages rendered by any test, checked once by the Nu HTML Checker at the end of the run.
_OWN_RENDERED_DIR = not os.environ.get("PORTAL_RENDERED_DIR")
RENDERED_DIR = Path(os.environ.get("PORTAL_RENDERED_DIR") or tempfile.mkdtemp(prefix="portal-rendered-"))
os.environ["PORTAL_RENDERED_DIR"] = str(RENDERED_DIR)


def pytest_sessionfinish(session, exitstatus):
    if _OWN_RENDERED_DIR:
        shutil.rmtree(RENDERED_DIR, ignore_errors=True)


def keep_rendered_page(html: str, label: str) -> None:
    digest = hashlib.sha256(html.encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")[:60] or "root"
    (RENDERED_DIR / f"{safe}-{digest}.html").write_text(html)


def pytest_collection_modifyitems(session, config, items):
    # The HTML check reads what every other test rendered, so it runs last.
    last = [item for item in items if item.module.__name__.endswith("test_html_valid")]
    items[:] = [item for item in items if item not in last] + last


@contextmanager
def counted_queries(app):
    """Every SQL statement the app sends while the block runs (requests or service calls), as a growing list."""
    statements = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def unit(app):
    """What a command does: an app context and one unit of work, committed at the end of the block."""
    with app.app_context(), unit_of_work():
        yield


@contextmanager
def throwaway_postgres_database():
    """A new, empty database on TEST_DATABASE_URL's server, dropped afterwards."""
    server = make_url(TEST_DATABASE_URL)
    name = f"portal_migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001  (the role may lack CREATEDB on a developer's server)
        admin.dispose()
        if IN_CI:
            raise
        pytest.skip(f"cannot create a throwaway database on TEST_DATABASE_URL's server: {error}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_schema_ready = set()


def _prepare_database(app):
    with unit(app):
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            db.create_all()
        elif app.config["SQLALCHEMY_DATABASE_URI"] not in _schema_ready:
            db.drop_all()
            db.create_all()
            _schema_ready.add(app.config["SQLALCHEMY_DATABASE_URI"])


def _empty_database(app):
    with unit(app):
        db.session.remove()
        if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
            with db.engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


def make_app(tmp_path: Path, **overrides):
    settings = {
        "PORTAL_INSTANCE_PATH": tmp_path / "instance",
        "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'portal.db'}",
        "SEARCH_INDEX_DIR": str(tmp_path / "search"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MAIL_SERVER": None,
        "SITE_URL": "http://localhost",
        "SERVER_NAME": None,
        "TESTING": True,
        "PASSWORD_HASH_PARAMS": TEST_HASH_PARAMS,
        # Queued jobs run in this process right after the commit (mail files are there when a request
        # returns); tests/test_queue.py, test_mail.py and test_redis.py run real consumers instead.
        "QUEUE_IMMEDIATE": True,
    }
    settings.update(overrides)
    app = create_app(settings)

    @app.after_request
    def keep_html(response):
        # A 304 has no body to check (the page was checked when it was first sent).
        if response.mimetype == "text/html" and not response.direct_passthrough and response.status_code != 304:
            from flask import request

            keep_rendered_page(response.get_data(as_text=True), request.path)
        return response

    _prepare_database(app)
    return app


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    with unit(app):
        from portal.content import LoadReport, load_jurisdictions, load_pages

        # Pages and jurisdictions are cheap; the `library` fixture loads the resources too.
        report = LoadReport()
        load_pages(ROOT / "content", report)
        load_jurisdictions(ROOT / "content", report)
        assert not report.errors, report.errors
    yield app
    _empty_database(app)


@pytest.fixture
def library(app):
    """The default content's resources, loaded through the services (so the index has them)."""
    with unit(app):
        from portal.content import load_content

        report = load_content(ROOT / "content")
        assert not report.errors, report.errors
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- helpers -------------------------------------------------------------------------

def csrf_token(client, path: str = "/login") -> str:
    """The session's CSRF token, read from the page's meta tag (Flask-WTF tokens are per session)."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post_form(client, path: str, data: dict | None = None, *, token_from: str | None = None, **kwargs):
    """POST like a browser would: with the CSRF token of the current session."""
    payload = {"csrf_token": csrf_token(client, token_from or "/login")}
    payload.update(data or {})
    return client.post(path, data=payload, **kwargs)


class Outbox:
    """The .eml files the app wrote, newest last."""

    def __init__(self, app):
        self.folder = Path(app.config["MAIL_OUTBOX_DIR"])

    def messages(self, to: str | None = None):
        if not self.folder.is_dir():
            return []
        found = []
        for path in sorted(self.folder.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if to is None or message["To"].lower() == to.lower():
                found.append(message)
        return found

    def last(self, to: str | None = None):
        messages = self.messages(to)
        assert messages, f"no mail to {to}"
        return messages[-1]

    @staticmethod
    def text(message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    @classmethod
    def link(cls, message, pattern: str = r"https?://\S+") -> str:
        match = re.search(pattern, cls.text(message))
        assert match, "no link in the message"
        return match.group(0)


@pytest.fixture
def outbox(app):
    return Outbox(app)


def link_path(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)


def create_member(app, *, email="member@example.org", password=PASSWORD, name="Maya Member", verified=True,
                  role="member", **profile):
    """A member made through the services, verified from the link in the outbox."""
    with unit(app):
        member = members.register_member(email=email, password=password, name=name, consent=True,
                                         sector=profile.pop("sector", "advocate"), **profile)
        assert member is not None, f"{email} already exists"
        member_id = member.id
    # The verification mail is written when the sign-up's unit of work has committed.
    with unit(app):
        member = members.get_member(member_id)
        if verified:
            token = link_path(Outbox.link(Outbox(app).last(email))).rsplit("/", 1)[1]
            members.verify_email(token)
        if role != "member":
            actor = members.create_admin(email=f"admin-for-{member.id}@example.org", password=PASSWORD) \
                if role == "staff" else None
            if role == "staff":
                members.set_member_role(member, role="staff", actor=actor)
            else:
                members.create_admin(email=email, password=password)
        return member.id


def login(client, email="member@example.org", password=PASSWORD):
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def member(app):
    create_member(app)
    return "member@example.org"


@pytest.fixture
def staff(app):
    create_member(app, email="staff@example.org", name="Sam Staff", role="staff")
    return "staff@example.org"


@pytest.fixture
def admin(app):
    create_member(app, email="admin@example.org", name="Ada Admin", role="admin")
    return "admin@example.org"


def create_event(app, *, title="Triage of welfare checks", days_ahead: float = 7, hours: float = 1,
                 timezone="America/Chicago", **fields) -> str:
    """An event made through the services, starting `days_ahead` days from now (on the minute); returns its
    slug. Other fields as events.services.create_event takes them (capacity, registration, join_url, ...)."""
    from datetime import timedelta

    from portal.database import utcnow
    from portal.events import services as events

    start = (utcnow() + timedelta(days=days_ahead)).replace(second=0, microsecond=0)
    with unit(app):
        event = events.create_event(actor=None, title=title, starts_at=start, ends_at=start + timedelta(hours=hours),
                                    timezone=timezone, **fields)
        return event.slug


# --- browser -------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def _need(condition: bool, why: str):
    if not condition:
        if IN_CI:
            pytest.fail(f"{why} (mandatory under CI=true)")
        pytest.skip(why)


@pytest.fixture(scope="session")
def browser():
    _need(Path(CHROMIUM).exists(), "Debian's Chromium is not installed: run `make system-deps`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app):
    """The test app served over HTTP on a free loopback port."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    app.config["SITE_URL"] = server.url
    yield server
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


PHONE_WIDTH = 360


def check_accessible(page, *, widths=(None, PHONE_WIDTH)) -> None:
    """axe-core on the current page at each width, zero violations (the served HTML is already kept for the
    HTML check). None is the page's own viewport (desktop in most tests); 360 is a small phone, so every page a
    test checks on a desktop is checked on a phone too. The viewport is put back afterwards."""
    from axe_playwright_python.sync_playwright import Axe

    original = page.viewport_size
    checked = set()
    try:
        for width in widths:
            shown = width or (original or {}).get("width")
            if shown in checked:  # a phone-sized page is checked once
                continue
            checked.add(shown)
            if width is not None and original is not None and width != page.viewport_size["width"]:
                page.set_viewport_size({"width": width, "height": original["height"]})
            results = Axe().run(page)
            assert results.violations_count == 0, f"{page.url} at {shown} px:\n{results.generate_report()}"
    finally:
        if original is not None and page.viewport_size != original:
            page.set_viewport_size(original)


def scrolls_sideways(page) -> dict | None:
    """The page's widths when it is wider than the window (a phone would scroll it sideways), else None."""
    widths = page.evaluate("({scroll: document.documentElement.scrollWidth, window: window.innerWidth})")
    return widths if widths["scroll"] > widths["window"] else None


# --- task queue and Redis ------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningConsumer:
    """A real Huey consumer (worker threads and the scheduler) on an app's queue, and a way to wait until
    tasks have finished: it listens to Huey's signals, so a test waits for an event, never for a time."""

    def __init__(self, app, *, periodic: bool = False, threads: int = 2):
        import threading

        self.queue = app.extensions["portal.queue"]
        assert not self.queue.immediate, "a consumer needs an app made with QUEUE_IMMEDIATE=False"
        self.events = []
        self._changed = threading.Condition()
        self.queue.huey.signal()(self._record)
        self.consumer = self.queue.create_consumer(workers=threads, periodic=periodic, initial_delay=0.02,
                                                   max_delay=0.1, check_worker_health=False)

    def _record(self, signal, task, *args, **kwargs):
        with self._changed:
            self.events.append((signal, task.name))
            self._changed.notify_all()

    def count(self, name: str, signal: str = "complete") -> int:
        return sum(1 for event in self.events if event == (signal, name))

    def wait(self, name: str, signal: str = "complete", count: int = 1, timeout: float = 20) -> None:
        with self._changed:
            done = self._changed.wait_for(lambda: self.count(name, signal) >= count, timeout)
        assert done, f"{name} did not reach {count} x {signal}; events: {self.events}"

    def start(self):
        # What Consumer.start() does, minus the signal handlers (pytest keeps its own Ctrl-C).
        self.consumer.scheduler.start()
        for _, thread in self.consumer.worker_threads:
            thread.start()
        return self

    def stop(self):
        self.consumer.stop(graceful=True)


@contextmanager
def running_consumer(app, **options):
    running = RunningConsumer(app, **options).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """Debian's redis-server on a free loopback port, in a temp folder, for the whole run."""
    import subprocess
    import time
    from types import SimpleNamespace

    import redis

    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    _need(Path(binary).exists(), "Debian's redis-server is not installed: run `make system-deps`")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
                                "--save", "", "--appendonly", "no", "--logfile", str(folder / "redis.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:  # starting up: wait until it answers
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"redis-server did not start: {(folder / 'redis.log').read_text()[-2000:]}")
            time.sleep(0.05)
    yield SimpleNamespace(url=url, client=client, port=port)
    client.close()
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server):
    """The session's Redis, emptied for this test."""
    redis_server.client.flushall()
    yield redis_server.url
    redis_server.client.flushall()


def create_jurisdiction(app, *, slug="riverton", name="Riverton", state="Oregon", reports=(), **fields) -> int:
    """A jurisdiction made through the services, with metric reports given as dicts of report_metrics'
    arguments (period_start, period_end, total, diverted, eligible, source_url, is_sample)."""
    from portal.jurisdictions import metrics
    from portal.jurisdictions.services import save_jurisdiction
    with unit(app):
        jurisdiction, _ = save_jurisdiction(slug=slug, name=name, state=state, **fields)
        for values in reports:
            metrics.report_metrics(jurisdiction, actor=None, origin="staff", **values)
        return jurisdiction.id


def create_representative(app, *, email="rep@example.org", slug="riverton", name="Rita Representative") -> str:
    """A verified member whom staff approved as the representative of the jurisdiction `slug`."""
    from portal.jurisdictions import representatives
    from portal.jurisdictions.services import get_jurisdiction
    create_member(app, email=email, name=name)
    with unit(app):
        member = members.find_member_by_email(email)
        request = representatives.request_representation(member=member, jurisdiction=get_jurisdiction(slug),
                                                         role_title="Program manager")
        representatives.approve_representative(request, actor=None)
    return email
