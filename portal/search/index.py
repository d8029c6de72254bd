"""The index: schema, opening it, one searcher per thread, writing documents after commits, rebuild and sync."""
import copy
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from whoosh import index as whoosh_index
from whoosh import writing
from whoosh.analysis import StandardAnalyzer, StemmingAnalyzer
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import ID, KEYWORD, NUMERIC, TEXT, Schema
from whoosh.index import LockError
from whoosh.reading import EmptyReader, MultiReader, SegmentReader
from whoosh.searching import Searcher

from portal.extensions import db
from portal.library.models import Resource
from portal.markdown import markdown_to_text

SCHEMA_VERSION = "4"  # bump when _schema() changes: the index is then recreated by rebuild or sync
TEXT_FIELDS = ("title", "summary", "content")
WRITE_TIMEOUT = 10.0  # seconds to wait for another process's writer


class SearchUnavailable(Exception):
    """The index could not be written (another writer held it too long); `flask search sync` repairs."""


def _schema() -> Schema:
    stem = StemmingAnalyzer(cachesize=50000)
    return Schema(
        id=ID(stored=True, unique=True, sortable=True),  # a column: ids are read without the stored text
        title=TEXT(analyzer=stem, stored=True, chars=True, field_boost=3.0),
        summary=TEXT(analyzer=stem, stored=True, chars=True, field_boost=2.0),
        # Stored (as plain text) for snippets: hits' ids come from a column, so only snippets unpack it.
        content=TEXT(analyzer=stem, stored=True, chars=True),
        # Unstemmed words for "did you mean": suggestions from stems read as nonsense.
        spell=TEXT(analyzer=StandardAnalyzer(), spelling=True),
        type=ID(stored=True),
        audience=KEYWORD(commas=True, stored=True),
        topic=KEYWORD(commas=True, lowercase=True, stored=True),
        jurisdiction=ID(stored=True),
        year=ID(stored=True),
        access=ID(stored=True),
        members_until=NUMERIC(int, stored=True, sortable=True),  # date ordinal, 0 for none (a column: read per query)
        published=NUMERIC(int, bits=64, stored=True, sortable=True),  # epoch seconds
        title_sort=ID(sortable=True),
        updated=NUMERIC(float, stored=True),  # the row's updated_at: how sync finds stale documents
    )


# --- opening the index and keeping one searcher per thread -------------------------------

_indexes: dict[str, whoosh_index.Index] = {}
_indexes_lock = threading.Lock()
_local = threading.local()


def _index_dir() -> str:
    return os.path.abspath(current_app.config["SEARCH_INDEX_DIR"])


def _version_file(path: str) -> Path:
    return Path(path) / "schema-version"


def schema_is_current(path: str | None = None) -> bool:
    path = path or _index_dir()
    version = _version_file(path)
    return version.is_file() and version.read_text().strip() == SCHEMA_VERSION


def _create(path: str):
    Path(path).mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(path, _schema())
    _version_file(path).write_text(SCHEMA_VERSION)
    return ix


def open_index(path: str | None = None):
    """The index at SEARCH_INDEX_DIR, created on first use. An index written by an older schema still opens
    for writing; `search()` refuses it until `flask search rebuild` (or sync) recreates it."""
    path = path or _index_dir()
    with _indexes_lock:
        ix = _indexes.get(path)
        if ix is None:
            ix = whoosh_index.open_dir(path) if whoosh_index.exists_in(path) else _create(path)
            _indexes[path] = ix
    return ix


def _reader(ix, previous=None):
    """A reader over the index's current segments, reusing what `previous` already opened.

    Opening a large segment costs hundreds of milliseconds, so unchanged segments keep their reader.
    Whoosh's own reuse (Searcher.refresh) cannot be used: it carries over segments that were merged
    away and keeps a segment's old deletions, so unpublished or edited resources stayed findable. Here
    a segment whose deletions grew gets a copy of its reader that shares the open files and sees the
    new deletions (segments are immutable apart from their deletion set, which only grows)."""
    info = ix._read_toc()
    old = {}
    if previous is not None:
        old = {leaf.segment().segment_id(): leaf for leaf, _ in previous.leaf_readers()
               if leaf.segment() is not None}
    readers = []
    for segment in info.segments:
        leaf = old.pop(segment.segment_id(), None)
        if leaf is None:
            leaf = SegmentReader(ix.storage, info.schema, segment, generation=info.generation)
        elif leaf.segment().deleted_count() != segment.deleted_count():
            leaf = copy.copy(leaf)
            leaf.__dict__.pop("deleted_docs_set", None)  # a cached_property computed from the old deletions
            leaf._segment = segment
            leaf._perdoc = copy.copy(leaf._perdoc)  # the per-document reader answers is_deleted()
            leaf._perdoc._segment = segment
        readers.append(leaf)
    for leaf in old.values():  # segments merged away
        leaf.close()
    if not readers:
        return EmptyReader(info.schema)
    return readers[0] if len(readers) == 1 else MultiReader(readers, generation=info.generation)


def current_searcher():
    """A searcher kept for this thread, brought up to date (cheaply, see _reader) when the index changed."""
    path = _index_dir()
    searchers = getattr(_local, "searchers", None)
    if searchers is None:
        searchers = _local.searchers = {}
    searcher = searchers.get(path)
    ix = open_index(path)
    if searcher is None or not searcher.up_to_date():
        # The old searcher is dropped, not closed: its still-current readers live on in the new one.
        previous = searcher.reader() if searcher is not None and searcher.reader().generation() is not None \
            else None
        searcher = Searcher(_reader(ix, previous), fromindex=ix)
        searchers[path] = searcher
    return searcher


def forget_index(path: str | None = None) -> None:
    """Drop cached handles (after the folder was removed or replaced)."""
    path = path or _index_dir()
    with _indexes_lock:
        _indexes.pop(path, None)
    searcher = getattr(_local, "searchers", {}).pop(path, None)
    if searcher is not None:
        searcher.close()


# --- documents -------------------------------------------------------------------------

def _writer(**kwargs):
    """A writer that leaves posting blocks uncompressed: zlib.decompress dominated query time at 10k+
    resources, and the disk it saves is not worth the CPU on every search."""
    try:
        return open_index().writer(timeout=WRITE_TIMEOUT, codec=W3Codec(compression=0), **kwargs)
    except LockError as exc:
        raise SearchUnavailable("the search index is locked by another writer") from exc


def epoch_seconds(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def document_for(resource: Resource) -> dict:
    files_text = "\n\n".join(a.text for a in resource.attachments if a.text)
    body = markdown_to_text(resource.body)
    published = resource.published_at
    return {
        "id": str(resource.id),
        "title": resource.title,
        "summary": resource.summary,
        "content": f"{body}\n\n{files_text}" if files_text else body,
        "spell": f"{resource.title} {resource.summary} {' '.join(resource.topics or [])}",
        "type": resource.type,
        "audience": ",".join(resource.audiences or []),
        "topic": ",".join(t.lower() for t in resource.topics or []),
        "jurisdiction": resource.jurisdiction.slug if resource.jurisdiction else "",
        "year": str(published.year) if published else "",
        "access": resource.access,
        "members_until": resource.members_until.toordinal() if resource.members_until else 0,
        "published": epoch_seconds(published),
        "title_sort": resource.title.lower()[:200],
        "updated": resource.updated_at.timestamp(),
    }


def _indexable(resource: Resource) -> bool:
    return resource.status == "published" and resource.published_at is not None


def _commit(writer, many: bool) -> None:
    # Small updates skip Whoosh's merge, which can stall a commit for most of a second;
    # a merge runs once the segments pile up.
    if many or len(writer.segments) > 12:
        writer.commit()
    else:
        writer.commit(merge=False)


def index_resources(resources) -> None:
    """Bring these resources' documents in line with their rows. Call after the commit."""
    resources = list(resources)
    if not resources:
        return
    writer = _writer()
    try:
        # Taken under the write lock, so it sees exactly the writer's segments: the writer's own
        # update_document would open a fresh reader over every segment just to find the old copy.
        searcher = current_searcher()
        for resource in resources:
            writer.delete_by_term("id", str(resource.id), searcher=searcher)
            if _indexable(resource):
                writer.add_document(**document_for(resource))
        _commit(writer, many=len(resources) > 50)
    except BaseException:
        if not writer.is_closed:
            writer.cancel()  # releases the lock at once rather than at garbage collection
        raise


def remove_resource_ids(ids) -> None:
    ids = [str(i) for i in ids]
    if not ids:
        return
    writer = _writer()
    try:
        searcher = current_searcher()
        for resource_id in ids:
            writer.delete_by_term("id", resource_id, searcher=searcher)
        _commit(writer, many=False)
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise


def _published_rows(batch: int = 500):
    query = (select(Resource).where(Resource.status == "published", Resource.published_at.is_not(None))
             .options(selectinload(Resource.attachments)).order_by(Resource.id)
             .execution_options(yield_per=batch))
    return db.session.scalars(query)


def published_count() -> int:

    return db.session.scalar(select(func.count()).select_from(Resource).where(
        Resource.status == "published", Resource.published_at.is_not(None)))


def rebuild(progress=None, procs: int | None = None) -> int:
    """Recreate the index from the database. Readers keep the old one until the final commit, except
    after a schema change, when the folder is recreated first (search answers "unavailable" meanwhile)."""
    procs = procs or min(2, os.cpu_count() or 1)
    if not schema_is_current():
        forget_index()
        with _indexes_lock:
            _indexes[_index_dir()] = _create(_index_dir())
    writer = _writer(procs=procs, limitmb=128, multisegment=procs > 1)
    count = 0
    try:
        for resource in _published_rows():
            writer.add_document(**document_for(resource))
            count += 1
            if progress:
                progress(1)
    except BaseException:
        writer.cancel()
        raise
    writer.commit(mergetype=writing.CLEAR)
    return count


@dataclass
class IndexReport:
    missing: list[int] = field(default_factory=list)   # published rows with no document
    stale: list[int] = field(default_factory=list)     # documents older than their row
    orphaned: list[int] = field(default_factory=list)  # documents with no published row

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.orphaned)


def compare() -> IndexReport:
    """Index versus database, document by document."""
    searcher = current_searcher()
    indexed = {int(fields["id"]): fields.get("updated", 0.0) for fields in searcher.all_stored_fields()}
    report = IndexReport()
    rows = db.session.execute(select(Resource.id, Resource.updated_at).where(
        Resource.status == "published", Resource.published_at.is_not(None)))
    seen = set()
    for resource_id, updated_at in rows:
        seen.add(resource_id)
        if resource_id not in indexed:
            report.missing.append(resource_id)
        elif abs(indexed[resource_id] - updated_at.timestamp()) > 1e-3:
            report.stale.append(resource_id)
    report.orphaned = sorted(set(indexed) - seen)
    return report


def sync(progress=None) -> IndexReport:
    """Bring a stale or partly written index up to date (after a crash, or on a second host)."""
    if not schema_is_current():
        rebuild(progress)
        return compare()
    report = compare()
    todo = report.missing + report.stale
    for start in range(0, len(todo), 200):
        chunk = db.session.scalars(select(Resource).where(Resource.id.in_(todo[start:start + 200]))
                                   .options(selectinload(Resource.attachments))).all()
        index_resources(chunk)
        if progress:
            progress(len(chunk))
    remove_resource_ids(report.orphaned)
    return report


# --- queries ---------------------------------------------------------------------------
