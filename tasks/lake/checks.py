"""Whether the files a manifest recorded are still what was committed: there, of
their size, and (deep) of their content."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tasks.lake.files import sha256_file
from tasks.lake.gx_results import GX_ENTRY, GxResults
from tasks.lake.known_hashes import KnownHashes
from tasks.records import Manifest, OutputFile


class FileChecks:
    """The checks of one lake root's recorded files."""

    def __init__(self, root: Path, gx: GxResults) -> None:
        self.root = root
        self.gx = gx
        self._known_hashes: KnownHashes | None = None  # read when first asked

    def verify(
        self, manifest: Manifest, *, deep: bool = False, remembered: bool = False
    ) -> list[str]:
        """What is wrong with the files a stage-partition committed: missing, or of
        another size; with `deep`, also changed (content hash). Empty when intact."""
        if not manifest.outputs:  # an older depeche recorded no files
            return ["its files were not recorded (written by an older depeche)"]
        files = [*manifest.outputs, *manifest.reports]
        return self.files(files, deep=deep, remembered=remembered)

    def files(
        self, recorded: list[OutputFile], *, deep: bool = False, remembered: bool = False
    ) -> list[str]:
        """What is wrong with `recorded` files: missing, or of another size (or not a
        file); with `deep`, also changed (content hash). With `remembered` too, a file
        whose hash matched before and whose identity is unchanged since is not read
        again (see tasks/lake/known_hashes.py). Empty when all are intact."""
        problems = []
        for output in recorded:
            if GX_ENTRY in output.path:
                problems += self.gx.check_entry(output, deep=deep)
            elif problem := self._file_problem(output, deep=deep, remembered=remembered):
                problems.append(problem)
        if remembered and self._known_hashes is not None:
            self._known_hashes.save()
        return problems

    def _file_problem(self, output: OutputFile, *, deep: bool, remembered: bool) -> str | None:
        # one stat a file, by its path as text: a status of thousands of
        # partitions checks tens of thousands of files
        path = os.path.join(self.root, output.path)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return f"{output.path} is missing"
        if not stat.S_ISREG(info.st_mode):
            return f"{output.path} is not a file"
        if (size := info.st_size) != output.size:
            return f"{output.path} has {size} bytes where {output.size} were committed"
        if deep and not self._has_content(output, path, remembered=remembered):
            return f"{output.path} changed since it was committed"
        return None

    def _has_content(self, output: OutputFile, text: str, *, remembered: bool) -> bool:
        path = Path(text)
        if not remembered:
            return sha256_file(path) == output.sha256
        if self._known_hashes is None:
            self._known_hashes = KnownHashes(self.root)
        return self._known_hashes.matches(output.path, path, output.sha256, sha256_file)
