"""The DynamoDB alerts table's layout: its key, index and TTL attribute names.

The processor writes this table, the dashboard and the notifier read it, the local stack and
Terraform create it. The services take the names from here, the table's contract, not from the
dev stack that creates it locally (tests/infrastructure/test_terraform_local.py checks that
Terraform's ``dynamodb`` module creates the same keys and index as the stack).
"""

from __future__ import annotations

# A replayed decision for the same transaction writes the same (card_id, alert_key) item, and
# one card's alerts read back in time order.
ALERTS_HASH_KEY = "card_id"
ALERTS_RANGE_KEY = "alert_key"  # "<event_time RFC 3339>#<transaction_id>"
ALERTS_TTL_ATTRIBUTE = "expires_at"
# The latest alerts across all cards (the live view): a global secondary index keyed by the
# decision ("review" / "block") and sorted by alert_key, so the newest N of each outcome is one
# Query with ScanIndexForward=False and Limit=N, whatever the table's size (docs/adr/0004).
ALERTS_RECENT_INDEX = "recent-by-decision"
ALERTS_RECENT_INDEX_HASH_KEY = "decision"
