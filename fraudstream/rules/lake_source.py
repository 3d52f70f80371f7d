"""Labelled transactions from the lake, through its SQL query tool (the same SQL runs on Athena).

The lake's ``transactions`` table holds every decided transaction with its ``features`` map and
``score``; ``labels`` holds the ground truth that has arrived. :func:`backtest_sql` joins them
(one label per transaction; none yet leaves ``is_fraud`` null) and picks each feature out of
the map by name. The statement goes through :func:`fraudstream.lake.query.run`, the engine
behind ``fraudstream lake query``, over the lake's reader
(:class:`fraudstream.lake.storage.LakeStore`): each Delta table at its latest version, so the
rows are exactly what the table's log has committed, as Athena reads them through the Glue
tables (a file an interrupted batch left behind, or one compaction replaced, is not read).
:func:`rows_from_result` (pure) turns the result into :class:`LabelledRows`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from fraudstream.lake.render import ResultSet
from fraudstream.rules.rows import LabelledRows
from fraudstream.settings import Settings
from ml_model.features import FEATURE_NAMES

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
_KEYS = ("transaction_id", "event_time", "batch_id", "score", "model_version", "is_fraud")


def backtest_sql() -> str:
    """The statement behind ``fraudstream rules test`` (Athena SQL; DuckDB runs it unchanged).

    Parameters, in order: the first and the last event date (``YYYY-MM-DD``, for partition
    pruning), then the window's start and end (``YYYY-MM-DD HH:MM:SS``, UTC; end excluded).
    """
    # Only the package's own feature names are formatted in; the values are parameters.
    features = ",\n    ".join(f"t.features['{name}'] AS \"{name}\"" for name in FEATURE_NAMES)
    return f"""SELECT
    t.transaction_id,
    t.event_time,
    t.batch_id,
    t.score,
    t.anomaly_score,
    t.model_version,
    l.is_fraud,
    {features}
FROM transactions AS t
LEFT JOIN (
    SELECT transaction_id, max(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS is_fraud
    FROM labels
    GROUP BY transaction_id
) AS l ON l.transaction_id = t.transaction_id
{window_filter("t")}"""  # noqa: S608


def window_filter(alias: str) -> str:
    """The WHERE clause of a lake query over table ``alias`` in an event-time window: the
    partition dates, then the window itself, taking :func:`sql_parameters`' four values in
    their order (every windowed lake query uses this one clause, so they cannot drift)."""
    return (
        f"WHERE {alias}.dt BETWEEN ? AND ?\n"
        f"  AND {alias}.event_time >= CAST(? AS timestamp)\n"
        f"  AND {alias}.event_time < CAST(? AS timestamp)\n"
    )


def sql_parameters(since: datetime | None, until: datetime | None) -> tuple[str, ...]:
    """The four parameters of :func:`backtest_sql` for the window ``[since, until)``."""
    start = (since or EARLIEST).astimezone(UTC)
    end = (until or LATEST).astimezone(UTC)
    if end <= start:
        raise ValueError(f"--until ({end:%Y-%m-%d %H:%M:%S}) must be after --since")
    return (
        f"{start:%Y-%m-%d}",
        f"{end:%Y-%m-%d}",
        f"{start:%Y-%m-%d %H:%M:%S}",
        f"{end:%Y-%m-%d %H:%M:%S}",
    )


def one_per_transaction(result: ResultSet) -> pd.DataFrame:
    """The query's rows as a frame, a transaction's repeat (the lake is at-least-once per
    query, a replayed label joins twice) dropped, the first kept."""
    frame = pd.DataFrame.from_records(result.rows, columns=list(result.columns))
    return frame.drop_duplicates("transaction_id", keep="first", ignore_index=True)


def rows_from_result(result: ResultSet, source: str) -> LabelledRows:
    """The query's rows as columns, one row per transaction (a repeat is dropped)."""
    missing = [c for c in (*_KEYS, *FEATURE_NAMES) if c not in result.columns]
    if missing:
        raise ValueError(f"the backtest query lacks column(s): {', '.join(missing)}")
    frame = one_per_transaction(result)
    event = pd.to_datetime(frame["event_time"], utc=True)
    versions = sorted({str(v) for v in frame["model_version"].dropna().unique()})
    return LabelledRows(
        matrix=frame[list(FEATURE_NAMES)].to_numpy(dtype=np.float64, na_value=np.nan),
        score=frame["score"].to_numpy(dtype=np.float64, na_value=np.nan),
        is_fraud=frame["is_fraud"].to_numpy(dtype=np.float64, na_value=np.nan),
        event_ms=(event.astype("int64") // 1_000_000).to_numpy(dtype=np.int64)
        if len(frame)
        else np.empty(0, np.int64),
        batch=frame["batch_id"].to_numpy(dtype=np.float64, na_value=-1).astype(np.int64),
        model_versions=tuple(versions),
        source=source,
        anomaly=(
            frame["anomaly_score"].to_numpy(dtype=np.float64, na_value=np.nan)
            if "anomaly_score" in frame
            else None
        ),
    )


def read_lake(settings: Settings, since: datetime | None, until: datetime | None) -> LabelledRows:
    """Labelled transactions of the lake in ``settings.bucket`` with event time in
    ``[since, until)`` (either end open when None), from the tables' committed versions."""
    result = run_window(settings, backtest_sql(), since, until)
    return rows_from_result(result, f"lake s3://{settings.bucket}")


def run_window(
    settings: Settings, sql: str, since: datetime | None, until: datetime | None
) -> ResultSet:
    """Run a windowed statement (one ending in :func:`window_filter`) over the lake in
    ``settings.bucket``, each table at its committed version."""
    from fraudstream.lake import query
    from fraudstream.lake.storage import LakeStore

    store = LakeStore.from_settings(settings)
    return query.run(sql, sql_parameters(since, until), store.dataset)
