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

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from whoosh import index as whoosh_index
from whoosh import writing
from whoosh.codec.whoosh3 import W3Codec
from whoosh.analysis import STOP_WORDS, StandardAnalyzer, StemmingAnalyzer
from whoosh.fields import ID, KEYWORD, NUMERIC, TEXT, Schema
from whoosh.index import LockError
from whoosh.reading import TermNotFound
from whoosh.qparser import MultifieldParser, QueryParser
from whoosh.qparser.plugins import FieldsPlugin, RangePlugin, WildcardPlugin
from whoosh.query import And, CompoundQuery, Every, NumericRange, Or, Phrase, Term

from portal.extensions import db
from portal.library.models import Resource, members_only_now
from portal.markdown import markdown_to_text

SCHEMA_VERSION = "4"  # bump when _schema() changes: the index is then recreated by rebuild or sync
MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 10
MAX_CORRECTIONS = 4  # unknown words looked up for "did you mean", per query
WRITE_TIMEOUT = 10.0  # seconds to wait for another process's writer
FACETS = ("type", "audience", "topic", "jurisdiction", "year")
SORTS = ("relevance", "newest", "oldest", "title")
TEXT_FIELDS = ("title", "summary", "content")
PUBLIC_TEXT_FIELDS = ("title", "summary")
OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}


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


def _searcher():
    """A searcher kept for this thread, reopened when the index has changed since it was opened.

    Not Searcher.refresh(): Whoosh-Reloaded's reuse of segment readers keeps segments that are gone and
    reuses a segment's reader after documents were deleted from it, so unpublished, archived and edited
    resources stayed findable in their old form."""
    path = _index_dir()
    searchers = getattr(_local, "searchers", None)
    if searchers is None:
        searchers = _local.searchers = {}
    searcher = searchers.get(path)
    if searcher is not None and (searcher.reader().generation() is None or not searcher.up_to_date()):
        searcher.close()
        searcher = None
    if searcher is None:
        searcher = open_index(path).searcher()
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


def _epoch(moment: datetime | None) -> int:
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
    writer = _writer()
    try:
        for resource in resources:
            if _indexable(resource):
                writer.update_document(**document_for(resource))
            else:
                writer.delete_by_term("id", str(resource.id))
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

@dataclass
class SearchResult:
    ids: list[int]
    total: int
    facets: dict[str, list[tuple[str, int]]]
    snippets: dict[int, Markup]
    suggestion: str | None
    error: str | None = None
    unavailable: bool = False


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
        # Whoosh's parser has corners that raise on odd input ("NOT NOT NOT"); fall back to the plain words,
        # lower-cased so that none of them is read as an operator again.
        words = re.findall(r"\w+", q.lower())
        return _parser(fields, schema).parse(" ".join(words)) if words else None


class _FacetCache:
    """Per-searcher sets of document numbers for each facet value, and the documents scheduled for later
    (rebuilt when the searcher changes, that is after a commit)."""

    def __init__(self):
        self.searcher = None
        self.values: dict[str, dict[str, set[int]]] = {}
        self.future: dict[int, int] | None = None

    def _for(self, searcher) -> None:
        if self.searcher is not searcher:
            self.searcher, self.values, self.future = searcher, {}, None

    def scheduled(self, searcher, now: datetime) -> set[int]:
        """Documents whose publish time is still ahead (one range query per searcher, not per search)."""
        self._for(searcher)
        if self.future is None and searcher.doc_count_all() == 0:
            self.future = {}  # an index never written to has no columns (Whoosh's EmptyReader raises)
        if self.future is None:
            column = searcher.reader().column_reader("published")
            self.future = {doc: column[doc] for doc in
                           searcher.docs_for_query(NumericRange("published", _epoch(now) + 1, None))}
        moment = _epoch(now)
        return {doc for doc, published in self.future.items() if published > moment}

    def get(self, searcher, fieldname: str) -> dict[str, set[int]]:
        self._for(searcher)
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


def _ranking_query(query):
    """The query used only to order documents already known to match: a phrase is ranked by its words,
    so its costly position check runs once (in the matching pass), not twice."""
    if isinstance(query, Phrase):
        return And([Term(query.fieldname, word, boost=query.boost) for word in query.words])
    if isinstance(query, CompoundQuery):
        return query.__class__([_ranking_query(sub) for sub in query.subqueries], boost=query.boost)
    return query


def _docs(searcher, query) -> set[int]:
    return set(searcher.docs_for_query(query)) if query is not None else set()


def _members_only_docs(searcher, now: datetime, among: set[int]) -> set[int]:
    """Which of these documents are members-only at this moment (early access ends by itself)."""
    today = now.date()
    members = _facet_cache().get(searcher, "access").get("members", set()) & among
    if not members:
        return set()
    until = searcher.reader().column_reader("members_until")
    return {doc for doc in members
            if members_only_now("members", date.fromordinal(until[doc]) if until[doc] else None, today)}


def _suggest(searcher, q: str) -> str | None:
    """The query with its misspelt words corrected; operators, stop words and everything else kept as typed."""
    corrector = searcher.corrector("spell")
    reader = searcher.reader()
    stemmed = searcher.schema["content"].analyzer
    changed, budget = False, [MAX_CORRECTIONS]

    def known(word: str) -> bool:
        if reader.frequency("spell", word) > 0:
            return True
        stems = [token.text for token in stemmed(word)]
        return bool(stems) and all(reader.frequency(name, stems[0]) > 0 for name in ("content",))

    def correct(match):
        nonlocal changed
        word = match.group(0)
        # Words of a plausible length only: the Levenshtein automaton's cost grows with the word and distance.
        if word in OPERATORS or not 3 <= len(word) <= 24 or word.lower() in STOP_WORDS or budget[0] <= 0:
            return word
        lowered = word.lower()
        if known(lowered):
            return word
        budget[0] -= 1
        # The first letter is taken as typed (as most spell checkers do): it prunes the search a lot.
        suggestions = corrector.suggest(lowered, limit=1, maxdist=1 if len(lowered) < 6 else 2, prefix=1)
        if not suggestions:
            return word
        changed = True
        return suggestions[0]

    suggestion = re.sub(r"[^\W\d_]+", correct, q)
    return suggestion if changed else None


def search(*, q: str = "", filters: dict[str, list[str]] | None = None, sort: str = "relevance", page: int = 1,
           per_page: int = 20, can_read_members: bool = False, now: datetime | None = None,
           published_after: datetime | None = None, exclude_ids=(), snippets: bool = True) -> SearchResult:
    """Ranked resource ids, the total, facet counts for the current query, and escaped snippets."""
    now = now or datetime.now(timezone.utc)
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items() if k in FACETS}
    open_index()
    if not schema_is_current():
        raise SearchUnavailable("the search index was built by an older version: run `flask search rebuild`")
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
    if not can_read_members and not browse:
        # Members-only resources match this viewer on their public fields alone, so that not even the absence
        # of a word ("quokka NOT secret") tells anything about a body they may not read.
        public = _docs(searcher, q_public)
        members_now = _members_only_docs(searcher, now, matched | public)
        if (public & members_now) - matched:
            query = Or([query, q_public])  # those match the public fields only: rank them by that
        matched = (matched - members_now) | (public & members_now)
    matched -= _facet_cache().scheduled(searcher, now)
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
    ranking = _ranking_query(query)
    sortedby = {"newest": ("published", True), "oldest": ("published", False), "title": ("title_sort", False)}
    if sort == "relevance":
        results = searcher.search(ranking, filter=matched, limit=limit)
    else:
        field_name, reverse = sortedby[sort]
        results = searcher.search(ranking, filter=matched, limit=limit, sortedby=field_name, reverse=reverse)
    hits = results[(page - 1) * per_page:limit]
    id_column = searcher.reader().column_reader("id")
    ids = [int(id_column[hit.docnum]) for hit in hits]
    found = {}
    if snippets and not browse and hits:
        hidden = set()
        if not can_read_members:
            stale = _members_only_rows(ids, now)
            hidden = _members_only_docs(searcher, now, {hit.docnum for hit in hits}) | {
                hit.docnum for hit, resource_id in zip(hits, ids) if resource_id in stale}
        found = _snippets(searcher, ranking, [hit.docnum for hit in hits], hidden)
    suggestion = _suggest(searcher, q) if not browse and total < 3 else None
    return SearchResult(ids, total, facets, found, suggestion)


SNIPPET_CHARS = 220
SNIPPET_BEFORE = 60


def _spans(searcher, fieldname: str, terms: set[bytes], docnums: list[int]) -> dict[int, list[tuple[int, int]]]:
    """Character spans of the query's terms in these documents, read from the postings (indexed with chars),
    so no text is analysed again."""
    spans: dict[int, list[tuple[int, int]]] = {doc: [] for doc in docnums}
    ordered = sorted(docnums)
    for term in terms:
        try:
            matcher = searcher.postings(fieldname, term)
        except TermNotFound:
            continue
        for doc in ordered:
            if not matcher.is_active():
                break
            if matcher.id() < doc:
                matcher.skip_to(doc)
                if not matcher.is_active():
                    break
            if matcher.id() == doc:
                spans[doc].extend((start, end) for _, start, end in matcher.value_as("characters"))
    return spans


def _window(text: str, spans: list[tuple[int, int]]) -> Markup | None:
    """Up to two passages around the first matches, escaped, with <mark> around each match."""
    spans = sorted(s for s in spans if 0 <= s[0] < s[1] <= len(text))
    if not spans:
        return None
    passages, used_until = [], -1
    for start, _ in spans:
        if start < used_until or len(passages) == 2:
            continue
        begin = max(0, start - SNIPPET_BEFORE)
        begin = text.rfind(" ", 0, begin) + 1 if begin else 0
        finish = min(len(text), begin + SNIPPET_CHARS)
        if finish < len(text):
            finish = max(text.rfind(" ", begin, finish), start + 1)
        marked, cursor = [], begin
        for s_start, s_end in spans:
            if s_start >= cursor and s_end <= finish:
                marked += [escape(text[cursor:s_start]), Markup("<mark>"), escape(text[s_start:s_end]),
                           Markup("</mark>")]
                cursor = s_end
        marked.append(escape(text[cursor:finish]))
        prefix = "… " if begin else ""
        suffix = " …" if finish < len(text) else ""
        passages.append(Markup(prefix) + Markup("").join(marked) + Markup(suffix))
        used_until = finish
    return Markup(" ").join(passages)


def _snippets(searcher, ranking, docnums: list[int], hidden: set[int]) -> dict[int, Markup]:
    """Highlights for one page of hits; `hidden` documents (members-only for this viewer) get snippets from
    their public fields alone."""
    terms: dict[str, set[bytes]] = {}
    for fieldname, text in ranking.iter_all_terms():
        if fieldname in TEXT_FIELDS:
            terms.setdefault(fieldname, set()).add(text if isinstance(text, bytes) else text.encode("utf-8"))
    spans = {fieldname: _spans(searcher, fieldname, field_terms, docnums) for fieldname, field_terms in terms.items()}
    found = {}
    for doc in docnums:
        stored = searcher.stored_fields(doc)
        fields = ("summary", "title") if doc in hidden else ("content", "summary", "title")
        for fieldname in fields:
            text = stored.get(fieldname)
            snippet = _window(text, spans.get(fieldname, {}).get(doc, [])) if text else None
            if snippet:
                found[int(stored["id"])] = snippet
                break
    return found


def _members_only_rows(ids: list[int], now: datetime) -> set[int]:
    """Which of these resources the database says are members-only now: a stale index (an update that failed
    before `flask search sync`) must never show a body that has since become members-only."""
    rows = db.session.execute(select(Resource.id, Resource.access, Resource.members_until)
                              .where(Resource.id.in_(ids)))
    return {row.id for row in rows if members_only_now(row.access, row.members_until, now.date())}


def _ids_query(ids):
    return Or([Term("id", str(i)) for i in ids])
