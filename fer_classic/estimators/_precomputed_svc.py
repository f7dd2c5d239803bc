"""The exact RBF SVM, fitted on its whole kernel matrix computed at once."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._progress import ticking
from .._sklearn_compat import Interval, Real, StrOptions, _fit_context, validate_data
from ._rbf import gamma_value, rbf, squared_norms

__all__ = ["PrecomputedKernelSVC"]

# Faces scored per block at prediction: each block holds one row of width n_fit_samples_
# per face (libsvm reads precomputed kernels by training-row index).
_PREDICT_ROWS = 512


class PrecomputedKernelSVC(ClassifierMixin, BaseEstimator):
    """Exact RBF-kernel SVC whose training kernel matrix is computed before libsvm runs.

    The same model as ``sklearn.svm.SVC(kernel="rbf", C, gamma)``: the
    ``n x n`` RBF kernel matrix of the training rows is computed at once by
    matrix products (all cores, :mod:`fer_classic.estimators._rbf`) and
    handed to ``SVC(kernel="precomputed")``, so libsvm's solver looks kernel
    values up instead of computing each one on a single core. On FER2013's
    28,709 HOG vectors (1,296 features) that fits in about 1 min where
    ``SVC(kernel="rbf")`` takes 12 to 15 min, for the same support vectors.
    The price is memory: ``8 n**2`` bytes while fitting (6.6 GB for 28,709
    rows). Prediction evaluates the kernel against the support vectors only.

    Parameters
    ----------
    C : float, default=1.0
        Regularisation, as in :class:`sklearn.svm.SVC`.
    gamma : {"scale", "auto"} or float, default="scale"
        RBF kernel coefficient, resolved as :class:`sklearn.svm.SVC` does.
    class_weight : dict or "balanced", optional
        Per-class weights of ``C``.
    cache_size : float, default=1000
        libsvm's cache in MB (of little use with a precomputed kernel).
    tol : float, default=1e-3
        Stopping tolerance.
    random_state : int, optional
        Passed to :class:`sklearn.svm.SVC` (unused without probabilities).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    gamma_ : float
        The kernel coefficient used.
    svc_ : sklearn.svm.SVC
        The libsvm model fitted on the kernel matrix.
    support_ : ndarray of shape (n_support,)
        Indices of the support vectors among the training rows.
    support_vectors_ : ndarray of shape (n_support, n_features)
    support_norms_ : ndarray of shape (n_support,)
        Squared norms of the support vectors, kept for prediction.
    n_fit_samples_ : int
        Training rows (the width of the kernel rows libsvm expects).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import SVC
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(60, 4)), np.repeat([0, 1, 2], 20)
    >>> fast = PrecomputedKernelSVC(C=3).fit(X, y)
    >>> bool((fast.predict(X) == SVC(C=3).fit(X, y).predict(X)).all())
    True
    """

    _parameter_constraints: dict = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "gamma": [StrOptions({"scale", "auto"}), Interval(Real, 0, None, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "cache_size": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, *, C: float = 1.0, gamma="scale", class_weight=None, cache_size: float = 1000,
                 tol: float = 1e-3, random_state=None):
        self.C = C
        self.gamma = gamma
        self.class_weight = class_weight
        self.cache_size = cache_size
        self.tol = tol
        self.random_state = random_state

    # Nested: the inner SVC gets validated parameters.
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit on ``X`` (n_samples, n_features) and labels ``y``."""
        X, y = validate_data(self, X, y, dtype=np.float64, order="C")
        check_classification_targets(y)
        self.gamma_ = gamma_value(self.gamma, X)
        kernel = rbf(X, X, squared_norms(X), self.gamma_)
        self.svc_ = SVC(C=self.C, kernel="precomputed", class_weight=self.class_weight,
                        cache_size=self.cache_size, tol=self.tol, random_state=self.random_state)
        with ticking("SVM solver (libsvm)"):
            self.svc_.fit(kernel, y, sample_weight=sample_weight)
        del kernel
        self.classes_ = self.svc_.classes_
        self.support_ = self.svc_.support_
        self.support_vectors_ = X[self.support_]
        self.support_norms_ = squared_norms(self.support_vectors_)
        self.n_fit_samples_ = len(X)
        return self

    def _blocks(self, X):
        """Kernel rows of ``X`` against the training rows, in blocks (zero off the support)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        for start in range(0, len(X), _PREDICT_ROWS):
            rows = X[start : start + _PREDICT_ROWS]
            block = np.zeros((len(rows), self.n_fit_samples_))
            block[:, self.support_] = rbf(rows, self.support_vectors_, self.support_norms_, self.gamma_)
            yield block

    def decision_function(self, X):
        """One-vs-rest scores (n_samples, n_classes), 1-D for two classes, as ``SVC``'s."""
        return np.concatenate([self.svc_.decision_function(block) for block in self._blocks(X)])

    def predict(self, X):
        """Labels (n_samples,): libsvm's one-vs-one vote, as ``SVC``'s."""
        return np.concatenate([self.svc_.predict(block) for block in self._blocks(X)])

    def predict_and_decision(self, X):
        """:meth:`predict` and :meth:`decision_function` from one evaluation of the kernel rows."""
        labels, scores = [], []
        for block in self._blocks(X):  # the RBF rows are the cost; libsvm only sums them up
            labels.append(self.svc_.predict(block))
            scores.append(self.svc_.decision_function(block))
        return np.concatenate(labels), np.concatenate(scores)
