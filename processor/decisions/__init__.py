"""Decisions: approve / review / block from the model score and configurable rules.

``load_rules(settings.rules_path)`` once (or :class:`RulesFile` to pick up edits), then
``decide(batch, config)`` per micro-batch. Column names: :mod:`processor.decisions.columns`.
"""

from processor.decisions.config import (
    DecisionConfig,
    RulesFile,
    load_rules,
    parse_rules,
    with_model_thresholds,
)
from processor.decisions.engine import apply_decisions, check_columns, decide, decide_arrow

__all__ = [
    "DecisionConfig",
    "RulesFile",
    "apply_decisions",
    "check_columns",
    "decide",
    "decide_arrow",
    "load_rules",
    "parse_rules",
    "with_model_thresholds",
]
