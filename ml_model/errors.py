"""Failures of the model package a user can act on (the CLI prints them as one line)."""

from fraudstream.errors import FraudstreamError


class ModelError(FraudstreamError):
    """Base class of the model package's expected failures."""


class DataError(ModelError):
    """Input data is missing, malformed, or has no usable rows for the requested window."""


class ArtifactError(ModelError):
    """A model artifact is missing, unreadable, or does not match its manifest."""


class PayloadError(ModelError):
    """An inference request body could not be parsed (HTTP 415)."""


class BodyTooLarge(PayloadError):
    """An inference request body is over the payload limit, declared or chunked (HTTP 413)."""


class IncompleteBody(PayloadError):
    """An inference request body ended early, stalled or broke its framing (HTTP 400)."""


class BodyTimeout(IncompleteBody):
    """An inference request body stopped arriving for longer than the socket timeout (408)."""


class FeatureCountError(ModelError):
    """An inference request has rows with the wrong number of features (HTTP 400)."""


class ScoringUnavailable(ModelError):
    """Neither the endpoint nor the in-process fallback model could score a batch."""


class DeployError(ModelError):
    """A SageMaker deploy step failed; the message names the step."""
