"""The one door to Whoosh: schema, indexing after commits, queries with facets and snippets, rebuild, sync.

The database is the source of truth; the index is derived from it. Only published
resources are indexed (scheduled ones too: the moment they become visible is checked
at query time, so scheduling needs no job). Callers use `from portal import search`.
"""
from portal.search.index import (IndexReport, SearchUnavailable, compare, current_searcher, document_for,
                                 forget_index, index_resources, open_index, published_count, rebuild,
                                 remove_resource_ids, schema_is_current, sync)
from portal.search.query import FACETS, MAX_QUERY_CHARS, SORTS, SearchResult, clean_query, search

__all__ = ["FACETS", "MAX_QUERY_CHARS", "SORTS", "IndexReport", "SearchResult", "SearchUnavailable", "clean_query",
           "compare", "current_searcher", "document_for", "forget_index", "index_resources", "open_index",
           "published_count", "rebuild", "remove_resource_ids", "schema_is_current", "search", "sync"]
