"""Publication dates: `YYYY`, `YYYY-MM` or `YYYY-MM-DD` with their precision, the
bound a date must lie in to be one, and the windows of dates a backfill asks for."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from schemas.tables import EARLIEST
from tasks.errors import InvalidDate

__all__ = [
    "EARLIEST",
    "DateWindow",
    "InvalidDate",
    "first_plausible",
    "latest_date",
    "parse_date",
    "period_end",
    "plausible",
    "states_placeholder",
]

FUTURE_SLACK = timedelta(days=1)
"""A publication date may be up to a day after the moment its article was fetched:
time zones (a page dated in Nouméa's tomorrow) and embargoed stories; later is a
placeholder (year 9999) or a typo."""


def latest_date(fetched_at: datetime) -> date:
    """The latest plausible publication date of an article fetched at `fetched_at`.

    The bound follows the moment the article was fetched (recorded in its raw row),
    not the moment a stage runs: cleaning the same raw rows again gives the same dates.
    """
    moment = fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date() + FUTURE_SLACK


def plausible(day: date, latest: date | None) -> bool:
    """Whether `day` can be a publication date: from EARLIEST to `latest` (when known)."""
    return day >= EARLIEST and (latest is None or day <= latest)


def period_end(start: date, precision: str) -> date:
    """The last day of the period a date of this precision stands for."""
    if precision == "year":
        return date(start.year, 12, 31)
    if precision == "month":
        return date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])
    return start


@dataclass(frozen=True)
class DateWindow:
    """A range of publication dates, `since` and `until` included, either open."""

    start: date | None
    end: date | None

    @classmethod
    def parse(cls, since: str | None, until: str | None) -> DateWindow:
        start = parse_date(since)[0] if since else None
        end = period_end(*parse_date(until)) if until else None
        if start and end and start > end:
            raise InvalidDate(f"--since {since} is after --until {until}")
        return cls(start, end)

    def overlaps(self, published: date, precision: str) -> bool:
        """Whether an article of that date and precision may lie in the window."""
        if self.end is not None and published > self.end:
            return False
        return self.start is None or period_end(published, precision) >= self.start


_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:[T ].*)?$")


def parse_date(value: str) -> tuple[date, str]:
    """`YYYY`, `YYYY-MM` or `YYYY-MM-DD` (a time after it is ignored) → (date, precision).

    A month or a year is kept as its first day, with the precision saying so.
    """
    match = _DATE.match(value.strip())
    if not match:
        raise InvalidDate(f"unreadable date {value!r}")
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        if month is None:
            return date(year, 1, 1), "year"
        if day is None:
            return date(year, month, 1), "month"
        return date(year, month, day), "day"
    except ValueError as error:
        raise InvalidDate(f"impossible date {value!r}: {error}") from None


def first_plausible(
    candidates: list[tuple[str, str]], latest: date | None
) -> tuple[tuple[date | None, str | None, str | None], list[str]]:
    """The first plausible of the dates an article is given (value, source), most
    trusted first, as (date, precision, source); and the placeholders passed over
    (`1900-01-01 (jsonld)`). InvalidDate for an unreadable one, an error of the input;
    an implausible one is a placeholder for "no date", and the next source is asked."""
    refused = []
    for value, source in candidates:
        published, precision = parse_date(str(value))
        if plausible(published, latest):
            return (published, precision, source), refused
        refused.append(f"{value} ({source})")
    return (None, None, None), refused


def states_placeholder(values: list[str] | None, latest: date | None) -> bool:
    """Whether any of these dates, as a page writes them, is a placeholder (readable
    and implausible)."""
    for value in values or []:
        try:
            day = parse_date(value)[0]
        except InvalidDate:
            continue
        if not plausible(day, latest):
            return True
    return False
