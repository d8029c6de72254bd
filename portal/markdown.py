"""Markdown to safe HTML: markdown-it-py with raw HTML off, then nh3 as the last word."""
import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

_TAGS = {"a", "abbr", "blockquote", "br", "code", "em", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol",
         "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul"}


def render_markdown(text: str, *, demote_headings: bool = True) -> Markup:
    """Render for display. Level-1 headings become level 2: the page owns its single h1."""
    html = _md.render(text or "")
    if demote_headings:
        html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    clean = nh3.clean(html, tags=_TAGS, attributes={"a": {"href", "title"}, "abbr": {"title"},
                                                    "td": {"align"}, "th": {"align"}},
                      url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
    return Markup(clean)


_MARKUP = [
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links and images keep their text
    (re.compile(r"\*\*|__|~~|`+|(?<!\w)[*_]|[*_](?!\w)"), ""),  # emphasis and code marks
]
# A line that starts a block of its own: a heading, a list item, a quote, a table row, a fence.
_BLOCK_START = re.compile(r"^[ \t]{0,3}(?:#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+|\d{1,9}[.)][ \t]+|\||```|~~~)")
_BLOCK_MARKER = re.compile(r"^[ \t]{0,3}(?:#{1,6}[ \t]+|(?:>[ \t]?)+|[-*+][ \t]+|\d{1,9}[.)][ \t]+)")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+")
_RULE = re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$|^[ \t]*(?:```|~~~).*$|^[ \t]*=+[ \t]*$"
                   r"|^[ \t]*\|?(?:[ \t]*:?-+:?[ \t]*\|)+[ \t]*(?::?-+:?)?[ \t]*$")  # rules, fences, table rulers


def markdown_to_text(text: str) -> str:
    """Markdown as plain text for the search index and snippets (fast: no rendering).

    Blocks (headings, paragraphs, list items, table rows) are separated by a blank line, so the snippet
    cutter can keep them apart: a heading never runs into the paragraph after it."""
    blocks: list[str] = []
    current: list[str] = []

    def close() -> None:
        if current:
            blocks.append(" ".join(current))
            current.clear()

    for line in (text or "").splitlines():
        if not line.strip() or _RULE.match(line):
            close()
            continue
        if _BLOCK_START.match(line):
            close()
        heading = bool(_HEADING.match(line))
        current.append(_BLOCK_MARKER.sub("", line).strip().strip("#").strip() if heading
                       else _BLOCK_MARKER.sub("", line).strip())
        if heading:
            close()  # a heading is one line: the next line starts a new block
    close()
    out = "\n\n".join(block for block in blocks if block)
    for pattern, replacement in _MARKUP:
        out = pattern.sub(replacement, out)
    return out
