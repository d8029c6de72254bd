"""Snippets with <mark> highlights, cut from the postings' character offsets (no text is analysed again)."""
import re

from markupsafe import Markup, escape
from whoosh.reading import TermNotFound

SNIPPET_CHARS = 220
SNIPPET_BEFORE = 60
SNIPPET_ORDER = ("body", "restricted", "summary", "title")  # the first field with a match gives the snippet
BLOCK_SEPARATOR = " · "  # between a heading and its paragraph, or two paragraphs, in one passage
_BLOCK_BREAK = re.compile(r"[ \t\r\f\v]*\n[ \t\r\f\v]*\n\s*")
_LINE_BREAK = re.compile(r"\s*\n\s*")


def _spans(searcher, fieldname: str, terms: set[bytes], docnums: list[int]) -> dict[int, list[tuple[int, int]]]:
    """Character spans of the query's terms in these documents, read from the postings (indexed with chars)."""
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


def _flat(text: str) -> str:
    """A passage on one line: a blank line (a block boundary) becomes a visible separator, a line break a
    space, so a heading and the paragraph after it do not run together."""
    return _LINE_BREAK.sub(" ", _BLOCK_BREAK.sub(BLOCK_SEPARATOR, text))


def _passage(text: str, spans: list[tuple[int, int]], begin: int, finish: int) -> Markup:
    pieces, cursor = [], begin  # (text, marked)
    for s_start, s_end in spans:
        if s_start >= cursor and s_end <= finish:
            pieces += [(text[cursor:s_start], False), (text[s_start:s_end], True)]
            cursor = s_end
    pieces.append((text[cursor:finish], False))
    pieces = [(piece if marked else _flat(piece), marked) for piece, marked in pieces]
    if not pieces[0][1]:
        pieces[0] = (pieces[0][0].lstrip(" ·"), False)
    if not pieces[-1][1]:
        pieces[-1] = (pieces[-1][0].rstrip(" ·"), False)
    body = Markup("").join(Markup("<mark>") + escape(piece) + Markup("</mark>") if marked else escape(piece)
                           for piece, marked in pieces)
    prefix = "… " if begin else ""
    suffix = " …" if finish < len(text) else ""
    return Markup(prefix) + body + Markup(suffix)


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
        begin = max(text.rfind(" ", 0, begin), text.rfind("\n", 0, begin)) + 1 if begin else 0
        finish = min(len(text), begin + SNIPPET_CHARS)
        if finish < len(text):
            finish = max(text.rfind(" ", begin, finish), text.rfind("\n", begin, finish), start + 1)
        passages.append(_passage(text, spans, begin, finish))
        used_until = finish
    return Markup(" ").join(passages)


def page_snippets(searcher, ranking, docnums: list[int], fields, hidden: set[int]) -> dict[int, Markup]:
    """Highlights for one page of hits, from the fields the query read; `hidden` documents get snippets from
    their title and summary alone."""
    terms: dict[str, set[bytes]] = {}
    for fieldname, text in ranking.iter_all_terms():
        if fieldname in fields:
            terms.setdefault(fieldname, set()).add(text if isinstance(text, bytes) else text.encode("utf-8"))
    spans = {fieldname: _spans(searcher, fieldname, field_terms, docnums) for fieldname, field_terms in terms.items()}
    found = {}
    for doc in docnums:
        stored = searcher.stored_fields(doc)
        order = [name for name in SNIPPET_ORDER if name in fields
                 and (doc not in hidden or name in ("summary", "title"))]
        for fieldname in order:
            text = stored.get(fieldname)
            snippet = _window(text, spans.get(fieldname, {}).get(doc, [])) if text else None
            if snippet:
                found[int(stored["id"])] = snippet
                break
    return found
