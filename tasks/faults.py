"""Fault injection for the crash tests, in one place.

The crash tests (tests/flows/test_crash.py) kill a real `depeche` process at exact
moments to show that the lake never holds half a stage. Production code marks
those moments with `fault_point(name)`, which does nothing unless the environment
asks for it: with DEPECHE_PAUSE_AT naming the point, the process writes the point's
name to DEPECHE_PAUSE_FILE and sleeps (DEPECHE_PAUSE_SECONDS, default 600) waiting
to be killed (or signalled: tests/flows/test_signals.py). With DEPECHE_FAIL_AT naming
the point, it raises OSError(ENOSPC) there instead, as a full disk would.

The points:

    produce:<stage>   the stage-partition is marked running; nothing is written yet
    write:<table>     a Parquet file of <table> is half written in staging (no footer)
    commit:<stage>    some of the stage's folders are renamed into place, not all;
                      the manifest is not written yet
    annotate:worker   a forked annotate worker is about to annotate its share
    index:write       a folder's state index is written to its temporary file, not
                      yet renamed into place
    compact:staged    a compaction's merged files are written in staging
    compact:place     some merged folders are in place, not all; no manifest yet
    compact:switch    the merged files and manifests are in place; the merged
                      partition's record (the switch) is not written yet
    compact:switched  the switch is written; the old partitions are not collected
    compact:collect   some folders of an old partition are collected, not all
    marts:made        the marts are committed; their state's update is not yet
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path


def fault_point(name: str) -> None:
    """Fail here as on a full disk when DEPECHE_FAIL_AT names this point; pause here
    for the crash tests when DEPECHE_PAUSE_AT names it."""
    failing = os.environ.get("DEPECHE_FAIL_AT")
    if failing and name in failing.split(","):
        raise OSError(errno.ENOSPC, "No space left on device")
    wanted = os.environ.get("DEPECHE_PAUSE_AT")
    if not wanted or name not in wanted.split(","):
        return
    marker = Path(os.environ["DEPECHE_PAUSE_FILE"])
    # written whole, then renamed: a test that sees the file reads the point's name
    partial = marker.with_name(f".{marker.name}.{os.getpid()}")
    partial.write_text(name, encoding="utf-8")
    os.replace(partial, marker)
    time.sleep(float(os.environ.get("DEPECHE_PAUSE_SECONDS", "600")))
