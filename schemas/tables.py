"""Every depeche table, declared once.

The pyarrow schema, the data dictionary (docs/data-dictionary.md) and the Great Expectations
suites (schemas/suites.py) are all derived from the definitions below, so a column
is named in exactly one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

PARTITION_KEY = "batch"
"""Hive partition key of every table: `<table>/batch=<partition>/`."""

STAGES = ("fetch", "clean", "annotate", "validate")
"""The stage names every table's `stage` column accepts, in run order; the stage
registry (tasks/stages/registry.py) declares what each stage does and checks it matches."""

FORMATS = ("wire", "html", "jsonl")
DATE_PRECISIONS = ("day", "month", "year")
DATE_SOURCES = (
    "jsonld",
    "meta",
    "byline",
    "url",
    "feed",
    "sitemap",
    "htmldate",
    "wire_header",
    "jsonl",
)
"""Where `published_date` was read, most trusted first for a web page: the JSON-LD
article object's `datePublished`, the publisher's meta tags (`article:published_time`…),
the byline under the headline, the URL's path, the feed or sitemap that listed the
page, htmldate's guess; the date header of a wire story; the `date` field of a JSON
line."""
LISTED_BY = ("feed", "sitemap", "list", "page")
"""How a web page came to be fetched: listed by a feed, a sitemap, a list of URLs
(a `.urls` file, a URL list served as text), or given directly as a source."""
OUTLET_SOURCES = (
    "og_site_name",
    "jsonld_publisher",
    "news_sitemap",
    "jsonl",
    "host",
    "agency",
    "unknown",
)
"""Where an article's outlet was named, first choice first: the page's
`og:site_name`, the `name` of its JSON-LD article's `publisher`, the publication name of
the news sitemap that listed it, a JSON line's `source`; else the host of its URL
(without `www.`), else the agency of a wire story's byline; `unknown` when none is
known (a text file without a byline)."""
EARLIEST = date(1990, 1, 1)
"""No publication date is earlier. The dates before it that sources give are
placeholders for "no date": year 1 of .NET feeds (`Mon, 01 Jan 0001`), 1900-01-01 of
spreadsheets and CMS defaults, 1970-01-01 of a zero Unix time. depeche reads news from
the web (whose first news sites came in 1993-1995) and current wire services: a bound
before those and after the placeholders loses no real date of such sources."""
ENTITY_LABELS = ("PER", "LOC", "ORG", "MISC")
QUOTE_KINDS = ("direct", "partial", "indirect")
SPEAKER_KINDS = ("person", "organisation", "media", "unknown")
SPEAKER_VIAS = ("name", "pronoun", "role", "context")
GENDERS = ("female", "male", "unknown")
PLACE_KINDS = ("country", "region", "city", "other", "demonym")
GENDER_SOURCES = ("title", "role", "agreement", "pronoun", "first_name", "conflict")
"""What a person's gender was read from, strongest cue first (tasks/nlp/gender.py);
`conflict`: cues of the text disagree, the gender is `unknown`."""
"""`direct`: words between guillemets (or double quotes); `partial`: a few quoted words
inside the journalist's sentence; `indirect`: reported speech without quotation marks."""

QUARANTINE_REASONS: dict[str, str] = {
    # fetch: the file or line could not become a raw item
    "empty": "the file (or JSON line) holds no text",
    "binary": "the bytes are not text (NUL or control bytes without a BOM)",
    "undecodable": "a byte-order mark announces an encoding the bytes do not follow",
    "too_large": "the file is larger than the size cap (--max-bytes)",
    "unreadable": "the file could not be read (permissions, vanished, I/O error)",
    "unsupported_format": "the file extension is not .txt, .html/.htm or .jsonl",
    "malformed_json": "a .jsonl line is not a JSON object",
    "missing_text": "a .jsonl object has no non-empty string `text`",
    "vanished": "a planned item is no longer at its source, or has changed since",
    # fetch, web pages: what the page's URL answered (see TRANSIENT_REASONS)
    "unsupported_scheme": "the URL is not http or https (file:, ftp:, javascript:…)",
    "bad_url": "the URL cannot be parsed, has no host, or carries a user name or password",
    "blocked_address": "the host (or a redirect's) resolves to a loopback, private, "
    "link-local, multicast or reserved address outside --allow-private-network",
    "robots_disallowed": "the site's robots.txt disallows the URL for depeche's user agent",
    "too_many_redirects": "more than 5 redirects",
    "http_401": "the page answered 401 Unauthorized",
    "http_403": "the page answered 403 Forbidden",
    "http_404": "the page answered 404 Not Found",
    "http_410": "the page answered 410 Gone",
    "http_451": "the page answered 451 Unavailable For Legal Reasons",
    "http_error": "the page answered another status that is no page (4xx, 3xx without a Location)",
    "not_html": "the answer is not an HTML page (a PDF, an image, a feed…)",
    "tls_failed": "the TLS handshake or the certificate check failed",
    "timeout": "no complete answer in time (--timeout); retried by later runs",
    "connection_failed": "no connection (refused, reset, unknown host); retried by later runs",
    "server_error": "the server answered 5xx; retried by later runs",
    "rate_limited": "the server answered 429 Too Many Requests; retried by later runs",
    # clean: the item could not become an article
    "extraction_failed": "no main text could be extracted from the HTML page",
    "empty_text": "nothing is left once the header, byline and captions are removed",
    "invalid_date": "the date given with the article cannot be read",
    "not_french": "the language detector does not rank French first, or French is less "
    "than twice as likely as the next language",
    "duplicate": "the same normalized text is already in this batch or an earlier one",
    # annotate
    "too_long": "the text is longer than the model accepts (nlp.max_length)",
}

TRANSIENT_REASONS = frozenset({"timeout", "connection_failed", "server_error", "rate_limited"})
"""Web failures that may pass: the URL is tried again by later runs, up to
--fetch-attempts runs, before its quarantine row is final."""

WEB_REASONS = frozenset(
    {
        "unsupported_scheme",
        "bad_url",
        "blocked_address",
        "robots_disallowed",
        "too_many_redirects",
        "http_401",
        "http_403",
        "http_404",
        "http_410",
        "http_451",
        "http_error",
        "not_html",
        "tls_failed",
    }
    | TRANSIENT_REASONS
)

EXPECTED_DROPS = frozenset({"duplicate", "unsupported_format"} | WEB_REASONS)
"""The quarantine reasons that are no error of the input: a batch whose every row is
quarantined for one of them (articles the lake already holds, files of a type depeche
does not read, web pages that are gone, refused or not answering this hour) is an
empty batch that commits, not a failure."""

# -- text the lake holds ---------------------------------------------------------------

# The characters double-encoded UTF-8 garbles: Latin-1's letters and signs, and the
# typography Windows-1252 adds (’ « » … – € œ).
_GARBLED = [chr(code) for code in range(0xA0, 0x100)] + list("ŒœŠšŸŽžƒ‘’‚“”„†‡•…‰‹›€™–—ˆ˜")


def _misread(character: str) -> set[str]:
    """How a character's UTF-8 bytes read as Windows-1252 (a byte it leaves undefined
    as its Latin-1 control) and as Latin-1: `é` → `Ã©`, `’` → `â€™` and `â\x80\x99`."""
    data = character.encode("utf-8")
    windows = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in data)
    return {windows, data.decode("latin-1")}


MOJIBAKE: dict[str, str] = {
    garbled: character for character in _GARBLED for garbled in _misread(character)
}
"""Double-encoded UTF-8 (`numÃ©ro`, `lâ€™Ã©tÃ©`) and the character each sequence
stands for. Every sequence starts with `Ã`, `Â`, `â€`, `Å`, `Æ` or `Ë` followed by
Windows-1252 signs, which French text never writes: where one is found, the text is
garbled for certain, and what it stood for is known."""
# longest first, and in one order whatever the process (the stages' code versions read it)
MOJIBAKE_MARKERS = "|".join(re.escape(k) for k in sorted(sorted(MOJIBAKE), key=len, reverse=True))
CONTROL_CHARACTERS = "[\x00-\x09\x0b-\x1f\x7f-\x9f]"
"""Unicode's control characters (category Cc) but the line feed between paragraphs."""
NOT_TEXT = f"{CONTROL_CHARACTERS}|{MOJIBAKE_MARKERS}"
"""What clean text never holds: a control character or a double-encoded sequence."""

DOC_ID_PATTERN = r"^[0-9a-f]{16}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
NOT_BLANK = r"\S"
_FORBIDDEN_WORDS = {NOT_TEXT: "no control character but line feeds, no double-encoded UTF-8"}


@dataclass(frozen=True)
class Column:
    """One column: its Arrow type, its meaning, and the rules the gate enforces."""

    name: str
    type: pa.DataType
    doc: str
    nullable: bool = True
    unique: bool = False
    values: tuple[str, ...] | None = None
    min_value: float | date | None = None
    max_value: float | date | None = None
    regex: str | None = None
    forbidden: str | None = None  # a pattern no value may contain

    @property
    def field(self) -> pa.Field:
        return pa.field(self.name, self.type, nullable=self.nullable)

    def rules(self) -> list[str]:
        """The gate's rules for this column, in words (for the data dictionary)."""
        rules = [] if self.nullable else ["not null"]
        if self.unique:
            rules.append("unique")
        if self.values is not None:
            rules.append("one of " + ", ".join(f"`{v}`" for v in self.values))
        if self.min_value is not None or self.max_value is not None:
            low = "" if self.min_value is None else f"≥ {_bound(self.min_value)}"
            high = "" if self.max_value is None else f"≤ {_bound(self.max_value)}"
            rules.append(" and ".join(r for r in (low, high) if r))
        if self.regex is not None:
            rules.append(f"matches `{self.regex}`")
        if self.forbidden is not None:
            rules.append(_FORBIDDEN_WORDS.get(self.forbidden, f"never contains `{self.forbidden}`"))
        return rules


def _bound(value: float | date) -> str:
    return value.isoformat() if isinstance(value, date) else f"{value:g}"


@dataclass(frozen=True)
class Table:
    """A table of the lake: where it lives, its columns, its keys and its row checks."""

    name: str
    path: str
    stage: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    # (later, earlier): the first column must be strictly greater than the second
    ordered: tuple[tuple[str, str], ...] = field(default=())
    # (column, bound): the first column, when set, must not be greater than the second
    not_after: tuple[tuple[str, str], ...] = field(default=())
    # written by every stage, one folder per stage: `<path>/<stage>/batch=<p>/`
    per_stage: bool = False
    # committed by its stage where no reader looks, until a later stage publishes it
    checkpoint: bool = False
    # a record of the gate, not data: kept when the gate fails, not part of the output
    report: bool = False
    # one folder per batch (`<path>/batch=<p>/`); a mart is one file over every batch
    partitioned: bool = True

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([c.field for c in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def location(self) -> str:
        if not self.partitioned:
            return f"{self.path}/"
        stage = "<stage>/" if self.per_stage else ""
        return f"{self.path}/{stage}{PARTITION_KEY}=<partition>/"


def _id(name: str, doc: str, *, unique: bool = False) -> Column:
    return Column(name, pa.string(), doc, nullable=False, unique=unique, regex=DOC_ID_PATTERN)


def _count(name: str, doc: str) -> Column:
    return Column(name, pa.int32(), doc, nullable=False, min_value=0)


_CAPTION = pa.struct([pa.field("credit", pa.string()), pa.field("text", pa.string())])


def _offsets(what: str) -> tuple[Column, Column]:
    """`start_char` and `end_char`: where the row's `what`s lie in the document's text."""
    return (
        _count("start_char", f"Offset of the first {what} in the document text."),
        _count("end_char", f"Offset just past the last {what}."),
    )


def _spans(name: str, doc: str, index: str, columns: tuple[Column, ...]) -> Table:
    """A table of spans of an article's text (sentences, entities, quotes): annotate's,
    one row per span, keyed by its article and its position there, its end after its
    start."""
    return Table(
        name=name,
        path=f"annotated/{name}",
        stage="annotate",
        doc=doc,
        checkpoint=True,
        key=("doc_id", index),
        ordered=(("end_char", "start_char"),),
        columns=columns,
    )


RAW = Table(
    name="raw",
    path="raw",
    stage="fetch",
    doc="One row per item fetched: a wire or HTML file, or one line of a JSON lines file, "
    "with its payload decoded to text exactly as found.",
    key=("item_id",),
    columns=(
        _id("item_id", "Stable id of the item: hash of its source path and line.", unique=True),
        Column(
            "source_path",
            pa.string(),
            "Path of the file the item came from; a web page's canonical URL.",
            False,
        ),
        Column("line", pa.int32(), "Line number in a .jsonl file (1-based); null otherwise."),
        Column("format", pa.string(), "Input format.", False, values=FORMATS),
        Column("encoding", pa.string(), "Encoding the bytes were decoded from.", False),
        Column(
            "payload",
            pa.large_string(),
            "The original item, decoded, unmodified but for its double-encoded sequences "
            "(see `repairs`).",
            False,
        ),
        Column(
            "content_sha256",
            pa.string(),
            "SHA-256 of the item's bytes (of a .jsonl line: its UTF-8 bytes).",
            False,
            regex=SHA256_PATTERN,
        ),
        Column("byte_size", pa.int64(), "Size of those bytes.", False, min_value=1),
        Column(
            "repairs",
            pa.int32(),
            "Double-encoded UTF-8 sequences repaired in `payload` (`numÃ©ro` → `numéro`, "
            "`lâ€™été` → `l’été`): text garbled at its source, or by a charset that lied "
            "about every reading; 0 for text as it was found.",
            False,
            min_value=0,
        ),
        Column("fetched_at", pa.timestamp("us", tz="UTC"), "When the item was read.", False),
        Column("url", pa.string(), "Web page: the canonical URL asked for; null for a file."),
        Column("final_url", pa.string(), "Web page: the URL that answered, after redirects."),
        Column("redirects", pa.list_(pa.string()), "Web page: the URLs redirected to, in order."),
        Column(
            "http_status", pa.int16(), "Web page: the HTTP status.", min_value=200, max_value=299
        ),
        Column("content_type", pa.string(), "Web page: the answer's media type."),
        Column("etag", pa.string(), "Web page: the answer's ETag."),
        Column("last_modified", pa.string(), "Web page: the answer's Last-Modified."),
        Column(
            "listed_by",
            pa.string(),
            "Web page: what listed it (a feed, a sitemap, a list of URLs, or the page "
            "itself given as a source).",
            values=LISTED_BY,
        ),
        Column("listed_in", pa.string(), "Web page: the feed, sitemap or list that named it."),
        Column("listed_title", pa.string(), "Web page: the title its feed or sitemap gave."),
        Column(
            "listed_date",
            pa.timestamp("us", tz="UTC"),
            "Web page: the date its feed or sitemap gave (publication, else lastmod).",
        ),
        Column("listed_author", pa.string(), "Web page: the author its feed gave."),
        Column("listed_site", pa.string(), "Web page: the site name its feed or sitemap gave."),
    ),
)

CLEAN = Table(
    name="clean",
    path="clean",
    stage="clean",
    doc="One row per article: normalized body text and the metadata found around it.",
    key=("doc_id",),
    not_after=(("published_date", "date_bound"), ("modified_date", "date_bound")),
    columns=(
        _id("doc_id", "Stable id of the article: hash of its normalized text.", unique=True),
        _id(
            "story_id",
            "The story the article tells: the `doc_id` of the first article of the lake "
            "(earlier partitions first, then this one's in order) whose text is a near "
            "duplicate of it, through any chain of near duplicates (MinHash of its word "
            "5-grams, estimated Jaccard similarity ≥ `--story-threshold`); its own "
            "`doc_id` when it is the first.",
        ),
        _id("item_id", "The raw item the article came from."),
        Column("source_path", pa.string(), "Path of the file the article came from.", False),
        Column("line", pa.int32(), "Line number in a .jsonl file; null otherwise."),
        Column("format", pa.string(), "Input format.", False, values=FORMATS),
        Column("url", pa.string(), "Canonical URL, when the source gives one."),
        Column("title", pa.string(), "Headline, when the source gives one.", forbidden=NOT_TEXT),
        Column("author", pa.string(), "Author, when the source gives one."),
        Column(
            "outlet",
            pa.string(),
            "The outlet that published the article, by the name it gives itself (see "
            "`outlet_source`), normalized like the text (NFC, plain apostrophes, single "
            "spaces): every article stating one name counts as one outlet. Pages of one "
            "host that state different names are different outlets (a host can carry "
            "several: a group's shared domain).",
            False,
            regex=NOT_BLANK,
        ),
        Column(
            "outlet_source",
            pa.string(),
            "Where `outlet` was read: the page's `og:site_name` (`og_site_name`), its "
            "JSON-LD publisher (`jsonld_publisher`), the news sitemap that listed it "
            "(`news_sitemap`; a feed's title names the feed, not the outlet), a JSON line's "
            "`source` (`jsonl`), the URL's host (`host`), the byline's agency (`agency`).",
            False,
            values=OUTLET_SOURCES,
        ),
        Column(
            "published_date",
            pa.date32(),
            "Publication date; the first day of the month (or year) when only that is known. "
            "A date outside its bounds (before 1990-01-01, after `date_bound`) is a "
            "placeholder for no date (`0001-01-01`, `1900-01-01`, `1970-01-01`, year 9999): "
            "the next source is read instead, and the article is undated when none is left.",
            min_value=EARLIEST,
        ),
        Column(
            "date_precision",
            pa.string(),
            "How much of `published_date` is known.",
            values=DATE_PRECISIONS,
        ),
        Column(
            "date_source",
            pa.string(),
            "Where `published_date` was read: on a web page the JSON-LD article object "
            "(`jsonld`), the publisher's meta tags (`meta`), the byline under the headline "
            "(`byline`), the URL (`url`) or htmldate's guess (`htmldate`); the date header "
            "of a wire story (`wire_header`); a JSON line's `date` (`jsonl`). Null when "
            "there is no date.",
            values=DATE_SOURCES,
        ),
        Column(
            "modified_date",
            pa.date32(),
            "Date the publisher last modified the article, when the page states it "
            "(never used as the publication date); within the same bounds.",
            min_value=EARLIEST,
        ),
        Column(
            "date_bound",
            pa.date32(),
            "The latest date the article can be dated: the day after its raw item was "
            "fetched (`fetched_at`), so that cleaning it again gives the same dates.",
        ),
        Column("dateline", pa.string(), "City the story was filed from (wire header)."),
        Column("agency", pa.string(), "News agency named in the byline paragraph."),
        Column(
            "captions",
            pa.list_(_CAPTION),
            "Photo captions taken out of the body: credit and caption text.",
            False,
        ),
        Column(
            "text",
            pa.large_string(),
            "Normalized body text the annotator sees.",
            False,
            forbidden=NOT_TEXT,
        ),
        Column("char_count", pa.int32(), "Length of `text` in characters.", False, min_value=1),
        Column("language", pa.string(), "Detected language.", False, values=("fr",)),
        Column(
            "language_score",
            pa.float32(),
            "Probability of French by the language detector (over 97 languages). An "
            "article is French when French is the detector's first language and at least "
            "twice as likely as its second, whatever this probability.",
            False,
            min_value=0,
            max_value=1,
        ),
    ),
)

STORIES = Table(
    name="stories",
    path="stories",
    stage="clean",
    doc="One row per clean article: the MinHash signature of its word 5-grams and its "
    "story. The clean stage commits it with the articles of the same partition, and "
    "reads the earlier partitions' to give a new article the story of an earlier near "
    "duplicate.",
    key=("doc_id",),
    columns=(
        _id("doc_id", "The article.", unique=True),
        _id("story_id", "Its story (see the clean table)."),
        Column(
            "minhash",
            pa.binary(),
            "MinHash signature of the article's word 5-grams (datasketch, 128 permutations, "
            "seed 1, 5-grams hashed with CRC-32): 128 little-endian unsigned 32-bit integers.",
            False,
        ),
    ),
)

DOCUMENTS = Table(
    name="documents",
    path="annotated/documents",
    stage="annotate",
    doc="One row per annotated article.",
    checkpoint=True,
    key=("doc_id",),
    columns=(
        _id("doc_id", "Stable id of the article.", unique=True),
        _id(
            "story_id",
            "The story: articles that are near duplicates of each other (the same wire "
            "story lightly edited by several sites, a story updated later) share it, "
            "across partitions and runs (see the clean table).",
        ),
        Column("source_path", pa.string(), "Path of the file the article came from.", False),
        Column("url", pa.string(), "Canonical URL, when known."),
        Column("title", pa.string(), "Headline, when known."),
        Column("published_date", pa.date32(), "Publication date (see `date_precision`)."),
        Column("date_precision", pa.string(), "day, month or year.", values=DATE_PRECISIONS),
        Column(
            "date_source",
            pa.string(),
            "Where the publication date was read (see the clean table).",
            values=DATE_SOURCES,
        ),
        Column("modified_date", pa.date32(), "Date the publisher last modified the article."),
        Column("dateline", pa.string(), "City the story was filed from."),
        Column("agency", pa.string(), "News agency of the byline."),
        Column(
            "outlet",
            pa.string(),
            "The outlet that published the article (see the clean table).",
            False,
            regex=NOT_BLANK,
        ),
        Column("text", pa.large_string(), "The text that was annotated.", False),
        _count("sentence_count", "Sentences in the text."),
        _count("token_count", "Tokens in the text."),
        _count("entity_count", "Entities kept in the `entities` table."),
        _count(
            "quote_count",
            "Quotes in the `quotes` table: a quote cut by its attribution counts once "
            "(distinct `quote_id`).",
        ),
        Column("model", pa.string(), "spaCy pipeline that annotated the text.", False),
        Column("model_version", pa.string(), "Version of that pipeline.", False),
    ),
)

SENTENCES = _spans(
    "sentences",
    "One row per sentence; offsets index the document's `text`.",
    "sentence_index",
    columns=(
        _id("doc_id", "Article the sentence belongs to."),
        _count("sentence_index", "Position of the sentence in the article (0-based)."),
        *_offsets("character"),
        Column("text", pa.large_string(), "The sentence.", False),
        _count("token_count", "Tokens in the sentence."),
    ),
)


def _gender(prefix: str, whose: str) -> tuple[Column, Column]:
    return (
        Column(
            f"{prefix}gender",
            pa.string(),
            f"{whose} gender as the text presents it (not as they identify): `female`, "
            "`male`, or `unknown` when no cue says (a surname never does) or cues "
            "disagree; null for what is not a person.",
            values=GENDERS,
        ),
        Column(
            f"{prefix}gender_source",
            pa.string(),
            "What the gender was read from, strongest first: `title` (M., Mme), `role` "
            "(`la ministre`, `le maire`, `professeure`), `agreement` (`a-t-elle dit`, "
            "`s'est dite déçue`), `pronoun` (`elle a dit`), `first_name` (INSEE's first "
            "names, 95% of bearers of one sex); `conflict` when the text's cues disagree; "
            "null without any cue.",
            values=GENDER_SOURCES,
        ),
    )


def _place() -> tuple[Column, ...]:
    return (
        Column(
            "place_kind",
            pa.string(),
            "A place (`LOC`) as resolved offline (tasks/nlp/places.py): `country`, `region` "
            "(ISO 3166-2 subdivision), `city` (GeoNames, 15,000 people and more), `other` "
            "(a place named by what is there: `aéroport de Bagdad`); `demonym` for people "
            "of a place (`Américains`: not a place, no country); null when the gazetteers "
            "do not know it (`la Ville`, `État`) or the entity is no `LOC`.",
            values=PLACE_KINDS,
        ),
        Column(
            "place_id",
            pa.string(),
            "The place in its gazetteer: `iso:FR`, `iso:FR-73`, `geonames:2988507`.",
        ),
        Column(
            "country",
            pa.string(),
            "ISO 3166-1 alpha-2 code of the place's country.",
            regex=r"^[A-Z]{2}$",
        ),
        Column(
            "lat",
            pa.float64(),
            "Latitude (WGS 84) of a city, or of a country's capital.",
            min_value=-90,
            max_value=90,
        ),
        Column("lon", pa.float64(), "Longitude of that point.", min_value=-180, max_value=180),
    )


ENTITIES = _spans(
    "entities",
    "One row per named entity kept; offsets index the document's `text`.",
    "entity_index",
    columns=(
        _id("doc_id", "Article the entity was found in."),
        _count("entity_index", "Position of the entity in the article (0-based)."),
        _count("sentence_index", "Sentence the entity is in."),
        *_offsets("character"),
        Column("text", pa.string(), "The entity as written: text[start_char:end_char].", False),
        Column(
            "normalized",
            pa.string(),
            "The entity without elided article (l’OTAN → OTAN), title or outer punctuation.",
            False,
        ),
        Column("label", pa.string(), "Entity type.", False, values=ENTITY_LABELS),
        Column(
            "canonical",
            pa.string(),
            "One name per person or organisation in the article: the fullest name the "
            "article uses for it (`Stoltenberg`, `M. Stoltenberg` → `Jens Stoltenberg`; "
            "`OTAN` → `Organisation du traité de l'Atlantique nord` when the article "
            "gives the name with the acronym in brackets); else `normalized`.",
            False,
            regex=NOT_BLANK,
        ),
        *_gender("", "The person's"),
        *_place(),
    ),
)

QUOTES = _spans(
    "quotes",
    "One row per quote: the quoted words, how they are quoted, and who said them when "
    "the text says (an unattributed quote has no speaker); offsets index the document's "
    "`text`.",
    "quote_index",
    columns=(
        _id("doc_id", "Article the quote is in."),
        _count("quote_index", "Position of the quote in the article (0-based)."),
        *_offsets("quoted character"),
        Column(
            "text",
            pa.large_string(),
            "The quoted words: text[start_char:end_char], without the quotation marks.",
            False,
            regex=NOT_BLANK,
        ),
        Column(
            "kind",
            pa.string(),
            '`direct` (between « » or " "), `partial` (a few quoted words inside a '
            "reported sentence) or `indirect` (reported speech: `X a affirmé que …`, "
            "`selon X, …`).",
            False,
            values=QUOTE_KINDS,
        ),
        Column(
            "verb",
            pa.string(),
            "The reporting verb as written (`a assuré`, `a-t-il indiqué`); null when none "
            "introduces the quote (`selon X`, a colon, a quote following one of the same "
            "speaker).",
        ),
        Column(
            "speaker",
            pa.string(),
            "Who the text says spoke, as written: a name, a role (`la toxicologue`), a "
            "pronoun (`il`); null when the quote has no attribution of its own.",
        ),
        Column(
            "speaker_start", pa.int32(), "Offset of `speaker` in the document text.", min_value=0
        ),
        Column("speaker_end", pa.int32(), "Offset just past `speaker`.", min_value=0),
        Column(
            "speaker_entity_index",
            pa.int32(),
            "The entity (`entity_index` in `entities`, same `doc_id`) the speaker is "
            "resolved to: the person named, the person a pronoun or a role stands for, the "
            "speaker of the quote it follows; null when the text does not say who spoke.",
            min_value=0,
        ),
        Column(
            "speaker_canonical",
            pa.string(),
            "That entity's `canonical` name (count speakers by it); null with it.",
            regex=NOT_BLANK,
        ),
        Column(
            "speaker_kind",
            pa.string(),
            "What the speaker is: `person`, `organisation` (a group of people too), `media` "
            "(a publication or broadcaster reporting: `Mediapart révèle que …`) or `unknown` "
            "(no speaker, `on`, a document nobody named wrote). Leave `media` and `unknown` "
            "out to count who speaks.",
            False,
            values=SPEAKER_KINDS,
        ),
        Column(
            "speaker_via",
            pa.string(),
            "How the speaker was found: `name` (the text names them at the quote), "
            "`pronoun` (`il`, `a-t-elle dit`, resolved to a person), `role` (`la ministre`, "
            "resolved to the person the article names with it) or `context` (no "
            "attribution of its own: the speaker of the quote before, or the one person "
            "named since); null without a speaker. Names are right far more often than "
            "the others (see the README): keep `name` where a wrong speaker costs more than "
            "a missing one.",
            values=SPEAKER_VIAS,
        ),
        Column(
            "quote_id",
            pa.int32(),
            "The quote this row is a segment of: the `quote_index` of its first segment. "
            "A quote cut by its attribution (`« A », a dit X, « B »`) is two rows with one "
            "`quote_id`, and the second repeats the first's speaker columns; count quotes "
            "as distinct (`doc_id`, `quote_id`).",
            False,
            min_value=0,
        ),
        *_gender("speaker_", "The speaker's"),
    ),
)

QUARANTINE = Table(
    name="quarantine",
    path="quarantine",
    stage="",
    per_stage=True,
    doc="One row per rejected input, per stage: the original record and the reason. A "
    "stage that rejected nothing in a partition writes no file there.",
    columns=(
        Column("stage", pa.string(), "Stage that rejected the record.", False, values=STAGES),
        Column("record_id", pa.string(), "item_id or doc_id of the record, when it has one."),
        Column(
            "reason",
            pa.string(),
            "Reason code (see the table of reasons).",
            False,
            values=tuple(QUARANTINE_REASONS),
        ),
        Column("detail", pa.string(), "What exactly was wrong.", False),
        Column("source_path", pa.string(), "File the record came from.", False),
        Column("line", pa.int32(), "Line in a .jsonl file; null otherwise."),
        Column("record", pa.large_string(), "The original record as JSON (null for bytes)."),
        Column("payload", pa.large_binary(), "The original bytes, when they are not text."),
    ),
)


class Rejected(Exception):
    """A record that cannot go on, with its quarantine reason (one of QUARANTINE_REASONS)."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in QUARANTINE_REASONS:
            raise ValueError(f"unknown quarantine reason {reason!r}")
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def quarantine_row(
    stage: str,
    rejected: Rejected,
    *,
    record_id: str | None,
    source_path: str,
    line: int | None,
    record: str | None = None,
    payload: bytes | None = None,
) -> dict[str, object]:
    """One row of the quarantine table: what was rejected, where it came from, why."""
    return {
        "stage": stage,
        "record_id": record_id,
        "reason": rejected.reason,
        "detail": rejected.detail,
        "source_path": source_path,
        "line": line,
        "record": record,
        "payload": payload,
    }


CHECKS = Table(
    name="checks",
    path="reports/checks",
    stage="",
    per_stage=True,
    report=True,
    doc="One row per check a stage's gate evaluated, passed or failed, for data-quality "
    "dashboards; one file per stage in each batch.",
    columns=(
        Column("stage", pa.string(), "Stage whose gate ran the check.", False, values=STAGES),
        Column("table_name", pa.string(), "Table the check is about.", False),
        Column("expectation", pa.string(), "Expectation or check name.", False),
        Column("column_name", pa.string(), "Column the check is about, if any."),
        Column("success", pa.bool_(), "Whether the check passed.", False),
        Column("unexpected_count", pa.int64(), "Rows that broke the check, when counted."),
        Column("observed", pa.string(), "Observed value, as JSON."),
    ),
)
