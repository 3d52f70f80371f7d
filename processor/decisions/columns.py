"""The batch columns the decision step reads and writes: named here and nowhere else.

Rules in the YAML file refer to columns by these *rule names*. When the feature code or the
scoring client names a column differently, map it in the rules file's ``columns:`` section
(rule name -> batch column) rather than editing rules or code:

=========================  ==========================================================
rule name                  meaning (expected type)
=========================  ==========================================================
``score``                  fraud probability from the model, 0..1 (float; NaN = none)
``amount``                 transaction amount (float)
``card_mean_amount_30d``   mean amount of the card's previous 30 days (float; NaN = no
                           history)
``speed_kmh_from_prev``    implied speed between the card's previous and this
                           transaction's location, km/h (float; NaN = unknown)
``card_count_10m``         the card's transactions in the 10 minutes up to and including
                           this one (int)
``model_reasons``          top contributing features from the scoring client, as
                           plain-word strings (list of str; optional column)
=========================  ==========================================================

Outputs: ``decision`` (``approve`` / ``review`` / ``block``) and ``reasons`` (list of str).
"""

from __future__ import annotations

SCORE = "score"
AMOUNT = "amount"
CARD_MEAN_AMOUNT_30D = "card_mean_amount_30d"
SPEED_KMH_FROM_PREV = "speed_kmh_from_prev"
CARD_COUNT_10M = "card_count_10m"
MODEL_REASONS = "model_reasons"

DECISION = "decision"
REASONS = "reasons"

APPROVE, REVIEW, BLOCK = "approve", "review", "block"
OUTCOMES = (APPROVE, REVIEW, BLOCK)
"""Decisions from least to most severe."""
