"""The one door to Whoosh: schema, indexing after commits, queries with facets and snippets, rebuild, sync.

The database is the source of truth; this index is derived from it. Only published
resources are indexed (scheduled ones too: the moment they become visible is checked
at query time, so scheduling needs no job).
"""
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import nh3
from flask import current_app
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from whoosh import index as whoosh_index
from whoosh import writing
from whoosh.analysis import StandardAnalyzer, StemmingAnalyzer
from whoosh.fields import ID, KEYWORD, NUMERIC, TEXT, Schema
from whoosh.highlight import HtmlFormatter, PinpointFragmenter
from whoosh.index import LockError
from whoosh.qparser import MultifieldParser, QueryParser
from whoosh.qparser.plugins import FieldsPlugin, RangePlugin, WildcardPlugin
from whoosh.query import And, Every, NumericRange, Term

from portal.extensions import db
from portal.library.models import Resource, members_only_now

MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 16
WRITE_TIMEOUT = 10.0  # seconds to wait for another process's writer
FACETS = ("type", "audience", "topic", "jurisdiction", "year")
SORTS = ("relevance", "newest", "oldest", "title")
TEXT_FIELDS = ("title", "summary", "content")
PUBLIC_TEXT_FIELDS = ("title", "summary")


class SearchUnavailable(Exception):
    """The index could not be written (another writer held it too long); `flask search sync` repairs."""


def _schema() -> Schema:
    stem = StemmingAnalyzer(cachesize=50000)
    return Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(analyzer=stem, stored=True, chars=True, field_boost=3.0),
        summary=TEXT(analyzer=stem, stored=True, chars=True, field_boost=2.0),
        content=TEXT(analyzer=stem, stored=True, chars=True),
        # Unstemmed words for "did you mean": suggestions from stems read as nonsense.
        spell=TEXT(analyzer=StandardAnalyzer(), spelling=True),
        type=ID(stored=True),
        audience=KEYWORD(commas=True, stored=True),
        topic=KEYWORD(commas=True, lowercase=True, stored=True),
        jurisdiction=ID(stored=True),
        year=ID(stored=True),
        access=ID(stored=True),
        members_until=NUMERIC(int, stored=True),  # date ordinal, 0 for none
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


def open_index(path: str | None = None):
    path = path or _index_dir()
    with _indexes_lock:
        ix = _indexes.get(path)
        if ix is None:
            Path(path).mkdir(parents=True, exist_ok=True)
            ix = whoosh_index.open_dir(path) if whoosh_index.exists_in(path) else \
                whoosh_index.create_in(path, _schema())
            _indexes[path] = ix
    return ix


def _searcher():
    """A searcher kept for this thread: opening one costs tens of ms, refreshing after a commit ~2 ms."""
    path = _index_dir()
    searchers = getattr(_local, "searchers", None)
    if searchers is None:
        searchers = _local.searchers = {}
    searcher = searchers.get(path)
    if searcher is None:
        searcher = open_index(path).searcher()
    else:
        searcher = searcher.refresh()
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

def _epoch(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def document_for(resource: Resource) -> dict:
    files_text = "\n\n".join(a.text for a in resource.attachments if a.text)
    published = resource.published_at
    return {
        "id": str(resource.id),
        "title": resource.title,
        "summary": resource.summary,
        "content": f"{resource.body}\n\n{files_text}" if files_text else resource.body,
        "spell": f"{resource.title} {resource.summary} {' '.join(resource.topics or [])}",
        "type": resource.type,
        "audience": ",".join(resource.audiences or []),
        "topic": ",".join(t.lower() for t in resource.topics or []),
        "jurisdiction": resource.jurisdiction.slug if resource.jurisdiction else "",
        "year": str(published.year) if published else "",
        "access": resource.access,
        "members_until": resource.members_until.toordinal() if resource.members_until else 0,
        "published": _epoch(published),
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
    try:
        writer = open_index().writer(timeout=WRITE_TIMEOUT)
    except LockError as exc:
        raise SearchUnavailable("the search index is locked by another writer") from exc
    try:
        for resource in resources:
            if _indexable(resource):
                writer.update_document(**document_for(resource))
            else:
                writer.delete_by_term("id", str(resource.id))
    except BaseException:
        writer.cancel()
        raise
    _commit(writer, many=len(resources) > 50)


def remove_resource_ids(ids) -> None:
    ids = [str(i) for i in ids]
    if not ids:
        return
    try:
        writer = open_index().writer(timeout=WRITE_TIMEOUT)
    except LockError as exc:
        raise SearchUnavailable("the search index is locked by another writer") from exc
    for resource_id in ids:
        writer.delete_by_term("id", resource_id)
    _commit(writer, many=False)


def _published_rows(batch: int = 500):
    query = (select(Resource).where(Resource.status == "published", Resource.published_at.is_not(None))
             .options(selectinload(Resource.attachments)).order_by(Resource.id)
             .execution_options(yield_per=batch))
    return db.session.scalars(query)


def published_count() -> int:
    from sqlalchemy import func

    return db.session.scalar(select(func.count()).select_from(Resource).where(
        Resource.status == "published", Resource.published_at.is_not(None)))


def rebuild(progress=None, procs: int | None = None) -> int:
    """Recreate the index from the database. Readers keep the old one until the final commit."""
    procs = procs or min(2, os.cpu_count() or 1)
    ix = open_index()
    try:
        writer = ix.writer(timeout=WRITE_TIMEOUT, procs=procs, limitmb=128, multisegment=procs > 1)
    except LockError as exc:
        raise SearchUnavailable("the search index is locked by another writer") from exc
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
    searcher = _searcher()
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

@dataclass
class SearchResult:
    ids: list[int]
    total: int
    facets: dict[str, list[tuple[str, int]]]
    snippets: dict[int, Markup]
    suggestion: str | None
    error: str | None = None


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
        # Whoosh's parser has corners that raise on odd input; fall back to the plain words.
        words = re.findall(r"\w+", q)
        return _parser(fields, schema).parse(" ".join(words)) if words else None


class _FacetCache:
    """Per-searcher sets of document numbers for each facet value (rebuilt when the searcher changes)."""

    def __init__(self):
        self.searcher = None
        self.values: dict[str, dict[str, set[int]]] = {}

    def get(self, searcher, fieldname: str) -> dict[str, set[int]]:
        if self.searcher is not searcher:
            self.searcher, self.values = searcher, {}
        if fieldname not in self.values:
            reader = searcher.reader()
            self.values[fieldname] = {
                value.decode("utf-8") if isinstance(value, bytes) else value:
                    set(reader.postings(fieldname, value).all_ids())
                for value in reader.lexicon(fieldname) if value
            }
        return self.values[fieldname]


def _facet_cache() -> _FacetCache:
    cache = getattr(_local, "facet_cache", None)
    if cache is None:
        cache = _local.facet_cache = _FacetCache()
    return cache


def _docs(searcher, query) -> set[int]:
    return set(searcher.docs_for_query(query)) if query is not None else set()


def _hidden_docs(searcher, now: datetime, q_public, matched: set[int], restricted: bool) -> set[int]:
    """Documents this viewer must not find: scheduled ones, and members-only ones matched only by their body."""
    hidden = _docs(searcher, NumericRange("published", _epoch(now) + 1, None))
    if restricted:
        today = now.date()
        members = _docs(searcher, Term("access", "members")) & matched
        if members:
            stored = {doc: searcher.stored_fields(doc) for doc in members}
            members_now = {doc for doc, f in stored.items() if members_only_now(
                "members", date.fromordinal(f["members_until"]) if f["members_until"] else None,
                today)}
            if members_now:
                public_match = _docs(searcher, q_public) if q_public is not None else members_now
                hidden |= members_now - public_match
    return hidden


def _snippet(hit, fields, highlighter) -> Markup | None:
    for fieldname in fields:
        try:
            fragment = highlighter.highlight_hit(hit, fieldname, top=2)
        except KeyError:
            continue
        if fragment:
            # Whoosh escapes the text; nh3 makes sure nothing but <mark> survives.
            return Markup(nh3.clean(fragment, tags={"mark"}, attributes={}))
    return None


def _suggest(searcher, q: str) -> str | None:
    words = re.findall(r"[^\W\d_]{3,}", q.lower())
    if not words:
        return None
    corrector = searcher.corrector("spell")
    reader = searcher.reader()
    changed, out = False, []
    for word in words:
        if reader.frequency("spell", word) > 0:
            out.append(word)
            continue
        suggestions = corrector.suggest(word, limit=1, maxdist=2)
        if suggestions:
            out.append(suggestions[0])
            changed = True
        else:
            out.append(word)
    return " ".join(out) if changed else None


def search(*, q: str = "", filters: dict[str, list[str]] | None = None, sort: str = "relevance", page: int = 1,
           per_page: int = 20, can_read_members: bool = False, now: datetime | None = None,
           published_after: datetime | None = None, exclude_ids=(), snippets: bool = True) -> SearchResult:
    """Ranked resource ids, the total, facet counts for the current query, and escaped snippets."""
    now = now or datetime.now(timezone.utc)
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items() if k in FACETS}
    searcher = _searcher()
    schema = searcher.schema
    q = clean_query(q)
    browse = q in ("", "*")
    if browse:
        query, q_public = Every(), None
    else:
        query = _parse(q, TEXT_FIELDS, schema)
        q_public = _parse(q, PUBLIC_TEXT_FIELDS, schema) if not can_read_members else None
        if query is None:
            return SearchResult([], 0, {}, {}, None, error="Type some words to search for.")

    matched = set(searcher.reader().all_doc_ids()) if browse else _docs(searcher, query)
    matched -= _hidden_docs(searcher, now, q_public, matched, restricted=not can_read_members and not browse)
    if published_after is not None:
        matched &= _docs(searcher, NumericRange("published", _epoch(published_after) + 1, None))
    if exclude_ids:
        matched -= _docs(searcher, _ids_query(exclude_ids))

    cache = _facet_cache()
    for fieldname, values in filters.items():
        value_docs = cache.get(searcher, fieldname)
        for value in values:
            matched &= value_docs.get(value.lower() if fieldname == "topic" else value, set())
    facets = {}
    for fieldname in FACETS:
        counts = [(value, len(docs & matched)) for value, docs in cache.get(searcher, fieldname).items()]
        facets[fieldname] = sorted(((v, c) for v, c in counts if c), key=lambda vc: (-vc[1], vc[0]))

    total = len(matched)
    if total == 0:
        return SearchResult([], 0, facets, {}, None if browse else _suggest(searcher, q))
    sort = sort if sort in SORTS else "relevance"
    if browse and sort == "relevance":
        sort = "newest"
    limit = min(page * per_page, total)
    sortedby = {"newest": ("published", True), "oldest": ("published", False), "title": ("title_sort", False)}
    if sort == "relevance":
        results = searcher.search(query, filter=matched, limit=limit, terms=True)
    else:
        field_name, reverse = sortedby[sort]
        results = searcher.search(query, filter=matched, limit=limit, sortedby=field_name, reverse=reverse,
                                  terms=not browse)
    hits = results[(page - 1) * per_page:limit]
    ids = [int(hit["id"]) for hit in hits]
    found = {}
    if snippets and not browse:
        highlighter = results.highlighter
        highlighter.fragmenter = PinpointFragmenter(maxchars=220, surround=60, autotrim=True)
        highlighter.formatter = HtmlFormatter(tagname="mark", between=" … ")
        today = now.date()
        for hit in hits:
            until = hit["members_until"]
            hidden_body = not can_read_members and members_only_now(
                hit["access"], date.fromordinal(until) if until else None, today)
            fields = ("summary", "title") if hidden_body else ("content", "summary", "title")
            snippet = _snippet(hit, fields, highlighter)
            if snippet:
                found[int(hit["id"])] = snippet
    suggestion = _suggest(searcher, q) if not browse and total < 3 else None
    return SearchResult(ids, total, facets, found, suggestion)


def _ids_query(ids):
    from whoosh.query import Or

    return Or([Term("id", str(i)) for i in ids])
