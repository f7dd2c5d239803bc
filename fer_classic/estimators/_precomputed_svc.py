"""The exact RBF SVM, fitted by libsvm on kernel values computed beforehand by matrix products."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .. import _resources
from .._progress import ticking
from .._sklearn_compat import (
    Interval, Real, StrOptions, check_sample_weight, _fit_context, _ovr_decision_function, validate_data,
)
from ..features._union import decode_compact, encode_compact, has_compact_codes
from ._canonical import check_weighted_classes
from ._rbf import centred_single, class_gram, gamma_value, single_rbf, squared_norms

__all__ = ["PrecomputedKernelSVC", "compact_support_vectors", "kernel_cache"]

logger = logging.getLogger("fer_classic")

# Faces scored per block at prediction: bounds the kernel rows held at once.
_PREDICT_ROWS = 1024
# Support vectors rebuilt from their codes per block (see _decoded_blocks).
_DECODE_ROWS = 512
# libsvm runs on pairs of classes in this many threads at most (it releases the GIL);
# each holds its pair's float64 matrix (1.2 GB for FER2013's largest pair).
_MAX_PAIR_THREADS = 4
# Bytes of pair matrices per thread that always run side by side, even in a lone fit (a
# pair of 5,792 rows): libsvm is single-threaded (6,436 FER2013 images: libsvm 1.0 -> 0.5 s).
_SMALL_PAIR_BYTES = 256 * 2**20
# Kernel blocks a kernel_cache() keeps at most, in bytes (FER2013's take 1.9 GB per gamma).
_CACHE_BYTES = 4 * 2**30

_cache: contextvars.ContextVar[dict | None] = contextvars.ContextVar("fer_classic_kernel_cache", default=None)


@contextlib.contextmanager
def kernel_cache() -> Iterator[dict]:
    """Share kernel matrices and fitted models between :class:`PrecomputedKernelSVC` fits in this block.

    Inside the block, a fit on the same rows with the same ``gamma`` reuses
    the training kernel matrix (up to 4 GiB of them, least recently used
    dropped first), and a fit on the same rows, weights and parameters reuses
    the fitted model: a grid search over ``C`` computes the kernel once per
    ``gamma``, and refitting its best candidate on the same rows costs
    nothing. Outside such a block nothing is kept after ``fit``. Fits in
    other processes (a loky or Dask worker) do not see the cache.

    Yields
    ------
    dict
        The cache's counters, updated as fits run: ``kernels_computed``,
        ``kernels_reused`` and ``fits_reused``.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.random.RandomState(0).normal(size=(40, 3)), np.arange(40) % 2
    >>> with kernel_cache() as cache:
    ...     for C in (1, 10):
    ...         _ = PrecomputedKernelSVC(C=C).fit(X, y)
    >>> cache["kernels_computed"], cache["kernels_reused"]
    (1, 1)
    """
    state = {"grams": OrderedDict(), "fits": {}, "kernels_computed": 0, "kernels_reused": 0, "fits_reused": 0}
    token = _cache.set(state)
    try:
        yield state
    finally:
        _cache.reset(token)
        state["grams"].clear()
        state["fits"].clear()


def _digest(*arrays) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


class _PairBudget:
    """At most ``limit`` bytes of pair matrices alive at once across threads (one task always runs)."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self.condition = threading.Condition()

    def run(self, size: int, func, *args):
        with self.condition:
            self.condition.wait_for(lambda: self.used == 0 or self.used + size <= self.limit)
            self.used += size
        try:
            return func(*args)
        finally:
            with self.condition:
                self.used -= size
                self.condition.notify_all()


class PrecomputedKernelSVC(ClassifierMixin, BaseEstimator):
    """Exact RBF-kernel SVC whose training kernel matrix is computed before libsvm runs.

    The same model as ``sklearn.svm.SVC(kernel="rbf", C, gamma)``: libsvm's
    one-vs-one SVM, trained pair of classes by pair of classes as libsvm
    does, on kernel values computed beforehand by matrix products on all
    cores (:func:`fer_classic.estimators._rbf.class_gram`) instead of one by
    one inside libsvm on a single core. On FER2013's 28,709 HOG vectors that
    fits in about a minute instead of 12 to 15. The kernel is computed once,
    in float32 and only on and above the diagonal (1.9 GB for 28,709 rows);
    each pair of classes gets its float64 matrix in turn (1.2 GB for the
    largest FER2013 pair), and up to four pairs run at once. The kernel
    values agree with float64 ones to about 1e-7, which moves decision values
    by about 1e-6 and, on FER2013's test images, changes no label.
    Prediction evaluates the kernel against the support vectors once for
    labels and scores.

    Parameters
    ----------
    C : float, default=1.0
        Regularisation, as in :class:`sklearn.svm.SVC`.
    gamma : {"scale", "auto"} or float, default="scale"
        RBF kernel coefficient, resolved as :class:`sklearn.svm.SVC` does.
    class_weight : dict or "balanced", optional
        Per-class weights of ``C``, keyed by label (not by class index),
        computed on all the training rows as :class:`sklearn.svm.SVC` does.
    cache_size : float, default=100
        libsvm's cache in MB per pair of classes. With a precomputed kernel it
        only saves look-ups: on FER2013, 1,000 MB made the fit 7 % faster and
        took 0.75 GB more memory.
    tol : float, default=1e-3
        Stopping tolerance.
    random_state : int, RandomState instance or None, default=None
        Kept for :class:`sklearn.svm.SVC`'s signature (unused without probabilities).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    gamma_ : float
        The kernel coefficient used.
    centre_ : ndarray of shape (n_features,)
        The training rows' mean: training and test rows are centred on it
        before their distances are taken (the values cancel less).
    support_ : ndarray of shape (n_support,)
        Indices of the support vectors among the training rows, grouped by
        class as :class:`sklearn.svm.SVC`'s.
    support_vectors_ : ndarray of shape (n_support, n_features)
    support_norms_ : ndarray of shape (n_support,)
        Squared norms of the support vectors, kept for prediction.
    n_support_ : ndarray of shape (n_classes,)
        Support vectors per class.
    pairs_ : ndarray of shape (n_classes * (n_classes - 1) / 2, 2)
        The class indices of each one-vs-one machine, in libsvm's order.
    dual_coef_ : ndarray of shape (n_pairs, n_support)
        Machine ``p`` decides ``K(x, support_vectors_) @ dual_coef_[p] +
        intercept_[p]``: positive votes for class ``pairs_[p, 0]``.
    intercept_ : ndarray of shape (n_pairs,)
    n_fit_samples_ : int
        Training rows.
    support_codes_ : ndarray or dict
        Only after :func:`compact_support_vectors`: what the support vectors
        are rebuilt from, bit for bit, when the model is loaded (a dict of
        them by block for a feature union); pickles then hold these codes
        instead of ``support_vectors_``.
    support_decoder_ : Pipeline
        Only with ``support_codes_``: the fitted steps that rebuild them.

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

    def __init__(self, *, C: float = 1.0, gamma="scale", class_weight=None, cache_size: float = 100,
                 tol: float = 1e-3, random_state=None):
        self.C = C
        self.gamma = gamma
        self.class_weight = class_weight
        self.cache_size = cache_size
        self.tol = tol
        self.random_state = random_state

    def _needs_weighted_classes(self) -> bool:  # see check_weighted_classes
        return True

    # Nested: the inner SVCs get validated parameters.
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
        X, y = validate_data(self, X, y, dtype=np.float64, order="C")
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        weights = None if sample_weight is None else check_sample_weight(sample_weight, X)
        check_weighted_classes(y, weights)  # two classes or more, each with a sample of positive weight
        # A refit starts afresh: support vectors kept as codes belong to the former fit.
        for name in ("support_codes_", "support_decoder_"):
            self.__dict__.pop(name, None)
        self.gamma_ = gamma_value(self.gamma, X)
        # Keyed by label, as SVC's; indexed by class code (classes_ is sorted as np.unique sorts).
        class_weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        # libsvm's own layout: rows grouped by class, in their order within a class.
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(self.classes_) + 1))
        cache = _cache.get()
        data_key = _digest(X, codes) if cache is not None else None
        fit_key = (data_key, self.gamma_, float(self.C), tuple(class_weights), float(self.tol),
                   None if weights is None else _digest(weights))
        # Distances are taken on rows centred on the training mean (see class_gram); prediction
        # centres on the same point, so a test row's kernel values are computed as a training row's.
        self.centre_ = X.mean(axis=0)
        centred = None  # (single, norms) of the rows in `order`, when the kernel is computed here
        if cache is not None and fit_key in cache["fits"]:
            cache["fits_reused"] += 1
            logger.info("PrecomputedKernelSVC: the same fit was done before in this search; reused")
            fitted = cache["fits"][fit_key]
        else:
            def centre_sorted():
                nonlocal centred
                centred = centred_single(X, self.centre_, rows=order)
                return centred

            blocks = self._gram(centre_sorted, len(X), bounds, cache, data_key)
            fitted = self._fit_pairs(blocks, bounds, order, class_weights, weights, shared=cache is not None)
            if cache is not None:
                cache["fits"][fit_key] = fitted
        if cache is not None:  # each fit owns its arrays: editing one model must not edit the cached fit
            fitted = tuple(np.array(part, copy=True) for part in fitted)
        self.support_, self.n_support_, self.pairs_, self.dual_coef_, self.intercept_ = fitted
        self.support_vectors_ = X[self.support_]
        self.support_norms_ = squared_norms(self.support_vectors_)
        self.n_fit_samples_ = len(X)
        # Kept now, so that predicting changes nothing in the fitted model: the centred support
        # vectors are rows of the centred training matrix when it was made here.
        if centred is None:
            support_centred = centred_single(self.support_vectors_, self.centre_)
        else:
            position = np.empty_like(order)
            position[order] = np.arange(len(order))
            support_centred = (centred[0][position[self.support_]], centred[1][position[self.support_]])
        self.__dict__["_single_support_cache"] = (*support_centred, self.centre_)
        return self

    def _gram(self, centre_sorted, n, bounds, cache, data_key):
        """The kernel blocks (class_gram) of the rows sorted by class; ``centre_sorted()`` makes its input."""
        if cache is None:
            logger.info("PrecomputedKernelSVC: RBF kernel of %d rows (gamma=%.4g) computed", n, self.gamma_)
            return class_gram(*centre_sorted(), bounds, self.gamma_)
        grams = cache["grams"]
        key = (data_key, self.gamma_)
        if key in grams:
            grams.move_to_end(key)
            cache["kernels_reused"] += 1
            logger.info("PrecomputedKernelSVC: RBF kernel of %d rows (gamma=%.4g) reused from the cache",
                        n, self.gamma_)
            return grams[key]
        blocks = class_gram(*centre_sorted(), bounds, self.gamma_)
        cache["kernels_computed"] += 1
        logger.info("PrecomputedKernelSVC: RBF kernel of %d rows (gamma=%.4g) computed (%d computed, "
                    "%d reused in this search)", n, self.gamma_, cache["kernels_computed"], cache["kernels_reused"])
        grams[key] = blocks
        while len(grams) > 1 and sum(b.nbytes for g in grams.values() for b in g.values()) > _CACHE_BYTES:
            grams.popitem(last=False)
        return blocks

    def _fit_pairs(self, blocks, bounds, order, class_weights, weights, shared=False):
        """libsvm on every pair of classes; returns the fitted state (see the attributes)."""
        n_classes = len(bounds) - 1
        pairs = [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]
        # Each thread fills its small pair matrices into one buffer: fresh memory for each of
        # them cost page faults (6,436 images: 21 pairs of 32 MB, 0.3 s); large ones are new
        # memory, released after their fit.
        buffers = threading.local()

        def pair_matrix(n: int) -> np.ndarray:
            if 8 * n * n > _SMALL_PAIR_BYTES:
                return np.empty((n, n))
            buffer = getattr(buffers, "matrix", None)
            if buffer is None or len(buffer) < n * n:
                buffer = buffers.matrix = np.empty(n * n)
            return buffer[: n * n].reshape(n, n)

        def fit_pair(pair):
            i, j = pair
            n_i, n_j = bounds[i + 1] - bounds[i], bounds[j + 1] - bounds[j]
            kernel = pair_matrix(n_i + n_j)
            kernel[:n_i, :n_i] = blocks[i, i]
            kernel[:n_i, n_i:] = blocks[i, j]
            kernel[n_i:, :n_i] = blocks[i, j].T
            kernel[n_i:, n_i:] = blocks[j, j]
            rows = np.r_[bounds[i] : bounds[i + 1], bounds[j] : bounds[j + 1]]  # positions in `order`
            labels = np.r_[np.zeros(n_i, int), np.ones(n_j, int)]
            pair_weights = None if weights is None else weights[order[rows]]
            if pair_weights is not None and not (pair_weights > 0).all():
                # libsvm leaves out the rows of weight 0 (or less), and scikit-learn's SVC then gives
                # support_ among the rows it kept, not those given (scikit-learn #5150, #25380):
                # left out here, the indices are right.
                keep = pair_weights > 0
                kernel, rows, labels, pair_weights = kernel[np.ix_(keep, keep)], rows[keep], labels[keep], \
                    pair_weights[keep]
            svc = SVC(C=self.C, kernel="precomputed", cache_size=self.cache_size, tol=self.tol,
                      class_weight={0: class_weights[i], 1: class_weights[j]})
            svc.fit(kernel, labels, sample_weight=pair_weights)
            # sklearn's binary decision is positive for the pair's second class; libsvm's for its first.
            return rows[svc.support_], -svc.dual_coef_[0], -float(svc.intercept_[0])

        sizes = {(i, j): 8 * int(bounds[i + 1] - bounds[i] + bounds[j + 1] - bounds[j]) ** 2 for i, j in pairs}
        threads = max(1, min(_MAX_PAIR_THREADS, _resources.usable_cpus(), len(pairs)))
        # Largest pairs first. A lone fit holds pair matrices of at most the largest one's bytes at
        # once, or of 256 MiB per thread where that is more (FER2013's largest pairs run alone, its
        # small ones side by side: the fit takes half the memory of one float64 matrix; 6,436
        # images: every pair side by side). A search, which keeps its kernels for the next
        # candidates anyway, runs a pair on every thread (FER2013: 25 % faster, +1.2 GB).
        largest = max(sizes.values()) * (threads if shared else 1)
        budget = _PairBudget(max(largest, threads * _SMALL_PAIR_BYTES))
        by_size = sorted(pairs, key=lambda pair: -sizes[pair])
        with ticking("SVM solver (libsvm)"), ThreadPoolExecutor(threads) as pool:
            fitted = dict(zip(by_size, pool.map(lambda pair: budget.run(sizes[pair], fit_pair, pair), by_size)))
        machines = [fitted[pair] for pair in pairs]
        positions = np.unique(np.concatenate([rows for rows, _, _ in machines]))  # grouped by class
        dual_coef = np.zeros((len(pairs), len(positions)))
        for p, (rows, coef, _) in enumerate(machines):
            dual_coef[p, np.searchsorted(positions, rows)] = coef
        n_support = np.diff(np.searchsorted(positions, bounds))
        intercept = np.array([b for _, _, b in machines])
        return order[positions], n_support.astype(np.int32), np.array(pairs, dtype=np.intp), dual_coef, intercept

    # -- support vectors kept as compact codes ------------------------------------------------

    def compact_support(self, codes, decoder: Pipeline) -> bool:
        """Keep the support vectors as ``codes`` that ``decoder`` rebuilds bit for bit; False if it does not.

        Parameters
        ----------
        codes : ndarray or dict
            Codes of the support vectors, one row per vector (``encode_compact``
            of a feature step; a dict of them by block for a feature union).
        decoder : Pipeline
            Fitted steps whose first rebuilds its output from ``codes``
            (:func:`fer_classic.features._union.decode_compact`) and whose
            others transform that output into this model's input.

        Returns
        -------
        bool
            True if the support vectors are now kept as ``codes`` (and rebuilt on
            first use after loading); False if nothing was changed.
        """
        check_is_fitted(self)
        fitted, n_rebuilt = self.support_vectors_, 0
        for rows, rebuilt in _decoded_blocks(decoder, codes):
            if rebuilt.shape != fitted[rows].shape or not np.array_equal(rebuilt, fitted[rows]):
                return False
            n_rebuilt += len(rebuilt)
        if n_rebuilt != len(fitted):
            return False
        self.support_codes_, self.support_decoder_ = codes, decoder
        return True

    def __getstate__(self):
        state = dict(super().__getstate__())  # Python 3.11+: the instance's own __dict__, not a copy
        state.pop("_single_support_cache", None)  # rebuilt on first use
        if "support_codes_" in state:  # rebuilt from the codes on first use after loading
            state = {k: v for k, v in state.items() if k not in ("support_vectors_", "support_norms_")}
        return state

    def __setstate__(self, state):
        if "svc_" in state:  # saved before 0.2: one libsvm model on a precomputed kernel
            state = _from_multiclass_svc(state)
        super().__setstate__(state)

    def __getattr__(self, name):
        # Only reached for a missing attribute: the support vectors of a loaded compact model.
        fields = self.__dict__
        if name in ("support_vectors_", "support_norms_") and "support_codes_" in fields:
            fields["support_vectors_"] = _decode(fields["support_decoder_"], fields["support_codes_"])
            fields["support_norms_"] = squared_norms(fields["support_vectors_"])
            return fields[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _pair_decisions(self, X) -> np.ndarray:
        """libsvm's one-vs-one decision values (n_samples, n_pairs)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        support, support_norms, centre = self._single_support()
        out = np.empty((len(X), len(self.pairs_)))
        for start in range(0, len(X), _PREDICT_ROWS):
            rows, row_norms = centred_single(X[start : start + _PREDICT_ROWS], centre)
            kernel = single_rbf(rows, row_norms, support, support_norms, self.gamma_)  # as in fit
            out[start : start + len(rows)] = kernel @ self.dual_coef_.T + self.intercept_
        return out

    def _single_support(self):
        """The support vectors centred in float32 with their float64 norms, made once (not pickled)."""
        cached = self.__dict__.get("_single_support_cache")
        if cached is None:
            centre = getattr(self, "centre_", None)
            if centre is None:  # a model saved before centre_ was kept: the support vectors' mean
                centre = self.support_vectors_.mean(axis=0) if len(self.support_vectors_) else 0.0
            cached = self.__dict__["_single_support_cache"] = (*centred_single(self.support_vectors_, centre), centre)
        return cached

    def _labels(self, decisions: np.ndarray) -> np.ndarray:
        # libsvm's vote: positive for the pair's first class; the first class of most votes wins.
        votes = np.zeros((len(decisions), len(self.classes_)), dtype=np.intp)
        rows = np.arange(len(decisions))
        for p, (i, j) in enumerate(self.pairs_):
            votes[rows, np.where(decisions[:, p] > 0, i, j)] += 1  # one vote per row: no repeated index
        return self.classes_[np.argmax(votes, axis=1)]

    def _scores(self, decisions: np.ndarray) -> np.ndarray:
        if len(self.classes_) == 2:
            return -decisions[:, 0]  # as SVC: positive for classes_[1]
        return _ovr_decision_function(decisions < 0, -decisions, len(self.classes_))

    def decision_function(self, X):
        """One-vs-rest scores (n_samples, n_classes), 1-D for two classes, as ``SVC``'s.

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
        return self._scores(self._pair_decisions(X))

    def predict(self, X):
        """Labels (n_samples,): libsvm's one-vs-one vote, as ``SVC``'s.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted labels, of ``classes_``.
        """
        return self._labels(self._pair_decisions(X))

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
        decisions = self._pair_decisions(X)
        return self._labels(decisions), self._scores(decisions)


def _decoded_blocks(decoder: Pipeline, codes) -> Iterator[tuple[slice, np.ndarray]]:
    """``(rows, vectors)``: the vectors rebuilt from ``codes``, a block of rows at a time.

    Codes kept as one array (HOG cells) go in blocks of rows; others (a
    union's, SIFT's flat votes) in one block. The fit's check and a load's
    rebuild go through the same blocks, so a step whose output could depend
    on how many rows come together (a matrix product) gives both the same
    bits; and the check holds one block at a time, not a second copy of the
    support vectors (the fresh pages of 6,240 HOG vectors took 0.1 to 0.3 s).
    """
    first, tail = decoder[0], (decoder[1:] if len(decoder) > 1 else None)
    if isinstance(codes, np.ndarray) and len(codes):
        blocks = [slice(start, start + _DECODE_ROWS) for start in range(0, len(codes), _DECODE_ROWS)]
        parts = ((rows, codes[rows]) for rows in blocks)
    else:
        parts = [(slice(None), codes)]
    for rows, part in parts:
        out = decode_compact(first, part)
        yield rows, (out if tail is None else tail.transform(out))


def _decode(decoder: Pipeline, codes) -> np.ndarray:
    return np.concatenate([vectors for _, vectors in _decoded_blocks(decoder, codes)])


def _exact_svm(estimator) -> PrecomputedKernelSVC | None:
    """The PrecomputedKernelSVC inside ``estimator`` and its wrappers (``estimator_``), if any."""
    while estimator is not None and not isinstance(estimator, PrecomputedKernelSVC):
        estimator = getattr(estimator, "estimator_", None)
    return estimator


def compact_support_vectors(pipeline, X) -> bool:
    """Keep a fitted pipeline's exact-SVM support vectors as compact codes of their training rows.

    The support vectors are most of a saved RBF-SVM model (FER2013's HOG
    model: 26,473 of them, 274 MB in float64). When a feature step can
    rebuild its output from smaller codes (:meth:`HOGFeatures.encode_compact
    <fer_classic.features.HOGFeatures.encode_compact>`: float32 cell
    histograms, an eighth of the bytes; :meth:`DenseSIFTBoVW.encode_compact
    <fer_classic.features.DenseSIFTBoVW.encode_compact>`: sparse float32
    word histograms; :meth:`DenseSIFTVLAD.encode_compact
    <fer_classic.features.DenseSIFTVLAD.encode_compact>`: float32 residual
    sums; a feature union: each block's codes, or its output
    as it is for a block without), the model keeps those codes and the
    steps that rebuild the support vectors from them; nothing is changed
    unless the rebuilt vectors equal the fitted ones bit for bit, so
    predictions stay the same.

    Parameters
    ----------
    pipeline : Pipeline
        Fitted on ``X`` (a plain :class:`sklearn.pipeline.Pipeline`: with
        resampled or augmented training rows the support vectors are not rows
        of ``X``).
    X : array-like of shape (n_samples, n_features)
        The training rows it was fitted on.

    Returns
    -------
    bool
        Whether the support vectors are now kept as codes.
    """
    if type(pipeline) is not Pipeline:
        return False
    svm = _exact_svm(pipeline.steps[-1][1])
    steps = pipeline.steps[:-1]
    encoders = [i for i, (_, step) in enumerate(steps) if has_compact_codes(step)]
    if svm is None or not encoders or svm.n_fit_samples_ != len(X):
        return False
    at = encoders[-1]
    rows = np.asarray(X)[svm.support_]
    if at:
        rows = Pipeline(steps[:at]).transform(rows)
    return svm.compact_support(encode_compact(steps[at][1], rows), Pipeline(steps[at:]))


def _from_multiclass_svc(state: dict) -> dict:
    """The state of a model saved with one multiclass ``SVC(kernel="precomputed")`` (``svc_``), as pairs."""
    state = dict(state)
    svc = state.pop("svc_")
    n_classes = len(svc.classes_)
    n_support = np.asarray(svc.n_support_)
    starts = np.r_[0, np.cumsum(n_support)]
    # sklearn flips the signs of a two-class model's public coefficients (positive for classes_[1]).
    sign = -1.0 if n_classes == 2 else 1.0
    coef, intercept = sign * np.asarray(svc.dual_coef_), sign * np.asarray(svc.intercept_)
    pairs = [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]
    dual_coef = np.zeros((len(pairs), int(starts[-1])))
    for p, (i, j) in enumerate(pairs):
        # libsvm's layout: class i's coefficients for machine (i, j) in row j - 1, class j's in row i.
        dual_coef[p, starts[i] : starts[i + 1]] = coef[j - 1, starts[i] : starts[i + 1]]
        dual_coef[p, starts[j] : starts[j + 1]] = coef[i, starts[j] : starts[j + 1]]
    state.update(n_support_=n_support.astype(np.int32), pairs_=np.array(pairs, dtype=np.intp),
                 dual_coef_=dual_coef, intercept_=intercept[: len(pairs)].astype(np.float64))
    return state
