"""The search findings of the security review: bounded work for any query, no word or order that depends on text
the asker may not read, and operator soup that never fails (page, feed, every sort, alerts)."""
import time
import tracemalloc
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from whoosh.query import Every, Phrase, Term

from portal import search
from portal.database import utcnow
from portal.library import alerts, attachments, services
from portal.library.search_docs import reads_members_only
from portal.search import parsing
from tests.conftest import (TEST_DATABASE_URL, _empty_database, create_member, login, make_app,
                            throwaway_postgres_database, unit)
from tests.library_helpers import library_search, make_resource, result_titles


def _at(day: int) -> datetime:
    return datetime(2024, 1, day, 12, tzinfo=timezone.utc)


# --- 1. the work of any query is bounded before it runs -------------------------------------------------------

ROWS = 4_000  # as in the report: a public CSV of 4,000 rows holding both words


@pytest.fixture
def worst_case(app):
    """Documents built to be worst-case for positions: each word thousands of times in one document, in the
    body and in a CSV file's text."""
    ids = []
    for n in range(4):
        ids.append(make_resource(app, title=f"Crisis log {n}", summary="Call records.",
                                 body="crisis response " * ROWS, publish_at=_at(n + 1)))
    with unit(app):
        resource = services.get_resource(ids[0])
        attachments.attach_file(resource, actor=None, filename="calls.csv", data=b"crisis,response\n" * ROWS,
                                extract_now=True)
    return ids


HOSTILE = [
    '"crisis response"~100000',
    '"crisis response crisis response crisis response crisis response crisis response"~99999',
    '"' + "-".join(["crisis", "response"] * 60) + '"~5000',  # one word to the parser, 120 to the analyzer
    "crisis* respon?e cr*s*s", "crisis~5 response~9", "crisis~ response~", "[a TO z] {crisis TO response}",
    "crisis OR response OR call OR log OR records OR crisis OR response OR call OR log OR records",
    "-".join(["crisis", "response"] * 60),
    '"crisis response"~100000 OR "response crisis"~100000 OR "crisis crisis"~100000',
    "crisis^1000 response^99999",
]


def test_every_query_kind_is_bounded_by_what_it_will_do(app, worst_case):
    with unit(app):
        schema = search.current_searcher().schema
        fields = ("title", "summary", "body", "restricted")
        for q in HOSTILE:
            try:
                query = parsing.parse(parsing.clean_query(q), fields, schema)
            except parsing.TooManyTerms:
                continue  # refused with a message (below)
            leaves = list(query.leaves())
            # Only terms and phrases reach Whoosh: no wildcard, fuzzy or range expansion.
            assert {type(leaf) for leaf in leaves} <= {Term, Phrase, Every}, q
            for leaf in leaves:
                if isinstance(leaf, Phrase):
                    assert leaf.slop <= parsing.MAX_SLOP and len(leaf.words) <= parsing.MAX_PHRASE_WORDS, q
        huge = parsing.parse('"crisis response"~100000', fields, schema)
        assert {leaf.slop for leaf in huge.leaves()} == {parsing.MAX_SLOP}
        # The cost counts positions, not documents: four documents, 40,000 positions times the slop window.
        assert parsing.cost(search.current_searcher().reader(), huge, fields) > parsing.WORK_BUDGET
        result = library_search('"crisis response"~100000')
        assert result.broad and result.error is None  # titles and summaries only, and the page says so
        many = "-".join(f"crisis{n}" for n in range(40))  # one word to the parser, 40 terms in each field
        assert library_search(many).error == "That search has too many words: use fewer."


def test_no_request_costs_more_than_a_second_or_100_mb(app, client, worst_case):
    client.get("/resources?q=warm")  # the searcher is opened once per process, as on a running server
    for q in HOSTILE:
        for sort in ("relevance", "newest"):
            start = time.process_time()
            response = client.get("/resources", query_string={"q": q, "sort": sort, "type": "toolkit"})
            cpu = time.process_time() - start
            assert response.status_code == 200, q
            assert cpu < 1.0, (q, sort, cpu)
        tracemalloc.start()
        try:
            assert client.get("/resources", query_string={"q": q + " call"}).status_code == 200
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 100 * 2 ** 20, (q, peak)


# --- 2, 3. nothing a visitor gets depends on text they may not read ---------------------------------------------

GUESS = "zephyrine"
ABSENT = "xylophant"  # in no document of either library


def _library(app, hidden_word: str) -> dict:
    """Public resources about quokkas, a members-only one whose body and file hold `hidden_word`, a scheduled
    one and a draft that hold it in their titles."""
    ids = {
        "census": make_resource(app, title="Quokka census",
                                summary="Counting quokkas: a response toolkit for Denver crisis teams.",
                                body="A quokka census, island by island.",
                                publish_at=_at(1), topics=["wildlife"]),
        "habitat": make_resource(app, title="Habitat notes", summary="Where they live.",
                                 body="Quokka habitat and quokka diets.", publish_at=_at(2), type="guide"),
        "secret": make_resource(app, title="Quokka field guide", summary="An early release about quokkas.",
                                body=f"The {hidden_word} protocol. {hidden_word} {hidden_word} quokka",
                                access="members", publish_at=_at(3), type="research"),
    }
    with unit(app):
        attachments.attach_file(services.get_resource(ids["secret"]), actor=None, filename="notes.csv",
                                data=f"{hidden_word},quokka\n".encode() * 20, extract_now=True)
    make_resource(app, title=f"The {hidden_word} release", publish_at=utcnow() + timedelta(days=3))
    make_resource(app, title=f"Draft {hidden_word}", status="draft")
    return ids


PROBES = [f"quokka OR {GUESS}^20", GUESS, f"quokka NOT {GUESS}", f'"quokka {GUESS}"', f"{GUESS} quokka",
          f"quokka ANDMAYBE {GUESS}", f"quokka ANDNOT {GUESS}", f"{GUESS} OR island", "quokka", "*",
          f"{GUESS}* OR quokka", f"{GUESS[:-1]}", f"{GUESS} crisiz responze toolkjt denvar"]


def _answers(result) -> tuple:
    return result.ids, result.total, result.facets, result.suggestion, result.broad, result.error


@pytest.fixture
def twin_libraries(tmp_path):
    """Two libraries made the same way, but in one the members-only text holds the guessed word. Each has a
    database of its own: a SQLite file, or on PostgreSQL the test database and a throwaway one beside it."""
    with ExitStack() as stack:
        second = {} if not TEST_DATABASE_URL else {
            "SQLALCHEMY_DATABASE_URI": stack.enter_context(throwaway_postgres_database())}
        apps = {GUESS: make_app(tmp_path / GUESS), ABSENT: make_app(tmp_path / ABSENT, **second)}
        try:
            for word, app in apps.items():
                _library(app, word)
            yield apps
        finally:
            for app in apps.values():
                _empty_database(app)


def test_order_totals_facets_and_suggestions_do_not_depend_on_hidden_text(twin_libraries):
    with_word, without = twin_libraries[GUESS], twin_libraries[ABSENT]
    for q in PROBES:
        for sort in ("relevance", "newest", "title"):
            with unit(with_word):
                seen = _answers(library_search(q, sort=sort))
            with unit(without):  # the same probe, asked of the library whose hidden text lacks the word
                other = _answers(library_search(q, sort=sort))
            assert seen == other, (q, sort)
    # Members do read it: the same probe tells them (the test would prove nothing otherwise).
    with unit(with_word):
        assert library_search(GUESS, can_read_members=True).total == 1
    with unit(without):
        assert library_search(GUESS, can_read_members=True).total == 0


def test_unverified_members_see_what_visitors_see(twin_libraries):
    pages = {}
    for word, app in twin_libraries.items():
        create_member(app, email="new@example.org", verified=False)
        with unit(app):
            from portal.members.services import find_member_by_email

            assert not reads_members_only(find_member_by_email("new@example.org"))
        client = app.test_client()
        login(client, "new@example.org")
        pages[word] = [result_titles(client.get("/resources", query_string={"q": q, "sort": sort})
                                     .get_data(as_text=True)) for q in PROBES for sort in ("relevance", "title")]
    assert pages[GUESS] == pages[ABSENT]


def test_did_you_mean_draws_only_on_readable_text_and_hidden_words_spend_the_budget(twin_libraries):
    app = twin_libraries[GUESS]
    with unit(app):
        # A known hidden word is unknown to a visitor: it uses up a correction like any unknown word.
        assert library_search(f"{GUESS} crisiz responze toolkjt denvar").suggestion == \
            f"{GUESS} crisis response toolkit denvar"
        assert library_search(f"{ABSENT} crisiz responze toolkjt denvar").suggestion == \
            f"{ABSENT} crisis response toolkit denvar"
        # Nor is it ever offered: not from bodies, files, scheduled or draft titles.
        for q in (GUESS[:-1], GUESS[:-1] + "x", f"The {GUESS[:-1]} release", f"draft {GUESS[:-2]}e"):
            suggestion = library_search(q).suggestion or ""
            assert GUESS not in suggestion, q
        assert library_search(f"{GUESS} crisiz", can_read_members=True).suggestion == f"{GUESS} crisis"


# --- 5. operator soup never fails -----------------------------------------------------------------------------

SOUP = st.lists(st.sampled_from(["AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "(", ")", '"', "quokka", "habitat",
                                 "census", "~3", "~99999", "^5", "*", "?", "-", ":", "title:", "[", "]", "TO",
                                 "{", "}", "'", "\\", "+", "zephyr"]), max_size=14)


@pytest.fixture
def quokkas(app):
    return _library(app, GUESS)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=SOUP, glue=st.sampled_from([" ", ""]), sort=st.sampled_from(search.SORTS + ("",)))
def test_operator_soup_never_fails_on_the_page_the_feed_or_any_sort(app, quokkas, parts, glue, sort):
    q = glue.join(parts)
    client = app.test_client()
    assert client.get("/resources", query_string={"q": q, "sort": sort}).status_code == 200, q
    assert client.get("/resources/feed.atom", query_string={"q": q}).status_code == 200, q
    with unit(app):
        for reads in (False, True):
            result = library_search(q, sort=sort or "relevance", can_read_members=reads)
            assert result.error in (None, "Type some words to search for.", "That search has too many words: use fewer.")


def test_a_saved_search_with_andnot_or_andmaybe_does_not_stop_the_alerts(app, runner):
    make_resource(app, title="Quokka census", body="quokka habitat")
    create_member(app, email="saver@example.org")
    with unit(app):
        from portal.members.services import find_member_by_email

        member = find_member_by_email("saver@example.org")
        for q in ("quokka ANDNOT habitat", "quokka ANDMAYBE census", "NOT ANDNOT ANDMAYBE ("):
            alerts.save_search(member=member, args={"q": [q]})
    result = runner.invoke(args=["alerts", "send"])
    assert result.exit_code == 0, result.output
