"""Who may see each route, same-site redirects, and the security headers."""
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

# Every view declares one of these; tests/test_access.py walks app.url_map to prove it.
# "representative": staff, or a verified member whom staff approved as the representative of the jurisdiction
# named by the route's <slug> (a representative of another jurisdiction is refused).
LEVELS = ("public", "member", "verified", "representative", "staff", "admin")

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def allows(user, level: str) -> bool:
    if level == "public":
        return True
    if not user.is_authenticated:
        return False
    if level == "member":
        return True
    if level == "verified":
        return user.is_verified
    if level == "representative":
        return user.is_staff or _represents_route_jurisdiction(user)
    if level == "staff":
        return user.is_staff
    return user.is_admin


def _represents_route_jurisdiction(user) -> bool:
    from portal.jurisdictions.access import is_representative
    from portal.jurisdictions.services import get_jurisdiction

    slug = (request.view_args or {}).get("slug")
    jurisdiction = get_jurisdiction(slug) if isinstance(slug, str) else None
    # An unknown slug is refused like another jurisdiction's: no one learns which slugs exist this way.
    return jurisdiction is not None and is_representative(user, jurisdiction)


def access(level: str):
    """Declare and enforce who may open a view."""
    if level not in LEVELS:
        raise ValueError(f"unknown access level {level!r}")

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not allows(current_user, level):
                if not current_user.is_authenticated:
                    return redirect(url_for("members.login", next=request.full_path.rstrip("?")))
                if level in ("verified", "representative") and not current_user.is_verified:
                    abort(403, description="Confirm your email address to open this page: use the link we sent "
                                           "you, or ask for a new one with the button at the top of the page.")
                abort(403)
            return view(*args, **kwargs)

        wrapped.access_level = level
        return wrapped

    return decorate


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: no scheme, no host, no protocol-relative tricks."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 32 or c == "\\" for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def register_security_headers(app: Flask) -> None:
    production = app.config["PORTAL_ENV"] == "production"

    @app.before_request
    def refuse_nul():
        # No address or form here has a use for NUL, and PostgreSQL refuses it in any text parameter:
        # one check here instead of a 500 wherever such text reaches a query.
        if "\x00" in request.path or any("\x00" in value for source in (request.args, request.form)
                                         for values in source.listvalues() for value in values):
            abort(400, description="Remove the NUL characters from what you typed and try again.")

    @app.after_request
    def set_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        # Signed in, every page is that member's own. Anonymous pages with a validator are made public by
        # portal/http_cache.py (it runs first); static files set their own; the rest stays unset (not stored
        # by shared caches without a validator), and any answer setting a cookie is made private there too.
        if request.endpoint and request.endpoint != "static" and current_user.is_authenticated:
            headers["Cache-Control"] = "private, no-store"
        return response
