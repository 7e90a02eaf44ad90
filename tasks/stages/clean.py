"""Clean: raw items into articles with normalized text and metadata.

Wire stories give up their header (date with its precision, dateline), agency
byline and photo captions; HTML pages their main text and metadata (trafilatura);
JSON lines their fields. The text is normalized for annotation, checked to be
French, given a content-derived `doc_id` and deduplicated; a near duplicate of an
earlier article (the same story republished or updated) gets that article's
`story_id` (tasks/text/stories.py).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin

import lxml.etree
import lxml.html
import pyarrow as pa
import trafilatura
from py3langid.langid import LanguageIdentifier

from schemas import CLEAN, QUARANTINE, RAW, STORIES, Rejected, quarantine_row
from schemas.tables import CONTROL_CHARACTERS
from tasks import earlier
from tasks.contract import Stage, StageContext, StageOutput
from tasks.text import pages, stories
from tasks.text.charsets import repair_mojibake
from tasks.text.dates import (
    InvalidDate,
    first_plausible,
    latest_date,
    parse_date,
    plausible,
    states_placeholder,
)
from tasks.web.urls import canonical_url, host_of

# -- text normalization ------------------------------------------------------------

_SPACES = "\u00a0\u202f\u2007\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u2008\u205f\u3000\t"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_TRANSLATION = str.maketrans(
    {
        **{ch: " " for ch in _SPACES},
        **{ch: None for ch in _INVISIBLE},
        **{ch: "'" for ch in "\u2019\u2018\u201b\u02bc\u2032"},
        **{ch: '"' for ch in "\u201c\u201d\u201e\u201f\u2033"},
        "\r": "\n",
    }
)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_CONTROL = re.compile(CONTROL_CHARACTERS)


def normalize_text(text: str) -> str:
    """NFC, plain apostrophes and double quotes, ordinary spaces (also inside « »),
    one space between words, paragraphs separated by one blank line; no control
    character, and double-encoded sequences repaired (a JSON line's `\\u00c3\\u00a9`
    is read only here)."""
    text = repair_mojibake(text.replace("\r\n", "\n"))[0]
    text = unicodedata.normalize("NFC", text).translate(_TRANSLATION)
    # a control that separates (\x0b, \x1c…) parts words; any other one goes
    text = _CONTROL.sub(lambda control: " " if control.group().isspace() else "", text)
    paragraphs = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        paragraph = " ".join(paragraph.split())
        paragraph = re.sub(r"«\s*", "« ", paragraph)
        paragraph = re.sub(r"\s*»", " »", paragraph)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)


def doc_id(text: str) -> str:
    """Stable id of an article: the hash of its normalized text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# -- wire stories ----------------------------------------------------------------------

AGENCIES = {
    "agence france-presse": "Agence France-Presse",
    "afp": "Agence France-Presse",
    "la presse canadienne": "La Presse canadienne",
    "presse canadienne": "La Presse canadienne",
    "associated press": "Associated Press",
    "the associated press": "Associated Press",
    "ap": "Associated Press",
    "reuters": "Reuters",
    "agence qmi": "Agence QMI",
    "belga": "Belga",
    "agence télégraphique suisse": "Agence télégraphique suisse",
    "ats": "Agence télégraphique suisse",
}
_AGENCY_NAMES = "|".join(sorted((re.escape(k) for k in AGENCIES), key=len, reverse=True))
_BYLINE = re.compile(
    rf"^(?:(?:par|avec)\s+)?(?:(?P<author>[^,\n]{{3,80}}?)\s*,\s*)?(?P<agency>{_AGENCY_NAMES})\.?$",
    re.I,
)
_HEADER = re.compile(
    r"^\s*date\s+(?P<date>\d{4}(?:-\d{1,2}){0,2})\b[ \t]*(?:\((?P<dateline>[^)\n]{1,80})\))?",
    re.I,
)
_CAPTION = re.compile(r"^PHOTOS?\b\s*:?\s*(?P<rest>.+)$", re.S)
_LOWER = re.compile(r"[a-zß-öø-ÿ]")


def split_caption(paragraph: str) -> dict[str, str] | None:
    """`PHOTO CREDIT IN CAPITALS Caption text…` → {credit, text}; None if not a caption."""
    match = _CAPTION.match(paragraph)
    if not match:
        return None
    words = match.group("rest").split(" ")
    # The credit is the run of words without a lower-case letter; a last short word
    # such as `À` or `L'` starts the caption instead.
    cut = 0
    while cut < len(words) and not _LOWER.search(words[cut]):
        cut += 1
    if 0 < cut < len(words) and len(words[cut - 1].strip(",.'")) <= 2:
        cut -= 1
    credit = " ".join(words[:cut]).strip(" ,;:-")
    return {"credit": credit or None, "text": " ".join(words[cut:]).strip() or None}


@dataclass
class WireParts:
    body: str
    date: str | None = None
    dateline: str | None = None
    agency: str | None = None
    author: str | None = None
    captions: list[dict[str, str | None]] = field(default_factory=list)


def parse_wire(text: str) -> WireParts:
    """Header, byline and captions out of normalized wire text; the rest is the body."""
    header = _HEADER.match(text)
    parts = WireParts(body="")
    if header:
        parts.date = header.group("date")
        parts.dateline = (header.group("dateline") or "").strip() or None
        text = text[header.end() :].lstrip()
    body = []
    for paragraph in text.split("\n\n"):
        byline = _BYLINE.match(paragraph)
        if byline and parts.agency is None:
            parts.agency = AGENCIES[byline.group("agency").lower()]
            parts.author = (byline.group("author") or "").strip() or None
            continue
        caption = split_caption(paragraph)
        if caption is not None:
            parts.captions.append(caption)
            continue
        body.append(paragraph)
    parts.body = "\n\n".join(p for p in body if p.strip())
    return parts


# -- HTML pages ------------------------------------------------------------------------


MIN_PAGE_WORDS = 20
_BLOCK_TAGS = frozenset(
    """div p ul ol li dl table section article header footer nav aside form main figure
    blockquote pre h1 h2 h3 h4 h5 h6""".split()
)


def _page_tree(html: str) -> Any:
    """The page as an lxml tree, made easier on trafilatura, or the string if unparsable.

    trafilatura keeps text found in paragraphs, but drops text that sits directly in a
    <div> (a CMS's lead paragraph, often), and text that follows an HTML comment: such
    divs become paragraphs, and comments go while the text after them stays.
    """
    try:
        tree = lxml.html.document_fromstring(html.encode("utf-8"), parser=_HTML_PARSER)
    except (lxml.etree.ParserError, ValueError):
        return html
    lxml.etree.strip_tags(tree, lxml.etree.Comment)
    for div in tree.iter("div"):
        has_blocks = any(isinstance(child.tag, str) and child.tag in _BLOCK_TAGS for child in div)
        if not has_blocks and (div.text or "").strip():
            div.tag = "p"
    return tree


_HTML_PARSER = lxml.html.HTMLParser(encoding="utf-8")


_SITE_SUFFIX = re.compile(r"\s+[-|–—:]\s+(?P<site>[^-|–—:]{2,60})\s*$")


def _without_site(title: str, site: str | None) -> str:
    """ "Headline - Site" or "Headline | Site" → "Headline": the site has its own column
    (`Gala` is the site `Gala.fr`)."""
    suffix = _SITE_SUFFIX.search(title)
    if suffix is None or not site:
        return title
    name = suffix.group("site").strip().lower()
    if site.lower() in (name, *(f"{name}{tld}" for tld in (".fr", ".com", ".ch", ".be"))):
        return title[: suffix.start()]
    return title


# trafilatura's options for news pages: no comments, no tables (layout, mostly), no
# images (their captions are read apart); precision stays off, as it drops the
# subheadings and short paragraphs of a page whose furniture is already pruned.
_EXTRACTION = {"include_comments": False, "include_tables": False, "include_images": False}


def _extraction(html: str) -> tuple[Any, pages.PageMetadata, pages.Furniture]:
    """trafilatura's reading of the page with its furniture pruned, what the publisher
    states, and the furniture taken out (a page lxml cannot parse is read as it is)."""
    tree = _page_tree(html)
    if isinstance(tree, str):
        document = trafilatura.bare_extraction(tree, with_metadata=True, **_EXTRACTION)
        return document, pages.PageMetadata(), pages.Furniture()
    page = copy.deepcopy(tree)
    furniture = pages.prune_furniture(page)
    stated = pages.read_metadata(tree, byline_tree=page)
    return trafilatura.bare_extraction(page, with_metadata=True, **_EXTRACTION), stated, furniture


def _paragraphs_and_credits(text: str) -> tuple[list[str], list[dict[str, str | None]]]:
    """The extracted text's paragraphs, and the photo credit lines found among them."""
    paragraphs, credits = [], []
    for paragraph in text.split("\n"):
        credit = pages.split_credit_line(paragraph)
        if credit is not None:
            credits.append(credit)
        elif paragraph.strip():
            paragraphs.append(paragraph)
    return paragraphs, credits


def extract_html(html: str) -> dict[str, Any] | None:
    """Main text and metadata of a page; None when no main text is found.

    The page's furniture is pruned before trafilatura extracts the text (captions
    kept apart); the dates and headline are read from what the publisher states
    (tasks/text/pages.py), trafilatura's and htmldate's reading standing in for what the
    page does not state. With no article in the page, trafilatura falls back to
    whatever text there is (a menu, a footer): under MIN_PAGE_WORDS words, that is
    not an article.
    """
    document, stated, furniture = _extraction(html)
    if document is None:
        return None
    found = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    paragraphs, credits = _paragraphs_and_credits(found.get("text") or "")
    text = "\n\n".join(paragraphs)
    if len(text.split()) < MIN_PAGE_WORDS:
        return None
    title = stated.title or found.get("title")
    if title:
        title = _without_site(title, stated.site_name or found.get("sitename"))
    return {
        "text": text,
        "title": title,
        "author": found.get("author") or stated.author,
        # the dates the publisher states, then htmldate's guess: the first plausible wins
        "dates": stated.dates,
        "guessed_date": found.get("date"),
        "stated_values": stated.stated_values,
        "modified_date": stated.modified,
        "site_name": stated.site_name,
        "site_source": stated.site_source,
        "url": found.get("url") or stated.url,
        "captions": [
            {k: normalize_text(v) if v else None for k, v in caption.items()}
            for caption in [*furniture.captions, *credits]
        ],
    }


# -- language --------------------------------------------------------------------------

LANGUAGE_SAMPLE = 1500  # characters: plenty to tell French, and it keeps the check cheap
LANGUAGE_MARGIN = 2.0
"""French must be the identifier's first language and at least this many times as
likely as its second. The identifier's probabilities are spread over 97 languages,
French's neighbours (Occitan, Walloon, Franco-Provençal…) taking a share of a French
text's: on short lines (a live report, a results page) French comes first at 0.25
to 0.5, so an absolute bound rejects French articles; how far French leads the next
language is what says the identifier is sure."""


@dataclass(frozen=True)
class Language:
    """What the identifier says of a text: French's probability, and why the text is
    not taken as French (None when it is)."""

    french_score: float
    not_french: str | None


def detect_language(
    identifier: LanguageIdentifier, text: str, margin: float = LANGUAGE_MARGIN
) -> Language:
    """French, or not, by the identifier's ranking and French's lead over the next."""
    ranking = identifier.rank(text[:LANGUAGE_SAMPLE])
    (first, first_score), (second, second_score) = ranking[0], ranking[1]
    french = float(dict(ranking).get("fr", 0.0))
    if first != "fr":
        return Language(
            french, f"detected language {first} (p={first_score:.2f}); French p={french:.2f}"
        )
    if first_score < margin * second_score:
        return Language(
            french,
            f"French (p={first_score:.2f}) not clearly ahead of {second} "
            f"(p={second_score:.2f}): less than {margin:g} times as likely",
        )
    return Language(french, None)


# -- outlets ---------------------------------------------------------------------------

UNKNOWN_OUTLET = "unknown"


def outlet_name(name: str | None) -> str | None:
    """A stated site name as an outlet: normalized like the text (NFC, plain apostrophes,
    single spaces), without decoration around it, so every spelling of one name that
    differs only so is one outlet."""
    if not name:
        return None
    return normalize_text(name).replace("\n", " ").strip(" -|–—:·•") or None


def host_outlet(url: str | None) -> str | None:
    """The host of a URL as an outlet's name: `www.lemonde.fr` → `lemonde.fr`."""
    if not url:
        return None
    try:
        host = host_of(url)
    except ValueError:
        return None
    return host.removeprefix("www.")


def outlet_of(
    site_name: str | None, site_source: str | None, url: str | None, agency: str | None
) -> tuple[str, str]:
    """The outlet of an article and where its name was read: the name the page (or the
    JSON line) states, the news sitemap's publication name, then the URL's host, then
    the agency of a wire story's byline."""
    stated = outlet_name(site_name)
    if stated and site_source:
        return stated, site_source
    if host := host_outlet(url):
        return host, "host"
    if agency:
        return agency, "agency"
    return UNKNOWN_OUTLET, "unknown"


# -- the stage -------------------------------------------------------------------------


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    return value or None


def _page_fields(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A web page's main text, and its metadata completed by its listing."""
    page = extract_html(item["payload"])
    if page is None:
        raise Rejected(
            "extraction_failed", f"no main text of {MIN_PAGE_WORDS} words or more in the page"
        )
    text = page.pop("text")
    if item.get("url"):
        page = with_listing(page, item)
    return text, page


def _json_line_fields(payload: str) -> tuple[str, dict[str, Any]]:
    """A JSON line's text, and the fields it states besides."""
    record = json.loads(payload)
    text = record["text"]
    return text, {
        "url": record.get("url"),
        "title": record.get("title"),
        "author": record.get("author"),
        "dates": [(record["date"], "jsonl")] if record.get("date") else [],
        "site_name": record.get("source") if isinstance(record.get("source"), str) else None,
        "site_source": "jsonl",
    }


def _decoded(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The text of a raw item, and what its format states besides it (a wire story
    states everything in its text)."""
    if item["format"] == "html":
        return _page_fields(item)
    if item["format"] == "jsonl":
        return _json_line_fields(item["payload"])
    return item["payload"], {}


def _date_candidates(
    fields: dict[str, Any], wire: WireParts, latest: date | None
) -> list[tuple[str, str]]:
    """The publication dates an item states, in the order of trust, with where each
    was read."""
    candidates = list(fields.get("dates", []))
    # htmldate reads the tags the page states its dates in, and misreads a placeholder
    # there (`0001-01-01T00:00:00Z` next to an escaped `\u2019` becomes 2019-01-01)
    if fields.get("guessed_date") and not states_placeholder(fields.get("stated_values"), latest):
        candidates.append((fields["guessed_date"], "htmldate"))
    if wire.date:
        candidates.append((wire.date, "wire_header"))
    return candidates


def _modified_date(stated: Any, latest: date | None) -> date | None:
    """The date a page says it was modified, when readable and plausible: an unreadable
    or implausible modification date loses that date, not the article."""
    if not stated:
        return None
    modified = None
    with contextlib.suppress(InvalidDate):
        modified = parse_date(str(stated))[0]
    if modified is not None and not plausible(modified, latest):
        return None
    return modified


def article_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """One raw item → the fields of one article (before language check and dedup)."""
    text, fields = _decoded(item)
    wire = parse_wire(normalize_text(text))
    if not wire.body:
        raise Rejected("empty_text", "no body text once header, byline and captions are removed")
    latest = latest_date(item["fetched_at"]) if item.get("fetched_at") else None
    try:
        (published, precision, date_source), refused = first_plausible(
            _date_candidates(fields, wire, latest), latest
        )
    except InvalidDate as error:
        raise Rejected("invalid_date", str(error)) from None
    modified = _modified_date(fields.get("modified_date"), latest)
    url = _as_str(fields.get("url"))
    outlet, outlet_source = outlet_of(
        fields.get("site_name"), fields.get("site_source"), url, wire.agency
    )
    return {
        "url": url,
        "title": _as_str(normalize_text(fields["title"]) if fields.get("title") else None),
        "author": _as_str(fields.get("author") or wire.author),
        "outlet": outlet,
        "outlet_source": outlet_source,
        "published_date": published,
        "date_precision": precision,
        "date_source": date_source,
        "date_bound": latest,
        "refused_dates": refused,
        "modified_date": modified,
        "dateline": wire.dateline,
        "agency": wire.agency,
        "captions": [*fields.get("captions", []), *wire.captions],
        "text": wire.body,
    }


NAMING_LISTINGS = frozenset({"sitemap"})
"""The listings whose site name is an outlet's: a news sitemap's publication name (the
name Google News shows the publisher under). A feed's title names the feed, not the
outlet: a section (`Sport - Le Figaro`), a slogan (`Le Monde.fr - Actualités et Infos
en France et dans le monde`), `À la une`: one site's sections would count as as many
outlets, so a page that does not name itself is counted under its host instead."""


def with_listing(page: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """A web page's metadata completed by what its feed or sitemap said of it: the
    page's own title, author, site and dates win when present (htmldate's guess is no
    statement, so a listed date comes before it); its canonical URL is the page's own
    `<link rel="canonical">` or `og:url`, else the URL that answered."""
    found = dict(page)
    for name, listed in (("title", "listed_title"), ("author", "listed_author")):
        found[name] = found.get(name) or item.get(listed)
    if not found.get("site_name") and item.get("listed_by") in NAMING_LISTINGS:
        found["site_name"], found["site_source"] = item.get("listed_site"), "news_sitemap"
    listed_date = item.get("listed_date")
    if listed_date:
        listed = (listed_date.date().isoformat(), item.get("listed_by"))
        found["dates"] = [*found.get("dates", []), listed]
    base = item.get("final_url") or item["url"]
    stated = found.get("url")
    found["url"] = canonical_url(urljoin(base, stated) if stated else base)
    return found


def published_period(
    fmt: str | None, payload: str | None, now: datetime | None = None
) -> tuple[date, str] | None:
    """Publication date and precision of a raw item, as clean will read them when it is
    fetched at `now`."""
    if fmt is None or payload is None:
        return None
    try:
        article = article_from_item({"format": fmt, "payload": payload, "fetched_at": now})
    except (Rejected, ValueError):
        return None
    if article["published_date"] is None:
        return None
    return article["published_date"], article["date_precision"]


@dataclass
class CleanResult:
    articles: pa.Table
    quarantine: pa.Table
    stories: pa.Table
    story_seconds: float = 0.0  # signatures and stories, apart from the rest of cleaning
    refused_dates: int = 0  # placeholder dates passed over (1900-01-01, year 9999…)
    rows_in: int = 0  # raw items read


def clean_items(
    raw: pa.Table | Iterable[dict[str, Any]],
    *,
    identifier: LanguageIdentifier,
    earlier: dict[str, str] | None = None,
    language_margin: float = LANGUAGE_MARGIN,
    earlier_stories: stories.Earlier | None = None,
    story_threshold: float = 0.5,
) -> CleanResult:
    """Every raw item becomes an article or a quarantine row with its reason.

    `identifier` tells the language; `earlier` maps the doc_ids already in the lake
    to where they are: an article with one of them is a duplicate too.
    `earlier_stories`: the signatures and stories of the lake's articles, for the
    stories of the new ones (`story_threshold`: how similar a near duplicate is).
    The items are read one at a time, in the raw table's order (the order of their
    keys): only the articles, much smaller than their pages, are kept.
    """
    articles, rejects = _articles_and_rejects(
        _in_key_order(raw), identifier, language_margin, earlier
    )
    refused_dates = sum(len(article.pop("refused_dates")) for article in articles)
    clock = time.perf_counter()
    story_table = _stories_of(articles, earlier_stories or stories.Earlier.none(), story_threshold)
    for article, story_id in zip(articles, story_table["story_id"].to_pylist(), strict=True):
        article["story_id"] = story_id
    return CleanResult(
        pa.Table.from_pylist(articles, schema=CLEAN.schema),
        pa.Table.from_pylist(rejects, schema=QUARANTINE.schema),
        story_table,
        story_seconds=time.perf_counter() - clock,
        refused_dates=refused_dates,
        rows_in=len(articles) + len(rejects),  # every item is one or the other
    )


def _articles_and_rejects(
    items: Iterable[dict[str, Any]],
    identifier: LanguageIdentifier,
    language_margin: float,
    earlier: dict[str, str] | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The articles of the items, and the quarantine rows of those that give none."""
    articles: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    seen: dict[str, str] = dict(earlier or {})
    for item in items:
        try:
            article = _new_french_article(item, identifier, language_margin, seen)
        except Rejected as error:
            rejects.append(_reject_row(item, error))
            continue
        seen[article["doc_id"]] = _where(item)
        articles.append(article)
    return articles, rejects


def _in_key_order(raw: pa.Table | Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """The raw items in their keys' order: a table may come in any order, a stream of
    items is read as it comes."""
    if isinstance(raw, pa.Table):
        return sorted(raw.to_pylist(), key=lambda r: (r["source_path"], r["line"] or 0))
    return raw


def _where(item: dict[str, Any]) -> str:
    """Where an item was read: its file, and its line in a JSON lines file."""
    return item["source_path"] + (f":{item['line']}" if item["line"] else "")


def _new_french_article(
    item: dict[str, Any], identifier: LanguageIdentifier, margin: float, seen: dict[str, str]
) -> dict[str, Any]:
    """An item's article as a row of the clean table, its story to be told; Rejected
    when it has none, is not French, or has the text of an article `seen` before."""
    article = article_from_item(item)
    language = detect_language(identifier, article["text"], margin)
    if language.not_french is not None:
        raise Rejected("not_french", language.not_french)
    article_id = doc_id(article["text"])
    if article_id in seen:
        raise Rejected("duplicate", f"same text as doc_id {article_id} ({seen[article_id]})")
    return {
        "doc_id": article_id,
        "story_id": article_id,  # until the stories are read
        "item_id": item["item_id"],
        "source_path": item["source_path"],
        "line": item["line"],
        "format": item["format"],
        **article,
        "char_count": len(article["text"]),
        "language": "fr",
        "language_score": language.french_score,
    }


def _stories_of(
    articles: list[dict[str, Any]], earlier_stories: stories.Earlier, threshold: float
) -> pa.Table:
    """The stories table of the articles: each one's MinHash signature and story (an
    earlier article's when it is a near duplicate of it)."""
    signatures = stories.signatures([a["text"] for a in articles])
    doc_ids = [a["doc_id"] for a in articles]
    story_ids = stories.assign_stories(doc_ids, signatures, earlier_stories, threshold)
    story_rows = {
        "doc_id": doc_ids,
        "story_id": story_ids,
        "minhash": [stories.to_bytes(row) for row in signatures],
    }
    return pa.Table.from_pydict(story_rows, schema=STORIES.schema)


def _reject_row(item: dict[str, Any], error: Rejected) -> dict[str, Any]:
    record = {k: v for k, v in item.items() if k != "fetched_at"}
    return quarantine_row(
        "clean",
        error,
        record_id=item["item_id"],
        source_path=item["source_path"],
        line=item["line"],
        record=json.dumps(record, ensure_ascii=False, default=str),
    )


def clean_partition(context: StageContext) -> StageOutput:
    """Clean the committed raw items of one partition."""
    raw = context.lake.read_rows(RAW, context.partition)  # a row group at a time
    clock = time.perf_counter()
    before = earlier.earlier_state(context.lake, context.partition)
    earlier_stories = before.stories()
    reading = time.perf_counter() - clock
    result = clean_items(
        raw,
        identifier=context.resources.language_identifier(),
        earlier=before.doc_ids(),
        earlier_stories=earlier_stories,
        story_threshold=context.settings.story_threshold,
    )
    story_ids = result.articles.column("story_id").to_pylist()
    return StageOutput(
        outputs={CLEAN: result.articles, STORIES: result.stories},
        quarantine=result.quarantine,
        rows_in=result.rows_in,
        rows_out=result.articles.num_rows,
        details={
            "stories": len(set(story_ids)),
            "near_duplicates": sum(
                s != d for s, d in zip(story_ids, result.stories["doc_id"].to_pylist(), strict=True)
            ),
            "earlier_signatures": len(earlier_stories.doc_ids),
            "refused_dates": result.refused_dates,
            "stories_seconds": round(reading + result.story_seconds, 3),
        },
    )


STAGE = Stage(
    name="clean",
    produce=clean_partition,
    reads=(RAW,),
    writes=(CLEAN, STORIES),
    settings=("story_threshold",),
    extra_inputs=earlier.nearest_link,
    extra_parameters=lambda settings: {"language_margin": LANGUAGE_MARGIN},
    ordered=True,
)
