"""Errors of the alerting package; each message tells the operator what to do."""

from fraudstream.errors import FraudstreamError


class AlertingError(FraudstreamError):
    """The notifier cannot do its job (table, index or webhook configuration)."""


class AlertingOffError(AlertingError):
    """No webhook URL is configured, so alerting is off (the default)."""


class LedgerUnavailableError(AlertingError):
    """DynamoDB could not be reached for a moment; the next poll tries again."""
