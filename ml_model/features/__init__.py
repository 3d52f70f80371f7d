"""Features defined once, shared by the training-set builder and the stream.

The processor's per-card operator calls, for each transaction of a card in event-time order::

    from ml_model.features import CardState, FeatureConfig, TxInput, features

    tx = TxInput.from_mapping(row.asDict())            # or TxInput.from_event(event)
    vector = features(card_state, merchant_snapshot, tx)   # BEFORE adding tx
    card_state.add(tx, config.card_max_history)

and stores ``card_state.to_bytes()`` (one binary state value). Merchant risk comes
from :class:`MerchantState` (fed transactions and delayed fraud labels; ``snapshot(t, config)``).
:class:`StreamingFeatures` shows the whole loop; :func:`build` is the batch builder.
"""

from ml_model.features.builder import build
from ml_model.features.card import CardState
from ml_model.features.merchant import (
    EMPTY_SNAPSHOT,
    MerchantSnapshot,
    MerchantState,
    merchant_state_spark_schema,
)
from ml_model.features.schema import (
    FEATURE_COUNT,
    FEATURE_DESCRIPTIONS,
    FEATURE_NAMES,
    UNKNOWN,
    FeatureConfig,
)
from ml_model.features.stream import StreamingFeatures
from ml_model.features.transaction import TxInput, epoch_ms
from ml_model.features.vector import card_features, features

__all__ = [
    "EMPTY_SNAPSHOT",
    "FEATURE_COUNT",
    "FEATURE_DESCRIPTIONS",
    "FEATURE_NAMES",
    "UNKNOWN",
    "CardState",
    "FeatureConfig",
    "MerchantSnapshot",
    "MerchantState",
    "StreamingFeatures",
    "TxInput",
    "build",
    "card_features",
    "epoch_ms",
    "features",
    "merchant_state_spark_schema",
]
