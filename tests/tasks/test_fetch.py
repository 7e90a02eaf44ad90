"""Fetch: reading local files into raw items, and quarantining what cannot be read."""

from __future__ import annotations

import codecs
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas import QUARANTINE, RAW, Rejected
from tasks.errors import SourceNotFound
from tasks.planning import plan_partitions
from tasks.sources.files import discover, fetch_files, read_items
from tasks.sources.rows import item_id
from tasks.text.charsets import decode

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
FRENCH = "L’équipe de France a gagné à Marseille, a déclaré le sélectionneur."


def fetch(paths: list[Path], max_bytes: int = 1_000_000):
    return fetch_files(paths, max_bytes=max_bytes, fetched_at=WHEN)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (FRENCH.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + FRENCH.encode("utf-8"), "utf-8-sig"),
        (FRENCH.encode("utf-16"), "utf-16"),
        (FRENCH.encode("utf-32"), "utf-32"),
        ("Été à Noël, déjà".encode("latin-1"), "cp1252"),
        ("L’été « déjà »".encode("cp1252"), "cp1252"),
    ],
)
def test_decode_finds_the_encoding(data: bytes, encoding: str) -> None:
    decoded = decode(data, "wire")
    assert decoded.encoding == encoding
    assert decoded.text.lstrip("\ufeff") in (FRENCH, "Été à Noël, déjà", "L’été « déjà »")


def test_decode_uses_the_charset_an_html_page_declares() -> None:
    page = '<html><head><meta charset="iso-8859-15"></head><body>€uro à Paris</body></html>'
    decoded = decode(page.encode("iso-8859-15"), "html")
    assert decoded.encoding == "iso-8859-15"
    assert "€uro à Paris" in decoded.text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \n\t\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"abc" + bytes(range(1, 9)) * 5, "binary"),
        (codecs.BOM_UTF8 + b"\xff\xfe\xfa", "undecodable"),
    ],
)
def test_decode_rejects_what_is_not_text(data: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as rejected:
        decode(data, "wire")
    assert rejected.value.reason == reason
    assert rejected.value.detail


def test_every_file_and_line_becomes_an_item_or_a_quarantine_row(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(FRENCH, encoding="utf-8")
    (tmp_path / "b.html").write_text(f"<html><body><p>{FRENCH}</p></body></html>")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "big.txt").write_text(FRENCH * 100)
    lines = [
        json.dumps({"text": FRENCH, "title": "Titre"}, ensure_ascii=False),
        "",
        '{"text": "coupé',
        json.dumps(["not", "an", "object"]),
        json.dumps({"title": "sans texte"}),
        json.dumps({"text": "   "}),
    ]
    (tmp_path / "c.jsonl").write_text("\n".join(lines), encoding="utf-8")

    result = fetch(sorted(tmp_path.iterdir()), max_bytes=len(FRENCH.encode()) * 50)

    assert result.raw.schema.equals(RAW.schema)
    assert result.quarantine.schema.equals(QUARANTINE.schema)
    assert result.rows_in == result.raw.num_rows + result.quarantine.num_rows
    items = result.raw.to_pylist()
    assert sorted((Path(i["source_path"]).name, i["line"], i["format"]) for i in items) == [
        ("a.txt", None, "wire"),
        ("b.html", None, "html"),
        ("c.jsonl", 1, "jsonl"),
    ]
    rejected = {
        (Path(q["source_path"]).name, q["line"]): q["reason"] for q in result.quarantine.to_pylist()
    }
    assert rejected == {
        ("big.txt", None): "too_large",
        ("c.jsonl", 3): "malformed_json",
        ("c.jsonl", 4): "malformed_json",
        ("c.jsonl", 5): "missing_text",
        ("c.jsonl", 6): "missing_text",
        ("empty.txt", None): "empty",
        ("notes.pdf", None): "unsupported_format",
    }
    assert all(q["stage"] == "fetch" and q["detail"] for q in result.quarantine.to_pylist())


# characters `str.splitlines` breaks a line on that JSON Lines does not
INSIDE_A_LINE = ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_json_lines_end_at_newlines_only(tmp_path: Path, newline: str) -> None:
    records = [
        {"text": f"{FRENCH}{separator}Deuxième phrase {n}.", "title": f"Titre{separator}{n}"}
        for n, separator in enumerate(INSIDE_A_LINE)
    ]
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    lines.insert(3, "")  # a blank line still counts
    lines.append('{"text": "coupé')
    lines.append(json.dumps({"text": f"{FRENCH} Dernière."}, ensure_ascii=False))
    (tmp_path / "a.jsonl").write_bytes(newline.join(lines).encode() + newline.encode())

    result = fetch([tmp_path / "a.jsonl"])

    raw = result.raw.to_pylist()
    by_line = {item["line"]: json.loads(item["payload"]) for item in raw}
    expected = {n + (n >= 3) + 1: record for n, record in enumerate(records)}
    assert by_line == {**expected, len(lines): {"text": f"{FRENCH} Dernière."}}
    [broken] = result.quarantine.to_pylist()
    assert (broken["line"], broken["reason"]) == (len(lines) - 1, "malformed_json")
    assert broken["detail"].startswith(f"line {len(lines) - 1}:")


def test_a_json_line_with_raw_control_characters_in_a_string_is_read(tmp_path: Path) -> None:
    line = '{"text": "' + FRENCH + '\x0b\x0cSuite."}'
    (tmp_path / "a.jsonl").write_text(line + "\n", encoding="utf-8")
    [item] = fetch([tmp_path / "a.jsonl"]).raw.to_pylist()
    assert json.loads(item["payload"], strict=False)["text"] == FRENCH + "\x0b\x0cSuite."


def test_double_encoded_text_is_repaired_and_counted_per_item(tmp_path: Path) -> None:
    garbled = FRENCH.encode().decode("cp1252")
    (tmp_path / "a.txt").write_text(garbled, encoding="utf-8")
    lines = [json.dumps({"text": garbled}, ensure_ascii=False), json.dumps({"text": FRENCH})]
    (tmp_path / "b.jsonl").write_text("\n".join(lines), encoding="utf-8")
    items = {
        (Path(i["source_path"]).name, i["line"]): i
        for i in fetch(sorted(tmp_path.iterdir())).raw.to_pylist()
    }
    accents = sum(not ch.isascii() for ch in FRENCH)
    assert {key: item["repairs"] for key, item in items.items()} == {
        ("a.txt", None): accents,
        ("b.jsonl", 1): accents,
        ("b.jsonl", 2): 0,
    }
    assert items[("a.txt", None)]["payload"] == FRENCH
    assert json.loads(items[("b.jsonl", 1)]["payload"])["text"] == FRENCH


def test_raw_items_keep_their_payload_and_origin(tmp_path: Path) -> None:
    data = FRENCH.encode("utf-16")
    (tmp_path / "a.txt").write_bytes(data)
    [item] = fetch([tmp_path / "a.txt"]).raw.to_pylist()
    assert item["payload"] == FRENCH
    assert item["encoding"] == "utf-16"
    assert item["byte_size"] == len(data)
    assert item["fetched_at"] == WHEN
    assert item["item_id"] == item_id((tmp_path / "a.txt").as_posix(), None)
    assert len(item["content_sha256"]) == 64


def test_quarantine_keeps_the_original_bytes_or_line(tmp_path: Path) -> None:
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\x00\x00binary")
    (tmp_path / "c.jsonl").write_text('{"text": "coupé\n', encoding="utf-8")
    rows = {
        Path(q["source_path"]).name: q
        for q in fetch(sorted(tmp_path.iterdir())).quarantine.to_pylist()
    }
    assert rows["image.txt"]["payload"] == b"\x89PNG\x00\x00binary"
    assert rows["c.jsonl"]["record"] == '{"text": "coupé'


def test_discover_takes_folders_files_and_globs(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text(FRENCH)
    (tmp_path / "b.html").write_text(FRENCH)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.txt").write_text(FRENCH)
    assert [p.name for p in discover([str(tmp_path)])] == ["b.html", "a.txt"]
    assert discover([str(tmp_path / "sub" / ".." / "b.html")]) == discover(
        [str(tmp_path / "b.html")]
    )
    assert [p.name for p in discover([str(tmp_path / "**" / "*.txt")])] == ["a.txt"]
    assert [p.name for p in discover([str(tmp_path / "b.html")])] == ["b.html"]
    with pytest.raises(SourceNotFound, match="nowhere"):
        discover([str(tmp_path / "nowhere")])


def test_planning_makes_a_partition_of_the_new_items_only(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(FRENCH)
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": FRENCH + " Un."}) + "\n")
    first = plan_partitions([str(tmp_path)], known=set(), max_bytes=10_000, first_seq=1)
    [spec] = first.partitions
    assert (first.counts.found, first.counts.new, spec.seq) == (2, 2, 1)
    assert spec.partition.startswith(tmp_path.name.lower().replace("_", "-")[:20])
    again = plan_partitions([str(tmp_path)], known=set(), max_bytes=10_000, first_seq=1)
    assert again.partitions == first.partitions  # the same items make the same partition

    known = set(spec.items)
    assert (
        plan_partitions([str(tmp_path)], known=known, max_bytes=10_000, first_seq=2).partitions
        == []
    )
    with (tmp_path / "b.jsonl").open("a") as handle:  # a line added to an export
        handle.write(json.dumps({"text": FRENCH + " Deux."}) + "\n")
    (tmp_path / "c.txt").write_text(FRENCH + " Trois.")
    later = plan_partitions([str(tmp_path)], known=known, max_bytes=10_000, first_seq=2)
    [new] = later.partitions
    assert sorted((Path(p).name, line) for p, line, _ in new.items) == [
        ("b.jsonl", 2),
        ("c.txt", None),
    ]
    assert new.seq == 2 and new.partition != spec.partition


def test_a_backfill_plans_one_partition_per_month_in_range(tmp_path: Path) -> None:
    for name, header in [
        ("jan.txt", "date 2020-01-15 (Paris)"),
        ("feb.txt", "date 2020-02 (Lyon)"),
        ("feb2.txt", "date 2020-02-27 (Nice)"),
        ("dec.txt", "date 2019-12-31 (Lille)"),
        ("undated.txt", ""),
    ]:
        (tmp_path / name).write_text(f"{header}\n\n{FRENCH} {name}", encoding="utf-8")
    plan = plan_partitions(
        [str(tmp_path)],
        known=set(),
        max_bytes=10_000,
        first_seq=1,
        since="2020-01",
        until="2020-02",
    )
    months = {
        spec.month: sorted(Path(p).name for p, _, _ in spec.items) for spec in plan.partitions
    }
    assert months == {"2020-01": ["jan.txt"], "2020-02": ["feb.txt", "feb2.txt"]}
    assert (plan.counts.outside_range, plan.counts.undated) == (1, 1)
    assert [spec.seq for spec in plan.partitions] == [1, 2]
    assert all("-2020-0" in spec.partition for spec in plan.partitions)


def test_items_are_keyed_by_absolute_paths_whatever_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the issue: run from another folder (as cron does), every item came in again
    source = tmp_path / "depeches"
    source.mkdir()
    (source / "a.txt").write_text(FRENCH, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    plans = []
    for folder, given in [(tmp_path, "depeches"), (elsewhere, "../depeches"), ("/", str(source))]:
        monkeypatch.chdir(folder)
        assert discover([given]) == [(source / "a.txt").resolve()]
        plans.append(plan_partitions([given], known=set(), max_bytes=10_000, first_seq=1))
    assert plans[0].partitions[0].items == plans[1].partitions[0].items
    assert plans[0].partitions[0].items == plans[2].partitions[0].items
    [(path, line, _)] = plans[0].partitions[0].items
    assert path == (source / "a.txt").resolve().as_posix() and line is None
    [row] = fetch(discover([str(source)])).raw.to_pylist()
    assert row["source_path"] == path and row["item_id"] == item_id(path, None)


def test_discover_skips_the_lake_inside_a_source(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(FRENCH)
    (tmp_path / "lake" / "raw").mkdir(parents=True)
    (tmp_path / "lake" / "_partitions.txt").write_text(FRENCH)
    (tmp_path / "lake" / "raw" / "x.txt").write_text(FRENCH)
    assert [p.name for p in discover([str(tmp_path)], exclude=tmp_path / "lake")] == ["a.txt"]
    assert len(discover([str(tmp_path)])) == 3
    glob = str(tmp_path / "**" / "*.txt")
    assert [p.name for p in discover([glob], exclude=tmp_path / "lake" / ".")] == ["a.txt"]


def test_discover_names_each_file_by_what_it_is_through_links(tmp_path: Path) -> None:
    """A folder reached through a link, a link to a file: each file by its resolved
    path; a link to a folder is not walked into (a loop, or a lake, could be there)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "target.txt").write_text(FRENCH)
    source = tmp_path / "source"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "a.txt").write_text(FRENCH)
    (source / "linked.txt").symlink_to(elsewhere / "target.txt")
    (source / "folder-link").symlink_to(elsewhere, target_is_directory=True)
    (tmp_path / "via").symlink_to(source, target_is_directory=True)
    expected = sorted([(source / "sub" / "a.txt").resolve(), (elsewhere / "target.txt").resolve()])
    assert discover([str(source)]) == expected
    assert discover([str(tmp_path / "via")]) == expected
    assert discover([str(tmp_path / "via" / "linked.txt")]) == [
        (elsewhere / "target.txt").resolve()
    ]


def test_a_file_name_that_is_not_utf8_is_read_and_stored_escaped(tmp_path: Path) -> None:
    # the issue: `UnicodeEncodeError ... surrogates not allowed` took the partition down
    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.txt"))
    odd.write_text(FRENCH, encoding="utf-8")
    (tmp_path / "b.txt").write_text(FRENCH + " Deux.", encoding="utf-8")
    files = discover([str(tmp_path)])
    assert odd.resolve() in files
    [item] = read_items(odd.resolve(), 10_000)
    assert item.source_path == odd.resolve().as_posix()  # the real name, to read it again
    result = fetch(files)
    rows = {Path(r["source_path"]).name: r for r in result.raw.to_pylist()}
    assert set(rows) == {"caf\\xe9.txt", "b.txt"}
    assert rows["caf\\xe9.txt"]["item_id"] == item_id(item.source_path, None)
    assert rows["caf\\xe9.txt"]["payload"] == FRENCH
    assert rows["caf\\xe9.txt"]["source_path"].encode("utf-8")  # valid UTF-8


def test_a_quarantined_odd_name_is_stored_escaped(tmp_path: Path) -> None:
    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/notes\xff.pdf"))
    odd.write_bytes(b"%PDF-1.4")
    [row] = fetch(discover([str(tmp_path)])).quarantine.to_pylist()
    assert row["reason"] == "unsupported_format"
    assert row["source_path"].endswith("notes\\xff.pdf")


def test_fetch_streams_its_rows_and_clean_reads_them_a_row_group_at_a_time(
    tmp_path: Path, resources, monkeypatch
) -> None:
    import pyarrow.parquet as pq

    from tasks.contract import run_stage
    from tasks.lake.storage import Lake
    from tasks.planning import plan_for_lake, record_plan
    from tasks.settings import Settings
    from tasks.sources import rows
    from tasks.stages.registry import BY_NAME

    source = tmp_path / "pages"
    source.mkdir()
    for n, city in enumerate(["Brest", "Quimper", "Lorient", "Vannes", "Morlaix"]):
        text = f"{FRENCH} La mairie de {city} a présenté son budget numéro {n} jeudi soir."
        (source / f"{n}.txt").write_text(text, encoding="utf-8")
    monkeypatch.setattr(rows, "RAW_CHUNK_BYTES", 200)  # two items a row group
    lake, settings = Lake(tmp_path / "lake"), Settings()
    plan = plan_for_lake(lake, [str(source)], settings, None, None)
    record_plan(lake, plan)
    [spec] = plan.partitions
    reports = {}
    for name in ("fetch", "clean"):
        stage = BY_NAME[name]
        key = stage.key(lake, spec.partition, settings)
        reports[name] = run_stage(lake, stage, spec.partition, settings, key, resources)
    assert [(r.status, r.rows_in, r.rows_out) for r in reports.values()] == [
        ("committed", 5, 5),
        ("committed", 5, 5),
    ]
    raw_file = pq.ParquetFile(lake.committed_file(RAW, spec.partition))
    assert raw_file.num_row_groups == 3
    names = [Path(p).name for p in lake.read(RAW, spec.partition)["source_path"].to_pylist()]
    assert names == ["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]  # in the items' order
