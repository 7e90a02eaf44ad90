"""Table definitions, Arrow schemas, expectation suites and the data dictionary."""

from schemas.tables import (
    ALL_TABLES,
    CHECKS,
    CLEAN,
    DOCUMENTS,
    ENTITIES,
    ENTITY_LABELS,
    PARTITION_KEY,
    QUARANTINE,
    QUARANTINE_REASONS,
    RAW,
    SENTENCES,
    STAGES,
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
    "RAW",
    "SENTENCES",
    "STAGES",
    "Column",
    "Rejected",
    "Table",
    "quarantine_row",
]
