"""Compiled tiles of the intersection and chi-squared kernels (Numba).

Each tile computes a band of rows of ``X`` against all rows of ``Y`` into
``out``, in blocks of rows of both so that a block of ``Y`` stays in cache
while every row of the band reads it. Inputs are C-contiguous float64;
``nogil`` lets threads run bands side by side. ``cache=True`` keeps the
machine code between processes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["chi2_tile", "intersection_tile"]

# Rows of Y per cache block: 64 rows of 2,560 float64 features are 1.3 MB.
_BLOCK = 64


@njit(cache=True, nogil=True, fastmath=True)
def intersection_tile(X, Y, out):
    """``out[a, b] = sum_i min(X[a, i], Y[b, i])``."""
    n_x, n_features = X.shape
    n_y = Y.shape[0]
    for start in range(0, n_y, _BLOCK):
        stop = min(start + _BLOCK, n_y)
        for a in range(n_x):
            x = X[a]
            for b in range(start, stop):
                y = Y[b]
                total = 0.0
                for i in range(n_features):
                    total += min(x[i], y[i])
                out[a, b] = total


@njit(cache=True, nogil=True, fastmath=True)
def chi2_tile(X, Y, out):
    """``out[a, b] = sum_i (X[a, i] - Y[b, i])**2 / (X[a, i] + Y[b, i])``, terms with a zero sum left out."""
    n_x, n_features = X.shape
    n_y = Y.shape[0]
    for start in range(0, n_y, _BLOCK):
        stop = min(start + _BLOCK, n_y)
        for a in range(n_x):
            x = X[a]
            for b in range(start, stop):
                y = Y[b]
                total = 0.0
                for i in range(n_features):
                    s = x[i] + y[i]
                    d = x[i] - y[i]
                    # Branch-free: a zero sum has a zero difference (nonnegative inputs).
                    total += d * d / (s + (s == 0.0))
                out[a, b] = total


@njit(cache=True, nogil=True)
def _inversions(values, buffer):
    """Sort ``values`` in place (bottom-up merge sort); return the pairs ``i < j`` with ``values[i] > values[j]``."""
    n = len(values)
    count = 0
    width = 1
    while width < n:
        for lo in range(0, n - width, 2 * width):
            mid, hi = lo + width, min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if values[j] < values[i]:  # strictly smaller: a discordant pair with every left item left
                    buffer[k] = values[j]
                    count += mid - i
                    j += 1
                else:
                    buffer[k] = values[i]
                    i += 1
                k += 1
            while i < mid:
                buffer[k] = values[i]
                i += 1
                k += 1
            while j < hi:
                buffer[k] = values[j]
                j += 1
                k += 1
            values[lo:hi] = buffer[lo:hi]
        width *= 2
    return count


@njit(cache=True, nogil=True)
def pq_tile(orders, group_starts, n_groups, x_ties, Y, y_ties, out):
    """PQ kernel of a band of rows (given by their sort orders) against all rows of ``Y``, by merge sort.

    For each pair: ``y`` is read in the order of ``x`` and sorted within
    each run of tied ``x`` values; its strict inversions are then the
    discordant pairs ``Q``, and ``P - Q = n0 - T_x - T_y + T_xy - 2 Q`` with
    ``n0`` all pairs and ``T`` the tied ones (Knight's algorithm, as
    scipy's Kendall tau). ``orders`` (int64, n_band x d), ``group_starts``
    (int64, n_band x (d + 1), the first ``n_groups[a] + 1`` used),
    ``x_ties`` and ``y_ties`` (float64) come from the caller.
    """
    n_x, n_features = orders.shape
    n0 = n_features * (n_features - 1) / 2
    values = np.empty(n_features)
    buffer = np.empty(n_features)
    for a in range(n_x):
        order = orders[a]
        for b in range(Y.shape[0]):
            y = Y[b]
            for i in range(n_features):
                values[i] = y[order[i]]
            both = 0.0
            for g in range(n_groups[a]):
                s, e = group_starts[a, g], group_starts[a, g + 1]
                if e - s > 1:
                    values[s:e] = np.sort(values[s:e])
                    run = 1
                    for i in range(s + 1, e):
                        if values[i] == values[i - 1]:
                            run += 1
                        else:
                            both += run * (run - 1) / 2
                            run = 1
                    both += run * (run - 1) / 2
            discordant = _inversions(values, buffer)
            out[a, b] = 2.0 * (n0 - x_ties[a] - y_ties[b] + both - 2.0 * discordant)
