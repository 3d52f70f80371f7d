"""Failures of the local lake query tool, each with a message the person at the prompt can act on.

The CLI turns any :class:`~fraudstream.errors.FraudstreamError` into one line and exit status 1;
a missing bucket is :class:`~fraudstream.errors.ResourceMissingError`, as elsewhere.
"""

from fraudstream.errors import FraudstreamError


class LakeReadError(FraudstreamError):
    """The lake's objects could not be listed or read (endpoint down, access denied ...)."""


class LakeQueryError(FraudstreamError):
    """The SQL could not run; the message carries DuckDB's own explanation."""


class UnknownTableError(LakeQueryError):
    """The SQL names a table the lake does not have."""


class UnknownNamedQueryError(LakeQueryError):
    """``--named`` names a query that is not shipped."""


class LegacyLayoutError(FraudstreamError):
    """A table's prefix holds plain Parquet objects from before the table format, and no log."""
