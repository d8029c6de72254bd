"""Call-type classification: the default table (content/call_types.yaml), a jurisdiction's overrides, and
matching that ignores case, spacing, punctuation and common abbreviations."""
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import yaml

RESPONSES = ("alternative", "co_response", "police", "fire_medical", "unmapped")
# The responses a category can have; "unmapped" is what a call type gets when no line of the table matches.
CATEGORY_RESPONSES = RESPONSES[:-1]
RESPONSE_LABELS = {
    "alternative": "Alternative response",
    "co_response": "Co-response",
    "police": "Police",
    "fire_medical": "Fire or medical",
    "unmapped": "Not mapped",
}

DEFAULT_PATH = Path(__file__).resolve().parent.parent.parent / "content" / "call_types.yaml"
# An override whose name starts with this is a regular expression; one holding * or ? is a glob.
REGEX_PREFIX = "re:"
MAX_NAME_LENGTH = 200

_WITHOUT = re.compile(r"(?<![^\W_])w\s*/\s*o(?![^\W_])")
_WITH = re.compile(r"(?<![^\W_])w\s*/")
_SEPARATORS = re.compile(r"[\W_]+")


class TableError(ValueError):
    """The table (or an override) is not usable; the message says which line and why."""


@dataclass(frozen=True)
class Category:
    slug: str
    name: str
    response: str
    description: str = ""


@dataclass(frozen=True)
class Pattern:
    source: str          # as written: the glob, or the regex (overrides keep their "re:" prefix)
    kind: str            # "glob" or "regex"
    regex: re.Pattern
    category: str        # slug

    def matches(self, normalized: str) -> bool:
        if self.kind == "glob":
            return self.regex.fullmatch(normalized) is not None
        return self.regex.search(normalized) is not None


@dataclass(frozen=True)
class Table:
    categories: dict[str, Category]             # slug -> category, in the file's order
    names: dict[str, str]                       # normalized name -> slug
    patterns: tuple[Pattern, ...]               # tried in order after the exact names
    abbreviations: dict[str, str] = field(default_factory=dict)
    non_police_units: tuple[tuple[str, ...], ...] = ()
    police_units: tuple[tuple[str, ...], ...] = ()
    # A jurisdiction's own lines, tried before everything above.
    override_names: dict[str, str] = field(default_factory=dict)
    override_patterns: tuple[Pattern, ...] = ()

    def category(self, slug: str) -> Category:
        return self.categories[slug]

    def normalize(self, name: str) -> str:
        return normalize(name, self.abbreviations)

    def is_non_police_unit(self, unit_type: str | None) -> bool | None:
        return is_non_police_unit(unit_type, self)


def _words(name: str) -> list[str]:
    text = unicodedata.normalize("NFKC", str(name)).casefold()
    text = _WITHOUT.sub(" without ", text)
    text = _WITH.sub(" with ", text)
    text = text.replace("&", " and ").replace("+", " and ")
    return [word for word in _SEPARATORS.split(text) if word]


def normalize(name: str, abbreviations: dict[str, str] | None = None) -> str:
    """The form names are compared in: lower case, punctuation and spacing dropped, abbreviations spelled out
    ("WELFARE CHK", "Welfare Check" and "welfare-check" all give "welfare check"). Without `abbreviations`,
    the default table's are used."""
    if abbreviations is None:
        abbreviations = load_table().abbreviations
    return " ".join(abbreviations.get(word, word) for word in _words(name))


def _glob_regex(glob: str, abbreviations: dict[str, str]) -> re.Pattern:
    """A glob over normalized names: its literal pieces are normalized like the names they match."""
    out = []
    for piece in re.split(r"(\*|\?)", glob):
        if piece == "*":
            out.append(".*")
        elif piece == "?":
            out.append(".")
        elif piece:
            words = normalize(piece, abbreviations)
            if not words:
                out.append(" ?")  # punctuation between wildcards: an optional word break
                continue
            # A piece that starts or ends with a separator keeps a word break there ("* IN PROG*").
            lead = " ?" if not piece[0].isalnum() and out else ""
            trail = " ?" if not piece[-1].isalnum() else ""
            out.append(lead + re.escape(words) + trail)
    return re.compile("".join(out))


def compile_pattern(source: str, kind: str, category: str, abbreviations: dict[str, str]) -> Pattern:
    if kind == "glob":
        regex = _glob_regex(source, abbreviations)
    elif kind == "regex":
        try:
            regex = re.compile(source)
        except re.error as error:
            raise TableError(f"The pattern {source!r} is not a valid regular expression: {error}.") from None
    else:
        raise TableError(f"Unknown pattern kind {kind!r}: use glob or regex.")
    return Pattern(source=source, kind=kind, regex=regex, category=category)


def _phrases(values) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(_words(value)) for value in values or () if _words(value))


def parse_table(data: dict, *, source: str = "the table") -> Table:
    """A Table from the YAML's structure; raises TableError naming the faulty line."""
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
        raise TableError(f"{source}: expected a mapping with a list of categories.")
    abbreviations = {}
    for key, value in (data.get("abbreviations") or {}).items():
        words = _words(str(key))
        if len(words) != 1:
            raise TableError(f"{source}: the abbreviation {key!r} must be a single word.")
        abbreviations[words[0]] = " ".join(_words(str(value)))

    categories: dict[str, Category] = {}
    names: dict[str, str] = {}
    for entry in data["categories"]:
        slug = entry.get("slug")
        response = entry.get("response")
        if not slug or not re.fullmatch(r"[a-z][a-z0-9_]*", slug):
            raise TableError(f"{source}: the category slug {slug!r} must be lower-case letters, digits, _.")
        if slug in categories or slug == "unmapped":
            raise TableError(f"{source}: the category {slug!r} is listed twice (or reserved).")
        if response not in CATEGORY_RESPONSES:
            raise TableError(f"{source}: the category {slug!r} has response {response!r}; "
                             f"use one of {', '.join(CATEGORY_RESPONSES)}.")
        categories[slug] = Category(slug=slug, name=str(entry.get("name") or slug),
                                    response=response, description=str(entry.get("description") or "").strip())
        for name in entry.get("names") or ():
            key = normalize(str(name), abbreviations)
            if not key:
                raise TableError(f"{source}: the name {name!r} in {slug!r} is empty once normalized.")
            if names.get(key, slug) != slug:
                raise TableError(f"{source}: the name {name!r} ({key!r}) is in both {names[key]!r} and {slug!r}.")
            names[key] = slug

    patterns = []
    for entry in data.get("patterns") or ():
        kinds = [kind for kind in ("glob", "regex") if kind in entry]
        if len(kinds) != 1:
            raise TableError(f"{source}: each pattern has exactly one of glob or regex: {entry!r}.")
        category = entry.get("category")
        if category not in categories:
            raise TableError(f"{source}: the pattern {entry[kinds[0]]!r} names an unknown category {category!r}.")
        patterns.append(compile_pattern(str(entry[kinds[0]]), kinds[0], category, abbreviations))

    return Table(categories=categories, names=names, patterns=tuple(patterns), abbreviations=abbreviations,
                 non_police_units=_phrases(data.get("non_police_units")),
                 police_units=_phrases(data.get("police_units")))


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> Table:
    # libyaml's loader when PyYAML has it: the table is read in a fifth of the time (a cold worker's first job).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=loader)  # noqa: S506 (a safe loader)
    return parse_table(data, source=path)


def load_table(path: Path | None = None) -> Table:
    """The table in `path` (content/call_types.yaml by default), cached until the file changes."""
    path = Path(path or DEFAULT_PATH)
    return _load(str(path), path.stat().st_mtime_ns)


def is_pattern(name: str) -> bool:
    return name.startswith(REGEX_PREFIX) or any(char in name for char in "*?")


def rule_error(name: str, category: str, table: Table) -> str | None:
    """Why a jurisdiction's line (name or pattern -> category slug) cannot be used, or None if it can."""
    name = (name or "").strip()
    if not name:
        return "Enter a call type name or pattern."
    if len(name) > MAX_NAME_LENGTH:
        return f"A call type name or pattern has at most {MAX_NAME_LENGTH} characters."
    if category not in table.categories:
        return f"Choose one of the categories ({', '.join(table.categories)})."
    if name.startswith(REGEX_PREFIX):
        try:
            re.compile(name[len(REGEX_PREFIX):])
        except re.error as error:
            return f"The regular expression is not valid: {error}."
    elif not is_pattern(name) and not normalize(name, table.abbreviations):
        return "The call type name needs at least one letter or digit."
    return None


def with_overrides(table: Table, overrides: dict[str, str]) -> Table:
    """The table with a jurisdiction's own lines ({call type name or pattern: category slug}), which win over
    the default ones: its exact names first, then its patterns (in the order given), then the defaults.
    A pattern is a glob (holding * or ?) or a regular expression written "re:...". Raises TableError."""
    names = dict(table.override_names)
    patterns = list(table.override_patterns)
    for name, category in (overrides or {}).items():
        problem = rule_error(name, category, table)
        if problem:
            raise TableError(f"{name!r}: {problem}")
        name = name.strip()
        if name.startswith(REGEX_PREFIX):
            pattern = compile_pattern(name[len(REGEX_PREFIX):], "regex", category, table.abbreviations)
            patterns.append(replace(pattern, source=name))
        elif is_pattern(name):
            patterns.append(compile_pattern(name, "glob", category, table.abbreviations))
        else:
            names[normalize(name, table.abbreviations)] = category
    return replace(table, override_names=names, override_patterns=tuple(patterns))


def classify(name: str, table: Table) -> Category | None:
    """The category of a call type name, or None when no line matches (the call type is "unmapped")."""
    if name is None:
        return None
    key = normalize(name, table.abbreviations)
    if not key:
        return None
    slug = table.override_names.get(key)
    if slug is None:
        slug = next((p.category for p in table.override_patterns if p.matches(key)), None)
    if slug is None:
        slug = table.names.get(key)
    if slug is None:
        slug = next((p.category for p in table.patterns if p.matches(key)), None)
    return table.categories[slug] if slug else None


def classify_many(names, table: Table) -> dict[str, Category | None]:
    """Each distinct name classified once."""
    return {name: classify(name, table) for name in dict.fromkeys(names)}


def is_non_police_unit(unit_type: str | None, table: Table) -> bool | None:
    """Whether a responding unit's type is a non-police one; None when there is no unit type. A unit whose type
    names a police word outside its non-police words ("crisis intervention officer") counts as police."""
    if unit_type is None:
        return None
    words = _words(unit_type)
    if not words:
        return None
    covered = [False] * len(words)

    def spans(phrases):
        for phrase in phrases:
            size = len(phrase)
            for start in range(len(words) - size + 1):
                if tuple(words[start:start + size]) == phrase:
                    yield start, start + size

    non_police = False
    for start, end in spans(table.non_police_units):
        non_police = True
        covered[start:end] = [True] * (end - start)
    for start, end in spans(table.police_units):
        if not all(covered[start:end]):
            return False
    return non_police
