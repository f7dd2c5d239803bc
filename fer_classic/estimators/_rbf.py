"""RBF kernel matrices computed in blocks of rows.

Nothing here may reach BLAS syrk on two or more threads (``A @ A.T``, dsyrk,
Cholesky): the OpenBLAS bundled with NumPy's and SciPy's wheels crashed
(SIGSEGV) there from about 16,000 rows (cf. OpenBLAS issue #2821, numpy issue
#19685); so does ``sklearn.metrics.pairwise.rbf_kernel(X)`` on FER2013's
28,709 training rows. Kernel matrices are therefore built from general matrix
products of row blocks.
"""

from __future__ import annotations

import numpy as np

from .._progress import Progress

# Rows of a kernel block computed at a time: bounds the temporaries of a
# kernel evaluation to this many rows of kernel values.
ROWS = 2048
# Rows per block of the element-wise passes over a whole feature matrix (centring,
# variance): full-size float64 temporaries cost more in page faults than in
# arithmetic (6,436 x 1,296 HOG rows: 0.3 s whole, 0.05 s in blocks of 256).
ELEMENTWISE_ROWS = 256
# Largest squared row norm whose float32 dot products cannot overflow (float32's
# largest value is 3.4e38 and |x.y| <= |x| |y|).
SINGLE_NORM_LIMIT = 1e38
# Largest squared row norm whose float64 distances ``|x|^2 + |y|^2 - 2 x.y`` cannot overflow (each term at most
# 2 |x| |y|): past it, inf - inf made every kernel value NaN.
DOUBLE_NORM_LIMIT = float(np.finfo(np.float64).max) / 4


def squared_norms(X: np.ndarray) -> np.ndarray:
    """Squared Euclidean norm of every row of ``X``."""
    return np.einsum("ij,ij->i", X, X)


def check_norms(norms: np.ndarray, limit: float, *, around: str = "") -> None:
    """Raise ValueError if a squared row norm of ``norms`` reaches ``limit`` (:data:`SINGLE_NORM_LIMIT` or
    :data:`DOUBLE_NORM_LIMIT`, the precision of the kernel's products), is infinite or NaN.

    ``around``: where the norms are taken from, said in the message (" around the training mean").
    """
    if len(norms) and not norms.max() < limit:  # "not <": an infinite or NaN norm too
        precision = "float32" if limit <= SINGLE_NORM_LIMIT else "float64"
        raise ValueError(
            f"A feature row has a squared norm of {norms.max():.3g}{around}, too large for the rbf kernel's "
            f"{precision} products (at most {limit:.3g}); scale the features first (StandardScaler)."
        )


def rbf(X: np.ndarray, landmarks: np.ndarray, landmark_norms: np.ndarray, gamma: float) -> np.ndarray:
    """``exp(-gamma * |x - l|^2)`` for every row ``x`` of ``X`` and every row ``l`` of ``landmarks``.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    landmarks : ndarray of shape (n_landmarks, n_features)
    landmark_norms : ndarray of shape (n_landmarks,)
        ``squared_norms(landmarks)``, kept by callers that evaluate many blocks.
    gamma : float

    Returns
    -------
    ndarray of shape (n_rows, n_landmarks)

    Raises
    ------
    ValueError
        If a row's or landmark's squared norm reaches :data:`DOUBLE_NORM_LIMIT` (:func:`check_norms`).
    """
    check_norms(landmark_norms, DOUBLE_NORM_LIMIT)
    out = np.empty((len(X), len(landmarks)))
    progress = Progress(len(X), "RBF kernel rows")  # shows only when it takes seconds (a training matrix)
    # Blocks of rows: ``landmarks @ landmarks.T`` whole would go to syrk.
    for start in range(0, len(X), ROWS):
        rows = X[start : start + ROWS]
        block = out[start : start + ROWS]
        np.matmul(rows, landmarks.T, out=block)
        block *= -2
        row_norms = squared_norms(rows)
        check_norms(row_norms, DOUBLE_NORM_LIMIT)
        block += row_norms[:, None]
        block += landmark_norms
        np.maximum(block, 0, out=block)  # rounding can make a tiny distance negative
        block *= -gamma
        np.exp(block, out=block)
        progress.update(len(rows))
    progress.close()
    return out


def rbf_matrix(X: np.ndarray, Y: np.ndarray | None = None, *, gamma: float) -> np.ndarray:
    """``exp(-gamma * |x - y|^2)`` of every row of ``X`` against every row of ``Y`` (default ``X``), float64.

    The rows are centred on ``Y``'s mean and their dot products taken in
    float32 (:func:`single_rbf_matrix`): twice as fast as float64 products,
    the same kernel to about 1e-6. ``Y=None`` computes the symmetric matrix
    on and above the diagonal only.
    """
    centre = (X if Y is None else Y).mean(axis=0)
    rows = centred_single(X, centre)
    return single_rbf_matrix(*rows, *(rows if Y is None else centred_single(Y, centre)), gamma,
                             symmetric=Y is None)


def single_rbf_matrix(rows: np.ndarray, row_norms: np.ndarray, cols: np.ndarray, col_norms: np.ndarray,
                      gamma: float, *, symmetric: bool = False) -> np.ndarray:
    """The float64 RBF matrix of centred float32 rows against centred float32 columns (:func:`single_rbf`).

    ``symmetric``: ``rows`` are ``cols``; each block of rows is scored
    against itself and the columns after it, and the lower triangle copied
    from the upper one (half the products of a training matrix).
    """
    out = np.empty((len(rows), len(cols)))
    work = np.empty(min(ROWS, len(rows)) * len(cols))
    progress = Progress(len(rows), "RBF kernel rows")  # shows only when it takes seconds (a training matrix)
    for start in range(0, len(rows), ROWS):
        stop = min(start + ROWS, len(rows))
        first = start if symmetric else 0
        out[start:stop, first:] = single_rbf(rows[start:stop], row_norms[start:stop], cols[first:],
                                             col_norms[first:], gamma, diagonal=0 if symmetric else None,
                                             work=work)
        progress.update(stop - start)
    if symmetric:
        fill_lower_triangle(out, ROWS)
    progress.close()
    return out


def fill_lower_triangle(out: np.ndarray, rows: int) -> None:
    """Copy the upper triangle of the square ``out`` to its lower one, ``rows`` rows at a time.

    Bands of rows rather than one transposed copy: no ``n x n`` temporary or
    index arrays. The squares on the diagonal are copied too, so that the
    result is exactly symmetric (a product and its transpose may round apart).
    """
    for start in range(0, len(out), rows):
        band = slice(start, start + rows)
        out[band, :start] = out[:start, band].T
        square = out[band, band]
        lower = np.tril_indices(len(square), -1)
        square[lower] = square.T[lower]


def variance(X: np.ndarray) -> float:
    """``X.var()`` (over all entries, in float64) in blocks of rows, without a full-size temporary."""
    X = np.asarray(X)
    mean = X.mean(dtype=np.float64)
    total = 0.0
    for start in range(0, len(X), ELEMENTWISE_ROWS):
        deviation = np.subtract(X[start : start + ELEMENTWISE_ROWS], mean, dtype=np.float64)
        total += float(np.vdot(deviation, deviation))
    return total / X.size if X.size else 0.0


def gamma_value(gamma, X: np.ndarray) -> float:
    """``gamma`` as :class:`sklearn.svm.SVC` resolves it: ``"scale"``, ``"auto"`` or a number."""
    if gamma == "scale":
        var = variance(X)
        return 1.0 / (X.shape[1] * var) if var > 0 else 1.0
    if gamma == "auto":
        return 1.0 / X.shape[1]
    return float(gamma)


def class_gram(single: np.ndarray, norms: np.ndarray, bounds: np.ndarray,
               gamma: float) -> dict[tuple[int, int], np.ndarray]:
    """RBF kernel blocks between the row groups of centred rows, upper triangle of groups only, float32.

    Parameters
    ----------
    single, norms : ndarray of shape (n_rows, n_features) and (n_rows,)
        The rows centred in float32 and their float64 squared norms
        (:func:`centred_single`), grouped by class: group ``g`` is rows
        ``bounds[g]:bounds[g + 1]``.
    bounds : ndarray of shape (n_groups + 1,)
    gamma : float

    Returns
    -------
    dict
        ``(a, b) -> K[group a, group b]`` for every ``a <= b``, float32; the
        blocks below the diagonal are the transposes.

    Notes
    -----
    Two savings over one float64 ``n x n`` matrix, with the same kernel to
    about 1e-7: the symmetric matrix is computed and kept only on and above
    the block diagonal (on FER2013's seven classes that is 59 % of it), and in
    float32, whose matrix products run twice as fast and whose blocks take
    half the memory (1.9 GB instead of 6.6 GB for 28,709 rows). Distances are
    taken carefully: the columns are centred first (distances do not change,
    the dot products that cancel get smaller), only the dot products are in
    float32, the squared norms stay float64, and a row's distance to itself
    is exactly zero.
    """
    bounds = np.asarray(bounds)
    groups = [slice(int(bounds[g]), int(bounds[g + 1])) for g in range(len(bounds) - 1)]
    blocks: dict[tuple[int, int], np.ndarray] = {}
    total = sum(g.stop - g.start for g in groups)
    progress = Progress(sum((g.stop - g.start) * (total - g.start) for g in groups), "RBF kernel entries")
    largest = max((g.stop - g.start for g in groups), default=0)
    work = np.empty(min(ROWS, largest) * largest)  # the float64 distances of every block, one buffer
    for a, rows in enumerate(groups):
        for b in range(a, len(groups)):
            cols = groups[b]
            out = np.empty((rows.stop - rows.start, cols.stop - cols.start), dtype=np.float32)
            for start in range(0, len(out), ROWS):
                part = slice(rows.start + start, min(rows.stop, rows.start + start + ROWS))
                block = single_rbf(single[part], norms[part], single[cols], norms[cols], gamma,
                                   diagonal=start if a == b else None, out=out[start : part.stop - rows.start],
                                   work=work)
                progress.update(len(block) * (cols.stop - cols.start))
            blocks[a, b] = out
    progress.close()
    return blocks


def centred_single(X: np.ndarray, centre: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``X[rows] - centre`` in float32, and its squared row norms in float64 (see :func:`single_rbf`).

    ``rows`` (default: all, in order) picks and orders the rows without a
    copy of ``X``; the subtraction runs in float64 in blocks of rows, and
    each row's result depends on that row alone (the same bits whichever
    rows come with it).
    """
    X = np.asarray(X)
    n = len(X) if rows is None else len(rows)
    single = np.empty((n, X.shape[1]), dtype=np.float32)
    norms = np.empty(n)
    for start in range(0, n, ELEMENTWISE_ROWS):
        part = slice(start, min(n, start + ELEMENTWISE_ROWS))
        centred = np.subtract(X[part] if rows is None else X[rows[part]], centre, dtype=np.float64)
        single[part] = centred
        norms[part] = squared_norms(centred)
    check_norms(norms, SINGLE_NORM_LIMIT, around=" around the training mean")
    return single, norms


def single_rbf(rows: np.ndarray, row_norms: np.ndarray, cols: np.ndarray, col_norms: np.ndarray, gamma: float,
               *, diagonal: int | None = None, out: np.ndarray | None = None,
               work: np.ndarray | None = None) -> np.ndarray:
    """RBF kernel of centred float32 rows against centred float32 columns, float64 norms.

    The dot products run in float32 (twice as fast as float64), the distances
    ``|x|^2 + |y|^2 - 2 x.y`` in float64 on centred data, so they lose about
    1e-7 of the norms. ``diagonal``: ``rows[i]`` is ``cols[diagonal + i]``,
    whose distance is then exactly zero.

    Returns the values in float64, or in ``out`` (float32, written in place
    and returned) when given. ``work``, a float64 buffer of at least
    ``len(rows) * len(cols)`` entries, holds the distances instead of new
    memory: a kernel made of many blocks then touches fresh pages once
    (their page faults took a quarter of the 6,436-image kernel).
    """
    n, m = len(rows), len(cols)
    dots = np.matmul(rows, cols.T, out=out)
    block = np.empty((n, m)) if work is None else work[: n * m].reshape(n, m)
    np.multiply(dots, -2.0, out=block)  # exact in float32 (a power of two), then float64
    block += row_norms[:, None]
    block += col_norms
    np.maximum(block, 0, out=block)
    if diagonal is not None:  # a row's own distance is zero, not a rounding residue
        block[np.arange(n), np.arange(n) + diagonal] = 0.0
    block *= -gamma
    np.exp(block, out=block)
    if out is None:
        return block
    out[...] = block
    return out
