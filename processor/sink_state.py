"""What the batch sink remembers between micro-batches, on the driver: merchant risk (fed by
transactions and delayed labels), the open aggregate windows, and which labels were already
applied (the labels stream may deliver one twice). Saved after every batch by
:class:`~processor.driver_state.DriverStateStore`.

Merchant risk lives here rather than in a second keyed Spark operator because it is small
(one entry per merchant and time bucket) and every transaction of a batch needs it at once;
see docs/adr/0004-processor.md for the trade-off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ml_model.features import FeatureConfig, MerchantSnapshot, MerchantState
from processor.windows import WindowSpec, WindowState

LABEL_MEMORY_MS = 31 * 86_400_000  # labels for events older than this are no longer tracked


@dataclass
class SinkState:
    config: FeatureConfig
    windows: WindowState
    merchants: dict[str, MerchantState] = field(default_factory=dict)
    labels_seen: dict[str, int] = field(default_factory=dict)  # transaction id -> event ms

    @classmethod
    def empty(cls, config: FeatureConfig, spec: WindowSpec) -> SinkState:
        return cls(config=config, windows=WindowState(spec=spec))

    def merchant_snapshot(self, merchant_id: str, event_ms: int) -> MerchantSnapshot:
        """Risk of ``merchant_id`` as known at ``event_ms`` (labels older than the delay)."""
        merchant = self.merchants.get(merchant_id)
        return merchant.snapshot(event_ms, self.config) if merchant else MerchantSnapshot()

    def add_transaction(self, merchant_id: str, event_ms: int) -> None:
        merchant = self.merchants.get(merchant_id)
        if merchant is None:
            merchant = self.merchants[merchant_id] = MerchantState()
        merchant.add_transaction(event_ms, self.config)

    def add_label(self, transaction_id: str, merchant_id: str, event_ms: int, fraud: bool) -> bool:
        """Apply a label once; False when this transaction's label was already applied."""
        if transaction_id in self.labels_seen:
            return False
        self.labels_seen[transaction_id] = event_ms
        merchant = self.merchants.get(merchant_id)
        if merchant is None:
            merchant = self.merchants[merchant_id] = MerchantState()
        merchant.add_label(event_ms, fraud, self.config)
        return True

    def forget_old_labels(self, now_ms: int) -> None:
        cutoff = now_ms - LABEL_MEMORY_MS
        self.labels_seen = {k: v for k, v in self.labels_seen.items() if v >= cutoff}

    def to_dict(self) -> dict[str, Any]:
        return {
            "merchants": {k: v.to_dict() for k, v in self.merchants.items()},
            "windows": self.windows.to_dict(),
            "labels_seen": self.labels_seen,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], config: FeatureConfig, spec: WindowSpec) -> SinkState:
        return cls(
            config=config,
            windows=WindowState.from_dict(data.get("windows", {}), spec),
            merchants={k: MerchantState.from_dict(v) for k, v in data.get("merchants", {}).items()},
            labels_seen={str(k): int(v) for k, v in data.get("labels_seen", {}).items()},
        )
