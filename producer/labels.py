"""Ground truth released after a delay, the way chargebacks arrive: never with the event.

Labels are queued as their transactions are sent and released once the release clock passes
``label_time``. The clock is wall time for live generation and event time for replay; either
way transactions arrive in order and the delay is constant, so a FIFO queue suffices.
"""

from __future__ import annotations

from bisect import bisect_right
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


class BlockLabels:
    """The labels of event blocks, released once the clock (epoch ms) passes their time:
    blocks are in event-time order and the delay is constant, so a FIFO of blocks suffices."""

    def __init__(self) -> None:
        self._blocks: deque[tuple[list[int], list[bytes], list[str]]] = deque()
        self._next = 0  # first unreleased label of the oldest block
        self._count = 0

    def add(self, due_ms: list[int], data: list[bytes], card_ids: list[str]) -> None:
        if data:
            self._blocks.append((due_ms, data, card_ids))
            self._count += len(data)

    def due(self, now_ms: int | None) -> Iterator[tuple[list[bytes], list[str]]]:
        """Remove and yield (labels, card ids) whose time has come (all, when ``None``)."""
        while self._blocks:
            due_ms, data, cards = self._blocks[0]
            stop = len(due_ms) if now_ms is None else bisect_right(due_ms, now_ms, lo=self._next)
            if stop > self._next:
                yield data[self._next : stop], cards[self._next : stop]
                self._count -= stop - self._next
            if stop < len(due_ms):
                self._next = stop
                return
            self._blocks.popleft()
            self._next = 0

    def __len__(self) -> int:
        return self._count
