"""Quotation marks and what they delimit: the quoted spans of a text, the quoted
words of a span, and the sentences outside the quotes."""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right

_SENTENCE_END = re.compile(r"[.!?…]+(?:\s*[»\"])?(?=\s+[«\"A-ZÀ-Ý0-9])")


_ABBREVIATION = re.compile(r"(?:\b(?:M|Mme|Mlle|MM|Dr|Pr|Me|Mgr|St|Ste|etc|av|J\.-C)|\b[A-Z])$")


PARAGRAPH = re.compile(r"\n\n")


_MARKS = re.compile(r"[«»]|\n\n")


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """Every quotation, marks included, outermost only: `« … »` (a paragraph that
    reopens `«` before the previous one closed runs on; one that never closes ends
    with its paragraph) and `"…"` paired within a paragraph outside them (and around
    them: `"Il m'a dit « non »"`)."""
    spans: list[tuple[int, int]] = []
    depth, opened, skip = 0, -1, -1
    for mark in _MARKS.finditer(text):
        position, char = mark.start(), mark.group()
        if position == skip:
            continue  # the `«` that reopens a quote in its next paragraph
        if char == "«":
            if depth == 0:
                opened = position
            depth += 1
        elif char == "»" and depth:
            depth -= 1
            if depth == 0:
                spans.append((opened, position + 1))
        elif char == "\n\n" and depth:
            if text.startswith("«", mark.end()):
                skip = mark.end()  # the same quote goes on in the next paragraph
                continue
            spans.append((opened, position))
            depth = 0
    if depth:
        spans.append((opened, len(text)))
    straight = _straight_spans(text, Coverage(spans))
    # `"Il m'a dit « non »", a déclaré X`: the straight marks are the outer quote
    around = Coverage(straight)
    return sorted([span for span in spans if not around(span[0])] + straight)


def _straight_spans(text: str, inside: Coverage) -> list[tuple[int, int]]:
    """`"…"`, the marks paired in turn within each paragraph, but for those `inside`."""
    straight: list[tuple[int, int]] = []
    offset = 0
    for paragraph in text.split("\n\n"):
        marks = [
            offset + i
            for i, char in enumerate(paragraph)
            if char == '"' and not inside(offset + i)
        ] if '"' in paragraph else []  # fmt: skip
        straight += [(marks[i], marks[i + 1] + 1) for i in range(0, len(marks) - 1, 2)]
        offset += len(paragraph) + 2
    return straight


def quoted_words(text: str, start: int, end: int) -> tuple[int, int]:
    """The quoted words of a span: without the marks and the spaces inside them (and
    without the reopening marks of a quote over several paragraphs at its ends)."""
    start += 1
    if end > start and text[end - 1] in '»"':
        end -= 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, quoted: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentences outside the quotes (a quote of several sentences stays in one)."""
    cuts = {0, len(text)}
    inside = Coverage(quoted)
    for match in PARAGRAPH.finditer(text):
        if not inside(match.start()):
            cuts.update((match.start(), match.end()))
    for match in _SENTENCE_END.finditer(text):
        if inside(match.start()) and text[match.end() - 1] not in '»"':
            continue
        if text[match.start()] == "." and _ABBREVIATION.search(
            text, max(0, match.start() - 12), match.start()
        ):
            continue
        cuts.add(match.end())
    ordered = sorted(cuts)
    sentences = []
    for start, end in itertools.pairwise(ordered):
        while start < end and text[start].isspace():
            start += 1
        if start < end:
            sentences.append((start, end))
    return sentences


class Coverage:
    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.starts = [s for s, _ in spans]
        self.spans = spans

    def __call__(self, position: int) -> bool:
        at = bisect_right(self.starts, position) - 1
        return at >= 0 and self.spans[at][0] < position < self.spans[at][1]
