"""The security baseline: headers, no inline script, CSRF, cookies, secrets, hashes, error pages, health."""
import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import create_app
from portal.config import ConfigError
from portal.extensions import csrf, db
from portal.markdown import render_markdown
from portal.members.models import Member
from portal.security import safe_next
from tests.conftest import create_member, csrf_token, login, make_app, PASSWORD, post_form, unit
from tests.test_access import Samples, sample_path

STACK_TRACE_SIGNS = ("Traceback (most recent call last)", 'File "', "werkzeug.debug", "sqlalchemy.exc",
                     "RuntimeError", "Exception:")


# --- helpers -------------------------------------------------------------------------

def _csp(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def _plain_get_paths(app, *, levels=("public",)) -> list[str]:
    """Paths of GET routes without URL arguments whose view is declared at one of `levels`."""
    paths = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.arguments or "GET" not in rule.methods:
            continue
        if getattr(app.view_functions[rule.endpoint], "access_level", None) in levels:
            paths.append(rule.rule)
    return sorted(paths)


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, style attributes, event handlers."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = {name.lower() for name, _ in attrs}
        if tag == "script":
            self._in_script = True
            if "src" not in names:
                self.problems.append("<script> without src")
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs:
            name = name.lower()
            if name == "style":
                self.problems.append(f"style= attribute on <{tag}>")
            if name.startswith("on"):
                self.problems.append(f"{name}= handler on <{tag}>")
            if name in ("href", "src", "action", "formaction") and value and \
                    re.sub(r"[\s\x00-\x1f]", "", unescape(value)).lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in {name}= on <{tag}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append("inline script body")


def _inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser.problems


def _no_stack_trace(body: str) -> None:
    for sign in STACK_TRACE_SIGNS:
        assert sign not in body, f"error page leaks {sign!r}"


# --- headers and inline code -----------------------------------------------------------

def test_security_headers_on_every_public_page_and_errors(client):
    paths = _plain_get_paths(client.application) + ["/no-such-page", "/api/v1/no-such-thing"]
    assert "/" in paths and "/login" in paths
    for path in paths:
        response = client.get(path)
        csp = _csp(response)
        assert csp, f"{path}: no Content-Security-Policy"
        header = response.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header, f"{path}: {header}"
        assert csp.get("script-src") == ["'self'"], f"{path}: script-src is {csp.get('script-src')}"
        assert csp.get("frame-ancestors") == ["'none'"], f"{path}: frame-ancestors is {csp.get('frame-ancestors')}"
        assert csp.get("object-src") == ["'none'"], path
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
        assert response.headers.get("Referrer-Policy") in {"no-referrer", "same-origin", "strict-origin",
                                                           "strict-origin-when-cross-origin"}, path


def test_signed_in_pages_are_not_cached(client, member):
    login(client, member)
    response = client.get("/account")
    assert response.status_code == 200
    assert "no-store" in response.headers.get("Cache-Control", "")


def test_no_inline_script_style_or_handlers_on_any_page(app, client):
    """Anonymous on every public page, then an unverified member (banner) and an admin on every page."""
    pages = {}
    for path in _plain_get_paths(app):
        pages[f"anonymous {path}"] = client.get(path)
    pages["anonymous 404"] = client.get("/no-such-page")
    pages["anonymous login error"] = post_form(client, "/login", {"email": "x@example.org", "password": "wrong"})
    pages["anonymous signup errors"] = post_form(client, "/signup", {"email": "nope"})

    unverified = app.test_client()
    create_member(app, email="new@example.org", verified=False)
    login(unverified, "new@example.org")
    for path in _plain_get_paths(app, levels=("public", "member")):
        pages[f"unverified {path}"] = unverified.get(path)

    admin = app.test_client()
    create_member(app, email="admin@example.org", role="admin")
    login(admin, "admin@example.org")
    samples = Samples(app)  # real rows behind URL arguments, as the access test makes them
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static" and "GET" in rule.methods:
            path = sample_path(samples, rule)
            pages[f"admin {path}"] = admin.get(path)
            pages[f"admin {path}"].close()
    pages["admin account errors"] = post_form(admin, "/account/password", {"current_password": "x"})

    checked = 0
    for label, response in pages.items():
        assert response.status_code < 500, label
        if response.mimetype != "text/html":
            continue
        checked += 1
        problems = _inline_code(response.get_data(as_text=True))
        assert not problems, f"{label}: {problems}"
    assert checked >= 10


# --- CSRF ----------------------------------------------------------------------------

def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(app, client, member):
    post_paths = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith("/api/"):
            continue  # the JSON API authenticates with tokens, not cookies
        values = {name: "1" for name in rule.arguments}
        path = rule.build(values, append_unknown=False)[1]
        with app.test_request_context(path, method="POST"):
            if csrf._is_exempt():  # a deliberate, commented @csrf.exempt (e.g. RFC 8058 one-click unsubscribe)
                continue
        post_paths.append(path)
    assert "/login" in post_paths and "/logout" in post_paths
    login(client, member)
    for path in post_paths:
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(path, data=data)
            assert response.status_code == 400, f"POST {path} with {data}: {response.status_code}"
            html = response.get_data(as_text=True)
            assert "Please reload the page and try again" in html, path
            _no_stack_trace(html)
    # Still signed in: the refused sign-out did nothing.
    assert client.get("/account").status_code == 200


def test_a_token_from_another_session_is_refused(app, client, member):
    """The same valid sign-in, once with this session's own token and once with another session's: only the
    token differs, so the refusal can only come from token checking (a wrong password is a 400 too)."""
    other = app.test_client()
    foreign = csrf_token(other)
    own = csrf_token(client)
    assert foreign != own
    credentials = {"email": member, "password": PASSWORD}
    refused = client.post("/login", data={"csrf_token": foreign, **credentials})
    assert refused.status_code == 400
    assert "Please reload the page and try again" in refused.get_data(as_text=True)
    assert client.get("/account").status_code == 302  # not signed in
    accepted = client.post("/login", data={"csrf_token": own, **credentials})
    assert accepted.status_code == 302
    assert client.get("/account").status_code == 200


# --- cookies and secrets -------------------------------------------------------------------

def _set_cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_session_cookie_is_httponly_and_samesite_lax(client, member):
    response = post_form(client, "/login", {"email": member, "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    cookies = _set_cookies(response)
    for name in ("session", "remember_token"):
        assert name in cookies, f"no {name} cookie: {list(cookies)}"
        attributes = [part.strip().lower() for part in cookies[name].split(";")]
        assert "httponly" in attributes, cookies[name]
        assert "samesite=lax" in attributes, cookies[name]
        assert "secure" not in attributes, "Secure cookies would not be sent back over plain http in development"


def _production_app(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-test-secret-that-is-long-enough-0123456789")
    return make_app(tmp_path)


def test_production_cookies_are_secure(tmp_path, monkeypatch):
    app = _production_app(tmp_path, monkeypatch)
    create_member(app, email="prod@example.org")
    # Behind the TLS-terminating proxy; a Secure cookie is never sent back over plain http.
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    # Over https Flask-WTF also wants a same-site Referer, as a browser sends under our Referrer-Policy.
    response = post_form(client, "/login", {"email": "prod@example.org", "password": PASSWORD, "remember": "y"},
                         headers={"Referer": "https://localhost/login"})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    cookies = _set_cookies(response)
    for name in ("session", "remember_token"):
        attributes = [part.strip().lower() for part in cookies[name].split(";")]
        assert {"secure", "httponly", "samesite=lax"} <= set(attributes), cookies[name]
    assert "max-age" in client.get("/").headers.get("Strict-Transport-Security", "")
    with unit(app):
        db.engine.dispose()


def test_production_refuses_to_start_without_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"PORTAL_INSTANCE_PATH": tmp_path / "instance"})
    assert not (tmp_path / "instance" / "secret_key").exists(), "production must never invent a key"
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(ConfigError):
        create_app({"PORTAL_INSTANCE_PATH": tmp_path / "instance"})


def test_embedded_secret_key_is_made_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("PORTAL_ENV", raising=False)
    first = create_app({"PORTAL_INSTANCE_PATH": tmp_path / "instance"})
    path = tmp_path / "instance" / "secret_key"
    assert path.is_file()
    assert path.stat().st_mode & 0o077 == 0, "the key file must be readable by its owner only"
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] == path.read_text().strip()
    second = create_app({"PORTAL_INSTANCE_PATH": tmp_path / "instance"})
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    other = create_app({"PORTAL_INSTANCE_PATH": tmp_path / "elsewhere"})
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_an_environment_secret_key_wins_and_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app({"PORTAL_INSTANCE_PATH": tmp_path / "instance"})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_passwords_are_hashed_with_argon2id(app):
    member_id = create_member(app)
    with unit(app):
        member = db.session.get(Member, member_id)
        assert member.password_hash.startswith("$argon2id$")
        assert PASSWORD not in member.password_hash


def test_production_hashes_use_the_rfc_9106_low_memory_profile(app):
    """The suite hashes at the smallest cost (tests/conftest.py); an app without PASSWORD_HASH_PARAMS gets
    argon2id at RFC 9106's low-memory profile, and a cheaper stored hash is upgraded at the next sign-in."""
    from argon2.profiles import RFC_9106_LOW_MEMORY

    from portal.members import passwords

    app.config["PASSWORD_HASH_PARAMS"] = None  # what an app gets unless its config says otherwise
    with app.app_context():
        hasher = passwords.hasher()
        assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len, hasher.salt_len) == (
            RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.parallelism,
            RFC_9106_LOW_MEMORY.hash_len, RFC_9106_LOW_MEMORY.salt_len)
        stored = passwords.hash_password(PASSWORD)
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert passwords.verify_password(stored, PASSWORD)
        assert not passwords.verify_password(stored, PASSWORD + "x")
    create_member(app, email="cheap@example.org")  # hashed with the tests' parameters, then upgraded
    with unit(app):
        db.session.execute(db.update(Member).values(password_hash=_cheap_hash(PASSWORD)))
    login(app.test_client(), "cheap@example.org")
    with unit(app):
        upgraded = db.session.scalar(db.select(Member.password_hash).where(Member.email == "cheap@example.org"))
        assert upgraded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def _cheap_hash(password: str) -> str:
    from argon2 import PasswordHasher

    from tests.conftest import TEST_HASH_PARAMS

    return PasswordHasher(**TEST_HASH_PARAMS).hash(password)


def test_the_suite_hashes_at_the_smallest_cost(app):
    from portal.members import passwords

    with app.app_context():
        assert passwords.hash_password(PASSWORD).startswith("$argon2id$v=19$m=8,t=1,p=1$")


# --- ids in links are never reused ----------------------------------------------------------------

NEVER_REUSED = ("members", "resources", "attachments", "suggestions", "saved_searches")


@pytest.mark.parametrize("table", NEVER_REUSED)
def test_ids_that_travel_in_links_are_never_reused(app, table):
    """On SQLite an INTEGER PRIMARY KEY without AUTOINCREMENT hands the highest deleted id to the next row
    (PostgreSQL sequences never do), so these tables are made with AUTOINCREMENT; the next test shows it."""
    with unit(app):
        sql_table = db.metadata.tables[table]
        if db.engine.dialect.name == "sqlite":
            ddl = db.session.execute(db.text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table}).scalar()
            assert "AUTOINCREMENT" in ddl, ddl
        assert sql_table.dialect_options["sqlite"]["autoincrement"] is True


def test_a_deleted_members_id_goes_to_no_one_else(app):
    first = create_member(app, email="first@example.org")
    with unit(app):
        db.session.delete(db.session.get(Member, first))
    second = create_member(app, email="second@example.org")
    assert second != first


# --- error pages ---------------------------------------------------------------------------

def _error_app(tmp_path):
    app = make_app(tmp_path, PROPAGATE_EXCEPTIONS=False)

    def explode():
        raise RuntimeError("secret internal detail: password=hunter2")

    explode.access_level = "public"
    app.add_url_rule("/explode", "explode", explode)
    app.add_url_rule("/api/v1/explode", "api_explode", explode)
    return app


@pytest.mark.parametrize("code", [400, 403, 404, 405, 429, 500])
def test_error_pages_are_friendly_and_show_no_stack_trace(tmp_path, code):
    app = _error_app(tmp_path)
    client = app.test_client()
    if code == 400:
        response = client.post("/login", data={"email": "x@example.org"})
    elif code == 403:
        create_member(app)
        login(client)
        response = client.get("/staff/")
    elif code == 404:
        response = client.get("/no/such/page")
    elif code == 405:
        response = client.get("/logout")
    elif code == 429:
        for _ in range(30):
            response = post_form(client, "/login", {"email": "someone@example.org", "password": "not the password"})
            if response.status_code == 429:
                break
    else:
        response = client.get("/explode")
    assert response.status_code == code
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    _no_stack_trace(html)
    assert "hunter2" not in html
    assert f"Error {code}" in html
    assert '<a href="/">' in html, "an error page offers a way home"
    assert "Content-Security-Policy" in response.headers
    with unit(app):
        db.engine.dispose()


@pytest.mark.parametrize("path, method, code", [
    ("/api/v1/no-such-thing", "GET", 404),
    ("/api/v1/explode", "POST", 405),
    ("/api/v1/explode", "GET", 500),
])
def test_errors_under_api_are_json(tmp_path, path, method, code):
    app = _error_app(tmp_path)
    response = app.test_client().open(path, method=method)
    assert response.status_code == code
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"]["status"] == code
    assert body["error"]["title"]
    text = response.get_data(as_text=True)
    _no_stack_trace(text)
    assert "hunter2" not in text
    with unit(app):
        db.engine.dispose()


def test_every_error_code_the_app_can_raise_has_a_page(client):
    """Flask aborts with any 4xx/5xx: unknown codes fall back to a generic 400 or 500 page, never a crash."""
    from portal.errors import render_error

    with client.application.test_request_context("/"):
        for code in (401, 402, 409, 410, 413, 415, 418, 422, 501, 502, 503):
            body, status = render_error(code)
            assert status == code
            _no_stack_trace(body)


# --- health and robots ---------------------------------------------------------------------------

def test_healthz_is_503_when_the_database_cannot_be_opened(tmp_path):
    unreachable = tmp_path / "no" / "such" / "folder" / "portal.db"
    app = create_app({
        "PORTAL_INSTANCE_PATH": tmp_path / "instance",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{unreachable}",
        "SEARCH_INDEX_DIR": str(tmp_path / "search"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MAIL_SERVER": None,
        "TESTING": True,
    })
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unreachable"}
    assert str(unreachable) not in response.get_data(as_text=True)
    assert not unreachable.parent.exists()


def test_healthz_recovers_when_the_database_comes_back(client):
    assert client.get("/healthz").status_code == 200


def test_robots_txt(client, app):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    body = response.get_data(as_text=True)
    assert "User-agent: *" in body
    for private in ("/account", "/staff", "/login", "/reset", "/verify"):
        assert f"Disallow: {private}" in body
    sitemap = re.search(r"^Sitemap: (\S+)$", body, re.MULTILINE)
    assert sitemap, body
    assert sitemap.group(1) == app.config["SITE_URL"] + "/sitemap.xml"
    assert client.get(urlsplit(sitemap.group(1)).path).status_code == 200


# --- safe_next -------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    None, "", "http://evil.example", "https://evil.example/path", "//evil.example", "///evil.example",
    "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)",
    "evil.example", " /account", "/\x00/evil", "/a\\b", "ftp://x", "HTTP://evil.example", "data:text/html,x",
])
def test_safe_next_refuses_anything_but_a_local_path(target):
    assert safe_next(target) == "/"
    assert safe_next(target, "/account") == "/account"


@pytest.mark.parametrize("target", ["/", "/account", "/resources?q=a%20b&page=2", "/events/x#when", "/a/b/c"])
def test_safe_next_keeps_local_paths(target):
    assert safe_next(target) == target


def _as_a_browser_reads_it(url: str) -> str:
    # Browsers drop ASCII tab and newlines anywhere and treat a backslash like a slash.
    return re.sub(r"[\t\n\r]", "", url).replace("\\", "/").strip("\x00 \x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c"
                                                               "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18"
                                                               "\x19\x1a\x1b\x1c\x1d\x1e\x1f")


URL_PIECES = st.sampled_from(list("/\\:.@?#% aAhtps\t\n\r\x00") + [
    "http:", "https:", "//", "\\\\", "javascript:", "evil.example", "%2f", "%5c", "\u3000", "\uff0f", "\u2215"])
URLISH = st.lists(URL_PIECES, max_size=12).map("".join)


@given(target=st.one_of(st.none(), st.text(), URLISH, URLISH.map(lambda s: "/" + s)))
@settings(max_examples=400, deadline=None)
def test_safe_next_result_is_always_a_single_slash_local_path(target):
    result = safe_next(target)
    assert result == "/" or result == target
    assert result.startswith("/")
    seen = _as_a_browser_reads_it(result)
    assert seen.startswith("/") and not seen.startswith("//"), repr(result)
    parts = urlsplit(seen)
    assert not parts.scheme and not parts.netloc, repr(result)


# --- Markdown -------------------------------------------------------------------------------------

def test_markdown_keeps_ordinary_formatting():
    html = render_markdown("# Title\n\nSome *emphasis* and a [link](https://example.org \"t\").\n\n- one\n- two")
    assert "<h2>Title</h2>" in html
    assert "<em>emphasis</em>" in html
    assert '<a href="https://example.org" title="t" rel="noopener noreferrer">link</a>' in html
    assert "<li>one</li>" in html


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "<div style=\"color:red\" onclick=\"alert(1)\">raw</div>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<style>body{display:none}</style>",
    "[x](https://example.org\" onmouseover=\"alert(1))",
    "<svg/onload=alert(1)>",
])
def test_markdown_strips_scripts_handlers_and_raw_html(source):
    html = str(render_markdown(source))
    _assert_safe_markup(html)


SAFE_URL_SCHEMES = ("http", "https", "mailto")


class MarkupCheck(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "iframe", "object", "embed", "img", "svg", "form", "input", "div", "span"):
            self.problems.append(f"<{tag}> survived")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"{name}= on <{tag}>")
            if name in ("href", "src") and value:
                # What a browser would parse: whitespace and control characters dropped, entities decoded.
                url = re.sub(r"[\s\x00-\x1f]", "", unescape(value)).lower()
                scheme = url.split(":", 1)[0] if re.match(r"^[a-z][a-z0-9+.-]*:", url) else None
                if scheme is not None and scheme not in SAFE_URL_SCHEMES:
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag


def _assert_safe_markup(html: str) -> None:
    assert "<script" not in html.lower(), html
    checker = MarkupCheck()
    checker.feed(html)
    checker.close()
    assert not checker.problems, (checker.problems, html)


DANGEROUS = st.sampled_from([
    "<script>", "</script>", "<img src=x onerror=alert(1)>", "javascript:", "JAVASCRIPT:", "[a](", ")", "](",
    "<", ">", "\"", "'", " onload=", " onclick=\"x\"", "<a href=", "&#106;", "&#x6A;", "\n\n", "`", "    ",
    "![i](", "data:text/html,", "vbscript:", "<svg/onload=alert(1)>", "<!--", "-->", "<style>", "*", "# ",
    "> ", "| a | b |\n|---|---|\n", "\t", "\x00", "&", "%0a", "<https://x.example>",
])


@given(source=st.one_of(st.text(max_size=300), st.lists(st.one_of(DANGEROUS, st.text(max_size=5)),
                                                        max_size=40).map("".join)))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_markdown_output_is_always_safe(source):
    _assert_safe_markup(str(render_markdown(source)))


def test_a_404_does_not_echo_markup_from_the_path(client):
    response = client.get("/%3Cscript%3Ealert(1)%3C/script%3E")
    assert response.status_code == 404
    assert "<script>alert(1)" not in response.get_data(as_text=True)


def test_nul_anywhere_in_a_request_is_a_clear_400(app, client):
    """PostgreSQL refuses NUL in text, so it is refused at the door, for every form and address alike."""
    from tests.conftest import post_form

    assert client.get("/resources?q=a%00b").status_code == 400
    assert client.get("/staff/audit?action=%00").status_code in (302, 400)
    response = post_form(client, "/signup", {"name": "Maya\x00Rivera", "email": "nul@example.org"})
    assert response.status_code == 400
    assert "Remove the NUL characters" in response.get_data(as_text=True)
    response = client.get("/resources/a%00b")
    assert response.status_code == 400
