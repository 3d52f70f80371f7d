import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from processor.decisions import ModelReasons, decide, parse_rules
from processor.decisions.engine import fired, score_severity
from processor.errors import MissingColumnsError

# The engine's mechanics on a fixed file (the shipped policy is tested in test_policy.py).
RULES = """
version: 1
score: {from_model: true, review: 0.5, block: 0.9, missing: review, reason: high_model_score}
columns: {}
rules:
  - name: amount_over_5x_card_mean
    action: review
    all:
      - {column: amount, op: ">", other: card_mean_amount_30d, factor: 5}
  - name: impossible_travel
    action: block
    all:
      - {column: speed_kmh_from_prev, op: ">", value: 1000}
  - name: velocity_burst
    action: review
    all:
      - {column: card_count_10m, op: ">=", value: 6}
"""
CONFIG = parse_rules(RULES)
WORDS = ["amount far above card average", "new merchant", "night time", "fourth", "unusual country"]


def run(frame: pd.DataFrame, config=CONFIG, model: ModelReasons | None = None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Decide ``frame`` and return the decisions and reasons as plain lists."""
    out = decide(frame, config, model)
    return pd.DataFrame({"decision": out.decision.to_pylist(), "reasons": out.reasons.to_pylist()})


def batch(**columns: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "score": [0.1],
        "amount": [20.0],
        "card_mean_amount_30d": [25.0],
        "speed_kmh_from_prev": [3.0],
        "card_count_10m": [1],
    }
    rows = max(len(v) for v in columns.values()) if columns else 1
    data = {k: (v * rows if len(v) == 1 else v) for k, v in base.items()}
    data.update(columns)
    return pd.DataFrame(data)


def test_low_score_and_no_rule_approves_with_no_reasons() -> None:
    out = run(batch())
    assert out["decision"].tolist() == ["approve"]
    assert out["reasons"].tolist() == [[]]


def test_score_thresholds() -> None:
    out = run(batch(score=[0.49, 0.5, 0.89, 0.9, 1.0]))
    assert out["decision"].tolist() == ["approve", "review", "review", "block", "block"]
    assert out["reasons"].tolist()[1] == ["high_model_score"]


def test_each_default_rule_fires_on_its_own() -> None:
    out = run(
        batch(
            amount=[20.0, 500.0, 20.0, 20.0, 125.0],
            speed_kmh_from_prev=[3.0, 3.0, 4_000.0, 3.0, 3.0],
            card_count_10m=[1, 1, 1, 6, 1],
        )
    )
    assert out["decision"].tolist() == ["approve", "review", "block", "review", "approve"]
    assert out["reasons"].tolist() == [
        [],
        ["amount_over_5x_card_mean"],
        ["impossible_travel"],
        ["velocity_burst"],
        [],  # exactly 5x is not more than 5x
    ]


def test_unknown_features_never_fire_a_rule() -> None:
    out = run(
        batch(
            amount=[500.0, 500.0],
            card_mean_amount_30d=[math.nan, None],
            speed_kmh_from_prev=[None, math.nan],
        )
    )
    assert out["decision"].tolist() == ["approve", "approve"]


def test_missing_score_follows_the_policy() -> None:
    out = run(batch(score=[None, math.nan]))
    assert out["decision"].tolist() == ["review", "review"]
    assert out["reasons"].tolist() == [["no_model_score"], ["no_model_score"]]


def test_most_severe_wins_and_reasons_combine_rules_score_and_model() -> None:
    frame = batch(
        score=[0.95, 0.7, 0.2],
        amount=[500.0, 20.0, 500.0],
        speed_kmh_from_prev=[4_000.0, 3.0, 3.0],
    )
    top = np.array([[0, 1, 2, 3], [4, -1, -1, -1], [-1, -1, -1, -1]])
    out = run(frame, model=ModelReasons(top, WORDS))
    assert out["decision"].tolist() == ["block", "review", "review"]
    assert out["reasons"].tolist() == [
        [
            "amount_over_5x_card_mean",
            "impossible_travel",
            "high_model_score",
            "model:amount far above card average",
            "model:new merchant",
            "model:night time",
        ],
        ["high_model_score", "model:unusual country"],
        ["amount_over_5x_card_mean"],
    ]


def test_model_reasons_stay_off_approved_rows() -> None:
    out = run(batch(score=[0.1]), model=ModelReasons(np.array([[0, 1, 2]]), WORDS))
    assert out["reasons"].tolist() == [[]]


def test_each_reason_once_even_when_two_features_share_their_words() -> None:
    words = ["transaction amount", "transaction amount", "used at night"]
    out = run(batch(score=[0.7]), model=ModelReasons(np.array([[0, 1, 2]]), words))
    assert out["reasons"].tolist() == [
        ["high_model_score", "model:transaction amount", "model:used at night"]
    ]


def test_rules_can_be_disabled_remapped_and_extended_without_code() -> None:
    text = (
        RULES.replace("columns: {}", "columns: {card_count_10m: txn_10m}").replace(
            "action: block", "action: block\n    enabled: false"
        )
        + """
  - name: atm_night_cash
    action: block
    all:
      - {column: amount, op: ">=", value: 400}
      - {column: hour, op: "<", value: 5}
"""
    )
    config = parse_rules(text)
    frame = batch(
        amount=[450.0, 450.0],
        card_mean_amount_30d=[400.0, 400.0],
        speed_kmh_from_prev=[5_000.0, 5_000.0],
        hour=[3, 12],
    ).rename(columns={"card_count_10m": "txn_10m"})
    out = run(frame, config)
    assert out["decision"].tolist() == ["block", "approve"]
    assert out["reasons"].tolist() == [["atm_night_cash"], []]


def test_missing_columns_are_named() -> None:
    with pytest.raises(MissingColumnsError, match="speed_kmh_from_prev, card_count_10m"):
        run(batch().drop(columns=["speed_kmh_from_prev", "card_count_10m"]))


def test_columns_come_out_as_arrow() -> None:
    out = decide({k: np.asarray(v) for k, v in batch(score=[0.95, 0.1]).items()}, CONFIG)
    assert out.decision.type == pa.string()
    assert out.reasons.type == pa.list_(pa.string())
    assert out.reasons.to_pylist() == [["high_model_score"], []]


def test_empty_batch() -> None:
    out = decide(batch().iloc[0:0], CONFIG, ModelReasons(np.empty((0, 3), int), WORDS))
    assert len(out) == 0 and len(out.reasons) == 0


def test_model_thresholds_replace_the_files_and_never_block_is_accepted() -> None:
    """A model trained where no score is precise enough to block alone carries a block
    threshold just above 1 (training's "never"); the processor must take it, not crash."""
    from ml_model.training.thresholds import NEVER
    from processor.decisions.config import with_model_thresholds

    tuned = with_model_thresholds(CONFIG, 0.3, 0.8)
    assert (tuned.score.review, tuned.score.block) == (0.3, 0.8)
    never = with_model_thresholds(CONFIG, 0.4, NEVER)
    out = run(batch(score=[0.39, 0.4, 1.0]), never)
    assert out["decision"].tolist() == ["approve", "review", "review"]
    opted_out = parse_rules(RULES.replace("from_model: true", "from_model: false"))
    assert with_model_thresholds(opted_out, 0.3, 0.8).score == opted_out.score


def test_a_block_score_blocks_only_where_block_requires_holds_and_reviews_elsewhere() -> None:
    config = parse_rules(
        RULES.replace(
            "reason: high_model_score}",
            "reason: high_model_score, block_requires: "
            '[{column: card_count_30d, op: ">=", value: 3}]}',
        )
    )
    frame = batch(score=[0.95, 0.95, 0.95, 0.6], card_count_30d=[3, 2, None, 0])
    out = run(frame, config)
    assert out["decision"].tolist() == ["block", "review", "review", "review"]
    assert out["reasons"].tolist()[1] == ["high_model_score"]
    assert config.required_columns()[:2] == ("score", "card_count_30d")
    with pytest.raises(MissingColumnsError, match="card_count_30d"):
        run(batch(score=[0.95]), config)


def test_a_budget_threshold_raises_the_review_score_but_never_touches_blocks() -> None:
    frame = batch(score=[0.55, 0.7, 0.95, None])
    review_at = np.array([0.6, 0.6, 0.99, 0.99])
    out = decide(frame, CONFIG, review_at=review_at)
    assert out.decision.to_pylist() == ["approve", "review", "block", "review"]
    assert score_severity(frame, CONFIG, review_at).tolist() == [0, 1, 2, 1]
    # a threshold below the file's review score changes nothing
    assert score_severity(frame, CONFIG, np.zeros(4)).tolist() == [1, 1, 2, 1]


def test_rules_fire_as_a_matrix_including_disabled_ones_on_request() -> None:
    config = parse_rules(RULES.replace("action: block", "action: block\n    enabled: false"))
    frame = batch(speed_kmh_from_prev=[4_000.0, 3.0], card_count_10m=[1, 7])
    assert fired(frame, config).tolist() == [[False, False], [False, True]]
    every = fired(frame, config, config.rules)
    assert every.tolist() == [[False, True, False], [False, False, True]]
