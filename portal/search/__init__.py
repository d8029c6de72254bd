"""The one door to Whoosh: a generic engine that knows no feature's models.

A feature declares a `DocumentKind` (its facets, how to load its rows, what each row's document is and who
may read which text) in its own `search_docs.py` and registers it; it then indexes rows after commits with
`index_rows`, and searches with `search(SearchRequest(kind=..., ...))`, which returns ranked ids and a total
(the feature loads its rows in that order); `SearchRequest(kinds=(...))` searches several kinds as one
ranked list whose hits are (kind, id) pairs. `rebuild`, `sync` and `compare` iterate over every registered
kind; `sync` is also the periodic job that indexes documents once they are due. Callers use
`from portal import search`.
"""
from portal.search.index import (SearchUnavailable, current_searcher, forget_index, generation, index_rows,
                                 open_index, remove_ids, schema_is_current)
from portal.search.kinds import Document, DocumentKind, Facet, register, version_of
from portal.search.maintenance import DocKey, IndexReport, compare, expected_count, rebuild, sync
from portal.search.parsing import MAX_QUERY_CHARS, clean_query
from portal.search.query import SORTS, SearchRequest, SearchResult, search

__all__ = ["MAX_QUERY_CHARS", "SORTS", "DocKey", "Document", "DocumentKind", "Facet", "IndexReport", "SearchRequest",
           "SearchResult", "SearchUnavailable", "clean_query", "compare", "current_searcher", "expected_count",
           "forget_index", "generation", "index_rows", "open_index", "rebuild", "register", "remove_ids", "schema_is_current",
           "search", "sync", "version_of"]
