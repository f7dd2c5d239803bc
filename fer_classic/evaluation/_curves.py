"""Learning curves (score vs training size) and validation curves (score vs one parameter)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import (
    StratifiedGroupKFold,
    StratifiedKFold,
    check_cv,
    learning_curve,
    validation_curve,
)

__all__ = ["CurveResult", "compute_learning_curve", "compute_validation_curve"]


@dataclass
class CurveResult:
    """Cross-validated train and validation scores along one axis.

    Attributes
    ----------
    kind : {"learning", "validation"}
    x : list
        Training-set sizes (learning curve) or parameter values (validation curve).
    x_label : str
        What ``x`` is (``"training images"`` or the parameter name).
    train_scores, test_scores : ndarray of shape (len(x), n_folds)
        Score of every fold on its training part and on its held-out part.
    scoring : str
        The scikit-learn scorer name.
    """

    kind: str
    x: list
    x_label: str
    train_scores: np.ndarray
    test_scores: np.ndarray
    scoring: str

    def fold_statistics(self, which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean and standard deviation per point over the folds that were scored, and the folds that were not.

        A fold whose fit failed scores NaN (scikit-learn's ``error_score``;
        :func:`compute_learning_curve` and :func:`compute_validation_curve`
        warn with a ``FitFailedWarning``); it is left out of its point rather
        than making the whole point NaN. A point where every fold failed is NaN.

        Parameters
        ----------
        which : {"train", "test"}

        Returns
        -------
        mean, std : ndarray of shape (len(x),)
        failed : ndarray of int, shape (len(x),)
        """
        scores = np.asarray(self.train_scores if which == "train" else self.test_scores, dtype=float)
        failed = np.isnan(scores)
        scored = (~failed).sum(axis=1)
        # np.nanmean / np.nanstd, without their "Mean of empty slice" RuntimeWarning for a point with no fold
        # scored (NaN, as meant), which took a process-wide warnings filter to silence; errstate is per thread.
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(failed, 0.0, scores).sum(axis=1) / scored
            std = np.sqrt(np.where(failed, 0.0, (scores - mean[:, None]) ** 2).sum(axis=1) / scored)
        return mean, std, failed.sum(axis=1)

    def summary(self) -> dict:
        """JSON-ready means and standard deviations per point over the folds scored (None where none was).

        ``failed_folds`` counts, per point, the folds whose fit failed.

        Returns
        -------
        dict
            ``kind``, ``x_label``, ``x`` (JSON-ready values), ``scoring``, the train
            and test means and standard deviations per point, and ``failed_folds``.
        """
        def values(array: np.ndarray) -> list:
            return [None if np.isnan(v) else float(v) for v in array]  # NaN is not JSON

        def point(value):
            if isinstance(value, np.generic):  # np.int64(1), np.bool_, np.str_: their Python value, not a repr
                value = value.item()
            if isinstance(value, float) and not np.isfinite(value):
                return str(value)  # JSON has no inf or nan (json.dumps wrote Infinity): 'inf', as it was given
            return value if isinstance(value, (int, float, str, bool)) or value is None else repr(value)

        train_mean, train_std, _ = self.fold_statistics("train")
        test_mean, test_std, failed = self.fold_statistics("test")
        return {
            "kind": self.kind,
            "x_label": self.x_label,
            "x": [point(v) for v in self.x],
            "scoring": self.scoring,
            "train_mean": values(train_mean),
            "train_std": values(train_std),
            "test_mean": values(test_mean),
            "test_std": values(test_std),
            "failed_folds": failed.tolist(),
        }


@contextlib.contextmanager
def _fer_classic_warns_failures():
    """Silence scikit-learn's warnings of failed fits and scores (tracebacks): :func:`_warn_failed_fits` says it."""
    from sklearn.exceptions import FitFailedWarning

    # A process-wide filter (not thread-safe before Python 3.14), kept: scikit-learn's curves warn of failed
    # fits (and of failed scores) with no option to stop them, short of error_score="raise", which ends the curve.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FitFailedWarning)
        warnings.filterwarnings("ignore", message="Scoring failed", category=UserWarning)  # a NaN score, as a fit's
        yield


def _warn_failed_fits(curve: CurveResult, retry) -> None:
    """Warn, naming each point with failed folds (how many of how many) and the first failure's error.

    scikit-learn gives a failed fold's score as NaN in its curves, with a dump of every traceback
    (silenced by :func:`_fer_classic_warns_failures`); ``retry(i)`` refits point ``i`` with
    ``error_score="raise"`` to learn the error.
    """
    from sklearn.exceptions import FitFailedWarning

    failed = np.isnan(curve.test_scores).sum(axis=1)
    if not failed.any():
        return
    n_folds = curve.test_scores.shape[1]

    def where(value) -> str:
        return f"{value} training images" if curve.kind == "learning" else f"{curve.x_label}={value!r}"

    points = "; ".join(f"{where(x)}: {int(k)} of {n_folds} folds" for x, k in zip(curve.x, failed) if k)
    first = int(np.flatnonzero(failed)[0])
    try:
        # Process-wide (not thread-safe before Python 3.14), kept: the refit of a point whose fits failed, to
        # learn the error, would repeat every warning of that point's folds that fit, warned about the first time.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            retry(first)
        error = ""
    except Exception as exc:  # noqa: BLE001 - any estimator's error is only reported here
        text = str(exc).strip().splitlines()
        error = f" First error ({where(curve.x[first])}): {type(exc).__name__}: {text[0] if text else ''}"
    warnings.warn(f"{curve.kind.capitalize()} curve: fits failed ({points}); those folds are left out of their "
                  f"point, and a point where every fold failed has no score.{error}", FitFailedWarning, stacklevel=3)


def curve_splitter(cv, random_state, groups=None):
    """The curves' folds: an int is seeded ``StratifiedKFold`` (``StratifiedGroupKFold`` with ``groups``)."""
    if isinstance(cv, (int, np.integer)):
        if cv < 2:
            raise ValueError(f"cv must be >= 2 folds (or a scikit-learn splitter); got {cv}.")
        # With groups (a subject's images, a face's near copies) no group lies on both sides of a fold.
        kind = StratifiedKFold if groups is None else StratifiedGroupKFold
        return kind(n_splits=int(cv), shuffle=True, random_state=random_state)
    return cv


def _refuse_one_image_sizes(train_sizes, X, y, groups, splitter) -> None:
    """Refuse ``train_sizes`` giving every point one image per fold: scikit-learn fails all fits with a dump.

    The absolute sizes are those :func:`~sklearn.model_selection.learning_curve` takes: a share of the
    first fold's training part (floored), or a count.
    """
    folds = check_cv(splitter, y, classifier=True)
    n_train = len(next(iter(folds.split(X, y, groups)))[0])
    sizes = np.asarray(train_sizes)
    if sizes.dtype.kind == "f":
        if not np.all((sizes > 0) & (sizes <= 1)):
            return  # scikit-learn names shares outside (0, 1]
        sizes = np.maximum(np.floor(sizes * n_train), 1)
    if sizes.size and np.all(sizes == 1):
        raise ValueError(
            f"train_sizes={tuple(np.asarray(train_sizes).tolist())!r} gives at most 1 training image per fold "
            f"(a fold trains on {n_train} images), too few for a classifier (it needs 2 classes); give larger "
            "train_sizes."
        )


def compute_learning_curve(
    estimator,
    X,
    y,
    *,
    train_sizes: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 1.0),
    cv=5,
    groups=None,
    scoring: str = "accuracy",
    random_state: int | None = 0,
    n_jobs: int | None = None,
) -> CurveResult:
    """Score ``estimator`` fitted on growing shares of the training data.

    Wraps :func:`sklearn.model_selection.learning_curve` with a seeded,
    stratified, shuffled K-fold so that every point is reproducible; each
    fold's training part is shuffled (same seed) before its first rows are
    taken, so that a small share of class-ordered data holds every class.

    Parameters
    ----------
    estimator : estimator
        Unfitted (it is cloned), e.g. ``fer_classic.make_pipeline("hog", "svm")``.
    X, y : array-like
        Training data only (``train.X``, ``train.y``); keep the test split out.
    train_sizes : sequence of float or int, default=(0.1, 0.25, 0.5, 0.75, 1.0)
        Shares (floats in (0, 1]) or counts of each fold's training part.
    cv : int or splitter, default=5
        Folds (int: seeded ``StratifiedKFold``, or ``StratifiedGroupKFold``
        with ``groups``) or any scikit-learn splitter.
    groups : array-like of shape (n_samples,), optional
        A group id per image (a subject, a cluster of near copies: see
        :func:`fer_classic._training.image_groups`): no group is on both sides
        of a fold. Given to a splitter too.
    scoring : str or scorer, default="accuracy"
        scikit-learn scorer name or object.
    random_state : int or None, default=0
        Seed of the folds.
    n_jobs : int, optional
        Parallel fits.

    Returns
    -------
    CurveResult
        ``x`` holds the absolute training sizes; for a classifier, sizes of
        one image (one class: never fitted) are left out, with a UserWarning.

    Raises
    ------
    ValueError
        For a classifier, if every size of ``train_sizes`` is one image per fold.

    Warns
    -----
    FitFailedWarning
        When fits failed: each size with failed folds (how many of how many) and
        the first error. Those folds are left out of their point (see
        :meth:`CurveResult.fold_statistics`).
    """
    splitter = curve_splitter(cv, random_state, groups)
    if is_classifier(estimator):
        _refuse_one_image_sizes(train_sizes, X, y, groups, splitter)
    with _fer_classic_warns_failures():
        sizes, train_scores, test_scores = learning_curve(
            clone(estimator), X, y, groups=groups, train_sizes=np.asarray(train_sizes), cv=splitter,
            scoring=scoring, n_jobs=n_jobs, shuffle=True, random_state=random_state,
        )
    sizes = np.asarray(sizes)
    few = (sizes < 2) if is_classifier(estimator) else np.zeros(len(sizes), dtype=bool)
    if few.any() and not few.all():  # one image is one class: no classifier fits it, in any fold
        warnings.warn(f"Learning curve: train_sizes gives {int(sizes[few].max())} training image per fold at its "
                      "smallest, too few for a classifier (it needs 2 classes), so that point is left out; give "
                      "larger train_sizes.", UserWarning, stacklevel=2)
        sizes, train_scores, test_scores = sizes[~few], train_scores[~few], test_scores[~few]
    curve = CurveResult("learning", [int(s) for s in sizes], "training images", train_scores, test_scores, scoring)
    _warn_failed_fits(curve, lambda i: learning_curve(
        clone(estimator), X, y, groups=groups, train_sizes=[curve.x[i]], cv=splitter, scoring=scoring, shuffle=True,
        random_state=random_state, error_score="raise"))
    return curve


def compute_validation_curve(
    estimator,
    X,
    y,
    *,
    param_name: str,
    param_range: Sequence,
    cv=5,
    groups=None,
    scoring: str = "accuracy",
    random_state: int | None = 0,
    n_jobs: int | None = None,
) -> CurveResult:
    """Score ``estimator`` for each value of one parameter.

    Wraps :func:`sklearn.model_selection.validation_curve`.

    Parameters
    ----------
    estimator : estimator
        Unfitted (it is cloned).
    X, y : array-like
        Training data only.
    param_name : str
        A parameter of ``estimator`` as ``get_params`` names it (``"clf__estimator__C"``
        for a fer-classic pipeline's classifier).
    param_range : sequence
        Values to try.
    cv : int or splitter, default=5
        Folds, as in :func:`compute_learning_curve`.
    groups : array-like of shape (n_samples,), optional
        A group id per image: no group is on both sides of a fold.
    scoring : str or scorer, default="accuracy"
        As in :func:`compute_learning_curve`.
    random_state : int or None, default=0
        Seed of the folds.
    n_jobs : int, optional
        Parallel fits.

    Returns
    -------
    CurveResult
        ``x`` holds the parameter values.

    Warns
    -----
    FitFailedWarning
        When fits failed: each value with failed folds (how many of how many) and
        the first error, as :func:`compute_learning_curve`.

    Raises
    ------
    ValueError
        If ``param_name`` is not a parameter of ``estimator`` or ``param_range`` is empty.
    """
    params = estimator.get_params()
    if param_name not in params:
        close = sorted(p for p in params if p.split("__")[-1] == param_name.split("__")[-1])
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"param_name {param_name!r} is not a parameter of {type(estimator).__name__}.{hint}")
    if len(param_range) == 0:
        raise ValueError("param_range is empty; give at least one value to try.")
    splitter = curve_splitter(cv, random_state, groups)
    with _fer_classic_warns_failures():
        train_scores, test_scores = validation_curve(
            clone(estimator), X, y, param_name=param_name, param_range=list(param_range),
            cv=splitter, groups=groups, scoring=scoring, n_jobs=n_jobs,
        )
    curve = CurveResult("validation", list(param_range), param_name, train_scores, test_scores, scoring)
    _warn_failed_fits(curve, lambda i: validation_curve(
        clone(estimator), X, y, param_name=param_name, param_range=[curve.x[i]], cv=splitter, groups=groups,
        scoring=scoring, error_score="raise"))
    return curve
