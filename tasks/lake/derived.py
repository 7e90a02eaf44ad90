"""What is made over every partition and rewritten by every run: the marts' state,
and the catalog and the report, whose sizes and hashes `_manifests/derived.json`
records for `status --verify`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from schemas.marts import MART_PARTITION, MART_STAGE
from tasks.lake.checks import FileChecks
from tasks.lake.files import atomic_write_text, describe_file
from tasks.lake.layout import LakeLayout
from tasks.lake.manifests import Manifests
from tasks.records import OutputFile, Status, StatusRow


class DerivedFiles:
    """The lake-wide files of one lake root: the marts, the catalog, the report."""

    def __init__(self, layout: LakeLayout, manifests: Manifests, checks: FileChecks) -> None:
        self.layout = layout
        self.manifests = manifests
        self.checks = checks

    def write_report(self, page: str) -> Path:
        """Write the HTML report, atomically, and record its hash."""
        atomic_write_text(self.layout.report_path, page)
        self.record(self.layout.report_path)
        return self.layout.report_path

    def record(self, path: Path) -> None:
        """Record the size and hash of `path`, a file of the lake rewritten from its
        marts (the catalog, the report), for `status --verify` to check."""
        recorded = {output.path: output for output in self._listed() or []}
        described = describe_file(self.layout.root, path.relative_to(self.layout.root))
        recorded[described.path] = described
        listed = [dataclasses.asdict(recorded[name]) for name in sorted(recorded)]
        atomic_write_text(self.layout.derived_record_path, json.dumps(listed, indent=1))

    def intact(self, path: Path) -> bool:
        """Whether `path` is recorded, and there, of the size recorded."""
        relative = path.relative_to(self.layout.root).as_posix()
        recorded = [output for output in self._listed() or [] if output.path == relative]
        return bool(recorded) and not self.checks.files(recorded)

    def _listed(self) -> list[OutputFile] | None:
        """The recorded derived files; None when the record cannot be read."""
        try:
            text = self.layout.derived_record_path.read_text(encoding="utf-8")
            return [OutputFile(**item) for item in json.loads(text)]
        except FileNotFoundError:  # never written (a lake of an older depeche)
            return []
        except (ValueError, TypeError):
            return None

    def problems(self, *, deep: bool = False, remembered: bool = False) -> list[str]:
        """What is wrong with the recorded catalog and report (and their record)."""
        derived = self._listed()
        if derived is None:
            return [f"{self.layout.derived_record_path} is damaged"]
        return self.checks.files(derived, deep=deep, remembered=remembered)

    def status(self, *, deep: bool = False) -> list[StatusRow]:
        """The rows of `status` for what is made over every partition: the marts (and
        their checks), the catalog and the report. A damaged one is redone by the
        next run (or `rerun --failed`)."""
        rows = self._marts_status(deep=deep)
        derived = self._listed()
        if derived is None:
            problem = f"{self.layout.derived_record_path} is damaged; the next run rewrites it"
            damaged = StatusRow(MART_PARTITION, "catalog", Status.DAMAGED, problem=problem)
            return [*rows, damaged]
        for output in derived:  # a row each, named by its path
            problems = self.checks.files([output], deep=deep)
            if problems:
                problem = f"damaged: {problems[0]}; the next run rewrites it"
                rows.append(StatusRow(MART_PARTITION, output.path, Status.DAMAGED, problem=problem))
            else:
                rows.append(StatusRow(MART_PARTITION, output.path, Status.COMMITTED))
        return rows

    def _marts_status(self, *, deep: bool) -> list[StatusRow]:
        """The marts' row of `status`: none when they were never made."""
        manifest = self.manifests.read_marts()
        path = self.layout.marts_manifest_path
        if manifest is None and path.exists():
            problem = f"{path} is damaged; the next run redoes the marts"
            return [StatusRow(MART_PARTITION, MART_STAGE, Status.DAMAGED, problem=problem)]
        if manifest is None:
            return []
        problems = self.checks.verify(manifest, deep=deep) if manifest.status.ok else []
        return [
            StatusRow(
                MART_PARTITION,
                MART_STAGE,
                Status.DAMAGED if problems else manifest.status,
                rows_in=manifest.rows_in,
                rows_out=manifest.rows_out,
                when=manifest.finished_at,
                problem="damaged: " + "; ".join(problems) if problems else manifest.error,
            )
        ]
