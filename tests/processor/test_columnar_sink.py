"""The batch sink works on whole columns: the Python it runs does not grow with the batch.

Counting calls, not timing them: every Python function call the sink makes while processing a
micro-batch (its own code, in every thread) is counted for a batch of 1,000 transactions and
for one of 4,000 (with their labels). A loop over rows anywhere in the processor, the feature
engine or the sinks would add thousands of calls to one function; column-at-a-time code adds a
few per hour partition, alert chunk or rule.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from fraudstream.settings import Settings
from ml_model.artifact import load_model
from producer.generator import GeneratedTransaction, GeneratorConfig, TransactionGenerator
from tests.processor.batch_rows import RowFactory
from tests.processor.test_batch_sink import NOW, make_sink

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = tuple(str(ROOT / package) + "/" for package in ("processor", "ml_model", "fraudstream"))


class CallCounter:
    """Counts Python function calls (and generator resumptions) in the project's packages,
    in every thread, between ``start()`` and ``stop()``."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(PACKAGES):
            key = (frame.f_code.co_filename[len(str(ROOT)) + 1 :], frame.f_code.co_name)
            with self._lock:
                self.calls[key] += 1

    def start(self) -> None:
        self.calls.clear()
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)

    def stop(self) -> int:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        return sum(self.calls.values())


def test_python_calls_do_not_grow_with_the_batch(
    fresh_sinks: Settings, generator_model_dir: Path
) -> None:
    # A live stream's pace (1,000/s): a batch spans seconds of event time, as in production,
    # so the windows it closes are the same few whatever its size.
    config = GeneratorConfig(
        start=NOW - timedelta(hours=1),
        seed=11,
        cards=2_000,
        rate=1_000.0,
        fraud_rate=0.05,
        token_key=b"k",
    )
    traffic: list[GeneratedTransaction] = list(
        itertools.islice(TransactionGenerator(config), 7_000)
    )
    rows = RowFactory()
    sink = make_sink(fresh_sinks, load_model(generator_model_dir))
    counter = CallCounter()
    sizes = {"warm-up": 2_000, "small": 1_000, "large": 4_000}
    calls: dict[str, int] = {}
    by_function: dict[str, Counter[tuple[str, str]]] = {}
    start = 0
    for batch_id, (name, size) in enumerate(sizes.items()):
        chunk = traffic[start : start + size]
        labelled = traffic[max(0, start - size) : start]  # the previous chunk's labels
        label_time = chunk[0].event.event_time + timedelta(seconds=1)
        batch = rows.batch(chunk, labels=labelled, label_time=label_time)
        start += size
        counter.start()
        summary = sink.process(batch, batch_id)
        calls[name] = counter.stop()
        by_function[name] = Counter(counter.calls)
        assert summary.rows == size
        assert sum(summary.decisions.values()) == size

    extra_rows = 2 * (sizes["large"] - sizes["small"])  # transactions and their labels
    grown = by_function["large"] - by_function["small"]
    # No function runs once per row: 3,000 more transactions (and labels) add at most a
    # call per 20 rows to any one of them (alert chunks of 25 items are the most that grow).
    assert max(grown.values(), default=0) < 0.05 * extra_rows, grown.most_common(5)
    assert calls["large"] < 0.25 * 2 * sizes["large"], calls
