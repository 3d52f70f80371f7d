"""Population stability index over fixed bins, in columns.

PSI = sum over bins of (actual - expected) * ln(actual / expected), the shares of a window's
values and of the baseline's in each bin. Read it as the industry does: below 0.1 stable, 0.1
to 0.25 a moderate shift, above 0.25 a shift worth acting on. Empty bins are floored at
:data:`FLOOR` so one unseen bin gives a large but finite value.
"""

from __future__ import annotations

import numpy as np

FLOOR = 1e-4


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each value's bin among those the interior ``edges`` cut (``len(edges) + 1`` bins, bin
    ``i`` holds ``edges[i-1] <= x < edges[i]``), NaN in one last bin, ``len(edges) + 1``."""
    data = np.asarray(values, dtype=np.float64)
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), data, side="right")
    index[np.isnan(data)] = len(edges) + 1
    return index


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` per bin of :func:`bin_index` (``len(edges) + 2`` bins)."""
    index = bin_index(values, edges)
    return np.bincount(index, minlength=len(edges) + 2).astype(np.int64)


def psi(expected: np.ndarray, actual_counts: np.ndarray) -> float:
    """PSI of a window's bin counts against the baseline's shares (same bins); NaN when the
    window is empty."""
    counts = np.asarray(actual_counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return float("nan")
    actual = np.maximum(counts / total, FLOOR)
    base = np.maximum(np.asarray(expected, dtype=np.float64), FLOOR)
    return float(np.sum((actual - base) * np.log(actual / base)))
