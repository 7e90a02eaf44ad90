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
    STAGE_OUTPUTS,
    STAGES,
    Column,
    Table,
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
    "STAGE_OUTPUTS",
    "Column",
    "Table",
]
