"""The text that a file's or a web page's bytes hold.

An encoding is believed only when the text it gives reads as text: a charset that
an HTTP answer or a page declares may lie (a UTF-8 page served as ISO-8859-1 reads
as `numÃ©ro`), so each candidate in turn — a byte-order mark, the declared charset,
the page's `<meta>`, UTF-8, Windows-1252, a detector's guess — is kept only when
its text holds no double-encoded sequence and no C1 control. Text that is garbled
at its source (double-encoded UTF-8 in the bytes themselves) is repaired where the
garbling is certain (schemas.tables.MOJIBAKE), and the repairs are counted.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

import charset_normalizer

from schemas import Rejected
from schemas.tables import MOJIBAKE, MOJIBAKE_MARKERS

# Checked longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
_META_REACH = 4096  # bytes: HTML puts the charset declaration in the first 1024
# Labels that mean Windows-1252, as browsers read them (the WHATWG Encoding standard):
# a page declared ISO-8859-1 with ’ or œ in it is Windows-1252.
_WINDOWS_1252 = frozenset(
    {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii"}
    | {"cp819", "ibm819", "windows-1252", "x-cp1252", "cp1252"}
)
_CONTROL_SHARE_MAX = 0.01
# Unicode's control characters (category Cc) but tab, line feed, vertical tab, form
# feed and carriage return
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_C1 = re.compile("[\x80-\x9f]")
_GARBLED = re.compile(MOJIBAKE_MARKERS)
_DETECTED_REACH = 1_000_000  # bytes a detector reads: enough to guess, bounded in time


@dataclass(frozen=True)
class Decoded:
    """The text of some bytes, the encoding it was read in, and the double-encoded
    sequences repaired in it."""

    text: str
    encoding: str
    repairs: int = 0


def decode(data: bytes, fmt: str, declared: str | None = None, *, repair: bool = True) -> Decoded:
    """The text of `data` (a file, or a page whose HTTP answer declared `declared`);
    its double-encoded sequences repaired unless `repair` is false (a caller that
    repairs, and counts, the text's parts one by one)."""
    if not data.strip():
        raise Rejected("empty", "the file is empty or only whitespace")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as error:
                raise Rejected(
                    "undecodable", f"starts with a {encoding} mark but: {error}"
                ) from None
            return _repaired(text, encoding, repair)
    if b"\x00" in data:
        raise Rejected("binary", "NUL bytes and no byte-order mark: not a text file")
    readings = []
    for encoding in _candidates(data, fmt, declared):
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if _reads_as_text(text, encoding):
            return Decoded(_checked_text(text), encoding)
        if encoding == "utf-8":
            # bytes that are UTF-8 are UTF-8, not a guess's Korean: garbled at the source
            return _repaired(text, encoding, repair)
        readings.append((text, encoding))
    # every reading is garbled: the bytes are, and the least garbled reading is repaired
    text, encoding = min(readings, key=lambda reading: len(_GARBLED.findall(reading[0])))
    return _repaired(text, encoding, repair)


def _candidates(data: bytes, fmt: str, declared: str | None) -> Iterator[str]:
    """The encodings to try, most trusted first; Windows-1252 (French text's older
    encoding) before a detector's guess, which is poor on short French text, and
    Latin-1, which reads any bytes, last."""
    if declared:
        yield _label(declared)
    if fmt == "html" and (match := _META_CHARSET.search(data[:_META_REACH])):
        yield _label(match.group(1).decode("ascii"))
    yield "utf-8"
    yield "cp1252"
    guess = charset_normalizer.from_bytes(data[:_DETECTED_REACH]).best()
    if guess is not None:
        yield guess.encoding
    yield "latin-1"


def _reads_as_text(text: str, encoding: str) -> bool:
    """Whether `text` is what the bytes say: no double-encoded sequence, and no C1
    control read by a single-byte encoding (UTF-8 and cp1252 bytes read as Latin-1).
    UTF-8 may hold U+0085 (NEL), as JSON written with `ensure_ascii=False` does."""
    if _GARBLED.search(text):
        return False
    return encoding.startswith("utf") or not _C1.search(text)


def _label(name: str) -> str:
    name = name.strip().lower()
    return "cp1252" if name in _WINDOWS_1252 else name


def _repaired(text: str, encoding: str, repair: bool) -> Decoded:
    repaired, repairs = repair_mojibake(text) if repair else (text, 0)
    return Decoded(_checked_text(repaired), encoding, repairs)


def repair_mojibake(text: str) -> tuple[str, int]:
    """`text` with its double-encoded sequences replaced by what they stand for (text
    encoded twice or more is repaired as many times), and how many were replaced."""
    repairs = 0
    while True:
        text, found = _GARBLED.subn(lambda match: MOJIBAKE[match.group()], text)
        if not found:
            return text, repairs
        repairs += found


def _checked_text(text: str) -> str:
    if not text.strip():
        raise Rejected("empty", "the decoded text is only whitespace")
    controls = len(_CONTROL.findall(text))
    if controls > _CONTROL_SHARE_MAX * len(text):
        raise Rejected("binary", f"{controls} control characters in {len(text)}: not text")
    return text
