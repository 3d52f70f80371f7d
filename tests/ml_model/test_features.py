"""The feature code against a brute-force reference, and its defined values for gaps."""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudstream.events import TransactionEvent
from ml_model.features import (
    EMPTY_SNAPSHOT,
    FEATURE_COUNT,
    FEATURE_NAMES,
    UNKNOWN,
    CardState,
    FeatureConfig,
    TxInput,
    epoch_ms,
    features,
)
from ml_model.features.card import WINDOW_MS
from ml_model.features.schema import CARD_RETENTION_MS, DAY_MS, HOUR_MS
from ml_model.features.vector import haversine_km, hour_of_day, is_weekend

T0 = epoch_ms(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday
IX = {name: i for i, name in enumerate(FEATURE_NAMES)}


def tx(offset_ms: int, amount: float = 10.0, merchant: str = "m1", **kw: object) -> TxInput:
    return TxInput(event_ms=T0 + offset_ms, amount=amount, merchant_id=merchant, **kw)  # type: ignore[arg-type]


def reference(kept: list[TxInput], t: TxInput) -> dict[str, float]:
    """Brute force over the kept history (what the state should hold), as of ``t``."""
    times = [e.event_ms for e in kept]
    before = kept[: bisect_right(times, t.event_ms)]
    out: dict[str, float] = {}
    for (suffix, _), window in zip(
        [("10m", 0), ("1h", 0), ("1d", 0), ("7d", 0), ("30d", 0)], WINDOW_MS, strict=True
    ):
        inside = [e.amount for e in before if e.event_ms > t.event_ms - window]
        out[f"card_count_{suffix}"] = len(inside)
        out[f"card_sum_{suffix}"] = sum(inside)
        out[f"card_mean_{suffix}"] = sum(inside) / len(inside) if inside else 0.0
    out["seconds_since_previous"] = (t.event_ms - before[-1].event_ms) / 1000 if before else UNKNOWN
    out["first_time_merchant"] = 0.0 if any(e.merchant_id == t.merchant_id for e in before) else 1.0
    located = [e for e in before if e.located]
    if t.located and located:
        last = located[-1]
        assert last.lat is not None and last.lon is not None and t.lat is not None
        assert t.lon is not None
        out["distance_from_previous_km"] = haversine_km(last.lat, last.lon, t.lat, t.lon)
        lat = sum(e.lat for e in located if e.lat is not None) / len(located)
        lon = sum(e.lon for e in located if e.lon is not None) / len(located)
        out["distance_from_home_km"] = haversine_km(lat, lon, t.lat, t.lon)
    else:
        out["distance_from_previous_km"] = UNKNOWN
        out["distance_from_home_km"] = UNKNOWN
    return out


events = st.lists(
    st.tuples(
        st.integers(0, 3 * DAY_MS),  # gap to the previous event
        st.floats(0.01, 5000, allow_nan=False).map(lambda a: round(a, 2)),
        st.sampled_from(["m1", "m2", "m3"]),
        st.one_of(st.none(), st.tuples(st.floats(-60, 60), st.floats(-170, 170))),
        st.booleans(),  # deliver late (swap with the previous event)
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(events)
def test_state_matches_brute_force_in_and_out_of_order(items: list[tuple]) -> None:
    clock = 0
    stream: list[TxInput] = []
    for gap, amount, merchant, where, _ in items:
        clock += gap
        lat, lon = where if where else (None, None)
        stream.append(tx(clock, amount, merchant, lat=lat, lon=lon))
    for i, (*_, late) in enumerate(items):
        if late and i:
            stream[i - 1], stream[i] = stream[i], stream[i - 1]
    state = CardState()
    kept: list[TxInput] = []
    for item in stream:
        vector = features(state, None, item)
        expect = reference(kept, item)
        for name, value in expect.items():
            # coordinates are stored in micro-degrees: distances agree to a few centimetres
            slack = 1e-3 if name.endswith("_km") else 1e-6
            assert vector[IX[name]] == pytest.approx(value, rel=1e-9, abs=slack), name
        state.add(item, max_history=10_000)
        kept.append(item)
        kept.sort(key=lambda e: e.event_ms)  # stable: ties keep arrival order
        newest = max(e.event_ms for e in kept)
        kept = [e for e in kept if e.event_ms > newest - CARD_RETENTION_MS]
        assert len(state) == len(kept)
        state = CardState.from_dict(json.loads(json.dumps(state.to_dict())))


def test_missing_optional_fields_give_defined_values() -> None:
    state = CardState()
    first = features(state, None, tx(0, 25.0))
    assert len(first) == FEATURE_COUNT
    assert all(math.isfinite(v) for v in first)
    assert first[IX["channel_code"]] == UNKNOWN
    assert first[IX["seconds_since_previous"]] == UNKNOWN
    assert first[IX["distance_from_home_km"]] == UNKNOWN
    assert first[IX["first_time_category"]] == UNKNOWN
    assert first[IX["first_time_merchant"]] == 1.0
    assert first[IX["amount_to_mean_30d"]] == UNKNOWN
    assert first[IX["merchant_fraud_share_7d"]] == 0.0
    state.add(tx(0, 25.0), 100)
    # a located transaction after unlocated history: still no previous location
    second = features(state, None, tx(HOUR_MS, 50.0, lat=48.0, lon=2.0, channel="bogus"))
    assert second[IX["distance_from_previous_km"]] == UNKNOWN
    assert second[IX["channel_code"]] == UNKNOWN
    assert second[IX["amount_to_mean_30d"]] == 2.0
    # zero amounts (present in the handbook data) do not break log or ratios
    assert features(state, EMPTY_SNAPSHOT, tx(2 * HOUR_MS, 0.0))[IX["log_amount"]] == 0.0


def test_time_features_use_utc_calendar() -> None:
    for moment in (
        datetime(2026, 3, 7, 23, 59, tzinfo=UTC),  # Saturday
        datetime(2026, 3, 9, 0, 0, tzinfo=UTC),  # Monday
        datetime(1969, 12, 31, 5, 0, tzinfo=UTC),  # before the epoch
    ):
        ms = epoch_ms(moment)
        assert hour_of_day(ms) == moment.hour
        assert is_weekend(ms) == (moment.weekday() >= 5)
    with pytest.raises(ValueError, match="timezone-aware"):
        epoch_ms(datetime(2026, 1, 1))  # noqa: DTZ001


def test_travel_speed_and_first_time_category() -> None:
    state = CardState()
    paris = tx(0, 10, lat=48.8566, lon=2.3522, merchant_category="grocery")
    state.add(paris, 100)
    nyc = tx(2 * HOUR_MS, 10, lat=40.7128, lon=-74.0060, merchant_category="travel")
    vector = features(state, None, nyc)
    assert vector[IX["distance_from_previous_km"]] == pytest.approx(5837, rel=0.01)
    assert vector[IX["speed_from_previous_kmh"]] == pytest.approx(5837 / 2, rel=0.01)
    assert vector[IX["first_time_category"]] == 1.0
    again = features(state, None, tx(3 * HOUR_MS, 10, merchant_category="grocery"))
    assert again[IX["first_time_category"]] == 0.0


def test_state_is_bounded() -> None:
    state = CardState()
    for i in range(200):
        state.add(tx(i * DAY_MS // 2, 5.0), max_history=1_000)
    assert len(state) == 60  # 30 days at two a day
    assert min(state.ts) > max(state.ts) - CARD_RETENTION_MS
    burst = CardState()
    for i in range(50):
        burst.add(tx(i, 1.0), max_history=20)
    assert len(burst) == 20
    vector = features(burst, None, tx(60, 1.0))
    assert vector[IX["card_count_10m"]] == 20
    assert vector[IX["card_sum_10m"]] == 20.0


def test_from_event_and_mapping_agree() -> None:
    when = datetime(2026, 3, 2, 9, 30, 15, 250000, tzinfo=UTC)
    event = TransactionEvent(
        transaction_id="tx-1",
        card_id="tok_0123456789abcdef_4242",
        merchant_id="m-1",
        amount=12.5,
        currency="EUR",
        event_time=when,
        channel="online",
    )
    from_event = TxInput.from_event(event)
    row = event.to_dict() | {"event_time": when, "lat": float("nan")}
    assert TxInput.from_mapping(row) == from_event
    assert from_event.event_ms == epoch_ms(when - timedelta(0))


def test_binary_state_round_trip_and_corruption() -> None:
    state = CardState()
    assert CardState.from_bytes(state.to_bytes()) == state
    for i in range(5):
        state.add(tx(i * HOUR_MS, 3.0 + i, lat=1.0, lon=2.0, merchant_category="x"), 100)
    state.add(tx(6 * HOUR_MS, 1.0, merchant_category=""), 100)  # an unknown category
    blob = state.to_bytes()
    assert CardState.from_bytes(blob) == state
    for bad in (b"", b"\x09" + blob[1:], blob[:-3], blob + b"\x00"):
        with pytest.raises(ValueError, match="corrupt card state"):
            CardState.from_bytes(bad)


def test_feature_config_validates_and_round_trips() -> None:
    config = FeatureConfig(label_delay_ms=60_000, merchant_bucket_ms=60_000)
    assert FeatureConfig.from_dict(config.to_dict() | {"unknown": 1}) == config
    with pytest.raises(ValueError, match="divisor"):
        FeatureConfig(merchant_bucket_ms=7 * HOUR_MS)
    with pytest.raises(ValueError, match="label_delay"):
        FeatureConfig(label_delay_ms=-1)


def test_names_are_unique_and_described() -> None:
    from ml_model.features import FEATURE_DESCRIPTIONS

    assert len(set(FEATURE_NAMES)) == FEATURE_COUNT
    assert set(FEATURE_DESCRIPTIONS) == set(FEATURE_NAMES)
    assert np.isfinite(features(CardState(), None, tx(0))).all()
