"""The lake as Delta tables: commit cost per micro-batch, files after compaction, query speed.

Drives :class:`processor.sinks.lake.LakeWriter` directly with generated micro-batches at the
processor's cadence (a batch of ``rate * batch_seconds`` transactions every ``batch_seconds`` of
the live clock, with as many labels, twice as many closed windows and a few quarantined
records: the four tables' rows of a batch at that rate), against a private emulator. The writer
is what the batch sink calls, so this measures the same commits as the whole pipeline without
spending the shared CPU on Spark, features and scoring.

Then, for the same data: the query over the whole run on the table as written (one small file
per table, batch and partition-hour), one compaction (``fraudstream lake compact``'s code), the
files left per partition-hour, and the same query on the compacted table, both with DuckDB over
the tables' Arrow datasets (``fraudstream lake query``'s code). Row counts and distinct ids are
checked equal before and after: compaction loses and duplicates nothing.

``python -m benchmarks.lake_table`` (10 minutes, 1,000/s); ``--minutes 0.2`` for a quick look.
Results: benchmarks/results/lake_table.json; summary in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks import results
from benchmarks.harness import bench_stack
from fraudstream import aws, lake_tables
from fraudstream.lake import maintenance, query, storage
from fraudstream.settings import Settings
from fraudstream.stack import lifecycle
from ml_model.features import FEATURE_NAMES
from processor.sinks.lake import LakeWriter

QUERIES = {
    "decisions": (
        "SELECT decision, count(*) AS n, avg(score) AS mean_score, sum(amount) AS amount "
        "FROM transactions GROUP BY decision ORDER BY decision"
    ),
    "labelled_fraud_by_hour": (
        "SELECT t.dt, t.hour, count(*) AS n, count_if(l.is_fraud) AS fraud "
        "FROM transactions AS t LEFT JOIN labels AS l ON l.transaction_id = t.transaction_id "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    ),
}
UTC_US = pa.timestamp("us", tz="UTC")


def _times(base_us: int, rng: np.random.Generator, count: int, spread_us: int) -> pa.Array:
    return pa.array(base_us - rng.integers(0, spread_us, count), UTC_US)


def make_batch(
    batch_id: int, now: datetime, transactions: int, seed: int = 7
) -> dict[str, pa.Table]:
    """The four tables' rows of one micro-batch of ``transactions`` at wall time ``now``:
    event times within the last batch interval, labels for earlier transactions, closed
    5-minute windows for about two entities per transaction, and a few rejected records."""
    rng = np.random.default_rng(seed * 1_000_003 + batch_id)
    now_us = int(now.timestamp() * 1_000_000)
    n = transactions
    width = len(FEATURE_NAMES)
    cards = np.char.add("tok_", rng.integers(0, 20_000, n).astype(str))
    merchants = np.char.add("m", rng.integers(0, 2_000, n).astype(str))
    ids = [f"tx-{batch_id}-{i}" for i in range(n)]
    scores = rng.beta(0.5, 12, n)
    decisions = np.where(scores > 0.5, "block", np.where(scores > 0.2, "review", "approve"))
    features = pa.MapArray.from_arrays(
        pa.array(np.arange(0, (n + 1) * width, width, dtype=np.int32)),
        pa.array(np.tile(np.array(FEATURE_NAMES, dtype=object), n), pa.string()),
        pa.array(rng.random(n * width)),
    )
    event = _times(now_us, rng, n, 1_500_000)
    tx = {
        "transaction_id": ids,
        "card_id": cards,
        "merchant_id": merchants,
        "amount": np.round(rng.gamma(2.0, 30.0, n), 2),
        "currency": ["EUR"] * n,
        "event_time": event,
        "merchant_category": rng.choice(["grocery", "fuel", "travel", "online"], n),
        "channel": rng.choice(["pos", "online", "atm"], n),
        "country": rng.choice(["FR", "DE", "NL", "ES"], n),
        "lat": rng.uniform(40, 55, n),
        "lon": rng.uniform(-5, 15, n),
        "schema_version": np.ones(n, dtype=np.int64),
        "features": features,
        "score": scores,
        "anomaly_score": rng.uniform(0.3, 0.7, n),
        "model_version": ["bench"] * n,
        "scored_by": ["endpoint"] * n,
        "decision": decisions,
        "reasons": pa.array([[] if d == "approve" else ["high_model_score"] for d in decisions]),
        "shard_id": rng.choice(["shardId-000000000000", "shardId-000000000001"], n),
        "sequence_number": rng.integers(0, 2**62, n).astype(str),
        "arrival_time": event,
        "processed_at": pa.array(np.full(n, now_us), UTC_US),
        "batch_id": np.full(n, batch_id, dtype=np.int64),
    }
    labelled = rng.integers(0, n, n)
    labels = {
        "transaction_id": [ids[i] for i in labelled],
        "card_id": cards[labelled],
        "merchant_id": merchants[labelled],
        "is_fraud": rng.random(n) < 0.02,
        "scenario": ["genuine"] * n,
        "event_time": event.take(pa.array(labelled)),
        "label_time": _times(now_us, rng, n, 1_500_000),
        "batch_id": np.full(n, batch_id, dtype=np.int64),
    }
    windows = 2 * n
    start = (now_us - 600_000_000) // 300_000_000 * 300_000_000
    aggregates = {
        "entity_type": rng.choice(["card", "merchant"], windows),
        "entity_id": rng.integers(0, 20_000, windows).astype(str),
        "window_start": pa.array(np.full(windows, start), UTC_US),
        "window_end": pa.array(np.full(windows, start + 600_000_000), UTC_US),
        "tx_count": rng.integers(1, 6, windows),
        "amount_sum": rng.gamma(2.0, 60.0, windows),
        "amount_max": rng.gamma(2.0, 30.0, windows),
        "fraud_decisions": rng.integers(0, 2, windows),
        "batch_id": np.full(windows, batch_id, dtype=np.int64),
    }
    rejected = max(1, n // 300)
    quarantine = {
        "raw": ['{"amount": "x"'] * rejected,
        "reason": ["bad_json"] * rejected,
        "detail": ["Expecting ',' delimiter"] * rejected,
        "shard_id": ["shardId-000000000000"] * rejected,
        "sequence_number": rng.integers(0, 2**62, rejected).astype(str),
        "arrival_time": _times(now_us, rng, rejected, 1_500_000),
        "batch_id": np.full(rejected, batch_id, dtype=np.int64),
    }
    return {
        name: pa.table(columns, schema=lake_tables.arrow_schema(name))
        for name, columns in (
            ("transactions", tx),
            ("labels", labels),
            ("aggregates", aggregates),
            ("quarantine", quarantine),
        )
    }


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(_percentile(values, 50) * 1000, 1),
        "p95": round(_percentile(values, 95) * 1000, 1),
        "max": round(max(values, default=0.0) * 1000, 1),
        "mean": round(statistics.fmean(values) * 1000, 1) if values else 0.0,
    }


def write_run(
    settings: Settings, *, minutes: float, rate: int, batch_seconds: float
) -> dict[str, Any]:
    """Write batches at the live cadence; per-batch timings of the writer."""
    per_batch = round(rate * batch_seconds)
    batches = max(1, round(minutes * 60 / batch_seconds))
    walls: list[float] = []
    commits: list[float] = []
    cpus: list[float] = []
    late = 0
    with LakeWriter(settings, query="lake-benchmark") as writer:
        began = time.monotonic()
        for batch_id in range(batches):
            due = began + batch_id * batch_seconds
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                late += 1
            rows = make_batch(batch_id, datetime.now(UTC), per_batch)
            cpu = time.process_time()
            result = writer.write_tables(batch_id, rows)
            cpus.append(time.process_time() - cpu)
            walls.append(result.seconds)
            commits.append(result.commit_seconds)
            if batch_id % 100 == 0:
                print(f"batch {batch_id}/{batches}: {result.seconds * 1000:.0f} ms", flush=True)
        elapsed = time.monotonic() - began
    steady = slice(1, None)  # the first batch creates the tables
    return {
        "batches": batches,
        "transactions_per_batch": per_batch,
        "seconds": round(elapsed, 1),
        "batches_started_late": late,
        "first_batch_ms": round(walls[0] * 1000, 1),
        "write_tables_ms": _ms(walls[steady]),
        "commit_overhead_ms": _ms(commits[steady]),
        "write_tables_cpu_ms": _ms(cpus[steady]),
    }


def files_per_partition(store: storage.LakeStore) -> dict[str, dict[str, Any]]:
    found = {}
    for name in lake_tables.table_names():
        listing = store.listing(name)
        counts = Counter("/".join(o.partition) for o in listing.objects)
        found[name] = {
            "version": listing.version,
            "files": len(listing.objects),
            "rows": sum(o.rows for o in listing.objects),
            "max_files_per_partition": max(counts.values(), default=0),
            "partitions": dict(sorted(counts.items())),
        }
    return found


def _load(stores: dict[str, storage.LakeStore], name: str) -> Any:
    return stores[name].dataset(name)


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) a process has used, from ``/proc`` (0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_query(
    settings: Settings, version: dict[str, int | None], sql: str, runs: int, server: int | None
) -> dict[str, Any]:
    """Median wall and CPU seconds of ``sql`` over the tables at the given versions: the
    query's own process, and the emulator serving its reads (the S3 side of the work, which
    many small files multiply)."""
    walls: list[float] = []
    cpus: list[float] = []
    served: list[float] = []
    rows: list[tuple[Any, ...]] = []
    for _ in range(runs):
        stores = {
            name: storage.LakeStore.from_settings(settings, as_of=v) for name, v in version.items()
        }
        wall, cpu, server_cpu = time.perf_counter(), time.process_time(), process_cpu(server)
        result = query.run(sql, (), partial(_load, stores))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        served.append(process_cpu(server) - server_cpu)
        rows = result.rows
    return {
        "wall_s": round(statistics.median(walls), 3),
        "cpu_s": round(statistics.median(cpus), 3),
        "server_cpu_s": round(statistics.median(served), 3),
        "total_cpu_s": round(
            statistics.median([c + s for c, s in zip(cpus, served, strict=True)]), 3
        ),
        "result_rows": len(rows),
        "result": [list(map(str, r)) for r in rows[:3]],
    }


def run(minutes: float, rate: int, batch_seconds: float, query_runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-lake-") as tmp, bench_stack(Path(tmp)) as stack:
        settings = stack.model_copy(update={"bucket": "bench-lake", "state_dir": Path(tmp)})
        aws.client("s3", settings).create_bucket(Bucket=settings.bucket)
        state = lifecycle.read_state(stack)
        server = state.pid if state else None
        load_before = os.getloadavg()
        writing = write_run(settings, minutes=minutes, rate=rate, batch_seconds=batch_seconds)
        load_after = os.getloadavg()
        written = files_per_partition(storage.LakeStore.from_settings(settings))
        before = {name: t["version"] for name, t in written.items()}
        queries_before = {
            k: time_query(settings, before, q, query_runs, server) for k, q in QUERIES.items()
        }
        # No row arrives after the writer stopped: compact as at the end of the last hour
        # written plus the watermark delay, so every hour of the run counts as closed.
        last = max(
            maintenance.hour_end(*p.split("/")) for t in written.values() for p in t["partitions"]
        )
        settle = timedelta(milliseconds=settings.watermark_ms)
        compaction = []
        for name in lake_tables.table_names():
            outcome = maintenance.compact_table(settings, name, now=last + settle, settle=settle)
            compaction.append(outcome.__dict__ | {"seconds": round(outcome.seconds, 2)})
        compacted = files_per_partition(storage.LakeStore.from_settings(settings))
        after = {name: t["version"] for name, t in compacted.items()}
        queries_after = {
            k: time_query(settings, after, q, query_runs, server) for k, q in QUERIES.items()
        }
    same = all(written[n]["rows"] == compacted[n]["rows"] for n in written)
    speedups = {
        k: round(queries_before[k]["wall_s"] / max(queries_after[k]["wall_s"], 1e-9), 1)
        for k in QUERIES
    }
    cpu_speedups = {
        k: round(queries_before[k]["total_cpu_s"] / max(queries_after[k]["total_cpu_s"], 1e-9), 1)
        for k in QUERIES
    }
    return {
        "method": (
            "LakeWriter driven directly with generated batches at the live cadence against a "
            "private emulator (moto server); one compaction at the end, as of the end of the "
            "last hour written plus the watermark delay; queries with DuckDB over the tables "
            "at the version before and after compaction"
        ),
        "parameters": {
            "minutes": minutes,
            "rate_per_s": rate,
            "batch_seconds": batch_seconds,
            "query_runs": query_runs,
        },
        "load_average": {"before": load_before, "after": load_after},
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "writing": writing,
        "before_compaction": written,
        "compaction": compaction,
        "after_compaction": compacted,
        "rows_unchanged_by_compaction": same,
        "queries": {
            k: {"sql": QUERIES[k], "uncompacted": queries_before[k], "compacted": queries_after[k]}
            for k in QUERIES
        },
        "query_speedup": speedups,
        "query_cpu_speedup_client_and_server": cpu_speedups,
        "targets": {
            "max_files_per_closed_partition_hour": max(
                t["max_files_per_partition"] for t in compacted.values()
            ),
            "files_target": 4,
            "min_query_speedup": min(speedups.values()),
            "min_query_cpu_speedup": min(cpu_speedups.values()),
            "speedup_target": 5,
            "commit_overhead_p50_ms": writing["commit_overhead_ms"]["p50"],
            "commit_overhead_p95_ms": writing["commit_overhead_ms"]["p95"],
            "commit_overhead_target_ms": 50,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=1000, help="transactions per second")
    parser.add_argument("--batch-seconds", type=float, default=1.5)
    parser.add_argument("--query-runs", type=int, default=3)
    parser.add_argument("--out", default="lake_table", help="results file name (no .json)")
    args = parser.parse_args(argv)
    outcome = run(args.minutes, args.rate, args.batch_seconds, args.query_runs)
    path = results.write(args.out, outcome)
    print(f"targets: {outcome['targets']}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
