"""Kernels that suit histograms (intersection, chi-squared, PQ), computed in blocks of rows.

The intersection and chi-squared kernels are sums over features of a
per-feature term, compiled with Numba and tiled so that a tile of each matrix
stays in cache; tiles of rows run on threads (the kernels release the GIL).
The PQ kernel is a matrix product of sign features, a panel of feature pairs
at a time. No kernel goes through BLAS syrk (``A @ A.T``), which crashed on
two or more threads from about 16,000 rows (see :mod:`._rbf`).
"""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed

from .. import _resources
from .._progress import Progress
from ._rbf import fill_lower_triangle, gamma_value, rbf_matrix, squared_norms

__all__ = [
    "KERNELS", "chi2_distances", "intersection_kernel", "kernel_diagonal", "kernel_matrix", "pq_kernel",
]

#: Kernel names of :class:`KernelSVC`, :class:`CombinedKernelSVC` and :class:`LocalSVC`.
KERNELS = ("linear", "rbf", "intersection", "chi2", "pq")
#: Kernels defined for nonnegative features only (histograms).
NONNEGATIVE_KERNELS = frozenset({"intersection", "chi2"})
# Rows of X scored per task: each task writes one (rows x n_Y) band of the result.
_ROWS = 256
#: Features up to which :func:`pq_kernel` uses matrix products of sign features (above: merge sort).
#: Measured on soft-assigned SIFT words: products 4x faster at 640 features, merge sort ahead from ~3,500.
PQ_MATRIX_FEATURES = 3000
# Elements of a sign-feature panel of the PQ kernel (16 MB in float32).
_PQ_PANEL = 2**22


def _numba_kernels():
    # Numba is imported only when a histogram kernel runs (as the HOG and LBP kernels).
    from ._histogram_kernels_jit import chi2_tile, intersection_tile

    return intersection_tile, chi2_tile


def _banded(tile, X: np.ndarray, Y: np.ndarray | None, n_jobs, label: str) -> np.ndarray:
    """``tile`` over bands of rows of ``X`` against all of ``Y``, on threads.

    ``Y=None`` is ``X`` itself: each band is then scored against itself and
    the rows after it only, and mirrored (half the work of a training matrix).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    symmetric = Y is None
    Y = X if symmetric else np.ascontiguousarray(Y, dtype=np.float64)
    out = np.empty((len(X), len(Y)))
    bands = [slice(a, a + _ROWS) for a in range(0, len(X), _ROWS)]
    progress = Progress(len(X), label)

    def run(band):
        first = band.start if symmetric else 0
        tile(X[band], Y[first:], out[band, first:])
        progress.update(len(out[band]))

    n_jobs = _resources.pool_size(n_jobs)  # no more threads than CPUs
    if n_jobs == 1 or len(bands) == 1:
        for band in bands:
            run(band)
    else:
        Parallel(n_jobs=n_jobs, prefer="threads")(delayed(run)(band) for band in bands)
    if symmetric:
        fill_lower_triangle(out, _ROWS)
    progress.close()
    return out


def intersection_kernel(X: np.ndarray, Y: np.ndarray | None = None, *, n_jobs: int | None = None) -> np.ndarray:
    """Histogram intersection ``k(x, y) = sum_i min(x_i, y_i)`` of every row pair.

    Parameters
    ----------
    X : ndarray of shape (n_X, n_features)
        One histogram per row.
    Y : ndarray of shape (n_Y, n_features), optional
        Default ``X``.
    n_jobs : int, optional
        Threads (joblib semantics).

    Returns
    -------
    ndarray of shape (n_X, n_Y)

    Examples
    --------
    >>> import numpy as np
    >>> intersection_kernel(np.array([[1.0, 0.0, 2.0]]), np.array([[0.5, 3.0, 1.0]]))
    array([[1.5]])
    """
    intersection_tile, _ = _numba_kernels()
    return _banded(intersection_tile, X, Y, n_jobs, "intersection kernel rows")


def chi2_distances(X: np.ndarray, Y: np.ndarray | None = None, *, n_jobs: int | None = None) -> np.ndarray:
    """Chi-squared distances ``sum_i (x_i - y_i)**2 / (x_i + y_i)`` (terms with ``x_i + y_i = 0`` are 0).

    The same values as ``-sklearn.metrics.pairwise.additive_chi2_kernel(X, Y)``,
    on threads and tiled (several times faster on thousands of rows).

    Parameters
    ----------
    X : ndarray of shape (n_X, n_features)
        One histogram per row.
    Y : ndarray of shape (n_Y, n_features), optional
        Default ``X``.
    n_jobs : int, optional
        Threads (joblib semantics).

    Returns
    -------
    ndarray of shape (n_X, n_Y)
        Distances; 0 for identical rows.

    Examples
    --------
    >>> import numpy as np
    >>> chi2_distances(np.array([[1.0, 0.0]]), np.array([[3.0, 0.0]]))
    array([[1.]])
    """
    _, chi2_tile = _numba_kernels()
    return _banded(chi2_tile, X, Y, n_jobs, "chi-squared kernel rows")


def _pair_panels(n_features: int, n_rows: int):
    """Index pairs ``(i, j)``, ``i < j``, in panels of about ``_PQ_PANEL / n_rows`` pairs."""
    per_panel = max(1, _PQ_PANEL // max(1, n_rows))
    first, second = [], []
    count = 0
    for i in range(n_features - 1):
        j = np.arange(i + 1, n_features)
        first.append(np.full(len(j), i))
        second.append(j)
        count += len(j)
        if count >= per_panel:
            yield np.concatenate(first), np.concatenate(second)
            first, second, count = [], [], 0
    if count:
        yield np.concatenate(first), np.concatenate(second)


def _tied_pairs(X: np.ndarray) -> np.ndarray:
    """Pairs of equal values within every row of ``X``."""
    ordered = np.sort(X, axis=1)
    tied = np.zeros(len(X))
    for row, x in enumerate(ordered):
        counts = np.diff(np.flatnonzero(np.r_[True, x[1:] != x[:-1], True]))
        tied[row] = float((counts * (counts - 1) // 2).sum())
    return tied


def _pq_by_merge_sort(X: np.ndarray, Y: np.ndarray | None, n_jobs) -> np.ndarray:
    from ._histogram_kernels_jit import pq_tile

    y_ties_all = _tied_pairs(X if Y is None else Y)

    def tile(band, Y_, out):
        y_ties = y_ties_all[len(y_ties_all) - len(Y_):]  # a symmetric band sees the last rows only
        orders = np.argsort(band, axis=1, kind="stable")
        ordered = np.take_along_axis(band, orders, axis=1)
        starts = np.zeros((len(band), band.shape[1] + 1), dtype=np.int64)
        n_groups = np.zeros(len(band), dtype=np.int64)
        for row, x in enumerate(ordered):
            edges = np.flatnonzero(np.r_[True, x[1:] != x[:-1], True])
            starts[row, : len(edges)] = edges
            n_groups[row] = len(edges) - 1
        pq_tile(orders, starts, n_groups, _tied_pairs(band), Y_, y_ties, out)

    return _banded(tile, X, Y, n_jobs, "PQ kernel rows")


def pq_kernel(X: np.ndarray, Y: np.ndarray | None = None, *, n_jobs: int | None = None) -> np.ndarray:
    """The PQ kernel of Ionescu and Popescu: ``2 (P - Q)`` for every row pair.

    ``P`` counts the concordant feature pairs ``(i, j)`` of ``x`` and ``y``
    (``(x_i - x_j)(y_i - y_j) > 0``), ``Q`` the discordant ones (``< 0``);
    ties count in neither. It reads a histogram as a ranking of its words.
    Up to :data:`PQ_MATRIX_FEATURES` features it is computed exactly as
    ``2 * s(X) @ s(Y).T`` with the sign features ``s(x)_ij = sign(x_i - x_j)``,
    a panel of pairs at a time (matrix products, cost
    ``n_X * n_Y * n_features**2 / 2``; float32 sums are exact below 5,000
    features); above, pair by pair in ``O(n_features log n_features)`` by
    merge sort (Ionescu and Popescu's dual-form algorithm, compiled and
    threaded), which is faster for thousands of features.

    Parameters
    ----------
    X : ndarray of shape (n_X, n_features)
        One histogram per row.
    Y : ndarray of shape (n_Y, n_features), optional
        Default ``X``.
    n_jobs : int, optional
        Threads of the merge-sort algorithm.

    Returns
    -------
    ndarray of shape (n_X, n_Y)

    Examples
    --------
    >>> import numpy as np
    >>> pq_kernel(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 3.0, 2.0]]))
    array([[2.]])
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[1] > PQ_MATRIX_FEATURES:
        return _pq_by_merge_sort(X, None if Y is None else np.asarray(Y, dtype=np.float64), n_jobs)
    Y = X if Y is None else np.asarray(Y, dtype=np.float64)
    out = np.zeros((len(X), len(Y)), dtype=np.float64)
    if X.shape[1] < 2:
        return out
    progress = Progress(X.shape[1] * (X.shape[1] - 1) // 2, "PQ kernel feature pairs")
    for i, j in _pair_panels(X.shape[1], max(len(X), len(Y))):
        sx = np.sign(X[:, i] - X[:, j]).astype(np.float32)
        # A separate array for Y, even when Y is X: a product with its own transpose goes to syrk.
        sy = np.sign(Y[:, i] - Y[:, j]).astype(np.float32)
        out += sx @ sy.T
        progress.update(len(i))
    progress.close()
    out *= 2.0
    return out


def kernel_diagonal(kernel: str, X: np.ndarray) -> np.ndarray:
    """``k(x, x)`` of every row of ``X`` for ``kernel`` (1 for rbf and chi2), without a matrix."""
    if kernel in ("rbf", "chi2"):
        return np.ones(len(X))
    if kernel == "linear":
        return squared_norms(X)
    if kernel == "intersection":
        return X.sum(axis=1)
    # PQ of x with itself: 2 * (pairs not tied in x).
    n = X.shape[1]
    return 2.0 * (n * (n - 1) / 2 - _tied_pairs(X))


def resolve_gamma(kernel: str, gamma, X: np.ndarray, n_jobs=None) -> float:
    """``gamma`` of the rbf and chi2 kernels as a number (1.0 for the others, which ignore it).

    ``"scale"`` is scikit-learn's ``1 / (n_features * X.var())`` for rbf and
    ``1 / mean chi-squared distance`` of the training rows for chi2 (the
    choice of Zhang et al., 2007), estimated on at most 1,000 rows.
    """
    if kernel == "rbf":
        return gamma_value(gamma, X)
    if kernel != "chi2":
        return 1.0
    if gamma != "scale":
        return float(gamma)
    sample = X[np.linspace(0, len(X) - 1, min(len(X), 1000)).astype(int)]
    mean = float(chi2_distances(sample, n_jobs=n_jobs).mean())
    return 1.0 / mean if mean > 0 else 1.0


def kernel_matrix(kernel: str, X: np.ndarray, Y: np.ndarray | None = None, *, gamma: float = 1.0,
                  n_jobs: int | None = None) -> np.ndarray:
    """The ``kernel`` matrix of the rows of ``X`` against those of ``Y`` (default ``X``).

    Parameters
    ----------
    kernel : {"linear", "rbf", "intersection", "chi2", "pq"}
        ``chi2`` is the exponential chi-squared kernel ``exp(-gamma * chi2_distance)``;
        ``rbf`` takes its dot products in float32 on centred rows (:func:`._rbf.rbf_matrix`).
    X, Y : ndarray of shape (n, n_features)
        ``Y=None``: the symmetric matrix of ``X``, computed on and above the diagonal only.
    gamma : float, default=1.0
        Coefficient of rbf and chi2 (see :func:`resolve_gamma`).
    n_jobs : int, optional
        Threads of the intersection, chi2 and merge-sort pq kernels.

    Returns
    -------
    ndarray of shape (n_X, n_Y), float64
    """
    Y_ = X if Y is None else Y
    if kernel == "linear":
        return np.ascontiguousarray(X) @ np.array(Y_).T  # a copy of Y: never syrk
    if kernel == "rbf":
        return rbf_matrix(X, Y, gamma=float(gamma))
    if kernel == "intersection":
        return intersection_kernel(X, Y, n_jobs=n_jobs)
    if kernel == "chi2":
        distances = chi2_distances(X, Y, n_jobs=n_jobs)
        distances *= -float(gamma)
        return np.exp(distances, out=distances)
    if kernel == "pq":
        return pq_kernel(X, Y, n_jobs=n_jobs)
    raise ValueError(f"Unknown kernel {kernel!r}; choose from {', '.join(KERNELS)}.")
