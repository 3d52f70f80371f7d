"""Crash points: parsed strictly, fired only at their step and batch, dead for good once
fired, and a real SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from fraudstream.settings import load_settings
from processor.crash import STEPS, CrashPoint, from_setting


class Killed(Exception):
    """Stands in for the SIGKILL in these tests."""


def die() -> None:
    raise Killed


def test_a_point_fires_only_after_its_step_of_its_batch() -> None:
    point = CrashPoint.parse(" lake:3 ", kill=die)
    assert (point.step, point.batch_id) == ("lake", 3)
    for step in STEPS:
        point.reached(step, 2)
        if step != "lake":
            point.reached(step, 3)
    with pytest.raises(Killed):
        point.reached("lake", 3)


def test_a_fired_point_kills_every_later_check_of_any_thread() -> None:
    point = CrashPoint.parse("lake-files:0", kill=die)
    with pytest.raises(Killed):
        point.reached("lake-files", 0)
    for step, batch_id in (("lake-commit", 0), ("lake-files", 0), ("labels", 1)):
        with pytest.raises(Killed):  # another lake table's thread of the same "dead" sink
            point.reached(step, batch_id)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lake", "not <step>:<batch id>"),
        ("lake:x", "not <step>:<batch id>"),
        ("lake:-1", "not <step>:<batch id>"),
        ("flush:2", "unknown crash step 'flush'"),
    ],
)
def test_bad_points_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CrashPoint.parse(text)


def test_the_setting_is_read_once_and_off_by_default() -> None:
    assert from_setting(load_settings().crash_at) is None
    assert from_setting(load_settings(crash_at="commit:0").crash_at) == CrashPoint("commit", 0)
    point = from_setting(load_settings(crash_at="lake-commit:2").crash_at)
    assert point == CrashPoint("lake-commit", 2)
    with pytest.raises(ValueError, match="batch id must be >= 0"):
        CrashPoint("state", -1)


def test_reaching_the_point_kills_the_process_outright() -> None:
    code = (
        "from processor.crash import CrashPoint\n"
        "try:\n"
        "    CrashPoint.parse('alerts:7').reached('alerts', 7)\n"
        "finally:\n"
        "    print('a finally block ran')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGKILL
    assert "finally" not in done.stdout  # SIGKILL: nothing after it runs
