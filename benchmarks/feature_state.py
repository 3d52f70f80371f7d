"""The feature engine alone: cost per transaction and bytes of state per card, up to a million
active cards.

Synthetic traffic generated in numpy (a month, ``--per-day`` transactions a card a day at
random times, amounts log-normal around each card's habit, merchants drawn from
``--merchants`` with a local favourite set per card, twelve categories, locations near each
card's home, 2 % of transactions labelled fraud a day later), fed to one
:class:`~ml_model.features.FeatureEngine` a day at a time (``--chunk`` rows per call) as the
training builder does. Reported: CPU microseconds per transaction over the last week (the state
full), the engine's own count of bytes by part (``FeatureEngine.nbytes``), bytes per card, the
process's peak RSS, and the same for the handbook's real cards when the dataset is present.

Run: ``python -m benchmarks.feature_state [--cards 1000000] [--per-day 2]`` (about 10 minutes at
a million cards on the 2-core box; ``--cards 100000`` for a quick look).
"""

from __future__ import annotations

import argparse
import itertools
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks.results import write
from ml_model.features import FeatureConfig, FeatureEngine, build
from ml_model.features.schema import DAY_MS, HOUR_MS

HANDBOOK = (
    Path(__file__).resolve().parents[2]
    / "shared/datasets/fraud-handbook/transactions_2018-04_2018-07.parquet"
)
START_MS = 1_767_225_600_000  # 2026-01-01
CATEGORIES = np.array(
    ["grocery", "restaurant", "fuel", "pharmacy", "clothing", "electronics", "travel",
     "streaming", "marketplace", "gaming", "gift_cards", "cash_withdrawal"],
    dtype=object,
)  # fmt: skip


def day_of_traffic(
    rng: np.random.Generator, day: int, cards: int, per_day: float, merchants: int
) -> tuple[pa.Table, pa.Table]:
    """One day's transactions (sorted by time) and the fraud labels due that day."""
    count = rng.poisson(per_day * cards)
    card = rng.integers(0, cards, count)
    t = START_MS + day * DAY_MS + rng.integers(0, DAY_MS, count)
    order = np.argsort(t, kind="stable")
    card, t = card[order], t[order]
    home_merchant = (card * 2654435761) % merchants  # each card's neighbourhood of merchants
    merchant = (home_merchant + rng.integers(0, 40, count)) % merchants
    habit = 20 + (card % 97)
    amount = np.round(rng.lognormal(np.log(habit), 0.6), 2)
    lat = 40 + (card % 1000) / 100 + rng.normal(0, 0.05, count)
    lon = -3 + (card % 777) / 100 + rng.normal(0, 0.05, count)
    ids = pa.array(np.char.add("tok_", card.astype("U8")).astype(object), pa.string())
    transactions = pa.table(
        {
            "card_id": ids,
            "merchant_id": pa.array(np.char.add("m", merchant.astype("U7")).astype(object)),
            "amount": amount,
            "event_ms": t,
            "merchant_category": pa.array(CATEGORIES[merchant % len(CATEGORIES)], pa.string()),
            "channel": pa.array(np.where(merchant % 3 == 0, "online", "pos").astype(object)),
            "lat": lat,
            "lon": lon,
        }
    )
    frauds = rng.random(count) < 0.02
    labels = pa.table(
        {
            "merchant_id": transactions.column("merchant_id").filter(pa.array(frauds)),
            "event_ms": t[frauds],
            "label_ms": t[frauds] + DAY_MS,
            "is_fraud": np.ones(int(frauds.sum()), dtype=bool),
        }
    )
    return transactions, labels


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(cards: int, per_day: float, days: int, merchants: int, chunk: int) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    engine = FeatureEngine(FeatureConfig(label_delay_ms=DAY_MS), lateness_ms=10 * 60_000)
    late_cpu, late_rows = 0.0, 0
    pending_labels: list[pa.Table] = []
    began = time.perf_counter()
    for day in range(days):
        transactions, labels = day_of_traffic(rng, day, cards, per_day, merchants)
        due = pa.concat_tables(pending_labels) if pending_labels else None
        pending_labels = [labels]
        for start in range(0, transactions.num_rows, chunk):
            part = transactions.slice(start, chunk)
            cpu = time.process_time()
            engine.compute(part, due if start == 0 else None)
            if day >= days - 7:
                late_cpu += time.process_time() - cpu
                late_rows += part.num_rows
        print(
            f"day {day + 1}/{days}: {len(engine.cards):,} cards, "
            f"{sum(engine.nbytes().values()) / 2**20:,.0f} MiB of state, "
            f"{time.perf_counter() - began:,.0f} s",
            flush=True,
        )
    parts = engine.nbytes()
    total = sum(parts.values())
    card_bytes = sum(v for k, v in parts.items() if k.startswith("cards."))
    return {
        "cards": len(engine.cards),
        "merchants": len(engine.merchants),
        "transactions_per_card_per_day": per_day,
        "days": days,
        "rows_per_call": chunk,
        "cpu_us_per_tx_last_week": round(late_cpu / max(late_rows, 1) * 1e6, 2),
        "state_bytes": parts,
        "state_total_mib": round(total / 2**20, 1),
        "card_state_bytes_per_card": round(card_bytes / max(len(engine.cards), 1)),
        "peak_rss_mib": round(peak_rss_mb()),
    }


def handbook() -> dict[str, Any] | None:
    if not HANDBOOK.is_file():
        return None
    from ml_model.data.history import load_history

    history = load_history(HANDBOOK, "handbook", label_delay_ms=7 * DAY_MS)
    frame = history.transactions
    cpu = time.process_time()
    build(
        frame,
        history.labels(),
        FeatureConfig(label_delay_ms=7 * DAY_MS, merchant_bucket_ms=HOUR_MS),
    )
    builder_cpu = time.process_time() - cpu
    # the state at the end, fed a day at a time as the builder feeds it
    engine = FeatureEngine(FeatureConfig(label_delay_ms=7 * DAY_MS), lateness_ms=10 * 60_000)
    table = pa.Table.from_pandas(frame[["card_id", "merchant_id", "amount", "event_ms"]])
    days = frame["event_ms"].to_numpy() // DAY_MS
    cuts = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True])
    for a, b in itertools.pairwise(cuts):
        engine.compute(table.slice(int(a), int(b - a)))
    parts = engine.nbytes()
    card_bytes = sum(v for k, v in parts.items() if k.startswith("cards."))
    return {
        "rows": len(frame),
        "builder_seconds_cpu": round(builder_cpu, 1),
        "builder_us_per_tx": round(builder_cpu / len(frame) * 1e6, 2),
        "cards": len(engine.cards),
        "card_state_bytes_per_card": round(card_bytes / len(engine.cards)),
        "state_bytes": parts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--per-day", type=float, default=2.0)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--merchants", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1_500, help="rows per engine call")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"handbook": handbook()}
    if out["handbook"]:
        print(f"handbook: {out['handbook']}", flush=True)
    out["synthetic"] = synthetic(args.cards, args.per_day, args.days, args.merchants, args.chunk)
    print(f"synthetic: {out['synthetic']}", flush=True)
    print(f"wrote {write('feature_state', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
