"""What shadow scoring adds to the processor's cost per transaction (issue 22: <= 10 %).

Runs :mod:`benchmarks.batch_sink` in alternating pairs, without and with ``--shadow`` (a
challenger scoring every batch in process and its rows committed to the ``shadow_scores``
table), and reports each pair's CPU microseconds per transaction, the overhead, and the part of
it in the two stages shadow scoring touches (decisions: the challenger's predict and rows;
lake: the extra table's upload and commit). Pairs alternate so a change in the machine's load
hits both sides alike; the median pair is the figure, the spread says how far to trust it.

Run: ``python -m benchmarks.shadow_cost [--pairs 3] [--batch-rows 1500] [--batches 40]``, or
``--collect plain1.json shadow1.json ...`` to summarise batch_sink results already written
(pairs in order). Results: ``benchmarks/results/shadow_cost.json`` (``--name``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path
from typing import Any

from benchmarks import batch_sink, results

TOUCHED = ("decisions", "lake")


def pair(plain: dict[str, Any], shadow: dict[str, Any]) -> dict[str, Any]:
    """One pair's figures from two batch_sink results."""

    def touched(run: dict[str, Any]) -> float:
        return float(sum(run["stage_cpu_us_per_tx"][s] for s in TOUCHED))

    def others(run: dict[str, Any]) -> float:
        stages = run["stage_cpu_us_per_tx"]
        return float(sum(v for s, v in stages.items() if s not in TOUCHED))

    base, more = float(plain["cpu_us_per_tx"]), float(shadow["cpu_us_per_tx"])
    return {
        "batch_rows": plain["batch_rows"],
        "measured_at": [plain["machine"]["measured_at"], shadow["machine"]["measured_at"]],
        "load_average": [plain.get("load_average"), shadow.get("load_average")],
        "cpu_us_per_tx": [base, more],
        "overhead_us": round(more - base, 1),
        "overhead": round((more - base) / base, 3),
        "decisions_and_lake_us": [round(touched(plain), 1), round(touched(shadow), 1)],
        "other_stages_us": [round(others(plain), 1), round(others(shadow), 1)],
    }


def summary(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per batch size: the median overhead and the spread, against the 10 % target."""
    out: dict[str, Any] = {}
    for rows in sorted({p["batch_rows"] for p in pairs}):
        mine = [p for p in pairs if p["batch_rows"] == rows]
        shares = [p["overhead"] for p in mine]
        out[str(rows)] = {
            "pairs": len(mine),
            "median_overhead": round(statistics.median(shares), 3),
            "range": [min(shares), max(shares)],
            "median_overhead_us": round(statistics.median(p["overhead_us"] for p in mine), 1),
            "within_10_percent": statistics.median(shares) <= 0.10,
        }
    return out


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    pairs = []
    common = ["--batches", str(args.batches), "--batch-rows", str(args.batch_rows)]
    for _ in range(args.pairs):
        runs = []
        for extra, name in (([], "batch_sink"), (["--shadow"], "batch_sink_shadow")):
            load = [round(x, 2) for x in os.getloadavg()]
            batch_sink.main([*common, *extra])
            run = json.loads((results.RESULTS / f"{name}.json").read_text())
            runs.append({**run, "load_average": load})
        pairs.append(pair(*runs))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, default=1500)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--collect", nargs="+", type=Path, help="batch_sink results, in pairs")
    parser.add_argument("--name", default="shadow_cost")
    args = parser.parse_args(argv)
    if args.collect:
        if len(args.collect) % 2:
            parser.error("--collect takes plain/shadow results in pairs")
        loaded = [json.loads(path.read_text()) for path in args.collect]
        pairs = [pair(a, b) for a, b in zip(loaded[::2], loaded[1::2], strict=True)]
    else:
        pairs = measure(args)
    out = {"summary": summary(pairs), "pairs": pairs}
    print(json.dumps(out["summary"], indent=2))
    print(f"wrote {results.write(args.name, out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
