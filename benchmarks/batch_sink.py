"""The batch sink alone: microseconds per transaction, stage by stage, without Spark.

A private emulator (lake bucket and alerts table on it), a model trained on generator
history, and simulated traffic of the regime the pipeline benchmark produces (20,000 cards,
2 % fraud, labels a minute after their transactions), cut into micro-batches of
``--batch-rows`` rows in the union shape the streaming plan hands the sink. Each batch goes
through :meth:`processor.batch_sink.BatchSink.process` exactly as in the job (labels,
features, scoring, decisions and windows, lake, alerts, state), scored in-process (the
fallback path: the endpoint's HTTP time is measured by ``benchmarks.model_serving``) or by the
model server with ``--endpoint``. ``--shadow`` adds a challenger scoring every transaction in
shadow (a second copy of the model; ``processor.shadow``): its results go to
``batch_sink_shadow.json``, to compare with ``batch_sink.json`` of the same commit.
``--no-anomaly`` turns the anomaly signal off (``FRAUDSTREAM_ANOMALY_SIGNAL=false``; the
``anomaly`` stage is the detector's scoring, its decisions are in ``decisions``):
``batch_sink_no_anomaly.json``.

Reported per stage and in all, over the batches after the first ``--warmup`` ones: wall and
CPU microseconds per transaction (CPU of this process: the emulator serving the writes is not
counted), the batch time's p50 and p95.

Run: ``python -m benchmarks.batch_sink [--batches 40] [--batch-rows 1500] [--endpoint]
[--shadow] [--no-anomaly]``.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks.harness import CARDS, bench_stack, fresh, model_server, train
from benchmarks.results import write
from fraudstream import aws
from fraudstream.events import arrow_schema
from fraudstream.settings import Settings
from ml_model.artifact import load_model
from ml_model.scoring.client import ScoringClient
from processor.batch_sink import BatchSink, SinkParts
from processor.decisions import RulesFile
from processor.event_source import ROW_SCHEMA
from processor.shadow import ShadowScorer
from processor.sink_state import SinkStore
from processor.sinks.alerts import AlertWriter
from processor.sinks.lake import LakeWriter
from producer.generator import GeneratedTransaction, TransactionGenerator
from producer.simulated import simulated_config

STAGES = ("labels", "features", "scoring", "anomaly", "decisions", "lake", "alerts", "state")


def union_rows(
    transactions: list[GeneratedTransaction],
    labels: list[GeneratedTransaction],
    label_delay: timedelta,
    first_sequence: int,
) -> pa.Table:
    """One micro-batch in the plan's row shape (transactions, then the labels due)."""
    names = arrow_schema().names
    rows: list[dict[str, Any]] = []
    arrival = datetime.now(UTC)
    sequence = itertools.count(first_sequence)
    for g in transactions:
        event = g.event
        row = {name: getattr(event, name) for name in names}
        row |= {
            "kind": "tx",
            "event_ms": int(event.event_time.timestamp() * 1000),
            "shard_id": "shardId-000000000000",
            "sequence_number": str(next(sequence)),
            "arrival_time": arrival,
        }
        rows.append(row)
    for g in labels:
        label = g.label(g.event.event_time + label_delay)
        rows.append(
            {
                "kind": "label",
                "transaction_id": label.transaction_id,
                "card_id": label.card_id,
                "merchant_id": label.merchant_id,
                "is_fraud": label.is_fraud,
                "scenario": label.scenario,
                "label_event_time": label.event_time,
                "label_time": label.label_time,
                "shard_id": "shardId-000000000001",
                "sequence_number": str(next(sequence)),
                "arrival_time": arrival,
            }
        )
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def batches(count: int, rows: int) -> list[pa.Table]:
    """``count`` micro-batches of ``rows`` transactions of simulated traffic, each with the
    labels (a minute old) of the transactions before it."""
    total = count * rows
    config = simulated_config(
        events=total,
        cards=CARDS,
        seed=17,
        fraud_rate=0.02,
        token_key=b"bench",
        now=datetime.now(UTC),
    )
    generated = list(itertools.islice(TransactionGenerator(config), total))
    delay = timedelta(minutes=1)
    out = []
    for k in range(count):
        chunk = generated[k * rows : (k + 1) * rows]
        cutoff = chunk[0].event.event_time - delay
        due = [
            g for g in generated[max(0, (k - 1) * rows) : k * rows] if g.event.event_time <= cutoff
        ]
        out.append(union_rows(chunk, due, delay, k * 10 * rows))
    return out


def make_sink(
    settings: Settings, model_dir: Path, endpoint_url: str | None, shadow: bool = False
) -> BatchSink:
    model = load_model(model_dir)
    if endpoint_url:
        scorer = ScoringClient.from_settings(
            settings.model_copy(
                update={"model_endpoint_url": endpoint_url, "sagemaker_endpoint": "bench"}
            ),
            fallback=model,
        )
    else:
        runtime = aws.client("sagemaker-runtime", settings, max_attempts=1)
        scorer = ScoringClient(runtime, "absent", fallback=model, retries=0)
        scorer.breaker.failure_threshold = 1  # straight to the in-process copy
    parts = SinkParts(
        lake=LakeWriter(settings),
        alerts=AlertWriter(settings),
        store=SinkStore(str(Path(settings.state_dir) / "sink-state"), settings),
        scorer=scorer,
        rules=RulesFile(None),
    )
    if shadow:
        challenger = load_model(model_dir)
        challenger.manifest["version"] = "shadow"
        parts.shadow = ShadowScorer(challenger, model)
    return BatchSink(settings, model, parts)


def anomaly_counts(settings: Settings, model_dir: Path) -> dict[str, Any]:
    """What the anomaly signal did over the whole run (warm-up batches included), read back
    from the lake: rows at or above the detector's threshold, those reviewed as anomalous
    (a reason appears once a row), and the rows the budget's anomaly part allows."""
    import pyarrow.compute as pc

    from fraudstream.readback import lake_table

    written = lake_table(settings, "transactions")
    detector = load_model(model_dir).anomaly
    reasons = pc.list_flatten(written["reasons"])
    budget = RulesFile(None).current().budget
    above = pc.greater_equal(written["anomaly_score"], detector.threshold if detector else 2.0)
    return {
        "rows": written.num_rows,
        "at_or_above_threshold": int(pc.sum(above).as_py() or 0),
        "reviewed_anomalous": int(pc.sum(pc.equal(reasons, "anomalous")).as_py() or 0),
        "anomaly_part_rows": (
            round(written.num_rows * budget.review_share * budget.anomaly_part, 1)
            if budget
            else None
        ),
    }


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-rows", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=5, help="batches left out of the figures")
    parser.add_argument("--endpoint", action="store_true", help="score through the model server")
    parser.add_argument("--shadow", action="store_true", help="add a shadow challenger")
    parser.add_argument("--no-anomaly", action="store_true", help="anomaly signal off")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-sink-"))
    print(f"generating {args.batches} batches of {args.batch_rows:,} transactions ...", flush=True)
    work = batches(args.batches, args.batch_rows)
    with bench_stack(workdir) as stack:
        model_dir = train(stack, workdir)
        run = fresh(
            stack.model_copy(
                update={
                    "model_dir": model_dir,
                    "watermark": "5 hours",
                    "anomaly_signal": not args.no_anomaly,
                }
            ),
            workdir,
        )
        stages: dict[str, list[float]] = {s: [] for s in STAGES}
        stages_cpu: dict[str, list[float]] = {s: [] for s in STAGES}
        wall: list[float] = []
        cpu: list[float] = []
        rows: list[int] = []
        decisions: dict[str, int] = {}

        def process_all(sink: BatchSink) -> None:
            for batch_id, batch in enumerate(work):
                began, began_cpu = time.perf_counter(), time.process_time()
                summary = sink.process(batch, batch_id)
                if batch_id < args.warmup:
                    continue
                wall.append(time.perf_counter() - began)
                cpu.append(time.process_time() - began_cpu)
                rows.append(summary.rows)
                for outcome, count in summary.decisions.items():
                    decisions[outcome] = decisions.get(outcome, 0) + count
                for stage in STAGES:
                    stages[stage].append(sink.timings.get(stage, 0.0))
                    stages_cpu[stage].append(sink.cpu_timings.get(stage, 0.0))

        if args.endpoint:
            with model_server(run) as url:
                process_all(make_sink(run, model_dir, url, args.shadow))
        else:
            process_all(make_sink(run, model_dir, None, args.shadow))
        anomaly = anomaly_counts(run, model_dir)
    n = sum(rows)
    per_tx = {s: round(sum(v) / n * 1e6, 1) for s, v in stages.items()}
    cpu_per_tx = {s: round(sum(v) / n * 1e6, 1) for s, v in stages_cpu.items()}
    result = {
        "batches": len(rows),
        "batch_rows": args.batch_rows,
        "scoring": "endpoint" if args.endpoint else "in-process",
        "anomaly_signal": not args.no_anomaly,
        "wall_us_per_tx": round(sum(wall) / n * 1e6, 1),
        "cpu_us_per_tx": round(sum(cpu) / n * 1e6, 1),
        "stage_wall_us_per_tx": per_tx,
        "stage_cpu_us_per_tx": cpu_per_tx,
        "decisions": decisions,
        "anomaly": anomaly,
        "batch_ms": {
            "p50": round(percentile(wall, 50) * 1000, 1),
            "p95": round(percentile(wall, 95) * 1000, 1),
        },
    }
    print(result, flush=True)
    name = "batch_sink_endpoint" if args.endpoint else "batch_sink"
    name += "_shadow" if args.shadow else ""
    name += "_no_anomaly" if args.no_anomaly else ""
    print(f"wrote {write(name, result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
