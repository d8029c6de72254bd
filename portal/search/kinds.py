"""What a feature declares to be searchable: a document kind, its facets, its rows, and who may read what.

The engine knows no feature's models. A feature (the library in `portal/library/search_docs.py`) builds a
`DocumentKind` and registers it; rebuild, sync and check iterate over the registered kinds, and a search
names the kind it looks in. A kind's documents share the engine's text fields:

- `title` and `summary`: shown to everyone who may find the document;
- `body`: text everyone may read (public bodies, their files' text);
- `restricted`: text only some viewers may read (members-only bodies). It is indexed in a field of its own,
  so that a query from someone who may not read it never touches it: neither matching, nor ranking
  statistics, nor spelling suggestions depend on it.

A document is indexed only while its kind says it is visible (`document()` returns None otherwise, e.g. a
resource scheduled for later), and its `version` says which state it was indexed in; the kind's
`versions(now)` gives the versions the index should hold now, so `sync` finds documents that became due
or public by date as missing or stale.
"""
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

# Names the engine's own fields use: a facet cannot take them.
RESERVED_FIELDS = frozenset({"key", "kind", "id", "title", "summary", "body", "restricted", "spell", "published",
                             "title_sort", "version"})


@dataclass(frozen=True)
class Facet:
    """A filterable field with counts: one value per document, or several (`multiple`)."""

    name: str
    multiple: bool = False
    lowercase: bool = False  # values compared without case (free tags)

    def normalise(self, value: str) -> str:
        return value.lower() if self.lowercase else value


@dataclass
class Document:
    """One row as the index holds it. `facets` maps a facet name to its value or values."""

    id: int
    title: str
    version: str
    summary: str = ""
    body: str = ""
    restricted: str = ""
    spell: str = ""  # words offered by "did you mean": only text everyone may read
    facets: dict[str, str | Sequence[str]] = field(default_factory=dict)
    published: datetime | None = None
    sort_title: str = ""


@dataclass(frozen=True)
class DocumentKind:
    """A feature's searchable documents.

    Rows are the feature's own objects; the engine reads only their `id`.

    - `rows()`: every row that may be indexed (an iterator; rebuild streams it);
    - `rows_by_id(ids)`: those rows, for sync;
    - `document(row, now)`: the row's document, or None when it must not be in the index now;
    - `versions(now)`: (id, version) of every row that should be indexed now, read cheaply (columns only);
    - `restricted_ids(ids, now)`: which of these rows the database says hold restricted text now (a stale
      index, whose update failed, must never show such a body as a snippet);
    - `count()`: how many rows `rows()` yields, for progress bars.
    """

    name: str
    facets: tuple[Facet, ...]
    rows: Callable[[], Iterable]
    rows_by_id: Callable[[Sequence[int]], Iterable]
    document: Callable[[object, datetime], Document | None]
    versions: Callable[[datetime], Iterable[tuple[int, str]]]
    restricted_ids: Callable[[Sequence[int], datetime], set[int]]
    count: Callable[[], int]

    def facet(self, name: str) -> Facet | None:
        return next((f for f in self.facets if f.name == name), None)


def version_of(updated: datetime, restricted: bool) -> str:
    """The state a document was indexed in: its row's last change, and whether its text was restricted."""
    return f"{round(updated.timestamp() * 1000)}:{'r' if restricted else 'p'}"


_kinds: dict[str, DocumentKind] = {}


def register(kind: DocumentKind) -> DocumentKind:
    """Make a kind known to the engine (idempotent by name: re-importing a module is harmless)."""
    clash = {f.name for f in kind.facets} & RESERVED_FIELDS
    if clash:
        raise ValueError(f"facet names {sorted(clash)} are the engine's own fields")
    for other in _kinds.values():
        for facet in kind.facets:
            same = other.facet(facet.name)
            if other.name != kind.name and same is not None and same != facet:
                raise ValueError(f"facet {facet.name!r} is declared differently by {other.name!r}")
    _kinds[kind.name] = kind
    return kind


def get(name: str) -> DocumentKind:
    try:
        return _kinds[name]
    except KeyError:
        raise LookupError(f"no searchable document kind {name!r} is registered") from None


def registered() -> Iterator[DocumentKind]:
    return iter(sorted(_kinds.values(), key=lambda kind: kind.name))
