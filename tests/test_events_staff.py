"""Staff pages of the webinar series: write and preview, cancel, registrants and their CSV, attendance,
messages, series; every change in the audit log."""
import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.csv_export import safe_cell
from portal.database import utcnow
from portal.events import registrations, services as events
from portal.events.models import Event, Registration, Series
from portal.extensions import db
from portal.library.models import Resource
from portal.members import services as members
from tests.conftest import PASSWORD, check_accessible, create_event, create_member, login, post_form, unit

NEW = "/staff/events/new"


def event_form(**changes) -> dict:
    data = {"title": "Crisis lines and 911", "slug": "", "series": "", "description": "How **988** and 911 meet.",
            "speakers": "Ana Diaz | Director | 988 Lab\nBo Chen", "audiences": ["officials", "practitioners"],
            "topics": "crisis lines, dispatch", "timezone": "America/Chicago", "starts_at": "2030-12-09T14:00",
            "ends_at": "2030-12-09T15:30", "registration_opens_at": "", "registration_closes_at": "",
            "capacity": "40", "has_waitlist": "y", "registration": "members",
            "join_url": "https://meet.example.org/crisis", "recording_url": "", "slides": "", "resources": "",
            "action": "save"}
    data.update(changes)
    return data


def counts(app) -> dict:
    with unit(app):
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Event, Registration, AuditEvent, Series)}


def event_id(app, slug: str) -> int:
    with unit(app):
        return events.get_event(slug).id


def event_state(app, slug: str) -> dict:
    with unit(app):
        event = events.get_event(slug)
        return {"id": event.id, "status": event.status, "sequence": event.sequence, "starts_at": event.starts_at,
                "ends_at": event.ends_at, "capacity": event.capacity, "title": event.title,
                "registered": event.registered_count, "speakers": event.speakers, "audiences": event.audiences,
                "topics": event.topics, "timezone": event.timezone, "slides": event.slides.slug if event.slides
                else None, "recording_url": event.recording_url}


def actions(app) -> list[tuple[str, str]]:
    with unit(app):
        return [(e.action, e.subject) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def register(app, slug: str, email: str | None = None, *, guest: tuple[str, str] | None = None,
             now: datetime | None = None) -> int:
    """A place for the member with this address (or for a guest (name, email)); returns the registration id."""
    with unit(app):
        event = events.get_event(slug)
        if guest is not None:
            registration = registrations.register(event, guest_name=guest[0], guest_email=guest[1], now=now)
        else:
            registration = registrations.register(event, member=members.find_member_by_email(email), now=now)
        return registration.id


def statuses(app, slug: str) -> dict[str, str]:
    with unit(app):
        return {r.email: r.status for r in registrations.registrations_for_staff(events.get_event(slug))}


def people(app, n: int, prefix: str = "p") -> list[str]:
    emails = [f"{prefix}{i}@example.org" for i in range(n)]
    for i, email in enumerate(emails):
        create_member(app, email=email, name=f"Person {prefix}{i}")
    return emails


@pytest.fixture
def staff_client(client, staff):
    login(client, staff)
    return client


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- access ------------------------------------------------------------------------------------------------

STAFF_ROUTES = [("GET", "/staff/events"), ("GET", NEW), ("POST", NEW), ("GET", "/staff/events/{id}/edit"),
                ("POST", "/staff/events/{id}/edit"), ("POST", "/staff/events/{id}/cancel"),
                ("GET", "/staff/events/{id}/registrations"), ("GET", "/staff/events/{id}/registrations.csv"),
                ("POST", "/staff/events/{id}/attendance"), ("GET", "/staff/events/{id}/message"),
                ("POST", "/staff/events/{id}/message"), ("GET", "/staff/events/series"),
                ("POST", "/staff/events/series"), ("POST", "/staff/events/{id}/registrations/{reg}/cancel")]


def test_members_and_visitors_are_refused_every_staff_route(app, member):
    slug = create_event(app)
    reg = register(app, slug, member)
    target = event_id(app, slug)
    before = counts(app)
    signed_in = app.test_client()
    login(signed_in, member)
    visitor = app.test_client()
    for method, path in STAFF_ROUTES:
        path = path.format(id=target, reg=reg)
        response = post_form(visitor, path, {}) if method == "POST" else visitor.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], (method, path)
        if method == "POST":
            response = post_form(signed_in, path, event_form(subject="Hi", body="Hello", note="x"),
                                 token_from="/account")
        else:
            response = signed_in.get(path)
        assert response.status_code == 403, (method, path, response.status_code)
    assert counts(app) == before
    assert statuses(app, slug) == {member: "registered"}


def test_staff_and_admins_open_the_list(app, staff_client, admin):
    slug = create_event(app, title="Dispatch triage", capacity=10)
    page = staff_client.get("/staff/events").get_data(as_text=True)
    assert "Dispatch triage" in page and f'href="/staff/events/{event_id(app, slug)}/edit"' in page
    assert "0 of 10" in text_of(page)
    admin_client = app.test_client()
    login(admin_client, admin)
    assert admin_client.get("/staff/events").status_code == 200


# --- writing -----------------------------------------------------------------------------------------------

def test_preview_renders_the_description_and_times_without_saving(app, staff_client):
    before = counts(app)
    response = post_form(staff_client, NEW, event_form(action="preview"), token_from=NEW)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Preview (not saved)" in html and "<strong>988</strong>" in html
    # 14:00 in Chicago in December is 20:00 UTC.
    assert "Mon 9 Dec 2030 14:00" in html and "2030-12-09 20:00 to 2030-12-09 21:30 UTC" in html
    assert 'value="Crisis lines and 911"' in html  # the form keeps what was typed
    assert counts(app) == before


def test_create_saves_utc_times_and_records_a_sentence(app, staff_client):
    response = post_form(staff_client, NEW, event_form(), token_from=NEW)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    state = event_state(app, "crisis-lines-and-911")
    assert response.headers["Location"].endswith(f"/staff/events/{state['id']}/edit")
    assert state["starts_at"] == datetime(2030, 12, 9, 20, 0, tzinfo=timezone.utc)
    assert state["ends_at"] == datetime(2030, 12, 9, 21, 30, tzinfo=timezone.utc)
    assert state["timezone"] == "America/Chicago" and state["capacity"] == 40
    assert state["speakers"] == [{"name": "Ana Diaz", "title": "Director", "organisation": "988 Lab"},
                                 {"name": "Bo Chen", "title": "", "organisation": ""}]
    assert state["audiences"] == ["officials", "practitioners"] and state["topics"] == ["crisis lines", "dispatch"]
    assert ("event.created", "event crisis-lines-and-911") in actions(app)
    audit = staff_client.get("/staff/audit").get_data(as_text=True)
    assert (f'Sam Staff scheduled the event <a href="/staff/events/{state["id"]}/edit">Crisis lines and 911</a>'
            in audit)


def test_edit_shows_local_times_and_speakers_as_saved(app, staff_client):
    post_form(staff_client, NEW, event_form(), token_from=NEW)
    target = event_id(app, "crisis-lines-and-911")
    page = staff_client.get(f"/staff/events/{target}/edit").get_data(as_text=True)
    assert 'value="2030-12-09T14:00"' in page and 'value="2030-12-09T15:30"' in page
    assert "Ana Diaz | Director | 988 Lab\nBo Chen" in page
    assert '<option selected value="America/Chicago">' in page
    # Saving the page unchanged changes nothing: no new audit event, no new calendar sequence.
    before = (counts(app), event_state(app, "crisis-lines-and-911"))
    assert post_form(staff_client, f"/staff/events/{target}/edit", event_form(slug="crisis-lines-and-911"),
                     token_from=NEW).status_code == 302
    assert (counts(app), event_state(app, "crisis-lines-and-911")) == before


INVALID = [
    ({"ends_at": "2030-12-09T13:00"}, "The end must come after the start."),
    ({"timezone": "Mars/Olympus_Mons"}, "Choose a time zone from the list"),
    ({"timezone": "../../etc/passwd"}, "Choose a time zone from the list"),
    ({"capacity": "0"}, "Give the capacity as a whole number from 1 to 100,000"),
    ({"capacity": "lots"}, "Not a valid integer value"),
    ({"slides": "no-such-slides"}, "No library resource has the slug"),
    ({"starts_at": ""}, "Give the start time."),
    ({"starts_at": "9999-12-31T23:59"}, "Give a date between 2000 and 2100."),
    ({"join_url": "javascript:alert(1)"}, "Give a full web address"),
    ({"series": "no-such-series"}, "Choose a series from the list."),
]


# What the form itself refuses is refused for a preview too; the rest the service refuses when saving.
FORM_LEVEL = {"Give the capacity as a whole number from 1 to 100,000", "Not a valid integer value",
              "Give the start time.", "Give a date between 2000 and 2100."}


@pytest.mark.parametrize("changes, message", INVALID)
def test_invalid_input_is_refused_and_saves_nothing(app, staff_client, changes, message):
    before = counts(app)
    for action in ("save", "preview") if message in FORM_LEVEL else ("save",):
        response = post_form(staff_client, NEW, event_form(action=action, **changes), token_from=NEW)
        assert response.status_code == 400, (changes, response.status_code)
        assert message in response.get_data(as_text=True)
    assert counts(app) == before


def test_capacity_below_the_seats_taken_is_refused(app, staff_client):
    slug = create_event(app, capacity=5)
    for email in people(app, 2):
        register(app, slug, email)
    target = event_id(app, slug)
    page = staff_client.get(f"/staff/events/{target}/edit").get_data(as_text=True)
    assert 'value="5"' in page
    before = (counts(app), event_state(app, slug))
    form = {name: value for name, value in re.findall(r'<input[^>]* name="([a-z_]+)"[^>]* value="([^"]*)"', page)}
    response = post_form(staff_client, f"/staff/events/{target}/edit",
                         event_form(title=form["title"], slug=slug, capacity="1", timezone="America/Chicago",
                                    starts_at=form["starts_at"], ends_at=form["ends_at"]), token_from=NEW)
    assert response.status_code == 400
    assert "2 people hold a seat: the capacity cannot be lower than that" in response.get_data(as_text=True)
    assert (counts(app), event_state(app, slug)) == before


def test_a_new_time_raises_the_sequence_and_says_who_is_told(app, staff_client, outbox):
    slug = create_event(app, timezone="America/New_York")
    registrant, = people(app, 1)
    register(app, slug, registrant)
    target = event_id(app, slug)
    before = event_state(app, slug)
    response = post_form(staff_client, f"/staff/events/{target}/edit",
                         event_form(title=before["title"], slug=slug, timezone="America/New_York",
                                    starts_at="2031-03-04T10:00", ends_at="2031-03-04T11:00"),
                         token_from=NEW, follow_redirects=True)
    assert response.status_code == 200
    assert "Changes saved. 1 registrant will be told by mail." in response.get_data(as_text=True)
    after = event_state(app, slug)
    assert after["sequence"] == before["sequence"] + 1
    assert after["starts_at"] == datetime(2031, 3, 4, 15, 0, tzinfo=timezone.utc)
    assert ("event.updated", f"event {slug}") in actions(app)
    assert any("Changed:" in message["Subject"] for message in outbox.messages(registrant))
    audit = staff_client.get("/staff/audit").get_data(as_text=True)
    assert "Sam Staff changed the" in audit and "start" in text_of(audit)


def test_follow_up_adds_the_recording_and_slides(app, library, staff_client):
    slug = create_event(app)
    with unit(app):
        resource_slug = db.session.scalar(select(Resource.slug).where(Resource.status == "published").limit(1))
    target = event_id(app, slug)
    state = event_state(app, slug)
    page = staff_client.get(f"/staff/events/{target}/edit").get_data(as_text=True)
    starts = re.search(r'name="starts_at"[^>]* value="([^"]+)"', page).group(1)
    ends = re.search(r'name="ends_at"[^>]* value="([^"]+)"', page).group(1)
    response = post_form(staff_client, f"/staff/events/{target}/edit",
                         event_form(title=state["title"], slug=slug, starts_at=starts, ends_at=ends,
                                    join_url="", recording_url="https://video.example.org/rec", slides=resource_slug,
                                    resources=resource_slug), token_from=NEW)
    assert response.status_code == 302
    after = event_state(app, slug)
    assert after["recording_url"] == "https://video.example.org/rec" and after["slides"] == resource_slug
    assert after["sequence"] == state["sequence"]  # no calendar change for a recording


def test_cancel_marks_the_event_cancelled_and_tells_registrants(app, staff_client, outbox):
    slug = create_event(app)
    registrant, = people(app, 1)
    register(app, slug, registrant)
    target = event_id(app, slug)
    response = post_form(staff_client, f"/staff/events/{target}/cancel", {"note": "The speaker is unwell."},
                         token_from=NEW, follow_redirects=True)
    assert response.status_code == 200 and "The event is cancelled." in response.get_data(as_text=True)
    assert event_state(app, slug)["status"] == "cancelled"
    assert ("event.cancelled", f"event {slug}") in actions(app)
    cancellation = [m for m in outbox.messages(registrant) if m["Subject"].startswith("Cancelled:")]
    assert len(cancellation) == 1
    # Twice changes nothing more.
    before = counts(app)
    post_form(staff_client, f"/staff/events/{target}/cancel", {}, token_from=NEW)
    assert counts(app) == before
    assert "cancelled the event" in staff_client.get("/staff/audit").get_data(as_text=True)


def test_a_too_long_cancel_note_is_refused(app, staff_client):
    slug = create_event(app)
    response = post_form(staff_client, f"/staff/events/{event_id(app, slug)}/cancel", {"note": "x" * 2001},
                         token_from=NEW)
    assert response.status_code == 400
    assert event_state(app, slug)["status"] == "scheduled"


# --- registrants -------------------------------------------------------------------------------------------

def test_the_registrations_page_lists_seats_waitlist_and_cancelled(app, staff_client):
    slug = create_event(app, capacity=1, registration="anyone")
    first, second, third = people(app, 3)
    for email in (first, second, third):
        register(app, slug, email)
    register(app, slug, guest=("Gia Guest", "gia@example.org"))
    with unit(app):
        registrations.cancel_registration(registrations.find_registration(events.get_event(slug),
                                                            member=members.find_member_by_email(third)))
    page = staff_client.get(f"/staff/events/{event_id(app, slug)}/registrations").get_data(as_text=True)
    seated = page[page.index('id="seated-caption"'):page.index('id="waitlist-title"')]
    waiting = page[page.index('id="waitlist-caption"'):page.index('id="cancelled-title"')]
    cancelled = page[page.index('id="cancelled-caption"'):]
    assert first in seated and second not in seated
    assert re.search(r"<td>1</td>\s*<td>Person p1</td>", waiting) and re.search(r"<td>2</td>\s*<td>Gia Guest</td>",
                                                                               waiting)
    assert "<td>guest</td>" in waiting and third in cancelled
    assert "Attendance can be marked once the event has started." in page


def test_csv_export_with_positions_and_the_formula_guard(app, staff_client):
    slug = create_event(app, capacity=1, registration="anyone")
    create_member(app, email="formula@example.org", name="=IMPORTXML(CONCAT(A1))")
    register(app, slug, "formula@example.org")
    register(app, slug, guest=("@SUM(A1:A9)", "guest@example.org"))
    register(app, slug, guest=("-2+3", "minus@example.org"))
    response = staff_client.get(f"/staff/events/{event_id(app, slug)}/registrations.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{slug}-registrations.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["status", "position", "name", "email", "member_or_guest", "registered_at", "attended"]
    assert [row[:5] for row in rows[1:]] == [
        ["registered", "", "'=IMPORTXML(CONCAT(A1))", "formula@example.org", "member"],
        ["waitlisted", "1", "'@SUM(A1:A9)", "guest@example.org", "guest"],
        ["waitlisted", "2", "'-2+3", "minus@example.org", "guest"],
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[5]) for row in rows[1:])
    assert [row[6] for row in rows[1:]] == ["", "", ""]  # not marked yet


def test_safe_cell_guards_every_formula_start():
    assert [safe_cell(v) for v in ("=1+1", "+1", "-1", "@x", "\tx", "\rx", "plain", "a=b")] == \
        ["'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "plain", "a=b"]
    assert [safe_cell(v) for v in (None, True, False, -3, 2)] == ["", "yes", "no", "-3", "2"]


def test_attendance_after_the_start(app, staff_client):
    slug = create_event(app, days_ahead=-1 / 24, hours=2)  # started an hour ago
    long_ago = utcnow() - timedelta(days=2)
    came, missed = people(app, 2)
    came_id = register(app, slug, came, now=long_ago)
    register(app, slug, missed, now=long_ago)
    target = event_id(app, slug)
    page = staff_client.get(f"/staff/events/{target}/registrations").get_data(as_text=True)
    assert f'id="attended-{came_id}"' in page
    response = post_form(staff_client, f"/staff/events/{target}/attendance", {"attended": [str(came_id)]},
                         token_from=NEW, follow_redirects=True)
    assert "Attendance saved: 1 of 2 registrants attended." in response.get_data(as_text=True)
    with unit(app):
        marked = {r.email: r.attended for r in registrations.holders(events.get_event(slug))}
    assert marked == {came: True, missed: False}
    assert ("event.attendance", f"event {slug}") in actions(app)
    assert "marked attendance at the event" in staff_client.get("/staff/audit").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(staff_client.get(f"/staff/events/{target}/registrations.csv")
                                       .get_data(as_text=True))))
    assert {row[3]: row[6] for row in rows[1:]} == {came: "yes", missed: "no"}
    # Arbitrary values are refused, not a server error.
    response = post_form(staff_client, f"/staff/events/{target}/attendance", {"attended": ["x"]}, token_from=NEW)
    assert response.status_code == 400


def test_attendance_before_the_start_is_refused(app, staff_client, member):
    slug = create_event(app)
    reg = register(app, slug, member)
    before = counts(app)
    response = post_form(staff_client, f"/staff/events/{event_id(app, slug)}/attendance", {"attended": [str(reg)]},
                         token_from=NEW)
    assert response.status_code == 400
    assert "Attendance can be marked once the event has started." in response.get_data(as_text=True)
    assert counts(app) == before


def test_message_all_registrants_says_how_many(app, staff_client, outbox):
    slug = create_event(app, capacity=2)
    emails = people(app, 3)
    for email in emails:
        register(app, slug, email)
    target = event_id(app, slug)
    response = post_form(staff_client, f"/staff/events/{target}/message",
                         {"subject": "Slides are up", "body": "Find them on the event page.\n\nThanks!"},
                         token_from=NEW, follow_redirects=True)
    assert "Message sent to 2 registrants holding a seat." in response.get_data(as_text=True)
    assert [len([m for m in outbox.messages(e) if m["Subject"] == "Slides are up"]) for e in emails] == [1, 1, 0]
    assert ("event.messaged", f"event {slug}") in actions(app)
    audit = text_of(staff_client.get("/staff/audit").get_data(as_text=True))
    assert "Sam Staff wrote to 2 registrants of the event" in audit and "Slides are up" in audit
    before = counts(app)
    response = post_form(staff_client, f"/staff/events/{target}/message", {"subject": "", "body": "x"},
                         token_from=NEW)
    assert response.status_code == 400 and "Give the message a subject." in response.get_data(as_text=True)
    assert counts(app) == before


def test_staff_cancel_a_registration_and_the_waitlist_moves_up(app, staff_client, outbox):
    slug = create_event(app, capacity=1)
    first, second = people(app, 2)
    first_id = register(app, slug, first)
    register(app, slug, second)
    assert statuses(app, slug) == {first: "registered", second: "waitlisted"}
    target = event_id(app, slug)
    response = post_form(staff_client, f"/staff/events/{target}/registrations/{first_id}/cancel", {},
                         token_from=NEW, follow_redirects=True)
    assert response.status_code == 200 and "is cancelled" in response.get_data(as_text=True)
    assert statuses(app, slug) == {first: "cancelled", second: "registered"}
    assert any(m["Subject"].startswith("A seat is yours") for m in outbox.messages(second))
    assert ("event.registration_cancelled", f"event {slug}") in actions(app)
    assert "cancelled a registration" in staff_client.get("/staff/audit").get_data(as_text=True)
    # A registration of another event, or none at all: not found.
    other = create_event(app, title="Another event")
    assert post_form(staff_client, f"/staff/events/{event_id(app, other)}/registrations/{first_id}/cancel", {},
                     token_from=NEW).status_code == 404
    assert post_form(staff_client, f"/staff/events/{target}/registrations/999999/cancel", {},
                     token_from=NEW).status_code == 404


def test_unknown_events_are_not_found(staff_client):
    for path in ("/staff/events/999999/edit", "/staff/events/999999/registrations",
                 "/staff/events/999999/registrations.csv", "/staff/events/999999/message"):
        assert staff_client.get(path).status_code == 404


# --- series and the dashboard ------------------------------------------------------------------------------

def test_series_are_created_edited_and_offered_in_the_event_form(app, staff_client):
    response = post_form(staff_client, "/staff/events/series",
                         {"slug": "", "title": "Peer exchange", "summary": "Monthly calls between cities."},
                         token_from=NEW, follow_redirects=True)
    assert "Series saved: Peer exchange." in response.get_data(as_text=True)
    page = staff_client.get("/staff/events/series?edit=peer-exchange").get_data(as_text=True)
    assert 'value="peer-exchange"' in page and "Monthly calls between cities." in page
    post_form(staff_client, "/staff/events/series", {"slug": "peer-exchange", "title": "Peer exchange calls"},
              token_from=NEW)
    with unit(app):
        assert [(s.slug, s.title) for s in events.list_series()] == [("peer-exchange", "Peer exchange calls")]
    assert '<option value="peer-exchange">Peer exchange calls</option>' in staff_client.get(NEW).get_data(as_text=True)
    assert post_form(staff_client, NEW, event_form(series="peer-exchange"), token_from=NEW).status_code == 302
    with unit(app):
        assert events.get_event("crisis-lines-and-911").series.slug == "peer-exchange"
    response = post_form(staff_client, "/staff/events/series", {"slug": "Not A Slug!", "title": "x"}, token_from=NEW)
    assert response.status_code == 400 and "Use lower-case letters" in response.get_data(as_text=True)


def test_the_dashboard_links_to_events_with_counts(app, staff_client, member):
    slug = create_event(app)
    create_event(app, title="Long over", days_ahead=-30)
    register(app, slug, member)
    page = text_of(staff_client.get("/staff/").get_data(as_text=True))
    assert "1 upcoming event; 1 registration this month." in page
    assert 'href="/staff/events"' in staff_client.get("/staff/").get_data(as_text=True)


# --- in a browser: every staff page of events passes axe, at desktop and phone widths -----------------------

@pytest.mark.browser
def test_the_staff_pages_of_events_are_accessible(app, page, staff):
    from playwright.sync_api import expect

    ongoing = create_event(app, title="An ongoing webinar", days_ahead=-1 / 24, hours=2, capacity=1,
                           registration="anyone")
    long_ago = utcnow() - timedelta(days=2)
    first, second = people(app, 2)
    register(app, ongoing, first, now=long_ago)
    register(app, ongoing, second, now=long_ago)
    register(app, ongoing, guest=("Gia Guest", "gia@example.org"), now=long_ago)
    with unit(app):
        registrations.cancel_registration(registrations.find_registration(events.get_event(ongoing),
                                                            member=members.find_member_by_email(second)))
    target = event_id(app, ongoing)

    page.goto("/login")
    page.get_by_label("Email address").fill(staff)
    page.get_by_label(re.compile(r"^Password\b")).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out")).to_be_visible()

    page.goto("/staff/events/new")
    page.get_by_label("Title", exact=True).fill("Crisis lines and 911")
    page.get_by_label("Description (Markdown)").fill("How **988** and 911 meet.")
    page.get_by_label("Time zone").select_option("America/Chicago")
    page.get_by_label("Starts").fill("2030-12-09T14:00")
    page.get_by_label("Ends").fill("2030-12-09T13:00")  # before the start: refused
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview (not saved)")).to_be_visible()
    check_accessible(page)
    page.get_by_role("button", name="Save the event").click()
    expect(page.get_by_text("The end must come after the start.").first).to_be_visible()
    check_accessible(page)
    page.get_by_label("Ends").fill("2030-12-09T15:00")
    page.get_by_role("button", name="Save the event").click()
    expect(page.get_by_text("Event saved.")).to_be_visible()
    check_accessible(page)

    for path in ("/staff/events", f"/staff/events/{target}/registrations", f"/staff/events/{target}/message",
                 "/staff/events/series", "/staff/"):
        page.goto(path)
        check_accessible(page)
    page.goto(f"/staff/events/{target}/registrations")
    page.get_by_label("Person p0").check()
    page.get_by_role("button", name="Save attendance").click()
    expect(page.get_by_text("Attendance saved: 1 of 1 registrant attended.")).to_be_visible()
    page.goto(f"/staff/events/{target}/message")
    page.get_by_role("button", name="Send the message").click()
    expect(page.get_by_text("Give the message a subject.").first).to_be_visible()
    check_accessible(page)
