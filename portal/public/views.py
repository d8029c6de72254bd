"""Public pages: home, about, terms and privacy, and the crawler and health endpoints."""
from flask import Blueprint, Response, abort, current_app, jsonify, render_template, url_for
from sqlalchemy import text

from portal.database import utcnow
from portal.extensions import db
from portal.library.services import featured_resources, newest_resources, visible_slugs
from portal.markdown import render_markdown
from portal.pages.services import get_page
from portal.security import access

bp = Blueprint("public", __name__)

# Pages with their own address; their text lives in content/pages/<slug>.md.
STATIC_PAGES = ("about", "terms", "privacy")


def _page_or_404(slug: str):
    page = get_page(slug)
    if page is None:
        abort(404)
    return page


@bp.route("/")
@access("public")
def home():
    page = _page_or_404("home")
    now = utcnow()
    featured = featured_resources(limit=3, now=now)
    newest = [r for r in newest_resources(limit=6, now=now) if r not in featured][:4]
    return render_template("public/home.html", page=page, body=render_markdown(page.body), featured=featured,
                           newest=newest, now=now)


def _static_page(slug: str):
    page = _page_or_404(slug)
    return render_template("public/page.html", page=page, body=render_markdown(page.body))


@bp.route("/about")
@access("public")
def about():
    return _static_page("about")


@bp.route("/terms")
@access("public")
def terms():
    return _static_page("terms")


@bp.route("/privacy")
@access("public")
def privacy():
    return _static_page("privacy")


@bp.route("/healthz")
@access("public")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means unhealthy; the detail goes to the log
        current_app.logger.exception("health check failed")
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.route("/robots.txt")
@access("public")
def robots():
    body = "\n".join([
        "User-agent: *",
        "Disallow: /account",
        "Disallow: /staff",
        "Disallow: /login",
        "Disallow: /reset",
        "Disallow: /verify",
        f"Sitemap: {current_app.config['SITE_URL']}{url_for('public.sitemap')}",
        "",
    ])
    return Response(body, mimetype="text/plain")


@bp.route("/sitemap.xml")
@access("public")
def sitemap():
    site = current_app.config["SITE_URL"]
    paths = [url_for("public.home"), *(url_for(f"public.{slug}") for slug in STATIC_PAGES),
             url_for("members.signup"), url_for("library.search"),
             *(url_for("library.detail", slug=slug) for slug in visible_slugs())]
    xml = render_template("public/sitemap.xml", urls=[site + path for path in paths])
    return Response(xml, mimetype="application/xml")
