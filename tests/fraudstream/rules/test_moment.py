"""The --since/--until values of the lake commands: a date or time, or a span before now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraudstream.cli.rules import moment

NOW = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)


def test_a_span_before_now_is_what_a_scheduled_job_passes() -> None:
    assert moment("35d", NOW) == NOW - timedelta(days=35)
    assert moment("12h", NOW) == NOW - timedelta(hours=12)
    assert moment("1.5d", NOW) == NOW - timedelta(hours=36)


def test_a_date_or_time_is_utc_unless_it_names_a_zone() -> None:
    assert moment("2026-12-01", NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    east = moment("2026-12-01T10:00+02:00", NOW)
    assert east.utcoffset() == timedelta(hours=2) and east == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert moment("2026-12-01T10:00", NOW).tzinfo == UTC


@pytest.mark.parametrize("bad", ["35", "35w", "d", "-3d", "yesterday"])
def test_anything_else_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="format"):
        moment(bad, NOW)
