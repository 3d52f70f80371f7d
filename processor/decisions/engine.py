"""Approve / review / block for a whole micro-batch at once, from the score and the rules.

Pure logic over a pandas DataFrame (or an Arrow table): every comparison is one numpy
operation over the batch; only the reasons lists are built per row, and only for rows that
have any.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from processor.decisions import columns as C
from processor.decisions.config import Comparison, DecisionConfig
from processor.errors import MissingColumnsError

SEVERITY = {outcome: level for level, outcome in enumerate(C.OUTCOMES)}
NO_SCORE_REASON = "no_model_score"
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def _numbers(batch: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(batch[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _holds(batch: pd.DataFrame, config: DecisionConfig, comparison: Comparison) -> np.ndarray:
    left = _numbers(batch, config.column(comparison.column))
    if comparison.other is None:
        right = np.full(len(left), comparison.value, dtype=float)
    else:
        right = _numbers(batch, config.column(comparison.other)) * comparison.factor
    known = ~np.isnan(left) & ~np.isnan(right)
    with np.errstate(invalid="ignore"):
        result: np.ndarray = known & _OPS[comparison.op](left, right)
    return result


def _model_reasons(value: Any, limit: int, prefix: str) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [f"{prefix}{text}" for text in list(value)[:limit] if text]


def check_columns(batch_columns: Sequence[str], config: DecisionConfig) -> None:
    """Raise :class:`MissingColumnsError` naming every column the rules need but lack."""
    missing = [c for c in config.required_columns() if c not in set(batch_columns)]
    if missing:
        raise MissingColumnsError(
            f"batch lacks column(s) the decision rules read: {', '.join(missing)} "
            "(map rule names to batch columns in the rules file's 'columns:' section)"
        )


def decide(batch: pd.DataFrame, config: DecisionConfig) -> pd.DataFrame:
    """``decision`` and ``reasons`` for every row of ``batch`` (same index).

    The decision is the most severe of the score's outcome and the actions of the rules that
    fire. Reasons, in order: fired rules (config order), the score reason when the score alone
    reached review (or the no-score reason), then up to ``model_reasons.max`` of the row's
    ``model_reasons`` (when the decision is one of ``model_reasons.when``).
    """
    check_columns(list(batch.columns), config)
    size = len(batch)
    score = _numbers(batch, config.column(C.SCORE))
    policy = config.score
    missing = np.isnan(score)
    with np.errstate(invalid="ignore"):
        by_score = np.where(
            score >= policy.block, SEVERITY[C.BLOCK], np.where(score >= policy.review, 1, 0)
        )
    by_score = np.where(missing, SEVERITY[policy.missing], by_score)
    severity = by_score.copy()
    fired: list[tuple[str, np.ndarray]] = []
    for rule in config.active_rules():
        mask = np.ones(size, dtype=bool)
        for comparison in rule.all:
            mask &= _holds(batch, config, comparison)
        fired.append((rule.name, mask))
        severity = np.where(mask, np.maximum(severity, SEVERITY[rule.action]), severity)
    score_reason = ~missing & (by_score >= SEVERITY[C.REVIEW])

    reasons_column = config.column(C.MODEL_REASONS)
    contributions = batch[reasons_column].to_numpy() if reasons_column in batch else None
    wanted = np.isin(severity, [SEVERITY[o] for o in config.model_reasons.when])
    any_reason = score_reason | missing | np.logical_or.reduce([m for _, m in fired] + [wanted])
    reasons: list[list[str]] = [[] for _ in range(size)]
    for row in np.flatnonzero(any_reason):
        out = reasons[row]
        out.extend(name for name, mask in fired if mask[row])
        if score_reason[row]:
            out.append(policy.reason)
        elif missing[row]:
            out.append(NO_SCORE_REASON)
        if contributions is not None and wanted[row]:
            out.extend(
                _model_reasons(
                    contributions[row], config.model_reasons.max, config.model_reasons.prefix
                )
            )
    outcomes = np.array(C.OUTCOMES, dtype=object)[severity]
    return pd.DataFrame({C.DECISION: outcomes, C.REASONS: reasons}, index=batch.index)


def apply_decisions(batch: pd.DataFrame, config: DecisionConfig) -> pd.DataFrame:
    """``batch`` with ``decision`` and ``reasons`` columns added (or replaced)."""
    decided = decide(batch, config)
    return batch.assign(**{C.DECISION: decided[C.DECISION], C.REASONS: decided[C.REASONS]})


def decide_arrow(table: pa.Table, config: DecisionConfig) -> pa.Table:
    """Arrow in, Arrow out: ``table`` with ``decision`` (string) and ``reasons`` (list)."""
    needed = [
        c
        for c in (*config.required_columns(), config.column(C.MODEL_REASONS))
        if c in table.column_names
    ]
    decided = decide(table.select(needed).to_pandas(), config)
    out = table
    for name, values, kind in (
        (C.DECISION, decided[C.DECISION], pa.string()),
        (C.REASONS, decided[C.REASONS], pa.list_(pa.string())),
    ):
        array = pa.array(list(values), type=kind)
        if name in out.column_names:
            out = out.set_column(out.column_names.index(name), name, array)
        else:
            out = out.append_column(name, array)
    return out
