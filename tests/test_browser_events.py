"""Webinars in a real browser (Debian's Chromium): a member registers, sees the join link and downloads the
calendar file; a second member waits in line; a visitor sees neither link nor join address; a cancellation
hands the seat on and mails the next person. axe-core runs on every page the journey shows."""
import re

import pytest
from icalendar import Calendar

from portal.events import registrations, services as events
from portal.members import services as members
from tests.conftest import check_accessible, create_event, create_member, unit
from tests.test_browser_library import sign_in

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

JOIN = "https://meet.example.org/j/co-responder-dispatch-7731"
TITLE = "Co-responder dispatch in practice"
SERIES = "Dispatch practice"


def join_links(page):
    return page.locator(f'a[href="{JOIN}"]')


def registration_of(app, slug: str, email: str) -> str | None:
    with app.app_context():
        member = members.find_member_by_email(email)
        registration = registrations.find_registration(events.get_event(slug), member=member)
        return registration.status if registration else None


def test_a_seat_its_join_link_and_calendar_then_the_waitlist_takes_over(app, page, browser, live_server, outbox):
    first, second = "ana@example.org", "ben@example.org"
    create_member(app, email=first, name="Ana Aguilar")
    create_member(app, email=second, name="Ben Brooks")
    with unit(app):
        events.save_series(slug="dispatch-practice", title=SERIES, summary="Monthly sessions on **dispatch**.")
    slug = create_event(app, title=TITLE, capacity=1, join_url=JOIN, series="dispatch-practice",
                        description="How call-takers route calls to *co-responder* teams.",
                        speakers=[{"name": "Rosa Reyes", "title": "Dispatch supervisor", "organisation": "Tucson"}])

    # The first member finds the event in the list and takes the only seat.
    sign_in(page, first)
    page.goto("/events")
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()
    check_accessible(page)
    page.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(join_links(page)).to_have_count(0)  # not before registering
    page.get_by_role("button", name="Register").click()
    expect(page.locator("main")).to_contain_text("You are registered")
    expect(join_links(page).first).to_be_visible()
    check_accessible(page)

    # Their calendar file carries the join address.
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Add to calendar")).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".ics")
    with open(download.path(), "rb") as handle:
        calendar = Calendar.from_ical(handle.read())
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == TITLE
    assert JOIN in vevent.to_ical().decode().replace("\r\n ", "")  # folded lines put back together

    # The second member gets a place in line, and no join link.
    second_context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    try:
        waiting = second_context.new_page()
        sign_in(waiting, second)
        waiting.goto(f"/events/{slug}")
        expect(waiting.locator("main")).to_contain_text("This event is full")
        waiting.get_by_role("button", name="Join the waitlist").click()
        expect(waiting.locator("main")).to_contain_text("You are number 1 on the waitlist")
        expect(join_links(waiting)).to_have_count(0)
        assert JOIN not in waiting.content()
        check_accessible(waiting)
    finally:
        second_context.close()
    assert registration_of(app, slug, second) == "waitlisted"

    # A visitor sees the event, but neither the join link nor the address in any calendar.
    visitor_context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    try:
        visitor = visitor_context.new_page()
        visitor.goto(f"/events/{slug}")
        expect(visitor.get_by_role("heading", level=1)).to_have_text(TITLE)
        expect(join_links(visitor)).to_have_count(0)
        assert JOIN not in visitor.content()
        check_accessible(visitor)
        for path in (f"/events/{slug}.ics", "/events.ics"):
            answer = visitor_context.request.get(path)
            assert answer.status == 200, path
            assert answer.headers["content-type"].startswith("text/calendar"), path
            assert JOIN not in answer.text(), path
            assert [str(e["SUMMARY"]) for e in Calendar.from_ical(answer.body()).walk("VEVENT")] == [TITLE], path
        visitor.goto("/events/series/dispatch-practice")
        expect(visitor.get_by_role("heading", level=1)).to_have_text(SERIES)
        expect(visitor.get_by_role("link", name=TITLE)).to_be_visible()
        check_accessible(visitor)
    finally:
        visitor_context.close()

    # The first member gives up the seat: it goes to the second, who is told by mail.
    page.get_by_role("button", name="Cancel my registration").click()
    expect(page.locator("main")).to_contain_text("Your registration is cancelled")
    expect(join_links(page)).to_have_count(0)
    expect(page.get_by_role("button", name="Join the waitlist")).to_be_visible()  # the seat is taken again
    check_accessible(page)
    assert registration_of(app, slug, first) == "cancelled"
    assert registration_of(app, slug, second) == "registered"
    promotion = [m for m in outbox.messages(second) if "A seat is yours" in m["Subject"]]
    assert len(promotion) == 1, [m["Subject"] for m in outbox.messages(second)]
    assert JOIN in outbox.text(promotion[0])
