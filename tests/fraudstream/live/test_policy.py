"""The dashboard's policy panel: measured on a schedule, the last good answer kept on failure."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from fraudstream.errors import FraudstreamError
from fraudstream.live.policy import PolicyWatch


class Measures:
    """Answers in turn: a dict is returned, an exception raised."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = threading.Semaphore(0)

    def __call__(self) -> dict[str, Any]:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        self.calls.release()
        if isinstance(answer, Exception):
            raise answer
        result: dict[str, Any] = answer
        return result


def test_the_newest_measure_is_served_and_a_failure_keeps_it_with_the_reason() -> None:
    watch = PolicyWatch(
        Measures({"policy": 1}, FraudstreamError("lake bucket gone"), {"policy": 2}),
        clock=lambda: 123.0,
    )
    assert watch.snapshot() == {
        "available": False,
        "updated_at": None,
        "error": "not measured yet",
        "policy": None,
    }
    watch.poll()
    assert watch.snapshot() == {
        "available": True,
        "updated_at": 123.0,
        "error": None,
        "policy": {"policy": 1},
    }
    watch.poll()
    assert watch.snapshot()["policy"] == {"policy": 1}
    assert watch.snapshot()["error"] == "lake bucket gone"
    watch.poll()
    assert watch.snapshot()["policy"] == {"policy": 2} and watch.snapshot()["error"] is None


def test_the_thread_measures_until_stopped_and_survives_a_crash() -> None:
    measures = Measures(RuntimeError("bug"), {"policy": 3})
    watch = PolicyWatch(measures, interval=0.01).start()
    assert watch.start() is watch  # idempotent
    for _ in range(3):
        assert measures.calls.acquire(timeout=10)
    watch.stop()
    assert watch.snapshot()["policy"] == {"policy": 3}
    with pytest.raises(ValueError, match="positive"):
        PolicyWatch(measures, interval=0)
