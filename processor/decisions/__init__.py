"""Decisions: approve / review / block from the model score and configurable rules.

``load_rules(settings.rules_path)`` once (or :class:`RulesFile` to pick up edits), then
``decide(columns, config, model_reasons)`` per micro-batch. Column names:
:mod:`processor.decisions.columns`.
"""

from processor.decisions.config import (
    DecisionConfig,
    RulesFile,
    load_rules,
    parse_rules,
    with_model_thresholds,
)
from processor.decisions.engine import Decided, ModelReasons, check_columns, decide

__all__ = [
    "Decided",
    "DecisionConfig",
    "ModelReasons",
    "RulesFile",
    "check_columns",
    "decide",
    "load_rules",
    "parse_rules",
    "with_model_thresholds",
]
