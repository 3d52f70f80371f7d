import pandas as pd
import pytest

from fraudstream.demo.outcome import compute, joined


def _tx(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["transaction_id", "decision", "score"])


def _labels(rows: list[tuple[str, bool, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["transaction_id", "is_fraud", "scenario"])


def test_precision_recall_and_scenarios_from_decisions_and_labels() -> None:
    transactions = _tx(
        [
            ("a", "block", 0.99),  # caught travel fraud
            ("b", "review", 0.7),  # caught amount fraud
            ("c", "approve", 0.1),  # missed amount fraud
            ("d", "review", 0.6),  # false alarm
            ("e", "approve", 0.01),
            ("f", "approve", 0.02),  # no label yet
        ]
    )
    labels = _labels(
        [
            ("a", True, "impossible_travel"),
            ("b", True, "amount_spike"),
            ("c", True, "amount_spike"),
            ("d", False, "genuine"),
            ("e", False, "genuine"),
        ]
    )
    outcome = compute(transactions, labels, quarantined=3)
    assert (outcome.true_positives, outcome.false_positives, outcome.false_negatives) == (2, 1, 1)
    assert outcome.precision == pytest.approx(2 / 3)
    assert outcome.recall == pytest.approx(2 / 3)
    assert outcome.decisions == {"approve": 3, "block": 1, "review": 2}
    assert outcome.unlabelled == 1
    assert outcome.quarantined == 3
    by_name = {s.scenario: s for s in outcome.scenarios}
    assert set(by_name) == {"impossible_travel", "amount_spike"}  # genuine is not a scenario
    assert (by_name["amount_spike"].injected, by_name["amount_spike"].flagged) == (2, 1)
    assert by_name["impossible_travel"].blocked == 1
    assert outcome.injected == 3
    assert outcome.to_json()["scenarios"][0]["recall"] == 0.5


def test_duplicates_in_the_lake_are_counted_not_hidden() -> None:
    transactions = _tx([("a", "approve", 0.1), ("a", "approve", 0.1), ("b", "approve", 0.2)])
    labels = _labels([("a", False, "genuine"), ("a", False, "genuine"), ("b", False, "genuine")])
    outcome = compute(transactions, labels)
    assert (outcome.lake_rows, outcome.transactions, outcome.duplicates) == (3, 2, 1)
    assert outcome.labels == 2
    assert len(joined(transactions, labels)) == 2


def test_no_flags_and_no_fraud_give_no_ratio_rather_than_a_division_error() -> None:
    outcome = compute(_tx([("a", "approve", 0.1)]), _labels([("a", False, "genuine")]))
    assert outcome.precision is None and outcome.recall is None
    empty = compute(_tx([]), _labels([]))
    assert (empty.transactions, empty.labels, empty.scenarios) == (0, 0, [])


def test_progress_line_for_runs_without_the_live_view() -> None:
    from fraudstream.demo.runner import progress_line
    from fraudstream.live.metrics import Summary

    line = progress_line(
        Summary(
            rows_total=1200,
            rows_per_second_window=400.0,
            latency_p50=0.25,
            latency_p99=1.5,
            decisions_total={"review": 3, "approve": 1197},
            quarantined_total=2,
        )
    )
    assert line == (
        "decided 1,200 (400/s)  latency p50 250 ms p99 1,500 ms  approve 1,197, review 3  "
        "quarantined 2"
    )
    assert "no decisions yet" in progress_line(Summary())
