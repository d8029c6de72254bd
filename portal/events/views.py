"""Webinars for readers: the list, one event, series, registration, calendars."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import uow
from portal.database import utcnow
from portal.events import account as event_account, calendar, registrations, services
from portal.events.forms import GuestRegistrationForm
from portal.exceptions import ValidationFailed
from portal.extensions import limiter
from portal.forms import EmptyForm, apply_error, flash_error
from portal.library import services as library
from portal.library.models import AUDIENCES
from portal.markdown import render_markdown
from portal.security import access
from portal.tokens import TokenInvalid

bp = Blueprint("events", __name__)

PRIVATE = "private, no-store"
ALREADY = "You are already registered for this event."


# --- how times read ----------------------------------------------------------------------------------------

@bp.app_template_filter("utc_iso")
def utc_iso(moment: datetime) -> str:
    """The machine-readable form of a <time datetime>: UTC, to the second, with its Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clock(moment: datetime) -> str:
    return moment.strftime("%I:%M %p").lstrip("0")


def _day(moment: datetime) -> str:
    return f"{moment:%A}, {moment:%B} {moment.day}, {moment.year}"


@bp.app_template_filter("event_span_parts")
def event_span_parts(event, zone: ZoneInfo | None = None) -> tuple[str, str]:
    """("Tuesday, December 8, 2026, 10:00 AM", "11:00 AM CST"): the event's start and end in `zone` (by
    default the event's own); the end repeats the day only when it falls on another one."""
    zone = zone or event.zone
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    if start.date() == end.date():
        return f"{_day(start)}, {_clock(start)}", f"{_clock(end)} {end:%Z}"
    return f"{_day(start)}, {_clock(start)} {start:%Z}", f"{_day(end)}, {_clock(end)} {end:%Z}"


@bp.app_template_filter("event_span")
def event_span(event, zone: ZoneInfo | None = None) -> str:
    """The same as one line of text (mail, lists elsewhere)."""
    return " – ".join(event_span_parts(event, zone))


def _viewer_zone(event) -> ZoneInfo | None:
    """The signed-in member's own zone, when they set one and it is not the event's (else nothing to add)."""
    name = getattr(current_user, "timezone", "") if current_user.is_authenticated else ""
    if not name or name == event.timezone:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # a zone this system no longer knows: show the event's only
        return None


# --- lists -------------------------------------------------------------------------------------------------

def _filters() -> services.EventFilters:
    args = {name: request.args.get(name, "").strip()[:120] for name in ("series", "audience", "topic")}
    args["topic"] = args["topic"].lower()  # topics are stored lower-cased
    return services.EventFilters(**args)


def _filter_entries(filters, events, series_list, topics) -> dict[str, list[dict]]:
    """Each filter's values with how many events (upcoming and past, before filtering) carry them, and the
    link that picks the value, or drops it when it is already picked."""
    chosen = {"series": filters.series, "audience": filters.audience, "topic": filters.topic}
    counts = {"series": {}, "audience": {}, "topic": {}}
    for event in events:
        if event.series is not None:
            counts["series"][event.series.slug] = counts["series"].get(event.series.slug, 0) + 1
        for audience in event.audiences or []:
            counts["audience"][audience] = counts["audience"].get(audience, 0) + 1
        for topic in event.topics or []:
            counts["topic"][topic] = counts["topic"].get(topic, 0) + 1
    labels = {"series": {s.slug: s.title for s in series_list}, "audience": AUDIENCES,
              "topic": {t: t for t in topics}}
    entries = {}
    for name, values in labels.items():
        entries[name] = []
        for value, label in values.items():
            selected = chosen[name] == value
            if not counts[name].get(value) and not selected:
                continue
            params = {k: v for k, v in chosen.items() if v and k != name}
            if not selected:
                params[name] = value
            entries[name].append({"value": value, "label": label, "count": counts[name].get(value, 0),
                                  "selected": selected, "url": url_for("events.index", **params)})
    return entries


@bp.route("/events")
@access("public")
def index():
    now = utcnow()
    filters = _filters()
    upcoming = services.upcoming_events(now=now, filters=filters)
    past = services.past_events(now=now, filters=filters)
    filtered = bool(filters.series or filters.audience or filters.topic)
    everything = services.upcoming_events(now=now) + services.past_events(now=now) if filtered else upcoming + past
    series_list = services.list_series()
    entries = _filter_entries(filters, everything, series_list, services.event_topics())
    active = [entry["label"] for group in entries.values() for entry in group if entry["selected"]]
    return render_template("events/index.html", upcoming=upcoming, past=past, filters=filters, entries=entries,
                           active=active, filtered=filtered, now=now)


@bp.route("/events/series/<slug>")
@access("public")
def series(slug):
    found = services.get_series(slug) or abort(404)
    now = utcnow()
    chosen = services.EventFilters(series=found.slug)
    return render_template("events/series.html", series=found, summary=render_markdown(found.summary),
                           upcoming=services.upcoming_events(now=now, filters=chosen),
                           past=services.past_events(now=now, filters=chosen), now=now)


# --- one event ---------------------------------------------------------------------------------------------

def _event_or_404(slug: str):
    return services.get_event(slug) or abort(404)


def _own_registration(event):
    """The signed-in member's place at the event (not a cancelled one), or None."""
    if not current_user.is_authenticated:
        return None
    registration = registrations.find_registration(event, member=current_user)
    return registration if registration is not None and registration.status != "cancelled" else None


def _render_detail(event, *, guest_form=None, status: int = 200):
    now = utcnow()
    registration = _own_registration(event)
    user = current_user if current_user.is_authenticated else None
    if guest_form is None and user is None and event.registration == "anyone":
        guest_form = GuestRegistrationForm(formdata=None)
    visible = [r for r in event.resources if library.can_see(r, current_user, now)]
    slides = event.slides if event.slides is not None and library.can_see(event.slides, current_user, now) \
        else None
    return render_template(
        "events/detail.html", event=event, now=now, state=event.registration_state(now),
        closed_messages=registrations.CLOSED_MESSAGES, registration=registration,
        position=registrations.waitlist_position(registration) if registration is not None else None,
        reason=registrations.can_register(event, user, now), guest_form=guest_form,
        button_form=EmptyForm(formdata=None) if user is not None else None,
        description=render_markdown(event.description), viewer_zone=_viewer_zone(event),
        slides=slides, resources=visible, is_past=event.is_past(now)), status


@bp.route("/events/<slug>")
@access("public")
def detail(slug):
    return _render_detail(_event_or_404(slug))


def _guest_limit_exempt() -> bool:
    return current_user.is_authenticated


def _guest_email_key() -> str:
    return "guest-email:" + " ".join((request.form.get("email") or "")[:320].split()).casefold()


@bp.route("/events/<slug>/register", methods=["POST"])
@access("public")
# Guests are mailed a link: without a limit the form would mail anyone, any number of times.
@limiter.limit("10 per hour", methods=["POST"], exempt_when=_guest_limit_exempt)
@limiter.limit("3 per hour", key_func=_guest_email_key, methods=["POST"], exempt_when=_guest_limit_exempt)
def register(slug):
    event = _event_or_404(slug)
    if not current_user.is_authenticated:
        return _register_guest(event)
    if EmptyForm().validate_on_submit():
        existing = _own_registration(event)
        if existing is not None:
            flash(ALREADY if existing.is_registered else
                  f"You are already on the waitlist (number {registrations.waitlist_position(existing)}).", "info")
            return redirect(url_for("events.detail", slug=event.slug))
        try:
            registration = registrations.register(event, member=current_user)
        except ValidationFailed as error:
            flash_error(error)
        else:
            if registration.is_registered:
                flash("You are registered: the join link is on this page and in your confirmation email.",
                      "success")
            else:
                flash("The event is full: you are on the waitlist (number "
                      f"{registrations.waitlist_position(registration)}). We will email you if a seat frees up.", "info")
    return redirect(url_for("events.detail", slug=event.slug))


def _register_guest(event):
    """A visitor asks for a place: the answer is "check your email" whatever the address."""
    reason = registrations.can_register(event, None)
    if reason:  # members only, closed, full: the form is not offered, so nothing typed needs keeping
        flash(reason, "error")
        return redirect(url_for("events.detail", slug=event.slug))
    form = GuestRegistrationForm()
    if form.validate_on_submit():
        try:
            registrations.request_guest_registration(event, name=form.name.data, email=form.email.data)
        except ValidationFailed as error:
            if error.field is None:  # closed, members only, full: the page says why
                flash_error(error)
                return redirect(url_for("events.detail", slug=event.slug))
            apply_error(form, error)
        else:
            return render_template("events/guest_check_email.html", event=event)
    return _render_detail(event, guest_form=form, status=400)


@bp.route("/events/<slug>/cancel", methods=["POST"])
@access("member")
def cancel(slug):
    event = _event_or_404(slug)
    if EmptyForm().validate_on_submit():
        registration = _own_registration(event)
        if registration is None:
            flash("You were not registered for this event.", "info")
        else:
            registrations.cancel_registration(registration, actor=current_user)
            flash("Your registration is cancelled.", "success")
    return redirect(url_for("events.detail", slug=event.slug))


# --- guests ------------------------------------------------------------------------------------------------

def _private(response, *, referrer: bool = False):
    """A page or file carrying a secret (a join link, a guest's key): stored by no cache, and (`referrer`)
    its address sent to no site a link on it leads to."""
    response.headers["Cache-Control"] = PRIVATE
    if referrer:
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/events/<slug>/confirm/<token>")
@access("public")
def confirm_guest(slug, token):
    try:
        registration = registrations.confirm_guest_registration(token)
    except TokenInvalid as error:
        return _private(Response(render_template("events/link_invalid.html", expired=error.expired), 400),
                        referrer=True)
    except ValidationFailed as error:  # registration closed, or the event filled up without a waitlist
        uow.rollback()
        return _private(Response(render_template("events/link_invalid.html", reason=error.message), 400),
                        referrer=True)
    if registration.is_registered:
        flash("Your address is confirmed and you are registered.", "success")
    else:
        flash("Your address is confirmed. The event is full: you are on the waitlist (number "
              f"{registrations.waitlist_position(registration)}).", "info")
    return _private(redirect(url_for("events.registration", key=registration.key)), referrer=True)


def _guest_registration_or_404(key: str):
    registration = registrations.get_registration_by_key(key)
    if registration is None or registration.member_id is not None:
        abort(404)  # members manage their place on the event page, signed in
    return registration


@bp.route("/events/registration/<key>")
@access("public")
def registration(key):
    found = _guest_registration_or_404(key)
    now = utcnow()
    page = render_template("events/registration.html", registration=found, event=found.event, now=now,
                           position=registrations.waitlist_position(found), is_past=found.event.is_past(now),
                           form=EmptyForm(formdata=None))
    return _private(Response(page), referrer=True)


@bp.route("/events/registration/<key>/cancel", methods=["POST"])
@access("public")
def cancel_guest(key):
    found = _guest_registration_or_404(key)
    if EmptyForm().validate_on_submit():
        if found.status == "cancelled":
            flash("This registration was already cancelled.", "info")
        else:
            registrations.cancel_registration(found)
            flash("Your registration is cancelled.", "success")
    return _private(redirect(url_for("events.registration", key=found.key)), referrer=True)


# --- calendars ---------------------------------------------------------------------------------------------

def _calendar_file(data: bytes, filename: str, *, private: bool) -> Response:
    response = Response(data, mimetype="text/calendar")  # Flask adds "; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _private(response, referrer=True) if private else response


@bp.route("/events/registration/<key>.ics")
@access("public")
def registration_ics(key):
    found = _guest_registration_or_404(key)
    seat = found if found.is_registered else None
    return _calendar_file(calendar.event_calendar(found.event, registration=seat), f"{found.event.slug}.ics",
                          private=True)


@bp.route("/events/<slug>.ics")
@access("public")
def event_ics(slug):
    event = _event_or_404(slug)
    registration = _own_registration(event)
    seat = registration if registration is not None and registration.is_registered else None
    return _calendar_file(calendar.event_calendar(event, registration=seat), f"{event.slug}.ics",
                          private=seat is not None)


@bp.route("/events.ics")
@access("public")
def feed_ics():
    now = utcnow()
    events = services.upcoming_events(now=now) + services.past_events(now=now)
    return _calendar_file(calendar.feed_calendar(events), "12-million-calls-events.ics", private=False)


@bp.route("/account/calendar/<secret>.ics")
@access("public")  # calendar apps fetch it without a session: the secret is the key
def member_calendar(secret):
    member = event_account.member_for_calendar(secret) or abort(404)
    upcoming, past = registrations.registrations_of(member)
    seats = [r for r in upcoming + past if r.is_registered]
    return _calendar_file(calendar.member_calendar(member, seats), "my-12-million-calls-events.ics", private=True)


@bp.route("/account/calendar/reset", methods=["POST"])
@access("member")
def reset_calendar():
    if EmptyForm().validate_on_submit():
        event_account.reset_calendar_feed(current_user)
        flash("Your calendar address has changed: the old one no longer works. Give the new one to your "
              "calendar app.", "success")
    return redirect(url_for("members.account"))
