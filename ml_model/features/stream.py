"""One-event-at-a-time feature engine: the stream's view of the shared feature code.

:class:`StreamingFeatures` keeps card and merchant states in dicts keyed by id, exactly as the
processor keeps them in Spark state, and can round-trip every state through its serialised form
between events (``roundtrip=True``) to prove nothing depends on in-memory objects. The parity
test feeds it events one by one and compares with :func:`ml_model.features.builder.build`.

Use it directly where a keyed store is enough (e.g. merchant state on the driver for the local
demo); in Spark, call the same three steps inside the stateful operator:

    snapshot = merchant_state.snapshot(tx.event_ms, config)      # merchant side
    vector = features(card_state, snapshot, tx)                  # card side, before adding
    card_state.add(tx, config.card_max_history)
    merchant_state.add_transaction(tx.event_ms, config)
"""

from __future__ import annotations

from ml_model.features.card import CardState
from ml_model.features.merchant import MerchantState
from ml_model.features.schema import FeatureConfig
from ml_model.features.transaction import TxInput
from ml_model.features.vector import features


class StreamingFeatures:
    """Card and merchant states by id, fed transactions and labels in arrival order."""

    def __init__(self, config: FeatureConfig, *, roundtrip: bool = False) -> None:
        self.config = config
        self.roundtrip = roundtrip
        self.cards: dict[str, CardState | dict[str, object]] = {}
        self.merchants: dict[str, MerchantState | dict[str, object]] = {}

    def _card(self, card_id: str) -> CardState:
        stored = self.cards.get(card_id)
        if stored is None:
            return CardState()
        return CardState.from_dict(stored) if isinstance(stored, dict) else stored

    def _merchant(self, merchant_id: str) -> MerchantState:
        stored = self.merchants.get(merchant_id)
        if stored is None:
            return MerchantState()
        return MerchantState.from_dict(stored) if isinstance(stored, dict) else stored

    def on_transaction(self, card_id: str, tx: TxInput) -> list[float]:
        """Features of ``tx`` from the states before it, then record it in both states."""
        merchant = self._merchant(tx.merchant_id)
        card = self._card(card_id)
        vector = features(card, merchant.snapshot(tx.event_ms, self.config), tx)
        card.add(tx, self.config.card_max_history)
        merchant.add_transaction(tx.event_ms, self.config)
        self.cards[card_id] = card.to_dict() if self.roundtrip else card
        self.merchants[tx.merchant_id] = merchant.to_dict() if self.roundtrip else merchant
        return vector

    def on_label(self, merchant_id: str, event_ms: int, is_fraud: bool) -> None:
        """A label arrived for one of ``merchant_id``'s transactions (made at ``event_ms``)."""
        merchant = self._merchant(merchant_id)
        merchant.add_label(event_ms, is_fraud, self.config)
        self.merchants[merchant_id] = merchant.to_dict() if self.roundtrip else merchant
