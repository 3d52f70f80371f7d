"""Labelled transactions rebuilt from history: features replayed, then scored by a model.

For judging rules on data the stream has not seen (the handbook, a generator history written
by ``fraudstream generate``): the whole history is replayed through the feature engine (the
training-set builder, so features equal the stream's), the rows in the window are scored by the
model, and every label is known. Each event hour counts as one micro-batch for the review
budget, as in a stream that keeps up.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from fraudstream.rules.rows import LabelledRows

HOUR_MS = 3_600_000


def _ms(moment: datetime | None, default: int) -> int:
    return default if moment is None else int(moment.timestamp() * 1000)


def read_history(
    data: Path,
    fmt: str,
    model_dir: str | Path,
    *,
    since: datetime | None,
    until: datetime | None,
    label_delay_ms: int,
) -> LabelledRows:
    """Rows of ``data`` with event time in ``[since, until)``, scored by the model in
    ``model_dir`` (whose feature configuration the features use)."""
    from ml_model.artifact import load_model
    from ml_model.data.history import load_history
    from ml_model.features import build

    model = load_model(model_dir)
    history = load_history(data, fmt, label_delay_ms=label_delay_ms)
    matrix = build(history.transactions, history.labels(), model.feature_config)
    event_ms = history.transactions["event_ms"].to_numpy(dtype=np.int64)
    window = (event_ms >= _ms(since, np.iinfo(np.int64).min)) & (
        event_ms < _ms(until, np.iinfo(np.int64).max)
    )
    rows = matrix[window].astype(np.float64)
    return LabelledRows(
        matrix=rows,
        score=model.predict(rows),
        is_fraud=history.transactions["is_fraud"].to_numpy(dtype=np.float64)[window],
        event_ms=event_ms[window],
        batch=event_ms[window] // HOUR_MS,
        model_versions=(model.version,),
        source=f"{fmt} history {data}",
        anomaly=model.anomaly.score(rows) if model.anomaly is not None else None,
    )
