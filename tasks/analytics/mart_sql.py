"""The marts' SQL (DuckDB), as data: what the marts read of each published file, the
working tables every mart reads, then one query per mart, by the mart's name.

`PROJECTIONS` read the published files of one input (a temporary view named like its
table, `documents`, `entities`, `quotes`, `quarantine`, `checks`, each with its `batch`
and its `file`), row by row: what a file gives the marts depends on that file alone,
so a refresh reads only the files that changed and carries the others' rows over.
Their placeholders are filled from `NEWER_COLUMNS` for the files read. Then, over the
projected rows of the whole lake (views named like the inputs) and the `gate_days`
table (stage, batch, day), `WORKING_TABLES` run first, in order, and each query of
`MART_QUERIES` gives its mart's rows.
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
    FROM documents
"""
"""One row per published article: its period and precision, outlet (before
ONE_NAME_PER_HOST), host, story and words."""

ENTITY_ROWS = """
    SELECT file, doc_id, label, {name}::VARCHAR AS name, {gender}::VARCHAR AS gender,
           {country}::VARCHAR AS country, {place_kind}::VARCHAR AS place_kind
    FROM entities
"""
"""One row per entity mention, under the name it counts by."""

QUOTE_ROWS = """
    SELECT file, doc_id, quote_id, speaker_canonical, speaker_kind,
           {speaker_gender}::VARCHAR AS speaker_gender
    FROM quotes
"""

QUARANTINED = """
    SELECT file, stage, batch, reason, count(*) AS quarantined FROM quarantine GROUP BY ALL
"""
"""A file's quarantined rows, counted by reason."""

GATES = """
    SELECT file, stage, batch, bool_and(success) AS passed FROM checks GROUP BY ALL
"""
"""Whether each gate a file of checks records passed (every check of it)."""

PROJECTIONS = {
    "documents": DOCUMENT_ROWS,
    "entities": ENTITY_ROWS,
    "quotes": QUOTE_ROWS,
    "quarantine": QUARANTINED,
    "checks": GATES,
}
"""What the marts read of the files of each input, by the input's view."""

DOCS = "CREATE TEMP TABLE docs AS SELECT * EXCLUDE (file) FROM documents"
"""One row per published article, its outlet settled by ONE_NAME_PER_HOST."""

ONE_NAME_PER_HOST = """
    UPDATE docs SET outlet = named.name
    FROM (
        SELECT host, min(outlet) AS name FROM docs
        WHERE host IS NOT NULL AND outlet <> host
        GROUP BY host HAVING count(DISTINCT outlet) = 1
    ) AS named
    WHERE docs.host = named.host AND docs.outlet = docs.host
"""
"""An article counted under its host (its page names no outlet) counts under the name
the other articles of its host state, when they all state one: a site's pages that
lack an og:site_name are that site's. A host whose pages state several names (a
group's shared domain) leaves them under the host."""

MENTIONS = """
    CREATE TEMP TABLE mentions AS
    SELECT e.doc_id, e.label, e.name, d.period, d.precision, d.outlet,
           d.published_date, e.gender, e.country, e.place_kind
    FROM entities e JOIN docs d USING (doc_id)
"""
"""One row per entity mention, with its article's period and outlet."""

PERSON_GENDERS = """
    CREATE TEMP TABLE person_genders AS
    SELECT name,
           CASE WHEN count(DISTINCT gender) = 1 THEN any_value(gender) ELSE 'unknown' END
               AS gender,
           count(DISTINCT gender) > 1 AS conflicting
    FROM mentions WHERE gender IN ('female', 'male')
    GROUP BY name
"""
"""One gender per person across the lake: the gender their articles give them, unless
two articles disagree (then unknown, and counted as conflicting)."""

SPEAKERS = """
    CREATE TEMP TABLE speakers AS
    SELECT DISTINCT doc_id, coalesce(speaker_canonical, '#' || quote_id) AS speaker,
           speaker_canonical, speaker_gender AS gender
    FROM quotes WHERE speaker_kind = 'person'
"""
"""The people quoted in each article, once each; a speaker the text does not name
counts per quote."""

WORKING_TABLES = (DOCS, ONE_NAME_PER_HOST, MENTIONS, PERSON_GENDERS, SPEAKERS)
"""The working tables, in the order they are made (the outlets are settled before
the mentions copy them)."""

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

COOCCURRENCE = f"""
    WITH named AS (
        SELECT DISTINCT doc_id, label, name, published_date FROM mentions
        WHERE label IN ({", ".join(f"'{label}'" for label in CO_LABELS)})
    )
    SELECT a.label AS label_a, a.name AS name_a, b.label AS label_b,
           b.name AS name_b, count(*) AS articles,
           min(a.published_date) AS first_date, max(a.published_date) AS last_date
    FROM named a JOIN named b
      ON a.doc_id = b.doc_id
     AND (a.label < b.label OR (a.label = b.label AND a.name < b.name))
    GROUP BY ALL
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

QUOTES_BY_SPEAKER = """
    WITH counted AS (
        SELECT speaker_canonical AS speaker, speaker_kind, count(*) AS n
        FROM quotes WHERE speaker_canonical IS NOT NULL GROUP BY ALL
    ), kinds AS (
        SELECT speaker, first(speaker_kind ORDER BY n DESC, speaker_kind) AS kind
        FROM counted GROUP BY speaker
    )
    SELECT k.speaker, count(DISTINCT (q.doc_id, q.quote_id)) AS quotes,
           count(DISTINCT q.doc_id) AS articles,
           count(DISTINCT d.outlet) AS outlets,
           min(d.published_date) AS first_date, max(d.published_date) AS last_date,
           k.kind AS speaker_kind
    FROM quotes q JOIN docs d USING (doc_id)
    JOIN kinds k ON k.speaker = q.speaker_canonical
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

MART_QUERIES = {
    "mentions_daily": MENTIONS_DAILY,
    "attention_daily": ATTENTION_DAILY,
    "cooccurrence": COOCCURRENCE,
    "sources_daily": SOURCES_DAILY,
    "quality_daily": QUALITY_DAILY,
    "quotes_by_speaker": QUOTES_BY_SPEAKER,
    "voices_daily": VOICES_DAILY,
    "places_daily": PLACES_DAILY,
}
"""Each mart's rows, by the mart's name (schemas/marts.py declares them)."""
