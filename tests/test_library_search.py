"""Library search at /resources: words, facets, sorting, paging, snippets, did-you-mean, hostile input, access."""
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.database import utcnow
from tests.conftest import create_member, login, unit
from tests.library_helpers import found_ids, library_search, make_resource, result_titles, sync_at


def _at(year, month, day):
    return datetime(year, month, day, 12, 0, tzinfo=timezone.utc)


CORPUS = {
    "guide": dict(title="Dispatch protocols for crisis calls", type="guide",
                  audiences=["practitioners", "officials"], topics=["dispatch", "mental health"],
                  jurisdiction="denver", summary="Routing behavioral health calls to the right responder.",
                  body="Call-takers need clear protocols. Dispatch decisions happen in seconds.",
                  publish_at=_at(2023, 3, 1)),
    "model": dict(title="Mobile crisis team program model", type="program_model", audiences=["officials"],
                  topics=["mental health"], jurisdiction="minneapolis", summary="Clinicians who answer crisis calls.",
                  body="The team is sent by the dispatch centre after triage.", publish_at=_at(2024, 6, 1)),
    "toolkit": dict(title="Advocacy toolkit for safer streets", type="toolkit", audiences=["advocates"],
                    topics=["policy"], summary="Organising for alternative response.",
                    body="Start with public records about calls.", publish_at=_at(2022, 1, 15)),
    "policy": dict(title="Zoning enforcement without police", type="policy", audiences=["officials", "researchers"],
                   topics=["policy", "code violations"], jurisdiction="chicago",
                   summary="Code violations answered by inspectors.",
                   body="Inspectors take the calls that concern buildings.", publish_at=_at(2024, 9, 10)),
    "research": dict(title="Call volume research", type="research", audiences=["researchers"], topics=["911 data"],
                     summary="What the numbers say.",
                     body="<script>alert('x')</script> Counting dispatch records by hour.", publish_at=_at(2021, 5, 5)),
}
TITLES = {key: fields["title"] for key, fields in CORPUS.items()}

# A members-only resource: its title and summary are public, its body is not.
SECRET_WORD = "zephyrine"
SECRET_BODY = f"The {SECRET_WORD} protocol explains everything members need."
MEMBERS_ONLY = dict(title="Quokka field guide", type="guide", access="members",
                    summary="An early release about quokkas for members.", body=SECRET_BODY,
                    publish_at=_at(2024, 2, 2))


@pytest.fixture
def corpus(app):
    ids = {key: make_resource(app, **fields) for key, fields in CORPUS.items()}
    return ids


@pytest.fixture
def secret(app):
    return make_resource(app, **MEMBERS_ONLY)


def titles(client, query_string=None, path="/resources"):
    response = client.get(path, query_string=query_string)
    assert response.status_code == 200
    return result_titles(response.get_data(as_text=True))


# --- words, filters, facets ------------------------------------------------------------------

def test_words_are_found_in_titles_summaries_and_bodies_with_stemming(client, corpus):
    assert titles(client, {"q": "dispatch"})[0] == TITLES["guide"]  # the title match ranks first
    assert set(titles(client, {"q": "dispatch"})) == {TITLES["guide"], TITLES["model"], TITLES["research"]}
    assert titles(client, {"q": "inspectors"}) == [TITLES["policy"]]  # summary and body
    assert set(titles(client, {"q": "dispatching"})) == set(titles(client, {"q": "dispatch"}))
    assert titles(client, {"q": "nothingmatchesthis"}) == []


FILTER_CASES = [
    ({"type": "toolkit"}, {"toolkit"}),
    ({"audience": "officials"}, {"guide", "model", "policy"}),
    ({"topic": "mental health"}, {"guide", "model"}),
    ({"topic": "Mental Health"}, {"guide", "model"}),
    ({"jurisdiction": "chicago"}, {"policy"}),
    ({"year": "2024"}, {"model", "policy"}),
    ({"q": "dispatch", "audience": "officials"}, {"guide", "model"}),
    ({"q": "dispatch", "audience": "officials", "jurisdiction": "denver"}, {"guide"}),
    ({"type": "policy", "audience": "officials"}, {"policy"}),
    ({"audience": ["officials", "researchers"]}, {"guide", "model", "policy", "research"}),  # one facet widens
    ({"type": ["toolkit", "policy"], "audience": "officials"}, {"policy"}),  # facets narrow each other
    ({"q": "calls", "year": "2024", "topic": "policy"}, {"policy"}),
    ({"type": "toolkit", "year": "2024"}, set()),
    ({"type": "no-such-type"}, set()),
]


def test_filters_narrow_and_combine(client, corpus):
    for query_string, expected in FILTER_CASES:
        assert set(titles(client, query_string)) == {TITLES[key] for key in expected}, query_string


def test_facet_counts_follow_the_current_query(app, corpus):
    with unit(app):
        result = library_search(q="dispatch")
        assert result.total == 3
        assert dict(result.facets["type"]) == {"guide": 1, "program_model": 1, "research": 1}
        assert dict(result.facets["audience"]) == {"officials": 2, "practitioners": 1, "researchers": 1}
        assert dict(result.facets["jurisdiction"]) == {"denver": 1, "minneapolis": 1}
        assert dict(result.facets["year"]) == {"2021": 1, "2023": 1, "2024": 1}
        assert dict(result.facets["topic"]) == {"dispatch": 1, "mental health": 2, "911 data": 1}

        filtered = library_search(q="dispatch", filters={"audience": ["officials"]})
        assert filtered.total == 2
        assert dict(filtered.facets["type"]) == {"guide": 1, "program_model": 1}
        # A facet's own filter does not narrow its counts: the other audiences stay in view.
        assert dict(filtered.facets["audience"]) == dict(result.facets["audience"])

        one_type = library_search(q="dispatch", filters={"type": ["guide"], "audience": ["researchers"]})
        assert one_type.total == 0
        assert dict(one_type.facets["type"]) == {"research": 1}  # under the audience filter only
        assert dict(one_type.facets["audience"]) == {"officials": 1, "practitioners": 1}  # under the type only

        everything = library_search(q="*")
        assert everything.total == 5
        assert dict(everything.facets["audience"])["officials"] == 3


def test_facet_counts_and_links_on_the_page(client, corpus):
    html = client.get("/resources", query_string={"q": "dispatch"}).get_data(as_text=True)
    assert re.search(r'Officials <span class="count">\(2\)</span>', html)
    assert re.search(r'Program model <span class="count">\(1\)</span>', html)
    assert "Toolkit" not in re.search(r'<aside class="facets".*?</aside>', html, re.S).group(0)
    assert "3 resources" in html


def test_every_search_has_one_stable_url(client, corpus):
    one = client.get("/resources?type=guide&q=dispatch&audience=officials").get_data(as_text=True)
    two = client.get("/resources?audience=officials&q=dispatch&type=guide").get_data(as_text=True)
    assert result_titles(one) == result_titles(two) == [TITLES["guide"]]
    links = set(re.findall(r'href="(/resources[^"]*)"', one))
    # Sort, facet and feed links are built in one canonical order, whatever order was typed.
    assert "/resources?audience=officials&amp;q=dispatch&amp;sort=newest&amp;type=guide" in links
    assert "/resources/feed.atom?audience=officials&amp;q=dispatch&amp;type=guide" in links
    assert links == set(re.findall(r'href="(/resources[^"]*)"', two))
    # A facet link leads to that search, and following it again removes the filter.
    toggle = re.search(r'href="(/resources\?[^"]*)"[^>]*>(?:<span[^>]*>[^<]*</span>)?Denver', one).group(1)
    params = sorted(parse_qsl(urlsplit(toggle.replace("&amp;", "&")).query))
    assert params == [("audience", "officials"), ("jurisdiction", "denver"), ("q", "dispatch"), ("type", "guide")]
    denver = client.get(toggle.replace("&amp;", "&")).get_data(as_text=True)
    assert result_titles(denver) == [TITLES["guide"]]
    assert 'aria-current="true" class="facet-selected"' in denver


SORT_CASES = [
    ("newest", ["policy", "model", "guide", "toolkit", "research"]),
    ("oldest", ["research", "toolkit", "guide", "model", "policy"]),
    ("title", ["toolkit", "research", "guide", "model", "policy"]),
    ("", ["policy", "model", "guide", "toolkit", "research"]),  # browsing all: newest first
    ("nonsense", ["policy", "model", "guide", "toolkit", "research"]),
]


def test_sorting(client, corpus):
    for sort, order in SORT_CASES:
        assert titles(client, {"q": "*", "sort": sort}) == [TITLES[key] for key in order], sort


def test_sorting_a_query_keeps_its_matches(client, corpus):
    expected = [TITLES[key] for key in ("research", "guide", "model")]
    assert titles(client, {"q": "dispatch", "sort": "oldest"}) == expected
    assert titles(client, {"q": "dispatch", "sort": "newest"}) == expected[::-1]


def test_paging(client, corpus, monkeypatch):
    monkeypatch.setattr("portal.library.views.PER_PAGE", 2)
    first = client.get("/resources?q=*").get_data(as_text=True)
    assert result_titles(first) == [TITLES["policy"], TITLES["model"]]
    assert "Page 1 of 3" in first and 'rel="next" href="/resources?page=2&amp;q=*"' in first
    assert titles(client, {"q": "*", "page": 2}) == [TITLES["guide"], TITLES["toolkit"]]
    assert titles(client, {"q": "*", "page": 3}) == [TITLES["research"]]
    for page in ("4", "999999", "0", "-3", "abc", "1e9"):
        assert client.get("/resources", query_string={"q": "*", "page": page}).status_code == 200
    assert titles(client, {"q": "*", "page": "abc"}) == [TITLES["policy"], TITLES["model"]]


# --- snippets, did-you-mean, browse ------------------------------------------------------------

def test_snippets_highlight_with_mark_and_escape_the_text(client, corpus):
    html = client.get("/resources?q=script").get_data(as_text=True)
    snippet = re.search(r'<p class="snippet">(.*?)</p>', html, re.S).group(1)
    assert "<mark>script</mark>&gt;alert" in snippet
    assert "&lt;/<mark>script</mark>&gt;" in snippet
    assert "<script>alert" not in html
    assert set(re.findall(r"<(\w+)", snippet)) == {"mark"}


def test_did_you_mean_offers_the_corrected_words(client, corpus):
    html = client.get("/resources?q=dispach").get_data(as_text=True)
    assert "Did you mean" in html
    assert '<a href="/resources?q=dispatch">dispatch</a>' in html
    assert titles(client, {"q": "dispatch"})  # and the suggestion finds something


def test_did_you_mean_leaves_operators_alone(app, corpus):
    with unit(app):
        assert library_search(q="dispach NOT zoning").suggestion == "dispatch NOT zoning"
        assert library_search(q="crisis OR dispach").suggestion == "crisis OR dispatch"


def test_a_star_alone_browses_everything(client, corpus):
    assert len(titles(client, {"q": "*"})) == 5
    assert len(titles(client, {"q": " * "})) == 5
    assert len(titles(client)) == 5


# --- hostile input -------------------------------------------------------------------------

HOSTILE = ["a" * 100_000, "(" * 5_000, ")" * 300, "(((((dispatch", '"', "'", '"dispatch', "AND", "OR", "NOT",
           "AND OR NOT", "NOT NOT NOT", "content:secret", f"content:{SECRET_WORD}", "title:", ":", "*:*", "**",
           "?", "dispatch*", "disp?tch", "[a TO z]", "{a TO z}", "dispatch^1000", "dispatch~9", "\\", "%",
           "\x00", "<script>alert(1)</script>", "' OR 1=1 --", "ğüşçö ﷽ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
           "the of and", "   ",
           "a AND (b OR", "year:2024", "published:[0 TO 9999999999]", "id:1"]


def expected_status(q: str) -> int:
    # NUL is refused up front for every request (PostgreSQL cannot take it): a clear 400, never a 500.
    return 400 if "\x00" in q else 200


def test_hostile_queries_never_fail(client, corpus, secret):
    for q in HOSTILE:
        for sort in ("relevance", "title"):
            response = client.get("/resources", query_string={"q": q, "sort": sort})
            assert response.status_code == expected_status(q), repr(q[:40])
            html = response.get_data(as_text=True)
            assert "explains everything" not in html and "<script>alert" not in html, repr(q[:40])


def test_raw_bytes_and_hostile_filters_never_fail(client, corpus):
    for url in ("/resources?q=%ff%fe", "/resources?q=%", "/resources?type=%3Cscript%3E&year=%27%3B--",
                "/resources?topic=" + "x" * 5000, "/resources?sort=%01&page=%7F",
                "/resources?audience=a&audience=b&audience=c&audience=d&audience=e&audience=f&audience=g"):
        assert client.get(url).status_code == 200, url
    assert client.get("/resources?q=%ff%00").status_code == 400


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(max_size=300))
def test_any_text_is_a_safe_query(client, corpus, secret, q):
    response = client.get("/resources", query_string={"q": q, "sort": "title"})
    assert response.status_code == expected_status(q)
    assert "explains everything" not in response.get_data(as_text=True)


# --- members-only, scheduled, early access -----------------------------------------------------

def _search_page(client, q, **params):
    response = client.get("/resources", query_string={"q": q, **params})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _assert_hidden_from(client):
    """What anyone who may not read members-only bodies sees."""
    for q in (SECRET_WORD, f'"{SECRET_WORD} protocol"', f"content:{SECRET_WORD}", f"{SECRET_WORD} OR nothing",
              "everything explains", "quokka protocol", f"quokka {SECRET_WORD}"):
        for sort in ("relevance", "title", "newest"):
            html = _search_page(client, q, sort=sort)
            assert MEMBERS_ONLY["title"] not in html, (q, sort)
            assert "explains everything" not in html and f"<mark>{SECRET_WORD}" not in html
    # Found by its public fields, but the snippet never comes from the body.
    for q in ("quokka", "quokkas members", "*"):
        html = _search_page(client, q)
        assert MEMBERS_ONLY["title"] in html
        assert "explains everything" not in html and SECRET_WORD not in html
    # "Did you mean" never offers a word that only the body holds.
    html = _search_page(client, SECRET_WORD[:-1])
    assert SECRET_WORD not in html


def test_members_only_bodies_are_not_searchable_anonymously(client, corpus, secret):
    _assert_hidden_from(client)


def test_members_only_bodies_are_not_searchable_before_verifying(app, client, corpus, secret):
    create_member(app, verified=False)
    login(client)
    _assert_hidden_from(client)


def test_a_body_word_cannot_be_guessed_by_excluding_it(app, corpus, secret):
    # "quokka NOT <word>" must not tell an outsider whether <word> is in the members-only body.
    with unit(app):
        guess_right = library_search(q=f"quokka NOT {SECRET_WORD}")
        guess_wrong = library_search(q="quokka NOT xylophone")
        assert guess_right.ids == guess_wrong.ids == [secret]
        assert guess_right.total == guess_wrong.total == 1
        assert library_search(q=f"quokka NOT {SECRET_WORD}", can_read_members=True).ids == []


def test_verified_members_find_the_body_with_a_snippet(app, client, corpus, secret):
    create_member(app)
    login(client)
    html = _search_page(client, SECRET_WORD)
    assert result_titles(html) == [MEMBERS_ONLY["title"]]
    snippet = re.search(r'<p class="snippet">(.*?)</p>', html, re.S).group(1)
    assert f"<mark>{SECRET_WORD}</mark> protocol" in snippet


def test_scheduled_resources_are_found_only_from_their_time(app, client, corpus):
    moment = utcnow() + timedelta(days=2)
    scheduled = make_resource(app, title="Embargoed wombat report", type="research", publish_at=moment)
    assert found_ids(app, "wombat") == []
    # Not in the index before its time, so nothing about it (words, counts, spelling) reaches a search;
    # the periodic sync adds it once it is due.
    assert sync_at(app, moment - timedelta(minutes=1)).ok
    assert found_ids(app, "wombat", now=moment) == []
    assert sync_at(app, moment).missing == [("resource", scheduled)]
    assert found_ids(app, "wombat", now=moment - timedelta(seconds=1)) == []
    assert found_ids(app, "wombat", now=moment) == [scheduled]
    assert scheduled not in found_ids(app, "*")
    assert scheduled in found_ids(app, "*", now=moment + timedelta(hours=1))
    assert titles(client, {"q": "wombat"}) == []
    assert "Embargoed wombat report" not in client.get("/resources").get_data(as_text=True)
    with unit(app):
        assert str(moment.year) not in dict(library_search(q="*").facets["year"])


def test_a_resource_published_in_the_past_is_found_at_once(app, corpus):
    past = make_resource(app, title="Backdated numbat memo", type="policy", publish_at=utcnow() - timedelta(days=30))
    assert found_ids(app, "numbat") == [past]


def test_early_access_ends_by_itself(app, client, corpus):
    today = utcnow().date()
    opened = make_resource(app, title="Opened echidna notes", type="guide", access="members",
                           members_until=today - timedelta(days=1), body="The platypus appendix is public now.")
    closed = make_resource(app, title="Closed echidna notes", type="guide", access="members",
                           members_until=today + timedelta(days=10), body="The platypus chapter is for members.")
    html = _search_page(client, "platypus")
    assert result_titles(html) == ["Opened echidna notes"]
    assert "<mark>platypus</mark> appendix" in html
    # No job flips it: the same index answers differently once the date has passed.
    # The periodic sync notices the date: the closed one is indexed as public from then on.
    later = utcnow() + timedelta(days=11)
    assert found_ids(app, "platypus", now=later) == [opened]
    assert sync_at(app, later - timedelta(days=2)).ok
    assert sync_at(app, later).stale == [("resource", closed)]
    assert sorted(found_ids(app, "platypus", now=later)) == sorted([opened, closed])


def test_an_empty_library_searches_cleanly(app, client):
    for url in ("/resources", "/resources?q=wombat", "/resources?q=*&sort=title", "/resources?q=dispach",
                "/resources?type=guide", "/resources/feed.atom?q=wombat"):
        assert client.get(url).status_code == 200, url
    make_resource(app, title="Only a draft", status="draft")  # a write that leaves the index empty
    assert found_ids(app, "draft") == [] and found_ids(app, "*") == []
    assert "0 resources" in client.get("/resources?q=draft").get_data(as_text=True)


def test_a_search_too_broad_for_the_budget_matches_titles_and_summaries_and_says_so(app, client, monkeypatch):
    from portal.search import parsing

    in_title = make_resource(app, title="Wombat dispatch guide", body="Nothing else.")
    make_resource(app, title="Another guide", body="The wombat appears only in this body.")
    monkeypatch.setattr(parsing, "WORK_BUDGET", 0)
    with unit(app):
        result = library_search(q="wombat")
    assert result.broad and result.ids == [in_title]
    page = client.get("/resources?q=wombat").get_data(as_text=True)
    assert "looked at titles and summaries only" in page


def test_snippets_keep_a_heading_apart_from_the_paragraph_after_it(app, client):
    body = "## How it works\nMinneapolis's unarmed responders answer behavioral calls.\n\n- First item\n- Second item"
    make_resource(app, title="Responders", body=body)
    html = client.get("/resources?q=minneapolis").get_data(as_text=True)
    snippet = re.search(r'<p class="snippet">(.*?)</p>', html, re.S).group(1)
    assert "How it works · <mark>Minneapolis</mark>" in snippet
    assert "calls. · First item · Second item" in snippet
    assert "works Minneapolis" not in snippet


def test_markdown_as_text_keeps_blocks_apart():
    from portal.markdown import markdown_to_text

    text = markdown_to_text("# Title\nFirst line\nsame paragraph **bold** [link](https://x.org)\n\n1. one\n2. two\n"
                            "> quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n---\nAfter the rule")
    assert text.split("\n\n") == ["Title", "First line same paragraph bold link", "one", "two", "quoted",
                                  "| a | b |", "| 1 | 2 |", "After the rule"]
