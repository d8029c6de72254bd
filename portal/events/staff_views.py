"""Staff work on the webinar series: events, their registrants, attendance and messages."""
from datetime import timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.csv_export import csv_response
from portal.database import utcnow
from portal.events import registrations as places, services
from portal.events.forms import AttendanceForm, CancelEventForm, EventForm, MessageForm, SeriesForm
from portal.exceptions import ValidationFailed
from portal.forms import EmptyForm, apply_error
from portal.markdown import render_markdown
from portal.security import access

bp = Blueprint("events_staff", __name__, url_prefix="/staff/events")

CSV_HEADER = ("status", "position", "name", "email", "member_or_guest", "registered_at", "attended")


def _actor():
    return current_user._get_current_object()


def _event_or_404(event_id: int):
    event = services.get_event_by_id(event_id)
    if event is None:
        abort(404)
    return event


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- the form's text <-> the service's values ---------------------------------------------------------------

def _speakers(text: str | None) -> list[dict]:
    """"Name | Title | Organisation" lines as the service's speaker entries (it checks and trims them)."""
    speakers = []
    for line in (text or "").splitlines():
        if line.strip():
            name, title, organisation = ([part.strip() for part in line.split("|", 2)] + ["", ""])[:3]
            speakers.append({"name": name, "title": title, "organisation": organisation})
    return speakers


def _speakers_text(speakers) -> str:
    lines = []
    for speaker in speakers or []:
        parts = [speaker.get("name", ""), speaker.get("title", ""), speaker.get("organisation", "")]
        while len(parts) > 1 and not parts[-1]:
            parts.pop()
        lines.append(" | ".join(parts))
    return "\n".join(lines)


def _slugs(text: str | None) -> list[str]:
    return [slug.strip() for slug in (text or "").split(",") if slug.strip()]


def _local(value, zone):
    """A stored UTC time as the wall time the form shows (naive, in the event's zone)."""
    return value.astimezone(zone).replace(tzinfo=None) if value is not None else None


def _event_form(event=None, bound: bool = True) -> EventForm:
    """The editor form: bound to the request, or (bound=False) showing the event as saved."""
    form = EventForm() if bound else EventForm(formdata=None)
    form.series.choices = {"": "None", **{series.slug: series.title for series in services.list_series()}}
    form.timezone.choices = {name: name for name in services.known_timezones()}
    if event is not None and not (bound and form.is_submitted()):
        form.process(obj=event, data={})
        form.series.data = event.series.slug if event.series else ""
        form.speakers.data = _speakers_text(event.speakers)
        form.topics.data = ", ".join(event.topics or [])
        for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
            getattr(form, name).data = _local(getattr(event, name), event.zone)
        form.slides.data = event.slides.slug if event.slides else ""
        form.resources.data = ", ".join(resource.slug for resource in event.resources)
    return form


def _fields(form: EventForm, event=None) -> dict:
    """The form as the service's keyword arguments; the times typed are wall times in the chosen zone."""
    zone = services.check_timezone(form.timezone.data)

    def utc(name):
        value = getattr(form, name).data
        if value is None:
            return None
        value = services.local_to_utc(value, zone)
        stored = getattr(event, name) if event is not None else None
        # The form shows minutes: an unchanged field keeps the stored time to the second.
        if stored is not None and value == stored.replace(second=0, microsecond=0):
            return stored
        return value

    return dict(title=form.title.data, slug=form.slug.data or "", description=form.description.data or "",
                series=form.series.data or "", speakers=_speakers(form.speakers.data),
                audiences=form.audiences.data or [], topics=form.topics.data or "", timezone=zone,
                starts_at=utc("starts_at"), ends_at=utc("ends_at"),
                registration_opens_at=utc("registration_opens_at"),
                registration_closes_at=utc("registration_closes_at"), capacity=form.capacity.data,
                has_waitlist=form.has_waitlist.data, registration=form.registration.data,
                join_url=(form.join_url.data or "").strip(), recording_url=(form.recording_url.data or "").strip(),
                slides=(form.slides.data or "").strip() or None, resources=_slugs(form.resources.data))


def _preview(form: EventForm) -> dict:
    """What the event's page would say: the description rendered, and the times in their zone and in UTC."""
    try:
        zone = services.check_timezone(form.timezone.data)
    except ValidationFailed:
        zone = None
    starts, ends = form.starts_at.data, form.ends_at.data
    return {"description": render_markdown(form.description.data or ""), "zone": zone, "starts": starts,
            "ends": ends, "starts_utc": services.local_to_utc(starts, zone) if zone and starts else None,
            "ends_utc": services.local_to_utc(ends, zone) if zone and ends else None}


# --- pages -------------------------------------------------------------------------------------------------

@bp.route("")
@access("staff")
def index():
    now = utcnow()
    upcoming, past = services.events_for_staff(now=now)
    return render_template("events_staff/index.html", upcoming=upcoming, past=past,
                           waiting=places.waitlist_counts(event.id for event in upcoming + past))


def _editor(event, form, status=200, preview=None, cancel_form=None):
    return render_template("events_staff/edit.html", event=event, form=form, preview=preview,
                           cancel_form=cancel_form or CancelEventForm(formdata=None)), status


def _write(event=None):
    """The editor: preview without saving, or save a new event or the changes."""
    form = _event_form(event)
    if form.validate_on_submit():
        if request.form.get("action") == "preview":
            return _editor(event, form, preview=_preview(form))
        seated = event.registered_count if event is not None else 0
        before = {name: getattr(event, name) for name in services.NOTICE_FIELDS} if event is not None else {}
        try:
            if event is None:
                saved = services.create_event(actor=_actor(), **_fields(form))
            else:
                saved = services.update_event(event, actor=_actor(), **_fields(form, event))
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            if event is None:
                flash("Event saved. It is on the public list of events.", "success")
            elif any(getattr(saved, name) != value for name, value in before.items()) and not saved.is_cancelled:
                # The service mails everyone holding a seat about a new time or join link.
                told = f"{_plural(seated, 'registrant')} will be told by mail." if seated \
                    else "Nobody holds a seat yet, so nobody is mailed."
                flash(f"Changes saved. {told}", "success")
            else:
                flash("Changes saved.", "success")
            return redirect(url_for("events_staff.edit", event_id=saved.id))
    return _editor(event, form, 400 if form.errors else 200)


@bp.route("/new", methods=["GET", "POST"])
@access("staff")
def new():
    return _write()


@bp.route("/<int:event_id>/edit", methods=["GET", "POST"])
@access("staff")
def edit(event_id):
    return _write(_event_or_404(event_id))


@bp.route("/<int:event_id>/cancel", methods=["POST"])
@access("staff")
def cancel(event_id):
    event = _event_or_404(event_id)
    form = CancelEventForm()
    if not form.validate_on_submit():
        return _editor(event, _event_form(event, bound=False), 400, cancel_form=form)
    if event.is_cancelled:
        flash("The event was already cancelled.", "info")
    else:
        services.cancel_event(event, actor=_actor(), note=form.note.data or "")
        flash("The event is cancelled. Everyone registered or waiting is told by mail.", "success")
    return redirect(url_for("events_staff.edit", event_id=event.id))


def _registrations_page(event, status=200, attendance_form=None):
    rows = places.registrations_for_staff(event)
    waitlist = [row for row in rows if row.status == "waitlisted"]  # already in the waitlist's order
    seated = [row for row in rows if row.status == "registered"]
    if attendance_form is None:
        attendance_form = AttendanceForm(formdata=None)
        attendance_form.attended.data = [row.id for row in seated if row.attended]
    return render_template("events_staff/registrations.html", event=event, seated=seated,
                           waitlist=list(enumerate(waitlist, start=1)),
                           cancelled=[row for row in rows if row.status == "cancelled"],
                           attendance_form=attendance_form, action_form=EmptyForm(formdata=None),
                           can_mark=places.attendance_refusal(event) is None), status


@bp.route("/<int:event_id>/registrations")
@access("staff")
def registrations(event_id):
    return _registrations_page(_event_or_404(event_id))


@bp.route("/<int:event_id>/registrations.csv")
@access("staff")
def registrations_csv(event_id):
    event = _event_or_404(event_id)
    rows = places.registrations_for_staff(event)
    position = 0
    lines = []
    for row in rows:
        if row.status == "waitlisted":
            position += 1
        lines.append((row.status, position if row.status == "waitlisted" else None, row.name, row.email,
                      "member" if row.member_id is not None else "guest",
                      row.created_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), row.attended))
    return csv_response(f"{event.slug}-registrations.csv", CSV_HEADER, lines)


@bp.route("/<int:event_id>/attendance", methods=["POST"])
@access("staff")
def attendance(event_id):
    event = _event_or_404(event_id)
    form = AttendanceForm()
    if form.validate_on_submit():
        try:
            count = places.mark_attendance(event, actor=_actor(), attended_ids=form.attended.data or [])
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash(f"Attendance saved: {count} of {_plural(event.registered_count, 'registrant')} attended.",
                  "success")
            return redirect(url_for("events_staff.registrations", event_id=event.id))
    return _registrations_page(event, 400, attendance_form=form)


@bp.route("/<int:event_id>/registrations/<int:registration_id>/cancel", methods=["POST"])
@access("staff")
def cancel_registration(event_id, registration_id):
    event = _event_or_404(event_id)
    registration = places.get_registration(registration_id)
    if registration is None or registration.event_id != event.id:
        abort(404)
    if EmptyForm().validate_on_submit():
        name = registration.name
        if registration.status == "cancelled":
            flash(f"The place of {name} was already cancelled.", "info")
        else:
            places.cancel_registration(registration, actor=_actor())
            flash(f"The place of {name} is cancelled and they are told by mail; a freed seat goes to the first "
                  "person waiting.", "success")
    return redirect(url_for("events_staff.registrations", event_id=event.id))


@bp.route("/<int:event_id>/message", methods=["GET", "POST"])
@access("staff")
def message(event_id):
    event = _event_or_404(event_id)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            count = places.message_registrants(event, actor=_actor(), subject=form.subject.data,
                                                 body=form.body.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash(f"Message sent to {_plural(count, 'registrant')} holding a seat.", "success")
            return redirect(url_for("events_staff.registrations", event_id=event.id))
    return render_template("events_staff/message.html", event=event, form=form), 400 if form.errors else 200


@bp.route("/series", methods=["GET", "POST"])
@access("staff")
def series():
    form = SeriesForm()
    editing = services.get_series(request.args.get("edit", "")[:120]) if request.args.get("edit") else None
    if editing is not None and not form.is_submitted():
        form.process(obj=editing, data={})
    if form.validate_on_submit():
        try:
            saved, changed = services.save_series(slug=form.slug.data or "", title=form.title.data,
                                                  summary=form.summary.data or "", actor=_actor())
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash(f"Series saved: {saved.title}." if changed else f"Nothing changed in {saved.title}.", "success")
            return redirect(url_for("events_staff.series"))
    return render_template("events_staff/series.html", form=form, editing=editing,
                           all_series=services.list_series()), 400 if form.errors else 200
