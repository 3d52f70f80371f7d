"""The five fault scenarios. Each runs on fresh streams, bucket, table and checkpoint, drives
the real producer, processor and model server through one fault, waits until the processor has
committed every record on the stream, then reads back the lake and the alerts table and
accounts for every record (:mod:`.accounting`).

``recovery_s`` is measured from the end of the fault to the pipeline being normal again:

* ``kill_restart``: restart of the killed processor -> its first committed batch;
* ``model_down``: the model server back -> the first batch scored by it again;
* ``throttling``: the producer done (its throttled writes retried) -> every record committed,
  alerts written through throttled BatchWriteItem calls;
* ``malformed_flood``: the last malformed record put -> every record committed;
* ``duplicates``: the last duplicate put -> every record committed.
"""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.faults.accounting import (
    Delivery,
    Quarantine,
    SourceKey,
    account,
    check_quarantine,
)
from benchmarks.faults.malformed import KINDS, malformed_records
from benchmarks.faults.processes import Processor, start_producer, wait_producer
from benchmarks.faults.profile import Profile
from benchmarks.faults.progress import Batch, committed_rows, drained
from benchmarks.faults.streams import put_tracked, records, survey
from benchmarks.harness import ModelServer, fresh
from fraudstream.readback import alert_ids, ground_truth, lake_table
from fraudstream.settings import Settings
from fraudstream.stack.faults import Fault, FaultPlan, get_faults, set_faults
from producer.simulated import watermark_for

THROTTLING = FaultPlan(
    (
        Fault("PutRecords", probability=0.1, name="put_records_throttled"),
        Fault("PutRecords", "partial", fraction=0.3, name="put_records_failed_records"),
        Fault("BatchWriteItem", probability=0.1, name="batch_write_throttled"),
        Fault("BatchWriteItem", "partial", fraction=0.3, name="batch_write_unprocessed_items"),
    ),
    seed=7,
)
"""Throttling for the ``throttling`` scenario: 30 % of records refused inside a successful
PutRecords, 10 % of PutRecords calls refused whole; the same for the alerts' BatchWriteItem."""


@dataclass
class Rig:
    """What every scenario shares: the emulator, the trained model and its server."""

    base: Settings  # emulator endpoint, model_dir, model_endpoint_url of ``model_server``
    model_server: ModelServer
    workdir: Path
    profile: Profile
    processors: list[Processor] = field(default_factory=list)  # of the scenario running


@dataclass
class Outcome:
    """One scenario's result."""

    scenario: str
    events_in: int  # records put on the transaction stream (duplicates and malformed included)
    delivery: Delivery
    quarantine: Quarantine
    recovery_s: float | None
    checks: dict[str, bool]  # named conditions, all must hold
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


@dataclass
class Run:
    """One scenario's own resources and processor."""

    name: str
    rig: Rig
    settings: Settings
    folder: Path
    processor: Processor

    @property
    def profile(self) -> Profile:
        return self.rig.profile

    def produce(
        self, *, rate: int | None = None, duration: float | None = None, phase: int = 0
    ) -> Any:
        """Start the producer; each ``phase`` of a run sends its own transactions (seed)."""
        p = self.profile
        return start_producer(
            self.settings,
            rate=rate or p.rate,
            duration=duration or p.duration,
            cards=p.cards,
            seed=zlib.crc32(self.name.encode()) % 1000 + phase,
            log=self.folder / "producer.log",
        )

    def wait_producer(self, producer: Any) -> float:
        wait_producer(producer, self.folder / "producer.log")
        return time.time()

    def wait_for(
        self,
        what: str,
        condition: Callable[[list[Batch]], bool],
        timeout: float | None = None,
    ) -> list[Batch]:
        """Poll the batch log until ``condition`` holds; fail if the processor dies."""
        deadline = time.monotonic() + (timeout or self.profile.drain_timeout)
        while True:
            batches = self.processor.batches()
            if condition(batches):
                return batches
            self.processor.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: timed out waiting for {what}")
            time.sleep(0.25)

    def drain(self, *, supervise: bool = False) -> tuple[int, float]:
        """Wait until a committed batch covers every record on the stream (nothing is put
        any more). ``supervise``: restart the processor if it exits, as Kubernetes would.
        Returns the stream's record count and when it was drained."""
        count, tips = survey(self.settings)
        checkpoint = Path(self.settings.checkpoint_dir) / "query"
        deadline = time.monotonic() + self.profile.drain_timeout
        while not drained(checkpoint, self.settings.stream_name, tips):
            if supervise and not self.processor.running():
                self.processor.start()
            self.processor.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: the processor did not catch up")
            time.sleep(0.25)
        return count, time.time()

    def settle(
        self,
        *,
        events_in: int,
        recovery_s: float | None,
        malformed: dict[SourceKey, str] | None = None,
        checks: dict[str, bool] | None = None,
        details: dict[str, Any] | None = None,
    ) -> Outcome:
        """Stop the processor, read back the lake and the alerts, account for every record."""
        self.processor.stop()
        transactions = lake_table(self.settings, "transactions")
        delivery = account(
            ground_truth(self.settings),
            zip(
                transactions["transaction_id"].to_pylist(),
                transactions["decision"].to_pylist(),
                strict=True,
            ),
            alert_ids(self.settings),
        )
        rows = lake_table(self.settings, "quarantine")
        quarantine = check_quarantine(
            malformed or {},
            zip(
                zip(rows["shard_id"].to_pylist(), rows["sequence_number"].to_pylist(), strict=True),
                rows["reason"].to_pylist(),
                strict=True,
            ),
        )
        scored: dict[str, int] = {}
        for path in transactions["scored_by"].to_pylist():
            scored[path] = scored.get(path, 0) + 1
        return Outcome(
            scenario=self.name,
            events_in=events_in,
            delivery=delivery,
            quarantine=quarantine,
            recovery_s=None if recovery_s is None else round(recovery_s, 1),
            checks={
                "exactly_once": delivery.exactly_once,
                "transactions_sent": delivery.sent > 0,
                "quarantine_exact": quarantine.ok,
                **(checks or {}),
            },
            details={
                "processor_starts": self.processor.starts,
                "scored_by": dict(sorted(scored.items())),
                **(details or {}),
            },
        )


def new_run(rig: Rig, name: str, **overrides: Any) -> Run:
    p = rig.profile
    folder = rig.workdir / f"{name}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    settings = fresh(
        rig.base,
        rig.workdir,
        **{
            "max_records_per_trigger": p.max_records_per_trigger,
            "watermark": watermark_for(p.rate, p.cards, wall_seconds=30),
            **overrides,
        },
    )
    processor = Processor(settings, folder)
    rig.processors.append(processor)
    return Run(name, rig, settings, folder, processor)


def _with_rows(batches: list[Batch], pid: int | None = None) -> list[Batch]:
    return [b for b in batches if b.rows and (pid is None or b.pid == pid)]


# -- the scenarios ------------------------------------------------------------------------------


def kill_restart(rig: Rig) -> Outcome:
    """``kill -9`` the processor (driver, JVM, workers) mid-stream, restart it on its
    checkpoint while the producer keeps sending."""
    run = new_run(rig, "kill_restart")
    p = rig.profile
    run.processor.start()
    producer = run.produce()
    run.wait_for("batches to kill", lambda b: len(_with_rows(b)) >= p.kill_after_batches)
    first_pid = run.processor.process.pid if run.processor.process else None
    run.processor.kill()
    killed = time.time()
    producing = producer.poll() is None
    committed_at_kill = committed_rows(run.processor.batches())
    restarted = run.processor.start()
    second_pid = run.processor.process.pid if run.processor.process else None
    batches = run.wait_for(
        "the restarted processor's first batch", lambda b: any(x.pid == second_pid for x in b)
    )
    resumed = min(b.at for b in batches if b.pid == second_pid)
    run.wait_producer(producer)
    events_in, drained_at = run.drain()
    batches = run.processor.batches()
    before = {b.batch_id for b in batches if b.pid == first_pid}
    after = {b.batch_id for b in batches if b.pid == second_pid}
    outcome = run.settle(
        events_in=events_in,
        recovery_s=resumed - restarted,
        checks={"resumed": bool(after)},
        details={
            "batches_before_kill": len(before),
            "rows_committed_before_kill": committed_at_kill,
            "replayed_batches": sorted(before & after),
            "producer_running_at_kill": producing,
            "downtime_s": round(restarted - killed, 1),
            "caught_up_after_restart_s": round(drained_at - restarted, 1),
        },
    )
    # Killed mid-stream: records were left on the stream for the restarted run to process.
    outcome.checks["killed_with_backlog"] = committed_at_kill < outcome.delivery.sent
    return outcome


def model_down(rig: Rig) -> Outcome:
    """Kill the model server mid-stream, keep it down ``outage_seconds`` (and until a batch
    was scored without it), start it again: the processor scores in-process meanwhile and goes
    back to the endpoint."""
    p = rig.profile
    run = new_run(rig, "model_down", model_breaker_reset_seconds=p.breaker_reset_seconds)
    run.processor.start()
    producer = run.produce(rate=p.outage_rate, duration=p.outage_duration)
    run.wait_for(
        "a batch scored by the endpoint", lambda b: any(x.scored_by.get("endpoint") for x in b)
    )
    rig.model_server.kill()
    down = time.time()
    # Down for outage_seconds, and at least until a batch was scored without the endpoint.
    run.wait_for(
        "a batch scored in-process",
        lambda b: (
            time.time() - down >= p.outage_seconds
            and any(x.at > down and x.scored_by.get("fallback") for x in b)
        ),
    )
    rig.model_server.start()
    up = time.time()
    after = run.produce(rate=p.outage_rate, duration=5.0, phase=1)  # traffic once it is back
    batches = run.wait_for(
        "a batch scored by the endpoint again",
        lambda b: any(x.at > up and x.scored_by.get("endpoint") for x in b),
    )
    back = min(x.at for x in batches if x.at > up and x.scored_by.get("endpoint"))
    producing = producer.poll() is None
    run.wait_producer(producer)
    run.wait_producer(after)
    events_in, _ = run.drain()
    batches = run.processor.batches()
    during = [b for b in batches if down < b.at < up and b.rows]
    fallback_rows = sum(b.scored_by.get("fallback", 0) for b in during)
    endpoint_rows = sum(b.scored_by.get("endpoint", 0) for b in during)
    return run.settle(
        events_in=events_in,
        recovery_s=back - up,
        checks={
            "batches_during_outage": bool(during),
            "outage_scored_in_process": fallback_rows > 0,
            "endpoint_back": back > up,
        },
        details={
            "outage_s": round(up - down, 1),
            "producer_running_at_restart": producing,
            "batches_during_outage": len(during),
            "rows_scored_in_process_during_outage": fallback_rows,
            "rows_scored_by_endpoint_during_outage": endpoint_rows,  # batches begun before it
        },
    )


def throttling(rig: Rig) -> Outcome:
    """Throttle PutRecords (the producer retries the refused records) and BatchWriteItem (the
    alerts sink re-queues unprocessed items, backs off throttled calls) for the whole run."""
    run = new_run(rig, "throttling")
    endpoint = run.settings.endpoint_url or ""
    set_faults(endpoint, THROTTLING)
    try:
        run.processor.start()
        producer = run.produce()
        produced = run.wait_producer(producer)
        events_in, drained_at = run.drain(supervise=True)
        injected = get_faults(endpoint)["injected"]
    finally:
        set_faults(endpoint, FaultPlan())
    kinesis = injected.get("put_records_failed_records", 0) + injected.get(
        "put_records_throttled", 0
    )
    dynamodb = injected.get("batch_write_unprocessed_items", 0) + injected.get(
        "batch_write_throttled", 0
    )
    return run.settle(
        events_in=events_in,
        recovery_s=drained_at - produced,
        checks={"put_records_throttled": kinesis > 0, "batch_write_throttled": dynamodb > 0},
        details={"injected": dict(sorted(injected.items())), "plan": asdict(THROTTLING)},
    )


def malformed_flood(rig: Rig) -> Outcome:
    """Put ``malformed`` bad records (five kinds) on the stream while the producer sends good
    ones: every bad one must be quarantined with its reason, every good one land once."""
    p = rig.profile
    run = new_run(rig, "malformed_flood")
    flood = list(malformed_records(p.malformed, datetime.now(UTC)))
    run.processor.start()
    producer = run.produce()
    chunks = [flood[i : i + 500] for i in range(0, len(flood), 500)]
    pause = p.duration / max(1, len(chunks))
    sent: dict[SourceKey, str] = {}
    for chunk in chunks:  # spread over the producer's run, so bad and good records interleave
        keys = put_tracked(run.settings, [(m.data, m.partition_key) for m in chunk])
        sent.update(zip(keys, (m.reason for m in chunk), strict=True))
        time.sleep(pause)
    flooded = time.time()
    run.wait_producer(producer)
    events_in, drained_at = run.drain()
    outcome = run.settle(events_in=events_in, recovery_s=drained_at - flooded, malformed=sent)
    reasons = set(outcome.quarantine.by_reason)
    outcome.checks["every_reason_present"] = reasons == set(KINDS)
    outcome.checks["all_malformed_sent"] = len(sent) == p.malformed
    return outcome


def duplicates(rig: Rig) -> Outcome:
    """Deliver every transaction record twice: once from the producer, then the same records
    put again while the processor runs. Each transaction once in the lake, alerts once."""
    p = rig.profile
    # A watermark spanning the whole run: the second copies are dropped by the deduplication
    # state, not merely as late rows.
    run = new_run(rig, "duplicates", watermark=watermark_for(p.rate, p.cards, 4 * p.duration))
    run.processor.start()
    producer = run.produce()
    run.wait_producer(producer)
    originals = records(run.settings)
    put_tracked(run.settings, originals)
    redelivered = time.time()
    events_in, drained_at = run.drain()
    outcome = run.settle(
        events_in=events_in,
        recovery_s=drained_at - redelivered,
        details={"redelivered": len(originals)},
    )
    outcome.checks["every_record_twice"] = events_in == 2 * len(originals)
    return outcome


SCENARIOS: dict[str, Callable[[Rig], Outcome]] = {
    "kill_restart": kill_restart,
    "model_down": model_down,
    "throttling": throttling,
    "malformed_flood": malformed_flood,
    "duplicates": duplicates,
}


def run_scenario(rig: Rig, name: str) -> Outcome:
    """Run one scenario; whatever happens, leave no processor running and the model server up
    for the next one."""
    try:
        return SCENARIOS[name](rig)
    finally:
        for processor in rig.processors:
            processor.kill()
        rig.processors.clear()
        if not rig.model_server.running():
            rig.model_server.start()
