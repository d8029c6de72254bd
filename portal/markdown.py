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
    (re.compile(r"^[ \t]{0,3}(?:#{1,6}|>|[-*+]|\d{1,9}[.)])[ \t]+", re.MULTILINE), ""),  # block markers
    (re.compile(r"\*\*|__|~~|`+|(?<!\w)[*_]|[*_](?!\w)"), ""),  # emphasis and code marks
    (re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.MULTILINE), ""),  # rules
]


def markdown_to_text(text: str) -> str:
    """Markdown as plain text for the search index and snippets (fast: no rendering)."""
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text or "")
    return text
