"""Redis mode against Debian's redis-server on loopback: the rate limits follow REDIS_URL and are shared by every
process (two gunicorn processes count as one), and the queue keeps its jobs there (tests/test_queue.py runs
every queue test on Redis as well)."""
import http.client
import os
import re
import subprocess
import sys
import time
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


def _start_gunicorn(app, redis_url: str) -> tuple[subprocess.Popen, int]:
    """One gunicorn process serving the portal on its own port, on REDIS_URL and the app's database."""
    port = free_port()
    config = app.config
    env = dict(os.environ, PORTAL_INSTANCE_PATH=app.instance_path, DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
               SEARCH_INDEX_DIR=config["SEARCH_INDEX_DIR"], UPLOAD_DIR=config["UPLOAD_DIR"],
               MAIL_OUTBOX_DIR=config["MAIL_OUTBOX_DIR"], REDIS_URL=redis_url, SITE_URL=f"http://127.0.0.1:{port}")
    env.pop("RATELIMIT_STORAGE_URI", None)
    env.pop("MAIL_SERVER", None)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
                                "app:app"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    return process, port


def _wait_until_answering(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if _request(port, "GET", "/healthz").status == 200:
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"gunicorn did not start: {process.communicate()[0][-3000:]}")
        time.sleep(0.1)


@pytest.fixture
def two_servers(tmp_path, redis_url):
    """The ports of two gunicorn processes serving one portal (one database, one secret key, one REDIS_URL).
    Two processes, each on its own port, so the test chooses which one answers: workers sharing one socket
    are handed connections by the kernel, which may give every one to the same worker."""
    app = make_app(tmp_path, QUEUE_IMMEDIATE=False, REDIS_URL=redis_url)  # makes the schema and the secret key
    servers = [_start_gunicorn(app, redis_url) for _ in range(2)]
    try:
        for process, port in servers:
            _wait_until_answering(process, port)
        yield [port for _, port in servers]
    finally:
        for process, _ in servers:
            process.terminate()
        for process, _ in servers:
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
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


def test_two_server_processes_share_the_login_limit_through_redis(two_servers, redis_server):
    first, second = two_servers
    page = _request(first, "GET", "/login")
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.body).group(1)

    statuses = {first: [], second: []}
    for attempt in range(3 * LOGIN_LIMIT):
        port = two_servers[attempt % 2]  # the two processes take turns
        # A new address each time, so only the per-client limit (10 a minute) applies, not the per-address one.
        body = urlencode({"csrf_token": token, "email": f"visitor{attempt}@example.org", "password": "wrong guess"})
        response = _request(port, "POST", "/login", body=body,
                            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        statuses[port].append(response.status)
        if response.status != 429:  # a wrong password: the form answers 400 with its message (not a CSRF refusal)
            assert "The email or password is not correct." in response.body, response.body[:2000]
    # Ten attempts let through in all, five by each process, then both refuse: one count, kept in Redis.
    # With per-process counters (memory://) each process would have let through ten of its own.
    half = LOGIN_LIMIT // 2
    for port in two_servers:
        assert statuses[port] == [400] * half + [429] * (len(statuses[port]) - half), statuses
    assert any(key.startswith(b"LIMITS") for key in redis_server.client.keys("*"))
