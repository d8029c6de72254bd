"""The membership flow in a real browser (Debian's Chromium), with axe-core on every page it visits."""
import re

import pytest

from tests.conftest import PASSWORD, Outbox, check_accessible, create_member, link_path

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


def sign_in(page, email, password=PASSWORD):
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def main_nav(page):
    return page.get_by_role("navigation", name="Main")


def test_sign_up_verify_sign_in_edit_profile_and_sign_out(page, app, live_server):
    email = "rosa.rivera@example.org"

    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check_accessible(page)

    main_nav(page).get_by_role("link", name="Join").click()
    expect(page).to_have_url(re.compile(r"/signup$"))
    check_accessible(page)

    # A weak password first: the form comes back with its errors, and that state is accessible too.
    page.get_by_label("Name").fill("Rosa Rivera")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Organisation").fill("Tucson Community Safety")
    page.get_by_label("Role or title").fill("Program analyst")
    page.get_by_label("Sector").select_option("government")
    page.get_by_label("City, county or jurisdiction").select_option(label="Tucson, Arizona")
    page.get_by_role("checkbox", name="I accept the terms of use").check()
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.get_by_label("Password", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Organisation")).to_have_value("Tucson Community Safety")
    check_accessible(page)

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("checkbox", name="I accept the terms of use").check()
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    expect(page.locator("main")).to_contain_text(email)
    check_accessible(page)

    # The link from the outbox confirms the address on a page that says so, with the way to sign in.
    verify_path = link_path(Outbox.link(Outbox(app).last(email)))
    assert verify_path.startswith("/verify/")
    page.goto(verify_path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your email address is confirmed")
    check_accessible(page)

    # A wrong password: a generic error, and the page stays accessible.
    sign_in(page, email, "not the right passphrase at all")
    expect(page.get_by_role("alert")).to_contain_text("The email or password is not correct.")
    check_accessible(page)

    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(main_nav(page).get_by_role("link", name="Account")).to_be_visible()
    check_accessible(page)

    main_nav(page).get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    expect(page.get_by_label("Organisation")).to_have_value("Tucson Community Safety")
    check_accessible(page)

    page.get_by_label("Organisation").fill("Tucson Community Safety, Health and Wellness")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_contain_text("Your profile is saved.")
    expect(page.get_by_label("Organisation")).to_have_value("Tucson Community Safety, Health and Wellness")
    check_accessible(page)
    page.reload()
    expect(page.get_by_label("Organisation")).to_have_value("Tucson Community Safety, Health and Wellness")

    main_nav(page).get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")
    expect(main_nav(page).get_by_role("link", name="Sign in")).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Account")).to_have_count(0)
    check_accessible(page)

    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)account$"))


def test_public_pages_and_error_states_are_accessible(page):
    for path, heading in [("/about", None), ("/terms", None), ("/privacy", None)]:
        response = page.goto(path)
        assert response.status == 200, path
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        check_accessible(page)

    response = page.goto("/no-such-page")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    check_accessible(page)

    page.goto("/reset")
    check_accessible(page)
    page.get_by_role("button", name="Send the reset link").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    check_accessible(page)
    page.get_by_label("Email address").fill("nobody@example.org")
    page.get_by_role("button", name="Send the reset link").click()
    expect(page.get_by_role("alert")).to_have_count(0)
    check_accessible(page)

    page.goto("/login")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    check_accessible(page)


def test_staff_pages_and_account_are_accessible_to_an_admin(page, app):
    create_member(app, email="admin@example.org", name="Ada Admin", role="admin")
    create_member(app, email="member@example.org", name="Maya Member")
    sign_in(page, "admin@example.org")
    expect(main_nav(page).get_by_role("link", name="Staff")).to_be_visible()

    for path, heading in [("/staff/", "Staff work"), ("/staff/members", "Members and roles"),
                          ("/staff/audit", "Audit log"), ("/account", "Your account")]:
        response = page.goto(path)
        assert response.status == 200, path
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        check_accessible(page)

    page.goto("/staff/members")
    page.get_by_role("searchbox", name="Find by name, email or organisation").fill("Maya")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name="member@example.org")).to_be_visible()
    check_accessible(page)


def test_core_task_works_without_javascript(browser, live_server, app):
    create_member(app, email="member@example.org", name="Maya Member", organisation="Denver STAR")
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    try:
        page = context.new_page()
        sign_in(page, "member@example.org")
        expect(main_nav(page).get_by_role("button", name="Sign out")).to_be_visible()

        page.goto("/account")
        expect(page.get_by_label("Organisation")).to_have_value("Denver STAR")
        page.get_by_label("Organisation").fill("Denver Support Team Assisted Response")
        page.get_by_role("button", name="Save profile").click()
        expect(page.get_by_role("status")).to_contain_text("Your profile is saved.")
        expect(page.get_by_label("Organisation")).to_have_value("Denver Support Team Assisted Response")

        main_nav(page).get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("status")).to_contain_text("You are signed out.")
        expect(main_nav(page).get_by_role("link", name="Sign in")).to_be_visible()
    finally:
        context.close()


def test_pages_fit_a_phone_screen(browser, live_server, app):
    create_member(app, email="admin@example.org", name="Ada Admin", role="admin")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()

        def assert_fits(path):
            page.goto(path)
            widths = page.evaluate(
                "({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})")
            assert widths["scroll"] <= widths["client"], f"{path} scrolls sideways: {widths}"
            nav = main_nav(page)
            expect(nav).to_be_visible()
            box = nav.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= widths["client"], f"{path}: nav off screen {box}"

        assert_fits("/")
        assert_fits("/signup")
        sign_in(page, "admin@example.org")
        assert_fits("/account")
        assert_fits("/staff/members")
    finally:
        context.close()


def test_no_request_leaves_the_origin(page, app, live_server):
    create_member(app)
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    for path in ("/", "/signup", "/about", "/login"):
        page.goto(path)
        page.wait_for_load_state("load")
    sign_in(page, "member@example.org")
    page.goto("/account")
    page.wait_for_load_state("load")

    assert any(url.endswith(".css") for url in requested), requested
    outside = [url for url in requested if not url.startswith(live_server.url + "/")]
    assert not outside, f"requests to other origins: {outside}"


def test_first_tab_focuses_the_skip_link_which_leads_to_main(page):
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["y"] >= 0 and box["height"] > 0, "the focused skip link is not on screen"

    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    assert page.evaluate("document.activeElement.id") == "main"
