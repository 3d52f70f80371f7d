"""What a demo run achieved, computed from what the lake holds (pure: tables in, figures out).

The lake's ``transactions`` table (one row per decided transaction) is joined to its
``labels`` table (the ground truth the producer released on the labels stream, stored by the
processor). A transaction counts as *flagged* when decided ``review`` or ``block``: those are
the ones an analyst or the card holder hears about. Precision and recall are over flagged
transactions; the per-scenario table shows which injected fraud patterns were caught.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

FLAGGED = ("review", "block")
GENUINE = "genuine"


@dataclass(frozen=True)
class ScenarioOutcome:
    """One fraud scenario: how many were injected, flagged and blocked."""

    scenario: str
    injected: int
    flagged: int
    blocked: int

    @property
    def recall(self) -> float | None:
        return self.flagged / self.injected if self.injected else None


@dataclass(frozen=True)
class Outcome:
    """The run's figures; every one of them is read from the lake."""

    lake_rows: int
    transactions: int  # distinct transaction ids in the lake
    duplicates: int  # lake rows beyond one per transaction (must be 0)
    labels: int
    unlabelled: int  # transactions with no label in the lake yet
    decisions: dict[str, int]
    true_positives: int
    false_positives: int
    false_negatives: int
    scenarios: list[ScenarioOutcome] = field(default_factory=list)
    quarantined: int = 0

    @property
    def precision(self) -> float | None:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        fraud = self.true_positives + self.false_negatives
        return self.true_positives / fraud if fraud else None

    @property
    def injected(self) -> int:
        return sum(s.injected for s in self.scenarios)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["precision"] = self.precision
        out["recall"] = self.recall
        out["scenarios"] = [{**asdict(s), "recall": s.recall} for s in self.scenarios]
        return out


def joined(transactions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """One row per lake transaction with its label (``is_fraud`` NaN when none arrived)."""
    truth = labels.drop_duplicates("transaction_id")[["transaction_id", "is_fraud", "scenario"]]
    decided = transactions.drop_duplicates("transaction_id")
    return decided.merge(truth, on="transaction_id", how="left")


def compute(transactions: pd.DataFrame, labels: pd.DataFrame, quarantined: int = 0) -> Outcome:
    """The figures of a run from the lake's transactions and labels tables."""
    rows = joined(transactions, labels)
    labelled = rows[rows["is_fraud"].notna()]
    fraud = labelled["is_fraud"].astype(bool)
    flagged = labelled["decision"].isin(FLAGGED)
    scenarios = []
    frauds = labelled[fraud]
    for name, group in sorted(frauds.groupby("scenario"), key=lambda kv: str(kv[0])):
        scenarios.append(
            ScenarioOutcome(
                scenario=str(name),
                injected=len(group),
                flagged=int(group["decision"].isin(FLAGGED).sum()),
                blocked=int((group["decision"] == "block").sum()),
            )
        )
    decisions = {str(k): int(v) for k, v in rows["decision"].value_counts().sort_index().items()}
    return Outcome(
        lake_rows=len(transactions),
        transactions=len(rows),
        duplicates=len(transactions) - len(rows),
        labels=int(labels["transaction_id"].nunique()) if len(labels) else 0,
        unlabelled=len(rows) - len(labelled),
        decisions=decisions,
        true_positives=int((fraud & flagged).sum()),
        false_positives=int((~fraud & flagged).sum()),
        false_negatives=int((fraud & ~flagged).sum()),
        scenarios=scenarios,
        quarantined=quarantined,
    )
