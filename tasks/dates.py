"""Publication dates: `YYYY`, `YYYY-MM` or `YYYY-MM-DD` with their precision, and the
windows of dates a backfill asks for."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from tasks.errors import InvalidDate

__all__ = ["DateWindow", "InvalidDate", "parse_date", "period_end"]


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
