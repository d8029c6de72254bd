"""The library pages as readers use them: filters folded on a phone, facets, result headings, zero-result
messages, the feed-reader page, the saved-search state, the section in the navigation, and SQL queries per page
that do not grow with the library."""
from datetime import timedelta

import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import search
from portal.database import utcnow
from portal.exceptions import ValidationFailed
from portal.library import alerts, services
from portal.members.services import find_member_by_email
from portal.content import LoadReport, load_jurisdictions
from tests.conftest import counted_queries, create_member, _empty_database, login, make_app, ROOT, unit
from tests.library_helpers import make_resource, result_titles

SHELF = {
    "journalists": dict(title="Reporting on crisis response", type="toolkit", audiences=["journalists"],
                        topics=["media"], summary="For newsrooms.", body="How to cover crisis teams."),
    "advocates": dict(title="Organising for crisis response", type="toolkit", audiences=["advocates"],
                      topics=["organising"], summary="For campaigns.", body="Building a crisis coalition."),
    "denver": dict(title="Denver STAR", type="program_model", audiences=["officials", "journalists"],
                   topics=["mental health"], jurisdiction="denver", summary="Clinicians and paramedics.",
                   body="The crisis team goes out with a paramedic."),
    "policy": dict(title="Dispatch policy", type="policy", audiences=["officials"], topics=["dispatch"],
                   summary="Which calls go where.", body="Call-takers route calls."),
}


@pytest.fixture
def shelf(app):
    return {key: make_resource(app, **fields) for key, fields in SHELF.items()}


def tree(client, path, status=200, **kwargs):
    response = client.get(path, **kwargs)
    assert response.status_code == status, (path, response.status_code)
    return lxml.html.fromstring(response.get_data(as_text=True))


def words(element) -> str:
    return " ".join(element.text_content().split())


def filters_of(page):
    (details,) = page.xpath('//aside[@aria-label="Filter results"]/details')
    return details


def facet_links(page, title) -> dict[str, dict]:
    """{label: {count, selected, href}} of one facet group."""
    links = {}
    for link in page.xpath(f'//aside//section[h3="{title}"]//a'):
        text = words(link).removeprefix("Remove filter: ")
        label, count = text.rsplit(" (", 1)
        links[label] = {"count": int(count.rstrip(")")), "selected": link.get("aria-current") == "true",
                        "href": link.get("href")}
    return links


def results_heading(page) -> str:
    return words(page.xpath('//h2[@id="results-title"]')[0])


def no_results(page) -> str:
    return " ".join(words(p) for p in page.xpath('//div[@class="no-results"]/p'))


# --- 1. filters on a phone: a closed <details> that names the active filters ----------------------------------

def test_filters_are_a_closed_details_whose_summary_names_the_active_filters(client, shelf):
    page = tree(client, "/resources")
    details = filters_of(page)
    assert details.get("open") is None  # closed: the results come first on a phone
    assert words(details.xpath("summary")[0]) == "Filters"
    assert not page.xpath("//script")  # folding and unfolding needs no JavaScript

    page = tree(client, "/resources?type=toolkit&audience=journalists")
    details = filters_of(page)
    assert details.get("open") is None
    assert words(details.xpath("summary")[0]) == "Filters (2 active: Toolkit, Journalists)"
    # Two values of one facet widen the search: they read "or".
    page = tree(client, "/resources?type=toolkit&type=policy&jurisdiction=denver")
    assert words(filters_of(page).xpath("summary")[0]) == "Filters (3 active: Toolkit or Policy, Denver)"


# --- 2. facets, clearing, the heading, all topics -------------------------------------------------------------

def test_choosing_a_type_keeps_the_other_types_with_their_counts(client, shelf):
    everything = facet_links(tree(client, "/resources"), "Type")
    assert {label: v["count"] for label, v in everything.items()} == {"Toolkit": 2, "Program model": 1, "Policy": 1}
    page = tree(client, "/resources?type=toolkit")
    types = facet_links(page, "Type")
    assert {label: v["count"] for label, v in types.items()} == {"Toolkit": 2, "Program model": 1, "Policy": 1}
    assert [label for label, v in types.items() if v["selected"]] == ["Toolkit"]
    assert len(result_titles(lxml.html.tostring(page, encoding="unicode"))) == 2
    # Another facet's counts are within the chosen type.
    assert {label: v["count"] for label, v in facet_links(page, "Audience").items()} == \
        {"Journalists": 1, "Advocates": 1}


def test_a_selected_value_that_matches_nothing_still_shows_so_it_can_be_removed(client, shelf):
    page = tree(client, "/resources?q=dispatch&type=toolkit")
    types = facet_links(page, "Type")
    assert types["Toolkit"]["selected"] and types["Toolkit"]["count"] == 0
    assert types["Toolkit"]["href"] == "/resources?q=dispatch"


def test_clear_all_filters_keeps_the_words_and_the_order(client, shelf):
    page = tree(client, "/resources?q=crisis&sort=title&type=toolkit&audience=journalists")
    (link,) = page.xpath('//a[normalize-space()="Clear all filters"]')
    assert link.get("href") == "/resources?q=crisis&sort=title"
    assert not tree(client, "/resources?q=crisis").xpath('//a[normalize-space()="Clear all filters"]')


def test_the_results_heading_names_the_words_and_the_filters(client, shelf):
    assert results_heading(tree(client, "/resources")) == "4 resources"
    assert results_heading(tree(client, "/resources?q=crisis")) == "3 resources for “crisis”"
    assert results_heading(tree(client, "/resources?q=crisis&type=toolkit&audience=journalists")) == \
        "1 resource for “crisis”, filtered by Toolkit, Journalists"
    assert results_heading(tree(client, "/resources?type=toolkit&type=policy")) == \
        "3 resources, filtered by Toolkit or Policy"


def test_topics_beyond_the_first_fifteen_are_under_all_topics(app, client):
    first = [f"topic {n:02d}" for n in range(12)]
    second = [f"topic {n:02d}" for n in range(12, 20)]
    make_resource(app, title="Many topics one", topics=first)
    make_resource(app, title="Many topics two", topics=second)
    page = tree(client, "/resources")
    (group,) = page.xpath('//aside//section[h3="Topic"]')
    assert len(group.xpath("./ul/li")) == 15
    (more,) = group.xpath('./details[@class="facet-more"]')
    assert words(more.xpath("summary")[0]) == "All 20 topics"
    assert more.get("open") is None
    assert len(more.xpath(".//li")) == 5
    shown = {words(a).rsplit(" (", 1)[0] for a in group.xpath(".//a")}
    assert shown == set(first + second)
    # A selected topic among the rest opens the list, so the reader sees it is chosen.
    hidden = words(more.xpath(".//a")[0]).rsplit(" (", 1)[0]
    page = tree(client, "/resources", query_string={"topic": hidden})
    (more,) = page.xpath('//aside//section[h3="Topic"]/details[@class="facet-more"]')
    assert more.get("open") is not None
    assert more.xpath('.//a[@aria-current="true"]')


# --- 2. zero results: a message for each case ------------------------------------------------------------------

def test_zero_results_say_why(client, shelf):
    page = tree(client, "/resources?q=platypus")
    assert no_results(page).startswith("Nothing in the library matches “platypus”. Check the spelling")
    assert page.xpath('//div[@class="no-results"]//a[normalize-space()="Browse all resources"]/@href') == \
        ["/resources"]

    page = tree(client, "/resources?type=policy&audience=advocates")
    assert no_results(page) == ("No resource matches all of these filters at once: Policy, Advocates. "
                                "Remove one of them, or clear all filters.")
    assert page.xpath('//div[@class="no-results"]//a/@href') == ["/resources"]

    page = tree(client, "/resources?q=dispatch&type=toolkit")
    assert no_results(page).startswith("Nothing matches “dispatch” with the filters Toolkit.")
    assert page.xpath('//div[@class="no-results"]//a/@href') == ["/resources?q=dispatch"]


def test_an_empty_library_and_an_unavailable_index_say_so(client, monkeypatch):
    assert no_results(tree(client, "/resources")) == "The library has no published resources yet."

    def unavailable(*args, **kwargs):
        raise search.SearchUnavailable("index folder missing")

    monkeypatch.setattr(search, "search", unavailable)
    page = tree(client, "/resources?q=crisis&type=toolkit", status=503)
    assert results_heading(page) == "Search unavailable"
    assert no_results(page).startswith("The library search is not working right now")


# --- 3. copy: members-only prompt, feed-reader wording and page ------------------------------------------------

def test_the_members_only_prompt_reads_right_with_and_without_files(app, client):
    make_resource(app, title="Early guide", slug="early-guide", access="members", body="Only members.")
    prompt = words(tree(client, "/resources/early-guide").xpath('//section[@class="join-prompt"]')[0])
    assert "The full text is open to members of the community of practice." in prompt
    with unit(app):
        from portal.library import attachments

        resource = services.get_resource_by_slug("early-guide")
        attachments.attach_file(resource, actor=None, filename="calls.csv", data=b"call_type,count\nnoise,3\n")
    prompt = words(tree(client, "/resources/early-guide").xpath('//section[@class="join-prompt"]')[0])
    assert "The full text and its files are open to members of the community of practice." in prompt


def test_the_search_offers_a_feed_reader_in_plain_words(client, shelf):
    page = tree(client, "/resources?q=crisis&sort=title&type=toolkit")
    (link,) = page.xpath('//a[normalize-space()="Follow this search in a feed reader"]')
    assert link.get("href") == "/resources/feeds?q=crisis&type=toolkit"
    assert not page.xpath('//a[contains(., "Atom")]')
    # Without a search, the whole library is what there is to follow.
    page = tree(client, "/resources")
    assert page.xpath('//a[normalize-space()="Follow new resources in a feed reader"]/@href') == ["/resources/feeds"]


def test_the_feeds_page_explains_and_gives_the_addresses(client, shelf):
    page = tree(client, "/resources/feeds")
    assert words(page.xpath("//h1")[0]) == "Follow the library in a feed reader"
    assert page.xpath('//h2[normalize-space()="What is a feed reader?"]')
    assert page.xpath('//h2[normalize-space()="How to add a feed"]')
    (site_feed,) = page.xpath('//input[@id="site-feed-address"]')
    assert site_feed.get("value") == "http://localhost/feed.atom" and site_feed.get("readonly") is not None
    assert page.xpath('//label[@for="site-feed-address"]')
    assert not page.xpath('//input[@id="search-feed-address"]')  # no search asked: none to follow
    assert client.get("/feed.atom").status_code == 200

    search_page = tree(client, "/resources?q=crisis&type=toolkit")
    (alternate,) = search_page.xpath('//link[@rel="alternate"]/@href')
    page = tree(client, "/resources/feeds?q=crisis&type=toolkit")
    (search_feed,) = page.xpath('//input[@id="search-feed-address"]')
    assert search_feed.get("value") == "http://localhost" + alternate
    panel = words(page.xpath('//section[@aria-labelledby="this-search-title"]')[0])
    assert "New resources that match “crisis”, filtered by Toolkit appear in this feed" in panel
    assert page.xpath('//section[@aria-labelledby="this-search-title"]//a[normalize-space()="“crisis”, filtered by '
                      'Toolkit"]/@href') == ["/resources?q=crisis&type=toolkit"]
    feed = client.get(search_feed.get("value").removeprefix("http://localhost"))
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"


def test_feeds_is_a_reserved_slug(app):
    with unit(app), pytest.raises(ValidationFailed) as error:
        services.create_resource(actor=None, title="Feeds", type="guide", slug="feeds")
    assert error.value.field == "slug"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(max_size=300), topic=st.text(max_size=200), kind=st.text(max_size=50))
def test_any_search_gives_a_feeds_page(client, q, topic, kind):
    response = client.get("/resources/feeds", query_string={"q": q, "topic": topic, "type": kind})
    assert response.status_code == (400 if "\x00" in q + topic + kind else 200)


# --- 4. the saved search shows that it is saved; the nav marks the section -------------------------------------

def _save(app, email, **args):
    with unit(app):
        alerts.save_search(member=find_member_by_email(email), args=args)


def test_a_saved_search_says_it_is_saved_instead_of_offering_the_button(app, client, shelf, member):
    login(client, member)
    page = tree(client, "/resources?q=crisis&type=toolkit")
    assert page.xpath('//button[normalize-space()="Email me new matches"]')
    assert not page.xpath('//*[@class="saved-state"]')

    _save(app, member, q=["crisis"], type=["toolkit"])
    for path in ("/resources?q=crisis&type=toolkit", "/resources?type=toolkit&sort=title&q=crisis"):
        page = tree(client, path)
        assert not page.xpath('//button[normalize-space()="Email me new matches"]'), path
        (state,) = page.xpath('//p[@class="saved-state"]')
        assert words(state) == "Saved: new matches are emailed to you. Manage alerts"
        assert state.xpath("a/@href") == ["/account/alerts"]
    # Another search is not saved.
    assert tree(client, "/resources?q=crisis").xpath('//button[normalize-space()="Email me new matches"]')

    with unit(app):
        find_member_by_email(member).wants_alerts = False
    (state,) = tree(client, "/resources?q=crisis&type=toolkit").xpath('//p[@class="saved-state"]')
    assert words(state).startswith("Saved, but alert emails are off")
    assert state.xpath("a/@href") == ["/account/alerts"]


def test_the_save_button_is_for_members_and_for_searches_only(client, shelf, member):
    assert not tree(client, "/resources?q=crisis").xpath("//form[@action='/resources/saved']")
    login(client, member)
    assert not tree(client, "/resources").xpath("//form[@action='/resources/saved']")
    # An order alone is not a search to be alerted about.
    assert not tree(client, "/resources?sort=title").xpath("//form[@action='/resources/saved']")
    (form,) = tree(client, "/resources?q=crisis&sort=title&page=1").xpath("//form[@action='/resources/saved']")
    assert {(i.get("name"), i.get("value")) for i in form.xpath(".//input[@type='hidden']")} - \
        {(i.get("name"), i.get("value")) for i in form.xpath(".//input[@name='csrf_token']")} == {("q", "crisis")}


def current_section(page) -> list[str]:
    return [words(a) for a in page.xpath('//nav[@aria-label="Main"]//a[@aria-current="page"]')]


def test_the_navigation_marks_the_section_of_the_page(app, client, shelf, member):
    slug = services_slug(app, shelf["denver"])
    assert current_section(tree(client, "/")) == ["Home"]
    for path in ("/resources", "/resources?q=crisis", f"/resources/{slug}", "/resources/feeds"):
        assert current_section(tree(client, path)) == ["Resources"], path
    assert current_section(tree(client, "/about")) == ["About"]
    login(client, member)
    assert current_section(tree(client, "/account")) == ["Account"]
    assert current_section(tree(client, "/account/alerts")) == ["Account"]
    assert current_section(tree(client, "/resources")) == ["Resources"]


def services_slug(app, resource_id) -> str:
    with unit(app):
        return services.get_resource(resource_id).slug


# --- 5. SQL queries per page do not grow with the library ------------------------------------------------------

def queries_for(app, client, path) -> int:
    client.get(path)  # the first request of a client warms what is made once (session, caches)
    with counted_queries(app) as statements:
        assert client.get(path).status_code == 200
    return len(statements)


def _add_resources(app, count, start):
    for n in range(start, start + count):
        make_resource(app, title=f"Crisis resource {n}", type=("toolkit", "policy", "guide")[n % 3],
                      audiences=["officials"], topics=[f"topic {n}"], jurisdiction="denver",
                      summary="About crisis response.", body="Crisis teams and dispatch.",
                      publish_at=utcnow() - timedelta(hours=n + 1))


PAGES = ["/resources", "/resources?q=crisis", "/resources?q=crisis&type=toolkit&audience=officials&sort=title"]


@pytest.fixture
def uncached_app(tmp_path):
    """An app that renders every page (no page cache, no reused validators), so the count is the page's own."""
    app = make_app(tmp_path / "uncached", PAGE_CACHE_SIZE=0, VALIDATOR_REUSE_SECONDS=0)
    with unit(app):
        load_jurisdictions(ROOT / "content", LoadReport())
    yield app
    _empty_database(app)


def test_queries_per_library_page_do_not_depend_on_the_number_of_resources(uncached_app):
    app = uncached_app
    member = "member@example.org"
    create_member(app, email=member)
    anonymous, signed_in = app.test_client(), app.test_client()
    login(signed_in, member)
    _save(app, member, q=["crisis"])
    _add_resources(app, 5, 0)
    with_five = {(who, path): queries_for(app, client, path)
                 for who, client in (("anonymous", anonymous), ("member", signed_in)) for path in PAGES}
    _add_resources(app, 20, 5)
    with_25 = {(who, path): queries_for(app, client, path)
               for who, client in (("anonymous", anonymous), ("member", signed_in)) for path in PAGES}
    assert with_25 == with_five
    assert all(count > 0 for count in with_five.values())  # each page was rendered, not served from a cache
    html = signed_in.get("/resources").get_data(as_text=True)
    assert len(result_titles(html)) == 20  # a full page of cards was rendered with those queries
