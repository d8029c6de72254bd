"""Public pages: home, about, terms, privacy and contact, and the crawler and health endpoints."""
from email.utils import parseaddr

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, url_for
from sqlalchemy import text

from portal.database import utcnow
from portal.events import services as events
from portal.extensions import db
from portal.jurisdictions.figures import national_progress
from portal.jurisdictions.services import list_jurisdictions
from portal.library.models import AUDIENCES
from portal.library.services import featured_resources, newest_resources, visible_slugs
from portal.markdown import render_markdown
from portal.pages.services import get_page
from portal.security import access

bp = Blueprint("public", __name__)

# Pages with their own address; their text lives in content/pages/<slug>.md.
STATIC_PAGES = ("about", "terms", "privacy")

# The home page's ways into the library, one per audience it is written for: (audience, what they find there).
ENTRY_POINTS = (
    ("journalists", "Questions to ask, data to request, and program figures you can check at their source."),
    ("advocates", "How to make the case for alternative response in your city or county."),
    ("officials", "Program models and research from jurisdictions already doing the work."),
    ("practitioners", "How partner programs dispatch, staff and run alternative response."),
)


def _page_or_404(slug: str):
    page = get_page(slug)
    if page is None:
        abort(404)
    return page


def split_lead(body: str) -> tuple[str, str]:
    """The Markdown before the first heading (the home page's key figures, with their sources) and the rest:
    the lead goes in the first screen, so the figures stay in the stored page rather than in the template."""
    lines = body.splitlines(keepends=True)
    first_heading = next((i for i, line in enumerate(lines) if line.startswith("#")), len(lines))
    return "".join(lines[:first_heading]), "".join(lines[first_heading:])


@bp.route("/")
@access("public")
def home():
    page = _page_or_404("home")
    now = utcnow()
    featured = featured_resources(limit=3, now=now)
    newest = [r for r in newest_resources(limit=6, now=now) if r not in featured][:4]
    lead, rest = split_lead(page.body)
    entry_points = [(audience, AUDIENCES[audience], blurb) for audience, blurb in ENTRY_POINTS]
    return render_template("public/home.html", page=page, lead=render_markdown(lead), body=render_markdown(rest),
                           entry_points=entry_points, featured=featured, newest=newest,
                           next_events=events.next_events(limit=3, now=now), now=now,
                           progress=national_progress(list_jurisdictions()))


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


def contact_address() -> str:
    """CONTACT_EMAIL, or else the address part of MAIL_FROM (which may be written "Name <address>")."""
    return current_app.config.get("CONTACT_EMAIL") or parseaddr(current_app.config["MAIL_FROM"])[1]


@bp.route("/contact")
@access("public")
def contact():
    page = _page_or_404("contact")
    return render_template("public/contact.html", page=page, body=render_markdown(page.body),
                           address=contact_address())


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


def _event_paths() -> list[str]:
    """Every event's page but the cancelled ones' (upcoming and past are disjoint: they split at the end)."""
    now = utcnow()
    return [url_for("events.detail", slug=event.slug)
            for event in (*events.upcoming_events(now=now), *events.past_events(now=now)) if not event.is_cancelled]


@bp.route("/sitemap.xml")
@access("public")
def sitemap():
    site = current_app.config["SITE_URL"]
    paths = [url_for("public.home"), *(url_for(f"public.{slug}") for slug in STATIC_PAGES), url_for("public.contact"),
             url_for("members.signup"), url_for("library.search"), url_for("library.feeds_help"),
             *(url_for("library.detail", slug=slug) for slug in visible_slugs()),
             # The events' public pages only: never a registration page, a calendar secret or a join link.
             url_for("events.index"), *_event_paths(), *(url_for("events.series", slug=series.slug)
                                                         for series in events.list_series()),
             url_for("initiative.index"), url_for("jurisdictions.index"),
             *(url_for("jurisdictions.show", slug=jurisdiction.slug) for jurisdiction in list_jurisdictions())]
    xml = render_template("public/sitemap.xml", urls=[site + path for path in paths])
    return Response(xml, mimetype="application/xml")
