"""Form fuzzing for the webinar series: the guest registration form and the staff forms, with the helpers and
the rules of tests/test_forms_fuzz.py (never a 500, nothing half saved, refusals answered with a 4xx)."""
import itertools
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.database import utcnow
from portal.events.forms import (AttendanceForm, CancelEventForm, EventForm, GuestRegistrationForm, MessageForm,
                                 SeriesForm)
from portal.events.models import Registration
from portal.extensions import db
from portal.members.models import Member
from tests.conftest import create_event, csrf_token, unit
from tests.test_forms_fuzz import (FUZZ, count, expect, form_fields, fresh_entropy, fresh_limits, index_in_step,
                                   no_server_error, payloads, post, resolve, signed_in)

# Read by tests/test_forms_fuzz.py's test_every_form_is_fuzzed.
EVENT_FUZZED_FORMS = {GuestRegistrationForm, EventForm, CancelEventForm, AttendanceForm, MessageForm, SeriesForm}

GUEST_VALID = {"name": "Gina Guest", "email": "gina@example.org"}


def test_guest_registration_fuzz(app, outbox):
    fields = form_fields(app, GuestRegistrationForm)
    slug = create_event(app, title="Open to anyone", registration="anyone")
    client = app.test_client()
    token = csrf_token(client, "/login")
    assert post(client, f"/events/{slug}/register", GUEST_VALID, token).status_code == 200
    assert outbox.messages("gina@example.org")

    @FUZZ
    @given(payload=payloads(fields, GUEST_VALID))
    def run(payload):
        fresh_limits(app)
        data = resolve(payload, fields, GUEST_VALID)
        sent = len(outbox.messages())
        response = post(client, f"/events/{slug}/register", data, token)
        no_server_error(response, data)
        assert response.status_code in (200, 400), response.status_code
        assert count(app, Registration) == 0, "a guest holds a place before confirming the address"
        if response.status_code == 400:
            assert len(outbox.messages()) == sent, "a refused form sent mail"

    run()
# --- events: staff forms -----------------------------------------------------------------------------------

EVENT_VALID = {"title": "", "slug": "", "series": "", "description": "A *webinar*.",
               "speakers": "Ana Diaz | Director | 988 Lab", "audiences": ["officials"], "topics": "dispatch",
               "timezone": "America/Chicago", "starts_at": "2030-12-09T14:00", "ends_at": "2030-12-09T15:00",
               "registration_opens_at": "", "registration_closes_at": "", "capacity": "30", "has_waitlist": "y",
               "registration": "members", "join_url": "https://example.org/join", "recording_url": "",
               "slides": "", "resources": ""}


EVENT_NUMBERS = itertools.count()


def make_event(app, **fields) -> int:
    from portal.events import services as events

    start = (utcnow() + timedelta(days=7)).replace(second=0, microsecond=0)
    with unit(app):
        values = {"title": f"A fuzz webinar {next(EVENT_NUMBERS)}", "starts_at": start,
                  "ends_at": start + timedelta(hours=1), "timezone": "America/Chicago", **fields}
        event = events.create_event(actor=None, **values)
        return event.id


def event_row(app, event_id) -> dict | None:
    from portal.events.models import Event

    with unit(app):
        db.session.expire_all()
        event = db.session.get(Event, event_id)
        if event is None:
            return None
        row = {column.key: getattr(event, column.key) for column in Event.__table__.columns}
        row["resources"] = [link.resource_id for link in event.resource_links]
        return row


def test_new_event_fuzz(app):
    from portal.events.models import Event

    fields = form_fields(app, EventForm)
    client, token = signed_in(app, "staff@example.org", role="staff")
    counter = itertools.count()

    def valid():
        return dict(EVENT_VALID, title=f"Fuzz webinar {next(counter)}")

    before = count(app, Event)
    assert post(client, "/staff/events/new", valid(), token).status_code == 302, "the valid event must save"
    assert count(app, Event) == before + 1

    @FUZZ
    @given(payload=payloads(fields, EVENT_VALID), preview=st.booleans())
    def run(payload, preview):
        fresh_entropy()
        data = resolve(payload, fields, valid())
        if preview:
            data["action"] = "preview"
        before = count(app, Event)
        response = post(client, "/staff/events/new", data, token)
        no_server_error(response, data)
        after = count(app, Event)
        if response.status_code == 302:
            assert not preview and after == before + 1
        else:
            assert response.status_code in (200, 400), response.status_code
            assert response.status_code == 400 or preview
            assert after == before, "a refused or previewed event was stored"

    run()


def test_edit_event_fuzz(app):
    """Edits of an event with registrants: a refused edit changes nothing, and the index stays in step."""
    fields = form_fields(app, EventForm)
    client, token = signed_in(app, "staff@example.org", role="staff")
    event_id = make_event(app, capacity=10)
    path = f"/staff/events/{event_id}/edit"
    valid = dict(EVENT_VALID, title="An edited webinar")
    assert post(client, path, valid, token).status_code == 302, "the valid edit must save"

    @FUZZ
    @given(payload=payloads(fields, valid), preview=st.booleans())
    def run(payload, preview):
        fresh_entropy()
        data = resolve(payload, fields, valid)
        if preview:
            data["action"] = "preview"
        before = event_row(app, event_id)
        response = post(client, path, data, token)
        no_server_error(response, data)
        after = event_row(app, event_id)
        if response.status_code == 302:
            assert not preview
        else:
            assert response.status_code == 400 or (preview and response.status_code == 200), response.status_code
            assert after == before, "a refused or previewed edit changed the event"
        index_in_step(app)

    run()


def test_cancel_event_form_fuzz(app):
    fields = form_fields(app, CancelEventForm)
    client, token = signed_in(app, "staff@example.org", role="staff")

    @FUZZ
    @given(payload=payloads(fields, {"note": "The speaker is unwell."}))
    def run(payload):
        event_id = make_event(app)
        data = resolve(payload, fields, {"note": "The speaker is unwell."})
        response = post(client, f"/staff/events/{event_id}/cancel", data, token)
        no_server_error(response, data)
        expect(response, (302, 400), data)
        assert event_row(app, event_id)["status"] == ("cancelled" if response.status_code == 302 else "scheduled")

    run()


def test_attendance_form_fuzz(app):
    from portal.events import registrations, services as events

    fields = form_fields(app, AttendanceForm)
    client, token = signed_in(app, "staff@example.org", role="staff")
    start = (utcnow() - timedelta(minutes=30)).replace(second=0, microsecond=0)
    with unit(app):
        event = events.create_event(actor=None, title="An ongoing webinar", starts_at=start,
                                    ends_at=start + timedelta(hours=1), timezone="America/Chicago")
        event_id = event.id
        member = db.session.scalar(select(Member).where(Member.email == "staff@example.org"))
        seat = registrations.register(event, member=member, now=start - timedelta(days=1)).id

    @FUZZ
    @given(payload=payloads(fields, {"attended": [str(seat)]}))
    def run(payload):
        data = resolve(payload, fields, {"attended": [str(seat)]})
        response = post(client, f"/staff/events/{event_id}/attendance", data, token)
        no_server_error(response, data)
        expect(response, (302, 400), data)

    run()


def test_message_form_fuzz(app, outbox):
    fields = form_fields(app, MessageForm)
    client, token = signed_in(app, "staff@example.org", role="staff")
    event_id = make_event(app)
    valid = {"subject": "Slides are up", "body": "Find them on the event page."}
    assert post(client, f"/staff/events/{event_id}/message", valid, token).status_code == 302

    @FUZZ
    @given(payload=payloads(fields, valid))
    def run(payload):
        data = resolve(payload, fields, valid)
        response = post(client, f"/staff/events/{event_id}/message", data, token)
        no_server_error(response, data)
        expect(response, (302, 400), data)

    run()


def test_series_form_fuzz(app):
    from portal.events.models import Series

    fields = form_fields(app, SeriesForm)
    client, token = signed_in(app, "staff@example.org", role="staff")
    counter = itertools.count()

    def valid():
        return {"slug": "", "title": f"Fuzz series {next(counter)}", "summary": "Monthly."}

    assert post(client, "/staff/events/series", valid(), token).status_code == 302, "the valid series must save"

    @FUZZ
    @given(payload=payloads(fields, {"slug": "", "title": "", "summary": ""}))
    def run(payload):
        data = resolve(payload, fields, valid())
        before = count(app, Series)
        response = post(client, "/staff/events/series", data, token)
        no_server_error(response, data)
        expect(response, (302, 400), data)
        if response.status_code != 302:
            assert count(app, Series) == before

    run()
