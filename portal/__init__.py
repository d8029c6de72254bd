"""The 12 Million Calls community-of-practice portal."""
from pathlib import Path

from flask import Flask, has_request_context, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import config
from portal.cli import register_cli
from portal.database import utcnow
from portal.errors import register_errorhandlers
from portal.extensions import csrf, db, limiter, login_manager, migrate
from portal.security import register_security_headers

BLUEPRINTS = (
    "portal.public.views",
    "portal.members.views",
    "portal.staff.views",
    "portal.library.views",
    "portal.library.staff_views",
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
    register_blueprints(app)
    register_errorhandlers(app)
    register_security_headers(app)
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


def register_blueprints(app: Flask) -> None:
    from importlib import import_module

    for name in BLUEPRINTS:
        app.register_blueprint(import_module(name).bp)


def register_template_context(app: Flask) -> None:
    from portal.members.forms import EmptyForm

    @app.context_processor
    def inject():
        if not has_request_context():  # mail rendered by a command
            return {"view_functions": app.view_functions}
        return {"csrf_token": generate_csrf, "action_form": EmptyForm(formdata=None),
                "current_path": request.full_path.rstrip("?"), "user": current_user,
                "view_functions": app.view_functions, "now_utc": utcnow}
