"""Per-searcher caches: the documents holding each facet value, and those scheduled for later.

Both are rebuilt when the thread's searcher changes (after a commit), so a search never reads a lexicon.
"""
import threading
from datetime import datetime

from whoosh.query import NumericRange

from portal.search.schema import epoch_seconds


class SearcherCache:
    def __init__(self):
        self.searcher = None
        self._values: dict[str, dict[str, set[int]]] = {}
        self._future: dict[int, int] | None = None

    def _for(self, searcher) -> None:
        if self.searcher is not searcher:
            self.searcher, self._values, self._future = searcher, {}, None

    def scheduled(self, searcher, now: datetime) -> set[int]:
        """Documents whose publish time is still ahead (one range query per searcher, not per search)."""
        self._for(searcher)
        if self._future is None and searcher.doc_count_all() == 0:
            self._future = {}  # an index never written to has no columns (Whoosh's EmptyReader raises)
        if self._future is None:
            column = searcher.reader().column_reader("published")
            self._future = {doc: column[doc] for doc in
                            searcher.docs_for_query(NumericRange("published", epoch_seconds(now) + 1, None))}
        moment = epoch_seconds(now)
        return {doc for doc, published in self._future.items() if published > moment}

    def values(self, searcher, fieldname: str) -> dict[str, set[int]]:
        """value -> live documents holding it, for one field."""
        self._for(searcher)
        if fieldname not in self._values:
            reader = searcher.reader()
            if fieldname not in searcher.schema:
                self._values[fieldname] = {}
            else:
                self._values[fieldname] = {
                    value.decode("utf-8") if isinstance(value, bytes) else value:
                        set(reader.postings(fieldname, value).all_ids())  # deletions filtered out
                    for value in reader.lexicon(fieldname) if value
                }
        return self._values[fieldname]


_local = threading.local()


def searcher_cache(searcher) -> SearcherCache:
    cache = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = SearcherCache()
    cache._for(searcher)
    return cache
