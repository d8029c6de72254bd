"""Queries: parsing any input safely, visibility, facet counts and ranking."""
import heapq
import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone

from markupsafe import Markup
from whoosh.qparser import MultifieldParser, QueryParser
from whoosh.qparser.plugins import FieldsPlugin, RangePlugin, WildcardPlugin
from whoosh.query import And, CompoundQuery, Every, NumericRange, Or, Phrase, Term

from portal.library.models import members_only_now
from portal.search.index import (TEXT_FIELDS, SearchUnavailable, epoch_seconds, current_searcher, open_index,
                                 schema_is_current)
from portal.search.snippets import members_only_rows, page_snippets, did_you_mean

MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 10
FACETS = ("type", "audience", "topic", "jurisdiction", "year")
SORTS = ("relevance", "newest", "oldest", "title")
PUBLIC_TEXT_FIELDS = ("title", "summary")
# Postings the full-text pass may read (a phrase's count thrice, for its position checks). Whoosh cannot be
# interrupted mid-match, so the work is bounded before it starts: a broader search matches titles and
# summaries only, which keeps any query under a second of CPU at 50,000 resources.
CONTENT_BUDGET = 60_000


@dataclass
class SearchResult:
    ids: list[int]
    total: int
    facets: dict[str, list[tuple[str, int]]]
    snippets: dict[int, Markup]
    suggestion: str | None
    error: str | None = None
    unavailable: bool = False
    broad: bool = False  # matched on titles and summaries only (see CONTENT_BUDGET)


def _parser(fields, schema):
    parser = MultifieldParser(list(fields), schema) if len(fields) > 1 else QueryParser(fields[0], schema)
    # No field:value syntax (it could reach members-only text), no wildcards or ranges (costly).
    for plugin in (FieldsPlugin, WildcardPlugin, RangePlugin):
        parser.remove_plugin_class(plugin)
    return parser


def clean_query(q: str) -> str:
    q = " ".join((q or "").split())[:MAX_QUERY_CHARS]
    return " ".join(q.split(" ")[:MAX_QUERY_WORDS])


def _parse(q: str, fields, schema):
    try:
        return _parser(fields, schema).parse(q)
    except (RecursionError, ValueError, TypeError, IndexError, KeyError, AttributeError):
        # Whoosh's parser has corners that raise on odd input ("NOT NOT NOT"); fall back to the plain words,
        # lower-cased so that none of them is read as an operator again.
        words = re.findall(r"\w+", q.lower())
        return _parser(fields, schema).parse(" ".join(words)) if words else None


class _FacetCache:
    """Per-searcher sets of document numbers for each facet value, and the documents scheduled for later
    (rebuilt when the searcher changes, that is after a commit)."""

    def __init__(self):
        self.searcher = None
        self.values: dict[str, dict[str, set[int]]] = {}
        self.future: dict[int, int] | None = None

    def _for(self, searcher) -> None:
        if self.searcher is not searcher:
            self.searcher, self.values, self.future = searcher, {}, None

    def scheduled(self, searcher, now: datetime) -> set[int]:
        """Documents whose publish time is still ahead (one range query per searcher, not per search)."""
        self._for(searcher)
        if self.future is None and searcher.doc_count_all() == 0:
            self.future = {}  # an index never written to has no columns (Whoosh's EmptyReader raises)
        if self.future is None:
            column = searcher.reader().column_reader("published")
            self.future = {doc: column[doc] for doc in
                           searcher.docs_for_query(NumericRange("published", epoch_seconds(now) + 1, None))}
        moment = epoch_seconds(now)
        return {doc for doc, published in self.future.items() if published > moment}

    def get(self, searcher, fieldname: str) -> dict[str, set[int]]:
        self._for(searcher)
        if fieldname not in self.values:
            reader = searcher.reader()
            self.values[fieldname] = {
                value.decode("utf-8") if isinstance(value, bytes) else value:
                    set(reader.postings(fieldname, value).all_ids())
                for value in reader.lexicon(fieldname) if value
            }
        return self.values[fieldname]


_local = threading.local()


def _facet_cache() -> _FacetCache:
    cache = getattr(_local, "facet_cache", None)
    if cache is None:
        cache = _local.facet_cache = _FacetCache()
    return cache


def _ranking_query(query):
    """The query used only to order documents already known to match: a phrase is ranked by its words,
    so its costly position check runs once (in the matching pass), not twice."""
    if isinstance(query, Phrase):
        return And([Term(query.fieldname, word, boost=query.boost) for word in query.words])
    if isinstance(query, CompoundQuery):
        return query.__class__([_ranking_query(sub) for sub in query.subqueries], boost=query.boost)
    return query


def _cost(searcher, query, fields=("content",)) -> int:
    reader = searcher.reader()
    cost = sum(reader.doc_frequency(fieldname, text) for fieldname, text in query.iter_all_terms()
               if fieldname in fields)
    return cost * 3 if any(isinstance(leaf, Phrase) for leaf in query.leaves()) else cost


def _docs(searcher, query) -> set[int]:
    return set(searcher.docs_for_query(query)) if query is not None else set()


def _members_only_docs(searcher, now: datetime, among: set[int]) -> set[int]:
    """Which of these documents are members-only at this moment (early access ends by itself)."""
    today = now.date()
    members = _facet_cache().get(searcher, "access").get("members", set()) & among
    if not members:
        return set()
    until = searcher.reader().column_reader("members_until")
    return {doc for doc in members
            if members_only_now("members", date.fromordinal(until[doc]) if until[doc] else None, today)}


def search(*, q: str = "", filters: dict[str, list[str]] | None = None, sort: str = "relevance", page: int = 1,
           per_page: int = 20, can_read_members: bool = False, now: datetime | None = None,
           published_after: datetime | None = None, exclude_ids=(), snippets: bool = True) -> SearchResult:
    """Ranked resource ids, the total, facet counts for the current query, and escaped snippets."""
    now = now or datetime.now(timezone.utc)
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items() if k in FACETS}
    open_index()
    if not schema_is_current():
        raise SearchUnavailable("the search index was built by an older version: run `flask search rebuild`")
    searcher = current_searcher()
    schema = searcher.schema
    q = clean_query(q)
    browse = q in ("", "*")
    broad = False
    if browse:
        query, q_public = Every(), None
    else:
        query = _parse(q, TEXT_FIELDS, schema)
        q_public = _parse(q, PUBLIC_TEXT_FIELDS, schema) if not can_read_members else None
        if query is None:
            return SearchResult([], 0, {}, {}, None, error="Type some words to search for.")
        if _cost(searcher, query) > CONTENT_BUDGET:
            query = q_public or _parse(q, PUBLIC_TEXT_FIELDS, schema)
            broad = True
            if query is None:
                return SearchResult([], 0, {}, {}, None, error="Type some words to search for.")
            if sort in ("", "relevance") and _cost(searcher, query, PUBLIC_TEXT_FIELDS) > CONTENT_BUDGET:
                sort = "newest"  # scoring that many matches is the cost: order them without it

    matched = set(searcher.reader().all_doc_ids()) if browse else _docs(searcher, query)
    if not can_read_members and not browse:
        # Members-only resources match this viewer on their public fields alone, so that not even the absence
        # of a word ("quokka NOT secret") tells anything about a body they may not read.
        public = _docs(searcher, q_public)
        members_now = _members_only_docs(searcher, now, matched | public)
        if (public & members_now) - matched:
            query = Or([query, q_public])  # those match the public fields only: rank them by that
        matched = (matched - members_now) | (public & members_now)
    matched -= _facet_cache().scheduled(searcher, now)
    if published_after is not None:
        matched &= _docs(searcher, NumericRange("published", epoch_seconds(published_after) + 1, None))
    if exclude_ids:
        matched -= _docs(searcher, _ids_query(exclude_ids))

    cache = _facet_cache()
    for fieldname, values in filters.items():
        if not values:
            continue
        # Values of one facet widen (toolkits or policies); different facets narrow.
        value_docs = cache.get(searcher, fieldname)
        matched &= set().union(*(value_docs.get(value.lower() if fieldname == "topic" else value, set())
                                 for value in values))
    facets = {}
    for fieldname in FACETS:
        counts = [(value, len(docs & matched)) for value, docs in cache.get(searcher, fieldname).items()]
        facets[fieldname] = sorted(((v, c) for v, c in counts if c), key=lambda vc: (-vc[1], vc[0]))

    total = len(matched)
    if total == 0:
        return SearchResult([], 0, facets, {}, None if browse else did_you_mean(searcher, q), broad=broad)
    sort = sort if sort in SORTS else "relevance"
    if browse and sort == "relevance":
        sort = "newest"
    limit = min(page * per_page, total)
    ranking = _ranking_query(query)
    sortedby = {"newest": ("published", True), "oldest": ("published", False), "title": ("title_sort", False)}
    if sort == "relevance":
        docnums = [hit.docnum for hit in searcher.search(ranking, filter=matched, limit=limit)]
    else:
        # Ordering by a column needs no scoring: the cheapest way through a large match set.
        field_name, reverse = sortedby[sort]
        column = searcher.reader().column_reader(field_name)
        pick = heapq.nlargest if reverse else heapq.nsmallest
        docnums = pick(limit, matched, key=lambda doc: (column[doc], -doc if reverse else doc))
    docnums = docnums[(page - 1) * per_page:limit]
    id_column = searcher.reader().column_reader("id")
    ids = [int(id_column[doc]) for doc in docnums]
    found = {}
    if snippets and not browse and docnums:
        hidden = set()
        if not can_read_members:
            stale = members_only_rows(ids, now)
            hidden = _members_only_docs(searcher, now, set(docnums)) | {
                doc for doc, resource_id in zip(docnums, ids) if resource_id in stale}
        found = page_snippets(searcher, ranking, docnums, hidden)
    suggestion = did_you_mean(searcher, q) if not browse and total < 3 else None
    return SearchResult(ids, total, facets, found, suggestion, broad=broad)


def _ids_query(ids):
    return Or([Term("id", str(i)) for i in ids])
