"""Names compared as a reader matches them: without case or accents."""

from __future__ import annotations

import unicodedata


def folded(text: str) -> str:
    """`text` with its case and accents folded (`Les Échos` → `les echos`): pages drop
    accents on capitals, and lists of names cannot hold every spelling."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
