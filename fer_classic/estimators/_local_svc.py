"""Local learning: an SVM trained on each test face's nearest training faces."""

from __future__ import annotations

import copy

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._progress import Progress
from .._resources import pool_size
from .._sklearn_compat import (
    N_JOBS, HasMethods, Integral, Interval, Real, StrOptions, _fit_context, check_parameter_constraints,
    check_sample_weight, routing_enabled, validate_data,
)
from ._canonical import check_two_classes, check_weighted_classes, class_weight_codes, weighted_unless_declined
from ._kernel_svc import _FLOATS, KernelSVC, _KernelSVCBase, precomputed_svc

__all__ = ["LocalSVC"]

# Test faces whose nearest training faces are searched at once (the closeness and argpartition
# temporaries of this many kernel rows).
_ROWS = 512


def _nearest(kernel_rows: np.ndarray, penalty: np.ndarray, k: int):
    """The ``k`` nearest training rows of each kernel row (sorted indices), ``_ROWS`` rows at a time.

    Nearest = smallest kernel distance ``k(x,x) + k(t,t) - 2 k(x,t)``;
    ``k(t,t)`` is the same for all ``x``, and ``penalty`` holds ``k(x,x)``
    (inf for a face that is no neighbour).
    """
    n = kernel_rows.shape[1]
    for start in range(0, len(kernel_rows), _ROWS):
        band = kernel_rows[start : start + _ROWS]
        if k >= n:
            yield from (np.arange(n) for _ in band)
            continue
        yield from np.sort(np.argpartition(penalty - 2 * band, k - 1, axis=1)[:, :k], axis=1)


def _class_scores(decision: np.ndarray, n_classes: int, multiclass: str) -> np.ndarray:
    """SVM decisions as one score per class (n_rows, n_classes).

    One-vs-one (``SVC``): its one-vs-rest shape already is votes plus a
    confidence in (-1/3, 1/3); a two-class decision ``v`` (positive: the
    second class) becomes the same: 1 vote for the winner, and
    ``+-v / (3 (|v| + 1))``. One-vs-rest: each class's machine's decision
    value; two classes have one machine, ``-v`` for the first and ``v`` for
    the second.
    """
    if n_classes > 2:
        return decision
    v = np.asarray(decision).reshape(-1)
    if multiclass == "ovr":
        return np.column_stack([-v, v])
    confidence = v / (3 * (np.abs(v) + 1))
    return np.column_stack([(v <= 0) - confidence, (v > 0) + confidence])


class LocalSVC(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Local learning around a kernel SVM: each test face gets an SVM of its k nearest training faces.

    For every test face, its ``k`` nearest training faces in the kernel
    space of ``estimator`` (largest ``2 k(x, t) - k(t, t)``, i.e. smallest
    kernel distance) train a local ``SVC(C=C)`` on their block of the
    training kernel matrix, which scores the face. A neighbourhood of one
    class gives that class without an SVM. With ``mode="refine"`` the
    global model (``estimator`` fitted on all the faces) is kept too and
    the local scores, times ``local_weight``, are added to its one-vs-rest
    scores. The local SVMs take ``estimator``'s ``multiclass`` scheme: libsvm's
    one-vs-one vote, or one machine per class of the neighbourhood against the
    others (``"ovr"``), whose decision values are on the scale of a one-vs-rest
    global SVM's.

    Kernel rows of the test faces are computed in blocks of 512 (2,048 when
    the training side is made by chunks, see ``_KernelSVCBase._training_side``)
    against all training faces (the cost of a global prediction), the
    neighbourhoods with ``argpartition`` by bands of rows, and the training
    kernel matrix once in ``fit`` (cached as float32, ``4 * n_samples**2``
    bytes: 3.3 GB for FER2013's 28,709 faces; not saved with the model,
    recomputed on first use after loading). What remains per face is one
    small libsvm fit.

    Parameters
    ----------
    estimator : KernelSVC or CombinedKernelSVC, optional
        Defines the kernel (and, for ``refine``, the global model). Default
        ``KernelSVC(kernel="intersection", C=10)``.
    k : int, default=200
        Neighbours per test face (capped at the training faces). Read when
        predicting (see Notes).
    C : float, default=1.0
        Regularisation of the local SVMs. Read when predicting.
    mode : {"local", "refine"}, default="local"
        ``local``: the local SVM decides alone. ``refine``: global plus
        local one-vs-rest scores (vote counts with confidences, or the
        machines' decision values for ``multiclass="ovr"``). Fixed by
        ``fit`` (``mode_``): ``refine`` fits the global SVM there.
    local_weight : float, default=1.0
        For ``refine``: the factor of the local scores in the sum (0: the
        global SVM alone). A grid parameter, chosen on validation data.
        Read when predicting.
    n_jobs : int, optional
        Threads that fit the local SVMs (libsvm releases the GIL); None is
        1 unless in a :func:`joblib.parallel_config` context, -1 all cores.
        Read when predicting, where the local SVMs are fitted.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    estimator_ : KernelSVC or CombinedKernelSVC
        The kernel state learned on all training faces; for ``refine``, the
        fitted global SVM (its ``predict`` works on its own). Its
        ``support_vectors_`` are rows of ``X_fit_``, copied when first read:
        the local SVMs never read them (most of the training rows on FER2013).
    local_class_weight_ : dict, "balanced" or None
        ``estimator``'s ``class_weight``, keyed by class code, for the local SVMs.
    local_multiclass_ : {"ovo", "ovr"}
        ``estimator``'s ``multiclass`` scheme, taken by the local SVMs.
    mode_ : {"local", "refine"}
        ``mode`` as fitted: prediction follows it, not a later ``set_params``.
    X_fit_ : ndarray of shape (n_samples, n_features)
        Training faces, prepared for the kernel: the array given to ``fit``
        itself where it needs no preparing (float rows, rbf kernels), as
        :class:`~sklearn.neighbors.KNeighborsClassifier` keeps its rows.
    y_fit_ : ndarray of shape (n_samples,)
        Their class codes (indices into ``classes_``).

    Notes
    -----
    The local SVMs are fitted when predicting, so ``k``, ``C``,
    ``local_weight`` and ``n_jobs`` act then: changed by ``set_params``
    after ``fit``, they change the next predictions without a refit (as
    :class:`~sklearn.neighbors.KNeighborsClassifier` reads ``n_neighbors``
    when predicting), and are checked then as ``fit`` checks them.
    ``estimator`` and ``mode`` act in ``fit`` only: a later change of them
    needs a refit.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.random_sample((90, 6)), np.repeat([0, 1, 2], 30)
    >>> X[y == 1, :2] += 1.0
    >>> LocalSVC(k=30, C=10).fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "k": [Interval(Integral, 1, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "mode": [StrOptions({"local", "refine"})],
        "local_weight": [Interval(Real, 0, None, closed="left")],
        "n_jobs": N_JOBS,
    }

    def __init__(self, estimator=None, *, k: int = 200, C: float = 1.0, mode: str = "local",
                 local_weight: float = 1.0, n_jobs: int | None = None):
        self.estimator = estimator
        self.k = k
        self.C = C
        self.mode = mode
        self.local_weight = local_weight
        self.n_jobs = n_jobs

    def _needs_weighted_classes(self) -> bool:  # refine: libsvm on all the faces (see check_weighted_classes)
        return self.mode == "refine"

    # Nested: the kernel estimator validates its own parameters.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Learn the kernel on ``X`` and labels ``y`` (and the global SVM for ``refine``).

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
        TypeError
            If ``estimator`` is not a KernelSVC or CombinedKernelSVC.
        ValueError
            If ``y`` holds one class (of positive weight), ``estimator`` is a
            CombinedKernelSVC with ``weights="cv"``, (``refine``) a class has
            no sample of positive weight, or the kernel overflows (see
            :meth:`KernelSVC.fit`).
        MemoryError
            If the training kernel matrix, and beside it the largest of its
            working memory, (``refine``) the global SVM's libsvm caches, and
            its float32 copy (``12 * n_samples**2`` bytes with the matrix),
            exceed the memory available now, before any work.
        """
        estimator = KernelSVC(kernel="intersection", C=10.0) if self.estimator is None else clone(self.estimator)
        if not isinstance(estimator, _KernelSVCBase):
            raise TypeError(f"LocalSVC needs a KernelSVC or CombinedKernelSVC estimator (its kernel space); got "
                            f"{type(estimator).__name__}.")
        estimator._validate_params()
        if isinstance(getattr(estimator, "weights", None), str):  # "cv": chosen in CombinedKernelSVC.fit alone
            raise ValueError(
                "LocalSVC does not choose its estimator's kernel weights: weights='cv' would leave them equal. "
                "Fit CombinedKernelSVC(weights='cv') on its own and pass its weights_ as weights=..."
            )
        X, y = validate_data(self, X, y, dtype=_FLOATS, order="C")
        check_classification_targets(y)
        sample_weight = check_sample_weight(sample_weight, X) if sample_weight is not None else None
        if self._needs_weighted_classes():  # refine: libsvm on all the faces
            check_weighted_classes(y, sample_weight)
        else:  # the local SVMs leave weightless faces out of the neighbourhoods
            check_two_classes(y, sample_weight)
        self.mode_ = self.mode  # what predict follows (set_params(mode=...) changes nothing until the next fit)
        self.classes_, self.y_fit_ = np.unique(y, return_inverse=True)
        self.X_fit_, gram, self.diagonals_ = estimator._fit_kernel(  # cache_bytes: _keep_gram's copy
            X, cache_bytes=4 * len(X) ** 2, solver_bytes=estimator._solver_bytes(y) if self.mode_ == "refine" else 0)
        self.sample_weight_ = sample_weight
        if self.mode_ == "refine":
            global_weight = sample_weight
            if routing_enabled():  # the global SVM's request decides; the local SVMs are this object's own
                global_weight = process_routing(self, "fit", sample_weight=sample_weight).estimator.fit.get(
                    "sample_weight")
            # Its support vectors (most rows on FER2013) are rows of X_fit_, which the local SVMs read:
            # not copied unless read (estimator_.predict).
            estimator._fit_svc(self.X_fit_, gram, self.diagonals_, y, global_weight, copy_support_vectors=False)
        self.estimator_ = estimator
        # The local SVMs see class codes: a label-keyed class_weight is translated once.
        self.local_class_weight_ = class_weight_codes(estimator.class_weight, self.classes_)
        self.local_multiclass_ = estimator.multiclass
        self._keep_gram(gram)
        del gram
        return self

    def get_metadata_routing(self):
        """Metadata routing of this object: its own ``sample_weight`` request, and (``refine``) the estimator's.

        See scikit-learn's :ref:`User Guide <metadata_routing>`. The local SVMs
        take this object's weights; with ``mode="refine"`` the global SVM (the
        estimator) takes them as it requests them, and one that has not said
        either way gets them (see :func:`~fer_classic.estimators._canonical.weighted_unless_declined`).

        Returns
        -------
        routing : MetadataRouter
            This object's request, and the estimator's for ``refine``.
        """
        router = MetadataRouter(owner=self).add_self_request(self)
        if self.mode == "refine":  # "local" fits no model of the estimator on the weights
            estimator = KernelSVC(kernel="intersection", C=10.0) if self.estimator is None else self.estimator
            router.add(estimator=weighted_unless_declined(estimator),
                       method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        return router

    def __getstate__(self):
        # The training kernel matrix is a cache (n_samples**2 values): not saved, recomputed when needed.
        state = dict(super().__getstate__())  # Python 3.11+: the instance's own __dict__, not a copy
        state.pop("_train_kernel", None)
        state.pop("_train_self_kernel", None)
        global_svm = state.get("estimator_")
        fields = getattr(global_svm, "__dict__", {})
        if ("support_vectors_" in fields or "_support_source" in fields) and "X_fit_" in state:
            # refine: the global SVM's support vectors are rows of X_fit_ (most of them, on FER2013):
            # saved once, taken from X_fit_ again when read after a load.
            global_svm = copy.copy(global_svm)
            global_svm.__dict__.pop("support_vectors_", None)
            global_svm.__dict__.pop("_support_source", None)
            state["estimator_"] = global_svm
        return state

    def __setstate__(self, state):
        # Fitted before kernels had views: its diagonals get the per-view layout (one view).
        if np.ndim(state.get("diagonals_")) == 2:
            state = {**state, "diagonals_": state["diagonals_"][:, None, :]}
        # Saved before local_weight and one-vs-rest local SVMs: they predict as they did.
        state = {"local_weight": 1.0, **state}
        if "X_fit_" in state:  # and before the fitted mode was kept: the mode it had
            state = {"local_multiclass_": "ovo", "mode_": state.get("mode", "local"), **state}
        super().__setstate__(state)
        fields = getattr(getattr(self, "estimator_", None), "__dict__", {})
        if "support_" in fields and "support_vectors_" not in fields and "X_fit_" in state:
            fields["_support_source"] = self.X_fit_  # copied when read (_KernelSVCBase.__getattr__)

    def _keep_gram(self, gram: np.ndarray) -> None:
        self._train_kernel = gram.astype(np.float32)
        # k(x, x) of every training row, in float64 (with views, it is not the blocks' diagonals).
        self._train_self_kernel = np.diagonal(gram).copy()

    def _gram(self) -> tuple[np.ndarray, np.ndarray]:
        """The training kernel matrix (float32) and its diagonal (float64), computed again after a load."""
        if getattr(self, "_train_kernel", None) is None:
            self._keep_gram(self.estimator_._kernel(self.X_fit_, self.X_fit_, self.diagonals_, self.diagonals_))
        return self._train_kernel, self._train_self_kernel

    def decision_function(self, X):
        """Scores (n_samples, n_classes), 1-D (second minus first) for two classes.

        One-vs-one local SVMs give vote scores, one-vs-rest ones their
        machines' decision values. Classes absent from a face's
        neighbourhood score -1; the class of a one-class neighbourhood
        scores 1. For ``refine``, the local scores times ``local_weight``
        plus the global SVM's.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples,)
            Scores, columns in ``classes_`` order; for two classes, one score per
            sample, the second class's score minus the first's.
        """
        return self.predict_and_decision(X)[1]

    def predict(self, X):
        """Labels (n_samples,): the class of the highest score of :meth:`decision_function`.

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
        """:meth:`predict` and :meth:`decision_function` from one pass of the local SVMs.

        Each face's kernel row and local SVM are computed once (asked one after
        the other, ``predict`` and ``decision_function`` fit every local SVM
        twice: half of a FER2013 prediction).

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
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        scores = self._scores(X)
        labels = self.classes_[np.argmax(scores, axis=1)]
        return labels, scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores

    def _scores(self, X: np.ndarray) -> np.ndarray:
        # k, C, local_weight and n_jobs act here: a set_params after fit is checked as fit checks it
        # (k=0 gave SVC's "Found array with 0 sample(s)", local_weight=-1 was used as given).
        check_parameter_constraints(self)
        estimator, n_classes = self.estimator_, len(self.classes_)
        gram, penalty = self._gram()
        k = min(int(self.k), len(self.X_fit_))
        if self.sample_weight_ is not None:
            penalty = np.where(self.sample_weight_ > 0, penalty, np.inf)  # weightless faces are no neighbours
            k = min(k, int((self.sample_weight_ > 0).sum()))
        out = np.empty((len(X), n_classes))
        training = estimator._training_side(self.X_fit_)  # once, not for every block
        # refine: the global SVM's libsvm model saw the faces of positive weight only (KernelSVC._fit_libsvm).
        fitted_rows = slice(None)
        if self.mode_ == "refine" and getattr(estimator, "n_fit_samples_", len(self.X_fit_)) != len(self.X_fit_):
            fitted_rows = self.sample_weight_ > 0
        progress = Progress(len(X), "local SVMs")
        # Threads, not processes: each local fit reads slices of the shared training kernel matrix.
        with Parallel(n_jobs=pool_size(self.n_jobs), require="sharedmem") as parallel:  # at most the CPUs
            step = estimator._block_rows(training)  # kernel rows of this many faces at once
            for start in range(0, len(X), step):
                rows = estimator._prepare(X[start : start + step])
                kernel_rows = estimator._kernel_rows(rows, self.X_fit_, estimator._diagonals(rows), self.diagonals_,
                                                     training)
                block = out[start : start + len(rows)]
                block[:] = parallel(delayed(self._local_scores)(gram, row, neighbours, n_classes)
                                    for row, neighbours in zip(kernel_rows, _nearest(kernel_rows, penalty, k)))
                if self.mode_ == "refine":
                    block *= self.local_weight
                    block += _class_scores(estimator.svc_.decision_function(kernel_rows[:, fitted_rows]), n_classes,
                                           self.local_multiclass_)
                progress.update(len(rows))
        progress.close()
        return out

    def _local_scores(self, gram, kernel_row, neighbours, n_classes) -> np.ndarray:
        scores = np.full(n_classes, -1.0)
        codes = self.y_fit_[neighbours]
        weights = None if self.sample_weight_ is None else self.sample_weight_[neighbours]
        present = np.unique(codes if weights is None else codes[weights > 0])
        if len(present) == 1:
            scores[present[0]] = 1.0
            return scores
        class_weight = self.local_class_weight_
        if isinstance(class_weight, dict):  # libsvm refuses weights of classes absent from the neighbourhood
            class_weight = {c: w for c, w in class_weight.items() if c in set(codes.tolist())}
        # One thread per face's machines: the faces are already fitted in threads.
        svc = precomputed_svc(self.C, class_weight, self.local_multiclass_, n_jobs=1)
        svc.fit(gram[np.ix_(neighbours, neighbours)].astype(np.float64), codes, sample_weight=weights)
        decision = svc.decision_function(kernel_row[neighbours][None, :])
        scores[svc.classes_] = _class_scores(decision, len(svc.classes_), self.local_multiclass_)[0]
        return scores
