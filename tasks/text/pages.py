"""What a news page's publisher states about its article, and the furniture around it.

trafilatura extracts the main text; this module corrects around it on the lxml tree
handed to it. `prune_furniture` takes out of the page what is no part of the article
(comment blocks, share buttons, newsletter prompts, related-article lists, "lire
aussi" lines, sidebars) and keeps figure captions and photo credits apart.
`read_metadata` reads the article's own dates and headline in the order of trust:
the JSON-LD article object, the publisher's meta tags, the byline under the
headline, the URL; never a date inside the furniture (pruned before the byline is
read).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import lxml.html

# -- furniture ---------------------------------------------------------------------

# class or id words of furniture; matched on the joined class and id of an element
_FURNITURE = re.compile(
    r"comment|share|sharing|partage|social|newsletter|related|lire-?aussi|a-lire|"
    r"read-?also|read-?more|sidebar|outbrain|taboola|most-?read|plus-lus|popular",
    re.I,
)
# a paragraph or heading that opens a link to another article
_READ_ALSO = re.compile(
    r"^\W*(?:(?:à\s+)?(?:lire|voir|écouter|regarder)\s+(?:aussi|également|encore)"
    r"|lisez\s+aussi|sur\s+le\s+même\s+(?:sujet|thème)|pour\s+aller\s+plus\s+loin)\b",
    re.I,
)
# a paragraph that only credits the photos: `Crédits photos : Bestimage`
_CREDIT_LINE = re.compile(
    r"^\W*(?:crédits?(?:\s+photos?)?|photos?(?:\s+de\s+(?:une|couverture))?|©)\s*:?\s*(?P<credit>.+)$",
    re.I | re.S,
)
_CREDIT_PREFIX = re.compile(r"^\W*(?:crédits?(?:\s+photos?)?|photos?|©)(?:\s*:|\s)\s*", re.I)
_TRAILING_CREDIT = re.compile(r"(?:©|\b(?:crédits?|photo)\s*:)\s*(?P<credit>[^©:]+)$", re.I)
_CREDIT_CLASS = re.compile(r"credit|copyright|author|source", re.I)
_KEEP = frozenset({"html", "body", "article", "main", "head", "script", "meta", "link", "title"})
_READ_ALSO_WORDS = 40  # a "lire aussi" line is a title or two, not a paragraph


def _text(element: Any) -> str:
    return " ".join(element.text_content().split())


def _paragraph_words(element: Any) -> int:
    return sum(len(p.text_content().split()) for p in element.iter("p"))


def _holds_article(element: Any, article_words: int = 0) -> bool:
    """Whether the element holds the article (its headline, its body, or more words
    of paragraphs than half the article's), whatever its class says (`share-zone`
    around the text)."""
    if element.tag in _KEEP or any(True for _ in element.iter("h1", "article", "main")):
        return True
    if element.xpath(".//*[@itemprop='articleBody']"):
        return True
    return article_words > 0 and _paragraph_words(element) * 2 > article_words


def _drop(element: Any) -> None:
    """Remove an element but not the text after it (its tail belongs to the parent)."""
    if element.getparent() is not None:
        element.drop_tree()


@dataclass
class Furniture:
    """What was taken out of a page: the captions kept, and how many blocks went."""

    captions: list[dict[str, str | None]] = field(default_factory=list)
    removed: int = 0


def _credit(text: str) -> str:
    return _CREDIT_PREFIX.sub("", text).strip(" ©:•|-–") or text


def caption_of(figure: Any) -> dict[str, str | None] | None:
    """A figure's caption and credit, or None when it has neither. The credit is an
    element marked as one (`class="credit"`) or starting `Photo :`, `Crédits :`, `©`,
    or the end of the caption after `©`."""
    credit_parts = []
    for element in list(figure.iter()):
        if element is figure or not isinstance(element.tag, str) or element.tag == "figcaption":
            continue
        own = _text(element)
        marks = f"{element.get('class', '')} {element.get('id', '')}"
        short_credit = len(own.split()) <= 12 and _CREDIT_PREFIX.match(own)
        if own and (_CREDIT_CLASS.search(marks) or short_credit):
            credit_parts.append(_credit(own))
            _drop(element)
    captions = figure.xpath(".//figcaption")
    text = " ".join(_text(c) for c in captions) if captions else ""
    credit = " ".join(credit_parts) or None
    trailing = _TRAILING_CREDIT.search(text)
    if trailing and trailing.start() > 0 and credit is None:
        credit = trailing.group("credit").strip() or None
        text = text[: trailing.start()]
    text = text.strip(" •|-–")
    if not (text or credit):
        return None
    return {"credit": credit, "text": text or None}


def prune_furniture(tree: Any) -> Furniture:
    """Take the furniture out of the page tree, in place; the captions are kept."""
    body = tree.find("body")
    if body is None:
        return Furniture()
    captions, figures = _prune_figures(body)
    removed = figures + _prune_marked_blocks(body) + _prune_read_also_lines(body)
    return Furniture(captions, removed)


def _prune_figures(body: Any) -> tuple[list[dict[str, str | None]], int]:
    """The captions of the page's figures, and how many figures went (all but those
    that hold the article)."""
    captions, removed = [], 0
    for figure in list(body.iter("figure")):
        caption = caption_of(figure)
        if caption is not None:
            captions.append(caption)
        if not _holds_article(figure):
            _drop(figure)
            removed += 1
    return captions, removed


def _prune_marked_blocks(body: Any) -> int:
    """Drop the asides, navigation and blocks whose class or id marks them as
    furniture, unless they hold the article; how many went."""
    # the article's words: those of its largest <article> (teasers are <article>s too)
    articles = body.xpath(".//article | .//*[@itemprop='articleBody']")
    main = max(articles, key=_paragraph_words) if articles else body
    article_words = _paragraph_words(main)
    removed = 0
    for element in list(body.iter()):
        if not isinstance(element.tag, str) or element.getparent() is None:
            continue
        marks = f"{element.get('class', '')} {element.get('id', '')}"
        furniture = element.tag in ("aside", "nav") or (marks.strip() and _FURNITURE.search(marks))
        # a block outside the article is furniture however long (a comment thread)
        inside = main is body or main in element.iterancestors()
        if furniture and not _holds_article(element, article_words if inside else 0):
            _drop(element)
            removed += 1
    return removed


def _read_also_line(element: Any) -> Any | None:
    """The line (a paragraph, item or heading) that the element opens a "lire aussi"
    link in, or None: a bold `Lire aussi` stands for the line around it."""
    text = _text(element)
    if not _READ_ALSO.match(text) or len(text.split()) > _READ_ALSO_WORDS:
        return None
    if element.tag == "strong":
        element = element.getparent()
        if element is None or len(_text(element).split()) > _READ_ALSO_WORDS:
            return None
    return None if _holds_article(element) else element


def _prune_read_also_lines(body: Any) -> int:
    """Drop the "lire aussi" lines, and the list of links under such a heading; how
    many lines went."""
    removed = 0
    for element in list(body.iter("p", "li", "h2", "h3", "h4", "strong", "div")):
        if element.getparent() is None:
            continue
        line = _read_also_line(element)
        if line is None:
            continue
        following = line.getnext()
        heading = line.tag in ("h2", "h3", "h4")
        if heading and following is not None and following.tag in ("ul", "ol"):
            _drop(following)
        _drop(line)
        removed += 1
    return removed


def split_credit_line(paragraph: str) -> dict[str, str | None] | None:
    """`Crédits photos : Bestimage` → {credit, text}; None for any other paragraph."""
    if len(paragraph.split()) > 12:
        return None
    match = _CREDIT_LINE.match(paragraph)
    if not match or (":" not in paragraph and "©" not in paragraph):
        return None
    return {"credit": match.group("credit").strip() or None, "text": None}


# -- metadata ----------------------------------------------------------------------

_ARTICLE_TYPES = re.compile(r"Article$|^(?:BlogPosting|LiveBlogPosting|Report)$")
_PUBLISHED_METAS = (
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "datepublished",
    "dc.date.issued",
    "dcterms.issued",
    "dc:date.created",
    "parsely-pub-date",
    "sailthru.date",
    "publish-date",
    "publication_date",
    "pubdate",
    "date",
)
_MODIFIED_METAS = (
    "article:modified_time",
    "og:article:modified_time",
    "og:updated_time",
    "datemodified",
    "dc.date.modified",
    "dc:date.modified",
    "last-modified",
)
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("janvier", "janv"),
            ("février", "fevrier", "févr", "fevr"),
            ("mars",),
            ("avril", "avr"),
            ("mai",),
            ("juin",),
            ("juillet", "juil"),
            ("août", "aout"),
            ("septembre", "sept"),
            ("octobre", "oct"),
            ("novembre", "nov"),
            ("décembre", "decembre", "déc", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_FRENCH_DATE = re.compile(
    rf"\b(?P<day>[0-3]?\d)(?:er)?\s+(?P<month>{_MONTH_NAMES})\.?\s+(?P<year>(?:19|20)\d\d)\b"
    r"|\b(?P<d>[0-3]?\d)[/.](?P<m>[01]?\d)[/.](?P<y>(?:19|20)\d\d)\b"
    r"|\b(?P<iso>(?:19|20)\d\d-[01]\d-[0-3]\d)\b",
    re.I,
)
_UPDATED = re.compile(
    r"(?:mis\s+à\s+jour|modifié|actualisé|mise\s+à\s+jour|màj)\W*(?:le\s*)?$", re.I
)
_URL_DATE = re.compile(
    r"/(?P<year>(?:19|20)\d\d)[/-](?P<month>[01]\d)(?:[/-](?P<day>[0-3]\d))?(?:/|-|$)"
)
_BYLINE_REACH = 40  # elements read after the headline, looking for the byline's date


@dataclass
class PageMetadata:
    """What the publisher states about the article; each date with where it was read.

    `dates`: every publication date the page states, most trusted first, with its
    source: the first plausible one is the article's (a JSON-LD placeholder such as
    1900-01-01 gives way to the meta tags' date).
    """

    title: str | None = None
    dates: list[tuple[str, str]] = field(default_factory=list)
    modified: str | None = None
    author: str | None = None
    url: str | None = None
    site_name: str | None = None
    site_source: str | None = None  # og_site_name or jsonld_publisher
    # the publication dates of the JSON-LD and the meta tags as written, readable or not
    stated_values: list[str] = field(default_factory=list)

    @property
    def published(self) -> str | None:
        return self.dates[0][0] if self.dates else None

    @property
    def date_source(self) -> str | None:
        return self.dates[0][1] if self.dates else None


def _json_objects(tree: Any) -> Iterator[dict[str, Any]]:
    """The top-level objects of the page's JSON-LD (those of an @graph included)."""
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        for item in stack:
            if not isinstance(item, dict):
                continue
            graph = item.get("@graph")
            if isinstance(graph, list):
                yield from (g for g in graph if isinstance(g, dict))
            else:
                yield item


def _is_article(item: dict[str, Any]) -> bool:
    types = item.get("@type")
    types = types if isinstance(types, list) else [types]
    return any(isinstance(t, str) and _ARTICLE_TYPES.search(t) for t in types)


def _object_urls(item: dict[str, Any]) -> set[str]:
    urls = {item.get("url"), item.get("@id")}
    page = item.get("mainEntityOfPage")
    urls |= {page.get("@id"), page.get("url")} if isinstance(page, dict) else {page}
    return {u.rstrip("/") for u in urls if isinstance(u, str)}


def article_object(tree: Any, url: str | None) -> dict[str, Any] | None:
    """The JSON-LD object of this page's article: the one naming the page's URL when
    several articles are described (related ones), else the first."""
    articles = [item for item in _json_objects(tree) if _is_article(item)]
    if url:
        for item in articles:
            if url.rstrip("/") in _object_urls(item):
                return item
    return articles[0] if articles else None


def _metas(tree: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = (meta.get("content") or "").strip()
        if key and content:
            found.setdefault(key, content)
    return found


def canonical_url(tree: Any) -> str | None:
    for href in tree.xpath("//link[@rel='canonical']/@href"):
        if href.strip():
            return href.strip()
    metas = _metas(tree)
    return metas.get("og:url")


def _iso(value: Any) -> str | None:
    """`2020-02-17T12:31:49+00:00` → `2020-02-17`, as the publisher wrote its day."""
    if not isinstance(value, str):
        return None
    match = re.match(r"\s*((?:19|20)\d\d-[01]\d-[0-3]\d)", value)
    return match.group(1) if match else None


def french_date(text: str) -> str | None:
    """The publication date in a byline's text (`Publié le 30 septembre 2018 à 10h`),
    skipping a date said to be an update; ISO, or None."""
    for match in _FRENCH_DATE.finditer(text):
        if _UPDATED.search(text[: match.start()][-30:]):
            continue
        if match.group("iso"):
            return match.group("iso")
        if match.group("month"):
            day, month = int(match.group("day")), MONTHS[match.group("month").lower()]
            year = int(match.group("year"))
        else:
            day, month, year = int(match.group("d")), int(match.group("m")), int(match.group("y"))
        if 1 <= month <= 12 and 1 <= day <= 31:
            return f"{year:04d}-{month:02d}-{day:02d}"
    return None


def byline_date(tree: Any) -> str | None:
    """The date next to the headline: a <time> or a written date in the few elements
    that follow the first <h1> (or stand just before it)."""
    headline = next(iter(tree.xpath("//body//h1")), None)
    if headline is None:
        return None
    container = headline.getparent()
    for _ in range(3):
        if container is None:
            return None
        elements = [e for e in container.iter() if isinstance(e.tag, str)]
        start = elements.index(headline) if headline in elements else 0
        nearby = elements[max(0, start - 5) : start + _BYLINE_REACH]
        for element in nearby:
            if element.tag == "time":
                stamp = _iso(element.get("datetime")) or french_date(_text(element))
                if stamp:
                    return stamp
        for element in nearby:
            if element.tag in ("p", "span", "div", "time", "small", "li"):
                own = " ".join((element.text or "").split())
                stamp = french_date(own) or (
                    french_date(_text(element)) if len(_text(element)) < 120 else None
                )
                if stamp:
                    return stamp
        container = container.getparent()
    return None


def url_date(url: str | None) -> str | None:
    """`…/2018/09/30/…` → `2018-09-30`; `…/2018/09/…` → `2018-09`."""
    match = _URL_DATE.search(url or "")
    if not match:
        return None
    year, month, day = match.group("year"), match.group("month"), match.group("day")
    if not 1 <= int(month) <= 12:
        return None
    return f"{year}-{month}-{day}" if day else f"{year}-{month}"


def _author(item: dict[str, Any]) -> str | None:
    authors = item.get("author")
    authors = authors if isinstance(authors, list) else [authors]
    names = []
    for author in authors:
        name = author.get("name") if isinstance(author, dict) else author
        if isinstance(name, str) and name.strip():
            names.append(" ".join(name.split()))
    return ", ".join(names) or None


def _name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def publisher_name(tree: Any, article: dict[str, Any] | None) -> str | None:
    """The name of the article's JSON-LD `publisher`: an object, a list of them, or a
    reference (`{"@id": …}`) to an object of the page's graph."""
    if article is None:
        return None
    publishers = article.get("publisher")
    publishers = publishers if isinstance(publishers, list) else [publishers]
    by_id = {item.get("@id"): item for item in _json_objects(tree) if item.get("@id")}
    for publisher in publishers:
        if isinstance(publisher, dict) and "name" not in publisher:
            publisher = by_id.get(publisher.get("@id"), publisher)
        name = _name(publisher.get("name") if isinstance(publisher, dict) else publisher)
        if name:
            return name
    return None


def read_metadata(tree: Any, *, byline_tree: Any | None = None) -> PageMetadata:
    """The article's headline, dates and site name as its publisher states them.

    `byline_tree` is the page without its furniture, where the byline is looked for
    (a date in a comment or a related-article list is not the article's).
    """
    found = PageMetadata(url=canonical_url(tree))
    metas = _metas(tree)
    article = article_object(tree, found.url)
    stated: list[tuple[str | None, str]] = []
    if article is not None:
        headline = article.get("headline") or article.get("name")
        if isinstance(headline, str) and headline.strip():
            found.title = " ".join(
                lxml.html.fromstring(f"<p>{headline}</p>").text_content().split()
            )
        stated.append((_iso(article.get("datePublished")), "jsonld"))
        found.stated_values.append(str(article.get("datePublished") or ""))
        found.modified = _iso(article.get("dateModified"))
        found.author = _author(article)
    stated.append(
        (next((_iso(metas[n]) for n in _PUBLISHED_METAS if _iso(metas.get(n))), None), "meta")
    )
    if found.modified is None:
        found.modified = next((_iso(metas[n]) for n in _MODIFIED_METAS if _iso(metas.get(n))), None)
    found.stated_values = [
        v for v in (*found.stated_values, *map(metas.get, _PUBLISHED_METAS)) if v
    ]
    stated.append((byline_date(byline_tree if byline_tree is not None else tree), "byline"))
    stated.append((url_date(found.url), "url"))
    found.dates = [(stamp, source) for stamp, source in stated if stamp]
    for name, source in (
        (_name(metas.get("og:site_name")), "og_site_name"),
        (publisher_name(tree, article), "jsonld_publisher"),
    ):
        if name:
            found.site_name, found.site_source = name, source
            break
    return found
