"""The daily rhythm of card use: few transactions at night, peaks at lunch and early evening,
busier weekends for some categories.

Used to shape the event-time intensity of generated history (``intensity``) and to sample
times of day for genuine activity; the live writer holds the requested rate instead.
"""

from __future__ import annotations

from datetime import datetime

# Relative transaction intensity by UTC hour (Europe-centred issuer), mean ~1.0.
HOURLY = (
    0.25, 0.15, 0.10, 0.08, 0.08, 0.15, 0.40, 0.80, 1.10, 1.20, 1.30, 1.50,
    1.80, 1.60, 1.30, 1.25, 1.35, 1.60, 1.80, 1.70, 1.40, 1.00, 0.70, 0.40,
)  # fmt: skip
WEEKEND_FACTOR = 1.15
NIGHT_HOURS = frozenset({0, 1, 2, 3, 4, 5})

_MEAN = sum(HOURLY) / 24.0


def intensity(moment: datetime) -> float:
    """Relative intensity (1.0 = daily average) at an aware UTC moment."""
    factor = WEEKEND_FACTOR if moment.weekday() >= 5 else 1.0
    return HOURLY[moment.hour] / _MEAN * factor


def peak_intensity() -> float:
    """Upper bound of :func:`intensity`, for thinning a Poisson process."""
    return max(HOURLY) / _MEAN * WEEKEND_FACTOR


def is_night(moment: datetime) -> bool:
    return moment.hour in NIGHT_HOURS
