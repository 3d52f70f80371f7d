import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from processor.decisions import apply_decisions, decide, decide_arrow, load_rules, parse_rules
from processor.decisions.config import default_rules_text
from processor.errors import MissingColumnsError

CONFIG = load_rules()


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
    out = decide(batch(), CONFIG)
    assert out["decision"].tolist() == ["approve"]
    assert out["reasons"].tolist() == [[]]


def test_score_thresholds() -> None:
    out = decide(batch(score=[0.49, 0.5, 0.89, 0.9, 1.0]), CONFIG)
    assert out["decision"].tolist() == ["approve", "review", "review", "block", "block"]
    assert out["reasons"].tolist()[1] == ["high_model_score"]


def test_each_default_rule_fires_on_its_own() -> None:
    out = decide(
        batch(
            amount=[20.0, 500.0, 20.0, 20.0, 125.0],
            speed_kmh_from_prev=[3.0, 3.0, 4_000.0, 3.0, 3.0],
            card_count_10m=[1, 1, 1, 6, 1],
        ),
        CONFIG,
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
    out = decide(
        batch(
            amount=[500.0, 500.0],
            card_mean_amount_30d=[math.nan, None],
            speed_kmh_from_prev=[None, math.nan],
        ),
        CONFIG,
    )
    assert out["decision"].tolist() == ["approve", "approve"]


def test_missing_score_follows_the_policy() -> None:
    out = decide(batch(score=[None, math.nan]), CONFIG)
    assert out["decision"].tolist() == ["review", "review"]
    assert out["reasons"].tolist() == [["no_model_score"], ["no_model_score"]]


def test_most_severe_wins_and_reasons_combine_rules_score_and_model() -> None:
    frame = batch(
        score=[0.95, 0.7, 0.2],
        amount=[500.0, 20.0, 500.0],
        speed_kmh_from_prev=[4_000.0, 3.0, 3.0],
        model_reasons=[
            ["amount far above card average", "new merchant", "night time", "fourth"],
            np.array(["unusual country"], dtype=object),
            None,
        ],
    )
    out = decide(frame, CONFIG)
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
    out = decide(batch(score=[0.1], model_reasons=[["something"]]), CONFIG)
    assert out["reasons"].tolist() == [[]]


def test_rules_can_be_disabled_remapped_and_extended_without_code() -> None:
    text = (
        default_rules_text()
        .replace("columns: {}", "columns: {card_count_10m: txn_10m}")
        .replace("action: block", "action: block\n    enabled: false")
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
    out = decide(frame, config)
    assert out["decision"].tolist() == ["block", "approve"]
    assert out["reasons"].tolist() == [["atm_night_cash"], []]


def test_missing_columns_are_named() -> None:
    with pytest.raises(MissingColumnsError, match="speed_kmh_from_prev, card_count_10m"):
        decide(batch().drop(columns=["speed_kmh_from_prev", "card_count_10m"]), CONFIG)


def test_apply_and_arrow_keep_the_batch_and_add_typed_columns() -> None:
    frame = batch(score=[0.95, 0.1], transaction_id=["a", "b"])
    applied = apply_decisions(frame, CONFIG)
    assert applied["transaction_id"].tolist() == ["a", "b"]
    assert applied["decision"].tolist() == ["block", "approve"]
    table = decide_arrow(pa.Table.from_pandas(frame, preserve_index=False), CONFIG)
    assert table.schema.field("decision").type == pa.string()
    assert table.schema.field("reasons").type == pa.list_(pa.string())
    assert table.column("reasons").to_pylist() == [["high_model_score"], []]
    again = decide_arrow(table, CONFIG)
    assert again.column_names.count("decision") == 1


def test_empty_batch() -> None:
    out = decide(batch().iloc[0:0], CONFIG)
    assert len(out) == 0
    assert list(out.columns) == ["decision", "reasons"]


def test_model_thresholds_replace_the_files_and_never_block_is_accepted() -> None:
    """A model trained where no score is precise enough to block alone carries a block
    threshold just above 1 (training's "never"); the processor must take it, not crash."""
    from ml_model.training.thresholds import NEVER
    from processor.decisions.config import with_model_thresholds

    tuned = with_model_thresholds(CONFIG, 0.3, 0.8)
    assert (tuned.score.review, tuned.score.block) == (0.3, 0.8)
    never = with_model_thresholds(CONFIG, 0.4, NEVER)
    out = decide(batch(score=[0.39, 0.4, 1.0]), never)
    assert out["decision"].tolist() == ["approve", "review", "review"]
    opted_out = parse_rules(default_rules_text().replace("from_model: true", "from_model: false"))
    assert with_model_thresholds(opted_out, 0.3, 0.8).score == opted_out.score
