"""How far behind the streams the processor is, and when it will have caught up.

Kinesis says how far behind its tip a reader is in *time* (``MillisBehindLatest``), not in
records. From successive readings and the rows processed meanwhile this estimates what an
operator wants after an outage: the backlog in records and the time to catch up. While the
processor gains on the stream, the time behind falls at some rate (seconds of stream time per
second); the time left is the time behind over that rate, and the records behind are the time
behind times the stream's density (rows processed per second of stream time consumed).
Pure: fed readings, it computes; the metrics and the progress line read it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

WINDOW_S = 60.0  # readings older than this are forgotten (the rate follows the recent past)


@dataclass
class CatchUp:
    """Readings of (wall seconds, seconds behind, rows processed so far)."""

    readings: deque[tuple[float, float, int]] = field(default_factory=deque)
    rows: int = 0

    def observe(self, wall_s: float, behind_s: float) -> None:
        self.readings.append((wall_s, behind_s, self.rows))
        while self.readings and wall_s - self.readings[0][0] > WINDOW_S:
            self.readings.popleft()

    def processed(self, rows: int) -> None:
        self.rows += rows

    @property
    def behind_s(self) -> float | None:
        return self.readings[-1][1] if self.readings else None

    def gain(self) -> float | None:
        """Seconds of stream time caught up per wall second (positive while catching up), by
        least squares over the recent readings; None with too few of them."""
        if len(self.readings) < 3:
            return None
        wall, behind, _ = (np.array(v, dtype=float) for v in zip(*self.readings, strict=True))
        if wall[-1] - wall[0] <= 0:
            return None
        slope = float(np.polyfit(wall - wall[0], behind, 1)[0])
        return -slope

    def eta_s(self) -> float | None:
        """Seconds until caught up at the recent pace; None when not gaining (or unknown)."""
        gain, behind = self.gain(), self.behind_s
        if gain is None or behind is None or gain <= 1e-6:
            return None
        return behind / gain

    def backlog_records(self) -> float | None:
        """Records behind the tip: time behind times rows per second of stream consumed."""
        if len(self.readings) < 2 or self.behind_s is None:
            return None
        (t0, b0, r0), (t1, b1, r1) = self.readings[0], self.readings[-1]
        consumed = (t1 - t0) + (b0 - b1)  # stream seconds read: wall time plus ground gained
        if consumed <= 0:
            return None
        return self.behind_s * (r1 - r0) / consumed
