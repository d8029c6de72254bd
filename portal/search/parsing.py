"""Turning what anyone typed into a query whose work is bounded before it runs.

Whoosh cannot be interrupted mid-match, so every query kind is bounded by what it will actually do:
- no field:value syntax (it could reach text the asker may not read), no wildcards, no ranges, no fuzzy
  terms: those plugins are removed, and any node of those kinds that appears anyway is dropped;
- a phrase's slop is clamped to MAX_SLOP and its length to MAX_PHRASE_WORDS: the position check compares
  each occurrence of one word with the occurrences of the next within the slop, so its time and memory
  grow with occurrences times slop (with an unbounded slop, the square of the occurrences);
- at most MAX_TERMS terms (a hyphenated word is several);
- the cost counts postings for terms and positions (occurrences, times the slop window) for phrases, and
  a query over WORK_BUDGET falls back to titles and summaries (see query.py).
No input raises: the parser's odd corners fall back to the plain words.
"""
import re

from whoosh.qparser import MultifieldParser, QueryParser
from whoosh.qparser.plugins import FieldsPlugin, FuzzyTermPlugin, RangePlugin, RegexPlugin, WildcardPlugin
from whoosh.query import (And, AndMaybe, AndNot, DisjunctionMax, Every, NullQuery, Or, Not, Phrase, Query,
                          Require, Term)

MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 10
MAX_SLOP = 8
MAX_PHRASE_WORDS = 8
MAX_TERMS = 64  # leaves over every field searched: ten words in four fields are 40
# Units of work the full-text pass may do: postings read for terms, positions compared for phrases.
# Measured (bench/search.py and tests/test_search_security.py): this keeps any query well under a second
# of CPU at 50,000 resources.
WORK_BUDGET = 60_000

_BRANCHES = (And, Or, Not, AndNot, AndMaybe, DisjunctionMax, Require)
_PARSE_ERRORS = (RecursionError, ValueError, TypeError, IndexError, KeyError, AttributeError, AssertionError)


class TooManyTerms(ValueError):
    """The query has more terms than MAX_TERMS."""


def clean_query(q: str) -> str:
    q = " ".join((q or "").split())[:MAX_QUERY_CHARS]
    return " ".join(q.split(" ")[:MAX_QUERY_WORDS])


def _parser(fields, schema):
    parser = MultifieldParser(list(fields), schema) if len(fields) > 1 else QueryParser(fields[0], schema)
    for plugin in (FieldsPlugin, WildcardPlugin, RangePlugin, FuzzyTermPlugin, RegexPlugin):
        parser.remove_plugin_class(plugin)
    return parser


def _bounded(query: Query) -> Query:
    """The query with every node kind the cost model does not know dropped, and phrases clamped."""
    if isinstance(query, Phrase):
        words = list(query.words[:MAX_PHRASE_WORDS])
        if len(words) == 1:
            return Term(query.fieldname, words[0], boost=query.boost)
        return Phrase(query.fieldname, words, slop=max(1, min(int(query.slop), MAX_SLOP)), boost=query.boost)
    if isinstance(query, (Term, Every)) and type(query) in (Term, Every):
        return query
    if isinstance(query, _BRANCHES):
        return query.apply(_bounded)
    return NullQuery


def _terms(query: Query) -> int:
    return sum(1 for leaf in query.leaves() if isinstance(leaf, (Term, Phrase))) + sum(
        len(leaf.words) - 1 for leaf in query.leaves() if isinstance(leaf, Phrase))


def parse(q: str, fields, schema) -> Query | None:
    """The bounded query for these fields, or None when nothing searchable is left. Raises TooManyTerms."""
    try:
        query = _bounded(_parser(fields, schema).parse(q)).normalize()
    except _PARSE_ERRORS:
        # Whoosh's parser has corners that raise on odd input ("NOT NOT NOT"); fall back to the plain words,
        # lower-cased so that none of them is read as an operator again.
        words = re.findall(r"\w+", q.lower())
        if not words:
            return None
        try:
            query = _bounded(_parser(fields, schema).parse(" ".join(words))).normalize()
        except _PARSE_ERRORS:
            return None
    if query is NullQuery or not any(isinstance(leaf, (Term, Phrase, Every)) for leaf in query.leaves()):
        return None
    if _terms(query) > MAX_TERMS:
        raise TooManyTerms(q)
    return query


def cost(reader, query: Query, fields) -> int:
    """The work a query will do in these fields: postings for terms, positions for phrases."""
    total = 0
    for leaf in query.leaves():
        if getattr(leaf, "fieldname", None) not in fields:
            continue
        if isinstance(leaf, Phrase):
            occurrences = sum(reader.frequency(leaf.fieldname, word) for word in leaf.words)
            total += int(occurrences) * (leaf.slop + 1)
        elif isinstance(leaf, Term):
            total += reader.doc_frequency(leaf.fieldname, leaf.text)
    return total


def ranking_query(query: Query) -> Query:
    """The query used only to order documents already known to match: a phrase is ranked by its words, so
    its costly position check runs once (in the matching pass), not twice. Works for every node kind
    (binary ones such as ANDNOT and ANDMAYBE included) through Query.apply."""
    if isinstance(query, Phrase):
        return And([Term(query.fieldname, word, boost=query.boost) for word in query.words])
    if query.is_leaf():
        return query
    return query.apply(ranking_query)
