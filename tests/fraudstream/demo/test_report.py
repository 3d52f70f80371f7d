import numpy as np
import pandas as pd
import pytest

from fraudstream.demo.outcome import compute
from fraudstream.demo.report import pr_curve, render, write
from fraudstream.live.metrics import HistoryPoint


def test_pr_curve_at_each_distinct_threshold() -> None:
    scores = np.array([0.9, 0.8, 0.8, 0.3])
    truth = np.array([True, False, True, False])
    precision, recall = pr_curve(scores, truth)
    # thresholds 0.9, 0.8 (tied pair counted together), 0.3
    assert precision == pytest.approx([1.0, 2 / 3, 0.5])
    assert recall == pytest.approx([0.5, 1.0, 1.0])
    empty_p, empty_r = pr_curve(np.array([0.5]), np.array([False]))
    assert empty_p.size == empty_r.size == 0


def test_report_is_one_self_contained_page_with_the_figures(tmp_path) -> None:  # type: ignore[no-untyped-def]
    transactions = pd.DataFrame(
        {
            "transaction_id": ["a", "b", "c"],
            "decision": ["block", "approve", "approve"],
            "score": [0.95, 0.2, 0.05],
        }
    )
    labels = pd.DataFrame(
        {
            "transaction_id": ["a", "b", "c"],
            "is_fraud": [True, True, False],
            "scenario": ["card_testing", "card_testing", "genuine"],
        }
    )
    outcome = compute(transactions, labels)
    history = [HistoryPoint(100.0 + i, 50.0, 0.2, 0.5) for i in range(5)]
    scored = transactions.merge(labels, on="transaction_id")
    page = render(outcome, {"rate": "50 <per s>"}, history, scored)
    assert page.count("data:image/png;base64,") == 2
    assert "<td>card_testing</td><td>2</td><td>1</td><td>1</td><td>50.0%</td>" in page
    assert "50 &lt;per s&gt;" in page  # values are escaped
    path = write(tmp_path / "out" / "report.html", page)
    assert path.read_text(encoding="utf-8") == page


POLICY = {
    "thresholds": {"review": 0.018, "block": 0.24, "from": "model v<1>"},
    "review_budget": 0.015,
    "block_promise": 0.9,
    "block_promise_holds": False,
    "block_promise_verdict": "broken",
    "block_precision_upper": 0.874,
    "model_alone": {
        "name": "model alone",
        "flagged": {"rows": 900},
        "precision": 0.6,
        "recall": 0.85,
        "reviews": {"rows": 500},
        "blocks": {"rows": 400},
        "block_precision": 0.95,
        "budget_use": 0.7,
    },
    "policy": {
        "name": "policy",
        "flagged": {"rows": 1000},
        "precision": 0.55,
        "recall": 0.88,
        "reviews": {"rows": 560},
        "blocks": {"rows": 440},
        "block_precision": 0.85,
        "budget_use": None,
    },
    "rules": [
        {
            "name": "large_first_purchase",
            "action": "review",
            "enabled": True,
            "hits": {"rows": 21},
            "precision": 0.67,
            "added_alerts": {"rows": 6, "precision": 0.5},
            "added_recall": 0.0057,
        },
        {
            "name": "amount_over_5x_card_mean",
            "action": "review",
            "enabled": False,
            "hits": {"rows": 968},
            "precision": 0.084,
            "added_alerts": {"rows": 815, "precision": None},
            "added_recall": 0.0132,
        },
    ],
}


def test_the_policy_section_shows_rules_and_the_block_promise() -> None:
    transactions = pd.DataFrame(
        {"transaction_id": ["a", "b"], "decision": ["block", "approve"], "score": [0.9, 0.1]}
    )
    labels = pd.DataFrame(
        {"transaction_id": ["a", "b"], "is_fraud": [True, False], "scenario": ["x", "genuine"]}
    )
    outcome = compute(transactions, labels)
    scored = transactions.merge(labels, on="transaction_id")
    page = render(outcome, {}, [], scored, POLICY)
    assert "<h2>Decision policy</h2>" in page
    assert "model v&lt;1&gt;" in page  # escaped
    assert "BROKEN" in page and "85.0% fraud, promised at least" in page
    assert "at most 87.4% with 95% confidence" in page
    unproven = {**POLICY, "block_promise_verdict": "unproven", "block_promise_holds": True}
    assert "below it, but not shown broken" in render(outcome, {}, [], scored, unproven)
    assert "<td>large_first_purchase</td><td>review</td><td>21</td><td>67.0%</td>" in page
    assert "<td>amount_over_5x_card_mean</td><td>off</td>" in page
    assert "<td>policy</td><td>1,000</td><td>55.0%</td><td>88.0%</td>" in page
    assert page.count("data:image/png;base64,") == 2
    assert "Decision policy" not in render(outcome, {}, [], scored)
