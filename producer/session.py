"""One producing run: transactions to the events stream, labels to the labels stream, with
running statistics for progress and the final summary. Shared by live generation and replay."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from producer.encoding import event_json
from producer.generator import GeneratedTransaction
from producer.kinesis_writer import KinesisWriter
from producer.labels import BlockLabels, LabelQueue, PendingLabel


@dataclass
class Summary:
    """What a run did; ``rate`` is achieved transactions per second."""

    sent: int = 0
    labels_sent: int = 0
    retried: int = 0
    undelivered: int = 0
    kinesis_records: int = 0  # Kinesis records the events went out in (fewer when aggregated)
    elapsed: float = 0.0
    fraud_by_scenario: Counter[str] = field(default_factory=Counter)
    interrupted: bool = False

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def frauds(self) -> int:
        return sum(self.fraud_by_scenario.values())


class ProduceSession:
    """Sends generated transactions and their delayed labels; tracks what was sent."""

    def __init__(self, events: KinesisWriter, labels: KinesisWriter, queue: LabelQueue) -> None:
        self.events = events
        self.labels = labels
        self.queue = queue
        self.summary = Summary()
        self._queued: Counter[str] = Counter()
        self._started: float | None = None
        self._block_labels = BlockLabels()

    def send_block(
        self,
        events: list[bytes],
        card_ids: list[str],
        labels: list[bytes],
        label_due_ms: list[int],
        frauds: list[str],
    ) -> None:
        """Queue a block of encoded transactions and their labels (released at their due
        time, epoch ms); ``frauds`` names the scenario of each fraudulent one."""
        if self._started is None:
            self._started = time.monotonic()
        self.events.put_many(events, card_ids)
        self._queued.update(frauds)
        self._block_labels.add(label_due_ms, labels, card_ids)

    def release_block_labels(self, now_ms: int | None) -> None:
        for labels, card_ids in self._block_labels.due(now_ms):
            self.labels.put_many(labels, card_ids)
            self.summary.labels_sent += len(labels)

    def send(self, generated: GeneratedTransaction, label_from: datetime) -> None:
        """Queue a transaction for Kinesis and its label for later release."""
        event = generated.event
        if self._started is None:
            self._started = time.monotonic()
        self.events.put(event_json(event), event.partition_key)
        if generated.is_fraud:
            self._queued[generated.scenario] += 1
        self.queue.add(generated, label_from)

    def release_labels(self, now: datetime) -> None:
        for label in self.queue.due(now):
            self._put_label(label)

    def _put_label(self, label: PendingLabel) -> None:
        self.labels.put(label.data, label.card_id)
        self.summary.labels_sent += 1

    def flush(self) -> None:
        """Deliver what is buffered; counts are updated from the writers afterwards."""
        try:
            self.events.flush()
            self.labels.flush()
        finally:
            self._refresh()

    def finish(self) -> Summary:
        """Flush transactions, release every remaining label, and return the summary."""
        try:
            self.events.flush()
            self._refresh()  # the rate covers sending transactions, not the label drain below
            for label in self.queue.drain():
                self._put_label(label)
            self.release_block_labels(None)
            self.labels.flush()
        finally:
            self._refresh(timing=False)
            self.events.close()
            self.labels.close()
        return self.summary

    def _refresh(self, *, timing: bool = True) -> None:
        stats = self.events.stats
        self.summary.sent = stats.sent
        self.summary.kinesis_records = stats.kinesis_records
        self.summary.retried = stats.retried + self.labels.stats.retried
        self.summary.undelivered = stats.undelivered + self.labels.stats.undelivered
        self.summary.fraud_by_scenario = self._queued.copy()
        if timing and self._started is not None:
            self.summary.elapsed = time.monotonic() - self._started
