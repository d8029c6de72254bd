"""The index folder: opening it, one searcher per thread, and writing documents after commits."""
import os
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from flask import current_app
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.index import LockError
from whoosh.searching import Searcher

from portal.search import kinds, readers
from portal.search.kinds import DocumentKind
from portal.search.schema import build_schema, fields_for, key_of, schema_version

WRITE_TIMEOUT = 10.0  # seconds to wait for another process's writer


class SearchUnavailable(Exception):
    """The index could not be read or written (an old schema, a writer that held it too long); `flask search
    sync` or `rebuild` repairs."""


_indexes: dict[str, whoosh_index.Index] = {}
_indexes_lock = threading.Lock()
_local = threading.local()


def index_dir() -> str:
    return os.path.abspath(current_app.config["SEARCH_INDEX_DIR"])


def _version_file(path: str) -> Path:
    return Path(path) / "schema-version"


def schema_is_current(path: str | None = None) -> bool:
    version = _version_file(path or index_dir())
    return version.is_file() and version.read_text().strip() == schema_version()


def create(path: str | None = None):
    """A new, empty index in the folder (replacing what was there), remembered as the open one."""
    path = path or index_dir()
    forget_index(path)
    Path(path).mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(path, build_schema())
    _version_file(path).write_text(schema_version())
    with _indexes_lock:
        _indexes[path] = ix
    return ix


def open_index(path: str | None = None):
    """The index at SEARCH_INDEX_DIR, created on first use. An index written by an older schema still opens
    for writing; `search()` refuses it until `flask search rebuild` (or sync) recreates it."""
    path = path or index_dir()
    with _indexes_lock:
        ix = _indexes.get(path)
    if ix is None:
        if not whoosh_index.exists_in(path):
            return create(path)
        with _indexes_lock:
            ix = _indexes.setdefault(path, whoosh_index.open_dir(path))
    return ix


def generation() -> int:
    """The index's current generation: it grows with every commit to the index, from any process (a cheap
    directory listing, for HTTP validators of pages that show search results)."""
    return open_index().latest_generation()


def current_searcher():
    """A searcher kept for this thread, brought up to date (cheaply, see readers.py) when the index changed."""
    path = index_dir()
    searchers = getattr(_local, "searchers", None)
    if searchers is None:
        searchers = _local.searchers = {}
    searcher = searchers.get(path)
    ix = open_index(path)
    if searcher is None or not searcher.up_to_date():
        previous = searcher.reader() if searcher is not None else None
        if previous is not None and not readers.reusable(previous):
            searcher.close()  # nothing in it can be carried over
            previous = None
        # A reusable old searcher is dropped, not closed: its still-current readers live on in the new one,
        # and refreshed_reader closes those of segments merged away.
        searcher = Searcher(readers.refreshed_reader(ix, previous), fromindex=ix)
        searchers[path] = searcher
    return searcher


def forget_index(path: str | None = None) -> None:
    """Drop cached handles (after the folder was removed or replaced)."""
    path = path or index_dir()
    with _indexes_lock:
        _indexes.pop(path, None)
    searcher = getattr(_local, "searchers", {}).pop(path, None)
    if searcher is not None:
        searcher.close()


def writer(**kwargs):
    """A writer that leaves posting blocks uncompressed: zlib.decompress dominated query time at 10k+
    documents, and the disk it saves is not worth the CPU on every search."""
    try:
        return open_index().writer(timeout=WRITE_TIMEOUT, codec=W3Codec(compression=0), **kwargs)
    except LockError as exc:
        raise SearchUnavailable("the search index is locked by another writer") from exc


def _commit(w, many: bool) -> None:
    # Small updates skip Whoosh's merge, which can stall a commit for most of a second;
    # a merge runs once the segments pile up.
    if many or len(w.segments) > 12:
        w.commit()
    else:
        w.commit(merge=False)


def _write(kind: DocumentKind, rows: Iterable, removed_ids: Iterable[int], now: datetime) -> None:
    rows, removed_ids = list(rows), list(removed_ids)
    if not rows and not removed_ids:
        return
    w = writer()
    try:
        # Taken under the write lock, so it sees exactly the writer's segments: the writer's own
        # update_document would open a fresh reader over every segment just to find the old copy.
        searcher = current_searcher()
        for doc_id in removed_ids:
            w.delete_by_term("key", key_of(kind.name, doc_id), searcher=searcher)
        for row in rows:
            document = kind.document(row, now)
            w.delete_by_term("key", key_of(kind.name, row.id), searcher=searcher)
            if document is not None:
                w.add_document(**fields_for(kind, document))
        _commit(w, many=len(rows) > 50)
    except BaseException:
        if not w.is_closed:
            w.cancel()  # releases the lock at once rather than at garbage collection
        raise


def index_rows(kind: DocumentKind | str, rows: Iterable, now: datetime | None = None) -> None:
    """Bring these rows' documents in line with the database (added, replaced, or removed when the kind says
    they must not be indexed now). Call after the commit."""
    kind = kinds.get(kind) if isinstance(kind, str) else kind
    _write(kind, rows, (), now or datetime.now(timezone.utc))


def remove_ids(kind: DocumentKind | str, ids: Iterable[int]) -> None:
    kind = kinds.get(kind) if isinstance(kind, str) else kind
    _write(kind, (), ids, datetime.now(timezone.utc))
