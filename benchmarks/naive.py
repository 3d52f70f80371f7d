"""The naive baseline the processor is compared with: one loop, one call per record.

The design most tutorials show, on the same machine, emulator, producer and model server as
:mod:`benchmarks.pipeline`: ONE consumer loop (boto3 ``GetRecords`` over the stream's shards
in turn, no Spark) and, for each record in order,

1. parse and validate it (``fraudstream.events.parse_event``) and compute its features with
   the shared feature engine (``ml_model.features.FeatureEngine``, called with a batch of one
   row: per-card and per-merchant state in memory);
2. score it with ONE HTTP request to the model server (the pipeline's ``ScoringClient``, one
   row per call: same endpoint, CSV body, retries and in-process fallback) and decide on the
   model's thresholds (``approve`` / ``review`` / ``block``; no rules engine);
3. write it with ONE DynamoDB ``PutItem`` to the alerts table (every transaction, as tutorials
   do), the item carrying the decision, score and reasons: that item is the decision's record
   (there is no lake write).

The labels stream is not read, so merchant fraud-rate features see no labels (the work per
record is unchanged). Latency is per record, from its Kinesis arrival
(``ApproximateArrivalTimestamp``) to the completion of its ``PutItem``; throughput, the
warm-up and the *sustained* verdict are those of :mod:`benchmarks.pipeline` (:func:`judge`).

Run: ``python -m benchmarks.naive [--rates 50,100,250,500,1000,2500] [--duration 40]``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks.harness import CARDS, cli, environment, fresh, sweep
from benchmarks.pipeline import judge
from fraudstream import aws, kpl
from fraudstream.alerts_table import ALERTS_HASH_KEY, ALERTS_RANGE_KEY, ALERTS_TTL_ATTRIBUTE
from fraudstream.demo.processes import produce_args
from fraudstream.events import InvalidEvent, TransactionEvent, format_time, parse_event
from fraudstream.settings import Settings
from ml_model.features import FeatureConfig, FeatureEngine
from ml_model.scoring import ScoringClient, Thresholds, decide
from processor.sinks.alerts import Item, alert_key

GET_RECORDS_LIMIT = 500
IDLE_SLEEP_SECONDS = 0.2  # after a round over every shard that returned nothing


# --- pure logic: one record's work, and the run's accounting ---------------------------------
@dataclass(frozen=True)
class Scored:
    """What the model server said about one transaction."""

    score: float
    model_version: str
    scored_by: str
    reasons: list[str]


class RecordWork:
    """Per-record logic without I/O: features from in-memory state, decision, DynamoDB item."""

    def __init__(self, config: FeatureConfig, thresholds: Thresholds, ttl_days: int) -> None:
        self.engine = FeatureEngine(config)
        self.thresholds = thresholds
        self.ttl = timedelta(days=ttl_days)

    def vector(self, data: bytes) -> tuple[TransactionEvent, list[float]]:
        """The event and its feature vector (from the state before it); records it in the
        state. Raises :class:`InvalidEvent` for a record that breaks the contract."""
        event = parse_event(data)
        row = pa.table(
            {
                "card_id": [event.card_id],
                "merchant_id": [event.merchant_id],
                "amount": [float(event.amount)],
                "event_ms": [int(event.event_time.timestamp() * 1000)],
                "merchant_category": pa.array([event.merchant_category], pa.string()),
                "channel": pa.array([event.channel], pa.string()),
                "lat": pa.array([event.lat], pa.float64()),
                "lon": pa.array([event.lon], pa.float64()),
            }
        )
        return event, [float(v) for v in self.engine.compute(row)[0]]

    def decision(self, score: float) -> str:
        return str(decide(np.array([score]), self.thresholds)[0])

    def item(self, event: TransactionEvent, scored: Scored, decision: str) -> Item:
        """The alerts table's item shape (see :mod:`processor.sinks.alerts`), for any decision."""
        return {
            ALERTS_HASH_KEY: {"S": event.card_id},
            ALERTS_RANGE_KEY: {"S": alert_key(event.event_time, event.transaction_id)},
            "transaction_id": {"S": event.transaction_id},
            "decision": {"S": decision},
            "score": {"N": repr(float(scored.score))},
            "reasons": {"L": [{"S": r} for r in scored.reasons]},
            "amount": {"N": repr(float(event.amount))},
            "merchant_id": {"S": event.merchant_id},
            "model_version": {"S": scored.model_version},
            "event_time": {"S": format_time(event.event_time)},
            ALERTS_TTL_ATTRIBUTE: {"N": str(int((event.event_time + self.ttl).timestamp()))},
            "currency": {"S": event.currency},
            "scored_by": {"S": scored.scored_by},
        }


@dataclass
class Tally:
    """What the loop did: per processed record its commit time (monotonic) and latency."""

    done_at: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    seen: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (shard, seq, sub-seq)
    transactions: set[str] = field(default_factory=set)
    decisions: Counter[str] = field(default_factory=Counter)
    scored_by: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    stage_seconds: dict[str, float] = field(  # summed over the processed records
        default_factory=lambda: dict.fromkeys(("features", "score", "put_item"), 0.0)
    )

    def add(
        self, key: tuple[str, str, int], transaction_id: str, done_at: float, latency: float
    ) -> None:
        self.seen[key] += 1
        self.transactions.add(transaction_id)
        self.done_at.append(done_at)
        self.latencies.append(latency)

    @property
    def processed(self) -> int:
        return len(self.done_at)

    @property
    def duplicates(self) -> int:
        """Records processed more than once (each extra time counted)."""
        return sum(n - 1 for n in self.seen.values() if n > 1)


# --- the I/O loop ----------------------------------------------------------------------------
class NaiveConsumer:
    """One thread: GetRecords on each shard in turn, then score and put each record."""

    def __init__(
        self,
        settings: Settings,
        *,
        limit: int = GET_RECORDS_LIMIT,
        idle_sleep: float = IDLE_SLEEP_SECONDS,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.limit = limit
        self.idle_sleep = idle_sleep
        self.wall = wall
        self.monotonic = monotonic
        self.kinesis = aws.client("kinesis", settings)
        self.dynamodb = aws.client("dynamodb", settings)
        self.scorer = ScoringClient.from_settings(settings)
        model = self.scorer.local_model()  # thresholds, feature config, reason codes
        if model is None or model.thresholds is None:
            raise RuntimeError(f"no model with thresholds in {settings.model_dir}")
        self.work = RecordWork(model.feature_config, model.thresholds, settings.alert_ttl_days)
        self.tally = Tally()
        self.iterators: dict[str, str] = {}
        self.fetched: dict[str, list[dict[str, Any]]] = {}  # read but not yet handled

    def start(self) -> NaiveConsumer:
        """Iterators at TRIM_HORIZON for every shard (before any traffic is sent)."""
        shards = self.kinesis.list_shards(StreamName=self.settings.stream_name)["Shards"]
        for shard in shards:
            self.iterators[shard["ShardId"]] = self.kinesis.get_shard_iterator(
                StreamName=self.settings.stream_name,
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
        return self

    def run(self, stop: Callable[[], bool]) -> Tally:
        """Poll the shards in turn until ``stop()`` (checked after every record) is true; a
        later call resumes where this one stopped, with the rest of the fetched records."""
        while not stop():
            got = 0
            for shard_id in list(self.iterators):
                records = self.fetched.pop(shard_id, None)
                if records is None:
                    response = self.kinesis.get_records(
                        ShardIterator=self.iterators[shard_id], Limit=self.limit
                    )
                    self.iterators[shard_id] = response["NextShardIterator"]
                    records = _user_records(response["Records"])
                for position, record in enumerate(records, start=1):
                    got += 1
                    self.handle(shard_id, record)
                    if stop():
                        if position < len(records):
                            self.fetched[shard_id] = records[position:]
                        return self.tally
            if not got:
                time.sleep(self.idle_sleep)
        return self.tally

    def handle(self, shard_id: str, record: dict[str, Any]) -> None:
        began = self.monotonic()
        try:
            event, vector = self.work.vector(record["Data"])
        except InvalidEvent as error:
            self.tally.invalid[error.reason] += 1
            return
        featured = self.monotonic()
        batch = self.scorer.score(np.array([vector]))
        words = [batch.feature_words[k] for k in batch.reason_features[0] if k >= 0]
        scored = Scored(
            float(batch.scores[0]), str(batch.model_version[0]), str(batch.scored_by[0]), words
        )
        decision = self.work.decision(scored.score)
        decided = self.monotonic()
        self.dynamodb.put_item(
            TableName=self.settings.alerts_table, Item=self.work.item(event, scored, decision)
        )
        latency = self.wall() - record["ApproximateArrivalTimestamp"].timestamp()
        done = self.monotonic()
        key = (shard_id, record["SequenceNumber"], record["SubSequenceNumber"])
        self.tally.add(key, event.transaction_id, done, latency)
        self.tally.stage_seconds["features"] += featured - began
        self.tally.stage_seconds["score"] += decided - featured
        self.tally.stage_seconds["put_item"] += done - decided
        self.tally.decisions[decision] += 1
        self.tally.scored_by[scored.scored_by] += 1


def _user_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The producer KPL-aggregates: one entry per user record, as a KCL consumer sees them."""
    out = []
    for record in records:
        keys, payloads = kpl.deaggregate(record["Data"], record["PartitionKey"])
        for sub, (key, data) in enumerate(zip(keys, payloads, strict=True)):
            out.append({**record, "Data": data, "PartitionKey": key, "SubSequenceNumber": sub})
    return out


# --- the benchmark ---------------------------------------------------------------------------
def run_rate(
    base: Settings, workdir: Path, rate: int, duration: float, warmup: float, grace: float
) -> dict[str, Any]:
    settings = fresh(base, workdir)
    consumer = NaiveConsumer(settings).start()
    began = time.monotonic()
    producer = cli(
        environment(settings),
        *produce_args(rate=rate, duration=duration, cards=CARDS, label_delay=60),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    expected = round(rate * duration)
    finished: list[float] = []

    def stop() -> bool:
        if not finished:
            if producer.poll() is None:
                return False
            finished.append(time.monotonic())
        return consumer.tally.processed >= expected or time.monotonic() >= finished[0] + grace

    tally = consumer.run(stop)
    if producer.returncode:
        raise RuntimeError(f"the producer failed (exit {producer.returncode}) at {rate}/s")
    done_at = np.asarray(tally.done_at, dtype=np.float64)
    judged = judge(
        done_at,
        done_at,
        np.asarray(tally.latencies, dtype=np.float64),
        expected=expected,
        began=began,
        produced_at=finished[0],
        warmup=warmup,
        grace=grace,
    )
    return {
        "rate": rate,
        "duration_s": duration,
        "produced": expected,
        **judged,
        # over the consumer's own active time (the producer's start to its last record), which
        # for a run that falls behind includes the grace period
        "consumer_per_s": round(done_at.size / max(float(done_at.max()) - began, 1e-9))
        if done_at.size
        else 0,
        "duplicates": tally.duplicates,
        "invalid": dict(tally.invalid),
        "decisions": dict(tally.decisions),
        "scored_by": dict(tally.scored_by),
        "model_requests": consumer.scorer.counts["requests"],
        "load_1m_at_end": round(os.getloadavg()[0], 2),  # the machine is shared: how busy it was
        "ms_per_record": {
            stage: round(seconds * 1000 / max(tally.processed, 1), 2)
            for stage, seconds in tally.stage_seconds.items()
        },
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return sweep(
        argv,
        name="naive",
        description=__doc__.splitlines()[0],
        rates="50,100,250,500,1000,2500",
        duration=40.0,
        workdir_prefix="fraudstream-naive-",
        run_rate=run_rate,
        detail=lambda run: (
            f"p95 {run['e2e_latency']['p95_ms']} ms p99 {run['e2e_latency']['p99_ms']} ms"
        ),
        facts=lambda base: {
            "design": "one GetRecords loop over the shards, one model request and one PutItem "
            "per record, no Spark",
            "cards": CARDS,
            "shards": base.stream_shards,
            "get_records_limit": GET_RECORDS_LIMIT,
        },
    )


if __name__ == "__main__":
    main()
