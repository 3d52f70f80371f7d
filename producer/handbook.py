"""Reading the Fraud Detection Handbook's simulated transactions as events and labels.

Columns (see the dataset's README): TRANSACTION_ID, TX_DATETIME (naive, UTC), CUSTOMER_ID
(the card), TERMINAL_ID (the merchant), TX_AMOUNT, TX_FRAUD, TX_FRAUD_SCENARIO. There is no
location, category, channel or currency: those optional fields stay absent, and the currency
is EUR (the simulator's issuer is European).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraudstream.events import TransactionEvent
from producer.card_tokens import tokenize
from producer.errors import ReplayFormatError
from producer.generator import GeneratedTransaction
from producer.scenarios import GENUINE

COLUMNS = (
    "TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT", "TX_FRAUD",
    "TX_FRAUD_SCENARIO",
)  # fmt: skip
SCENARIOS = {0: GENUINE, 1: "amount_over_220", 2: "compromised_terminal", 3: "compromised_customer"}


def card_id_for_customer(customer_id: int, key: bytes) -> str:
    """Token for a handbook customer: the id padded to a 16-digit pseudo card number."""
    return _token(customer_id, key)


@cache
def _token(customer_id: int, key: bytes) -> str:
    return tokenize(f"{customer_id:016d}", key)


def merchant_id_for_terminal(terminal_id: int) -> str:
    return f"terminal-{terminal_id}"


def transaction_id_for(transaction_id: int) -> str:
    return f"hb-{transaction_id}"


def read_table(path: Path, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
    """The handbook table between ``start`` (inclusive) and ``end`` (exclusive), in event
    time order."""
    try:
        table = pq.read_table(path, columns=list(COLUMNS))
    except (OSError, pa.ArrowInvalid, KeyError) as error:
        raise ReplayFormatError(f"cannot read {path} as handbook data: {error}") from error
    times = table["TX_DATETIME"]
    if start is not None:
        table = table.filter(pc.greater_equal(times, pa.scalar(_naive(start), times.type)))
        times = table["TX_DATETIME"]
    if end is not None:
        table = table.filter(pc.less(times, pa.scalar(_naive(end), times.type)))
    return table.sort_by([("TX_DATETIME", "ascending"), ("TRANSACTION_ID", "ascending")])


def _naive(moment: datetime) -> datetime:
    """The dataset's timestamps are naive UTC; compare like with like."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def transactions(table: pa.Table, key: bytes) -> Iterator[GeneratedTransaction]:
    """Events and ground truth for each row, in the table's order."""
    for batch in table.to_batches(max_chunksize=50_000):
        columns = batch.to_pydict()
        for row in zip(*(columns[c] for c in COLUMNS), strict=True):
            tx_id, moment, customer, terminal, amount, fraud, scenario = row
            event = TransactionEvent(
                transaction_id=transaction_id_for(tx_id),
                card_id=_token(customer, key),
                merchant_id=merchant_id_for_terminal(terminal),
                amount=float(amount),
                currency="EUR",
                event_time=moment.replace(tzinfo=UTC),
            )
            yield GeneratedTransaction(event, bool(fraud), SCENARIOS.get(scenario, f"s{scenario}"))
