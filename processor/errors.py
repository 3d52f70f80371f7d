"""Failures of the processor's components that a person running it can act on."""

from __future__ import annotations

from fraudstream.errors import FraudstreamError


class ProcessorError(FraudstreamError):
    """Base class of the processor's errors."""


class RulesError(ProcessorError):
    """The decision rules file is missing or invalid; the message names the file and the key."""


class MissingColumnsError(ProcessorError):
    """A batch lacks columns the decision rules read."""


class SinkError(ProcessorError):
    """A sink gave up after its retries; the micro-batch must fail so Spark replays it."""
