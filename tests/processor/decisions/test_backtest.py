import json
import math

import numpy as np
import pytest

from processor.decisions import parse_rules
from processor.decisions.backtest import Counts, budget_thresholds, evaluate
from processor.decisions.budget import HOUR_MS

RULES = """
version: 1
score:
  review: 0.2
  block: 0.9
  block_requires: [{column: card_count_30d, op: ">=", value: 3}]
{budget}
rules:
  - name: big
    action: review
    all: [{column: amount, op: ">=", value: 1000}]
  - name: travel
    action: block
    enabled: false
    all: [{column: speed_kmh_from_prev, op: ">", value: 1000}]
"""
NAN = math.nan
# score, amount, speed, card_count_30d, label
ROWS = [
    (0.95, 10, NAN, 5, 1),  # 0 blocked by the score: fraud
    (0.95, 10, NAN, 0, 1),  # 1 block score, no card history: reviewed (held block), fraud
    (0.30, 10, NAN, 5, 0),  # 2 reviewed by the score: genuine
    (0.10, 2000, NAN, 5, 1),  # 3 only the rule "big": fraud
    (0.10, 2000, NAN, 5, 0),  # 4 only the rule "big": genuine
    (0.10, 10, 5000, 5, 0),  # 5 only the disabled rule "travel": genuine
    (0.10, 10, NAN, 5, NAN),  # 6 nothing, no label yet
    (0.15, 10, NAN, 5, 1),  # 7 a fraud nobody flags
    (0.40, 10, 5000, 5, 1),  # 8 reviewed by the score; "travel" would block it: fraud
]


def inputs() -> tuple[dict[str, np.ndarray], np.ndarray]:
    columns = np.array(ROWS, dtype=float).T
    batch = {
        "score": columns[0],
        "amount": columns[1],
        "speed_kmh_from_prev": columns[2],
        "card_count_30d": columns[3],
    }
    return batch, columns[4]


def test_model_alone_policy_and_each_rule_are_counted_against_the_labels() -> None:
    batch, labels = inputs()
    result = evaluate(batch, labels, parse_rules(RULES.replace("{budget}", "")))
    totals = result.totals
    assert (totals.rows, totals.labelled, totals.frauds) == (9, 8, 5)
    model = result.model
    assert model.reviews == Counts(3, 3, 2) and model.blocks == Counts(1, 1, 1)
    assert model.held == Counts(1, 1, 1)
    assert model.recall == pytest.approx(3 / 5) and model.budget_use is None
    policy = result.policy
    assert policy.flagged == Counts(6, 6, 4)
    assert policy.flagged.precision == pytest.approx(4 / 6)
    assert policy.recall == pytest.approx(4 / 5)
    assert policy.flagged_share == pytest.approx(6 / 9)
    big, travel = result.rules
    assert (big.name, big.enabled, travel.name, travel.enabled) == ("big", True, "travel", False)
    assert big.hits == Counts(2, 2, 1) and big.added == Counts(2, 2, 1)
    assert big.added_recall == pytest.approx(1 / 5) and big.upgraded == Counts()
    assert big.hit_rate == pytest.approx(2 / 9) and big.recall == pytest.approx(1 / 5)
    assert travel.hits == Counts(2, 2, 1) and travel.added == Counts(1, 1, 0)
    assert travel.upgraded == Counts(2, 2, 1)  # the model alone does not block rows 5 and 8


def test_the_budget_is_replayed_and_held_blocks_are_outside_it() -> None:
    """The budget rations the doubtful band; the held block (row 1) is reviewed outside it."""
    batch, labels = inputs()
    config = parse_rules(RULES.replace("{budget}", "budget: {review_share: 0.12, hours: 1}"))
    event_ms = np.full(len(labels), 10 * HOUR_MS)
    review_at = budget_thresholds(batch, config, event_ms, np.zeros(len(labels)))
    assert review_at is not None
    # 0.12 * 9 rows: one rationed review fits: row 8's (0.4), not row 2's (0.3)
    result = evaluate(batch, labels, config, review_at=review_at)
    assert result.model.reviews.rows == 2 and result.model.held.rows == 1
    assert result.model.budget_use == pytest.approx(1 / (0.12 * 9))
    assert result.model.reviews.frauds == 2  # rows 1 and 8
    unlimited = parse_rules(RULES.replace("{budget}", ""))
    assert budget_thresholds(batch, unlimited, event_ms, event_ms) is None


def test_no_labels_and_missing_rule_columns_give_empty_measures_not_errors() -> None:
    batch, labels = inputs()
    config = parse_rules(
        RULES.replace("{budget}", "budget: {review_share: 0.1}")
        + "  - name: other\n    action: review\n    all: [{column: absent, op: '>', value: 1}]\n"
        "    enabled: false\n"
    )
    result = evaluate(batch, np.full(len(labels), np.nan), config)
    assert [rule.name for rule in result.rules] == ["big", "travel"]  # "other" cannot be read
    assert result.policy.recall is None and result.policy.flagged.precision is None
    document = json.loads(json.dumps(result.to_json()))
    assert document["transactions"] == 9 and document["fraud_share"] is None
    assert document["rules"][0]["added_alerts"]["rows"] == 2
    # reviews below the block score, the rule's included: rows 2, 3, 4, 8 of 0.1 * 9 allowed
    assert document["policy"]["budget_use"] == pytest.approx(4 / 0.9)


def test_scores_more_likely_fraud_than_not_are_never_rationed() -> None:
    """A model that never blocks (too few validation frauds to promise 90 %) still has every
    score from always_review_from reviewed: the budget rations the doubtful band only."""
    batch, labels = inputs()
    config = parse_rules(
        RULES.replace("block: 0.9", "block: 1.0000000000000002").replace(
            "{budget}", "budget: {review_share: 0.01, hours: 1, always_review_from: 0.5}"
        )
    )
    event_ms = np.full(len(labels), 10 * HOUR_MS)
    review_at = budget_thresholds(batch, config, event_ms, np.zeros(len(labels)))
    result = evaluate(batch, labels, config, review_at=review_at)
    assert result.model.blocks.rows == 0
    assert result.model.held == Counts(2, 2, 2)  # rows 0 and 1 (0.95), over any budget
    assert result.model.reviews.rows == 2  # rows 2 and 8 (0.3, 0.4) did not fit 0.01 * 9
