"""Feeds and sitemaps: what a source fetched from the web lists, read from its bytes.

`sniff` tells a feed or sitemap (XML), a gzipped sitemap, an HTML page and a text
list of URLs apart from their content alone, since servers mislabel all of them.
`parse_listing` reads RSS 2.0, RSS 1.0 (RDF), Atom, sitemaps, Google News sitemaps
and sitemap indexes into `Entry`s: an article's URL and the hints the source gives
about it (title, date, author, site). No network here: bytes in, a `Listing` out.

XML comes from strangers, so it is parsed by defusedxml: a DOCTYPE is allowed (old
RSS 0.91 feeds carry Netscape's) but any entity declaration is refused before it
can expand (billion laughs) or be fetched (external entities), and a gzip body is
decompressed only up to a cap.
"""

from __future__ import annotations

import codecs
import email.utils
import html
import html.entities
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from tasks.text.dates import EARLIEST

__all__ = [
    "KINDS",
    "REASONS",
    "Entry",
    "Listing",
    "NotAListing",
    "gunzip",
    "parse_listing",
    "parse_url_list",
    "sniff",
]

KINDS = ("rss", "rdf", "atom", "urlset", "news-sitemap", "sitemapindex")
REASONS = ("malformed_xml", "malformed_gzip", "xml_entities_refused", "not_a_feed", "too_large")


@dataclass(frozen=True)
class Entry:
    """One article link found in a source, with the hints the source gives about it."""

    url: str  # absolute (resolved against the document's URL), stripped; not canonicalised
    title: str | None = None
    published: datetime | None = None  # timezone-aware UTC; a date alone is midnight UTC
    author: str | None = None
    site_name: str | None = None  # the feed's title, or the news sitemap's publication
    hint_source: str = "feed"  # "feed" or "sitemap": where the hints came from


@dataclass(frozen=True)
class Listing:
    """What one source document lists: article entries, or a sitemap index's children."""

    kind: str  # one of KINDS
    entries: tuple[Entry, ...] = ()
    sitemaps: tuple[tuple[str, datetime | None], ...] = ()  # (url, lastmod)
    skipped: int = 0  # items or children without a usable http(s) link


class NotAListing(Exception):
    """A document that cannot be read as a feed or a sitemap; `reason` is one of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


# -- recognising a document ------------------------------------------------------------

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 4096
# An HTML page that lacks <!doctype> and <html> still opens with one of these.
_HTML_FIRST_TAGS = {"html", "head", "body", "meta", "title", "link", "script", "style", "div"}
_FIRST_TAG = re.compile(r"<([A-Za-z][A-Za-z0-9:_-]*)")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HTTP_URL = re.compile(r"https?://\S+", re.I)
_TRAILING_COMMENT = re.compile(r"\s#")


def _head_text(body: bytes) -> str:
    """The first bytes as text, enough to see how the document opens."""
    head = body[:_SNIFF_BYTES]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, errors="replace")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", errors="replace")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", errors="replace")
    # Only ASCII markup is looked at, and latin-1 decodes any byte.
    return head.decode("latin-1")


def _skip_prolog(text: str) -> str:
    """The text from its first element or DOCTYPE: past the XML declaration, processing
    instructions, comments and whitespace."""
    text = text.lstrip()
    while text.startswith(("<?", "<!--")):
        closing = "?>" if text.startswith("<?") else "-->"
        end = text.find(closing)
        if end < 0:
            return ""
        text = text[end + len(closing) :].lstrip()
    return text


def _url_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, value) of each line of a URL list that is not blank or a comment."""
    for number, line in enumerate(text.splitlines(), start=1):
        value = _TRAILING_COMMENT.split(line, maxsplit=1)[0].strip()
        if value and not value.startswith("#"):
            yield number, value


def sniff(body: bytes) -> str:
    """What the bytes are: "gzip", "xml", "html", "urls" (a text list of http(s) URLs)
    or "other". Decided from the content, never from a file name or a content type."""
    if body.startswith(_GZIP_MAGIC):
        return "gzip"
    head = _skip_prolog(_head_text(body))
    if head.startswith("<"):
        if head[:14].lower() == "<!doctype html":
            return "html"
        first = _FIRST_TAG.match(head)
        if first and first.group(1).lower() in _HTML_FIRST_TAGS:
            return "html"
        return "xml"
    text = body.decode("utf-8", errors="replace")
    values = [value for _, value in _url_lines(text)]
    if values and all(_HTTP_URL.fullmatch(value) for value in values):
        return "urls"
    # A page with something before its markup (a stray PHP warning, say)
    if "<html" in head.lower() or "<!doctype html" in head.lower():
        return "html"
    return "other"


def gunzip(body: bytes, max_bytes: int) -> bytes:
    """The decompressed bytes of a gzip body, refused (too_large) once they pass
    max_bytes: at most max_bytes + 1 are ever held, however much the body expands to."""
    out = bytearray()
    data = body
    try:
        while data.startswith(_GZIP_MAGIC):  # a gzip file may hold several members
            member = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            pending = data
            while not member.eof:
                piece = member.decompress(pending, max_bytes + 1 - len(out))
                out += piece
                if len(out) > max_bytes:
                    raise NotAListing("too_large", f"over {max_bytes} bytes once decompressed")
                pending = member.unconsumed_tail
                if not piece and not pending:
                    raise NotAListing("malformed_gzip", "the gzip data is cut short")
            data = member.unused_data
    except zlib.error as error:
        raise NotAListing("malformed_gzip", f"not readable as gzip: {error}") from None
    return bytes(out)


# -- dates -----------------------------------------------------------------------------

_W3C_DATETIME = re.compile(
    r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?",
    re.I,
)
# French sites write pubDate in French, and with zone names email.utils does not know.
# fmt: off
_FRENCH_DATE_WORDS = {
    "janv": "Jan", "janvier": "Jan", "févr": "Feb", "fevr": "Feb", "février": "Feb",
    "fév": "Feb", "fev": "Feb", "mars": "Mar", "avr": "Apr", "avril": "Apr", "mai": "May",
    "juin": "Jun", "juil": "Jul", "juillet": "Jul", "août": "Aug", "aout": "Aug",
    "sept": "Sep", "septembre": "Sep", "oct": "Oct", "octobre": "Oct", "nov": "Nov",
    "novembre": "Nov", "déc": "Dec", "dec": "Dec", "décembre": "Dec", "decembre": "Dec",
    "cet": "+0100", "cest": "+0200", "met": "+0100", "mest": "+0200", "utc": "+0000",
    "z": "+0000",
}
# fmt: on
_FRENCH_WEEKDAY = re.compile(
    r"^\s*(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lun|mar|mer|jeu|ven|sam|dim)"
    r"\.?,?\s+(?=\d)",
    re.I,
)
_WORD = re.compile(r"[^\W\d_]+\.?")
_COLON_ZONE = re.compile(r"([+-]\d{2}):(\d{2})\s*$")
_HAS_TIME = re.compile(r"\d:\d")
_RFC822_YEAR = re.compile(r"\b\d{1,2}\s+[A-Za-z]{3}\s+(\d+)\b")


def _utc(moment: datetime) -> datetime | None:
    """In UTC; a moment without a zone is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _w3c_datetime(value: str) -> datetime | None:
    """A W3C datetime (RFC 3339 and its shorter forms YYYY, YYYY-MM, YYYY-MM-DD)."""
    match = _W3C_DATETIME.fullmatch(value)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    zone_offset = timedelta(0)
    if zone and zone.upper() != "Z":
        digits = zone[1:].replace(":", "")
        zone_offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        zone_offset = -zone_offset if zone[0] == "-" else zone_offset
    fields = (year, month or 1, day or 1, hour or 0, minute or 0, second or 0)
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(*map(int, fields), microsecond, tzinfo=timezone(zone_offset))
    except ValueError:
        return None
    return _utc(moment)


def _rfc822_datetime(value: str) -> datetime | None:
    """An RFC 822 date as feeds write it, also in French, without a weekday or a time,
    with zones such as GMT, CET, +0100 or +01:00."""
    value = _FRENCH_WEEKDAY.sub("", value)
    value = _WORD.sub(
        lambda word: _FRENCH_DATE_WORDS.get(word[0].rstrip(".").lower(), word[0]), value
    )
    value = _COLON_ZONE.sub(r"\1\2", value)
    if not _HAS_TIME.search(value):
        value += " 00:00:00 +0000"
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # email.utils reads a year under 100 as 19yy or 20yy, as RFC 822's two-digit years
    # are: the `0001` of a .NET feed's "no date" would become 2001. A year written
    # with more digits is that year.
    written = _RFC822_YEAR.search(value)
    if written and len(written[1]) > 2 and int(written[1]) != moment.year:
        return None
    return _utc(moment)


def _when(value: str | None) -> datetime | None:
    """A feed's or a sitemap's date in UTC, whichever of the two forms it is written in;
    None when it cannot be read or is a placeholder (before dates.EARLIEST)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    moment = _w3c_datetime(value) or _rfc822_datetime(value)
    # a placeholder (year 1, 1900, the Unix epoch) is no date: such an entry is
    # undated, never "older than --since"
    return moment if moment is not None and moment.date() >= EARLIEST else None


# -- reading the XML -------------------------------------------------------------------

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RSS1_NS = ("http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/")
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
# The old 0.84 namespace and none at all are still served.
SITEMAP_NS = (
    "http://www.sitemaps.org/schemas/sitemap/0.9",
    "http://www.google.com/schemas/sitemap/0.84",
    "",
)
NEWS_NS = ("http://www.google.com/schemas/sitemap-news/0.9",)
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"

_WHITESPACE = re.compile(r"\s+")
_EMAIL_AND_NAME = re.compile(r"^\S+@\S+\s*\((.+)\)$")


def _tags(namespaces: str | tuple[str, ...], local: str) -> tuple[str, ...]:
    """The ElementTree tags of an element name in any of these namespaces."""
    if isinstance(namespaces, str):
        namespaces = (namespaces,)
    return tuple(f"{{{ns}}}{local}" if ns else local for ns in namespaces)


def _children(element: Element, tags: tuple[str, ...]) -> list[Element]:
    return [child for child in element if child.tag in tags]


def _child(element: Element | None, tags: tuple[str, ...]) -> Element | None:
    if element is None:
        return None
    return next((child for child in element if child.tag in tags), None)


def _text(element: Element | None) -> str | None:
    """The element's text as a reader sees it: entities that were escaped twice (and
    CDATA holding HTML entities) unescaped, whitespace collapsed; None when empty."""
    if element is None:
        return None
    text = _WHITESPACE.sub(" ", html.unescape("".join(element.itertext()))).strip()
    return text or None


def _raw(element: Element | None) -> str | None:
    """The element's text, only stripped (a URL or a date)."""
    if element is None:
        return None
    return "".join(element.itertext()).strip() or None


def _link(value: str | None, base: str) -> str | None:
    """The absolute URL a link names, or None when there is none. A link with another
    scheme than http(s) (`file:`, `javascript:`) is kept: fetch refuses it, with a
    quarantine row that shows it, rather than it vanishing here."""
    if not value or not value.strip():
        return None
    try:
        url = urljoin(base, value.strip())
        scheme = urlsplit(url).scheme
    except ValueError:
        return None
    return url if scheme else None


def _names(elements: list[Element | None]) -> str | None:
    """Several authors as one "A, B"."""
    names = list(dict.fromkeys(name for name in map(_text, elements) if name))
    return ", ".join(names) or None


def _rss(root: Element, url: str) -> Listing:
    channel = _child(root, ("channel",))
    site_name = _text(_child(channel, ("title",)))
    entries, skipped = [], 0
    for item in root.iter("item"):
        link = _link(_raw(_child(item, ("link",))), url)
        guid = _child(item, ("guid",))
        if link is None and guid is not None and guid.get("isPermaLink", "true") != "false":
            guid_value = _raw(guid) or ""
            link = _link(guid_value, url) if _HTTP_URL.match(guid_value) else None
        if link is None:
            skipped += 1
            continue
        author = _text(_child(item, ("author",)))
        if author and (email_and_name := _EMAIL_AND_NAME.match(author)):
            author = email_and_name[1].strip()
        entries.append(
            Entry(
                url=link,
                title=_text(_child(item, ("title",))),
                published=_when(_raw(_child(item, ("pubDate",))))
                or _when(_raw(_child(item, _tags(DC_NS, "date")))),
                author=author or _names(_children(item, _tags(DC_NS, "creator"))),
                site_name=site_name,
            )
        )
    return Listing("rss", tuple(entries), skipped=skipped)


def _rdf(root: Element, url: str) -> Listing:
    site_name = _text(_child(_child(root, _tags(RSS1_NS, "channel")), _tags(RSS1_NS, "title")))
    entries, skipped = [], 0
    for item in _children(root, _tags(RSS1_NS, "item")):
        about = item.get(f"{{{RDF_NS}}}about")
        link = _link(_raw(_child(item, _tags(RSS1_NS, "link"))) or about, url)
        if link is None:
            skipped += 1
            continue
        entries.append(
            Entry(
                url=link,
                title=_text(_child(item, _tags(RSS1_NS, "title"))),
                published=_when(_raw(_child(item, _tags(DC_NS, "date")))),
                author=_names(_children(item, _tags(DC_NS, "creator"))),
                site_name=site_name,
            )
        )
    return Listing("rdf", tuple(entries), skipped=skipped)


def _atom_link(entry: Element, base: str) -> str | None:
    """The entry's alternate link, an HTML one first."""
    links = [
        link
        for link in _children(entry, _tags(ATOM_NS, "link"))
        if link.get("rel", "alternate").strip() == "alternate" and (link.get("href") or "").strip()
    ]
    links.sort(key=lambda link: {"text/html": 0, None: 1}.get(link.get("type"), 2))
    for link in links:
        if resolved := _link(link.get("href"), urljoin(base, link.get(XML_BASE, ""))):
            return resolved
    return None


def _atom(root: Element, url: str) -> Listing:
    base = urljoin(url, root.get(XML_BASE, ""))
    site_name = _text(_child(root, _tags(ATOM_NS, "title")))
    name = _tags(ATOM_NS, "name")
    feed_author = _names([_child(a, name) for a in _children(root, _tags(ATOM_NS, "author"))])
    entries, skipped = [], 0
    for entry in _children(root, _tags(ATOM_NS, "entry")):
        link = _atom_link(entry, urljoin(base, entry.get(XML_BASE, "")))
        if link is None:
            skipped += 1
            continue
        published = _child(entry, _tags(ATOM_NS, "published"))
        if published is None:
            published = _child(entry, _tags(ATOM_NS, "updated"))
        entries.append(
            Entry(
                url=link,
                title=_text(_child(entry, _tags(ATOM_NS, "title"))),
                published=_when(_raw(published)),
                author=_names([_child(a, name) for a in _children(entry, _tags(ATOM_NS, "author"))])
                or feed_author,
                site_name=site_name,
            )
        )
    return Listing("atom", tuple(entries), skipped=skipped)


def _urlset(root: Element, url: str) -> Listing:
    entries, skipped, news_seen = [], 0, False
    for node in _children(root, _tags(SITEMAP_NS, "url")):
        link = _link(_raw(_child(node, _tags(SITEMAP_NS, "loc"))), url)
        if link is None:
            skipped += 1
            continue
        news = _child(node, _tags(NEWS_NS, "news"))
        news_seen = news_seen or news is not None
        publication = _child(news, _tags(NEWS_NS, "publication"))
        # A news sitemap's publication date is the article's; lastmod is the page's.
        published = _when(_raw(_child(news, _tags(NEWS_NS, "publication_date"))))
        entries.append(
            Entry(
                url=link,
                title=_text(_child(news, _tags(NEWS_NS, "title"))),
                published=published or _when(_raw(_child(node, _tags(SITEMAP_NS, "lastmod")))),
                site_name=_text(_child(publication, _tags(NEWS_NS, "name"))),
                hint_source="sitemap",
            )
        )
    return Listing("news-sitemap" if news_seen else "urlset", tuple(entries), skipped=skipped)


def _sitemapindex(root: Element, url: str) -> Listing:
    sitemaps, skipped = [], 0
    for node in _children(root, _tags(SITEMAP_NS, "sitemap")):
        link = _link(_raw(_child(node, _tags(SITEMAP_NS, "loc"))), url)
        if link is None:
            skipped += 1
            continue
        sitemaps.append((link, _when(_raw(_child(node, _tags(SITEMAP_NS, "lastmod"))))))
    return Listing("sitemapindex", sitemaps=tuple(sitemaps), skipped=skipped)


_READERS = {
    "rss": _rss,
    f"{{{RDF_NS}}}RDF": _rdf,
    f"{{{ATOM_NS}}}feed": _atom,
    **dict.fromkeys(_tags(SITEMAP_NS, "urlset"), _urlset),
    **dict.fromkeys(_tags(SITEMAP_NS, "sitemapindex"), _sitemapindex),
}


def _parse_xml(body: bytes) -> Element:
    """The document's root, parsed without expanding or fetching any entity the
    document declares. The parser decodes the bytes by their XML declaration."""
    parser = DefusedXMLParser(forbid_dtd=False, forbid_entities=True, forbid_external=True)
    # HTML's named entities (&eacute;), which feeds with an external DOCTYPE use
    # undeclared: a fixed table of single characters, nothing the document defines.
    parser.entity.update(html.entities.entitydefs)
    try:
        parser.feed(body)
        return parser.close()
    except DefusedXmlException as error:
        raise NotAListing("xml_entities_refused", f"the XML declares entities: {error}") from None
    except ParseError as error:
        raise NotAListing("malformed_xml", f"not well-formed XML: {error}") from None


def _describe(tag: str) -> str:
    namespace, _, local = tag[1:].rpartition("}") if tag.startswith("{") else ("", "", tag)
    return f"<{local}> ({namespace})" if namespace else f"<{local}>"


def parse_listing(body: bytes, url: str, *, max_bytes: int) -> Listing:
    """The entries (or child sitemaps) of a feed or sitemap fetched from `url`, gzipped
    or not. Raises NotAListing with its reason for anything else."""
    kind = sniff(body)
    if kind == "gzip":
        body = gunzip(body, max_bytes)
        kind = sniff(body)
    elif len(body) > max_bytes:
        raise NotAListing("too_large", f"{len(body)} bytes, over the cap of {max_bytes}")
    if kind == "html":
        raise NotAListing("not_a_feed", "an HTML page, not a feed or a sitemap")
    if kind == "urls":
        raise NotAListing("not_a_feed", "a text list of URLs, not a feed or a sitemap")
    if kind != "xml":
        raise NotAListing("not_a_feed", f"not XML: it begins {body[:40]!r}")
    root = _parse_xml(body)
    reader = _READERS.get(root.tag)
    if reader is None:
        raise NotAListing(
            "not_a_feed", f"root element {_describe(root.tag)} is not a feed or a sitemap"
        )
    return reader(root, url)


def parse_url_list(text: str, base: str | None = None) -> list[str]:
    """The URLs of a `.urls` text: one a line, blank lines and `#` comments (whole-line,
    or after a space) ignored, relative ones resolved against `base`, order kept,
    each once. Lines are kept as they are otherwise: one that is no http(s) URL is
    refused by fetch, with a quarantine row naming it."""
    urls: dict[str, None] = {}
    for _, value in _url_lines(text):
        urls.setdefault((_link(value, base) if base else None) or value)
    return list(urls)
