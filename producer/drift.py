"""A drift injected mid-run, so the model's monitoring can be watched reacting to it
(``fraudstream produce --drift fraud_x5 --drift-at 60``, ``fraudstream demo --drift ...``).

A drift is a set of factors applied from a point of the run on:

* ``fraud_xF``: the fraud scenarios start F times as often (a fraud wave: the score's
  distribution moves, and more fraud competes for the same review budget);
* ``amount_xF``: every amount times F (prices or currency: the amount features move);
* ``fraud_amount_xF``: fraudulent amounts times F (fraud that hides in small amounts: the
  model misses it, recall falls once the labels arrive).

Several are joined with commas (``fraud_x5,fraud_amount_x0.3``). Amounts are changed on the
generated columns (:meth:`Drift.on_block`, numpy over a block) or per transaction on the
row generator's stream (:func:`drifted`); the fraud rate is changed in the generator itself
(``scale_fraud``), so every slot still carries one transaction and the rate holds.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from producer.blocks import EventBlock
from producer.generator import GeneratedTransaction, TransactionGenerator

_PART = re.compile(r"^(fraud|amount|fraud_amount)_x(\d+(?:\.\d+)?)$")
KINDS = ("fraud", "amount", "fraud_amount")


@dataclass(frozen=True)
class Drift:
    """Factors applied from the drift's start on (1.0: unchanged)."""

    fraud: float = 1.0
    amount: float = 1.0
    fraud_amount: float = 1.0

    def __str__(self) -> str:
        parts = [f"{k}_x{getattr(self, k):g}" for k in KINDS if getattr(self, k) != 1.0]
        return ",".join(parts) or "none"

    def amount_factors(self, frauds: np.ndarray) -> np.ndarray:
        """Each row's amount factor, from its fraud flag."""
        return np.where(frauds, self.amount * self.fraud_amount, self.amount)

    def on_block(self, block: EventBlock, from_us: int) -> None:
        """Change the amounts of the block's rows at or after ``from_us`` (in place)."""
        if self.amount == self.fraud_amount == 1.0 or not block.times_us:
            return
        after = np.asarray(block.times_us, dtype=np.int64) >= from_us
        if not after.any():
            return
        factors = np.where(after, self.amount_factors(np.asarray(block.frauds, dtype=bool)), 1.0)
        amounts = np.asarray(block.amounts, dtype=np.float64) * factors
        block.amounts = np.maximum(0.01, np.round(amounts, 2)).tolist()

    def on_item(self, item: GeneratedTransaction) -> GeneratedTransaction:
        """One transaction of the row generator's stream, drifted."""
        factor = self.amount * (self.fraud_amount if item.is_fraud else 1.0)
        if factor == 1.0:
            return item
        amount = max(0.01, round(item.event.amount * factor, 2))
        return replace(item, event=replace(item.event, amount=amount))


def parse_drift(text: str) -> Drift:
    """``fraud_x5,amount_x2`` -> :class:`Drift`; ValueError names what is wrong."""
    factors: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        match = _PART.match(part)
        if not match:
            raise ValueError(
                f"{part!r} is not a drift: use fraud_xF, amount_xF or fraud_amount_xF "
                "(F a positive number), joined with commas"
            )
        kind, factor = match.group(1), float(match.group(2))
        if factor <= 0:
            raise ValueError(f"{part!r}: the factor must be positive")
        if kind in factors:
            raise ValueError(f"{kind} is given twice in {text!r}")
        factors[kind] = factor
    return Drift(**factors)


def drifted(
    generator: TransactionGenerator,
    events: int,
    drift: Drift,
    from_index: int,
) -> Iterator[GeneratedTransaction]:
    """The first ``events`` transactions of ``generator``, drifted from the ``from_index``-th
    on (a replay at a steady rate reaches it ``from_index / rate`` seconds into the run)."""
    for index, item in enumerate(itertools.islice(generator, events)):
        if index == from_index and drift.fraud != 1.0:
            generator.scale_fraud(drift.fraud)
        yield drift.on_item(item) if index >= from_index else item
