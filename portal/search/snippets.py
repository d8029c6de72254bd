"""Snippets with <mark> highlights from the postings' character offsets, and "did you mean"."""
import re
from datetime import datetime

from markupsafe import Markup, escape
from sqlalchemy import select
from whoosh.analysis import STOP_WORDS
from whoosh.reading import TermNotFound

from portal.extensions import db
from portal.library.models import Resource, members_only_now
from portal.search.index import TEXT_FIELDS

OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}
MAX_CORRECTIONS = 4  # unknown words looked up for "did you mean", per query
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


def page_snippets(searcher, ranking, docnums: list[int], hidden: set[int]) -> dict[int, Markup]:
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


def members_only_rows(ids: list[int], now: datetime) -> set[int]:
    """Which of these resources the database says are members-only now: a stale index (an update that failed
    before `flask search sync`) must never show a body that has since become members-only."""
    rows = db.session.execute(select(Resource.id, Resource.access, Resource.members_until)
                              .where(Resource.id.in_(ids)))
    return {row.id for row in rows if members_only_now(row.access, row.members_until, now.date())}


def did_you_mean(searcher, q: str) -> str | None:
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
