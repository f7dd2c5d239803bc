"""An RBF support vector classifier with interchangeable backends."""

from __future__ import annotations

import logging
import os

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._optional import import_optional
from .._sklearn_compat import (
    Integral, Interval, Real, StrOptions, check_sample_weight, _fit_context, validate_data,
)
from ._canonical import check_weighted_classes, class_weight_codes, positive_weight_folds
from ._landmark_ridge import LandmarkRidgeClassifier
from ._precomputed_svc import PrecomputedKernelSVC
from ._rbf import gamma_value

__all__ = ["SVMClassifier", "cuml_status"]

logger = logging.getLogger("fer_classic")

_BACKENDS = ("auto", "sklearn", "cuml", "approx")
_POSITIVE = Interval(Real, 0, None, closed="neither")
_GAMMA = [StrOptions({"scale", "auto"}), _POSITIVE]
_CLASS_WEIGHT = [dict, StrOptions({"balanced"}), None]
# precompute_kernel="auto" computes the training kernel matrix when it takes at most this share
# of the memory available when the fit starts (precomputed_kernel_bytes), the rest left to the
# temporaries (flipped FER2013: 11.6 GiB estimated, 15.6 GiB peak, with 20 GiB available); or at
# most _PRECOMPUTE_MAX_BYTES where the available memory is unknown. FER2013's 28,709 images: 3.1 GB.
_PRECOMPUTE_SHARE = 0.75
_PRECOMPUTE_MAX_BYTES = 8 * 2**30


def _precompute_limit() -> int:
    """Bytes of kernel that ``precompute_kernel="auto"`` computes at most, on this machine now."""
    from .. import _resources

    available = _resources.available_memory()
    return _PRECOMPUTE_MAX_BYTES if available is None else int(_PRECOMPUTE_SHARE * available)


def precomputed_kernel_bytes(y) -> int:
    """Memory of :class:`PrecomputedKernelSVC`'s kernel for labels ``y``: float32 blocks and one pair matrix.

    The blocks on and above the diagonal take ``4 (n**2 + sum n_c**2) / 2``
    bytes, the largest pair of classes' float64 matrix ``8 (n_a + n_b)**2``.
    """
    counts = np.unique(np.asarray(y), return_counts=True)[1].astype(np.int64)
    n = int(counts.sum())
    largest = int(np.sort(counts)[-2:].sum())
    return 2 * (n**2 + int((counts**2).sum())) + 8 * largest**2


def cuml_status() -> tuple[bool, str]:
    """Whether cuML can run here, and why not when it cannot.

    Returns
    -------
    usable : bool
    reason : str
        What was found (``"cuML 26.10 on 1 GPU"``) or what is missing.
    """
    try:
        import cuml
    except ImportError:
        return False, "cuML is not installed (pip install 'fer-classic[gpu]' on a CUDA machine)"
    except Exception as exc:  # broken CUDA installs raise at import
        return False, f"cuML failed to import: {type(exc).__name__}: {exc}"
    try:
        import cupy

        n_gpus = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return False, f"no usable CUDA GPU ({type(exc).__name__}: {exc})"
    if n_gpus < 1:
        return False, "no CUDA GPU visible"
    return True, f"cuML {cuml.__version__} on {n_gpus} GPU(s)"


def _gpu_present() -> bool:
    """Whether this machine shows an NVIDIA GPU (its driver or ``nvidia-smi``), cuML or not.

    Cheap and import-free: it decides whether ``backend="auto"`` choosing
    scikit-learn is worth a cuML install hint, not whether cuML would run.
    """
    import glob
    import shutil

    return bool(glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/proc/driver/nvidia/version")
                or shutil.which("nvidia-smi"))


class SVMClassifier(ClassifierMixin, BaseEstimator):
    """RBF-kernel SVM whose fitting backend is chosen by ``backend``.

    Parameters
    ----------
    C : float, default=1.0
        Regularisation (larger fits the training data more closely).
    gamma : {"scale", "auto"} or float, default="scale"
        RBF kernel coefficient, as in :class:`sklearn.svm.SVC`.
    class_weight : dict or "balanced", optional
        Per-class weights of ``C``.
    probability : bool, default=False
        Make ``predict_proba`` available. Calibration method: Platt scaling
        (sigmoid, one-vs-rest, then normalised) fitted on 5-fold (``sklearn``)
        or 3-fold (``approx``) cross-validated decision values by
        :class:`sklearn.calibration.CalibratedClassifierCV` with
        ``ensemble=False``; ``cuml`` uses cuML's own Platt scaling. Costs that
        many extra fits; ``predict`` and ``decision_function`` still come from
        the one model fitted on all the data.
    backend : {"auto", "sklearn", "cuml", "approx"}, default="auto"
        ``sklearn``: exact :class:`sklearn.svm.SVC` (libsvm), on a precomputed
        kernel matrix as ``precompute_kernel`` says.
        ``cuml``: exact ``cuml.svm.SVC`` on a GPU. ``approx``: Nystroem kernel
        approximation with ``n_components`` landmarks feeding a least-squares
        linear SVM (ridge with ``alpha = 1 / (2 C)``), solved in landmark
        space by :class:`LandmarkRidgeClassifier`; on all 28,709 FER2013
        HOG vectors over 10x faster to fit than libsvm computing its own
        kernel values (``precompute_kernel=False``), at its test accuracy
        for C=1 (see ``benchmarks/bench_svm.py``); for data whose kernel
        matrix is too large to precompute. ``auto``: ``cuml`` when
        cuML and a GPU are usable, else ``sklearn``; the choice and its reason
        are logged (logger ``fer_classic``) and kept in ``backend_`` and
        ``backend_reason_`` (``"auto, no GPU here"`` on a machine without an
        NVIDIA GPU; where one is present, why cuML could not use it).
    n_components : int, default=10000
        Landmarks of the ``approx`` backend (capped at the number of samples).
        More are slower (time grows as ``n_samples * n_components**2``) and
        heavier (``16 * n_components**2`` bytes while fitting: 1.6 GB for
        10,000), and more accurate: on FER2013 HOG (28,709 training images)
        10,000 landmarks match the exact SVM at C=1 (0.544 vs 0.545) but not
        at C=10 (0.548 vs 0.575), where 20,000 do (0.574, in about 3 min).
    precompute_kernel : {"auto", True, False}, default="auto"
        For ``sklearn``: compute the whole training kernel matrix at once
        (matrix products on all cores) and fit libsvm on it, with
        :class:`PrecomputedKernelSVC`. Same model as computing kernel values
        inside libsvm on one core, over 10x faster on FER2013 (28,709 HOG
        vectors: about 1 min instead of 12 to 15). Memory: the kernel in
        float32 on and above the diagonal plus one float64 matrix of the
        largest pair of classes (:func:`precomputed_kernel_bytes`; 3.1 GB for
        FER2013's 28,709 images). ``"auto"``: when that is at most three
        quarters of the memory available when the fit starts (8 GiB where
        that is unknown). The choice is logged and kept in ``kernel_precomputed_``.
    cache_size : float, default=1000
        Kernel cache in MB for the exact backends (at most 100 per pair of
        classes with a precomputed kernel, where it only saves look-ups).
    tol : float, default=1e-3
        Stopping tolerance.
    random_state : int, RandomState instance or None, default=None
        Seed of the Nystroem landmarks and of probability calibration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    backend_ : str
        The backend that fitted the model.
    backend_reason_ : str
        Why it was chosen (for ``auto``).
    kernel_precomputed_ : bool
        Whether the ``sklearn`` backend fitted on a precomputed kernel matrix.
    estimator_ : object
        The fitted backend model (trained on integer codes of ``classes_``).
    """

    _parameter_constraints: dict = {
        "C": [_POSITIVE],
        "gamma": _GAMMA,
        "class_weight": _CLASS_WEIGHT,
        "probability": ["boolean"],
        "backend": [StrOptions(set(_BACKENDS))],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "precompute_kernel": [StrOptions({"auto"}), "boolean"],
        "cache_size": [_POSITIVE],
        "tol": [_POSITIVE],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        C: float = 1.0,
        gamma="scale",
        class_weight=None,
        probability: bool = False,
        backend: str = "auto",
        n_components: int = 10000,
        precompute_kernel="auto",
        cache_size: float = 1000,
        tol: float = 1e-3,
        random_state: int | None = None,
    ):
        self.C = C
        self.gamma = gamma
        self.class_weight = class_weight
        self.probability = probability
        self.backend = backend
        self.n_components = n_components
        self.precompute_kernel = precompute_kernel
        self.cache_size = cache_size
        self.tol = tol
        self.random_state = random_state

    def _resolve_backend(self) -> tuple[str, str]:
        if self.backend in ("sklearn", "approx"):
            return self.backend, "requested"
        usable, reason = cuml_status()
        if self.backend == "cuml":
            if not usable:
                # A missing cuML is a missing extra (MissingDependencyError); an installed one without a GPU is not.
                import_optional("cuml", "backend='cuml' cannot run: it")
                raise ValueError(f"backend='cuml' cannot run: {reason}; use backend='auto' or 'sklearn'.")
            return "cuml", reason
        if usable:
            return "cuml", reason
        if not _gpu_present():  # scikit-learn is the only choice here: no fallback, no GPU install hint
            return "sklearn", "auto, no GPU here"
        return "sklearn", f"fell back to scikit-learn: {reason}"

    def _needs_weighted_classes(self) -> bool:  # libsvm, cuML; see check_weighted_classes
        return self.backend != "approx"

    def _class_weight_codes(self):
        return class_weight_codes(self.class_weight, self.classes_)  # the backends see integer codes

    # Nested: the backend models are built from validated parameters.
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

        Raises
        ------
        MissingDependencyError
            If ``backend='cuml'`` and cuML is not installed.
        ValueError
            If ``backend='cuml'`` and cuML finds no GPU, or ``y`` holds one class;
            for the exact backends, if a class has no sample of positive ``sample_weight``.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        precompute = self._precompute(y)
        self.backend_, self.backend_reason_ = self._resolve_backend()
        self.kernel_precomputed_ = self.backend_ == "sklearn" and precompute
        logger.info("SVMClassifier backend: %s (%s)", self.backend_, self.backend_reason_)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"The training data holds only 1 class ({self.classes_[0]!r}); need at least 2.")
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
            if self.backend_ != "approx":  # libsvm leaves out zero weights; the ridge weighs them as it is
                check_weighted_classes(y, sample_weight)
        build = {"sklearn": self._fit_sklearn, "cuml": self._fit_cuml, "approx": self._fit_approx}
        self.estimator_ = build[self.backend_](X, codes, sample_weight)
        return self

    def _calibrated(self, base, codes: np.ndarray, cv: int, sample_weight=None) -> CalibratedClassifierCV:
        """``base`` calibrated by Platt scaling on ``cv``-fold decisions (fewer folds for a small class).

        ``sample_weight``: given for libsvm, which leaves out the samples of
        weight 0: the folds are then counted and stratified on the samples of
        positive weight, so that every class keeps some in each training part.
        """
        # ensemble=False: one base model fitted on all the data (its decision_function
        # stays available) plus a sigmoid fitted on cross-validated decisions.
        positive = None if sample_weight is None else sample_weight > 0
        smallest = int(np.bincount(codes if positive is None else codes[positive]).min())
        if smallest < 2:
            of_weight = "" if positive is None else " of positive sample_weight"
            raise ValueError(
                "probability=True calibrates on cross-validated decisions and needs at least 2 "
                f"samples{of_weight} of every class; the smallest class has {smallest}."
            )
        folds = min(cv, smallest)
        if positive is not None and not positive.all():
            folds = positive_weight_folds(codes, sample_weight, folds)
        return CalibratedClassifierCV(base, method="sigmoid", cv=folds, ensemble=False)

    def _precompute(self, y) -> bool:
        if isinstance(self.precompute_kernel, str):  # "auto"
            return precomputed_kernel_bytes(y) <= _precompute_limit()
        return bool(self.precompute_kernel)

    def _fit_sklearn(self, X, codes, sample_weight):
        params = dict(C=self.C, gamma=self.gamma, class_weight=self._class_weight_codes(),
                      cache_size=self.cache_size, tol=self.tol, random_state=self.random_state)
        if self.kernel_precomputed_:
            logger.info("SVMClassifier: libsvm on a precomputed %d x %d kernel matrix", len(X), len(X))
            # libsvm's cache only saves look-ups of a precomputed kernel (see PrecomputedKernelSVC).
            model = PrecomputedKernelSVC(**{**params, "cache_size": min(self.cache_size, 100)})
        else:
            model = SVC(kernel="rbf", **params)
        if self.probability:
            model = self._calibrated(model, codes, cv=5, sample_weight=sample_weight)
        return model.fit(X, codes, sample_weight=sample_weight)

    def _fit_cuml(self, X, codes, sample_weight):
        CumlSVC = import_optional("cuml.svm", "backend='cuml'").SVC  # noqa: N806

        model = CumlSVC(C=self.C, kernel="rbf", gamma=self.gamma, class_weight=self._class_weight_codes(),
                        probability=self.probability, cache_size=self.cache_size, tol=self.tol,
                        output_type="numpy")
        # float32 halves GPU memory and transfer; libsvm's float64 gains nothing here.
        return model.fit(X.astype(np.float32), codes.astype(np.float32), sample_weight=sample_weight)

    def _fit_approx(self, X, codes, sample_weight):
        # A least-squares linear SVM (ridge on +-1 targets) on Nystroem features, solved
        # in landmark space: ~1 min on 28k faces with 10k landmarks, where liblinear's
        # hinge solvers take many minutes and reached no better accuracy on FER2013 HOG.
        model = LandmarkRidgeClassifier(
            alpha=1.0 / (2.0 * float(self.C)), gamma=gamma_value(self.gamma, X),
            n_components=self.n_components, class_weight=self._class_weight_codes(),
            random_state=self.random_state,
        )
        if self.probability:
            model = self._calibrated(model, codes, cv=3)  # the ridge weighs zero weights as it is
        return model.fit(X, codes, sample_weight=sample_weight)

    def _uncalibrated(self, X):
        """The model fitted on all the data (calibration aside), and its input."""
        model = self.estimator_
        if isinstance(model, CalibratedClassifierCV):
            model = model.calibrated_classifiers_[0].estimator
        return model, X

    def _validate(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X.astype(np.float32) if self.backend_ == "cuml" else X

    def predict(self, X):
        """Predicted labels of shape (n_samples,).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted labels, of ``classes_``.
        """
        model, X = self._uncalibrated(self._validate(X))
        return self.classes_[np.asarray(model.predict(X)).astype(int)]

    def decision_function(self, X):
        """One-vs-rest decision scores (n_samples, n_classes); 1-D for two classes.

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
        model, X = self._uncalibrated(self._validate(X))
        scores = np.asarray(model.decision_function(X), dtype=np.float64)
        return scores.ravel() if scores.ndim == 2 and scores.shape[1] == 1 else scores

    def predict_and_decision(self, X):
        """:meth:`predict` and :meth:`decision_function` with one kernel evaluation where the backend allows.

        The precomputed-kernel and ``approx`` backends evaluate the kernel
        rows once for both; libsvm's own kernel and cuML compute them twice.

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
        model, X = self._uncalibrated(self._validate(X))
        if hasattr(model, "predict_and_decision"):
            codes, scores = model.predict_and_decision(X)
        else:
            codes, scores = model.predict(X), model.decision_function(X)
        scores = np.asarray(scores, dtype=np.float64)
        scores = scores.ravel() if scores.ndim == 2 and scores.shape[1] == 1 else scores
        return self.classes_[np.asarray(codes).astype(int)], scores

    def _has_proba(self) -> bool:
        return bool(self.probability)

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Calibrated class probabilities, columns in ``classes_`` order (see ``probability``)."""
        X = self._validate(X)
        return np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)
