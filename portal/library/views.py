"""The library for readers: search with facets, resource pages, files, feeds, suggestions and alerts."""
from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file,
                   url_for)
from flask_login import current_user

from portal.database import utcnow
from portal.events import search_docs as event_docs
from portal.exceptions import NotAllowed, ValidationFailed
from portal.extensions import csrf
from portal.forms import EmptyForm, apply_error, flash_error, page_number
from portal.jurisdictions.services import list_jurisdictions
from portal.library import alerts, attachments, services, suggestions
from portal.library.feeds import atom_feed
from portal.library.forms import AlertPicksForm, SuggestionForm
from portal.library.models import AUDIENCES, TYPES
from portal.library.search_docs import FACET_NAMES
from portal.markdown import render_markdown
from portal.search import SORTS
from portal.security import access
from portal.tokens import TokenInvalid

bp = Blueprint("library", __name__)

PER_PAGE = 20
FEED_SIZE = 30
# The type facet's values: the library's types, and the past webinars it lists among them.
TYPE_LABELS = {**TYPES, event_docs.WEBINAR: "Webinar"}


def _search_args() -> dict:
    """The search as typed: q, facet filters (repeatable), sort; anything else is ignored."""
    return {
        "q": request.args.get("q", "")[:1000],
        "filters": {name: [v[:120] for v in request.args.getlist(name)[:5] if v] for name in FACET_NAMES},
        "sort": request.args.get("sort", "") if request.args.get("sort", "") in SORTS else "",
    }


def _query_params(args: dict, **changes) -> dict:
    params = {"q": args["q"] or None, "sort": args["sort"] or None}
    params.update({name: values for name, values in args["filters"].items() if values})
    params.update(changes)
    return {k: v for k, v in sorted(params.items()) if v}


def _facet_labels(jurisdictions, *, short: bool = False) -> dict[str, dict[str, str]]:
    """What each facet value is called on the page (topics and years are their own names); `short` names a
    jurisdiction without its state, for filters listed in a sentence ("Toolkit, Denver")."""
    return {"type": TYPE_LABELS, "audience": AUDIENCES,
            "jurisdiction": {j.slug: j.name if short else j.label for j in jurisdictions}}


def _active_filters(args: dict, labels: dict) -> list[list[str]]:
    """The labels of the search's filters, one list per facet in the facets' order (values of one facet
    widen the search, so they read "Toolkit or Policy")."""
    return [[labels.get(name, {}).get(value, value) for value in args["filters"][name]]
            for name in FACET_NAMES if args["filters"][name]]


def _facet_entries(args: dict, facets: dict, labels: dict, toggle) -> dict[str, list[dict]]:
    """Every value of each facet with its count, selected ones marked; a selected value the search no longer
    counts still shows (with 0) so that it can be removed."""
    entries = {}
    for name in FACET_NAMES:
        counts = dict(facets.get(name, []))
        values = list(counts) + [v for v in args["filters"][name] if v not in counts]
        entries[name] = [{"value": value, "label": labels.get(name, {}).get(value, value),
                          "count": counts.get(value, 0), "selected": value in args["filters"][name],
                          "url": toggle(name, value)} for value in values]
    return entries


def _empty_reason(args: dict, result) -> str:
    """Which zero-result message fits: the index is down, the words match nothing, the filters exclude
    everything, or words and filters together leave nothing."""
    if result.unavailable:
        return "unavailable"
    has_words = args["q"].strip() not in ("", "*")
    has_filters = any(args["filters"].values())
    return {(True, True): "both", (True, False): "words", (False, True): "filters"}.get((has_words, has_filters),
                                                                                       "empty")


def _saved_search(alert_params: dict):
    """The member's saved search that is this search, if any (the save button then says it is saved)."""
    if not current_user.is_authenticated or not alert_params:
        return None
    query_string = alerts.normalize_query(alert_params)
    return next((s for s in alerts.saved_searches(current_user) if s.query_string == query_string), None)


@bp.route("/resources")
@access("public")
def search():
    args = _search_args()
    page = page_number(limit=500)
    library = services.search_library(user=current_user, q=args["q"], filters=args["filters"],
                                      sort=args["sort"] or "relevance", page=page, per_page=PER_PAGE,
                                      webinars=True)

    def toggle(name: str, value: str) -> str:
        values = list(args["filters"][name])
        values = [v for v in values if v != value] if value in values else values + [value]
        return url_for("library.search", **_query_params(args, **{name: values or None}))

    jurisdictions = list_jurisdictions()
    params = _query_params(args)
    alert_params = {k: v for k, v in params.items() if k in alerts.QUERY_KEYS}
    return render_template(
        "library/search.html", library=library, args=args, params=params, alert_params=alert_params,
        facets=_facet_entries(args, library.result.facets, _facet_labels(jurisdictions), toggle),
        active=_active_filters(args, _facet_labels(jurisdictions, short=True)),
        empty_reason=_empty_reason(args, library.result), saved=_saved_search(alert_params),
        page_url=lambda number: url_for("library.search", **_query_params(args, page=number)),
        sort_url=lambda sort: url_for("library.search", **_query_params(args, sort=sort)),
        clear_url=url_for("library.search", **_query_params({"q": args["q"], "sort": args["sort"],
                                                             "filters": {}})),
        unfiltered_url=url_for("library.search", q=args["q"]),
        feed_url=url_for("library.search_feed", **params),
        follow_url=url_for("library.feeds_help", **{k: v for k, v in params.items() if k != "sort"}),
        save_form=EmptyForm(formdata=None) if current_user.is_authenticated else None, now=utcnow(),
        event_summary=event_docs.summary_of,
        suggestion_url=url_for("library.search", **_query_params(args, q=library.result.suggestion))
        if library.result.suggestion else None), 503 if library.result.unavailable else 200


@bp.route("/resources/feeds")
@access("public")
def feeds_help():
    """What a feed reader is, and the addresses to give one: the site's feed, and this search's if one is asked."""
    args = _search_args()
    search_params = {k: v for k, v in _query_params(args).items() if k != "sort"}
    site = current_app.config["SITE_URL"]
    return render_template(
        "library/feeds.html", site_feed=site + url_for("library.feed"),
        search_feed=site + url_for("library.search_feed", **search_params) if search_params else None,
        search_url=url_for("library.search", **search_params), q=args["q"],
        active=_active_filters(args, _facet_labels(list_jurisdictions(), short=True)) if search_params else [])


@bp.route("/resources/feed.atom")
@access("public")
def search_feed():
    args = _search_args()
    library = services.search_library(user=None, q=args["q"], filters=args["filters"], sort="newest",
                                      per_page=FEED_SIZE)
    self_url = current_app.config["SITE_URL"] + url_for("library.search_feed", **_query_params(args))
    label = f"“{args['q']}”" if args["q"] else "all resources"
    xml = atom_feed(title=f"12 Million Calls: {label}", self_url=self_url, resources=library.resources,
                    now=utcnow(), include_bodies=False)
    return Response(xml, mimetype="application/atom+xml")


@bp.route("/feed.atom")
@access("public")
def feed():
    now = utcnow()
    resources = [r for r in services.newest_resources(limit=FEED_SIZE * 2, now=now) if not r.is_members_only(now)]
    xml = atom_feed(title="12 Million Calls: new resources",
                    self_url=current_app.config["SITE_URL"] + url_for("library.feed"),
                    resources=resources[:FEED_SIZE], now=now, include_bodies=True)
    return Response(xml, mimetype="application/atom+xml")


def _visible_resource_or_404(slug: str):
    resource = services.get_resource_by_slug(slug)
    if resource is None or not services.can_see(resource, current_user):
        abort(404)
    return resource


@bp.route("/resources/<slug>")
@access("public")
def detail(slug):
    resource = _visible_resource_or_404(slug)
    now = utcnow()
    readable = services.can_read_body(resource, current_user, now)
    counts = attachments.download_counts(resource) if current_user.is_authenticated and current_user.is_staff \
        else {}
    return render_template("library/detail.html", resource=resource, readable=readable, now=now,
                           body=render_markdown(resource.body) if readable else None, counts=counts,
                           members_only=resource.is_members_only(now))


@bp.route("/resources/<slug>/files/<int:file_id>")
@access("public")
def download(slug, file_id):
    resource = _visible_resource_or_404(slug)
    attachment = attachments.find_attachment(resource, file_id) or abort(404)
    if not services.can_read_body(resource, current_user):
        if not current_user.is_authenticated:
            return redirect(url_for("members.login", next=request.path))
        abort(403)
    path = attachments.file_path(attachment)
    if not path.is_file():
        current_app.logger.error("attachment %s is missing its file", attachment.id)
        abort(404)
    attachments.count_download(attachment, current_user)
    return send_file(path, mimetype=attachments.MIMETYPES[attachment.kind], as_attachment=True,
                     download_name=attachment.filename, max_age=0, conditional=True)


@bp.route("/resources/suggest", methods=["GET", "POST"])
@access("verified")
def suggest():
    form = SuggestionForm()
    if form.validate_on_submit():
        try:
            suggestions.submit_suggestion(member=current_user, title=form.title.data, type=form.type.data,
                                          summary=form.summary.data, external_url=form.external_url.data,
                                          jurisdiction=form.jurisdiction.data,
                                          jurisdiction_other=form.jurisdiction_other.data, note=form.note.data)
        except (ValidationFailed, NotAllowed) as error:
            apply_error(form, error if isinstance(error, ValidationFailed) else ValidationFailed(None, str(error)))
        else:
            flash("Thank you: staff will review your suggestion and write to you.", "success")
            return redirect(url_for("library.search"))
    return render_template("library/suggest.html", form=form), 400 if form.errors else 200


@bp.route("/resources/saved", methods=["POST"])
@access("member")
def save_search():
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            alerts.save_search(member=current_user, args=request.form)
        except ValidationFailed as error:
            flash_error(error)
        else:
            flash("Search saved: new matches will be emailed to you.", "success")
    params = {key: request.form.getlist(key) for key in alerts.QUERY_KEYS if request.form.getlist(key)}
    return redirect(url_for("library.search", **params))


@bp.route("/account/alerts", methods=["GET", "POST"])
@access("member")
def alerts_page():
    picks = alerts.picked(current_user)
    form = AlertPicksForm(data={"wants_alerts": current_user.wants_alerts, "types": picks["type"],
                                "topics": picks["topic"]})
    topics = sorted(set(services.visible_topics()) | set(picks["topic"]))
    form.topics.choices = {t: t for t in topics}
    if form.validate_on_submit():
        try:
            alerts.set_alerts(member=current_user, wants_alerts=form.wants_alerts.data, types=form.types.data or [],
                              topics=[t for t in form.topics.data or [] if t in topics])
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("Your alert settings are saved.", "success")
            return redirect(url_for("library.alerts_page"))
    return render_template("library/alerts.html", form=form, saved=alerts.saved_searches(current_user),
                           delete_form=EmptyForm(formdata=None)), 400 if form.errors else 200


@bp.route("/account/alerts/<int:saved_id>/delete", methods=["POST"])
@access("member")
def delete_alert(saved_id):
    if EmptyForm().validate_on_submit():
        try:
            alerts.delete_saved_search(member=current_user, saved_id=saved_id)
        except ValidationFailed as error:
            flash_error(error)
        else:
            flash("Alert removed.", "success")
    return redirect(url_for("library.alerts_page"))


@bp.route("/alerts/unsubscribe/<token>", methods=["GET", "POST"])
@access("public")
@csrf.exempt  # RFC 8058 one-click unsubscribe: mail clients POST without a form token
def unsubscribe(token):
    if request.method == "GET":
        return render_template("library/unsubscribe.html", token=token, done=False)
    try:
        alerts.unsubscribe(token)
    except TokenInvalid:
        return render_template("library/unsubscribe.html", token=token, done=False, invalid=True), 400
    return render_template("library/unsubscribe.html", token=token, done=True)
