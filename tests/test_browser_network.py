"""The member directory in a real browser (Debian's Chromium): two members list themselves from their account
page, one finds the other by program model and topic, writes to them, the other reads the mail and the message
and blocks the sender, whose next message is refused; a report reaches staff. axe-core runs on every page the
journey shows, at desktop and phone width."""
from datetime import timedelta

import pytest

from portal.database import utcnow
from portal.library import services as library
from tests.conftest import Outbox, check_accessible, create_member, scrolls_sideways, unit
from tests.test_browser_library import sign_in
from tests.test_network import program_ids

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


def _topics(app, *topics):
    """A published resource carrying the topics, so the directory form offers them."""
    with unit(app):
        resource = library.create_resource(actor=None, title="Triage guide", type="toolkit", topics=topics,
                                           body="How to triage.")
        library.change_status(resource, action="publish", actor=None, publish_at=utcnow() - timedelta(minutes=1))


def _list_me(page, *, name, program=None, topic=None, open_to_contact=True):
    page.goto("/account")
    directory = page.locator("#directory")
    directory.get_by_label("List me in the member directory").check()
    directory.get_by_label("Name to show").fill(name)
    directory.get_by_label("Role to show").fill("Dispatch supervisor")
    if program:
        directory.get_by_label(program).check()
    if topic:
        directory.get_by_label(topic, exact=True).check()
    if open_to_contact:
        directory.get_by_label("Other members may write to me").check()
    directory.get_by_role("button", name="Save directory profile").click()
    expect(page.locator(".flash").first).to_contain_text("saved and listed")


def test_two_members_find_and_write_to_each_other_and_a_block_holds(app, page, browser, live_server):
    program_ids(app)
    _topics(app, "triage", "staffing")
    create_member(app, email="dana@example.org", name="Dana Account")
    create_member(app, email="ravi@example.org", name="Ravi Account")
    create_member(app, email="staff@example.org", name="Sam Staff", role="staff")

    page.goto("/network")  # anonymous: what it is, never a name
    expect(page.get_by_role("heading", name="How it works")).to_be_visible()
    check_accessible(page)

    sign_in(page, "dana@example.org")
    _list_me(page, name="Dana Dispatcher", program="Riverton Co-Response", topic="triage")
    check_accessible(page)

    ravi = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900}).new_page()
    sign_in(ravi, "ravi@example.org")
    _list_me(ravi, name="Ravi Researcher", topic="staffing")
    ravi.goto("/network")
    ravi.get_by_label("Program model").select_option(label="Co-responder (1)")
    ravi.get_by_role("button", name="Show").click()
    ravi.get_by_label("Topic").select_option(label="triage (1)")
    ravi.get_by_role("button", name="Show").click()
    expect(ravi.get_by_role("status")).to_contain_text("1 member listed under these filters")
    check_accessible(ravi)
    ravi.get_by_role("link", name="Dana Dispatcher").click()
    expect(ravi.get_by_role("heading", level=1)).to_have_text("Dana Dispatcher")
    check_accessible(ravi)

    ravi.get_by_role("link", name="Write a message").click()
    ravi.get_by_role("button", name="Send the message").click()  # empty: refused with a message
    expect(ravi.locator(".error-summary")).to_contain_text("Give your message a subject.")
    check_accessible(ravi)
    ravi.get_by_label("Subject").fill("Triage of welfare checks")
    ravi.get_by_label("Message (plain text)").fill("How do you triage welfare checks?\n\nRavi")
    ravi.get_by_role("button", name="Send the message").click()
    expect(ravi.locator("main")).to_contain_text("Your message is on its way to Dana Dispatcher.")

    dana_listing = ravi.url
    ravi.goto("/network/messages/sent")
    expect(ravi.locator(".message-list > li").first).to_contain_text("To Dana Dispatcher")
    check_accessible(ravi)
    ravi.goto(dana_listing)
    ravi.get_by_role("link", name="Write a message").click()  # a second message, written while Dana reads
    ravi.get_by_label("Subject").fill("Are you there?")
    ravi.get_by_label("Message (plain text)").fill("A second message.")

    mail = Outbox(app).last("dana@example.org")
    assert mail["Subject"] == "Ravi Researcher wrote to you: Triage of welfare checks"
    assert "How do you triage welfare checks?" in Outbox.text(mail) and mail["Reply-To"] is None

    page.goto("/account")
    page.get_by_role("link", name="Messages members wrote to you through the directory").click()
    message = page.locator(".message-list > li").first
    expect(message).to_contain_text("Triage of welfare checks")
    expect(message).to_contain_text("How do you triage welfare checks?")
    expect(page.locator("main")).not_to_contain_text("ravi@example.org")
    check_accessible(page)
    message.get_by_role("link", name="Report to staff").click()
    check_accessible(page)
    page.get_by_label("What is wrong with this message?").fill("Not really spam; testing the report.")
    page.get_by_role("button", name="Report the message").click()
    expect(page.locator("main")).to_contain_text("staff will read the message")
    page.locator(".message-list > li").first.get_by_role("button", name="Block Ravi Researcher").click()
    expect(page.locator("main")).to_contain_text("Ravi Researcher can no longer write to you.")
    expect(page.locator("#blocked-heading + ul")).to_contain_text("Ravi Researcher")

    ravi.get_by_role("button", name="Send the message").click()
    expect(ravi.get_by_role("alert")).to_contain_text("Dana Dispatcher does not accept messages from you.")
    check_accessible(ravi)
    ravi.goto(dana_listing)
    expect(ravi.locator("#contact-title + p")).to_have_text("Dana Dispatcher does not accept messages from you.")
    assert len([m for m in Outbox(app).messages("dana@example.org") if "wrote to you" in m["Subject"]]) == 1

    staff = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900}).new_page()
    sign_in(staff, "staff@example.org")
    staff.goto("/staff/")
    staff.get_by_role("link", name="1 reported message").click()
    expect(staff.locator("#reports-heading + ol")).to_contain_text("Not really spam; testing the report.")
    check_accessible(staff)
    staff.set_viewport_size({"width": 360, "height": 800})
    assert scrolls_sideways(staff) is None
    staff.set_viewport_size({"width": 1280, "height": 900})
    staff.get_by_role("button", name="Suspend the sender's directory access").click()
    expect(staff.locator("main")).to_contain_text("Ravi Researcher is suspended from the directory.")
    expect(staff.locator("main")).to_contain_text("No reports are waiting.")

    ravi.goto("/network")
    expect(ravi.get_by_role("heading", level=1)).to_have_text("Directory access suspended")
    check_accessible(ravi)
