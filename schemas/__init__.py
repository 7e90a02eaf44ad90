"""Table definitions, Arrow schemas, expectation suites and the data dictionary."""

from schemas.marts import MARTS
from schemas.tables import (
    CHECKS,
    CLEAN,
    DOCUMENTS,
    ENTITIES,
    ENTITY_LABELS,
    PARTITION_KEY,
    QUARANTINE,
    QUARANTINE_REASONS,
    QUOTES,
    RAW,
    SENTENCES,
    STAGES,
    STORIES,
    Column,
    Rejected,
    Table,
    quarantine_row,
)

__all__ = [
    "ALL_TABLES",
    "CHECKS",
    "CLEAN",
    "DOCUMENTS",
    "ENTITIES",
    "ENTITY_LABELS",
    "PARTITION_KEY",
    "QUARANTINE",
    "QUARANTINE_REASONS",
    "QUOTES",
    "RAW",
    "SENTENCES",
    "STAGES",
    "STORIES",
    "Column",
    "Rejected",
    "Table",
    "quarantine_row",
]

# here, above both: the marts (schemas/marts.py) are Tables built from schemas/tables.py
ALL_TABLES: tuple[Table, ...] = (
    RAW,
    CLEAN,
    STORIES,
    DOCUMENTS,
    SENTENCES,
    ENTITIES,
    QUOTES,
    QUARANTINE,
    CHECKS,
    *MARTS,
)
"""Every table of the lake, the marts included."""
