"""The marts: analytics-ready aggregates over every published partition, declared
like the tables (schemas/tables.py lists them in ALL_TABLES), so each has its Arrow
schema, its Great Expectations gate and its entry in the data dictionary.

Time: every mart that has a `period` counts an article in the period its date is
known to: a day for `day` precision, the month for `month` precision (`period` is
then the month's first day, `precision` = `month`), the year for `year` precision.
A month-precision article is therefore never counted on the 1st as if it were a day:
for monthly figures, add a month's day rows to its month row. Undated articles have
a null `period` and `precision` = `undated`. Dates are the publication dates the
sources give (UTC calendar days); `quality_daily` is dated by when the gate ran (UTC).
"""

from __future__ import annotations

import pyarrow as pa

from schemas.tables import (
    DATE_PRECISIONS,
    ENTITY_LABELS,
    SPEAKER_KINDS,
    STAGES,
    Column,
    Table,
)

PERIOD_PRECISIONS = (*DATE_PRECISIONS, "undated")
CO_LABELS = ("PER", "ORG", "LOC")
"""The entity labels `cooccurrence` pairs: persons, organisations and places."""

MART_STAGE = "marts"
MART_PARTITION = "all"  # the marts' one "partition": every published partition


def _period() -> tuple[Column, Column]:
    return (
        Column(
            "period",
            pa.date32(),
            "The day the articles were published; for `month` (`year`) precision the "
            "first day of the month (year), standing for the whole month (year), never "
            "for that day. Null for undated articles.",
        ),
        Column(
            "precision",
            pa.string(),
            "What `period` stands for: a `day`, a `month`, a `year`, or `undated`.",
            False,
            values=PERIOD_PRECISIONS,
        ),
    )


def _total(name: str, doc: str, minimum: float = 0) -> Column:
    return Column(name, pa.int64(), doc, False, min_value=minimum)


def _entity(suffix: str = "", labels: tuple[str, ...] = ENTITY_LABELS) -> tuple[Column, Column]:
    return (
        Column(f"label{suffix}", pa.string(), "Entity type.", False, values=labels),
        Column(
            f"name{suffix}",
            pa.string(),
            "Canonical name of the entity: its `canonical` form in `entities`, the fullest "
            "name its article gives it (`Stoltenberg` counts as `Jens Stoltenberg`).",
            False,
        ),
    )


def _mart(name: str, doc: str, columns: tuple[Column, ...], key: tuple[str, ...]) -> Table:
    return Table(
        name=name,
        path=f"marts/{name}",
        stage=MART_STAGE,
        doc=doc,
        columns=columns,
        key=key,
        partitioned=False,
    )


def _per_entity(name: str, doc: str, *counts: Column) -> Table:
    """A mart of one row per period and entity: the period, the entity, its `counts`."""
    return _mart(
        name, doc, (*_period(), *_entity(), *counts), ("period", "precision", "label", "name")
    )


MENTIONS_DAILY = _per_entity(
    "mentions_daily",
    "Mentions of each entity per period (see `precision`), over every published "
    "partition: how often, in how many articles, from how many outlets.",
    _total("mentions", "Times the entity is named in those articles.", 1),
    _total("articles", "Articles that name it.", 1),
    _total("outlets", "Distinct outlets of those articles (see `sources_daily`).", 1),
)

ATTENTION_DAILY = _per_entity(
    "attention_daily",
    "Attention, Media Cloud's way: the share of a period's articles that name an "
    "entity (compare shares, not counts, across periods of different volume).",
    _total("articles", "Articles of the period that name the entity.", 1),
    _total("period_articles", "Every published article of the period.", 1),
    Column(
        "share", pa.float64(), "`articles` / `period_articles`.", False, min_value=0, max_value=1
    ),
)

COOCCURRENCE = _mart(
    "cooccurrence",
    "Pairs of persons, organisations and places named in the same article, each pair "
    "once (`label_a`, `name_a` sorts before `label_b`, `name_b`).",
    (
        *_entity("_a", CO_LABELS),
        *_entity("_b", CO_LABELS),
        _total("articles", "Articles that name both.", 1),
        Column("first_date", pa.date32(), "Earliest publication date of those articles."),
        Column("last_date", pa.date32(), "Latest publication date of those articles."),
    ),
    ("label_a", "name_a", "label_b", "name_b"),
)

SOURCES_DAILY = _mart(
    "sources_daily",
    "Published articles per outlet and period.",
    (
        *_period(),
        Column(
            "outlet",
            pa.string(),
            "The article's `outlet` (see the clean table: the name its page states, "
            "else its news sitemap's, else its host; a wire story's agency). An article "
            "named by its host counts under the name the other articles of its host "
            "state, when they all state the same one.",
            False,
        ),
        _total("articles", "Published articles.", 1),
        _total(
            "stories",
            "Distinct stories: distinct `story_id` when the documents have one, else the articles.",
            1,
        ),
        _total("words", "Words of those articles' text (runs of non-space characters)."),
    ),
    ("period", "precision", "outlet"),
)

QUALITY_DAILY = _mart(
    "quality_daily",
    "Data quality as a time series, per UTC day the gates ran: per stage and reason "
    "the rows quarantined (committed stage-partitions); per stage (`reason` null) the "
    "gates passed and failed, failed partitions included.",
    (
        Column("day", pa.date32(), "UTC day the stage's gate ran.", False),
        Column("stage", pa.string(), "Stage.", False, values=STAGES),
        Column("reason", pa.string(), "Quarantine reason; null on a stage's gate row."),
        _total("quarantined", "Rows quarantined for that reason."),
        _total("gates_passed", "Stage-partitions whose gate passed (gate rows)."),
        _total("gates_failed", "Stage-partitions whose gate failed (gate rows)."),
    ),
    ("day", "stage", "reason"),
)

QUOTES_BY_SPEAKER = _mart(
    "quotes_by_speaker",
    "Who is quoted, and how often: the quotes of every published partition whose speaker "
    "is resolved to a person or organisation, per speaker.",
    (
        Column(
            "speaker",
            pa.string(),
            "The speaker's canonical name (`speaker_canonical` in `quotes`).",
            False,
        ),
        _total(
            "quotes",
            "Quotes of theirs, direct, partial and indirect; a quote cut by its attribution "
            "counts once (distinct `quote_id`).",
            1,
        ),
        _total("articles", "Articles quoting them.", 1),
        _total("outlets", "Distinct outlets of those articles (see `sources_daily`).", 1),
        Column("first_date", pa.date32(), "Earliest publication date of those articles."),
        Column("last_date", pa.date32(), "Latest publication date of those articles."),
        Column(
            "speaker_kind",
            pa.string(),
            "`speaker_kind` of most of their quotes (see `quotes`): filter on `person` and "
            "`organisation` to leave media and unknown speakers out.",
            False,
            values=SPEAKER_KINDS,
        ),
    ),
    ("speaker",),
)


def _rate(name: str, whom: str) -> Column:
    return Column(
        name,
        pa.float64(),
        f"Masculinity rate of the {whom}, as GenderedNews defines it: men / (men + women); "
        "people of unknown gender are left out of it (see the `_unknown` count). Null "
        "when no man or woman is counted.",
        min_value=0,
        max_value=1,
    )


VOICES_DAILY = _mart(
    "voices_daily",
    "Who is heard, per period and outlet: the people named and the people quoted, by "
    "gender (`gender` of `entities`, one per person across the lake: a person the lake's "
    "articles give both genders is counted `unknown`, and in `conflicting`). A person "
    "counts once per article that names (quotes) them.",
    (
        *_period(),
        Column("outlet", pa.string(), "The outlet, as `sources_daily` names it.", False),
        _total("mentioned_female", "Women named: (article, person) pairs."),
        _total("mentioned_male", "Men named."),
        _total("mentioned_unknown", "People named whose gender is unknown."),
        _rate("masculinity_mentioned", "people named"),
        _total(
            "quoted_female",
            "Women quoted: (article, speaker) pairs of the quotes whose `speaker_kind` is "
            "`person`; a person the text names by a gendered role only (`speaker_gender`) "
            "counts once per quote.",
        ),
        _total("quoted_male", "Men quoted, counted as `quoted_female`."),
        _total(
            "quoted_unknown",
            "People quoted with no gender: named people the lake gives no gender (or "
            "conflicting ones), and quotes of an unnamed person whose role says none.",
        ),
        _rate("masculinity_quoted", "people quoted"),
        _total(
            "conflicting", "People named whose articles across the lake disagree on their gender."
        ),
    ),
    ("period", "precision", "outlet"),
)

PLACES_DAILY = _mart(
    "places_daily",
    "Where the news is, GDELT's way: per period, outlet and country, the articles naming "
    "a place of that country and the mentions of its places (`country` of `entities`). "
    "The row whose `country` is null counts the `LOC` mentions that are no place of a "
    "country, apart: demonyms (`Américains`), places larger than a country and words the "
    "model took for places (`la Ville`).",
    (
        *_period(),
        Column("outlet", pa.string(), "The outlet, as `sources_daily` names it.", False),
        Column(
            "country",
            pa.string(),
            "ISO 3166-1 alpha-2 code; null for the mentions that are no place of a country.",
            regex=r"^[A-Z]{2}$",
        ),
        _total("articles", "Articles with such a mention.", 1),
        _total("mentions", "Mentions (`LOC` entities).", 1),
        _total("demonyms", "Of those mentions, demonyms (null `country` only)."),
    ),
    ("period", "precision", "outlet", "country"),
)

MARTS: tuple[Table, ...] = (
    MENTIONS_DAILY,
    ATTENTION_DAILY,
    COOCCURRENCE,
    SOURCES_DAILY,
    QUALITY_DAILY,
    QUOTES_BY_SPEAKER,
    VOICES_DAILY,
    PLACES_DAILY,
)
