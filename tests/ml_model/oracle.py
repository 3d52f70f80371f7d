"""A slow, obviously-correct statement of the feature semantics, to test the engine against.

One transaction at a time, straight from the definitions in docs/model.md, over everything
"fed" before it: transactions of earlier batches or of its own batch, labels of earlier batches
or of its own batch whose label time is at or before it. No state, no tiles, no cleverness.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ml_model.features.schema import (
    CARD_WINDOWS,
    CHANNEL_CODES,
    DAY_MS,
    FEATURE_COUNT,
    FEATURE_INDEX,
    HOUR_MS,
    LOOKBACK_MS,
    MERCHANT_WINDOW_DAYS,
    RATIO_WINDOWS,
    UNKNOWN,
    FeatureConfig,
)

AMOUNT_SCALE = 100
COORD_SCALE = 1_000_000
LOOKBACK_DAYS = LOOKBACK_MS // DAY_MS


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    return str(value)


def oracle(
    tx: pd.DataFrame,
    labels: pd.DataFrame,
    config: FeatureConfig,
    tx_batch: np.ndarray | None = None,
    label_batch: np.ndarray | None = None,
) -> np.ndarray:
    """Features of every row of ``tx``; ``tx_batch``/``label_batch``: the batch number each row
    and label was fed in (default: everything in one batch)."""
    n = len(tx)
    tb = np.zeros(n, int) if tx_batch is None else np.asarray(tx_batch)
    frauds = labels[labels["is_fraud"].astype(bool)].reset_index(drop=True)
    lb = np.zeros(len(labels), int) if label_batch is None else np.asarray(label_batch)
    lb = lb[labels["is_fraud"].astype(bool).to_numpy()]
    t_all = tx["event_ms"].to_numpy(np.int64)
    amt_all = np.rint(tx["amount"].to_numpy(float) * AMOUNT_SCALE).astype(np.int64)
    cards = tx["card_id"].astype(str).to_numpy()
    merchants = tx["merchant_id"].astype(str).to_numpy()
    cats = [
        _text(v) for v in (tx["merchant_category"] if "merchant_category" in tx else [None] * n)
    ]
    chans = [_text(v) for v in (tx["channel"] if "channel" in tx else [None] * n)]
    lat = tx["lat"].to_numpy(float) if "lat" in tx else np.full(n, np.nan)
    lon = tx["lon"].to_numpy(float) if "lon" in tx else np.full(n, np.nan)
    located = np.isfinite(lat) & np.isfinite(lon)
    out = np.zeros((n, FEATURE_COUNT))
    for i in range(n):
        t = int(t_all[i])
        f = out[i]
        amount = float(tx["amount"].iat[i])
        hour = (t // HOUR_MS) % 24
        f[FEATURE_INDEX["amount"]] = amount
        f[FEATURE_INDEX["log_amount"]] = math.log1p(max(amount, 0.0))
        f[FEATURE_INDEX["hour_of_day"]] = hour
        f[FEATURE_INDEX["is_night"]] = hour <= 6
        f[FEATURE_INDEX["is_weekend"]] = (t // DAY_MS + 3) % 7 >= 5
        f[FEATURE_INDEX["channel_code"]] = CHANNEL_CODES.get(chans[i] or "", UNKNOWN)
        fed = tb <= tb[i]
        hist = np.flatnonzero(fed & (cards == cards[i]) & (t_all < t))
        ht = t_all[hist]
        hour_start, day_start = t - t % HOUR_MS, t - t % DAY_MS
        means = {}
        for suffix, window in CARD_WINDOWS:
            if window <= HOUR_MS:
                inside = ht > t - window
            elif window == DAY_MS:
                inside = ht >= hour_start - 23 * HOUR_MS
            else:
                inside = ht >= day_start - (window // DAY_MS - 1) * DAY_MS
            count = int(inside.sum())
            money = int(amt_all[hist][inside].sum()) / AMOUNT_SCALE
            mean = money / count if count else 0.0
            means[suffix] = mean
            f[FEATURE_INDEX[f"card_count_{suffix}"]] = count
            f[FEATURE_INDEX[f"card_sum_{suffix}"]] = money
            f[FEATURE_INDEX[f"card_mean_{suffix}"]] = mean
        for suffix in RATIO_WINDOWS:
            f[FEATURE_INDEX[f"amount_to_mean_{suffix}"]] = (
                amount / means[suffix] if means[suffix] > 0 else UNKNOWN
            )
        prev_ok = len(hist) > 0 and t - ht.max() <= LOOKBACK_MS
        f[FEATURE_INDEX["seconds_since_previous"]] = (t - ht.max()) / 1000 if prev_ok else UNKNOWN
        distance = speed = home = UNKNOWN
        if located[i]:
            loc = hist[located[hist]]
            if len(loc):
                # newest located, ties broken by (amount, lat, lon) as the engine orders them
                keyed = sorted(loc, key=lambda j: (t_all[j], amt_all[j], lat[j], lon[j]))
                j = keyed[-1]
                if t - t_all[j] <= LOOKBACK_MS:
                    distance = haversine(lat[j], lon[j], lat[i], lon[i])
                    speed = distance / max((t - t_all[j]) / HOUR_MS, 1 / 60)
            if prev_ok:
                times = np.sort(ht)
                gaps = np.flatnonzero(np.diff(times) > LOOKBACK_MS)
                run_from = times[gaps[-1] + 1] if len(gaps) else times[0]
                run = loc[t_all[loc] >= run_from]
                if len(run):
                    la = np.rint(lat[run] * COORD_SCALE).astype(np.int64).sum()
                    lo = np.rint(lon[run] * COORD_SCALE).astype(np.int64).sum()
                    home = haversine(
                        la / len(run) / COORD_SCALE, lo / len(run) / COORD_SCALE, lat[i], lon[i]
                    )
        f[FEATURE_INDEX["distance_from_previous_km"]] = distance
        f[FEATURE_INDEX["speed_from_previous_kmh"]] = speed
        f[FEATURE_INDEX["distance_from_home_km"]] = home
        day = t // DAY_MS
        recent = hist[ht // DAY_MS >= day - LOOKBACK_DAYS]
        f[FEATURE_INDEX["first_time_merchant"]] = (
            0.0 if (merchants[recent] == merchants[i]).any() else 1.0
        )
        if cats[i] is None:
            f[FEATURE_INDEX["first_time_category"]] = UNKNOWN
        else:
            seen = any(cats[j] == cats[i] for j in recent)
            f[FEATURE_INDEX["first_time_category"]] = 0.0 if seen else 1.0
        # merchant
        shifted = t - config.label_delay_ms
        end = shifted - shifted % config.merchant_bucket_ms
        end_hour, end_day = end - end % HOUR_MS, end - end % DAY_MS
        starts = {1: end_hour - 23 * HOUR_MS}
        for d in MERCHANT_WINDOW_DAYS[1:]:
            starts[d] = end_day - (d - 1) * DAY_MS
        same = fed & (merchants == merchants[i])
        visible = (lb <= tb[i]) & (frauds["label_ms"].to_numpy() <= t)
        visible &= frauds["merchant_id"].astype(str).to_numpy() == merchants[i]
        te = frauds["event_ms"].to_numpy(np.int64)[visible]
        for d in MERCHANT_WINDOW_DAYS:
            count = int((same & (t_all >= starts[d]) & (t_all < end)).sum())
            fraud = int(((te >= starts[d]) & (te < end)).sum())
            f[FEATURE_INDEX[f"merchant_count_{d}d"]] = count
            f[FEATURE_INDEX[f"merchant_fraud_share_{d}d"]] = fraud / count if count else 0.0
        inside = te[(te >= starts[MERCHANT_WINDOW_DAYS[-1]]) & (te < end)]
        if len(inside):
            b = config.merchant_bucket_ms
            period = np.where(
                inside >= end_hour,
                inside - inside % b,
                np.where(inside >= end_day, inside - inside % HOUR_MS, inside - inside % DAY_MS),
            )
            f[FEATURE_INDEX["merchant_days_since_last_fraud"]] = (t - period.max()) / DAY_MS
            f[FEATURE_INDEX["merchant_days_since_first_fraud"]] = (t - period.min()) / DAY_MS
        else:
            f[FEATURE_INDEX["merchant_days_since_last_fraud"]] = UNKNOWN
            f[FEATURE_INDEX["merchant_days_since_first_fraud"]] = UNKNOWN
    return out.astype(np.float32)
