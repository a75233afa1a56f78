"""How a live reply's text is cut into the pieces that go to TTS: sentences, long
sentences' clauses, and the reply's first words on their own so the caller hears the
agent sooner."""

from __future__ import annotations

import re

from ..components.sim import SENTENCE_BREAK

_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
MIN_CLAUSE_WORDS = 5


def split(text: str) -> list[str]:
    """Finished pieces and the unfinished rest (last item): sentences, and clauses of at
    least MIN_CLAUSE_WORDS words so TTS can start before a long sentence ends."""
    out: list[str] = []
    for piece in SENTENCE_BREAK.split(text):
        out.extend(clauses(piece) if len(piece.split()) > MIN_CLAUSE_WORDS else [piece])
    done, rest = out[:-1], out[-1]
    return [*done, rest]


FIRST_PIECE_WORDS = 4
_FIRST_WORDS = re.compile(rf"\s*(?:\S+\s+){{{FIRST_PIECE_WORDS}}}")


def first_words(text: str) -> tuple[list[str], str]:
    """The reply's first FIRST_PIECE_WORDS words as a piece of their own, once complete,
    when no sentence or clause has ended yet: the caller hears the agent a clause-length
    sooner, at the price of a seam in the intonation after them."""
    m = _FIRST_WORDS.match(text)
    if m is None:
        return [], text
    return [m.group().strip()], text[m.end():]


def clauses(sentence: str) -> list[str]:
    parts, current = [], ""
    for clause in _CLAUSE_END.split(sentence):
        current = f"{current} {clause}".strip()
        if len(current.split()) >= MIN_CLAUSE_WORDS and current[-1:] in ",;:":
            parts.append(current)
            current = ""
    return [*parts, current]
