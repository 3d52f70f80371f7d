"""Failures of the Kinesis source, each with a message the operator can act on."""

from __future__ import annotations

from fraudstream.errors import FraudstreamError


class KinesisSourceError(FraudstreamError):
    """Base class of every failure raised by the Kinesis source."""


class InvalidOptionError(KinesisSourceError, ValueError):
    """A ``spark.readStream.format("kinesis")`` option is missing or malformed.

    Also a ``ValueError``, as Spark's data source contract expects of option validation.
    """


class StreamRecreatedError(KinesisSourceError):
    """The checkpoint belongs to an earlier stream of the same name (deleted and recreated)."""


class DataLossError(KinesisSourceError):
    """Records the checkpoint still needed are gone (shard expired past the retention period)."""


class KinesisReadError(KinesisSourceError):
    """A Kinesis call failed in a way retrying cannot fix; the micro-batch fails."""
