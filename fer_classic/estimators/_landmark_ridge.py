"""Least-squares RBF classifier on a Nystroem landmark subset, solved in landmark space."""

from __future__ import annotations

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._sklearn_compat import (
    Integral, Interval, Real, StrOptions, _check_sample_weight, _fit_context, validate_data,
)

from ._rbf import ROWS as _ROWS
from ._rbf import rbf as _rbf
from ._rbf import squared_norms as _squared_norms

__all__ = ["LandmarkRidgeClassifier"]

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
        """Fit on ``X`` (n_samples, n_features) and labels ``y``."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"The training data holds only 1 class ({self.classes_[0]!r}); need at least 2.")
        weights = _check_sample_weight(sample_weight, X)
        if self.class_weight is not None:
            weights = weights * compute_sample_weight(self.class_weight, y)
        # RidgeClassifier's targets: +-1 per class, one column for two classes.
        targets = np.where(codes[:, None] == np.arange(len(self.classes_)), 1.0, -1.0)
        if len(self.classes_) == 2:
            targets = targets[:, 1:]

        # The same landmarks as Nystroem(random_state=...).
        n_landmarks = min(int(self.n_components), len(X))
        rows = check_random_state(self.random_state).permutation(len(X))[:n_landmarks]
        self.components_ = X[rows]
        self.component_norms_ = norms = _squared_norms(self.components_)
        gamma = float(self.gamma)

        # Weighted sums over blocks of rows: K' W K, K' W Y, and the weighted means
        # that centre them (ridge does not penalise the intercept).
        # K' W K is accumulated in its upper triangle only, then mirrored.
        gram = np.zeros((n_landmarks, n_landmarks))
        kernel_sum, cross = np.zeros(n_landmarks), np.zeros((n_landmarks, targets.shape[1]))
        for start in range(0, len(X), _ROWS):
            block = _rbf(X[start : start + _ROWS], self.components_, norms, gamma)
            w = weights[start : start + _ROWS]
            kernel_sum += w @ block
            cross += block.T @ (w[:, None] * targets[start : start + _ROWS])
            block *= np.sqrt(w)[:, None]
            _add_upper_gram(gram, block)
        _mirror_upper(gram)
        total = weights.sum()
        kernel_mean, target_mean = kernel_sum / total, weights @ targets / total
        cross -= total * np.outer(kernel_mean, target_mean)
        # Centre and add the penalty alpha * K_mm a band of rows at a time, so that
        # the fit holds one m x m matrix besides the solver's copy (3.2 GB each for 20,000).
        for start in range(0, n_landmarks, _ROWS):
            band = slice(start, start + _ROWS)
            gram[band] -= total * np.outer(kernel_mean[band], kernel_mean)
            gram[band] += float(self.alpha) * _rbf(self.components_[band], self.components_, norms, gamma)
        self.coef_ = self._solve(gram, cross)
        self.intercept_ = target_mean - kernel_mean @ self.coef_
        return self

    @staticmethod
    def _solve(gram: np.ndarray, cross: np.ndarray) -> np.ndarray:
        """Solve the positive semi-definite system, regularised just enough to factorise."""
        # Duplicate landmarks or alpha=0 leave it singular: a jitter of 1e-10 of the
        # mean diagonal changes the solution far below the model's accuracy.
        jitter = 1e-10 * max(float(np.trace(gram)) / len(gram), np.finfo(float).tiny)
        gram[np.diag_indices_from(gram)] += jitter
        try:
            # One BLAS thread: Cholesky calls syrk.
            with threadpool_limits(1, user_api="blas"):
                return scipy.linalg.solve(gram, cross, assume_a="pos", check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            return scipy.linalg.lstsq(gram, cross, check_finite=False)[0]

    def decision_function(self, X):
        """Scores (n_samples, n_classes), or (n_samples,) for two classes."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        kernel = _rbf(X, self.components_, self.component_norms_, float(self.gamma))
        scores = kernel @ self.coef_ + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Labels (n_samples,): the sign for two classes, else the largest score."""
        return self.predict_and_decision(X)[0]

    def predict_and_decision(self, X):
        """:meth:`predict` and :meth:`decision_function` from one evaluation of the kernel rows."""
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index], scores
