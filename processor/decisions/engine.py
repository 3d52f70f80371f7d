"""Approve / review / block for a whole micro-batch at once, from the score and the rules.

Pure logic over columns: every comparison is one numpy operation over the batch, and the
reason lists are assembled as a matrix of reason numbers (rules that fired, the score's reason,
the model's top features) that becomes one Arrow list column, with repeats removed. No Python
loop runs per row.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from processor.decisions import columns as C
from processor.decisions.config import Comparison, DecisionConfig, Rule
from processor.errors import MissingColumnsError

SEVERITY = {outcome: level for level, outcome in enumerate(C.OUTCOMES)}
NO_SCORE_REASON = "no_model_score"
_OUTCOMES = pa.array(C.OUTCOMES, pa.string())
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

Columns = Mapping[str, Any]


@dataclass(frozen=True)
class ModelReasons:
    """The scoring client's top features per row: ``features[i, j]`` is a feature number
    (``-1`` for none), ``words[k]`` the plain words of feature ``k``."""

    features: np.ndarray
    words: Sequence[str]


@dataclass(frozen=True)
class Decided:
    """One decision and one reason list per row."""

    severity: np.ndarray  # index into columns.OUTCOMES
    reasons: pa.ListArray

    @property
    def decision(self) -> pa.Array:
        return _OUTCOMES.take(pa.array(self.severity, pa.int8()))

    def __len__(self) -> int:
        return len(self.severity)


def _numbers(batch: Columns, column: str) -> np.ndarray:
    values = batch[column]
    if isinstance(values, pd.Series):
        values = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(values, dtype=float)


def _holds(batch: Columns, config: DecisionConfig, comparison: Comparison) -> np.ndarray:
    left = _numbers(batch, config.column(comparison.column))
    if comparison.other is None:
        right = np.full(len(left), comparison.value, dtype=float)
    else:
        right = _numbers(batch, config.column(comparison.other)) * comparison.factor
    known = ~np.isnan(left) & ~np.isnan(right)
    with np.errstate(invalid="ignore"):
        result: np.ndarray = known & _OPS[comparison.op](left, right)
    return result


def check_columns(batch_columns: Sequence[str], config: DecisionConfig) -> None:
    """Raise :class:`MissingColumnsError` naming every column the rules need but lack."""
    missing = [c for c in config.required_columns() if c not in set(batch_columns)]
    if missing:
        raise MissingColumnsError(
            f"batch lacks column(s) the decision rules read: {', '.join(missing)} "
            "(map rule names to batch columns in the rules file's 'columns:' section)"
        )


def _without_repeats(reasons: np.ndarray) -> np.ndarray:
    """``reasons`` with any number already earlier in its row replaced by -1."""
    out = reasons.copy()
    for k in range(1, out.shape[1]):
        repeated = (out[:, :k] == out[:, k : k + 1]).any(axis=1)
        out[repeated, k] = -1
    return out


def score_severity(
    batch: Columns, config: DecisionConfig, review_at: np.ndarray | None = None
) -> np.ndarray:
    """The decision the score alone gives each row (index into ``columns.OUTCOMES``).

    ``score >= block`` blocks when the row also meets ``score.block_requires`` (else it is
    reviewed); ``score >= review`` reviews, where ``review_at`` (the budget's per-row threshold,
    :mod:`processor.decisions.budget`) may raise the review threshold, though never above
    :meth:`DecisionConfig.unrationed_score`; no score at all gives ``score.missing``."""
    score = _numbers(batch, config.column(C.SCORE))
    policy = config.score
    with np.errstate(invalid="ignore"):
        block = score >= policy.block
        for comparison in policy.block_requires:
            block &= _holds(batch, config, comparison)
        cut = policy.review if review_at is None else np.maximum(policy.review, review_at)
        review = (score >= cut) | (score >= config.unrationed_score())
    severity = np.where(block, SEVERITY[C.BLOCK], np.where(review, SEVERITY[C.REVIEW], 0))
    return np.where(np.isnan(score), SEVERITY[policy.missing], severity).astype(np.int8)


def fired(
    batch: Columns, config: DecisionConfig, rules: Sequence[Rule] | None = None
) -> np.ndarray:
    """``[rows, rules]``: whether each rule (default: the active ones, in config order) fires
    on each row."""
    rules = config.active_rules() if rules is None else rules
    size = len(_numbers(batch, config.column(C.SCORE)))
    out = np.ones((size, len(rules)), dtype=bool)
    for k, rule in enumerate(rules):
        for comparison in rule.all:
            out[:, k] &= _holds(batch, config, comparison)
    return out


def decide(
    batch: Columns,
    config: DecisionConfig,
    model: ModelReasons | None = None,
    *,
    review_at: np.ndarray | None = None,
) -> Decided:
    """Decision and reasons for every row of ``batch`` (a mapping of column name to values).

    The decision is the most severe of the score's outcome (:func:`score_severity`; the review
    budget's per-row threshold in ``review_at``) and the actions of the rules that fire.
    Reasons, in order: fired rules (config order), the score reason when the score alone
    reached review (or the no-score reason), then up to ``model_reasons.max`` of the model's top
    features in plain words (when the decision is one of ``model_reasons.when``); each reason
    appears once.
    """
    names = list(batch.keys())
    check_columns(names, config)
    score = _numbers(batch, config.column(C.SCORE))
    size = len(score)
    policy = config.score
    missing = np.isnan(score)
    by_score = score_severity(batch, config, review_at)
    severity = by_score.copy()
    rules = config.active_rules()
    vocabulary = [rule.name for rule in rules] + [policy.reason, NO_SCORE_REASON]
    slots = [np.full(size, -1, dtype=np.int32) for _ in range(len(rules) + 1)]
    hits = fired(batch, config)
    for k, rule in enumerate(rules):
        mask = hits[:, k]
        slots[k][mask] = k
        severity = np.where(mask, np.maximum(severity, SEVERITY[rule.action]), severity)
    score_reason = ~missing & (by_score >= SEVERITY[C.REVIEW])
    slots[-1][score_reason] = len(rules)
    slots[-1][missing] = len(rules) + 1
    if model is not None and config.model_reasons.max > 0 and size:
        wanted = np.isin(severity, [SEVERITY[o] for o in config.model_reasons.when])
        offset = len(vocabulary)
        # features sharing plain words (amount, log amount) share one reason
        words, word_of = np.unique(
            np.asarray(list(model.words) or [""], dtype=object), return_inverse=True
        )
        vocabulary += [config.model_reasons.prefix + str(word) for word in words]
        top = np.asarray(model.features)[:, : config.model_reasons.max]
        for j in range(top.shape[1]):
            known = wanted & (top[:, j] >= 0)
            column = np.where(known, word_of[np.maximum(top[:, j], 0)] + offset, -1)
            slots.append(column.astype(np.int32))
    matrix = _without_repeats(np.stack(slots, axis=1)) if size else np.empty((0, 0), np.int32)
    present = matrix >= 0
    offsets = np.r_[0, np.cumsum(present.sum(axis=1))].astype(np.int32)
    values = pa.array(vocabulary, pa.string()).take(pa.array(matrix[present], pa.int32()))
    reasons = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)
    return Decided(severity.astype(np.int8), reasons)
