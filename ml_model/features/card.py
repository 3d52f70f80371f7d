"""Per-card state: the card's last 30 days, compact, exact and cheap to update.

The state is parallel lists of primitives (epoch ms, integer amounts, strings, integer
coordinates) plus running window sums, so it round-trips through Spark state (or JSON)
unchanged. Amounts are kept as integers in units of 1/10,000 and coordinates in micro-degrees:
integer sums do not drift, so the incremental path (add the new amount, subtract what leaves a
window) and a full recount give bit-identical features whatever order the updates came in.

Invariants, with ``newest = ts[-1]``:

* ``ts`` is sorted ascending; equal times keep arrival order.
* ``starts[k]`` is the first index whose time is inside window k of ``newest``
  (``ts[i] > newest - window_k``) and ``sums[k] == sum(amt[starts[k]:])``.
* nothing older than the longest window (30 days) before ``newest`` is kept, and at most
  ``FeatureConfig.card_max_history`` entries.
* ``loc_lat``/``loc_lon``/``loc_n`` sum the located entries (for the card's home location).

Events for one card should be fed in event-time order (ties by transaction id); the processor
sorts each card's rows of a micro-batch. A late event (older than the newest one kept) is still
handled exactly: features are computed as of its own time from what the state holds, and it is
inserted in order (cost O(history) for that event only).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_right
from typing import Any

from ml_model.features.schema import CARD_WINDOWS
from ml_model.features.transaction import TxInput

AMOUNT_SCALE = 10_000
COORD_SCALE = 1_000_000
#: Stored instead of a coordinate when a transaction has no location.
NO_COORD = -(10**12)

WINDOW_MS: tuple[int, ...] = tuple(ms for _, ms in CARD_WINDOWS)
_LONGEST = len(WINDOW_MS) - 1


def scale_amount(amount: float) -> int:
    return round(amount * AMOUNT_SCALE)


def scale_coord(value: float) -> int:
    return round(value * COORD_SCALE)


class CardView:
    """What the state says about a card as of one moment (read-only, computed on demand)."""

    __slots__ = ("counts", "hi", "sums")

    def __init__(self, hi: int, counts: list[int], sums: list[int]) -> None:
        self.hi = hi  # entries [0, hi) are at or before the moment
        self.counts = counts
        self.sums = sums


class CardState:
    """The rolling history of one card. Create empty with ``CardState()``."""

    __slots__ = (
        "amt",
        "categories",
        "lat",
        "loc_lat",
        "loc_lon",
        "loc_n",
        "lon",
        "merchants",
        "starts",
        "sums",
        "ts",
    )

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.amt: list[int] = []
        self.merchants: list[str] = []
        self.categories: list[str] = []
        self.lat: list[int] = []
        self.lon: list[int] = []
        self.starts: list[int] = [0] * len(WINDOW_MS)
        self.sums: list[int] = [0] * len(WINDOW_MS)
        self.loc_lat = 0
        self.loc_lon = 0
        self.loc_n = 0

    def __len__(self) -> int:
        return len(self.ts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CardState) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # --- reading --------------------------------------------------------------------------
    def view(self, at_ms: int) -> CardView:
        """Counts and integer sums per window of the entries in ``(at - window, at]``."""
        ts = self.ts
        n = len(ts)
        if n == 0 or at_ms >= ts[-1]:
            amt = self.amt
            counts = []
            sums = []
            for k, window in enumerate(WINDOW_MS):
                start = self.starts[k]
                acc = self.sums[k]
                cut = at_ms - window
                while start < n and ts[start] <= cut:
                    acc -= amt[start]
                    start += 1
                counts.append(n - start)
                sums.append(acc)
            return CardView(n, counts, sums)
        hi = bisect_right(ts, at_ms)
        counts = []
        sums = []
        for window in WINDOW_MS:
            lo = bisect_right(ts, at_ms - window, 0, hi)
            counts.append(hi - lo)
            sums.append(sum(self.amt[lo:hi]))
        return CardView(hi, counts, sums)

    def previous_location(self, hi: int) -> tuple[int, int, int] | None:
        """(time, lat, lon) of the newest located entry among the first ``hi``, if any."""
        if self.loc_n == 0:
            return None
        lat = self.lat
        for j in range(hi - 1, -1, -1):
            if lat[j] != NO_COORD:
                return self.ts[j], lat[j], self.lon[j]
        return None

    def home(self, hi: int) -> tuple[float, float] | None:
        """Mean location (degrees) of the located entries among the first ``hi``, if any."""
        if self.loc_n == 0:
            return None
        if hi == len(self.ts):
            total_lat, total_lon, count = self.loc_lat, self.loc_lon, self.loc_n
        else:
            points = [
                (a, b) for a, b in zip(self.lat[:hi], self.lon[:hi], strict=True) if a != NO_COORD
            ]
            count = len(points)
            total_lat = sum(p[0] for p in points)
            total_lon = sum(p[1] for p in points)
        if count == 0:
            return None
        return total_lat / count / COORD_SCALE, total_lon / count / COORD_SCALE

    def seen_merchant(self, merchant_id: str, hi: int) -> bool:
        if hi == len(self.merchants):
            return merchant_id in self.merchants
        return merchant_id in self.merchants[:hi]

    def seen_category(self, category: str, hi: int) -> bool:
        if hi == len(self.categories):
            return category in self.categories
        return category in self.categories[:hi]

    # --- writing --------------------------------------------------------------------------
    def add(self, tx: TxInput, max_history: int) -> None:
        """Record ``tx`` (after its features were computed) and evict what fell out."""
        t = tx.event_ms
        amount = scale_amount(tx.amount)
        lat = scale_coord(tx.lat) if tx.lat is not None and tx.lon is not None else NO_COORD
        lon = scale_coord(tx.lon) if lat != NO_COORD and tx.lon is not None else NO_COORD
        ts = self.ts
        if not ts or t >= ts[-1]:
            ts.append(t)
            self.amt.append(amount)
            self.merchants.append(tx.merchant_id)
            self.categories.append(tx.merchant_category or "")
            self.lat.append(lat)
            self.lon.append(lon)
            self._advance(t)
            for k in range(len(WINDOW_MS)):
                self.sums[k] += amount
        else:
            i = bisect_right(ts, t)
            ts.insert(i, t)
            self.amt.insert(i, amount)
            self.merchants.insert(i, tx.merchant_id)
            self.categories.insert(i, tx.merchant_category or "")
            self.lat.insert(i, lat)
            self.lon.insert(i, lon)
            self._recount()
        if lat != NO_COORD:
            self.loc_lat += lat
            self.loc_lon += lon
            self.loc_n += 1
        self._drop(self.starts[_LONGEST])
        excess = len(ts) - max_history
        if excess > 0:
            for k in range(len(WINDOW_MS)):
                if self.starts[k] < excess:
                    self.sums[k] -= sum(self.amt[self.starts[k] : excess])
                    self.starts[k] = excess
            self._drop(excess)

    def _advance(self, newest: int) -> None:
        """Move every window start forward to ``newest`` (amortised O(1) per event)."""
        ts, amt, n = self.ts, self.amt, len(self.ts)
        for k, window in enumerate(WINDOW_MS):
            start = self.starts[k]
            cut = newest - window
            while start < n and ts[start] <= cut:
                self.sums[k] -= amt[start]
                start += 1
            self.starts[k] = start

    def _recount(self) -> None:
        """Rebuild window starts and sums from scratch (after an out-of-order insert)."""
        newest = self.ts[-1]
        for k, window in enumerate(WINDOW_MS):
            start = bisect_right(self.ts, newest - window)
            self.starts[k] = start
            self.sums[k] = sum(self.amt[start:])

    def _drop(self, count: int) -> None:
        """Forget the ``count`` oldest entries (already outside every window sum)."""
        if count <= 0:
            return
        for a, b in zip(self.lat[:count], self.lon[:count], strict=True):
            if a != NO_COORD:
                self.loc_lat -= a
                self.loc_lon -= b
                self.loc_n -= 1
        for column in (self.ts, self.amt, self.merchants, self.categories, self.lat, self.lon):
            del column[:count]
        self.starts = [s - count for s in self.starts]

    # --- serialised form ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Primitives only (lists of int/str and ints): Spark state, JSON or a pickle-free store."""
        return {
            "ts": list(self.ts),
            "amt": list(self.amt),
            "merchants": list(self.merchants),
            "categories": list(self.categories),
            "lat": list(self.lat),
            "lon": list(self.lon),
            "starts": list(self.starts),
            "sums": list(self.sums),
            "loc": [self.loc_lat, self.loc_lon, self.loc_n],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CardState:
        state = cls()
        state.ts = [int(v) for v in data["ts"]]
        state.amt = [int(v) for v in data["amt"]]
        state.merchants = [str(v) for v in data["merchants"]]
        state.categories = [str(v) for v in data["categories"]]
        state.lat = [int(v) for v in data["lat"]]
        state.lon = [int(v) for v in data["lon"]]
        state.starts = [int(v) for v in data["starts"]]
        state.sums = [int(v) for v in data["sums"]]
        state.loc_lat, state.loc_lon, state.loc_n = (int(v) for v in data["loc"])
        lengths = {len(c) for c in (state.ts, state.amt, state.merchants, state.categories)}
        if len(lengths) != 1 or len(state.starts) != len(WINDOW_MS):
            raise ValueError("corrupt card state: column lengths differ")
        return state

    # -- binary form: one bytes value per card ---------------------------------------------
    _INT_FIELDS = ("ts", "amt", "lat", "lon", "starts", "sums")
    _BYTES_VERSION = 1

    def to_bytes(self) -> bytes:
        """The state as one compact value (version byte, then each integer column as a count
        and little-endian int64s, then the two text columns as a count, a byte length and the
        items joined by U+001F, which event ids never contain). What the Spark
        operator stores: one binary field crosses the Python/JVM state boundary far more cheaply
        than nine arrays. No pickle: a checkpoint is data, never code."""
        parts = [bytes([self._BYTES_VERSION])]
        for name in self._INT_FIELDS:
            values = getattr(self, name)
            column = array("q", values)
            if sys.byteorder != "little":
                column.byteswap()
            parts.append(len(values).to_bytes(4, "little"))
            parts.append(column.tobytes())
        for values in (self.merchants, self.categories):
            text = "\x1f".join(values).encode()
            parts.append(len(values).to_bytes(4, "little"))  # [""] and [] join alike
            parts.append(len(text).to_bytes(4, "little"))
            parts.append(text)
        parts.append(array("q", [self.loc_lat, self.loc_lon, self.loc_n]).tobytes())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, blob: bytes) -> CardState:
        """Inverse of :meth:`to_bytes`; raises ``ValueError`` on anything else."""
        if not blob or blob[0] != cls._BYTES_VERSION:
            raise ValueError("corrupt card state: unknown binary version")
        state = cls()
        at = 1
        try:
            for name in cls._INT_FIELDS:
                count = int.from_bytes(blob[at : at + 4], "little")
                at += 4
                column = array("q")
                column.frombytes(blob[at : at + 8 * count])
                if sys.byteorder != "little":
                    column.byteswap()
                setattr(state, name, column.tolist())
                at += 8 * count
            texts = []
            for _ in range(2):
                count = int.from_bytes(blob[at : at + 4], "little")
                size = int.from_bytes(blob[at + 4 : at + 8], "little")
                at += 8
                items = blob[at : at + size].decode().split("\x1f") if count else []
                if len(items) != count:
                    raise ValueError("text column length differs")
                texts.append(items)
                at += size
            state.merchants, state.categories = texts
            tail = array("q")
            tail.frombytes(blob[at : at + 24])
            if sys.byteorder != "little":
                tail.byteswap()
            state.loc_lat, state.loc_lon, state.loc_n = tail.tolist()
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError(f"corrupt card state: {error}") from error
        lengths = {len(c) for c in (state.ts, state.amt, state.merchants, state.categories)}
        if len(lengths) != 1 or len(state.starts) != len(WINDOW_MS) or at + 24 != len(blob):
            raise ValueError("corrupt card state: column lengths differ")
        return state
