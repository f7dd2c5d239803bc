"""Least-squares RBF classifier on a Nystroem landmark subset, solved in landmark space."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._sklearn_compat import (
    Integral, Interval, Real, StrOptions, check_sample_weight, _fit_context, validate_data,
)

from ._rbf import ROWS as _ROWS
from ._rbf import rbf as _rbf
from ._rbf import squared_norms as _squared_norms

__all__ = ["LandmarkRidgeClassifier", "LandmarkSums", "centred_system", "landmark_sums", "ridge_targets", "row_sums",
           "solve_normal_equations"]

# Nothing here may reach BLAS syrk on two or more threads (see ._rbf): hence
# column panels in _add_upper_gram and a one-thread Cholesky in _solve.


def _mirror_upper(a: np.ndarray, step: int = 1024) -> None:
    """Copy the upper triangle of square ``a`` onto its lower one, a band at a time."""
    for start in range(0, len(a), step):
        a[start : start + step, :start] = a[:start, start : start + step].T


def _add_upper_gram(gram: np.ndarray, block: np.ndarray, panel: int = 1024) -> None:
    """Add ``block.T @ block`` to the upper triangle of ``gram`` (and its diagonal panels)."""
    # Column panels of matrix products do half the work of one full product, like syrk.
    for start in range(0, gram.shape[1], panel):
        stop = start + panel
        gram[:stop, start:stop] += block[:, :stop].T @ block[:, start:stop]


def ridge_targets(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """RidgeClassifier's targets of integer class ``codes``: +-1 per class, one column for two classes."""
    targets = np.where(np.asarray(codes)[:, None] == np.arange(n_classes), 1.0, -1.0)
    return targets[:, 1:] if n_classes == 2 else targets


@dataclass
class LandmarkSums:
    """The weighted sums over training rows that a least-squares fit with intercept is solved from.

    ``K`` are the rows' columns: their kernel rows against the landmarks for
    :class:`LandmarkRidgeClassifier` (:meth:`LandmarkRidgeClassifier.fit_sums`),
    or the features themselves for a linear ridge classifier. Each is a sum
    over rows, so sums of disjoint row blocks add up (``a + b``) to the sums
    of their union: blocks can be accumulated on other workers or read from
    disk one at a time and solved once.

    Attributes
    ----------
    gram : ndarray of shape (n_columns, n_columns)
        ``K' W K`` in its upper triangle (the lower one is not kept up to date).
    column_sum : ndarray of shape (n_columns,)
        ``w' K``.
    cross : ndarray of shape (n_columns, n_outputs)
        ``K' W Y``, uncentred.
    target_sum : ndarray of shape (n_outputs,)
        ``w' Y``.
    total : float
        ``sum(w)``.
    n_samples : int
        Rows summed.
    """

    gram: np.ndarray
    column_sum: np.ndarray
    cross: np.ndarray
    target_sum: np.ndarray
    total: float
    n_samples: int

    def __add__(self, other: LandmarkSums) -> LandmarkSums:
        # New arrays: a task's inputs may be kept (or its task rerun) by a scheduler.
        return LandmarkSums(self.gram + other.gram, self.column_sum + other.column_sum, self.cross + other.cross,
                            self.target_sum + other.target_sum, self.total + other.total,
                            self.n_samples + other.n_samples)

    def __iadd__(self, other: LandmarkSums) -> LandmarkSums:
        # In place: a loop over blocks holds one m x m matrix.
        self.gram += other.gram
        self.column_sum += other.column_sum
        self.cross += other.cross
        self.target_sum += other.target_sum
        self.total += other.total
        self.n_samples += other.n_samples
        return self


def landmark_sums(X: np.ndarray, targets: np.ndarray, weights: np.ndarray, components: np.ndarray,
                  component_norms: np.ndarray, gamma: float) -> LandmarkSums:
    """:class:`LandmarkSums` of the rows ``X`` (float64), in blocks of kernel rows.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    targets : ndarray of shape (n_rows, n_outputs)
        :func:`ridge_targets` of the rows' class codes.
    weights : ndarray of shape (n_rows,)
        Sample times class weights.
    components, component_norms : ndarray
        The landmarks and their squared norms.
    gamma : float
        RBF kernel coefficient.
    """
    return row_sums(lambda rows: _rbf(X[rows], components, component_norms, gamma), len(X), len(components),
                    targets, weights)


def row_sums(columns_of, n_rows: int, n_columns: int, targets: np.ndarray, weights: np.ndarray) -> LandmarkSums:
    """:class:`LandmarkSums` of ``n_rows`` rows whose columns ``columns_of(rows)`` gives a block at a time.

    Parameters
    ----------
    columns_of : callable
        ``slice -> ndarray of shape (rows, n_columns)``, float64, a new array
        (it is scaled in place): kernel rows, or a copy of feature rows.
    n_rows, n_columns : int
    targets : ndarray of shape (n_rows, n_outputs)
    weights : ndarray of shape (n_rows,)
    """
    gram = np.zeros((n_columns, n_columns))
    column_sum, cross = np.zeros(n_columns), np.zeros((n_columns, targets.shape[1]))
    for start in range(0, n_rows, _ROWS):
        rows = slice(start, start + _ROWS)
        block, w = columns_of(rows), weights[rows]
        column_sum += w @ block
        cross += block.T @ (w[:, None] * targets[rows])
        block *= np.sqrt(w)[:, None]
        _add_upper_gram(gram, block)
    return LandmarkSums(gram, column_sum, cross, weights @ targets, float(weights.sum()), n_rows)


def centred_system(sums: LandmarkSums, penalty, *, centre: bool = True):
    """The normal equations of ``sums`` (consumed: its ``gram`` becomes the system), centred, penalised.

    Returns ``(gram, cross, column_mean, target_mean)``: ``K' W K`` mirrored
    from its upper triangle, centred at the weighted column means (unless
    ``centre`` is False: then the means are zeros), ``penalty(gram, band)``
    added to each band of rows, and ``K' W Y`` centred alike. A band at a time,
    so that the solve holds one square matrix besides the solver's copy
    (3.2 GB each for 20,000 landmarks).
    """
    gram, total = sums.gram, sums.total
    _mirror_upper(gram)  # accumulated in its upper triangle only
    column_mean, target_mean = np.zeros(len(gram)), np.zeros(sums.cross.shape[1])
    cross = sums.cross.copy()
    if centre:
        column_mean, target_mean = sums.column_sum / total, sums.target_sum / total
        cross -= total * np.outer(column_mean, target_mean)
    for start in range(0, len(gram), _ROWS):
        band = slice(start, start + _ROWS)
        if centre:
            gram[band] -= total * np.outer(column_mean[band], column_mean)
        penalty(gram, band)
    return gram, cross, column_mean, target_mean


# threadpool_limits is process-wide: it saves the BLAS threads on entry and restores them on exit, so the
# blocks of two threads that overlap restored each other's 1 (BLAS left at one thread for the whole process).
# One solve at a time keeps them nested in order.
_SOLVE_LOCK = threading.Lock()


def solve_normal_equations(gram: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """``gram^-1 cross`` for a positive (semi-)definite ``gram``: Cholesky, else least squares."""
    # One BLAS thread: Cholesky calls syrk.
    with _SOLVE_LOCK, threadpool_limits(1, user_api="blas"):
        try:
            return scipy.linalg.solve(gram, cross, assume_a="pos", check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            return scipy.linalg.lstsq(gram, cross, check_finite=False)[0]


class LandmarkRidgeClassifier(ClassifierMixin, BaseEstimator):
    """Ridge classifier on Nystroem RBF features, fitted without forming the features.

    Exactly scikit-learn's ``Nystroem(kernel="rbf", n_components=m)`` followed
    by ``RidgeClassifier(alpha)`` (same landmarks for the same
    ``random_state``, targets +-1, unpenalised intercept, class and sample
    weights as ``RidgeClassifier``), but the decision function is written as
    ``k(x, landmarks) @ coef_ + intercept_`` and the coefficients solve the
    m x m system ``(K_nm' W K_nm + alpha K_mm) coef = K_nm' W Y`` (centred)
    with one Cholesky factorisation. That replaces the Nystroem map's SVD of
    ``K_mm`` and never stores the n x m feature matrix. Memory is about
    ``16 m**2`` bytes (6.4 GB for 20,000 landmarks); time grows as ``n m**2``:
    on two cores, 28,709 HOG vectors take about 45 s with 10,000 landmarks
    and 3 min with 20,000.

    Parameters
    ----------
    alpha : float, default=1.0
        Ridge penalty on the Nystroem feature weights.
    gamma : float, default=1.0
        RBF kernel coefficient.
    n_components : int, default=3000
        Landmarks, drawn at random from the training rows (capped at their number).
    class_weight : dict or "balanced", optional
        Per-class weights, multiplied into ``sample_weight``.
    random_state : int, RandomState or None, optional
        Seed of the landmark draw.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    components_ : ndarray of shape (n_landmarks, n_features)
        The landmarks.
    component_norms_ : ndarray of shape (n_landmarks,)
        Their squared norms, kept so that predicting one face does not recompute them.
    coef_ : ndarray of shape (n_landmarks, n_outputs)
        Weight of each landmark's kernel value; one output for two classes,
        else one per class.
    intercept_ : ndarray of shape (n_outputs,)
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="neither")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "random_state": ["random_state"],
    }

    def __init__(self, *, alpha: float = 1.0, gamma: float = 1.0, n_components: int = 3000,
                 class_weight=None, random_state=None):
        self.alpha = alpha
        self.gamma = gamma
        self.n_components = n_components
        self.class_weight = class_weight
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit on ``X`` (n_samples, n_features) and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample; None: equal weights.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"The training data holds only 1 class ({self.classes_[0]!r}); need at least 2.")
        weights = check_sample_weight(sample_weight, X)
        if self.class_weight is not None:
            weights = weights * compute_sample_weight(self.class_weight, y)
        targets = ridge_targets(codes, len(self.classes_))
        rows = self.landmark_rows(len(X))
        self.components_ = X[rows]
        self.component_norms_ = _squared_norms(self.components_)
        # Weighted sums over blocks of rows: K' W K, K' W Y, and the weighted means
        # that centre them (ridge does not penalise the intercept).
        self._solve_sums(landmark_sums(X, targets, weights, self.components_, self.component_norms_,
                                       float(self.gamma)))
        return self

    def landmark_rows(self, n_samples: int) -> np.ndarray:
        """Indices of the training rows :meth:`fit` takes as landmarks, in landmark order.

        The same landmarks as ``Nystroem(random_state=...)``: the first
        ``min(n_components, n_samples)`` of a seeded permutation.

        Parameters
        ----------
        n_samples : int
            Number of training rows.

        Returns
        -------
        ndarray of shape (min(n_components, n_samples),)
            Row indices.
        """
        n_landmarks = min(int(self.n_components), int(n_samples))
        return check_random_state(self.random_state).permutation(int(n_samples))[:n_landmarks]

    def class_weights(self, class_counts: np.ndarray) -> np.ndarray:
        """Weight of each class code's rows from ``class_weight`` and the classes' row counts.

        ``compute_sample_weight(class_weight, y)`` for codes ``y`` whose
        counts are ``class_counts``, without the rows.

        Parameters
        ----------
        class_counts : array-like of shape (n_classes,)
            Rows of each class code.

        Returns
        -------
        ndarray of shape (n_classes,)
            Weight of a row of each class (1 without ``class_weight``).
        """
        counts = np.asarray(class_counts, dtype=np.float64)
        if self.class_weight is None:
            return np.ones(len(counts))
        if isinstance(self.class_weight, str):  # "balanced"
            return counts.sum() / (len(counts) * counts)
        return np.array([float(self.class_weight.get(code, 1.0)) for code in range(len(counts))])

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_sums(self, sums: LandmarkSums, *, classes: np.ndarray, components: np.ndarray):
        """Fit from :class:`LandmarkSums` accumulated outside, e.g. over row blocks on other workers.

        Gives the model :meth:`fit` gives on the rows the sums were taken of
        (up to the rounding of their order of summation), when they were taken
        with ``components`` = those rows at :meth:`landmark_rows`, targets
        :func:`ridge_targets` of the codes of ``classes`` and weights
        ``sample_weight * class_weights(counts)[codes]``.

        Parameters
        ----------
        sums : LandmarkSums
            Consumed: its ``gram`` becomes the solver's matrix.
        classes : ndarray of shape (n_classes,)
            The sorted labels the codes index.
        components : ndarray of shape (n_landmarks, n_features)
            The landmarks the sums were taken with.

        Returns
        -------
        self
        """
        classes = np.asarray(classes)
        if len(classes) < 2:
            raise ValueError(f"The training data holds only {len(classes)} class(es); need at least 2.")
        components = np.asarray(components, dtype=np.float64)
        if sums.gram.shape != (len(components), len(components)):
            raise ValueError(f"sums were taken with {len(sums.gram)} landmarks; got {len(components)} components.")
        self.classes_ = classes
        self.n_features_in_ = components.shape[1]
        self.components_ = components
        self.component_norms_ = _squared_norms(components)
        self._solve_sums(sums)
        return self

    def _solve_sums(self, sums: LandmarkSums) -> None:
        """``coef_`` and ``intercept_`` from the sums (``components_`` set)."""
        norms, gamma = self.component_norms_, float(self.gamma)

        def penalty(gram, band):  # alpha * K_mm
            gram[band] += float(self.alpha) * _rbf(self.components_[band], self.components_, norms, gamma)

        gram, cross, kernel_mean, target_mean = centred_system(sums, penalty)
        # Duplicate landmarks or alpha=0 leave it singular: a jitter of 1e-10 of the
        # mean diagonal changes the solution far below the model's accuracy.
        gram[np.diag_indices_from(gram)] += 1e-10 * max(float(np.trace(gram)) / len(gram), np.finfo(float).tiny)
        self.coef_ = solve_normal_equations(gram, cross)
        self.intercept_ = target_mean - kernel_mean @ self.coef_

    def decision_function(self, X):
        """Scores (n_samples, n_classes), or (n_samples,) for two classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples,)
            Scores, columns in ``classes_`` order; for two classes, one score per
            sample, positive for ``classes_[1]``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        kernel = _rbf(X, self.components_, self.component_norms_, float(self.gamma))
        scores = kernel @ self.coef_ + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Labels (n_samples,): the sign for two classes, else the largest score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted labels, of ``classes_``.
        """
        return self.predict_and_decision(X)[0]

    def predict_and_decision(self, X):
        """:meth:`predict` and :meth:`decision_function` from one evaluation of the kernel rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the samples.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            As :meth:`predict`.
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            As :meth:`decision_function`.
        """
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index], scores
