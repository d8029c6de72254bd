"""Reusing segment readers across commits: the one place that reaches into Whoosh-Reloaded's internals.

Why: opening a large segment costs hundreds of milliseconds, and every commit (a publish, an edit) makes
the per-thread searcher stale. Whoosh's own reuse (`Searcher.refresh`) cannot be used: it carries over
segments that were merged away and keeps a segment's old deletions, so unpublished or edited documents
stayed findable. So this module rebuilds the reader list itself, from the index's table of contents:

- an unchanged segment keeps its open reader;
- a segment whose deletions grew gets a shallow copy of its reader that shares the open files but sees
  the new deletion set (segments are immutable apart from their deletion set, which only grows);
- the readers of segments merged away are closed here, since nothing else will close them.

The internals used: `Index._read_toc()`, `SegmentReader._segment`, `SegmentReader._perdoc._segment` and the
cached property `deleted_docs_set`. They were verified against VERIFIED_WHOOSH; a test fails when the
installed version differs, so an upgrade is checked before it ships.
"""
import copy
from importlib import metadata

from whoosh.reading import EmptyReader, MultiReader, SegmentReader

VERIFIED_WHOOSH = "2.7.5"


def installed_whoosh() -> str:
    return metadata.version("Whoosh-Reloaded")


def leaves(reader) -> list:
    """The segment readers under a reader (none for an empty index)."""
    if isinstance(reader, EmptyReader):
        return []
    return [leaf for leaf, _ in reader.leaf_readers()]


def _with_new_deletions(leaf, segment):
    fresh = copy.copy(leaf)  # shares the open files with `leaf`, which stays usable for in-flight searches
    fresh.__dict__.pop("deleted_docs_set", None)  # a cached_property computed from the old deletions
    fresh._segment = segment
    fresh._perdoc = copy.copy(leaf._perdoc)  # the per-document reader answers is_deleted()
    fresh._perdoc._segment = segment
    return fresh


def refreshed_reader(ix, previous=None):
    """A reader over the index's current segments, reusing what `previous` (a reader of the same index)
    already opened, and closing the readers of segments that no longer exist."""
    info = ix._read_toc()
    old = {}
    for leaf in leaves(previous) if previous is not None else []:
        if getattr(leaf, "segment", None) is not None and leaf.segment() is not None:
            old[leaf.segment().segment_id()] = leaf
    readers = []
    for segment in info.segments:
        leaf = old.pop(segment.segment_id(), None)
        if leaf is None:
            leaf = SegmentReader(ix.storage, info.schema, segment, generation=info.generation)
        elif leaf.segment().deleted_count() != segment.deleted_count():
            # The older copy is dropped without closing: it shares its files with the new one.
            leaf = _with_new_deletions(leaf, segment)
        readers.append(leaf)
    for leaf in old.values():  # segments merged away: their files are gone from the table of contents
        leaf.close()
    if not readers:
        return EmptyReader(info.schema)
    return readers[0] if len(readers) == 1 else MultiReader(readers, generation=info.generation)


def reusable(reader) -> bool:
    """Whether a reader's segments can be carried into the next one (an empty reader has none)."""
    return reader is not None and not isinstance(reader, EmptyReader) and reader.generation() is not None
