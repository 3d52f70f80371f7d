"""Block-decision alerting: post each new BLOCK decision to a Slack-compatible webhook, once.

Pure logic (:mod:`.message` formats a post, :mod:`.retry` decides whether to try again) is kept
apart from the I/O (:mod:`.webhook` posts over HTTP, :mod:`.ledger` talks to DynamoDB) and from
the loop that ties them together (:mod:`.notifier`). Why claims are written before sending:
docs/adr/0005-block-alert-webhook.md.
"""

from fraudstream.alerting.errors import AlertingError, AlertingOffError
from fraudstream.alerting.message import block_message
from fraudstream.alerting.notifier import Notifier, PollResult
from fraudstream.alerting.retry import RetryPolicy
from fraudstream.alerting.webhook import Delivery, Webhook

__all__ = [
    "AlertingError",
    "AlertingOffError",
    "Delivery",
    "Notifier",
    "PollResult",
    "RetryPolicy",
    "Webhook",
    "block_message",
]
