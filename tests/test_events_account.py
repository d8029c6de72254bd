"""Events on the account page: the time-zone setting, the member's registrations and private calendar address,
the data export, and an account deletion that hands its seats to the waitlist."""
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from sqlalchemy import func, select

from portal.database import utcnow
from portal.events import registrations, services as events
from portal.events.models import CalendarFeed, Registration
from portal.extensions import db
from portal.members import services as members
from tests.conftest import PASSWORD, counted_queries, create_event, create_member, csrf_token, login, \
    post_form, unit

PROFILE = {"name": "Maya Member", "organisation": "", "title": "", "sector": "advocate", "jurisdiction": ""}
ZONE_MESSAGE = "Choose a time zone from the list, like America/Chicago."


def words(html: str, xpath: str = "//main") -> str:
    return " ".join(" ".join(node.text_content().split()) for node in lxml.html.fromstring(html).xpath(xpath))


def account(client) -> str:
    response = client.get("/account")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def events_section(client) -> str:
    return words(account(client), '//section[@id="events-section"]')


def save_zone(client, zone: str):
    return post_form(client, "/account", {**PROFILE, "timezone": zone}, token_from="/account")


def stored_zone(app, email="member@example.org") -> str:
    with unit(app):
        return members.find_member_by_email(email).timezone


def take_place(app, slug: str, email: str) -> str:
    with unit(app):
        return registrations.register(events.get_event(slug), member=members.find_member_by_email(email)).status


def move_to_past(app, slug: str, **fields) -> None:
    with unit(app):
        start = (utcnow() - timedelta(days=3)).replace(second=0, microsecond=0)
        events.update_event(events.get_event(slug), actor=None, starts_at=start, ends_at=start + timedelta(hours=1),
                            **fields)


# --- the time-zone setting -----------------------------------------------------------------------------

def test_the_time_zone_is_saved_shown_selected_and_can_be_cleared(app, client, member):
    login(client)
    html = account(client)
    assert '<option selected value="">Not set</option>' in html
    assert '<option value="Europe/London">Europe/London</option>' in html
    response = save_zone(client, "Europe/London")
    assert response.status_code == 302
    assert stored_zone(app) == "Europe/London"
    assert '<option selected value="Europe/London">Europe/London</option>' in account(client)
    assert save_zone(client, "").status_code == 302
    assert stored_zone(app) == ""


def test_the_saved_zone_is_used_on_event_pages(app, client, member):
    slug = create_event(app, title="Crisis lines at night", timezone="America/Chicago")
    login(client)
    assert "Your time (" not in client.get(f"/events/{slug}").get_data(as_text=True)
    save_zone(client, "Asia/Tokyo")
    assert "Your time (Asia/Tokyo)" in client.get(f"/events/{slug}").get_data(as_text=True)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "UTC" * 30, "Europe/", "America",
                                  "posixrules"])
def test_an_unknown_zone_is_refused_with_a_message(app, client, member, zone):
    login(client)
    save_zone(client, "America/Denver")
    response = save_zone(client, zone)
    assert response.status_code == 400
    summary = words(response.get_data(as_text=True), '//div[@class="error-summary"]')
    assert f"Time zone: {ZONE_MESSAGE}" in summary
    assert stored_zone(app) == "America/Denver"


def test_the_zone_is_in_the_export(app, client, member):
    login(client)
    save_zone(client, "America/Phoenix")
    assert client.get("/account/export.json").get_json()["profile"]["timezone"] == "America/Phoenix"


# --- the member's registrations ------------------------------------------------------------------------

@pytest.fixture
def places(app, member):
    """The member holds a seat at one upcoming event, waits (second in line) for another, and attended a
    past one with a recording; the other member's places are not theirs to see."""
    create_member(app, email="first@example.org", name="Fran First")
    create_member(app, email="other@example.org", name="Olive Other")
    seat = create_event(app, title="Dispatch protocols", days_ahead=3, timezone="America/Chicago")
    full = create_event(app, title="Peer support on calls", days_ahead=10, capacity=1, timezone="America/Denver")
    past = create_event(app, title="Year one of STAR", days_ahead=1, timezone="America/Denver")
    elsewhere = create_event(app, title="Not my webinar", days_ahead=5)
    take_place(app, full, "first@example.org")
    take_place(app, full, "other@example.org")  # ahead of the member in line
    assert take_place(app, seat, "member@example.org") == "registered"
    assert take_place(app, full, "member@example.org") == "waitlisted"
    take_place(app, past, "member@example.org")
    take_place(app, elsewhere, "other@example.org")
    move_to_past(app, past, recording_url="https://video.example.org/star-year-one")
    return {"seat": seat, "full": full, "past": past, "elsewhere": elsewhere}


def test_the_account_lists_upcoming_and_past_places(app, client, places):
    login(client)
    html = account(client)
    page = lxml.html.fromstring(html)
    (section,) = page.xpath('//section[@id="events-section"]')
    coming, past = section.xpath(".//ul")
    titles = [a.text_content() for a in coming.xpath("./li/a")]
    assert titles == ["Dispatch protocols", "Peer support on calls"]  # soonest first
    assert coming.xpath("./li/a/@href") == [f"/events/{places['seat']}", f"/events/{places['full']}"]
    items = [" ".join(li.text_content().split()) for li in coming.xpath("./li")]
    assert "Your place: registered" in items[0]
    assert "Your place: waitlist number 2" in items[1]
    assert "(America/Chicago)" in items[0] and "(America/Denver)" in items[1]
    assert "Your time" not in html  # no zone of their own set
    assert [a.text_content() for a in past.xpath("./li/a[1]")] == ["Year one of STAR"]
    (recording,) = past.xpath('.//a[starts-with(., "Recording")]')
    assert recording.get("href") == "https://video.example.org/star-year-one"
    assert "Not my webinar" not in html
    # The machine-readable start is the UTC time of the event.
    with unit(app):
        start = events.get_event(places["seat"]).starts_at
    assert f'<time datetime="{start.strftime("%Y-%m-%dT%H:%M:%SZ")}"' in html


def test_the_account_shows_event_times_in_the_members_zone_too(app, client, places):
    login(client)
    save_zone(client, "Europe/Berlin")
    with unit(app):
        start = events.get_event(places["seat"]).starts_at
    berlin, chicago = start.astimezone(ZoneInfo("Europe/Berlin")), start.astimezone(ZoneInfo("America/Chicago"))
    section = events_section(client)
    first = section[section.index("Dispatch protocols"):section.index("Peer support on calls")]
    theirs = first[first.index("Your time (Europe/Berlin):"):]
    assert berlin.strftime("%-I:%M %p") in theirs and berlin.strftime("%B %-d") in theirs
    assert chicago.strftime("%-I:%M %p") in first[:first.index("Your time")]
    save_zone(client, "America/Chicago")  # the event's own zone: said once
    section = events_section(client)
    first = section[section.index("Dispatch protocols"):section.index("Peer support on calls")]
    assert "Your time" not in first
    assert "Your time (America/Chicago)" in section  # the Denver event, in the member's zone


def test_a_cancelled_event_and_a_past_wait_are_said_so(app, client, member):
    create_member(app, email="first@example.org", name="Fran First")
    called_off = create_event(app, title="Called off", days_ahead=4)
    missed = create_event(app, title="Missed it", days_ahead=2, capacity=1)
    take_place(app, called_off, "member@example.org")
    take_place(app, missed, "first@example.org")
    assert take_place(app, missed, "member@example.org") == "waitlisted"
    with unit(app):
        events.cancel_event(events.get_event(called_off), actor=None)
    move_to_past(app, missed)
    login(client)
    section = events_section(client)
    coming, past = section.split("Past events")
    assert "Called off Cancelled" in coming
    assert "Missed it" in past and "You were on the waitlist." in past


def test_no_places_says_so_and_links_to_the_events(app, client, member):
    login(client)
    html = account(client)
    assert "You have not registered for an upcoming event." in words(html, '//section[@id="events-section"]')
    assert 'href="/events"' in html


def test_the_account_page_query_count_does_not_grow_with_registrations(app, client, member):
    create_member(app, email="first@example.org", name="Fran First")
    login(client)
    first = create_event(app, title="Event 0", days_ahead=2, capacity=1)
    take_place(app, first, "first@example.org")
    take_place(app, first, "member@example.org")  # one waitlisted place: the waitlist query runs
    account(client)  # the calendar address is made on the first view
    with counted_queries(app) as few:
        account(client)
    slugs = []
    for n in range(1, 6):
        slugs.append(create_event(app, title=f"Event {n}", days_ahead=2 + n, capacity=1))
        if n % 2:
            take_place(app, slugs[-1], "first@example.org")
        take_place(app, slugs[-1], "member@example.org")
    move_to_past(app, slugs[1], recording_url="https://video.example.org/2")  # a seat at event 2, now past
    with counted_queries(app) as many:
        html = account(client)
    assert html.count("Your place: waitlist number 1") == 4 and html.count("Your place: registered") == 1
    assert 'href="https://video.example.org/2"' in html
    assert len(many) == len(few), (len(few), len(many))


# --- the private calendar address ----------------------------------------------------------------------

def feed_secret(app, email="member@example.org") -> str | None:
    with unit(app):
        member_id = members.find_member_by_email(email).id
        return db.session.scalar(select(CalendarFeed.secret).where(CalendarFeed.member_id == member_id))


def test_the_calendar_address_is_shown_kept_and_reset(app, client, member):
    login(client)
    assert feed_secret(app) is None
    html = account(client)
    secret = feed_secret(app)
    assert secret  # made by the first view, committed with the request
    address = f"http://localhost/account/calendar/{secret}.ics"
    assert address in html
    assert feed_secret(app) == secret and address in account(client)  # the same address every time
    section = events_section(client)
    assert "The old address stops working at once" in section
    (form,) = lxml.html.fromstring(html).xpath('//form[.//button[normalize-space()="Reset the address"]]')
    assert form.get("action") == "/account/calendar/reset" and form.get("method") == "post"
    assert client.get(f"/account/calendar/{secret}.ics").status_code == 200
    response = post_form(client, "/account/calendar/reset", token_from="/account")
    assert response.status_code == 302
    new = feed_secret(app)
    assert new != secret
    assert client.get(f"/account/calendar/{secret}.ics").status_code == 404
    assert client.get(f"/account/calendar/{new}.ics").status_code == 200
    html = account(client)
    assert f"/account/calendar/{new}.ics" in html and secret not in html


def test_resetting_needs_the_csrf_token(app, client, member):
    login(client)
    account(client)
    secret = feed_secret(app)
    assert client.post("/account/calendar/reset").status_code == 400
    assert feed_secret(app) == secret


# --- export and deletion -------------------------------------------------------------------------------

def test_the_export_contains_every_registration(app, client, places):
    login(client)
    with unit(app):
        registration = registrations.find_registration(events.get_event(places["seat"]),
                                                member=members.find_member_by_email("member@example.org"))
        registrations.cancel_registration(registration)
    data = client.get("/account/export.json").get_json()
    rows = {row["slug"]: row for row in data["event_registrations"]}
    assert set(rows) == {places["seat"], places["full"], places["past"]}  # not the other member's
    assert rows[places["seat"]]["status"] == "cancelled"
    assert rows[places["full"]]["status"] == "waitlisted"
    assert rows[places["past"]]["status"] == "registered"
    assert rows[places["full"]]["event"] == "Peer support on calls"
    with unit(app):
        event = events.get_event(places["full"])
        mine = db.session.scalar(select(Registration).where(Registration.event_id == event.id,
                                                            Registration.member_id == members.find_member_by_email(
                                                                "member@example.org").id))
        assert rows[places["full"]]["starts_at"] == event.starts_at.isoformat()
        assert rows[places["full"]]["registered_at"] == mine.created_at.isoformat()


def test_deleting_an_account_hands_its_seat_to_the_first_in_line(app, client, outbox, member):
    create_member(app, email="second@example.org", name="Sol Second")
    create_member(app, email="third@example.org", name="Tam Third")
    slug = create_event(app, title="Mobile crisis teams", capacity=1)
    assert take_place(app, slug, "member@example.org") == "registered"
    assert take_place(app, slug, "second@example.org") == "waitlisted"
    assert take_place(app, slug, "third@example.org") == "waitlisted"
    # More places of the member's: another seat with someone waiting, and a place in someone else's line.
    other = create_event(app, title="Co-responder models", capacity=1)
    take_place(app, other, "member@example.org")
    take_place(app, other, "third@example.org")
    line = create_event(app, title="Dispatch data", capacity=1)
    take_place(app, line, "second@example.org")
    take_place(app, line, "member@example.org")
    with unit(app):
        member_id = members.find_member_by_email("member@example.org").id
    login(client)
    response = client.post("/account/delete", data={"delete-csrf_token": csrf_token(client, "/account"),
                                                    "delete-password": PASSWORD})
    assert response.status_code == 302
    with unit(app):
        event = events.get_event(slug)
        statuses = {r.email: r.status for r in registrations.registrations_for_staff(event)}
        assert statuses == {"second@example.org": "registered", "third@example.org": "waitlisted"}
        assert event.registered_count == 1
        assert members.find_member_by_email("member@example.org") is None
        assert {r.email: r.status for r in registrations.registrations_for_staff(events.get_event(other))} == \
            {"third@example.org": "registered"}
        assert {r.email: r.status for r in registrations.registrations_for_staff(events.get_event(line))} == \
            {"second@example.org": "registered"}
        assert events.get_event(line).registered_count == 1
        assert db.session.scalar(select(func.count()).select_from(Registration)
                                 .where(Registration.member_id == member_id)) == 0
    promotion = outbox.last("second@example.org")
    assert promotion["Subject"] == "A seat is yours: Mobile crisis teams"
    assert [m["Subject"] for m in outbox.messages("third@example.org") if m["Subject"].startswith("A seat")] == \
        ["A seat is yours: Co-responder models"]


def test_a_refused_deletion_keeps_the_seat(app, client, member):
    create_member(app, email="second@example.org", name="Sol Second")
    slug = create_event(app, capacity=1)
    take_place(app, slug, "member@example.org")
    take_place(app, slug, "second@example.org")
    login(client)
    response = client.post("/account/delete", data={"delete-csrf_token": csrf_token(client, "/account"),
                                                    "delete-password": "not my password at all"})
    assert response.status_code == 400
    with unit(app):
        statuses = {r.email: r.status for r in registrations.registrations_for_staff(events.get_event(slug))}
    assert statuses == {"member@example.org": "registered", "second@example.org": "waitlisted"}


def test_the_account_page_is_private(app, client, places):
    login(client)
    response = client.get("/account")
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in response.headers
    assert re.search(r"/account/calendar/[^\"<]+\.ics", response.get_data(as_text=True))


# --- in a browser --------------------------------------------------------------------------------------

@pytest.mark.browser
def test_account_and_home_events_are_accessible_and_fit_a_phone(page, app, places):
    from tests.conftest import check_accessible, scrolls_sideways
    from tests.test_browser import sign_in

    with unit(app):
        members.update_profile(members.find_member_by_email("member@example.org"), timezone="Pacific/Auckland")
    sign_in(page, "member@example.org")
    for path in ("/account", "/"):
        page.goto(path)
        check_accessible(page)
    page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/account", "/"):
        page.goto(path)
        assert scrolls_sideways(page) is None, path


@pytest.mark.browser
def test_zone_and_calendar_reset_work_without_javascript(browser, live_server, app, member):
    from playwright.sync_api import expect

    from tests.test_browser import sign_in

    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    try:
        page = context.new_page()
        sign_in(page, "member@example.org")
        page.goto("/account")
        page.get_by_label("Time zone").select_option("America/Los_Angeles")
        page.get_by_role("button", name="Save profile").click()
        expect(page.get_by_role("status")).to_contain_text("Your profile is saved.")
        expect(page.get_by_label("Time zone")).to_have_value("America/Los_Angeles")
        old = feed_secret(app)
        page.get_by_role("button", name="Reset the address").click()
        expect(page.get_by_role("status")).to_contain_text("the old one no longer works")
        new = feed_secret(app)
        assert new != old and f"/account/calendar/{new}.ics" in page.content()
    finally:
        context.close()
