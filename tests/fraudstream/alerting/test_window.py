"""Where a poll starts and what --since means: pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraudstream.alerting.ledger import Cursor
from fraudstream.alerting.notifier import since_floor, window_start

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_since_accepts_all_durations_and_times() -> None:
    assert since_floor("all", NOW) == ""
    assert since_floor("30m", NOW) == "2026-11-22T09:30:00.000Z"
    assert since_floor("1d", NOW) == "2026-11-21T10:00:00.000Z"
    assert since_floor("2026-11-01T00:00:00+01:00", NOW) == "2026-10-31T23:00:00.000Z"
    with pytest.raises(ValueError, match="--since"):
        since_floor("yesterday", NOW)
    with pytest.raises(ValueError, match="--since"):
        since_floor("2026-11-01T00:00:00", NOW)  # no offset


def test_the_window_reaches_lookback_behind_the_high_water_but_not_below_the_floor() -> None:
    lookback = timedelta(minutes=15)
    assert window_start(Cursor(floor="", high_water=None), lookback) == ""
    high = Cursor(floor="", high_water="2026-11-22T10:00:00.000Z#tx-9")
    assert window_start(high, lookback) == "2026-11-22T09:45:00.000Z"
    floored = Cursor(floor="2026-11-22T09:55:00.000Z#tx-1", high_water=high.high_water)
    assert window_start(floored, lookback) == floored.floor
    # A key just after the window start in time sorts after it, so it is re-read.
    assert window_start(high, lookback) < "2026-11-22T09:45:00.000Z#tx-0"
