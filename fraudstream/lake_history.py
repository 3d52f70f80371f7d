"""Labelled history from the lake: the transactions the processor decided, with the labels
that have arrived, as the training code reads history (``fraudstream train --from-lake``).

Only the fully labelled stretch is kept: the rows before the first transaction whose label has
not arrived (labels arrive in event order plus a delay, so what follows it is mostly
unlabelled too). The statement runs on Athena unchanged.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow as pa

from fraudstream.lake.render import ResultSet
from fraudstream.rules.lake_source import one_per_transaction, run_window, window_filter
from fraudstream.settings import Settings
from ml_model.data.history import History, from_generator
from ml_model.errors import DataError

_EVENT = ("merchant_category", "channel", "country", "lat", "lon")


def history_sql() -> str:
    """Transactions with their label, if any. Parameters as ``fraudstream rules test``'s:
    first and last event date, then the window's start and end (UTC; end excluded)."""
    return f"""SELECT
    t.transaction_id,
    t.card_id,
    t.merchant_id,
    t.amount,
    t.event_time,
    t.merchant_category,
    t.channel,
    t.country,
    t.lat,
    t.lon,
    l.is_fraud,
    l.label_time,
    l.scenario
FROM transactions AS t
LEFT JOIN (
    SELECT transaction_id,
           max(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS is_fraud,
           min(label_time) AS label_time,
           max(scenario) AS scenario
    FROM labels
    GROUP BY transaction_id
) AS l ON l.transaction_id = t.transaction_id
{window_filter("t")}"""  # noqa: S608


def history_from_result(result: ResultSet, source: str) -> History:
    """The fully labelled stretch of the query's rows, as generator-format history."""
    frame = one_per_transaction(result)
    if frame.empty:
        raise DataError(f"{source}: no transactions in the window")
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    unlabelled = frame.loc[frame["is_fraud"].isna(), "event_time"]
    if len(unlabelled):
        frame = frame[frame["event_time"] < unlabelled.min()]
    if frame.empty:
        raise DataError(f"{source}: the first transaction has no label yet")
    frame = frame.assign(
        is_fraud=frame["is_fraud"].astype(bool),
        label_time=pd.to_datetime(frame["label_time"], utc=True),
        scenario=frame["scenario"].fillna("unknown").astype(str),
    )
    keep = ["transaction_id", "card_id", "merchant_id", "amount", "event_time"]
    keep += [c for c in _EVENT if c in frame.columns] + ["is_fraud", "label_time", "scenario"]
    return from_generator(pa.Table.from_pandas(frame[keep], preserve_index=False), source)


def read_lake_history(
    settings: Settings, since: datetime | None, until: datetime | None
) -> History:
    """Labelled history of the lake in ``settings.bucket``, event time in ``[since, until)``."""
    result = run_window(settings, history_sql(), since, until)
    return history_from_result(result, f"lake s3://{settings.bucket}")
