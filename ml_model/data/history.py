"""Labelled transaction history in the canonical columns the feature builder reads.

Canonical transaction columns: ``transaction_id, card_id, merchant_id, amount, event_ms``
(epoch ms, UTC), optional ``merchant_category, channel, country, lat, lon``, plus the ground
truth ``is_fraud`` (bool), ``scenario`` (str) and ``label_ms`` (when the label became known).
Rows are sorted by ``event_ms`` then ``transaction_id``.

Formats:

* ``handbook``: the Fraud Detection Handbook's simulated transactions (Parquet with
  ``TRANSACTION_ID, TX_DATETIME, CUSTOMER_ID, TERMINAL_ID, TX_AMOUNT, TX_FRAUD,
  TX_FRAUD_SCENARIO``). Naive times are UTC. The data has no label times, so every label is
  taken to arrive ``label_delay_ms`` after its transaction, which is the handbook's protocol.
* ``generator``: the project generator's history (Parquet or an Arrow table: the event contract
  columns plus ``is_fraud``, ``scenario`` and ``label_time``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ml_model.errors import DataError
from ml_model.features.schema import DAY_MS

Format = Literal["handbook", "generator"]
FORMATS: tuple[str, ...] = ("handbook", "generator")

HANDBOOK_SCENARIOS = {
    0: "genuine",
    1: "large_amount",
    2: "compromised_terminal",
    3: "compromised_card",
}
_HANDBOOK_COLUMNS = (
    "TRANSACTION_ID",
    "TX_DATETIME",
    "CUSTOMER_ID",
    "TERMINAL_ID",
    "TX_AMOUNT",
    "TX_FRAUD",
    "TX_FRAUD_SCENARIO",
)
_OPTIONAL = ("merchant_category", "channel", "country", "lat", "lon")


def parse_day(text: str) -> int:
    """Epoch ms of the start (00:00 UTC) of a ``YYYY-MM-DD`` day."""
    try:
        day = date.fromisoformat(text)
    except ValueError as error:
        raise DataError(f"not a YYYY-MM-DD date: {text!r}") from error
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


def format_ms(ms: int) -> str:
    """RFC 3339 (UTC, seconds) of an epoch-ms time, for manifests and reports."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def _to_ms(column: pd.Series) -> np.ndarray:
    """Epoch ms of a datetime column (naive means UTC)."""
    values = pd.to_datetime(column)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.to_numpy(dtype="datetime64[ms]").astype("int64")


@dataclass(frozen=True)
class History:
    """Canonical transactions with ground truth, sorted by time."""

    transactions: pd.DataFrame
    source: str

    def __len__(self) -> int:
        return len(self.transactions)

    @property
    def start_ms(self) -> int:
        return int(self.transactions["event_ms"].iloc[0])

    @property
    def end_ms(self) -> int:
        """One millisecond after the last transaction."""
        return int(self.transactions["event_ms"].iloc[-1]) + 1

    def labels(self) -> pd.DataFrame:
        """The labels feed: one row per transaction, arriving at ``label_ms``."""
        tx = self.transactions
        return tx[["merchant_id", "event_ms", "is_fraud", "label_ms"]]

    def before(self, end_ms: int) -> History:
        """Transactions with ``event_ms < end_ms``."""
        cut = int(np.searchsorted(self.transactions["event_ms"].to_numpy(), end_ms, "left"))
        return History(self.transactions.iloc[:cut].reset_index(drop=True), self.source)

    def days(self) -> np.ndarray:
        """Day number (days since the epoch, UTC) of every transaction."""
        return self.transactions["event_ms"].to_numpy() // DAY_MS


def median_label_delay_ms(history: History) -> int:
    """The typical time from a transaction to its label in ``history`` (0 if none)."""
    tx = history.transactions
    delays = (tx["label_ms"] - tx["event_ms"]).to_numpy()
    return int(np.median(delays)) if len(delays) else 0


def _canonical(frame: pd.DataFrame, source: str) -> History:
    frame = frame.sort_values(["event_ms", "transaction_id"], kind="stable").reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{source}: no transactions")
    return History(frame, source)


def from_handbook(table: pa.Table, label_delay_ms: int, source: str) -> History:
    missing = [c for c in _HANDBOOK_COLUMNS if c not in table.column_names]
    if missing:
        raise DataError(f"{source}: not handbook data, missing {', '.join(missing)}")
    raw = table.select(list(_HANDBOOK_COLUMNS)).to_pandas()
    event_ms = _to_ms(raw["TX_DATETIME"])
    frame = pd.DataFrame(
        {
            "transaction_id": raw["TRANSACTION_ID"].astype("int64").astype(str),
            "card_id": "c" + raw["CUSTOMER_ID"].astype("int64").astype(str),
            "merchant_id": "t" + raw["TERMINAL_ID"].astype("int64").astype(str),
            "amount": raw["TX_AMOUNT"].astype("float64"),
            "event_ms": event_ms,
            "is_fraud": raw["TX_FRAUD"].astype(bool),
            "scenario": raw["TX_FRAUD_SCENARIO"].map(HANDBOOK_SCENARIOS).fillna("unknown"),
            "label_ms": event_ms + label_delay_ms,
        }
    )
    # The handbook's ids increase with time; sort numerically on ties, not as text.
    frame = frame.assign(_id=raw["TRANSACTION_ID"].astype("int64"))
    frame = frame.sort_values(["event_ms", "_id"], kind="stable").drop(columns="_id")
    return History(frame.reset_index(drop=True), source)


def from_generator(table: pa.Table, source: str) -> History:
    needed = ("transaction_id", "card_id", "merchant_id", "amount", "event_time", "is_fraud")
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise DataError(f"{source}: not generator history, missing {', '.join(missing)}")
    raw = table.to_pandas()
    event_ms = _to_ms(raw["event_time"])
    if "label_time" in raw.columns:
        label_ms = _to_ms(raw["label_time"].fillna(raw["event_time"]))
    else:
        raise DataError(f"{source}: generator history has no label_time column")
    frame = pd.DataFrame(
        {
            "transaction_id": raw["transaction_id"].astype(str),
            "card_id": raw["card_id"].astype(str),
            "merchant_id": raw["merchant_id"].astype(str),
            "amount": raw["amount"].astype("float64"),
            "event_ms": event_ms,
            "is_fraud": raw["is_fraud"].astype(bool),
            "scenario": raw["scenario"].astype(str) if "scenario" in raw else "unknown",
            "label_ms": np.maximum(label_ms, event_ms),
        }
    )
    for name in _OPTIONAL:
        if name in raw.columns:
            frame[name] = raw[name]
    return _canonical(frame, source)


def load_history(
    data: str | Path | pa.Table, fmt: str, *, label_delay_ms: int = 7 * DAY_MS
) -> History:
    """Read labelled history from a Parquet file (or an Arrow table) in format ``fmt``."""
    if fmt not in FORMATS:
        raise DataError(f"unknown data format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if isinstance(data, pa.Table):
        table, source = data, f"{fmt} table"
    else:
        path = Path(data)
        if not path.is_file():
            raise DataError(f"data file not found: {path}")
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as error:
            raise DataError(f"{path}: not a readable Parquet file ({error})") from error
        source = str(path)
    if fmt == "handbook":
        return from_handbook(table, label_delay_ms, source)
    return from_generator(table, source)
