"""Decision rules as configuration: a YAML file, validated into a frozen object.

The default file ships with the package (``processor/decisions/rules.yaml``); the setting
``rules_path`` (``FRAUDSTREAM_RULES_PATH``) points at another. A rule is a named list of
comparisons that must all hold; when it fires it contributes its name as a reason code and
raises the decision to at least its ``action``. Comparisons read a column and compare it with a
constant (``value``) or with another column times a factor (``other`` and ``factor``).

Beside the rules, the score policy maps the model score to a decision (with conditions a row
must also meet for the score alone to block), and the optional ``budget`` caps how much of the
recent traffic the score alone sends to review (:mod:`processor.decisions.budget`).
"""

from __future__ import annotations

import logging
import math
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from processor.decisions import columns as C
from processor.errors import RulesError

log = logging.getLogger(__name__)

DEFAULT_RULES = "rules.yaml"
_NAME = r"^[a-z][a-z0-9_]{0,63}$"

Outcome = Literal["approve", "review", "block"]
Operator = Literal[">", ">=", "<", "<=", "==", "!="]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Comparison(_Strict):
    """``column <op> value`` or ``column <op> other * factor``; false when an operand is null."""

    column: str = Field(min_length=1, description="Rule name of the column on the left.")
    op: Operator = Field(description="Comparison operator.")
    value: float | None = Field(None, description="Constant on the right.")
    other: str | None = Field(None, min_length=1, description="Column on the right.")
    factor: float = Field(1.0, description="Multiplier of `other`.")

    @model_validator(mode="after")
    def _one_right_side(self) -> Comparison:
        if (self.value is None) == (self.other is None):
            raise ValueError("give exactly one of 'value' or 'other'")
        if self.other is None and self.factor != 1.0:
            raise ValueError("'factor' applies only with 'other'")
        for number in (self.value, self.factor):
            if number is not None and not math.isfinite(number):
                raise ValueError("numbers must be finite")
        return self

    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.other is None else (self.column, self.other)


class Rule(_Strict):
    """A named condition; its name is the reason code it adds."""

    name: Annotated[str, Field(pattern=_NAME)] = Field(
        description="Reason code when it fires (lower_snake_case)."
    )
    description: str = Field("", description="What the rule catches, for people.")
    action: Literal["review", "block"] = Field(description="Least decision when it fires.")
    enabled: bool = Field(True, description="False keeps the rule in the file but off.")
    all: tuple[Comparison, ...] = Field(min_length=1, description="Comparisons that must hold.")


# The least float above 1: a threshold no score reaches (training's "never" threshold).
ABOVE_ANY_SCORE = math.nextafter(1.0, 2.0)


class ScorePolicy(_Strict):
    """How the model score alone maps to a decision."""

    review: float = Field(
        ge=0.0, le=ABOVE_ANY_SCORE, description="Score at or above which to review."
    )
    block: float = Field(
        ge=0.0,
        le=ABOVE_ANY_SCORE,
        description="Score at or above which to block; just above 1 means the score alone never "
        "blocks (what training picks when no threshold is precise enough).",
    )
    from_model: bool = Field(
        True,
        description="Use the thresholds the model was trained with (its manifest) when it has "
        "them; review and block above apply otherwise.",
    )
    missing: Outcome = Field("review", description="Decision when a row has no score.")
    reason: Annotated[str, Field(pattern=_NAME)] = Field(
        "high_model_score", description="Reason code when the score alone reaches review."
    )
    block_requires: tuple[Comparison, ...] = Field(
        (),
        description="Comparisons a row must also meet for the score alone to block it; a row "
        "at the block score that fails one is reviewed instead.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> ScorePolicy:
        if self.review > self.block:
            raise ValueError(f"review ({self.review}) must not exceed block ({self.block})")
        return self


class ModelReasons(_Strict):
    """Which of the scoring client's plain-word contributions join the reasons."""

    max: int = Field(3, ge=0, le=20, description="Most contributions kept per row.")
    prefix: str = Field("model:", max_length=16, description="Prepended to each contribution.")
    when: tuple[Outcome, ...] = Field(
        ("review", "block"), description="Decisions whose rows carry model reasons."
    )


class BudgetPolicy(_Strict):
    """The analysts' review budget, held whatever the traffic's fraud rate."""

    review_share: float = Field(
        gt=0.0,
        lt=1.0,
        description="Most transactions the score alone sends to review, as a share of the "
        "transactions of the recent event hours (the highest scores are kept).",
    )
    hours: int = Field(
        3,
        ge=1,
        le=24,
        description="Event hours (the transaction's own and those before it) whose scores set "
        "the review threshold.",
    )
    always_review_from: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="Scores at or above this (the model's probability of fraud) are reviewed "
        "even over the budget, as are block scores the block conditions refuse: the budget "
        "rations only the doubtful band.",
    )
    anomaly_part: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description="Part of review_share kept for rows the model approves but the anomaly "
        "detector finds unusual (reason 'anomalous', the most unusual first); the score "
        "rations the rest. Applies when the model has an anomaly detector and "
        "FRAUDSTREAM_ANOMALY_SIGNAL is on; otherwise the score has all of review_share.",
    )

    def split(self, anomaly: bool) -> tuple[BudgetPolicy, BudgetPolicy | None]:
        """(the score's budget, the anomaly signal's): ``review_share`` shared out when the
        anomaly signal is on, all the score's when it is off."""
        if not anomaly:
            return self, None
        kept = self.review_share * self.anomaly_part
        model = self.model_copy(update={"review_share": self.review_share - kept})
        return model, self.model_copy(update={"review_share": kept})


class DecisionConfig(_Strict):
    """A whole rules file."""

    version: Literal[1] = Field(description="Format version of the rules file.")
    score: ScorePolicy
    budget: BudgetPolicy | None = Field(
        None, description="Review budget; none means the review threshold alone decides."
    )
    model_reasons: ModelReasons = Field(default_factory=lambda: ModelReasons.model_validate({}))
    columns: dict[str, str] = Field(
        default_factory=dict, description="Rule name -> batch column, where they differ."
    )
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> DecisionConfig:
        names = [rule.name for rule in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(duplicates)}")
        if self.score.reason in names:
            raise ValueError(f"score.reason {self.score.reason!r} is also a rule name")
        return self

    def column(self, name: str) -> str:
        """The batch column behind a rule name."""
        return self.columns.get(name, name)

    def unrationed_score(self) -> float:
        """The score from which the score alone always acts (block, or review outside the
        budget): the block threshold, or the budget's ``always_review_from`` if lower."""
        if self.budget is None:
            return self.score.block
        return min(self.score.block, self.budget.always_review_from)

    def active_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.enabled)

    def required_columns(self) -> tuple[str, ...]:
        """Batch columns a batch must have (``model_reasons`` is optional)."""
        names = [C.SCORE]
        for comparison in self.score.block_requires:
            names.extend(comparison.columns())
        for rule in self.active_rules():
            for comparison in rule.all:
                names.extend(comparison.columns())
        return tuple(dict.fromkeys(self.column(n) for n in names))


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        message = re.sub(r"^Value error, ", "", item["msg"])
        parts.append(f"{_location(item['loc'])}: {message}")
    return "; ".join(parts)


def parse_rules(text: str, source: str = "<rules>") -> DecisionConfig:
    """Validate a rules document; :class:`RulesError` names the source and every bad key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RulesError(f"rules file {source} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise RulesError(f"rules file {source} must hold a mapping (version, score, rules)")
    try:
        return DecisionConfig.model_validate(data)
    except ValidationError as error:
        raise RulesError(f"rules file {source} is invalid: {_describe(error)}") from error


def default_rules_text() -> str:
    return resources.files("processor.decisions").joinpath(DEFAULT_RULES).read_text()


def load_rules(path: str | Path | None = None) -> DecisionConfig:
    """The rules at ``path``, or the default shipped with the package when None."""
    if path is None:
        return parse_rules(default_rules_text(), f"(default) {DEFAULT_RULES}")
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as error:
        raise RulesError(f"rules file {file} cannot be read: {error.strerror}") from error
    return parse_rules(text, str(file))


class RulesFile:
    """The rules at a path, reloaded when the file changes; a bad edit keeps the last good.

    ``current()`` costs one ``stat`` per call. With ``path=None`` it always returns the
    packaged default. ``last_error`` holds why the latest edit was refused, if it was.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._config = load_rules(self.path)
        self._stamp = self._read_stamp()
        self.last_error: RulesError | None = None

    def _read_stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def current(self) -> DecisionConfig:
        stamp = self._read_stamp()
        if stamp is not None and stamp != self._stamp:
            self._stamp = stamp
            try:
                self._config = load_rules(self.path)
                self.last_error = None
            except RulesError as error:
                self.last_error = error
                log.error("keeping the previous decision rules: %s", error)
        return self._config


def with_model_thresholds(config: DecisionConfig, review: float, block: float) -> DecisionConfig:
    """``config`` with the model's thresholds, unless its score policy opts out."""
    if not config.score.from_model:
        return config
    score = config.score.model_copy(update={"review": review, "block": block})
    return config.model_copy(update={"score": ScorePolicy.model_validate(score.model_dump())})
