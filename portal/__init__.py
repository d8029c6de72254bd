"""The 12 Million Calls community-of-practice portal."""
import re
from pathlib import Path

from flask import Flask, current_app, g, has_request_context, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from werkzeug.local import LocalProxy
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import config
from portal.cli import register_cli
from portal.database import utcnow
from portal.errors import register_errorhandlers
from portal.extensions import csrf, db, limiter, login_manager, migrate
from portal.http_cache import register_http_cache
from portal.queue import register_queue
from portal.security import register_security_headers
from portal.streamed_uploads import register_streamed_uploads
from portal.uow import register_unit_of_work

BLUEPRINTS = (
    "portal.public.views",
    "portal.members.views",
    "portal.members.staff_views",
    "portal.staff.views",
    "portal.audit.staff_views",
    "portal.library.views",
    "portal.library.staff_views",
    "portal.events.views",
    "portal.events.staff_views",
    "portal.jurisdictions.views",
    "portal.jurisdictions.initiative_views",
    "portal.jurisdictions.manage_views",
    "portal.jurisdictions.staff_views",
    "portal.calls.views",
    "portal.network.views",
    "portal.network.staff_views",
    "portal.api.pages",
)


def create_app(overrides: dict | None = None) -> Flask:
    overrides = dict(overrides or {})
    instance = Path(overrides.pop("PORTAL_INSTANCE_PATH", None) or config.instance_path()).resolve()
    app = Flask(__name__, instance_path=str(instance), template_folder="../templates",
                static_folder="../static")
    app.config.update(config.load_settings(instance))
    app.config.update(overrides)
    if app.config["PROXY_COUNT"]:
        # Client addresses (rate limits) and the scheme come from the proxy's headers.
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    register_extensions(app)
    register_unit_of_work(app)
    register_streamed_uploads(app)
    register_blueprints(app)
    register_api(app)
    register_queue(app)
    register_errorhandlers(app)
    register_security_headers(app)
    register_http_cache(app)
    register_template_context(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from portal import models  # noqa: F401  (every model is known before migrations compare)

    db.init_app(app)
    migrate.init_app(app, db)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "members.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"

    from portal.members.services import load_session_member

    login_manager.user_loader(load_session_member)


def register_api(app: Flask) -> None:
    from portal.api.views import register_api as register

    register(app)


def register_blueprints(app: Flask) -> None:
    from importlib import import_module

    for name in BLUEPRINTS:
        app.register_blueprint(import_module(name).bp)


# Code points HTML forbids in a document: controls other than whitespace, noncharacters, surrogates.
# Text a visitor typed is echoed back into forms, so it must not make the page invalid.
_NOT_IN_HTML = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
                          + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17))
                          + "]")


def html_safe_text(value):
    """Jinja's finalize: every printed value without the code points HTML forbids."""
    if isinstance(value, str) and _NOT_IN_HTML.search(value):
        cleaned = _NOT_IN_HTML.sub("\ufffd", value)
        return Markup(cleaned) if isinstance(value, Markup) else cleaned
    return value


def single_line(value) -> str:
    """A one-line input's value as a browser would keep it: line breaks stripped (HTML forbids them there)."""
    return str(value if value is not None else "").replace("\r", "").replace("\n", "")


def _action_form():
    """The sign-out / resend-link form, made the first time a template uses it: making a form mints a CSRF
    token, and a token minted for nothing would give an anonymous reader a session cookie."""
    from portal.forms import EmptyForm

    if "portal_action_form" not in g:
        g.portal_action_form = EmptyForm(formdata=None)
    return g.portal_action_form


def csrf_issued() -> bool:
    """A form of this page already has a CSRF token (base.html then repeats it in a meta tag). Never on a page
    every anonymous visitor reads the same (it has a validator, portal/http_cache.py): none of its forms is
    theirs, and a token there would be one nobody can use."""
    return current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token") in g and "http_validator" not in g


def register_template_context(app: Flask) -> None:
    app.jinja_env.finalize = html_safe_text
    app.jinja_env.filters["single_line"] = single_line

    @app.context_processor
    def inject():
        if not has_request_context():  # mail rendered by a command
            return {"view_functions": app.view_functions}
        return {"csrf_token": generate_csrf, "csrf_issued": csrf_issued, "action_form": LocalProxy(_action_form),
                "current_path": request.full_path.rstrip("?"), "user": current_user,
                "view_functions": app.view_functions, "now_utc": utcnow}
