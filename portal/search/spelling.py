""""Did you mean": corrections drawn only from text the asker may read.

Suggestions come from the `spell` field, which holds only text everyone may read (titles, summaries, tags).
A word counts as known, and so is neither corrected nor uses up the correction budget, only when it occurs
in a field the asker may read: a members-only body, a file's text or an unpublished resource (never
indexed until due) cannot change what an anonymous visitor is offered.
"""
import re

from whoosh.analysis import STOP_WORDS

from portal.search.schema import PUBLIC_TEXT_FIELDS, RESTRICTED_TEXT_FIELDS

OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}
MAX_CORRECTIONS = 4  # unknown words looked up, per query


def did_you_mean(searcher, q: str, reads_restricted: bool = False) -> str | None:
    """The query with its misspelt words corrected; operators, stop words and everything else kept as typed."""
    corrector = searcher.corrector("spell")
    reader = searcher.reader()
    stemmed = searcher.schema["body"].analyzer
    readable = PUBLIC_TEXT_FIELDS + (RESTRICTED_TEXT_FIELDS if reads_restricted else ())
    changed, budget = False, [MAX_CORRECTIONS]

    def known(word: str) -> bool:
        if reader.frequency("spell", word) > 0:
            return True
        stems = [token.text for token in stemmed(word)]
        return bool(stems) and any(reader.frequency(name, stems[0]) > 0 for name in readable)

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
