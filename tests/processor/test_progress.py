"""Progress reports reach the metrics once each, in batch order, from polling the query."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from processor.progress import ProgressFeed, ProgressPoller, as_report


def report(batch: int, at: str = "t") -> dict[str, Any]:
    return {"batchId": batch, "timestamp": f"{at}{batch}"}


def test_each_report_is_handed_on_once_and_gaps_are_filled_from_recent() -> None:
    seen: list[int] = []
    feed = ProgressFeed(lambda r: seen.append(r["batchId"]))
    history = [report(b) for b in range(6)]
    asked: list[bool] = []

    def recent() -> list[dict[str, Any]]:
        asked.append(True)
        return history

    assert feed.offer(None, recent) == 0
    assert feed.offer(report(0), recent) == 1  # the first poll looks at this run's history
    asked.clear()
    assert feed.offer(report(0), recent) == 0  # polled again before the next batch
    assert feed.offer(report(1), recent) == 1
    assert not asked  # consecutive batches need no history
    assert feed.offer(report(4), recent) == 3  # 2 and 3 finished between two polls (5 is later)
    assert asked
    assert seen == [0, 1, 2, 3, 4]


def test_an_idle_report_of_the_same_batch_counts_and_a_truncated_history_loses_no_order() -> None:
    seen: list[tuple[int, str]] = []
    feed = ProgressFeed(lambda r: seen.append((r["batchId"], r["timestamp"])))
    feed.offer(report(3), list)
    feed.offer(report(3, at="idle"), list)  # Spark's idle report: same batch, new time
    feed.offer(report(9), lambda: [report(8)])  # history kept only the newest reports
    assert seen == [(3, "t3"), (3, "idle3"), (8, "t8"), (9, "t9")]


def test_a_failing_handler_does_not_stop_the_feed(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def handle(r: Mapping[str, Any]) -> None:
        calls.append(r["batchId"])
        if r["batchId"] == 0:
            raise ValueError("boom")

    feed = ProgressFeed(handle)
    feed.offer(report(0), list)
    feed.offer(report(1), list)
    assert calls == [0, 1]
    assert "batch 0 failed" in caplog.text


class Progress(dict):  # what query.lastProgress returns: a dict with a .json string
    @property
    def json(self) -> str:
        return json.dumps(dict(self))


class Query:
    def __init__(self) -> None:
        self.reports: list[Progress] = []

    @property
    def lastProgress(self) -> Progress | None:
        return self.reports[-1] if self.reports else None

    @property
    def recentProgress(self) -> list[Progress]:
        return list(self.reports)


def test_the_poller_hands_on_the_last_report_when_stopped() -> None:
    query = Query()
    seen: list[int] = []
    poller = ProgressPoller(query, lambda r: seen.append(r["batchId"]), interval=3600).start()
    query.reports += [Progress(report(0)), Progress(report(1))]
    poller.stop()  # the thread never woke: stop's own poll finds both
    assert seen == [0, 1]
    assert as_report(None) is None and as_report({"batchId": 1}) == {"batchId": 1}
