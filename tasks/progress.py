"""How far a stage-partition has come: the callbacks a front end gives and a stage
calls (a small module of its own, so the stages, the model host and the resources
that hand them over all name it without importing one another)."""

from __future__ import annotations

from collections.abc import Callable

ProgressSink = Callable[[str, str, int, int], None]
"""(stage, partition, done, total): how a front end learns of a stage's progress."""

ProgressFn = Callable[[int, int], None]
"""(done, total) of one stage-partition."""
