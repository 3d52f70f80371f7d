"""Parse and validate raw Kinesis records against the event contract, in Spark.

Public API: :func:`validate`, :func:`valid_events`, :func:`quarantine_rows`, :func:`split`
(from :mod:`processor.validation.spark`). Importing this package imports pyspark.
"""

from processor.validation.spark import (
    QUARANTINE_COLUMNS,
    RAW_COLUMNS,
    VALID_COLUMNS,
    VALIDATED_COLUMNS,
    quarantine_rows,
    split,
    valid_events,
    validate,
)

__all__ = [
    "QUARANTINE_COLUMNS",
    "RAW_COLUMNS",
    "VALIDATED_COLUMNS",
    "VALID_COLUMNS",
    "quarantine_rows",
    "split",
    "valid_events",
    "validate",
]
