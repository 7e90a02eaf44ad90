"""The marts' SQL (DuckDB), as data: what the marts read of each published file, the
lake-wide settlements, the working tables the marts by day read, then one query per
mart, by the mart's name.

`PROJECTIONS` read the published files of one input (a temporary view, `{view}`, with
each row's `batch` and `file`), row by row: what a file gives the marts depends on that
file alone, so a refresh reads only the files that changed and keeps the others' rows
(tasks/analytics/mart_state.py keeps them in tables named like the inputs:
`documents`, `entities`, `quotes`, `quarantine`, `checks`). Their placeholders are
filled from `NEWER_COLUMNS` for the files read. Each article has a `segment`, the
month of its period: the marts by day are recomputed a segment at a time.

A refresh settles the lake-wide names and genders (`SETTLEMENTS`), then, over the
segments to recompute (a table `segments`), makes the `WORKING_TABLES` in order; each
query of `DAILY_QUERIES` gives its mart's rows in those segments, `PARTIALS` the
all-time marts' sums in them, and `ALL_TIME` the all-time marts from every segment's
sums (and `quality_daily` from the gates' rows and the `gate_days` table: stage,
batch, day).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.marts import CO_LABELS


@dataclass(frozen=True)
class Newer:
    """A column the files of a lake made by an older depeche lack: the SQL that reads
    it from `view` where the files have it, and what stands for it where they do not."""

    view: str
    column: str
    expression: str
    fallback: str = "NULL"


NEWER_COLUMNS = {
    # documents name their outlet (the clean table's `outlet`); those of a lake made
    # before it are counted by agency, then host
    "stated": Newer("documents", "outlet", "nullif(trim(outlet), '')"),
    "story": Newer("documents", "story_id", "story_id", "doc_id"),
    # entities of a lake made before `canonical` count by their normalized name
    "name": Newer("entities", "canonical", "coalesce(canonical, normalized)", "normalized"),
    "gender": Newer("entities", "gender", "gender"),
    "country": Newer("entities", "country", "country"),
    "place_kind": Newer("entities", "place_kind", "place_kind"),
    "speaker_gender": Newer("quotes", "speaker_gender", "speaker_gender"),
}
"""The placeholders of `PROJECTIONS`, by name."""

DOCUMENT_ROWS = r"""
    SELECT
        file,
        doc_id,
        published_date,
        CASE
            WHEN published_date IS NULL THEN NULL
            WHEN date_precision = 'month' THEN date_trunc('month', published_date)
            WHEN date_precision = 'year' THEN date_trunc('year', published_date)
            ELSE published_date
        END::DATE AS period,
        CASE
            WHEN published_date IS NULL THEN 'undated'
            ELSE coalesce(date_precision, 'day')
        END AS precision,
        coalesce(
            {stated},
            nullif(trim(agency), ''),
            nullif(regexp_extract(url, '^[a-zA-Z]+://(?:www\.)?([^/:?#]+)', 1), ''),
            'unknown'
        ) AS outlet,
        nullif(lower(regexp_extract(url, '^[a-zA-Z]+://(?:www\.)?([^/?#]+)', 1)), '')
            AS host,
        coalesce({story}, doc_id) AS story,
        len(regexp_split_to_array(trim(text), '\s+'))
            * (length(trim(text)) > 0)::INT AS words
    FROM {view}
"""
"""One row per published article: its period and precision, outlet (before
its host's settlement), host, story and words."""

ENTITY_ROWS = """
    SELECT file, doc_id, label, {name}::VARCHAR AS name, {gender}::VARCHAR AS gender,
           {country}::VARCHAR AS country, {place_kind}::VARCHAR AS place_kind
    FROM {view}
"""
"""One row per entity mention, under the name it counts by."""

QUOTE_ROWS = """
    SELECT file, doc_id, quote_id, speaker_canonical, speaker_kind,
           {speaker_gender}::VARCHAR AS speaker_gender
    FROM {view}
"""

QUARANTINED = """
    SELECT file, stage, batch, reason, count(*) AS quarantined FROM {view} GROUP BY ALL
"""
"""A file's quarantined rows, counted by reason."""

GATES = """
    SELECT file, stage, batch, bool_and(success) AS passed FROM {view} GROUP BY ALL
"""
"""Whether each gate a file of checks records passed (every check of it)."""

SEGMENT = "CASE WHEN period IS NULL THEN 'undated' ELSE strftime(period, '%Y-%m') END"
"""The segment of a row with a `period`: its month, `YYYY-MM` (a year's period is its
January), or `undated`."""

PROJECTIONS = {
    "documents": f"SELECT *, {SEGMENT} AS segment FROM ({DOCUMENT_ROWS})",
    "entities": ENTITY_ROWS,
    "quotes": QUOTE_ROWS,
    "quarantine": QUARANTINED,
    "checks": GATES,
}
"""What the marts read of the files of each input, by the input's name."""

SEGMENTS_OF_FILES = {
    "documents": "SELECT DISTINCT segment FROM documents WHERE file IN (FROM listed)",
    "entities": """
        SELECT DISTINCT d.segment FROM entities e JOIN documents d USING (doc_id)
        WHERE e.file IN (FROM listed)
    """,
    "quotes": """
        SELECT DISTINCT d.segment FROM quotes q JOIN documents d USING (doc_id)
        WHERE q.file IN (FROM listed)
    """,
}
"""The segments of the articles whose rows come from the files `listed`, by input."""

EVERY_SEGMENT = "SELECT DISTINCT segment FROM documents"


@dataclass(frozen=True)
class Settlement:
    """A lake-wide table the marts by day read: how it is settled from every row,
    its key, and the segments whose counts change with the keys `changed`."""

    sql: str
    key: str
    moves: str


SETTLEMENTS = {
    # an article counted under its host (its page names no outlet) counts under the
    # name the other articles of its host state, when they all state one: a site's
    # pages that lack an og:site_name are that site's; a host whose pages state
    # several names (a group's shared domain) leaves them under the host
    "settled_hosts": Settlement(
        sql="""
            SELECT host, min(outlet) AS name FROM documents
            WHERE host IS NOT NULL AND outlet <> host
            GROUP BY host HAVING count(DISTINCT outlet) = 1
        """,
        key="host",
        moves="""
            SELECT DISTINCT segment FROM documents
            WHERE outlet = host AND host IN (SELECT host FROM changed)
        """,
    ),
    # one gender per person across the lake: the gender their articles give them,
    # unless two articles disagree (then unknown, and counted as conflicting)
    "settled_genders": Settlement(
        sql="""
            SELECT e.name,
                   CASE WHEN count(DISTINCT e.gender) = 1 THEN any_value(e.gender)
                        ELSE 'unknown' END AS gender,
                   count(DISTINCT e.gender) > 1 AS conflicting
            FROM entities e JOIN documents d USING (doc_id)
            WHERE e.gender IN ('female', 'male')
            GROUP BY e.name
        """,
        key="name",
        moves="""
            SELECT DISTINCT d.segment FROM entities e JOIN documents d USING (doc_id)
            WHERE e.name IN (SELECT name FROM changed)
            UNION
            SELECT DISTINCT d.segment FROM quotes q JOIN documents d USING (doc_id)
            WHERE q.speaker_canonical IN (SELECT name FROM changed)
        """,
    ),
}
"""The lake-wide settlements, by the state table that keeps the last one."""

STATE_TABLES = {
    "settled_hosts": "host VARCHAR, name VARCHAR",
    "settled_genders": "name VARCHAR, gender VARCHAR, conflicting BOOLEAN",
    "pairs": (
        "segment VARCHAR, label_a VARCHAR, name_a VARCHAR, label_b VARCHAR, name_b VARCHAR, "
        "articles BIGINT, first_date DATE, last_date DATE"
    ),
    "speaker_counts": (
        "segment VARCHAR, speaker VARCHAR, outlet VARCHAR, quotes BIGINT, articles BIGINT, "
        "first_date DATE, last_date DATE"
    ),
    "speaker_kinds": "segment VARCHAR, speaker VARCHAR, speaker_kind VARCHAR, n BIGINT",
    "pair_totals": (
        "label_a VARCHAR, name_a VARCHAR, label_b VARCHAR, name_b VARCHAR, articles BIGINT, "
        "first_date DATE, last_date DATE"
    ),
}
"""The state's tables besides the inputs': the settlements and the partial sums."""

DOCS = """
    CREATE OR REPLACE TEMP TABLE docs AS
    SELECT d.* EXCLUDE (file, outlet),
           CASE WHEN d.outlet = d.host THEN coalesce(h.name, d.outlet)
                ELSE d.outlet END AS outlet
    FROM documents d LEFT JOIN settled_hosts h ON h.host = d.host
    WHERE d.segment IN (SELECT segment FROM segments)
"""
"""The published articles of the segments recomputed, their outlets settled."""

MENTIONS = """
    CREATE OR REPLACE TEMP TABLE mentions AS
    SELECT e.doc_id, e.label, e.name, d.period, d.precision, d.outlet,
           d.published_date, e.gender, e.country, e.place_kind, d.segment
    FROM entities e JOIN docs d USING (doc_id)
"""
"""One row per entity mention, with its article's period and outlet."""

PERSON_GENDERS = "CREATE OR REPLACE TEMP VIEW person_genders AS FROM settled_genders"

SPEAKERS = """
    CREATE OR REPLACE TEMP TABLE speakers AS
    SELECT DISTINCT doc_id, coalesce(speaker_canonical, '#' || quote_id) AS speaker,
           speaker_canonical, speaker_gender AS gender
    FROM quotes WHERE speaker_kind = 'person' AND doc_id IN (SELECT doc_id FROM docs)
"""
"""The people quoted in each article, once each; a speaker the text does not name
counts per quote."""

WORKING_TABLES = (DOCS, MENTIONS, PERSON_GENDERS, SPEAKERS)
"""The working tables, in the order they are made."""

MENTIONS_DAILY = """
    SELECT period, precision, label, name, count(*) AS mentions,
           count(DISTINCT doc_id) AS articles, count(DISTINCT outlet) AS outlets
    FROM mentions GROUP BY ALL
    ORDER BY period NULLS LAST, precision, label, articles DESC, name
"""

ATTENTION_DAILY = """
    WITH per_period AS (
        SELECT period, precision, count(*) AS period_articles FROM docs GROUP BY ALL
    ), named AS (
        SELECT period, precision, label, name, count(DISTINCT doc_id) AS articles
        FROM mentions GROUP BY ALL
    )
    SELECT n.period, n.precision, n.label, n.name, n.articles, p.period_articles,
           n.articles / p.period_articles AS share
    FROM named n JOIN per_period p
      ON n.period IS NOT DISTINCT FROM p.period AND n.precision = p.precision
    ORDER BY n.period NULLS LAST, n.precision, n.label, share DESC, n.name
"""

PAIRS = f"""
    WITH named AS (
        SELECT DISTINCT segment, doc_id, label, name, published_date FROM mentions
        WHERE label IN ({", ".join(f"'{label}'" for label in CO_LABELS)})
    )
    SELECT a.segment, a.label AS label_a, a.name AS name_a, b.label AS label_b,
           b.name AS name_b, count(*) AS articles,
           min(a.published_date) AS first_date, max(a.published_date) AS last_date
    FROM named a JOIN named b
      ON a.doc_id = b.doc_id
     AND (a.label < b.label OR (a.label = b.label AND a.name < b.name))
    GROUP BY ALL
"""
"""The pairs of names each segment's articles name together."""

PAIR = "label_a, name_a, label_b, name_b"

TOUCHED_PAIRS = f"""
    {{verb}} SELECT DISTINCT {PAIR} FROM pairs
    WHERE segment IN (SELECT segment FROM segments)
"""
"""The pairs of the segments recomputed (`{verb}`: into a table `touched`), taken
before their sums are made again and after."""

PAIR_TOTALS = (
    f"""
    DELETE FROM pair_totals t USING touched p
    WHERE {" AND ".join(f"t.{c} = p.{c}" for c in PAIR.split(", "))}
    """,
    f"""
    INSERT INTO pair_totals
    SELECT {PAIR}, sum(articles)::BIGINT AS articles,
           min(first_date) AS first_date, max(last_date) AS last_date
    FROM pairs SEMI JOIN (SELECT DISTINCT * FROM touched) USING ({PAIR})
    GROUP BY ALL
    """,
)
"""Each pair's all-time count, kept in the state: summed again over every segment for
the pairs touched only (a month's pairs are a small part of the lake's)."""

COOCCURRENCE = f"""
    SELECT {PAIR}, articles, first_date, last_date FROM pair_totals
    ORDER BY articles DESC, label_a, name_a, label_b, name_b
"""

SOURCES_DAILY = """
    SELECT period, precision, outlet, count(*) AS articles,
           count(DISTINCT story) AS stories, coalesce(sum(words), 0) AS words
    FROM docs GROUP BY ALL
    ORDER BY period NULLS LAST, precision, outlet
"""

QUALITY_DAILY = """
    WITH gates AS (
        SELECT stage, batch, bool_and(passed) AS passed FROM checks GROUP BY ALL
    )
    SELECT g.day, q.stage, q.reason, sum(q.quarantined)::BIGINT AS quarantined,
           0 AS gates_passed, 0 AS gates_failed
    FROM quarantine q JOIN gate_days g ON g.stage = q.stage AND g.batch = q.batch
    GROUP BY ALL
    UNION ALL
    SELECT d.day, g.stage, NULL, 0,
           count(*) FILTER (g.passed), count(*) FILTER (NOT g.passed)
    FROM gates g JOIN gate_days d ON d.stage = g.stage AND d.batch = g.batch
    GROUP BY ALL
    ORDER BY 1, 2, 3 NULLS FIRST
"""

SPEAKER_COUNTS = """
    SELECT d.segment, q.speaker_canonical AS speaker, d.outlet,
           count(DISTINCT (q.doc_id, q.quote_id)) AS quotes,
           count(DISTINCT q.doc_id) AS articles,
           min(d.published_date) AS first_date, max(d.published_date) AS last_date
    FROM quotes q JOIN docs d USING (doc_id)
    WHERE q.speaker_canonical IS NOT NULL
    GROUP BY ALL
"""
"""Each speaker's quotes and articles in each segment, by outlet: an article is of one
segment and one outlet, so the all-time counts are their sums."""

SPEAKER_KINDS = """
    SELECT d.segment, q.speaker_canonical AS speaker, q.speaker_kind, count(*) AS n
    FROM quotes q JOIN docs d USING (doc_id)
    WHERE q.speaker_canonical IS NOT NULL
    GROUP BY ALL
"""
"""How often each segment's quotes give a speaker each kind."""

QUOTES_BY_SPEAKER = """
    WITH counted AS (
        SELECT speaker, speaker_kind, sum(n) AS n FROM speaker_kinds GROUP BY ALL
    ), kinds AS (
        SELECT speaker, first(speaker_kind ORDER BY n DESC, speaker_kind) AS kind
        FROM counted GROUP BY speaker
    )
    SELECT s.speaker, sum(s.quotes)::BIGINT AS quotes, sum(s.articles)::BIGINT AS articles,
           count(DISTINCT s.outlet) AS outlets,
           min(s.first_date) AS first_date, max(s.last_date) AS last_date,
           k.kind AS speaker_kind
    FROM speaker_counts s JOIN kinds k USING (speaker)
    GROUP BY ALL
    ORDER BY quotes DESC, speaker
"""

VOICES_DAILY = """
    WITH named AS (
        SELECT DISTINCT m.doc_id, m.period, m.precision, m.outlet, m.name,
               coalesce(p.gender, 'unknown') AS gender,
               coalesce(p.conflicting, false) AS conflicting
        FROM mentions m LEFT JOIN person_genders p USING (name)
        WHERE m.gender IS NOT NULL OR m.label = 'PER'  -- a person, however the model labels it
    ), quoted AS (
        SELECT d.period, d.precision, d.outlet,
               coalesce(p.gender, s.gender, 'unknown') AS gender
        FROM speakers s JOIN docs d USING (doc_id)
        LEFT JOIN person_genders p ON p.name = s.speaker_canonical
    ), counted AS (
        SELECT period, precision, outlet,
               count(*) FILTER (gender = 'female') AS mentioned_female,
               count(*) FILTER (gender = 'male') AS mentioned_male,
               count(*) FILTER (gender = 'unknown') AS mentioned_unknown,
               0 AS quoted_female, 0 AS quoted_male, 0 AS quoted_unknown,
               count(DISTINCT name) FILTER (conflicting) AS conflicting
        FROM named GROUP BY ALL
        UNION ALL
        SELECT period, precision, outlet, 0, 0, 0,
               count(*) FILTER (gender = 'female'), count(*) FILTER (gender = 'male'),
               count(*) FILTER (gender NOT IN ('female', 'male')), 0
        FROM quoted GROUP BY ALL
    )
    SELECT period, precision, outlet,
           sum(mentioned_female) AS mentioned_female, sum(mentioned_male) AS mentioned_male,
           sum(mentioned_unknown) AS mentioned_unknown,
           sum(mentioned_male) / nullif(sum(mentioned_male) + sum(mentioned_female), 0)
               AS masculinity_mentioned,
           sum(quoted_female) AS quoted_female, sum(quoted_male) AS quoted_male,
           sum(quoted_unknown) AS quoted_unknown,
           sum(quoted_male) / nullif(sum(quoted_male) + sum(quoted_female), 0)
               AS masculinity_quoted,
           sum(conflicting) AS conflicting
    FROM counted GROUP BY ALL
    ORDER BY period NULLS LAST, precision, outlet
"""

PLACES_DAILY = """
    SELECT period, precision, outlet, country, count(DISTINCT doc_id) AS articles,
           count(*) AS mentions, count(*) FILTER (place_kind = 'demonym') AS demonyms
    FROM mentions WHERE label = 'LOC'
    GROUP BY ALL
    ORDER BY period NULLS LAST, precision, outlet, country NULLS LAST
"""

DAILY_QUERIES = {
    "mentions_daily": MENTIONS_DAILY,
    "attention_daily": ATTENTION_DAILY,
    "sources_daily": SOURCES_DAILY,
    "voices_daily": VOICES_DAILY,
    "places_daily": PLACES_DAILY,
}
"""The rows of each mart by day in the segments recomputed, by the mart's name."""

PARTIALS = {
    "pairs": PAIRS,
    "speaker_counts": SPEAKER_COUNTS,
    "speaker_kinds": SPEAKER_KINDS,
}
"""The all-time marts' sums in the segments recomputed, by the state table kept."""

ALL_TIME = {
    "cooccurrence": COOCCURRENCE,
    "quality_daily": QUALITY_DAILY,
    "quotes_by_speaker": QUOTES_BY_SPEAKER,
}
"""The rows of each mart over the whole lake, by the mart's name (schemas/marts.py
declares them all)."""
