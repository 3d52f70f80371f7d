"""Ground truth released after a delay, the way chargebacks arrive: never with the event.

Labels are queued as their transactions are sent and released once the release clock passes
``label_time``. The clock is wall time for live generation and event time for replay; either
way transactions arrive in order and the delay is constant, so a FIFO queue suffices.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import NamedTuple

from producer.encoding import label_json
from producer.generator import GeneratedTransaction


class PendingLabel(NamedTuple):
    """A label waiting for its time, already encoded (``LabelRecord.to_json`` bytes)."""

    label_time: datetime
    card_id: str  # the labels stream's partition key
    data: bytes


class LabelQueue:
    def __init__(self, delay: timedelta) -> None:
        if delay < timedelta(0):
            raise ValueError("label delay must not be negative")
        self.delay = delay
        self._queue: deque[PendingLabel] = deque()

    def add(self, generated: GeneratedTransaction, known_from: datetime) -> None:
        """Queue the label of a transaction; it becomes known ``delay`` after ``known_from``."""
        event, label_time = generated.event, known_from + self.delay
        data = label_json(event, generated.is_fraud, generated.scenario, label_time)
        self._queue.append(PendingLabel(label_time, event.card_id, data))

    def due(self, now: datetime) -> Iterator[PendingLabel]:
        """Remove and yield the labels whose label time has come."""
        while self._queue and self._queue[0].label_time <= now:
            yield self._queue.popleft()

    def drain(self) -> Iterator[PendingLabel]:
        """Everything still queued (at shutdown); label times stay as scheduled."""
        while self._queue:
            yield self._queue.popleft()

    def __len__(self) -> int:
        return len(self._queue)
