"""Period rings against a dictionary of (row, period) totals, through new, idle and reused rows."""

from __future__ import annotations

import numpy as np

from ml_model.features.rings import PeriodRings


class Oracle:
    """What a ring must read back: the totals of the ``length`` periods up to a row's newest."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.totals: dict[tuple[int, int], int] = {}
        self.newest: dict[int, int] = {}

    def add(self, rows: np.ndarray, periods: np.ndarray, amounts: np.ndarray) -> None:
        for row, period in zip(rows.tolist(), periods.tolist(), strict=True):
            self.newest[row] = max(self.newest.get(row, period), period)
        for row, period, amount in zip(
            rows.tolist(), periods.tolist(), amounts.tolist(), strict=True
        ):
            if period > self.newest[row] - self.length:
                self.totals[row, period] = self.totals.get((row, period), 0) + amount

    def clear(self, rows: np.ndarray) -> None:
        for row in rows.tolist():
            self.newest.pop(row, None)
            self.totals = {k: v for k, v in self.totals.items() if k[0] != row}

    def gather(self, row: int, first: int, count: int) -> list[int]:
        newest = self.newest.get(row)
        return [
            self.totals.get((row, p), 0)
            if newest is not None and newest - self.length < p <= newest
            else 0
            for p in range(first, first + count)
        ]


def test_rings_read_back_what_was_written_through_skips_and_reused_rows() -> None:
    rng = np.random.default_rng(7)
    length = 24
    rings = PeriodRings(length, 1, {"n": np.int32})
    oracle = Oracle(length)
    rings.grow(50)
    period = 1_000
    for step in range(300):
        # mostly small steps (partial clears), sometimes a jump past the whole ring
        period += int(rng.choice([0, 1, 2, 5, 40], p=[0.3, 0.3, 0.2, 0.15, 0.05]))
        size = int(rng.integers(1, 40))
        rows = rng.integers(0, 50, size)
        periods = period - rng.integers(0, 30, size)  # late writes, some beyond the ring
        amounts = rng.integers(1, 100, size)
        rings.add(rows, periods, n=amounts)
        oracle.add(rows, periods, amounts)
        if step % 25 == 24:  # slots handed to new entities keep their old values until written
            reused = rng.choice(50, 5, replace=False)
            rings.clear(reused)
            oracle.clear(reused)
        probe = np.arange(50)
        first = np.full(50, period - length - 2)
        read = rings.gather(probe, first, length + 4)["n"]
        for row in range(50):
            assert read[row].tolist() == oracle.gather(row, period - length - 2, length + 4), (
                step,
                row,
            )
