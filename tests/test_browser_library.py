"""The resource library in a real browser (Debian's Chromium): search, facets, publishing, members-only access,
alerts, no-JavaScript use and a phone screen, with axe-core on every page it visits."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import check_accessible, create_member, PASSWORD, ROOT, unit

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

GUIDE = "/resources/call-categories-guide"
GUIDE_TITLE = "Sorting 911 calls for alternative response: an early guide for member jurisdictions"
# Sentences only the members-only guide's body has: neither its title nor its summary says them.
GUIDE_BODY_TEXT = ["Member jurisdictions asked for the framework before the full public version is finished",
                   "Map each of your call types to a group"]
OVERVIEW_PDF = ROOT / "content" / "resources" / "files" / "initiative-overview.pdf"


def sign_in(page, email, password=PASSWORD):
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label(re.compile(r"^Password\b")).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out")).to_be_visible()


def search_for(page, words):
    page.get_by_role("searchbox", name="Search the library").fill(words)
    follow(page, page.get_by_role("search").get_by_role("button", name="Search"))


def follow(page, locator):
    """Click a link or submit button and wait for the page it leads to (before reading the URL or counts)."""
    with page.expect_navigation():
        locator.click()


def results(page):
    return page.locator(".result-list > li")


def results_heading(page):
    return page.get_by_role("heading", level=2, name=re.compile(r"^\d+ resources?\b"))


def result_total(page) -> int:
    return int(results_heading(page).inner_text().split()[0])


def facet(page, group):
    return page.get_by_role("complementary", name="Filter results").get_by_role("region", name=group)


def query_of(page) -> dict:
    return parse_qs(urlsplit(page.url).query)


def fits_the_screen(page, path):
    page.goto(path)
    widths = page.evaluate(
        "({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})")
    assert widths["scroll"] <= widths["client"], f"{path} scrolls sideways: {widths}"


# --- 1. search ------------------------------------------------------------------------------------------------

def test_search_highlights_matches_and_corrects_a_misspelling(library, page):
    page.goto("/resources")
    expect(page.get_by_role("heading", level=1)).to_have_text("Resource library")
    everything = result_total(page)
    assert everything >= 10
    check_accessible(page)

    search_for(page, "dispositions")
    expect(page).to_have_url(re.compile(r"/resources\?q=dispositions$"))
    expect(results_heading(page)).to_contain_text("for “dispositions”")
    assert 0 < result_total(page) < everything
    marks = results(page).locator(".snippet mark")
    expect(marks.first).to_be_visible()
    assert {text.lower() for text in marks.all_inner_texts()} == {"dispositions"}
    expect(results(page).first.get_by_role("heading", level=3)).to_contain_text("toolkit")
    expect(page.get_by_role("searchbox", name="Search the library")).to_have_value("dispositions")
    check_accessible(page)

    search_for(page, "toolkt")
    expect(results_heading(page)).to_have_text("0 resources for “toolkt”")
    expect(page.locator(".no-results")).to_contain_text("Nothing in the library matches “toolkt”.")
    expect(page.locator(".did-you-mean")).to_have_text("Did you mean toolkit?")
    check_accessible(page)

    follow(page, page.get_by_role("link", name="toolkit", exact=True))
    expect(page).to_have_url(re.compile(r"/resources\?q=toolkit$"))
    expect(page.get_by_role("searchbox", name="Search the library")).to_have_value("toolkit")
    assert result_total(page) >= 2
    expect(results(page).get_by_role("link", name=re.compile("a toolkit for journalists"))).to_be_visible()
    expect(results(page).get_by_role("link", name=re.compile("a toolkit for advocates"))).to_be_visible()
    expect(results(page).locator(".snippet mark").first).to_be_visible()
    expect(page.locator(".did-you-mean")).to_have_count(0)
    check_accessible(page)

    # The result leads to the resource.
    results(page).get_by_role("link", name=re.compile("a toolkit for journalists")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("a toolkit for journalists"))
    check_accessible(page)


# --- 2. facets ------------------------------------------------------------------------------------------------

def test_facets_narrow_combine_and_come_off_again(library, page):
    page.goto("/resources")
    everything = result_total(page)
    check_accessible(page)

    follow(page, facet(page, "Type").get_by_role("link", name=re.compile(r"^Program model \(\d+\)")))
    expect(page).to_have_url(re.compile(r"type=program_model"))
    by_type = result_total(page)
    assert 0 < by_type < everything
    expect(results(page)).to_have_count(by_type)
    selected_type = facet(page, "Type").locator("a[aria-current='true']")
    expect(selected_type).to_have_count(1)
    expect(selected_type).to_contain_text("Remove filter: Program model")
    check_accessible(page)

    # Audience counts are for the current query: researchers among the program models only.
    researchers = facet(page, "Audience").get_by_role("link", name=re.compile(r"^Researchers \(\d+\)"))
    count_shown = int(re.search(r"\((\d+)\)", researchers.inner_text()).group(1))
    follow(page, researchers)
    assert query_of(page) == {"audience": ["researchers"], "type": ["program_model"]}
    both = result_total(page)
    assert both == count_shown and 0 < both < by_type
    expect(results(page)).to_have_count(both)
    expect(results(page).first).to_contain_text("Program model")
    expect(page.locator(".facets a[aria-current='true']")).to_have_count(2)
    expect(facet(page, "Audience").locator("a[aria-current='true']")).to_contain_text("Researchers")
    check_accessible(page)

    # Clicking a selected facet again removes only that filter.
    follow(page, facet(page, "Type").get_by_role("link", name=re.compile("Remove filter: Program model")))
    assert query_of(page) == {"audience": ["researchers"]}
    assert result_total(page) > both
    expect(page.locator(".facets a[aria-current='true']")).to_have_count(1)
    expect(facet(page, "Type").locator("a[aria-current='true']")).to_have_count(0)
    check_accessible(page)

    follow(page, facet(page, "Audience").get_by_role("link", name=re.compile("Remove filter: Researchers")))
    assert query_of(page) == {}
    assert result_total(page) == everything
    expect(page.locator(".facets a[aria-current='true']")).to_have_count(0)

    # Facets combine with a text search, and the search box keeps the filters.
    follow(page, facet(page, "Type").get_by_role("link", name=re.compile(r"^Toolkit \(")))
    search_for(page, "dispositions")
    assert query_of(page) == {"q": ["dispositions"], "type": ["toolkit"]}
    expect(facet(page, "Type").locator("a[aria-current='true']")).to_contain_text("Toolkit")
    assert result_total(page) >= 1
    check_accessible(page)


# --- 3. publishing --------------------------------------------------------------------------------------------

def test_staff_write_preview_publish_and_attach_a_file_then_visitors_find_it(library, page, browser, live_server,
                                                                            app):
    create_member(app, email="sam.staff@example.org", name="Sam Staff", role="staff")
    maya = create_member(app, email="maya@example.org", name="Maya Member", organisation="Denver STAR")
    with unit(app):  # something in the review queue, so that page is checked with content
        from portal.library import suggestions
        from portal.members import services as members
        suggestions.submit_suggestion(member=members.get_member(maya),
                                      title="Denver STAR dispatch protocol", type="policy",
                                      summary="How Denver 911 decides which calls go to STAR.",
                                      external_url="https://example.org/star-protocol", jurisdiction="Denver",
                                      note="Public since 2022.")
    sign_in(page, "sam.staff@example.org")

    page.goto("/staff/resources")
    expect(page.get_by_role("heading", level=1)).to_have_text("Resources")
    expect(page.get_by_role("cell", name=GUIDE_TITLE)).to_be_visible()
    check_accessible(page)

    page.get_by_role("link", name="Write a new resource").click()
    expect(page).to_have_url(re.compile(r"/staff/resources/new$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("New resource")
    check_accessible(page)

    title = "Peer responders in rural counties: a program model"
    page.get_by_label("Title").fill(title)
    page.get_by_label("Summary").fill("How a rural county sends trained peers to low-risk calls.")
    page.get_by_label("Body (Markdown)").fill(
        "## Who answers\n\nA **peer responder** with a clinician answers wellness calls in the hinterland.\n\n"
        "- dispatch through 911\n- follow-up visits\n")
    page.get_by_label(re.compile(r"^Type\b")).select_option("program_model")
    page.get_by_role("group", name="Audiences").get_by_label("Practitioners").check()
    page.get_by_role("group", name="Audiences").get_by_label("Officials").check()
    page.get_by_label("Topics").fill("rural, peer support")
    page.get_by_role("button", name="Preview").click()

    # The preview shows the Markdown rendered, keeps what was typed, and saves nothing.
    preview = page.get_by_role("region", name="Preview (not saved)")
    expect(preview.get_by_role("heading", level=2, name="Who answers")).to_be_visible()
    expect(preview.locator("strong")).to_have_text("peer responder")
    expect(preview.get_by_role("listitem")).to_have_count(2)
    expect(page.get_by_label("Title")).to_have_value(title)
    expect(page.get_by_role("group", name="Audiences").get_by_label("Practitioners")).to_be_checked()
    check_accessible(page)
    with unit(app):
        from portal.library import services
        assert services.get_resource_by_slug("peer-responders-in-rural-counties-a-program-model") is None

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status")).to_contain_text("Draft saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Edit: {title}")
    expect(page.locator(".lede strong")).to_have_text("draft")
    edit_url = page.url
    assert re.search(r"/staff/resources/\d+/edit$", edit_url)
    check_accessible(page)

    # Staff can look at the draft's page; visitors cannot find it.
    page.get_by_role("link", name="View the page").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("main")).to_contain_text("Staff preview: this resource is draft")
    check_accessible(page)
    page.get_by_role("link", name="Edit this resource").click()
    expect(page).to_have_url(edit_url)
    visitor_context = browser.new_context(base_url=live_server.url)
    try:
        visitor = visitor_context.new_page()
        visitor.goto("/resources?q=hinterland")
        expect(results_heading(visitor)).to_have_text("0 resources for “hinterland”")
    finally:
        visitor_context.close()

    workflow = page.get_by_role("region", name="Workflow")
    workflow.get_by_label("Action").select_option("publish")
    workflow.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("The resource is now published.")
    expect(page.locator(".lede strong")).to_have_text("published")
    check_accessible(page)

    files = page.get_by_role("region", name="Files")
    files.get_by_label("File (PDF, DOCX, XLSX, PPTX or CSV)").set_input_files(str(OVERVIEW_PDF))
    files.get_by_role("button", name="Attach the file").click()
    expect(page.get_by_role("status")).to_contain_text("File attached.")
    files = page.get_by_role("region", name="Files")
    expect(files.get_by_role("link", name="initiative-overview.pdf")).to_be_visible()
    expect(files.get_by_role("listitem")).to_contain_text("PDF")
    expect(page.get_by_role("region", name="Revision history").get_by_role("listitem")).not_to_have_count(0)
    check_accessible(page)

    # A file that is not what it says is refused, and the error state is accessible.
    files.get_by_label("File (PDF, DOCX, XLSX, PPTX or CSV)").set_input_files(
        {"name": "not-really.pdf", "mimeType": "application/pdf", "buffer": b"just some text, not a PDF"})
    files.get_by_role("button", name="Attach the file").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    check_accessible(page)

    page.goto("/staff/resources?status=published")
    expect(page.get_by_role("link", name=title)).to_be_visible()
    check_accessible(page)
    page.goto("/staff/suggestions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Member suggestions")
    suggestion = page.get_by_role("region", name="Denver STAR dispatch protocol")
    expect(suggestion).to_contain_text("from Maya Member (Denver STAR)")
    expect(suggestion.get_by_label("Note to the member")).to_be_visible()
    check_accessible(page)
    page.goto("/staff/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    slug = "peer-responders-in-rural-counties-a-program-model"
    for action in ("resource.created", "resource.publish", "resource.file_added"):
        row = page.get_by_role("row").filter(has_text=action).filter(has_text=slug)
        expect(row.first).to_contain_text("Sam Staff")
    check_accessible(page)

    # A visitor in a fresh context finds it by search, reads it, and sees its file.
    visitor_context = browser.new_context(base_url=live_server.url)
    try:
        visitor = visitor_context.new_page()
        visitor.goto("/resources")
        search_for(visitor, "hinterland")
        expect(results_heading(visitor)).to_have_text("1 resource for “hinterland”")
        expect(results(visitor).locator(".snippet mark")).to_have_text("hinterland")
        check_accessible(visitor)
        results(visitor).get_by_role("link", name=title).click()
        expect(visitor.get_by_role("heading", level=1)).to_have_text(title)
        expect(visitor.locator(".prose strong")).to_have_text("peer responder")
        file_link = visitor.get_by_role("region", name="Files").get_by_role("link", name="initiative-overview.pdf")
        expect(file_link).to_be_visible()
        download = visitor_context.request.get(file_link.get_attribute("href"))
        assert download.status == 200 and download.body() == OVERVIEW_PDF.read_bytes()
        assert download.headers["content-type"] == "application/pdf"
        assert download.headers["content-disposition"].startswith("attachment")
        expect(visitor.get_by_role("link", name="Edit this resource")).to_have_count(0)
        check_accessible(visitor)
        # The text inside the attached PDF is searchable too.
        visitor.goto("/resources?q=hinterland+pioneering")
        expect(results(visitor).get_by_role("link", name=title)).to_be_visible()
    finally:
        visitor_context.close()


# --- 4. members-only ------------------------------------------------------------------------------------------

def assert_guide_body_hidden(page):
    expect(page.get_by_role("heading", level=1)).to_have_text(GUIDE_TITLE)
    expect(page.locator(".lede")).to_contain_text("how the research framework groups calls")
    expect(page.get_by_role("heading", level=2, name="The categories")).to_have_count(0)
    html = page.content()
    for sentence in GUIDE_BODY_TEXT:
        assert sentence not in html


def test_a_members_only_body_reaches_verified_members_only(library, page, browser, live_server, app):
    with unit(app):
        from datetime import timedelta

        from portal.database import utcnow
        from portal.library import services
        # The sample's early-access date passes one day; this test is about access, not the calendar.
        guide = services.get_resource_by_slug("call-categories-guide")
        services.update_resource(guide, actor=None, members_until=utcnow().date() + timedelta(days=365))
    create_member(app, email="una.unverified@example.org", name="Una Unverified", verified=False)
    create_member(app, email="vera.verified@example.org", name="Vera Verified")

    # Anonymous: title, summary and a prompt to join, never the body.
    page.goto(GUIDE)
    assert_guide_body_hidden(page)
    expect(page.locator(".eyebrow")).to_contain_text("Members only")
    prompt = page.get_by_role("region", name="Members can read this resource")
    expect(prompt.get_by_role("link", name="Join to read")).to_have_attribute("href", "/signup")
    expect(prompt.get_by_role("link", name="Sign in")).to_be_visible()
    check_accessible(page)

    # Nor in a search snippet: a public word finds it with a snippet from its summary, a body-only word not at all.
    page.goto("/resources?q=framework")
    card = results(page).filter(has=page.get_by_role("link", name=GUIDE_TITLE))
    expect(card).to_have_count(1)
    expect(card.locator(".tag-members")).to_have_text("Members only")
    expect(card.locator(".snippet mark")).to_have_text("framework")
    check_accessible(page)
    body_only = ["paperwork", "nuisances", "ordinances", "worked examples"]  # words no other resource has
    for words in ["framework", "framework categories", "call types", "call-takers", *body_only]:
        page.goto(f"/resources?q={words}")
        snippets = " ".join(results(page).locator(".snippet").all_inner_texts()).lower()
        for text in GUIDE_BODY_TEXT + body_only:
            assert text.lower() not in snippets, (words, snippets)
        card = results(page).filter(has=page.get_by_role("link", name=GUIDE_TITLE))
        if words in body_only:
            expect(card).to_have_count(0)
        elif card.count():
            assert "early release for members" in card.locator(".snippet, p:not(.meta)").first.inner_text()

    # The join link leads to the sign-up page.
    page.goto(GUIDE)
    page.get_by_role("link", name="Join to read").click()
    expect(page).to_have_url(re.compile(r"/signup$"))

    # A member who has not confirmed their email address: still no body.
    unverified_context = browser.new_context(base_url=live_server.url)
    try:
        unverified = unverified_context.new_page()
        sign_in(unverified, "una.unverified@example.org")
        unverified.goto(GUIDE)
        assert_guide_body_hidden(unverified)
        expect(unverified.get_by_role("region", name="Members can read this resource")) \
            .to_contain_text("Confirm your email address")
        expect(unverified.get_by_role("link", name="Join to read")).to_have_count(0)
        check_accessible(unverified)
        unverified.goto("/resources?q=paperwork")
        expect(results(unverified).get_by_role("link", name=GUIDE_TITLE)).to_have_count(0)
    finally:
        unverified_context.close()

    # A verified member reads the body, and finds it by its body text.
    sign_in(page, "vera.verified@example.org")
    page.goto(GUIDE)
    expect(page.get_by_role("heading", level=2, name="The categories")).to_be_visible()
    expect(page.locator(".prose")).to_contain_text(GUIDE_BODY_TEXT[0])
    expect(page.get_by_role("region", name="Members can read this resource")).to_have_count(0)
    check_accessible(page)
    page.goto("/resources?q=paperwork")
    card = results(page).filter(has=page.get_by_role("link", name=GUIDE_TITLE))
    expect(card.locator(".snippet mark")).to_have_text("paperwork")
    check_accessible(page)


# --- 5. without JavaScript ------------------------------------------------------------------------------------

def test_search_and_facets_work_without_javascript(library, browser, live_server):
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    try:
        page = context.new_page()
        page.goto("/resources")
        everything = result_total(page)
        search_for(page, "crisis")
        expect(page).to_have_url(re.compile(r"/resources\?q=crisis$"))
        with_words = result_total(page)
        assert 0 < with_words <= everything
        expect(results(page).locator(".snippet mark").first).to_be_visible()

        follow(page, facet(page, "Type").get_by_role("link", name=re.compile(r"^Program model \(")))
        assert query_of(page) == {"q": ["crisis"], "type": ["program_model"]}
        narrowed = result_total(page)
        assert 0 < narrowed <= with_words
        expect(facet(page, "Type").locator("a[aria-current='true']")).to_contain_text("Program model")

        follow(page, facet(page, "Audience").get_by_role("link", name=re.compile(r"^Practitioners \(")))
        assert query_of(page) == {"audience": ["practitioners"], "q": ["crisis"], "type": ["program_model"]}
        follow(page, facet(page, "Type").get_by_role("link", name=re.compile("Remove filter: Program model")))
        assert query_of(page) == {"audience": ["practitioners"], "q": ["crisis"]}

        # The search box keeps the filters; "did you mean" keeps them too.
        search_for(page, "toolkt")
        assert query_of(page) == {"audience": ["practitioners"], "q": ["toolkt"]}
        follow(page, page.get_by_role("link", name="toolkit", exact=True))
        assert query_of(page) == {"audience": ["practitioners"], "q": ["toolkit"]}
        follow(page, facet(page, "Audience").get_by_role("link", name=re.compile("Remove filter: Practitioners")))
        assert query_of(page) == {"q": ["toolkit"]}
        assert result_total(page) >= 2
    finally:
        context.close()


# --- 6. a phone screen ----------------------------------------------------------------------------------------

def test_library_pages_fit_a_phone_screen(library, browser, live_server, app):
    create_member(app, email="sam.staff@example.org", name="Sam Staff", role="staff")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        fits_the_screen(page, "/resources")
        fits_the_screen(page, "/resources?q=crisis+response&type=program_model")
        fits_the_screen(page, "/resources/journalists-toolkit")
        fits_the_screen(page, "/resources/initiative-overview")
        fits_the_screen(page, GUIDE)
        sign_in(page, "sam.staff@example.org")
        fits_the_screen(page, "/staff/resources")
        fits_the_screen(page, "/staff/resources/new")
    finally:
        context.close()


# --- 7. alerts ------------------------------------------------------------------------------------------------

def test_a_member_saves_a_search_as_an_email_alert(library, page, app):
    create_member(app, email="vera.verified@example.org", name="Vera Verified")

    page.goto("/resources?q=crisis")
    expect(page.get_by_role("button", name="Email me new matches")).to_have_count(0)

    sign_in(page, "vera.verified@example.org")
    page.goto("/resources?q=crisis&type=program_model")
    page.get_by_role("button", name="Email me new matches").click()
    expect(page.get_by_role("status")).to_contain_text("Search saved: new matches will be emailed to you.")
    assert query_of(page) == {"q": ["crisis"], "type": ["program_model"]}
    # The page now says the search is saved, instead of offering to save it again.
    follow_search = page.get_by_role("region", name="Follow this search")
    expect(follow_search.get_by_role("button", name="Email me new matches")).to_have_count(0)
    expect(follow_search).to_contain_text("Saved: new matches are emailed to you.")
    check_accessible(page)
    follow(page, follow_search.get_by_role("link", name="Manage alerts"))
    expect(page).to_have_url(re.compile(r"/account/alerts$"))
    expect(page.get_by_role("navigation", name="Main").locator("[aria-current='page']")).to_have_text("Account")

    page.goto("/account/alerts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Alerts of new resources")
    saved = page.get_by_role("region", name="Saved searches")
    link = saved.get_by_role("link", name="“crisis”, Type: Program model")
    expect(link).to_be_visible()
    check_accessible(page)

    follow(page, link)
    assert query_of(page) == {"q": ["crisis"], "type": ["program_model"]}
    expect(page.get_by_role("searchbox", name="Search the library")).to_have_value("crisis")

    page.goto("/account/alerts")
    page.get_by_role("button", name="Remove “crisis”, Type: Program model").click()
    expect(page.get_by_role("status")).to_contain_text("Alert removed.")
    expect(page.get_by_role("region", name="Saved searches")).to_contain_text("None yet.")
    check_accessible(page)


# --- 8. a phone's first screen, and the filters folded without JavaScript --------------------------------------

PHONE = {"width": 360, "height": 740}


def first_result_on_first_screen(page, path):
    page.goto(path)
    card = results(page).first
    title = card.get_by_role("heading", level=3)
    expect(title).to_be_visible()
    top, bottom = card.bounding_box()["y"], title.bounding_box()["y"] + title.bounding_box()["height"]
    assert 0 < top and bottom <= PHONE["height"], f"{path}: first result from {top} to {bottom}px"


def test_on_a_phone_the_first_result_comes_first_and_the_filters_unfold_without_javascript(library, browser,
                                                                                          live_server):
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url, viewport=PHONE)
    try:
        page = context.new_page()
        for path in ("/resources", "/resources?q=crisis", "/resources?type=toolkit&audience=journalists"):
            first_result_on_first_screen(page, path)

        # The summary names the filters; the links stay folded until it is opened, and fold again on the next page.
        filters = page.get_by_role("complementary", name="Filter results")
        summary = filters.locator("summary").first
        expect(summary).to_have_text("Filters (2 active: Toolkit, Journalists)")
        expect(facet(page, "Type")).to_be_hidden()
        summary.click()
        expect(facet(page, "Type")).to_be_visible()
        follow(page, facet(page, "Audience").get_by_role("link", name=re.compile("Remove filter: Journalists")))
        assert query_of(page) == {"type": ["toolkit"]}
        expect(filters.locator("summary").first).to_have_text("Filters (1 active: Toolkit)")
        expect(facet(page, "Type")).to_be_hidden()
        summary = filters.locator("summary").first
        summary.click()
        expect(facet(page, "Type")).to_be_visible()
        summary.click()
        expect(facet(page, "Type")).to_be_hidden()
    finally:
        context.close()


def test_on_a_desktop_the_filters_are_open_in_the_sidebar(library, page):
    page.goto("/resources?type=toolkit")
    filters = page.get_by_role("complementary", name="Filter results")
    expect(filters.locator("summary").first).to_be_hidden()
    expect(facet(page, "Type")).to_be_visible()
    # Choosing a type keeps the other types there, with their counts.
    expect(facet(page, "Type").get_by_role("link", name=re.compile(r"^Program model \(\d+\)"))).to_be_visible()
    follow(page, page.get_by_role("link", name="Clear all filters"))
    assert query_of(page) == {}


LIBRARY_PAGES = ["/resources", "/resources?q=crisis&type=program_model", "/resources?q=platypus",
                 "/resources?type=dataset&audience=journalists", GUIDE, "/resources/journalists-toolkit",
                 "/resources/feeds", "/resources/feeds?q=crisis&type=toolkit"]


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1280, "height": 900}], ids=["360px", "1280px"])
def test_the_library_pages_pass_axe_on_a_phone_and_a_desktop(library, browser, live_server, viewport):
    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    try:
        page = context.new_page()
        for path in LIBRARY_PAGES:
            page.goto(path)
            check_accessible(page)
        # Unfolded on a phone, the filters pass too.
        page.goto("/resources?type=toolkit")
        summary = page.get_by_role("complementary", name="Filter results").locator("summary").first
        if summary.is_visible():
            summary.click()
            expect(facet(page, "Type")).to_be_visible()
            check_accessible(page)
        fits_the_screen(page, "/resources/feeds?q=crisis+response&type=program_model&audience=officials")
        # A card's date is read in one piece: it never breaks after the day.
        page.goto("/resources")
        for date in results(page).locator("time").all():
            assert date.evaluate("node => node.getClientRects().length") == 1, date.inner_text()
    finally:
        context.close()
