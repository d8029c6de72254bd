"""HTTP caching for anonymous readers: no cookie they do not need, validators, 304s and rendered pages.

- A visitor who arrives without a session and leaves with nothing in it but a CSRF token that no form
  on the page carries gets no cookie (`CookielessSessionInterface`): a page may build a form it never
  shows (a members-only button), and that must not make every visitor's answer private.
- Public pages an anonymous visitor reads declare a validator (`VALIDATORS`, filled by
  `portal.http_cache_validators`): a few aggregate columns of what the page shows. Before the view
  runs, the validator becomes a weak ETag (and a Last-Modified where the page has one date); a
  matching If-None-Match or If-Modified-Since is answered 304 without rendering, and a page rendered
  earlier under the same validator is served from this process's memory. The validator is read from
  the database (reused for at most a second, `RecentValidators`), so processes and hosts agree and an
  edit shows within that second, at once in the process that made it.
- Answers with a validator are `public, max-age=0, must-revalidate` (every use asks, a 304 is cheap);
  signed-in answers stay `private, no-store` (portal/security.py), and so does anything setting a cookie.
"""
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from threading import Lock
from weakref import WeakSet

from flask import Flask, Response, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.database import utcnow

PUBLIC = "public, max-age=0, must-revalidate"
PRIVATE = "private, no-store"
PAGE_CACHE_SIZE = 256     # rendered pages kept per process (LRU); a page is ~30 KB, so ~8 MB at most
VALIDATOR_REUSE_SECONDS = 1
MAX_VALIDATORS = 4096
_CACHEABLE_TYPES = {"text/html", "application/atom+xml", "application/xml", "text/plain", "text/calendar", "text/csv",
                    "application/json"}
# Headers a kept page carries besides its type (a calendar file keeps its file name).
_KEPT_HEADERS = ("Content-Disposition",)


@dataclass(frozen=True)
class Validator:
    """What a page's content depends on: `parts` (hashed into the ETag) and its newest date, if any."""

    parts: tuple
    last_modified: datetime | None = None


# endpoint -> function(view_args, now) -> Validator, or None when the page is not the same for every
# anonymous visitor (a missing or hidden resource: the view answers that itself).
VALIDATORS: dict[str, Callable[[dict, datetime], Validator | None]] = {}


def validates(*endpoints: str):
    def register(function):
        for endpoint in endpoints:
            VALIDATORS[endpoint] = function
        return function

    return register


@lru_cache(maxsize=1)
def _code_version() -> str:
    """Templates, static files and the application's code: a deploy that changes any of them changes every
    ETag, so no browser keeps a page rendered by the old code. Read once per process."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for folder, pattern in (("templates", "**/*"), ("static", "**/*"), ("portal", "**/*.py")):
        for path in sorted((root / folder).glob(pattern)):
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class PageCache:
    """Rendered answers by (URL, ETag). Keyed by the validator, an entry can only be stale if the validator
    misses a dependency, never because another process wrote something."""

    def __init__(self, size: int = PAGE_CACHE_SIZE):
        self.size = size
        self._pages: OrderedDict = OrderedDict()
        self._lock = Lock()  # gthread workers share the dict

    def get(self, key):
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key, page) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


_ALL: "WeakSet[RecentValidators]" = WeakSet()  # every app's, for the commit hook below


class RecentValidators:
    """Each validator read from the database is reused for `seconds` by this process: under load, a popular
    page then costs no query at all, and a change made by another process shows within that second. A
    commit in this process forgets them at once (so its own edits show immediately)."""

    def __init__(self, seconds: float):
        self.reuse = timedelta(seconds=seconds)
        self._found: dict = {}
        _ALL.add(self)

    def get(self, endpoint: str, view_args: dict, now: datetime) -> Validator | None:
        key = (endpoint, tuple(sorted(view_args.items())))
        seen = self._found.get(key)
        if seen is not None and timedelta(0) <= now - seen[0] < self.reuse:
            return seen[1]
        found = VALIDATORS[endpoint](view_args, now)
        if found is not None and self.reuse:  # a missing page is not kept: any address can be asked for
            if len(self._found) >= MAX_VALIDATORS:
                self._found.clear()
            self._found[key] = (now, found)
        return found

    def clear(self) -> None:
        self._found.clear()


@event.listens_for(Session, "after_commit")
def _forget_validators(session) -> None:
    for validators in list(_ALL):
        validators.clear()


def _csrf_key() -> str:
    return current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")


def _token_in_a_form(response) -> bool:
    """Did a form on this page carry the request's CSRF token? (A streamed body cannot be read: assume so.)"""
    token = g.get(_csrf_key())
    if token is None:
        return False
    if response.is_streamed or response.direct_passthrough:
        return True
    return f'value="{token}"'.encode() in response.get_data()


class CookielessSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, minus the cookie a visitor does not need."""

    def worth_a_cookie(self, app: Flask, session, response) -> bool:
        if request.cookies.get(self.get_cookie_name(app)) is not None:
            return True  # the visitor's own session: Flask's rules (update, refresh, delete) apply
        # Flask-Login marks any session without a user "_fresh": False; alone, that is not worth a cookie either.
        if set(session) - {_csrf_key(), "_fresh"}:
            return True
        return bool(session) and _token_in_a_form(response)

    def save_session(self, app: Flask, session, response) -> None:
        if request.endpoint == "static" and not session.modified:
            return  # a file is the same for everyone: no Vary: Cookie (Flask-Login reads the session every time)
        if session.modified and not self.worth_a_cookie(app, session, response):
            # Minted for a form that was never shown: nothing to keep. The page still read the session.
            response.vary.add("Cookie")
        else:
            super().save_session(app, session, response)
        control = response.headers.get("Cache-Control", "")
        if "Set-Cookie" in response.headers and not ("private" in control or "no-store" in control):
            response.headers["Cache-Control"] = PRIVATE  # a shared cache must never hand out someone's cookie


def _sets_a_cookie(response) -> bool:
    interface = current_app.session_interface
    if "Set-Cookie" in response.headers:
        return True
    if not session.modified:
        return False
    return not isinstance(interface, CookielessSessionInterface) or \
        interface.worth_a_cookie(current_app, session, response)


def _anonymous_reader() -> bool:
    # A message waiting in the session is shown once, to this visitor: not a page to share or to cache.
    return not current_user.is_authenticated and "_flashes" not in session


def _etag(parts: tuple) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]


def register_http_cache(app: Flask) -> None:
    from portal import http_cache_validators  # noqa: F401  (fills VALIDATORS)
    from portal.static_assets import register_static_assets

    app.session_interface = CookielessSessionInterface()
    app.extensions["portal.page_cache"] = cache = PageCache(app.config.get("PAGE_CACHE_SIZE", PAGE_CACHE_SIZE))
    app.extensions["portal.validators"] = validators = RecentValidators(
        app.config.get("VALIDATOR_REUSE_SECONDS", VALIDATOR_REUSE_SECONDS))
    version = _code_version()
    register_static_assets(app)

    @app.before_request
    def answer_from_validator():
        if request.method not in ("GET", "HEAD") or request.endpoint not in VALIDATORS or not _anonymous_reader():
            return None
        found = validators.get(request.endpoint, request.view_args or {}, utcnow())
        if found is None:
            return None
        etag = _etag((version, request.endpoint, *found.parts))
        g.http_validator = (etag, found.last_modified)
        if _not_modified(etag, found.last_modified):
            return Response(status=304)
        page = cache.get((request.url, etag))
        if page is not None:
            g.http_page_from_cache = True
            body, status, mimetype, headers = page
            return Response(body, status=status, mimetype=mimetype, headers=headers)
        return None

    @app.after_request
    def add_validator(response):
        found = g.pop("http_validator", None)
        if found is None or response.status_code not in (200, 304) or _sets_a_cookie(response):
            return response
        if _token_in_a_form(response):
            # A form for this visitor's session (a later feature's): never shared, never kept for others.
            response.headers["Cache-Control"] = PRIVATE
            return response
        etag, last_modified = found
        response.set_etag(etag, weak=True)
        if last_modified is not None:
            response.last_modified = last_modified
        response.headers["Cache-Control"] = PUBLIC
        response.vary.add("Cookie")  # signed in, the same address answers differently
        if response.status_code == 200 and not g.get("http_page_from_cache") and not response.is_streamed \
                and not response.direct_passthrough and response.mimetype in _CACHEABLE_TYPES:
            kept = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
            cache.put((request.url, etag), (response.get_data(), response.status_code, response.mimetype, kept))
        return response


def _not_modified(etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present (weak comparison); otherwise If-Modified-Since."""
    if request.if_none_match:
        return request.if_none_match.contains_weak(etag)
    since = request.if_modified_since
    return since is not None and last_modified is not None and last_modified.replace(microsecond=0) <= since
