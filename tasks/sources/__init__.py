"""Where fetch's items come from: local files and the web, behind one protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tasks.records import ItemKey, PartitionSpec

if TYPE_CHECKING:  # a type only: the items are read by the sources themselves
    from tasks.sources.rows import Item


@dataclass(frozen=True)
class NewItem:
    """An item a source holds and the lake does not: its key, and what planning reads
    its publication date from (a file's item as read, or the date a listing gave)."""

    key: ItemKey
    item: Item | None = None
    listed_date: datetime | None = None


class Listing(Protocol):
    """What a source lists for planning: its new items, and how many it found."""

    found: int  # the items listed, new or not (once `new_items` has run)

    def new_items(self, known: set[ItemKey]) -> Iterator[NewItem]:
        """The items not in `known` (or to try again), one at a time, in order."""
        ...


class Source(Listing, Protocol):
    """A kind of place items come from: it lists what is new, and reads the items of
    a partition."""

    def read(self, spec: PartitionSpec, details: dict[str, Any]) -> Iterator[Item]:
        """The items of `spec` this source holds, one at a time in the order of their
        keys (or why each is not a text); its books in `details`."""
        ...
