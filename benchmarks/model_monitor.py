"""The model monitor alone: CPU per transaction of what the batch sink adds per micro-batch.

Synthetic batches (38 features, beta-distributed scores, 1.5 % reviewed, 0.3 % blocked) go
through :class:`~processor.model_monitor.ModelMonitor` as the sink feeds it: bin counting of the
score and the baseline's 8 top features, the decision buffer, and, from the second batch on, a
batch of labels for the transactions decided ``--label-lag`` batches earlier, joined through the
buffer. Reported: CPU microseconds per transaction (``time.process_time``, all threads), for the
traffic alone and with the label join, and the buffer's bytes at its cap; for ``--batch`` rows
a batch and for ``--small-batch`` (the soak's: 1,000/s cut into batches of about a third of a
second), where a cost per batch weighs 14 times more per transaction.

Run: ``python -m benchmarks.model_monitor [--batch 5000] [--small-batch 350] [--batches 200]``.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks.results import write
from ml_model.features import FEATURE_NAMES
from ml_model.monitoring import build_baseline
from processor.model_monitor import DEFAULT_PENDING_ROWS, ModelMonitor


def batches(rng: np.random.Generator, size: int, count: int) -> list[dict[str, Any]]:
    out = []
    for b in range(count):
        matrix = rng.lognormal(1, 1, (size, len(FEATURE_NAMES))).astype(np.float32)
        scores = rng.beta(1, 40, size)
        decided = rng.random(size)
        ids = pa.array([f"tx-{b}-{i:06d}" for i in range(size)], pa.string())
        fraud = pa.array(rng.random(size) < 0.01)
        out.append(
            {
                "ids": ids,
                "matrix": matrix,
                "scores": scores,
                "reviewed": decided < 0.015,
                "blocked": decided > 0.997,
                "fraud": fraud,
            }
        )
    return out


def run(size: int, count: int, label_lag: int, with_labels: bool) -> dict[str, float]:
    rng = np.random.default_rng(1)
    data = batches(rng, size, count)
    names = list(FEATURE_NAMES)
    base = data[0]
    baseline = build_baseline(base["scores"], base["matrix"], names, names[:8])
    monitor = ModelMonitor(baseline, names, review_budget=0.015)
    empty = pa.table(
        {"transaction_id": pa.array([], pa.string()), "is_fraud": pa.array([], pa.bool_())}
    )
    cpu = 0.0
    windows = 0
    for b, batch in enumerate(data):
        labels = empty
        if with_labels and b >= label_lag:
            earlier = data[b - label_lag]
            labels = pa.table({"transaction_id": earlier["ids"], "is_fraud": earlier["fraud"]})
        started = time.process_time()
        report = monitor.observe(
            b,
            batch["ids"],
            batch["matrix"],
            batch["scores"],
            batch["reviewed"],
            batch["blocked"],
            labels,
        )
        cpu += time.process_time() - started
        windows += report is not None
    pending = monitor._pending.nbytes
    return {
        "cpu_us_per_transaction": round(cpu / (size * count) * 1e6, 3),
        "cpu_ms_per_batch": round(cpu / count * 1e3, 3),
        "windows": windows,
        "buffer_bytes": pending,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=5_000, help="transactions per batch")
    parser.add_argument("--small-batch", type=int, default=350, help="a small batch's rows")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--label-lag", type=int, default=12, help="batches until labels arrive")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {
        "args": vars(args),
        "load_average": os.getloadavg(),
        "traffic_only": run(args.batch, args.batches, args.label_lag, with_labels=False),
        "with_labels": run(args.batch, args.batches, args.label_lag, with_labels=True),
    }
    # as many small batches as fill the decision buffer and then as many again
    small = max(args.batches, 2 * DEFAULT_PENDING_ROWS // args.small_batch)
    out["small_batches"] = {
        "batch": args.small_batch,
        "batches": small,
        "traffic_only": run(args.small_batch, small, args.label_lag, with_labels=False),
        "with_labels": run(args.small_batch, small, args.label_lag, with_labels=True),
    }
    print(out, flush=True)
    print(f"wrote {write('model_monitor', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
