"""The feature engine: state and a batch in, the feature matrix out; training and the stream
both call it.

:class:`FeatureEngine` holds the card and merchant state and computes the features of a whole
batch of transactions at once (Arrow/numpy columns, rows in any order): each row from its
card's transactions strictly before it and its merchant's labelled history as of its time,
earlier rows of the same batch included. The stream calls it once per micro-batch with the
micro-batch's transactions and the labels that arrived with them; the training-set builder
(:mod:`ml_model.features.builder`) replays history through it in chunks of time. Because every
part of a feature is computed exactly for any row within ``lateness_ms`` of the newest seen, the
matrix does not depend on how the rows were cut into batches: parity with training holds by
construction (tests/ml_model/test_engine.py proves it on random cuts).

Input columns (:data:`TX_COLUMNS`, :data:`LABEL_COLUMNS`): transactions ``card_id,
merchant_id, amount, event_ms`` and optionally ``merchant_category, channel, lat, lon``
(missing columns or nulls mean absent); labels ``merchant_id, event_ms, label_ms, is_fraud``
(only frauds change the state; de-duplicate them upstream).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ml_model.features.cards import CardRows, CardStore
from ml_model.features.merchants import MerchantStore
from ml_model.features.rings import NEVER
from ml_model.features.schema import (
    CHANNEL_CODES,
    DAY_MS,
    FEATURE_COUNT,
    FEATURE_INDEX,
    HOUR_MS,
    UNKNOWN,
    FeatureConfig,
)

TX_COLUMNS = ("card_id", "merchant_id", "amount", "event_ms")
TX_OPTIONAL = ("merchant_category", "channel", "lat", "lon")
LABEL_COLUMNS = ("merchant_id", "event_ms", "label_ms", "is_fraud")
NIGHT_LAST_HOUR = 6  # 00:00-06:59 is night, as in the handbook
_CHANNELS = pa.array(list(CHANNEL_CODES), pa.string())
_CHANNEL_VALUES = np.array([*CHANNEL_CODES.values(), UNKNOWN])


def _column(table: pa.Table, name: str) -> pa.Array | None:
    if name not in table.column_names:
        return None
    return table.column(name).combine_chunks()


def _numbers(table: pa.Table, name: str, dtype: type) -> np.ndarray:
    column = _column(table, name)
    if column is None:
        return np.full(table.num_rows, np.nan)
    return np.asarray(
        pc.cast(column, pa.float64() if dtype is float else pa.int64()).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.float64 if dtype is float else np.int64,
    )


def check_columns(table: pa.Table, required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise ValueError(f"{what} lack column(s): {', '.join(missing)}")


@dataclass
class EngineStats:
    """What the engine has seen, for metrics and tests."""

    batches: int = 0
    rows: int = 0
    late_rows: int = 0  # rows older than the newest seen minus the lateness (approximate)
    aged_entries: int = 0
    expired_cards: int = 0
    expired_merchants: int = 0
    upkeep: dict[str, int] = field(default_factory=dict)


class FeatureEngine:
    """Card and merchant state plus :meth:`compute`. ``lateness_ms``: how much older than the
    newest transaction seen a transaction may be and still get exact features (the stream's
    watermark delay; 0 for time-ordered history)."""

    def __init__(
        self, config: FeatureConfig, lateness_ms: int = 0, *, slab_rows: int = 16_384
    ) -> None:
        if lateness_ms < 0:
            raise ValueError("lateness_ms must be >= 0")
        self.config = config
        self.lateness_ms = lateness_ms
        self.cards = CardStore(lateness_ms, slab_rows=slab_rows)
        self.merchants = MerchantStore(config, lateness_ms)
        self.categories: dict[str, int] = {}
        self.newest_ms = int(NEVER)
        self.oldest_ms: int | None = None
        self.stats = EngineStats()
        self._expired_at = int(NEVER)

    # -- the batch ----------------------------------------------------------------------------
    def compute(self, transactions: pa.Table, labels: pa.Table | None = None) -> np.ndarray:
        """Features (float32, ``FEATURE_NAMES`` order, rows in ``transactions`` order) of a
        batch; labels that arrived with it count for its rows from their label time on. The
        state is updated in place."""
        check_columns(transactions, TX_COLUMNS, "transactions")
        if labels is not None and labels.num_rows:
            self._add_labels(labels)
        n = transactions.num_rows
        out = np.empty((n, FEATURE_COUNT), dtype=np.float64)
        if n:
            t = _numbers(transactions, "event_ms", int)
            amount = _numbers(transactions, "amount", float)
            self._own_columns(transactions, t, amount, out)
            lat = _numbers(transactions, "lat", float)
            lon = _numbers(transactions, "lon", float)
            both = np.isfinite(lat) & np.isfinite(lon)
            lat, lon = np.where(both, lat, np.nan), np.where(both, lon, np.nan)
            merchant = self.merchants.slots_for(_column(transactions, "merchant_id"))
            rows = CardRows(
                slot=self.cards.slots_for(_column(transactions, "card_id")),
                t=t,
                amount=amount,
                lat=lat,
                lon=lon,
                merchant=merchant,
                cat=self._category_codes(_column(transactions, "merchant_category"), n),
            )
            if self.newest_ms > NEVER:
                self.stats.late_rows += int((t < self.newest_ms - self.lateness_ms).sum())
            self.cards.features(rows, out)
            self.merchants.features(merchant, t, out)
            self.newest_ms = max(self.newest_ms, int(t.max()))
            low = int(t.min())
            self.oldest_ms = low if self.oldest_ms is None else min(self.oldest_ms, low)
        self.stats.batches += 1
        self.stats.rows += n
        self._upkeep()
        return out.astype(np.float32)

    def _add_labels(self, labels: pa.Table) -> None:
        check_columns(labels, LABEL_COLUMNS, "labels")
        fraud = pc.fill_null(labels.column("is_fraud").combine_chunks().cast(pa.bool_()), False)
        frauds = labels.filter(fraud)
        if not frauds.num_rows:
            return
        slots = self.merchants.slots_for(_column(frauds, "merchant_id"))
        self.merchants.add_labels(
            slots, _numbers(frauds, "event_ms", int), _numbers(frauds, "label_ms", int)
        )

    def _own_columns(
        self, table: pa.Table, t: np.ndarray, amount: np.ndarray, out: np.ndarray
    ) -> None:
        hour = (t // HOUR_MS) % 24
        out[:, FEATURE_INDEX["amount"]] = amount
        out[:, FEATURE_INDEX["log_amount"]] = np.log1p(np.maximum(amount, 0.0))
        out[:, FEATURE_INDEX["hour_of_day"]] = hour
        out[:, FEATURE_INDEX["is_night"]] = hour <= NIGHT_LAST_HOUR
        out[:, FEATURE_INDEX["is_weekend"]] = (t // DAY_MS + 3) % 7 >= 5  # 1970-01-01: Thu
        channel = _column(table, "channel")
        if channel is None:
            out[:, FEATURE_INDEX["channel_code"]] = UNKNOWN
        else:
            code = pc.fill_null(pc.index_in(channel.cast(pa.string()), _CHANNELS), -1)
            out[:, FEATURE_INDEX["channel_code"]] = _CHANNEL_VALUES[code.to_numpy()]

    def _category_codes(self, column: pa.Array | None, n: int) -> np.ndarray:
        """Small integer codes of merchant categories (-1 when absent); the loop runs over
        the batch's distinct categories, not its rows."""
        if column is None:
            return np.full(n, -1, dtype=np.int32)
        encoded = pc.dictionary_encode(column.cast(pa.string()))
        names = encoded.dictionary.to_pylist()
        codes = np.array(
            [
                self.categories.setdefault(name, len(self.categories)) if name else -1
                for name in names
            ]
            + [-1],
            dtype=np.int32,
        )
        index = pc.fill_null(encoded.indices, len(names)).to_numpy(zero_copy_only=False)
        return codes[index]

    # -- upkeep -------------------------------------------------------------------------------
    def _upkeep(self) -> None:
        if self.newest_ms <= NEVER:
            return
        self.stats.aged_entries += self.cards.age(self.newest_ms)
        self.merchants.fold(self.newest_ms)
        if self.newest_ms - self._expired_at >= HOUR_MS:
            self._expired_at = self.newest_ms
            self.stats.expired_cards += self.cards.expire(self.newest_ms)
            self.stats.expired_merchants += self.merchants.expire(self.newest_ms)

    def history_days(self) -> float | None:
        """How many days of event time the state has seen (None: nothing yet, or a state
        restored from a snapshot that predates this count). Model monitoring compares it with
        the history its training baseline had: a state younger than that has colder cards."""
        if self.oldest_ms is None or self.newest_ms <= NEVER:
            return None
        return (self.newest_ms - self.oldest_ms) / DAY_MS

    def nbytes(self) -> dict[str, int]:
        """Bytes of state by part (``cards.*``, ``merchants.*``)."""
        parts = {f"cards.{k}": v for k, v in self.cards.nbytes().items()}
        parts |= {f"merchants.{k}": v for k, v in self.merchants.nbytes().items()}
        return parts
