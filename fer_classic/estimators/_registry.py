"""Classifiers by name."""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
from sklearn.base import ClassifierMixin

from .._sklearn_compat import wants_number
from ._canonical import CanonicalOrderClassifier, check_class_weight_values
from ._svm import SVMClassifier

__all__ = ["CLASSIFIERS", "make_classifier"]

# The other classifiers' modules are imported when one is made: an RBF SVM's fit does not load
# scikit-learn's ensembles, neighbours or networks, nor the histogram kernels.


def _linear_svm(rs, nj):
    from sklearn.svm import LinearSVC

    return LinearSVC(C=0.1, random_state=rs)


def _logreg(rs, nj):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=2000, random_state=rs)


def _ridge(rs, nj):
    from sklearn.linear_model import RidgeClassifier

    # Least squares on +-1 targets, also solved from row-block sums (the chunked fit). Alpha
    # from 0.1 to 100 scored 0.436-0.438 on FER2013's HOG test vectors: sklearn's default kept.
    return RidgeClassifier(alpha=1.0, random_state=rs)


def _knn(rs, nj):
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=7, weights="distance", n_jobs=nj)


def _rf(rs, nj):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=300, n_jobs=nj, random_state=rs)


def _mlp(rs, nj):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, early_stopping=True, max_iter=300, random_state=rs)


def _kernel_svm(rs, nj):
    from ._kernel_svc import KernelSVC

    # Histogram kernels (--param kernel=chi2|pq|rbf|linear) on a precomputed kernel matrix.
    return KernelSVC(kernel="intersection", C=10.0, n_jobs=nj, random_state=rs)


def _combined_svm(rs, nj):
    from ._kernel_svc import CombinedKernelSVC

    # A weighted sum of per-block kernels: --param blocks=[1296,2560] --param 'kernels=["rbf","intersection"]'.
    return CombinedKernelSVC(C=10.0, n_jobs=nj, random_state=rs)


def _local_svm(rs, nj):
    from ._local_svc import LocalSVC

    # Local learning: an SVM on each test face's k nearest training faces (--param k=200 --param C=1).
    return LocalSVC(_kernel_svm(rs, nj), n_jobs=nj)


#: Name → factory(random_state, n_jobs) of an unfitted classifier.
CLASSIFIERS: dict[str, Callable[[int | None, int | None], ClassifierMixin]] = {
    # C=10 scored ~0.6 points above C=1 on FER2013 HOG vectors (8k-image check).
    "svm": lambda rs, nj: SVMClassifier(C=10.0, random_state=rs),
    "linear-svm": _linear_svm,
    "logreg": _logreg,
    "ridge": _ridge,
    "knn": _knn,
    "rf": _rf,
    "mlp": _mlp,
    "kernel-svm": _kernel_svm,
    "combined-svm": _combined_svm,
    "local-svm": _local_svm,
}


def make_classifier(
    name: str, *, random_state: int | None = 0, n_jobs: int | None = None, views: int = 1, **params
) -> CanonicalOrderClassifier:
    """Return the named classifier inside fer-classic's checks of labels and weights.

    Parameters
    ----------
    name : str
        One of ``svm``, ``linear-svm``, ``logreg``, ``ridge``, ``knn``, ``rf``, ``mlp``,
        ``kernel-svm``, ``combined-svm``, ``local-svm``. ``svm`` is :class:`SVMClassifier`
        (RBF kernel; backend auto, sklearn, cuml or approx); ``kernel-svm``
        :class:`KernelSVC` (histogram intersection by default), ``combined-svm``
        :class:`CombinedKernelSVC`, ``local-svm`` :class:`LocalSVC` around an
        intersection-kernel KernelSVC; the others are scikit-learn's LinearSVC,
        LogisticRegression, RidgeClassifier, KNeighborsClassifier,
        RandomForestClassifier and MLPClassifier.
    random_state : int, optional
        Seed of estimators that take one.
    n_jobs : int, optional
        Workers of estimators that take them.
    views : int, default=1
        Views of every face side by side in the features
        (:class:`fer_classic.preprocessing.MirrorViews`: 2): above 1, the
        ``views`` of the kernel classifiers (``local-svm``: of its kernel).
    **params
        Parameters of the inner estimator (e.g. ``C=10``, ``class_weight="balanced"``).

    Returns
    -------
    CanonicalOrderClassifier
        The unfitted classifier, inside the wrapper that checks labels and weights
        (``classes_`` sorted, as scikit-learn's).

    Raises
    ------
    ValueError
        If ``name`` is unknown, a parameter does not apply to it, a bool is
        given for a parameter that takes only numbers, or
        ``views`` > 1 is asked of a classifier without a kernel over views
        or disagrees with a ``views`` in ``params``.
    """
    key = str(name).strip().lower()
    if key not in CLASSIFIERS:
        raise ValueError(f"Unknown classifier {name!r}; choose from {', '.join(CLASSIFIERS)}.")
    estimator = CLASSIFIERS[key](random_state, n_jobs)
    unknown = set(params) - set(estimator.get_params())
    if unknown:
        raise ValueError(
            f"Classifier {key!r} ({type(estimator).__name__}) has no parameter(s) {sorted(unknown)}."
        )
    if isinstance(views, bool) or not isinstance(views, numbers.Integral) or views < 1:
        raise ValueError(f"views must be a positive integer; got {views!r}.")
    for param, value in params.items():
        _refuse_bool_for_number(estimator, param, value)
        if param.rsplit("__", 1)[-1] == "class_weight":
            check_class_weight_values(value)  # before any data (fitting checks it again)
    estimator.set_params(**params)
    if views > 1:
        # The shortest key: the classifier's own views, else its kernel estimator's (local-svm).
        keys = [k for k in estimator.get_params() if k == "views" or k.endswith("__views")]
        if not keys:
            raise ValueError(f"views={views} (mirror_kernel, --mirror-kernel) needs a classifier whose kernel "
                             f"averages over views (kernel-svm, combined-svm or local-svm); {key!r} has none. Use "
                             "flip (--flip) for the others.")
        views_key = min(keys, key=len)
        if params.get(views_key, views) != views:
            raise ValueError(f"views={views} and {views_key}={params[views_key]!r} disagree; give one of them.")
        estimator.set_params(**{views_key: views})
    return CanonicalOrderClassifier(estimator)


def _refuse_bool_for_number(estimator, key: str, value) -> None:
    """Raise ValueError for a bool given to a parameter that takes numbers but no booleans.

    scikit-learn takes True for 1 there (bool is an int): ``--param
    gamma=true`` fitted ``gamma=1`` without a word, 0.99 -> 0.20 accuracy.
    The rule a search's grid values follow (:func:`~fer_classic._sklearn_compat.wants_number`).
    """
    if not isinstance(value, (bool, np.bool_)):
        return
    *path, name = key.split("__")
    owner = estimator
    for part in path:
        owner = owner.get_params(deep=False)[part]
    if wants_number(owner, name):
        raise ValueError(f"{key}={value!r}: {type(owner).__name__}'s {name} takes a number, not a boolean "
                         f"(scikit-learn would read {value} as {int(value)}); give a number (--param {key}=...).")
