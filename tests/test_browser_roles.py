"""Every page each role may open, on a 360 px phone screen, signed in as that role (Debian's Chromium).

The walk is tests/test_access.py's: app.url_map, its roles and its sample URL arguments, so a page added by
any blueprint is checked here too. Each page must pass axe-core with zero violations and must not scroll
sideways. Answers that are not HTML pages (feeds, calendars, JSON, downloads) and redirects are left out.
"""
import pytest

from tests.conftest import PASSWORD, PHONE_WIDTH, check_accessible, scrolls_sideways, unit
from tests.test_access import ORDER, ROLES, Samples, _rules, role_member, sample_path

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect, PlaywrightError = sync_api.expect, sync_api.Error


def _pages_for(app, samples: Samples, role: str) -> list[str]:
    """The paths of every GET route the role may open, with sample arguments."""
    held = ORDER.index(ROLES[role][1])
    paths = []
    for rule in _rules(app):
        if "GET" not in rule.methods or ORDER.index(app.view_functions[rule.endpoint].access_level) > held:
            continue
        paths.append(sample_path(samples, rule))
    return sorted(set(paths))


def _sign_in(page, role: str, app, samples: Samples) -> None:
    email = role_member(app, role, samples)
    if email is None:
        return
    page.goto("/login")
    # By name, not label: this test is about the pages behind the sign-in, not the sign-in form's wording.
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out")).to_be_visible()


def _with_work_to_show(app, samples: Samples) -> None:
    """Rows behind every sample argument, and a draft and a pending suggestion, so staff pages show content."""
    for name in ("member_id", "slug", "file_id", "saved_id", "suggestion_id"):
        samples[name]
    with unit(app):
        from portal.library import services

        services.create_resource(actor=None, title="A draft in progress", type="guide", body="Not yet.")


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_a_role_may_open_fits_a_phone_and_passes_axe(app, browser, live_server, role):
    samples = Samples(app)
    _with_work_to_show(app, samples)
    context = browser.new_context(base_url=live_server.url, viewport={"width": PHONE_WIDTH, "height": 740})
    try:
        page = context.new_page()
        _sign_in(page, role, app, samples)
        checked, failures = [], []
        for path in _pages_for(app, samples, role):
            try:
                answer = page.goto(path)
            except PlaywrightError:  # a file download: no page to check
                continue
            if answer is None or answer.request.redirected_from is not None or \
                    not answer.headers.get("content-type", "").startswith("text/html"):
                continue  # a feed, JSON or a redirect (the page it leads to is on the list itself)
            checked.append(path)
            wide = scrolls_sideways(page)
            if wide:
                failures.append(f"{path} scrolls sideways at {PHONE_WIDTH} px: {wide}")
            try:
                check_accessible(page, widths=(PHONE_WIDTH,))
            except AssertionError as error:
                failures.append(str(error))
        expected = {"/", "/staff/", "/staff/audit", "/staff/members"} if role == "admin" else \
            {"/", "/staff/", "/staff/audit"} if role == "staff" else {"/", "/resources"}
        assert expected <= set(checked), f"{role} did not reach {sorted(expected - set(checked))}"
        assert not failures, f"{len(failures)} problem(s) as {role}:\n" + "\n".join(failures)
    finally:
        context.close()
