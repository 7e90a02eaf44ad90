"""The dependency parse of an article, as the quote rules ask it: who is the subject
of a reporting verb, and whether a `que` clause is what the verb reports.

The model's parser reads the grammar that the word rules only guess at: the subject of
`a déclaré` wherever it stands (`Le ministre, arrivé hier, a déclaré`, `a assuré Jens
Stoltenberg`), through a relative pronoun (`X, qui a rappelé que`) or a verb the
reporting verb depends on (`X a tenu à préciser que`, `X est arrivé et a déclaré`).
The rules keep the last word where the parse says nothing.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from spacy.tokens import Doc, Token

SUBJECT = "nsubj"
# a verb whose subject is the one of the verb it depends on: `tenu à préciser`,
# `est arrivé et a déclaré`
SHARES_SUBJECT = ("xcomp", "conj")
RELATIVE_SUBJECTS = ("qui", "lequel", "laquelle", "lesquels", "lesquelles")


@dataclass
class Parse:
    """An article's tokens with their heads and dependency labels (the spaCy Doc the
    model made of its text), looked up by character offset."""

    doc: Doc
    _starts: list[int] = field(default_factory=list, init=False, repr=False)

    def token_at(self, position: int) -> Token | None:
        """The token that covers the character at `position`."""
        if not self._starts:
            self._starts = [token.idx for token in self.doc]
        at = bisect_right(self._starts, position) - 1
        if at < 0:
            return None
        token = self.doc[at]
        return token if position < token.idx + len(token) else None

    def subject(self, start: int, end: int) -> tuple[int, int] | None:
        """The words of the subject of the verb written in text[start:end] (its last
        word is the verb's head: the participle of `a déclaré`), from the subject's
        first word to its last; None when the parse gives the verb no subject."""
        token = self.token_at(end - 1)
        for _ in range(3):  # `X a tenu à préciser`: up to the verb that has one
            if token is None or not start - 200 < token.idx < end + 200:
                return None
            subject = next((c for c in token.children if c.dep_ == SUBJECT), None)
            if subject is not None and subject.lower_ in RELATIVE_SUBJECTS:
                # `X, qui a rappelé`: the name the relative clause is about
                subject = token.head if token.dep_ == "acl:relcl" else None
                return None if subject is None else _words(subject, until=token)
            if subject is not None:
                return _words(subject, until=None)
            if token.dep_ not in SHARES_SUBJECT:
                return None
            token = token.head
        return None

    def reported_clause(self, start: int, end: int) -> int | None:
        """Where the words after `que` start, when the verb written in text[start:end]
        has a `que` clause for its complement (`X a déclaré, lors d'une conférence de
        presse à Paris, que P`), however far from it; None otherwise."""
        token = self.token_at(end - 1)
        if token is None:
            return None
        for clause in token.children:
            if clause.dep_ != "ccomp" or clause.i < token.i:
                continue
            mark = next((c for c in clause.children if c.dep_ == "mark"), None)
            if mark is not None and mark.lower_ in ("que", "qu'"):
                return mark.idx + len(mark)
        return None


def _words(subject: Token, until: Token | None) -> tuple[int, int]:
    """The characters of a subject's phrase, stopped before `until` (the relative
    clause that names it)."""
    first, last = subject.left_edge, subject.right_edge
    if until is not None:
        left = [t for t in subject.subtree if t.i < until.i and t.dep_ != "nsubj"]
        last = left[-1] if left else subject
        while last.i > first.i and (last.is_punct or last.lower_ in RELATIVE_SUBJECTS):
            last = last.doc[last.i - 1]
    return first.idx, last.idx + len(last)
