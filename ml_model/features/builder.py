"""The training-set builder: history replayed through the stream's own feature engine.

:func:`build` cuts the history into chunks of event time (a day by default) and feeds each
chunk's transactions, with the labels whose label time falls in it, to one
:class:`~ml_model.features.engine.FeatureEngine`: the very call the processor makes per
micro-batch. The engine's answer does not depend on where the cuts fall, so the training matrix
equals what the stream computes for the same events (tests/ml_model/test_engine.py).

Input frames use the canonical columns of :mod:`ml_model.data.history`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from ml_model.features.engine import LABEL_COLUMNS, TX_COLUMNS, TX_OPTIONAL, FeatureEngine
from ml_model.features.schema import DAY_MS, FEATURE_COUNT, FeatureConfig

Progress = Callable[[str, int, int], None]


def check_columns(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s): {', '.join(missing)}")


def _arrow(frame: pd.DataFrame, names: tuple[str, ...]) -> pa.Table:
    columns = {}
    for name in names:
        if name not in frame.columns:
            continue
        values = pa.array(frame[name], from_pandas=True)
        if name in ("card_id", "merchant_id", "merchant_category", "channel"):
            values = values.cast(pa.string())
        columns[name] = values
    return pa.table(columns)


def build(
    transactions: pd.DataFrame,
    labels: pd.DataFrame | None,
    config: FeatureConfig,
    *,
    progress: Progress | None = None,
    chunk_ms: int = DAY_MS,
) -> np.ndarray:
    """Feature matrix (float32; rows in ``transactions`` order, columns in ``FEATURE_NAMES``
    order). ``labels``: ``merchant_id, event_ms, is_fraud, label_ms``, each fed at its label
    time. Every row's features come from the history strictly before it."""
    check_columns(transactions, TX_COLUMNS, "transactions")
    n = len(transactions)
    matrix = np.empty((n, FEATURE_COUNT), dtype=np.float32)
    if n == 0:
        return matrix
    engine = FeatureEngine(config)
    times = transactions["event_ms"].to_numpy(dtype=np.int64)
    order = np.argsort(times, kind="stable")
    tx = _arrow(transactions, TX_COLUMNS + TX_OPTIONAL).take(pa.array(order))
    times = times[order]
    if labels is not None and len(labels):
        check_columns(labels, LABEL_COLUMNS, "labels")
        frauds = labels[labels["is_fraud"].astype(bool)]
        label_times = frauds["label_ms"].to_numpy(dtype=np.int64)
        label_order = np.argsort(label_times, kind="stable")
        label_table = _arrow(frauds, LABEL_COLUMNS).take(pa.array(label_order))
        label_times = label_times[label_order]
    else:
        label_table, label_times = None, np.empty(0, dtype=np.int64)
    first = int(times[0]) - int(times[0]) % chunk_ms
    edges = np.arange(first + chunk_ms, int(times[-1]) + chunk_ms + 1, chunk_ms)
    tx_cut = np.r_[0, np.searchsorted(times, edges, "left")]
    label_cut = np.r_[0, np.searchsorted(label_times, edges, "left")]
    for k in range(len(edges)):
        a, b = int(tx_cut[k]), int(tx_cut[k + 1])
        chunk_labels = None
        if label_table is not None:
            la, lb = int(label_cut[k]), int(label_cut[k + 1])
            chunk_labels = label_table.slice(la, lb - la)
        matrix[order[a:b]] = engine.compute(tx.slice(a, b - a), chunk_labels)
        if progress is not None:
            progress("features", b, n)
    return matrix
