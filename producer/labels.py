"""Ground truth released after a delay, the way chargebacks arrive: never with the event.

Labels are queued as their transactions are sent and released once the release clock passes
``label_time``. The clock is wall time for live generation and event time for replay; either
way transactions arrive in order and the delay is constant, so a FIFO queue suffices.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta

from fraudstream.events import LabelRecord
from producer.generator import GeneratedTransaction


class LabelQueue:
    def __init__(self, delay: timedelta) -> None:
        if delay < timedelta(0):
            raise ValueError("label delay must not be negative")
        self.delay = delay
        self._queue: deque[LabelRecord] = deque()

    def add(self, generated: GeneratedTransaction, known_from: datetime) -> None:
        """Queue the label of a transaction; it becomes known ``delay`` after ``known_from``."""
        self._queue.append(generated.label(known_from + self.delay))

    def due(self, now: datetime) -> Iterator[LabelRecord]:
        """Remove and yield the labels whose label time has come."""
        while self._queue and self._queue[0].label_time <= now:
            yield self._queue.popleft()

    def drain(self) -> Iterator[LabelRecord]:
        """Everything still queued (at shutdown); label times stay as scheduled."""
        while self._queue:
            yield self._queue.popleft()

    def __len__(self) -> int:
        return len(self._queue)
