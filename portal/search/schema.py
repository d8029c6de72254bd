"""The index schema: the engine's text fields plus every registered kind's facets, and its version."""
import hashlib
from datetime import datetime

from whoosh.analysis import StandardAnalyzer, StemmingAnalyzer
from whoosh.fields import ID, KEYWORD, NUMERIC, TEXT, Schema

from portal.search import kinds
from portal.search.kinds import Document, DocumentKind

# Bump when the engine's fields change; the facets of registered kinds are part of the version by themselves.
ENGINE_VERSION = "5"
# Fields a query may read: everyone reads the public ones; `restricted` only viewers allowed to.
PUBLIC_TEXT_FIELDS = ("title", "summary", "body")
RESTRICTED_TEXT_FIELDS = ("restricted",)
TEXT_FIELDS = PUBLIC_TEXT_FIELDS + RESTRICTED_TEXT_FIELDS
HEADLINE_FIELDS = ("title", "summary")  # what a search too broad for the work budget falls back to


def _facet_field(facet):
    if facet.multiple:
        return KEYWORD(commas=True, lowercase=facet.lowercase, stored=True)
    return ID(stored=True)


def build_schema() -> Schema:
    stem = StemmingAnalyzer(cachesize=50000)
    fields = dict(
        key=ID(stored=True, unique=True, sortable=True),  # "kind:id"; a column, read by sync without stored text
        kind=ID(stored=True),
        id=ID(stored=True, sortable=True),  # a column: hits' ids are read without the stored text
        title=TEXT(analyzer=stem, stored=True, chars=True, field_boost=3.0),
        summary=TEXT(analyzer=stem, stored=True, chars=True, field_boost=2.0),
        # Stored (as plain text) for snippets, with character offsets so snippets need no re-analysis.
        body=TEXT(analyzer=stem, stored=True, chars=True),
        restricted=TEXT(analyzer=stem, stored=True, chars=True),
        # Unstemmed words for "did you mean" (suggestions from stems read as nonsense): public text only.
        spell=TEXT(analyzer=StandardAnalyzer(), spelling=True),
        published=NUMERIC(int, bits=64, stored=True, sortable=True),  # epoch seconds
        title_sort=ID(sortable=True),
        version=ID(stored=True, sortable=True),
    )
    for kind in kinds.registered():
        for facet in kind.facets:
            fields.setdefault(facet.name, _facet_field(facet))
    return Schema(**fields)


def schema_version() -> str:
    facets = sorted({(f.name, f.multiple, f.lowercase) for kind in kinds.registered() for f in kind.facets})
    names = sorted(kind.name for kind in kinds.registered())
    return hashlib.sha256(repr((ENGINE_VERSION, facets, names)).encode()).hexdigest()[:16]


def epoch_seconds(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def key_of(kind_name: str, doc_id: int) -> str:
    return f"{kind_name}:{doc_id}"


def fields_for(kind: DocumentKind, document: Document) -> dict:
    """The Whoosh fields of one document."""
    fields = {
        "key": key_of(kind.name, document.id),
        "kind": kind.name,
        "id": str(document.id),
        "title": document.title,
        "summary": document.summary,
        "body": document.body,
        "restricted": document.restricted,
        "spell": document.spell,
        "published": epoch_seconds(document.published),
        "title_sort": (document.sort_title or document.title).lower()[:200],
        "version": document.version,
    }
    for facet in kind.facets:
        value = document.facets.get(facet.name)
        if value is None:
            continue
        if facet.multiple:
            value = ",".join(facet.normalise(v).replace(",", " ") for v in value)
        else:
            value = facet.normalise(str(value))
        if value:
            fields[facet.name] = value
    return fields
