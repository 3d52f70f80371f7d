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
