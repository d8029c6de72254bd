"""Jurisdictions in a real browser (Debian's Chromium): a representative uploads a metrics CSV and sees the page,
its chart and table change, and is refused another jurisdiction's page; a city applies to join and staff
approve it. axe-core runs on every page the journeys show, at desktop and phone width."""
import pytest

from tests.conftest import check_accessible, create_jurisdiction, create_member, create_representative, \
    scrolls_sideways
from tests.test_browser_library import sign_in
from tests.test_jurisdiction_metrics import month

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

CSV = ("period_start,period_end,total,diverted,eligible,source,sample\n"
       "2026-09-01,2026-09-30,2000,300,900,https://example.org/sep,no\n"
       "2026-10-01,2026-10-31,2000,500,,https://example.org/oct,no\n")


def test_a_representative_uploads_metrics_and_sees_the_page_change(app, page, tmp_path):
    create_jurisdiction(app, goal_rate=0.2, goal_year=2030, reports=[month(2026, 8, 2000, 100)])
    create_jurisdiction(app, slug="lakeside", name="Lakeside", state="Ohio")
    email = create_representative(app)
    sign_in(page, email)

    page.goto("/jurisdictions/riverton")
    headline = page.locator("section.headline")
    expect(headline).to_contain_text("5.0%")  # 100 of 2,000, August only
    expect(page.locator(".rate-chart rect.bar")).to_have_count(1)
    check_accessible(page)

    page.get_by_role("link", name="Report metrics").click()
    check_accessible(page)
    page.get_by_role("navigation", name="Keep Riverton current").get_by_role("link", name="Upload a CSV").click()
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV.replace("2000,500", "2000,5000"))
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".row-errors")).to_contain_text("Line 3: Diverted calls cannot be more than the total")
    check_accessible(page)

    good = tmp_path / "good.csv"
    good.write_text(CSV)
    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Upload").click()
    # Back on the page: three months now, 900 of 6,000 = 15.0%, and three bars with a row each.
    expect(headline).to_contain_text("15.0%")
    expect(headline).to_contain_text("3 of 12 months reported")
    expect(page.locator(".rate-chart rect.bar")).to_have_count(3)
    expect(page.locator("table.metrics-table tbody tr")).to_have_count(3)
    expect(page.locator("#report-2026-10-01")).to_contain_text("25.0%")
    check_accessible(page)
    page.set_viewport_size({"width": 360, "height": 800})
    assert scrolls_sideways(page) is None
    page.set_viewport_size({"width": 1280, "height": 900})

    # Another jurisdiction's page has no edit links for them, and its edit page refuses them.
    page.goto("/jurisdictions/lakeside")
    expect(page.get_by_role("link", name="Edit the page")).to_have_count(0)
    response = page.goto("/jurisdictions/lakeside/edit")
    assert response.status == 403


def test_a_city_applies_and_staff_approve_it(app, page, browser, live_server):
    create_member(app, email="staff@example.org", name="Sam Staff", role="staff")
    page.goto("/initiative")
    check_accessible(page)
    page.get_by_role("link", name="Apply for your city or county to join").click()
    check_accessible(page)
    page.get_by_label("City or county").fill("Brookfield")
    page.get_by_label("State").fill("Iowa")
    page.get_by_label("Your name").fill("Bea Brook")
    page.get_by_label("Your work email address").fill("bea@brookfield.example.org")
    page.get_by_label("911 calls for service a year").fill("sixty thousand")
    page.get_by_role("button", name="Send the application").click()
    expect(page.locator(".error-summary")).to_contain_text("whole number")
    page.get_by_label("911 calls for service a year").fill("60,000")
    page.get_by_role("button", name="Send the application").click()
    expect(page.locator("main")).to_contain_text("the application is with the initiative's staff")

    staff = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900}).new_page()
    sign_in(staff, "staff@example.org")
    staff.goto("/staff/")
    staff.get_by_role("link", name="1 application to join").click()
    check_accessible(staff)
    staff.get_by_role("link", name="Brookfield, Iowa").click()
    check_accessible(staff)
    staff.get_by_label("Approve").check()
    staff.get_by_role("button", name="Send the decision").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("Brookfield, Iowa")
    expect(staff.locator("main")).to_contain_text("Partner of the initiative")

    page.goto("/jurisdictions?partner=yes")
    expect(page.get_by_role("link", name="Brookfield, Iowa")).to_be_visible()
    check_accessible(page)


def test_every_other_new_page_is_accessible_at_both_widths(app, page, browser, live_server):
    create_jurisdiction(app, reports=[month(2026, 8, 2000, 100)])
    email = create_representative(app)
    create_member(app, email="maya@example.org", name="Maya Member")
    create_member(app, email="staff@example.org", name="Sam Staff", role="staff")
    page.goto("/api")
    check_accessible(page)
    sign_in(page, "maya@example.org")
    page.goto("/account")
    page.get_by_label("The jurisdiction you work for").select_option("riverton")
    page.get_by_label("Your role there").fill("Analyst")
    page.get_by_role("button", name="Ask to represent it").click()
    expect(page.locator("#representation")).to_contain_text("waiting for staff")
    check_accessible(page)

    rep = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900}).new_page()
    sign_in(rep, email)
    for path in ["/jurisdictions/riverton/edit", "/jurisdictions/riverton/programs/new",
                 "/jurisdictions/riverton/suggest", "/jurisdictions/riverton/metrics"]:
        rep.goto(path)
        check_accessible(rep)
    rep.goto("/jurisdictions/riverton/tokens")
    rep.get_by_label("Name of the token").fill("Nightly upload")
    rep.get_by_role("button", name="Create the token").click()
    expect(rep.locator(".token-secret")).to_contain_text("p12m_")
    check_accessible(rep)

    staff = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900}).new_page()
    sign_in(staff, "staff@example.org")
    staff.goto("/staff/jurisdictions")
    check_accessible(staff)
    staff.get_by_role("link", name="Maya Member for Riverton, Oregon").click()
    check_accessible(staff)
