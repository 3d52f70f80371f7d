"""The lake's shadow scores joined with the labels that have arrived (Athena SQL; the local
lake tool runs it unchanged), for ``fraudstream model compare``."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from fraudstream.lake.render import ResultSet
from fraudstream.rules.lake_source import one_per_transaction, run_window, window_filter
from fraudstream.settings import Settings


def compare_sql() -> str:
    """Labelled shadow rows. Parameters: first and last event date (``YYYY-MM-DD``), then the
    window's start and end (``YYYY-MM-DD HH:MM:SS``, UTC; end excluded)."""
    return f"""SELECT
    s.transaction_id,
    s.card_id,
    s.event_time,
    s.champion_version,
    s.champion_score,
    s.decision,
    s.challenger_version,
    s.challenger_score,
    l.is_fraud
FROM shadow_scores AS s
JOIN (
    SELECT transaction_id, max(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS is_fraud
    FROM labels
    GROUP BY transaction_id
) AS l ON l.transaction_id = s.transaction_id
{window_filter("s")}"""  # noqa: S608


def frame_from_result(result: ResultSet) -> pd.DataFrame:
    """One row per transaction (a repeat dropped), event time as epoch milliseconds."""
    frame = one_per_transaction(result)
    event = pd.to_datetime(frame["event_time"], utc=True)
    frame["event_ms"] = (event.astype("int64") // 1_000_000) if len(frame) else []
    return frame


def read_shadow(settings: Settings, since: datetime | None, until: datetime | None) -> pd.DataFrame:
    """Labelled shadow rows of the lake in ``settings.bucket`` with event time in
    ``[since, until)``, from the tables' committed versions."""
    return frame_from_result(run_window(settings, compare_sql(), since, until))
