"""Redis mode against Debian's redis-server on loopback: the rate limits follow REDIS_URL and are shared by every
process (two gunicorn workers count as one), and the queue keeps its jobs there (tests/test_queue.py runs
every queue test on Redis as well)."""
import http.client
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from portal.config import load_settings
from tests.conftest import ROOT, _empty_database, free_port, make_app, post_form

LOGIN_LIMIT = 10  # portal/members/views.py: "10 per minute" per address on POST /login


def test_rate_limits_use_redis_url_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert load_settings(tmp_path)["RATELIMIT_STORAGE_URI"] == "memory://"
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/0")
    settings = load_settings(tmp_path)
    assert settings["RATELIMIT_STORAGE_URI"] == settings["REDIS_URL"] == "redis://cache.internal:6379/0"
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://limits.internal:6379/1")
    assert load_settings(tmp_path)["RATELIMIT_STORAGE_URI"] == "redis://limits.internal:6379/1"


def test_sign_in_still_answers_while_redis_is_down(tmp_path):
    app = make_app(tmp_path, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    try:
        client = app.test_client()
        statuses = [post_form(client, "/login", {"email": f"v{n}@example.org", "password": "wrong guess"}).status_code
                    for n in range(LOGIN_LIMIT + 1)]
        # Counted in memory meanwhile: the limit still holds.
        assert statuses == [400] * LOGIN_LIMIT + [429]
    finally:
        _empty_database(app)


@pytest.fixture
def gunicorn(tmp_path, redis_url):
    """The portal under gunicorn with two worker processes, on REDIS_URL and a fresh database."""
    app = make_app(tmp_path, QUEUE_IMMEDIATE=False, REDIS_URL=redis_url)  # makes the schema
    port = free_port()
    access_log = tmp_path / "access.log"
    config = app.config
    env = dict(os.environ, PORTAL_INSTANCE_PATH=app.instance_path, DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
               SEARCH_INDEX_DIR=config["SEARCH_INDEX_DIR"], UPLOAD_DIR=config["UPLOAD_DIR"],
               MAIL_OUTBOX_DIR=config["MAIL_OUTBOX_DIR"], REDIS_URL=redis_url, SITE_URL=f"http://127.0.0.1:{port}")
    env.pop("RATELIMIT_STORAGE_URI", None)
    env.pop("MAIL_SERVER", None)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                                "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(s)s %(m)s %(U)s",
                                "app:app"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    deadline = time.monotonic() + 60
    while True:  # starting up: wait until it answers
        try:
            if _request(port, "GET", "/healthz").status == 200:
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"gunicorn did not start: {process.communicate()[0][-3000:]}")
        time.sleep(0.1)
    server = type("Gunicorn", (), {})()
    server.port, server.access_log, server.process = port, access_log, process
    yield server
    process.terminate()
    process.communicate(timeout=30)
    _empty_database(app)


class Response:
    def __init__(self, raw: http.client.HTTPResponse):
        self.status = raw.status
        self.headers = raw.headers
        self.body = raw.read().decode("utf-8", "replace")


def _request(port: int, method: str, path: str, *, body: str | None = None, headers: dict | None = None) -> Response:
    # A new connection each time, so the kernel hands each request to whichever worker accepts first.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
        return Response(connection.getresponse())
    finally:
        connection.close()


def _served(access_log: Path) -> list[tuple[str, int]]:
    """(worker pid, status) of each POST /login, in the order the workers logged them."""
    lines = access_log.read_text().splitlines() if access_log.exists() else []
    fields = [line.split() for line in lines]
    # A line being written as we read has fewer fields: it is read complete next time.
    return [(pid, int(status)) for pid, status, method, path in (f for f in fields if len(f) == 4)
            if method == "POST" and path == "/login"]


def test_two_gunicorn_workers_share_the_login_limit_through_redis(gunicorn, redis_server):
    page = _request(gunicorn.port, "GET", "/login")
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.body).group(1)

    statuses = []
    for attempt in range(300):
        # A new address each time, so only the per-client limit (10 a minute) applies, not the per-address one.
        body = urlencode({"csrf_token": token, "email": f"visitor{attempt}@example.org", "password": "wrong guess"})
        response = _request(gunicorn.port, "POST", "/login", body=body,
                            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        statuses.append(response.status)
        if response.status != 429:  # a wrong password: the form answers 400 with its message (not a CSRF refusal)
            assert "The email or password is not correct." in response.body, response.body[:2000]
        refused_by = {pid for pid, status in _served(gunicorn.access_log) if status == 429}
        if len(refused_by) == 2 and attempt >= 2 * LOGIN_LIMIT:
            break
    # Both workers have refused, yet only ten attempts were let through in all: one count, kept in Redis.
    # With per-process counters (memory://) the second worker would have let through ten of its own.
    assert 429 not in statuses[:LOGIN_LIMIT]
    assert set(statuses[LOGIN_LIMIT:]) == {429}
    served = _served(gunicorn.access_log)
    assert len({pid for pid, _ in served}) == 2, served
    assert len({pid for pid, status in served if status == 429}) == 2, served
    assert sum(status != 429 for _, status in served) == LOGIN_LIMIT
    assert any(key.startswith(b"LIMITS") for key in redis_server.client.keys("*"))
