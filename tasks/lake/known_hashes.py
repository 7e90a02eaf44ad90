"""Content hashes the lake has checked, kept under the identity of their file, so a
plain run trusts a file it already hashed instead of reading it again.

The marts, the catalog and the report are checked against their recorded content
hash by every run: hashed whole, that cost grows with the marts. Here each file
whose hash matched is remembered in `_index/hashes.json` with its identity: inode,
size, modification time and change time. The change time is the kernel's: it moves
with every write, and also when a tool sets the modification time back (`touch -d`,
`os.utime`), so a file changed in place never keeps its identity. A file whose
identity is as remembered, with the hash the lake records, is intact without being
read; any other is hashed (and remembered when it matches). `--verify` hashes every
file regardless.

The file is a cache: missing, damaged or lost in a kill, it costs one hash per file.
A file changed in the last seconds is not remembered (a clock's tick is coarse: two
writes may share one).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from pathlib import Path

from tasks.lake.index import INDEX_DIR, RECENT_NS

HASHES = "hashes.json"


def identity(path: Path) -> list[int]:
    """What changes whenever the file's content may have: inode, size, mtime, ctime."""
    info = path.stat()
    return [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


class KnownHashes:
    """The hashes one command found to match, read once and written back if grown."""

    def __init__(self, root: Path) -> None:
        self.path = root / INDEX_DIR / HASHES
        self._known: dict[str, list] | None = None
        self._changed = False

    def _entries(self) -> dict[str, list]:
        if self._known is None:
            try:
                known = json.loads(self.path.read_text(encoding="utf-8"))
                self._known = known if isinstance(known, dict) else {}
            except (OSError, ValueError):
                self._known = {}
        return self._known

    def matches(self, relative: str, path: Path, sha256: str, hash_file) -> bool:
        """Whether the file at `path` has content hash `sha256`: from its identity when
        it was hashed before and has not changed since, else by `hash_file`."""
        seen = identity(path)
        if self._entries().get(relative) == [*seen, sha256]:
            return True
        if hash_file(path) != sha256:
            return False
        now = time.time_ns()
        if now - seen[2] > RECENT_NS and now - seen[3] > RECENT_NS:
            self._entries()[relative] = [*seen, sha256]
            self._changed = True
        return True

    def save(self) -> None:
        """Write the remembered hashes back, atomically, when they grew; a lake that
        cannot be written keeps the old ones."""
        if not self._changed:
            return
        temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(self._entries(), sort_keys=True), encoding="utf-8")
            os.replace(temporary, self.path)
            self._changed = False
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
