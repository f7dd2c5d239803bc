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


def squared_norms(X: np.ndarray) -> np.ndarray:
    """Squared Euclidean norm of every row of ``X``."""
    return np.einsum("ij,ij->i", X, X)


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
    """
    out = np.empty((len(X), len(landmarks)))
    progress = Progress(len(X), "RBF kernel rows")  # shows only when it takes seconds (a training matrix)
    # Blocks of rows: ``landmarks @ landmarks.T`` whole would go to syrk.
    for start in range(0, len(X), ROWS):
        rows = X[start : start + ROWS]
        block = out[start : start + ROWS]
        np.matmul(rows, landmarks.T, out=block)
        block *= -2
        block += squared_norms(rows)[:, None]
        block += landmark_norms
        np.maximum(block, 0, out=block)  # rounding can make a tiny distance negative
        block *= -gamma
        np.exp(block, out=block)
        progress.update(len(rows))
    progress.close()
    return out


def gamma_value(gamma, X: np.ndarray) -> float:
    """``gamma`` as :class:`sklearn.svm.SVC` resolves it: ``"scale"``, ``"auto"`` or a number."""
    if gamma == "scale":
        variance = X.var()
        return 1.0 / (X.shape[1] * variance) if variance > 0 else 1.0
    if gamma == "auto":
        return 1.0 / X.shape[1]
    return float(gamma)
