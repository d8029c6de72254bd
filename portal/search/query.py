"""Searching one kind or several: the request, matching within the work budget, facets, ranking and the result.

Several kinds are searched as one ranked list (the library lists past webinars among its resources): their
facets are the union of theirs (kinds.register makes sure a facet shared by two is declared the same way),
and each hit says which kind it is, since two kinds number their rows independently."""
import heapq
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from markupsafe import Markup
from whoosh.query import NumericRange, Or, Term

from portal.search import kinds, parsing
from portal.search.cache import searcher_cache
from portal.search.index import SearchUnavailable, current_searcher, open_index, schema_is_current
from portal.search.kinds import DocumentKind, Facet
from portal.search.schema import (HEADLINE_FIELDS, PUBLIC_TEXT_FIELDS, RESTRICTED_TEXT_FIELDS, epoch_seconds,
                                  key_of)
from portal.search.snippets import page_snippets
from portal.search.spelling import did_you_mean

SORTS = ("relevance", "newest", "oldest", "title")
NO_WORDS = "Type some words to search for."
TOO_MANY = "That search has too many words: use fewer."


@dataclass(frozen=True)
class SearchRequest:
    """One search of one kind (`kind=`) or of several (`kinds=`). `reads_restricted` is the kinds' rule
    applied to the viewer (may they read restricted text, e.g. members-only bodies?); it decides which fields
    the query may touch. `exclude_ids` are ids of the one kind searched, or (kind, id) pairs."""

    kind: str = ""
    q: str = ""
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    reads_restricted: bool = False
    now: datetime | None = None
    published_after: datetime | None = None  # only documents published after this moment
    exclude_ids: Collection[int | tuple[str, int]] = ()
    snippets: bool = True
    kinds: tuple[str, ...] = ()

    @property
    def kind_names(self) -> tuple[str, ...]:
        if self.kinds and self.kind:
            raise ValueError("name the kind to search with kind= or kinds=, not both")
        names = tuple(dict.fromkeys(self.kinds)) if self.kinds else (self.kind,) if self.kind else ()
        if not names:
            raise ValueError("a search names the kind it looks in")
        return names


@dataclass
class SearchResult:
    """Ranked hits of one page and the total. `hits` are (kind, id) pairs in ranked order; `ids` are their
    ids, which name rows only when one kind was searched. `snippets` are keyed by id for a `kind=` search and
    by (kind, id) for a `kinds=` one (a resource and an event may share an id); `snippet_for(kind, id)` reads
    them whatever the request's shape."""

    ids: list[int]
    total: int
    facets: dict[str, list[tuple[str, int]]]
    snippets: dict[int | tuple[str, int], Markup]
    suggestion: str | None
    error: str | None = None
    unavailable: bool = False
    broad: bool = False  # matched on titles and summaries only (see parsing.WORK_BUDGET)
    hits: list[tuple[str, int]] = field(default_factory=list)
    hit_snippets: dict[tuple[str, int], Markup] = field(default_factory=dict)

    def snippet_for(self, kind: str, doc_id: int) -> Markup | None:
        return self.hit_snippets.get((kind, doc_id))


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


def _facets(searched: Sequence[DocumentKind]) -> tuple[Facet, ...]:
    """The union of the kinds' facets, in the order they declare them (a shared facet is declared alike)."""
    seen = {}
    for kind in searched:
        for facet in kind.facets:
            seen.setdefault(facet.name, facet)
    return tuple(seen.values())


def _excluded_keys(request: SearchRequest, names: tuple[str, ...]) -> list[str]:
    keys = []
    for item in request.exclude_ids:
        if isinstance(item, tuple):
            keys.append(key_of(*item))
        elif len(names) == 1:
            keys.append(key_of(names[0], item))
        else:
            raise ValueError("with several kinds, exclude (kind, id) pairs: a bare id names no row")
    return keys


def _candidates(searcher, names: tuple[str, ...], plan: _Plan, request: SearchRequest, now: datetime) -> set[int]:
    """Documents of these kinds matching the query, due at `now`, after the other constraints (no facets)."""
    cache = searcher_cache(searcher)
    by_kind = cache.values(searcher, "kind")
    of_kinds = set().union(*(by_kind.get(name, set()) for name in names))
    matched = of_kinds if plan.query is None else _docs(searcher, plan.query) & of_kinds
    # Scheduled documents are indexed only once due; this guards an index that missed an update.
    matched -= cache.scheduled(searcher, now)
    if request.published_after is not None:
        matched &= _docs(searcher, NumericRange("published", epoch_seconds(request.published_after) + 1, None))
    excluded = _excluded_keys(request, names)
    if excluded:
        matched -= _docs(searcher, Or([Term("key", key) for key in excluded]))
    return matched


def _facet_selection(searcher, facets: tuple[Facet, ...], filters) -> dict[str, set[int]]:
    """For each facet with chosen values, the documents having any of them (values of one facet widen). A kind
    without that facet has no document with the value, so filtering on it keeps the kinds that have it."""
    cache = searcher_cache(searcher)
    by_name = {facet.name: facet for facet in facets}
    chosen = {}
    for name, values in (filters or {}).items():
        facet = by_name.get(name)
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


def facet_counts(searcher, facets: tuple[Facet, ...], candidates: set[int],
                 chosen) -> dict[str, list[tuple[str, int]]]:
    """Counts of each facet's values under the other facets' filters but not its own, so choosing a type
    keeps the other types in view with their counts (different facets narrow)."""
    cache = searcher_cache(searcher)
    counted = {}
    for facet in facets:
        base = _narrowed(candidates, chosen, skip=facet.name)
        counts = [(value, len(docs & base)) for value, docs in cache.values(searcher, facet.name).items()]
        counted[facet.name] = sorted(((v, c) for v, c in counts if c), key=lambda vc: (-vc[1], vc[0]))
    return counted


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


def _hits(searcher, docnums: list[int]) -> list[tuple[str, int]]:
    # The key column ("kind:id") names both without unpacking any stored text.
    key_column = searcher.reader().column_reader("key")
    hits = []
    for doc in docnums:
        kind_name, _, doc_id = key_column[doc].partition(":")
        hits.append((kind_name, int(doc_id)))
    return hits


def _snippets(searcher, searched: dict[str, DocumentKind], plan: _Plan, request: SearchRequest, now: datetime,
              docnums: list[int], hits: list[tuple[str, int]]) -> dict[tuple[str, int], Markup]:
    """Snippets of one page, kind by kind: the snippet cutter keys them by id, which two kinds may share."""
    ranking = parsing.ranking_query(plan.query)
    found = {}
    for name, kind in searched.items():
        page = [(doc, doc_id) for doc, (kind_name, doc_id) in zip(docnums, hits) if kind_name == name]
        if not page:
            continue
        # The database has the last word on restricted text: an index that missed an update must not show
        # a body that has since become restricted.
        ids = [doc_id for _, doc_id in page]
        restricted = set() if request.reads_restricted else kind.restricted_ids(ids, now)
        hidden = {doc for doc, doc_id in page if doc_id in restricted}
        cut = page_snippets(searcher, ranking, [doc for doc, _ in page], plan.fields, hidden)
        found.update({(name, doc_id): snippet for doc_id, snippet in cut.items()})
    return found


def search(request: SearchRequest) -> SearchResult:
    """Ranked hits of the kinds asked, the total, facet counts for the current query, and escaped snippets."""
    names = request.kind_names
    searched = {name: kinds.get(name) for name in names}
    facets = _facets(list(searched.values()))
    now = request.now or datetime.now(timezone.utc)
    searcher = _ready_searcher()
    q = parsing.clean_query(request.q)
    plan = _plan(searcher, request, q)
    if plan.error:
        return SearchResult([], 0, {}, {}, None, error=plan.error, broad=plan.broad)
    candidates = _candidates(searcher, names, plan, request, now)
    chosen = _facet_selection(searcher, facets, request.filters)
    matched = _narrowed(candidates, chosen)
    counted = facet_counts(searcher, facets, candidates, chosen)
    browse = plan.query is None
    reads = request.reads_restricted
    if not matched:
        return SearchResult([], 0, counted, {}, None if browse else did_you_mean(searcher, q, reads),
                            broad=plan.broad)
    limit = min(request.page * request.per_page, len(matched))
    docnums = _ordered(searcher, plan, matched, limit)[(request.page - 1) * request.per_page:limit]
    hits = _hits(searcher, docnums)
    found = {}
    if request.snippets and not browse and docnums:
        found = _snippets(searcher, searched, plan, request, now, docnums, hits)
    # A one-kind search keeps its snippets keyed by id, as its callers read them.
    snippets = found if request.kinds else {doc_id: snippet for (_, doc_id), snippet in found.items()}
    suggestion = did_you_mean(searcher, q, reads) if not browse and len(matched) < 3 else None
    return SearchResult([doc_id for _, doc_id in hits], len(matched), counted, snippets, suggestion,
                        broad=plan.broad, hits=hits, hit_snippets=found)
