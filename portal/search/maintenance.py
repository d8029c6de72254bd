"""Rebuild, check and sync: the index against the database, over every registered kind.

`sync()` is also what a periodic job runs (every minute): documents that became due (scheduled ones) or
changed state by date (early access ending) show up as missing or stale, and are indexed then.
"""
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple

from whoosh import writing

from portal.search import index, kinds
from portal.search.schema import fields_for


class DocKey(NamedTuple):
    kind: str
    id: int

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


@dataclass
class IndexReport:
    missing: list[DocKey] = field(default_factory=list)   # rows that should be indexed and are not
    stale: list[DocKey] = field(default_factory=list)     # documents indexed in an older state than their row
    orphaned: list[DocKey] = field(default_factory=list)  # documents whose row should not be indexed (now)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.orphaned)


def expected_count() -> int:
    """Rows a rebuild reads, over every kind (for progress bars)."""
    return sum(kind.count() for kind in kinds.registered())


def rebuild(progress=None, procs: int | None = None, now: datetime | None = None) -> int:
    """Recreate the index from the database. Readers keep the old one until the final commit, except
    after a schema change, when the folder is recreated first (search answers "unavailable" meanwhile).
    Returns the number of documents indexed."""
    now = now or datetime.now(timezone.utc)
    procs = procs or min(2, os.cpu_count() or 1)
    if not index.schema_is_current():
        index.create()
    w = index.writer(procs=procs, limitmb=128, multisegment=procs > 1)
    count = 0
    try:
        for kind in kinds.registered():
            for row in kind.rows():
                document = kind.document(row, now)
                if document is not None:
                    w.add_document(**fields_for(kind, document))
                    count += 1
                if progress:
                    progress(1)
    except BaseException:
        w.cancel()
        raise
    w.commit(mergetype=writing.CLEAR)
    return count


def _indexed() -> dict[str, str]:
    """key -> version of every live document, read from columns (no stored text is unpacked)."""
    searcher = index.current_searcher()
    if searcher.doc_count() == 0:
        return {}
    reader = searcher.reader()
    keys, versions = reader.column_reader("key"), reader.column_reader("version")
    return {keys[doc]: versions[doc] for doc in reader.all_doc_ids()}


def compare(now: datetime | None = None) -> IndexReport:
    """Index versus database, document by document, as things stand at `now`."""
    now = now or datetime.now(timezone.utc)
    indexed = _indexed()
    report = IndexReport()
    seen = set()
    for kind in kinds.registered():
        for doc_id, version in kind.versions(now):
            key = f"{kind.name}:{doc_id}"
            seen.add(key)
            if key not in indexed:
                report.missing.append(DocKey(kind.name, doc_id))
            elif indexed[key] != version:
                report.stale.append(DocKey(kind.name, doc_id))
    for key in sorted(set(indexed) - seen):
        kind_name, _, doc_id = key.partition(":")
        report.orphaned.append(DocKey(kind_name, int(doc_id) if doc_id.isdigit() else doc_id))
    report.missing.sort()
    report.stale.sort()
    return report


def sync(progress=None, now: datetime | None = None) -> IndexReport:
    """Bring a stale or partly written index up to date (after a crash, on a second host, or every minute
    for documents that became due or changed state by date). Returns what it found and repaired."""
    now = now or datetime.now(timezone.utc)
    if not index.schema_is_current():
        rebuild(progress, now=now)
        return compare(now)
    report = compare(now)
    for kind in kinds.registered():
        todo = [key.id for key in report.missing + report.stale if key.kind == kind.name]
        for start in range(0, len(todo), 200):
            chunk = list(kind.rows_by_id(todo[start:start + 200]))
            index.index_rows(kind, chunk, now=now)
            if progress:
                progress(len(chunk))
        orphans = [key.id for key in report.orphaned if key.kind == kind.name]
        if orphans:
            index.remove_ids(kind, orphans)
    return report

