"""Searching one kind: the request, matching within the work budget, facets, ranking and the result."""
import heapq
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from markupsafe import Markup
from whoosh.query import NumericRange, Or, Term

from portal.search import kinds, parsing
from portal.search.cache import searcher_cache
from portal.search.index import SearchUnavailable, current_searcher, open_index, schema_is_current
from portal.search.kinds import DocumentKind
from portal.search.schema import (HEADLINE_FIELDS, PUBLIC_TEXT_FIELDS, RESTRICTED_TEXT_FIELDS, epoch_seconds,
                                  key_of)
from portal.search.snippets import page_snippets
from portal.search.spelling import did_you_mean

SORTS = ("relevance", "newest", "oldest", "title")
NO_WORDS = "Type some words to search for."
TOO_MANY = "That search has too many words: use fewer."


@dataclass(frozen=True)
class SearchRequest:
    """One search of one kind. `reads_restricted` is the kind's rule applied to the viewer (may they read
    restricted text, e.g. members-only bodies?); it decides which fields the query may touch."""

    kind: str
    q: str = ""
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    reads_restricted: bool = False
    now: datetime | None = None
    published_after: datetime | None = None  # only documents published after this moment
    exclude_ids: Collection[int] = ()
    snippets: bool = True


@dataclass
class SearchResult:
    ids: list[int]
    total: int
    facets: dict[str, list[tuple[str, int]]]
    snippets: dict[int, Markup]
    suggestion: str | None
    error: str | None = None
    unavailable: bool = False
    broad: bool = False  # matched on titles and summaries only (see parsing.WORK_BUDGET)


@dataclass
class _Plan:
    query: object  # the matching query (None: browse everything)
    fields: tuple[str, ...]
    sort: str
    broad: bool = False
    error: str | None = None


def _plan(searcher, request: SearchRequest, q: str) -> _Plan:
    """Parse for the fields this viewer may read, and keep the work within the budget."""
    sort = request.sort if request.sort in SORTS else "relevance"
    if q in ("", "*"):
        return _Plan(None, (), "newest" if sort == "relevance" else sort)
    fields = PUBLIC_TEXT_FIELDS + (RESTRICTED_TEXT_FIELDS if request.reads_restricted else ())
    try:
        query = parsing.parse(q, fields, searcher.schema)
        if query is None:
            return _Plan(None, fields, sort, error=NO_WORDS)
        reader = searcher.reader()
        if parsing.cost(reader, query, fields) <= parsing.WORK_BUDGET:
            return _Plan(query, fields, sort)
        query = parsing.parse(q, HEADLINE_FIELDS, searcher.schema)
    except parsing.TooManyTerms:
        return _Plan(None, fields, sort, error=TOO_MANY)
    if query is None:
        return _Plan(None, fields, sort, error=NO_WORDS)
    if parsing.cost(reader, query, HEADLINE_FIELDS) > parsing.WORK_BUDGET:
        if sort == "relevance":
            sort = "newest"  # scoring that many matches is the cost: order them without it
        query = parsing.ranking_query(query)  # phrases as their words: no position checks over that many
    return _Plan(query, HEADLINE_FIELDS, sort, broad=True)


def _docs(searcher, query) -> set[int]:
    return set(searcher.docs_for_query(query)) if query is not None else set()


def _candidates(searcher, kind: DocumentKind, plan: _Plan, request: SearchRequest, now: datetime) -> set[int]:
    """Documents of this kind matching the query, due at `now`, after the other constraints (no facets)."""
    cache = searcher_cache(searcher)
    of_kind = cache.values(searcher, "kind").get(kind.name, set())
    matched = set(of_kind) if plan.query is None else _docs(searcher, plan.query) & of_kind
    # Scheduled documents are indexed only once due; this guards an index that missed an update.
    matched -= cache.scheduled(searcher, now)
    if request.published_after is not None:
        matched &= _docs(searcher, NumericRange("published", epoch_seconds(request.published_after) + 1, None))
    if request.exclude_ids:
        matched -= _docs(searcher, Or([Term("key", key_of(kind.name, i)) for i in request.exclude_ids]))
    return matched


def _facet_selection(searcher, kind: DocumentKind, filters) -> dict[str, set[int]]:
    """For each facet with chosen values, the documents having any of them (values of one facet widen)."""
    cache = searcher_cache(searcher)
    chosen = {}
    for name, values in (filters or {}).items():
        facet = kind.facet(name)
        values = [v for v in values if v] if facet is not None else []
        if values:
            value_docs = cache.values(searcher, name)
            chosen[name] = set().union(*(value_docs.get(facet.normalise(v), set()) for v in values))
    return chosen


def _narrowed(candidates: set[int], chosen: dict[str, set[int]], skip: str | None = None) -> set[int]:
    out = candidates
    for name, docs in chosen.items():
        if name != skip:
            out = out & docs
    return out


def facet_counts(searcher, kind: DocumentKind, candidates: set[int], chosen) -> dict[str, list[tuple[str, int]]]:
    """Counts of each facet's values under the other facets' filters but not its own, so choosing a type
    keeps the other types in view with their counts (different facets narrow)."""
    cache = searcher_cache(searcher)
    facets = {}
    for facet in kind.facets:
        base = _narrowed(candidates, chosen, skip=facet.name)
        counts = [(value, len(docs & base)) for value, docs in cache.values(searcher, facet.name).items()]
        facets[facet.name] = sorted(((v, c) for v, c in counts if c), key=lambda vc: (-vc[1], vc[0]))
    return facets


def _ordered(searcher, plan: _Plan, matched: set[int], limit: int) -> list[int]:
    if plan.sort == "relevance":
        ranking = parsing.ranking_query(plan.query)
        return [hit.docnum for hit in searcher.search(ranking, filter=matched, limit=limit)]
    # Ordering by a column needs no scoring: the cheapest way through a large match set.
    field_name, reverse = {"newest": ("published", True), "oldest": ("published", False),
                           "title": ("title_sort", False)}[plan.sort]
    column = searcher.reader().column_reader(field_name)
    pick = heapq.nlargest if reverse else heapq.nsmallest
    return pick(limit, matched, key=lambda doc: (column[doc], -doc if reverse else doc))


def _ready_searcher():
    open_index()
    if not schema_is_current():
        raise SearchUnavailable("the search index was built by an older version: run `flask search rebuild`")
    return current_searcher()


def search(request: SearchRequest) -> SearchResult:
    """Ranked ids of one kind, the total, facet counts for the current query, and escaped snippets."""
    kind = kinds.get(request.kind)
    now = request.now or datetime.now(timezone.utc)
    searcher = _ready_searcher()
    q = parsing.clean_query(request.q)
    plan = _plan(searcher, request, q)
    if plan.error:
        return SearchResult([], 0, {}, {}, None, error=plan.error, broad=plan.broad)
    candidates = _candidates(searcher, kind, plan, request, now)
    chosen = _facet_selection(searcher, kind, request.filters)
    matched = _narrowed(candidates, chosen)
    facets = facet_counts(searcher, kind, candidates, chosen)
    browse = plan.query is None
    reads = request.reads_restricted
    if not matched:
        return SearchResult([], 0, facets, {}, None if browse else did_you_mean(searcher, q, reads), broad=plan.broad)
    limit = min(request.page * request.per_page, len(matched))
    docnums = _ordered(searcher, plan, matched, limit)[(request.page - 1) * request.per_page:limit]
    id_column = searcher.reader().column_reader("id")
    ids = [int(id_column[doc]) for doc in docnums]
    found = {}
    if request.snippets and not browse and docnums:
        # The database has the last word on restricted text: an index that missed an update must not show
        # a body that has since become restricted.
        restricted = set() if reads else kind.restricted_ids(ids, now)
        hidden = {doc for doc, i in zip(docnums, ids) if i in restricted}
        found = page_snippets(searcher, parsing.ranking_query(plan.query), docnums, plan.fields, hidden)
    suggestion = did_you_mean(searcher, q, reads) if not browse and len(matched) < 3 else None
    return SearchResult(ids, len(matched), facets, found, suggestion, broad=plan.broad)
