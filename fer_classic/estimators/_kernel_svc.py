"""SVMs on precomputed histogram kernels, and on weighted sums of per-block kernels."""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._progress import Progress, ticking
from .._resources import pool_size, release_freed_memory, require_memory
from .._sklearn_compat import (
    N_JOBS, Integral, Interval, InvalidParameterError, Real, SequenceOf, StrOptions, check_sample_weight, _fit_context,
    validate_data,
)
from ._canonical import check_weighted_classes, positive_weight_folds
from ._histogram_kernels import KERNELS, NONNEGATIVE_KERNELS, kernel_diagonal, kernel_matrix, resolve_gamma
from ._rbf import centred_single, fill_lower_triangle, single_rbf

__all__ = ["CombinedKernelSVC", "KernelSVC"]

# Faces scored per block at prediction (one kernel row of width n_fit_samples_ each), four times as
# many when each block makes the training side again by chunks (_SIDE_BYTES): 4,096 rows against 8,000
# of the README command's rows took 37.5-40.2 s in blocks of 512, 30.2-30.5 s in blocks of 2,048,
# 31.1-31.6 s with the whole side made once (2-core AMD EPYC, OpenBLAS 0.3.31 Haswell, one run).
_PREDICT_ROWS = 512
# Kernel rows computed at a time (every block, every pair of views) and added to the sum:
# their temporaries stay this many rows instead of a second whole matrix (FER2013: 6.6 GB).
_PAIR_ROWS = 2048
# The training side of kernel rows (centred float32 rows for rbf, contiguous float64 columns otherwise)
# is prepared once for every block of new rows up to this size; a larger one (2.9 GB for the README's
# FER2013 command) is made by chunks of this size for each block instead of held beside the rows.
_SIDE_BYTES = 512 * 2**20
_POSITIVE = Interval(Real, 0, None, closed="neither")
_COMMON_CONSTRAINTS: dict = {
    "gamma": [StrOptions({"scale"}), _POSITIVE],
    "normalize": ["boolean"],
    "C": [_POSITIVE],
    "class_weight": [dict, StrOptions({"balanced"}), None],
    "cache_size": [_POSITIVE],
    "tol": [_POSITIVE],
    "views": [Interval(Integral, 1, None, closed="left")],
    "multiclass": [StrOptions({"ovo", "ovr"})],
    "n_jobs": N_JOBS,
    "random_state": ["random_state"],
}


# Rows are kept in float32 when given so (MirrorViews' six views): the rbf kernel takes its
# products in float32 anyway, and the other kernels convert them (_KernelSVCBase._prepare).
_FLOATS = (np.float64, np.float32)


class _OneVsRestSVC:
    """One libsvm machine per class against the others, all on one precomputed kernel matrix.

    What ``SVC`` is to the one-vs-one scheme: ``fit(gram, y, sample_weight)``,
    ``decision_function`` (one column per class, the class's machine; 1-D for
    two classes, as ``SVC``) and ``predict`` (the class of the largest).
    ``class_weight`` becomes row weights (each row weighs its class's weight
    in every machine); the machines are fitted in ``n_jobs`` threads (libsvm
    releases the GIL; threads share the matrix).
    """

    def __init__(self, svc: SVC, class_weight, n_jobs):
        self.svc, self.class_weight, self.n_jobs = svc, class_weight, n_jobs

    def fit(self, gram, y, sample_weight=None):
        self.classes_ = np.unique(y)
        weights = None if self.class_weight is None else compute_sample_weight(self.class_weight, y)
        if sample_weight is not None:
            weights = sample_weight if weights is None else weights * sample_weight
        positives = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        self.machines_ = Parallel(n_jobs=pool_size(self.n_jobs), require="sharedmem")(
            delayed(clone(self.svc).fit)(gram, y == label, sample_weight=weights) for label in positives)
        self.support_ = np.unique(np.concatenate([machine.support_ for machine in self.machines_]))
        return self

    def decision_function(self, K):
        scores = np.column_stack([machine.decision_function(K) for machine in self.machines_])
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, K):
        scores = self.decision_function(K)
        return self.classes_[(scores > 0).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)]


def precomputed_svc(C: float, class_weight, multiclass: str, n_jobs=None, **svc_params) -> SVC | _OneVsRestSVC:
    """libsvm on a precomputed kernel matrix in the ``multiclass`` scheme.

    "ovo": ``SVC``; "ovr": one machine per class.

    ``svc_params``: further ``SVC`` parameters (``cache_size``, ``tol``,
    ``random_state``); ``n_jobs``: threads fitting the ``ovr`` machines.
    """
    ovr = multiclass == "ovr"
    svc = SVC(C=C, kernel="precomputed", class_weight=None if ovr else class_weight, **svc_params)
    return _OneVsRestSVC(svc, class_weight, n_jobs) if ovr else svc


def _weighted_sum(weights, blocks: list[np.ndarray]) -> np.ndarray:
    """``sum(w * block)`` over the blocks of positive weight, in float64, added by bands (no n x n temporary)."""
    out = np.zeros(blocks[0].shape)
    for w, block in zip(weights, blocks):
        if w > 0:
            for start in range(0, len(out), _PAIR_ROWS):
                out[start : start + _PAIR_ROWS] += float(w) * block[start : start + _PAIR_ROWS]
    return out


class _KernelSVCBase(ClassifierMixin, BaseEstimator):
    """libsvm on a precomputed weighted sum of kernels over column blocks.

    Subclasses say which blocks, kernels and weights (``_spec``). The kernel
    state learned in ``fit`` (``_fit_kernel``) is what :class:`LocalSVC`
    reuses to put its neighbourhoods in the same kernel space.
    """

    # -- the kernel ---------------------------------------------------------------------------------
    def _spec(self, n_features: int) -> tuple[list[slice], tuple[str, ...], np.ndarray]:
        raise NotImplementedError

    def _fit_kernel(self, X: np.ndarray, with_gram: bool = True, cache_bytes: int = 0,
                    solver_bytes: int = 0) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Learn the kernel state from training rows; return them prepared, their Gram matrix and diagonals.

        ``cache_bytes``: what the caller allocates beside the Gram matrix once it
        is made (LocalSVC's float32 copy); ``solver_bytes``: libsvm's caches while
        it fits on the matrix (:meth:`_solver_bytes`); both counted in the memory check.
        """
        # What predict reads: set_params(views=..., normalize=...) after fit changes nothing until the next fit.
        self.views_, self.normalize_ = int(self.views), bool(self.normalize)
        n_views = self.views_
        if X.shape[1] % n_views:
            raise ValueError(f"views={n_views}: X has {X.shape[1]} features, which do not split into {n_views} views "
                             "of equal width; give the features of every view side by side (MirrorViews).")
        self.view_width_ = X.shape[1] // n_views
        slices, kernels, weights = self._spec(self.view_width_)
        self.block_slices_ = [slice(int(s.start), int(s.stop)) for s in slices]  # plain ints for skops
        self.kernels_ = tuple(kernels)
        self.weights_ = np.asarray(weights, dtype=np.float64)
        # Before any work (gamma="scale" reads every value).
        beside = ["its working memory", *(["libsvm's kernel caches"] if solver_bytes else []),
                  *(["the float32 copy the local SVMs read"] if cache_bytes else [])]
        listed = beside[0] if len(beside) == 1 else ", ".join(beside[:-1]) + " and " + beside[-1]
        require_memory(self._fit_kernel_bytes(X, cache_bytes, solver_bytes),
                       f"{type(self).__name__}: the kernel matrix of {len(X):,} training rows, with {listed},",
                       "fit on fewer rows, or use SVMClassifier(backend='approx') whose memory does not grow "
                       "with the square of the rows.")
        # Histogram kernels need nonnegative features: a column whose training minimum is negative
        # (standardised features) is shifted to start at 0. For the intersection kernel that changes
        # the kernel by a constant per column, which the SVM's bias absorbs.
        offset = np.zeros(X.shape[1])
        for b, kernel in enumerate(self.kernels_):
            if kernel in NONNEGATIVE_KERNELS and len(X):
                for columns in self._view_columns(b):
                    offset[columns] = np.minimum(X[:, columns].min(axis=0), 0.0)
        self.offset_ = offset
        Xp = self._prepare(X)
        # gamma="scale" from the first view: the features of the faces as they are.
        self.gammas_ = np.array([resolve_gamma(k, self.gamma, Xp[:, s], self.n_jobs)
                                 for s, k in zip(self.block_slices_, self.kernels_)])
        diagonals = self._diagonals(Xp)
        return Xp, self._kernel(Xp, Xp, diagonals, diagonals) if with_gram else None, diagonals

    def _fit_kernel_bytes(self, X: np.ndarray, cache_bytes: int = 0, solver_bytes: int = 0) -> int:
        """Bytes the training kernel of ``X`` takes at its peak, beyond ``X`` itself (``_spec`` known).

        The float64 matrix (``8 n**2``); while it is made (:meth:`_add_block`), the
        largest block's columns of every view (centred float32 for rbf, float64
        otherwise) and one band of rows (float64 values and float32 products);
        after it, ``solver_bytes`` while libsvm fits, then ``cache_bytes``, beside
        it (one after the other: the caches are given back between,
        :func:`~fer_classic._resources.release_freed_memory`); and
        :meth:`_prepare`'s float64 copy of ``X`` when it makes one.
        """
        n, width = len(X), X.shape[1]
        prepared = 8 * n * width if self._prepare_copies(X.dtype) else 0
        return 8 * n * n + max(self._working_bytes(n), cache_bytes, solver_bytes) + prepared

    def _solver_bytes(self, y: np.ndarray, n: int | None = None) -> int:
        """What libsvm's kernel caches hold at most while the machines are fitted on ``n`` rows (default: all) of ``y``.

        Each machine keeps kernel columns (float32, one value per row) up to ``cache_size`` MB, or every column;
        ``multiclass="ovr"`` fits one machine per class (one for two classes) in ``pool_size(n_jobs)`` threads
        at once, libsvm's one-vs-one pairs one after the other (each on two classes' rows: bounded by all rows).
        Measured on 28,709 rows (one-vs-rest, two threads, 1000 MB): the fit's peak 2.2 GiB above the matrix.
        """
        n, n_classes = len(y) if n is None else n, len(np.unique(y))
        at_once = min(pool_size(self.n_jobs), n_classes if n_classes > 2 else 1) if self.multiclass == "ovr" else 1
        return at_once * max(min(int(self.cache_size * 2**20), 4 * n * n), 8 * n)  # libsvm keeps 2 columns at least

    def _working_bytes(self, n: int, weights=None) -> int:
        """What :meth:`_add_block` allocates beside the ``n x n`` result: a block's columns of every view, one band.

        ``weights``: the blocks counted (those of positive weight; default ``weights_``).
        """
        return n * max(self._block_side_bytes(weights), default=0) + 12 * min(_PAIR_ROWS, n) * n

    def _view_columns(self, b: int) -> list[slice]:
        """Columns of block ``b`` in every view, first view first."""
        start, stop, width = self.block_slices_[b].start, self.block_slices_[b].stop, self.view_width_
        return [slice(start + v * width, stop + v * width) for v in range(self.views_)]

    def _prepare_copies(self, dtype) -> bool:
        """Whether :meth:`_prepare` makes a float64 copy of rows of ``dtype`` (else it returns them as they are)."""
        return (dtype != np.float64 and any(kernel != "rbf" for kernel in self.kernels_)) or any(
            kernel in NONNEGATIVE_KERNELS for kernel in self.kernels_)

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        """Rows shifted by ``offset_``; histogram blocks clipped at 0 (values below the training minimum).

        float32 rows stay float32 for the rbf kernel alone (its products are float32 anyway);
        the histogram and linear kernels take float64. One copy at most, shifted and clipped in place.
        """
        if not self._prepare_copies(X.dtype):
            return X
        Xp = np.array(X, dtype=np.float64)
        if not any(k in NONNEGATIVE_KERNELS for k in self.kernels_):  # offset_ is 0 without histogram kernels
            return Xp
        Xp -= self.offset_
        for b, kernel in enumerate(self.kernels_):
            if kernel in NONNEGATIVE_KERNELS:
                for columns in self._view_columns(b):
                    np.maximum(Xp[:, columns], 0.0, out=Xp[:, columns])
        return Xp

    def _diagonals(self, Xp: np.ndarray) -> np.ndarray:
        """``k_b(x_v, x_v)`` of every block, view and row, shape (n_blocks, n_views, n_rows)."""
        return np.array([[kernel_diagonal(kernel, Xp[:, columns]) for columns in self._view_columns(b)]
                         for b, kernel in enumerate(self.kernels_)])

    def _side(self, b: int, Zp: np.ndarray, centre: np.ndarray | None = None) -> tuple:
        """Block ``b`` of every view of ``Zp`` as the pair products take it: ``(centre, views)``.

        rbf: each view as centred float32 rows and their norms (one centre,
        by default the first view's mean, for all views and both sides of a
        product: a distance needs the same). Other kernels: each view's
        columns, contiguous (a strided slice would be copied by every
        product), and no centre.
        """
        columns = self._view_columns(b)
        if self.kernels_[b] != "rbf":
            return None, [np.ascontiguousarray(Zp[:, c]) for c in columns]
        centre = self._centre(b, Zp) if centre is None else centre
        return centre, [centred_single(Zp[:, c], centre) for c in columns]

    def _centre(self, b: int, Zp: np.ndarray) -> np.ndarray | None:
        """The centre :meth:`_side` gives block ``b`` of ``Zp``: the first view's mean for rbf, else None."""
        return Zp[:, self._view_columns(b)[0]].mean(axis=0) if self.kernels_[b] == "rbf" else None

    def _training_side(self, Yp: np.ndarray) -> tuple[dict, dict | None]:
        """What scoring new rows against training rows ``Yp`` prepares once, for :meth:`_kernel_rows`.

        Each block's centre (:meth:`_side`; None: not rbf) and, when it takes
        at most ``_SIDE_BYTES``, the side of all of ``Yp``; else None: then
        each block of new rows makes it again by chunks (re-centring the
        training rows costs time; holding a centred copy of them, memory).
        """
        centres = {b: self._centre(b, Yp) for b in np.flatnonzero(self.weights_)}
        if len(Yp) * self._side_row_bytes() > _SIDE_BYTES:
            return centres, None
        return centres, {b: self._side(b, Yp, centre) for b, centre in centres.items()}

    def _block_side_bytes(self, weights=None) -> list[int]:
        """Bytes of one row's :meth:`_side` in each block of positive weight (default ``weights_``), every view:
        float32 for rbf, float64 otherwise."""
        weights = self.weights_ if weights is None else weights
        return [(4 if kernel == "rbf" else 8) * (s.stop - s.start) * self.views_
                for s, kernel, w in zip(self.block_slices_, self.kernels_, weights) if w > 0]

    def _side_row_bytes(self) -> int:
        """Bytes of one training row's side (:meth:`_side`) in all blocks of positive weight."""
        return sum(self._block_side_bytes())

    @staticmethod
    def _block_rows(training: tuple[dict, dict | None]) -> int:
        """New rows to score per block against a :meth:`_training_side` (see ``_PREDICT_ROWS``)."""
        return _PREDICT_ROWS if training[1] is not None else 4 * _PREDICT_ROWS

    def _kernel_rows(self, Xp, Yp, diag_X, diag_Y, training: tuple[dict, dict | None]) -> np.ndarray:
        """:meth:`_kernel` of rows ``Xp`` against training rows ``Yp``, whose :meth:`_training_side` is ``training``.

        Without the whole side, it is made ``_SIDE_BYTES`` at a time with the
        centres of all of ``Yp``: a row's centred values depend on that row and
        the centre alone, so the chunks are rows of the whole side.
        """
        centres, sides = training
        if sides is not None:
            return self._kernel(Xp, Yp, diag_X, diag_Y, sides)
        out = np.empty((len(Xp), len(Yp)))
        step = max(1, _SIDE_BYTES // self._side_row_bytes())
        for start in range(0, len(Yp), step):
            chunk = slice(start, min(start + step, len(Yp)))
            Y = Yp[chunk]
            out[:, chunk] = self._kernel(Xp, Y, diag_X, diag_Y[..., chunk],
                                         {b: self._side(b, Y, centre) for b, centre in centres.items()})
        return out

    def _add_block(self, b: int, Xp, Yp, diag_X, diag_Y, out: np.ndarray, weight: float = 1.0,
                   Y_side: tuple | None = None) -> None:
        """Add ``weight`` times block ``b``'s kernel matrix, averaged over the pairs of views, to ``out``.

        Each pair's kernel is normalised to unit diagonal when ``normalize``.
        With ``views`` = v the block's kernel is ``sum_{a, c} k(x_a, y_c) / v**2``:
        the kernel of the mean of a row's views in the kernel's feature space,
        so still positive semi-definite. ``Yp is Xp`` (a training matrix):
        only the entries on and above the diagonal are added (the caller copies
        them below, :func:`fill_lower_triangle`), and a row's rbf distance to
        the same view of itself is exactly zero.
        ``Y_side``: ``self._side(b, Yp)``, when the caller keeps it for many
        blocks of rows. Memory besides ``out``: each view's columns (centred
        float32 for rbf) and one band of ``_PAIR_ROWS`` rows of kernel values;
        no second matrix of ``out``'s size.
        """
        kernel, columns = self.kernels_[b], self._view_columns(b)
        symmetric = Yp is Xp
        centre, Y_views = self._side(b, Yp) if Y_side is None else Y_side
        X_views = Y_views if symmetric else self._side(b, Xp, centre)[1]
        scale = float(weight) / len(columns) ** 2
        n = len(out)
        work = np.empty(min(_PAIR_ROWS, n) * out.shape[1]) if kernel == "rbf" else None  # one buffer for all bands
        pairs = [(a, c) for a in range(len(columns)) for c in range(len(columns))]
        progress = Progress(n * len(pairs), "kernel rows")  # shows only when it takes seconds (a training matrix)
        for start in range(0, n, _PAIR_ROWS):
            rows = slice(start, min(start + _PAIR_ROWS, n))
            cols = slice(start, None) if symmetric else slice(None)
            for a, c in pairs:
                if kernel == "rbf":
                    (single, norms), (col_single, col_norms) = X_views[a], Y_views[c]
                    part = single_rbf(single[rows], norms[rows], col_single[cols], col_norms[cols], self.gammas_[b],
                                      diagonal=0 if symmetric and a == c else None, work=work)
                else:
                    part = kernel_matrix(kernel, X_views[a][rows], Y_views[c][cols], gamma=self.gammas_[b],
                                         n_jobs=self.n_jobs)
                    if self.normalize_ and kernel != "chi2":  # chi2 (as rbf) has a unit diagonal
                        # Cosine normalisation: blocks of any width and kernel then weigh alike.
                        part /= np.sqrt(np.where(diag_X[b, a][rows] > 0, diag_X[b, a][rows], 1.0))[:, None]
                        part /= np.sqrt(np.where(diag_Y[b, c][cols] > 0, diag_Y[b, c][cols], 1.0))[None, :]
                part *= scale
                out[rows, cols] += part
                progress.update(rows.stop - rows.start)
        progress.close()

    def _block_kernel(self, b: int, Xp, Yp, diag_X, diag_Y) -> np.ndarray:
        """Block ``b``'s kernel matrix (unweighted), averaged over the pairs of views (:meth:`_add_block`)."""
        out = np.zeros((len(Xp), len(Yp)))
        self._add_block(b, Xp, Yp, diag_X, diag_Y, out)
        if Yp is Xp:
            fill_lower_triangle(out, _PAIR_ROWS)
        return out

    def _kernel(self, Xp, Yp, diag_X, diag_Y, Y_sides: dict | None = None) -> np.ndarray:
        """``sum_b w_b k_b(x, y)`` over the blocks of positive weight (see :meth:`_add_block`).

        ``Y_sides``: :meth:`_side` of ``Yp`` for every block of positive weight, when the caller
        keeps it for many blocks of rows (:meth:`_kernel_rows`).
        Memory: the result, and one block's columns and band: every block and
        pair of views is added to the result by bands of rows (a second whole
        matrix, of a block or of the first pair of views, was held before).
        """
        out = np.zeros((len(Xp), len(Yp)))
        for b in np.flatnonzero(self.weights_):
            self._add_block(b, Xp, Yp, diag_X, diag_Y, out, self.weights_[b], None if Y_sides is None else Y_sides[b])
        if Yp is Xp:
            fill_lower_triangle(out, _PAIR_ROWS)
        if not np.isfinite(out.sum()):  # a sum, not isfinite(out): no n x n temporary; NaN or inf anywhere shows
            raise ValueError(
                f"The {'/'.join(sorted(set(self.kernels_)))} kernel of these rows overflowed (feature values reach "
                f"{np.abs(Xp).max():.3g}); scale the features first (StandardScaler)."
            )
        return out

    def __setstate__(self, state):
        state = {"multiclass": "ovo", **state}  # fitted before the one-vs-rest option
        # A model fitted before ``views`` existed has one view: give it the per-view layout.
        if "block_slices_" in state and "view_width_" not in state:
            state = {**state, "views": 1, "view_width_": len(state["offset_"])}
            if "support_diagonals_" in state:
                state["support_diagonals_"] = state["support_diagonals_"][:, None, :]
        if "block_slices_" in state:  # fitted before views_ and normalize_ were kept: the parameters it had
            state = {"views_": int(state["views"]), "normalize_": bool(state.get("normalize", True)), **state}
        super().__setstate__(state)

    def __getattr__(self, name):
        # Only reached for a missing attribute: the support vectors of a global SVM that LocalSVC fitted
        # (copy_support_vectors=False), taken from its training rows when first read.
        fields = self.__dict__
        if name == "support_vectors_" and "_support_source" in fields and "support_" in fields:
            # Stored before the source is dropped: a reader in another thread meanwhile finds one or the other.
            fields.setdefault("support_vectors_", fields["_support_source"][fields["support_"]])
            fields.pop("_support_source", None)
            return fields["support_vectors_"]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- fit / predict ------------------------------------------------------------------------------
    def _needs_weighted_classes(self) -> bool:  # see check_weighted_classes
        return True

    def _new_svc(self, C=None) -> SVC | _OneVsRestSVC:
        return precomputed_svc(self.C if C is None else C, self.class_weight, self.multiclass, self.n_jobs,
                               cache_size=self.cache_size, tol=self.tol, random_state=self.random_state)

    # Nested: the inner SVC gets validated parameters.
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit on ``X`` (n_samples, n_features) and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Per-sample multipliers of ``C``, as :class:`sklearn.svm.SVC`.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If ``y`` holds one class, a class has no sample of positive ``sample_weight``
            (libsvm leaves them out), or blocks, kernels and weights do not agree;
            if the kernel overflows, or (rbf) a row's squared norm around the
            mean reaches 1e38 (scale the features: StandardScaler).
        MemoryError
            If the float64 training kernel matrix (``8 * n_samples**2`` bytes)
            and its working memory (the largest block's columns, one band of
            rows), or the matrix and libsvm's kernel caches (``cache_size`` MB
            for each machine fitted at once), exceed the memory available now,
            before any work.
        """
        X, y = validate_data(self, X, y, dtype=_FLOATS, order="C")
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        check_weighted_classes(y, sample_weight)
        Xp, gram, diagonals = self._fit_kernel(X, solver_bytes=self._solver_bytes(y))
        return self._fit_svc(Xp, gram, diagonals, y, sample_weight)

    def _fit_libsvm(self, gram, y, sample_weight, rows=None):
        """A new libsvm model (``_new_svc``) fitted on the training ``rows`` of ``gram`` (None: all).

        Returns the model and the rows it was fitted on: those of positive
        weight, when some weigh 0 (or less). libsvm leaves those out, and
        scikit-learn's SVC then gives ``support_`` among the rows it kept, not
        among those given (scikit-learn #5150, #25380): with a precomputed
        kernel, prediction would read the wrong kernel columns. ``class_weight``
        is resolved on all the rows first, as SVC resolves it.
        """
        svc = self._new_svc()
        weights = sample_weight if sample_weight is None or rows is None else sample_weight[rows]
        if weights is not None and not (weights > 0).all():
            labels = y if rows is None else y[rows]
            if self.class_weight is not None:
                classes = np.unique(labels)
                svc.class_weight = dict(zip(classes.tolist(), compute_class_weight(self.class_weight, classes=classes,
                                                                                   y=labels)))
            rows = np.flatnonzero(weights > 0) if rows is None else rows[weights > 0]
            weights = weights[weights > 0]
        if rows is None:
            svc.fit(gram, y, sample_weight=weights)
        else:
            svc.fit(gram[np.ix_(rows, rows)], y[rows], sample_weight=weights)
        # libsvm's caches, freed, would stay resident beside what comes next (the command of record: 1.7 GiB
        # more resident after its fit, a peak 1.5 GiB higher).
        release_freed_memory()
        return svc, rows

    def _fit_svc(self, Xp, gram, diagonals, y, sample_weight, copy_support_vectors: bool = True):
        """Fit libsvm on the training Gram matrix; keep the support vectors for prediction.

        ``copy_support_vectors=False``: ``support_vectors_`` (``Xp[support_]``)
        is copied from ``Xp``, kept by reference, when first read (see
        :meth:`__getattr__`); for a caller that keeps ``Xp`` and never reads them.
        """
        with ticking("SVM solver (libsvm)"):
            self.svc_, rows = self._fit_libsvm(gram, y, sample_weight)
        self.classes_ = self.svc_.classes_
        # Training rows; svc_.support_ are the kernel columns it reads (among the rows of positive weight).
        self.support_ = self.svc_.support_ if rows is None else rows[self.svc_.support_]
        if copy_support_vectors:
            self.support_vectors_ = Xp[self.support_]
            self.__dict__.pop("_support_source", None)
        else:
            self._support_source = Xp
            self.__dict__.pop("support_vectors_", None)  # a refit's: read from Xp again
        self.support_diagonals_ = diagonals[..., self.support_]
        self.n_fit_samples_ = len(Xp) if rows is None else len(rows)  # the width of svc_'s kernel rows
        return self

    def _blocks(self, X):
        """Kernel rows of ``X`` against the training rows, in blocks (zero off the support)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        training = self._training_side(self.support_vectors_)  # once, not for every block
        step = self._block_rows(training)
        for start in range(0, len(X), step):
            rows = self._prepare(X[start : start + step])
            block = np.zeros((len(rows), self.n_fit_samples_))
            block[:, self.svc_.support_] = self._kernel_rows(rows, self.support_vectors_, self._diagonals(rows),
                                                             self.support_diagonals_, training)
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
        for block in self._blocks(X):
            labels.append(self.svc_.predict(block))
            scores.append(self.svc_.decision_function(block))
        return np.concatenate(labels), np.concatenate(scores)


class KernelSVC(_KernelSVCBase):
    """SVM on a precomputed histogram (or rbf, linear) kernel.

    The training kernel matrix is computed at once (compiled, threaded
    loops; :mod:`fer_classic.estimators._histogram_kernels`) and handed to
    ``SVC(kernel="precomputed")``; prediction evaluates the kernel against
    the support vectors only. Memory: ``8 * n_samples**2`` bytes while
    fitting (6.6 GB for FER2013's 28,709 training faces), and while the
    matrix is made, a copy of the largest block's columns (float32 for rbf,
    float64 otherwise) and one band of 2,048 rows. Prediction prepares the
    support vectors' side of the kernel (for rbf, a centred float32 copy)
    once when it takes at most 512 MB, else by chunks of that size for each
    block of 2,048 new rows.

    Parameters
    ----------
    kernel : {"intersection", "chi2", "pq", "rbf", "linear"}, default="intersection"
        ``intersection``: ``sum_i min(x_i, y_i)``; ``chi2``: the exponential
        chi-squared kernel ``exp(-gamma * sum_i (x_i - y_i)**2 / (x_i + y_i))``;
        ``pq``: Ionescu and Popescu's PQ kernel (twice the concordant minus
        the discordant feature pairs; cost grows with the square of the
        number of features); ``rbf``: ``exp(-gamma * |x - y|**2)`` (dot
        products in float32 on centred rows: the kernel to about 1e-6, twice
        as fast); ``linear``: ``x . y``. ``intersection`` and ``chi2`` are for
        nonnegative features: a column with negative training values (after
        a StandardScaler) is shifted so that its training minimum is 0.
    gamma : "scale" or float, default="scale"
        Coefficient of ``rbf`` (``"scale"``: ``1 / (n_features * X.var())``,
        as :class:`sklearn.svm.SVC`) and ``chi2`` (``"scale"``: one over
        the mean chi-squared distance of training rows); ignored otherwise.
    normalize : bool, default=True
        Divide the kernel by ``sqrt(k(x, x) k(y, y))`` (unit diagonal), so
        that ``C`` means the same whatever the histogram sizes; rbf and chi2
        are unchanged by it.
    C : float, default=1.0
        Regularisation, as in :class:`sklearn.svm.SVC`.
    class_weight : dict or "balanced", optional
        Per-class weights of ``C``.
    cache_size : float, default=1000
        libsvm's cache in MB.
    tol : float, default=1e-3
        Stopping tolerance.
    views : int, default=1
        Views of every face side by side in ``X`` (``MirrorViews``: the
        features of the face and of its mirror image, ``views=2``). The
        kernel is averaged over all pairs of views, ``k(x, y) = sum_{a, c}
        k(x_a, y_c) / views**2``, at fit and predict time alike; ``gamma="scale"``
        comes from the first view. Costs ``views**2`` kernel evaluations
        per pair of rows (``views**2 / 2`` for the symmetric training matrix).
    multiclass : {"ovo", "ovr"}, default="ovo"
        ``ovo``: libsvm's one machine per pair of classes and their vote
        (``SVC``). ``ovr``: one machine per class against the others on the
        same kernel matrix, the largest decision value wins (``class_weight``
        then weighs each class's rows in every machine). On FER2013's
        two-view SIFT + HOG + Gabor kernel (C=10) ``ovr`` scored 0.635 on
        PublicTest and 0.658 on PrivateTest against 0.633 and 0.646.
    n_jobs : int, optional
        Threads computing the intersection, chi2 and (above 3,000 features) pq
        kernels, and fitting the ``ovr`` machines.
    random_state : int, RandomState instance or None, default=None
        Passed to :class:`sklearn.svm.SVC` (unused without probabilities).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    svc_ : sklearn.svm.SVC
        libsvm fitted on the kernel matrix (``ovr``: the machines of every class, as one object).
    support_ : ndarray of shape (n_support,)
    support_vectors_ : ndarray of shape (n_support, n_features)
        Support vectors, shifted by ``offset_``.
    offset_ : ndarray of shape (n_features,)
        What is subtracted from every column before a histogram kernel (0 or the negative training minimum).
    gammas_ : ndarray of shape (1,)
        The kernel coefficient used.
    view_width_ : int
        Features per view.
    views_, normalize_ : int, bool
        ``views`` and ``normalize`` as fitted: prediction follows them, not
        a later ``set_params``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.random_sample((60, 8)), np.repeat([0, 1, 2], 20)
    >>> X[y == 1, :3] += 1.0
    >>> KernelSVC(kernel="chi2", C=10).fit(X, y).score(X, y) > 0.6
    True
    """

    _parameter_constraints: dict = {"kernel": [StrOptions(set(KERNELS))], **_COMMON_CONSTRAINTS}

    def __init__(self, *, kernel: str = "intersection", gamma="scale", normalize: bool = True, C: float = 1.0,
                 class_weight=None, cache_size: float = 1000, tol: float = 1e-3, views: int = 1,
                 multiclass: str = "ovo", n_jobs: int | None = None, random_state=None):
        self.kernel = kernel
        self.gamma = gamma
        self.normalize = normalize
        self.C = C
        self.class_weight = class_weight
        self.cache_size = cache_size
        self.tol = tol
        self.views = views
        self.multiclass = multiclass
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _spec(self, n_features):
        return [slice(0, n_features)], (self.kernel,), np.ones(1)


class CombinedKernelSVC(_KernelSVCBase):
    """SVM on a weighted sum of per-block kernels (kernel combination, fixed weights).

    ``k(x, y) = sum_b weights[b] * k_b(x[block b], y[block b])``, each
    ``k_b`` normalised to a unit diagonal (``normalize``), so weights compare
    blocks of any width: HOG with an rbf kernel, SIFT words with the
    intersection kernel, LBP with chi2... The weights are parameters, chosen
    by cross-validation or on PublicTest with ``fer-classic search`` (a grid
    such as ``{"clf.weights": [[1, 1], [1, 2], [2, 1]]}``) or
    :class:`sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    blocks : sequence of int, optional
        Widths of consecutive column blocks, in the order of the feature
        union (``HOGFeatures`` then ``DenseSIFTBoVW`` for ``hog+sift``); they
        must add up to the number of features. None: every kernel sees all
        the columns (a sum of kernels on the same features).
    kernels : str or sequence of str, default="rbf"
        One of :data:`~fer_classic.estimators.KERNELS` per block (a string:
        the same for every block), as :class:`KernelSVC`'s ``kernel``.
    weights : sequence of float or "cv", optional
        Nonnegative weight of each block's kernel; default equal weights
        ``1 / n_blocks``. A block of weight 0 is not computed. ``"cv"``:
        chosen in ``fit`` among ``weight_grid`` by ``cv``-fold stratified
        cross-validated accuracy, each block's training kernel matrix
        computed once (float32, ``4 * n_samples**2`` bytes per block) and
        reused by every candidate and fold; then refitted on all rows.
    weight_grid : sequence of sequence of float, optional
        Candidate weights for ``weights="cv"``; default: equal weights, each
        block's weight doubled, and each block left out (``1 + 2 n_blocks``).
    cv : int, cross-validation generator or iterable, default=3
        Folds for ``weights="cv"``. An int (None: 3) is that many stratified
        folds (shuffled, seeded by ``random_state``), counted on the rows of
        positive ``sample_weight``; a splitter such as
        :class:`~sklearn.model_selection.KFold` splits ``X, y``
        (:func:`~sklearn.model_selection.check_cv`); an iterable yields
        ``(train, test)`` index arrays (a generator serves one fit: give a
        list to fit again). A splitter that needs groups
        (``GroupKFold``) is given as the list of its splits:
        ``list(GroupKFold(3).split(X, y, groups))``.
    gamma : "scale" or float, default="scale"
        As :class:`KernelSVC`'s, resolved block by block.
    normalize : bool, default=True
        Unit diagonal of each block's kernel, as :class:`KernelSVC`'s.
    C : float, default=1.0
        Regularisation, as in :class:`sklearn.svm.SVC`.
    class_weight : dict or "balanced", optional
        Per-class weights of ``C``.
    cache_size : float, default=1000
        libsvm's cache in MB.
    tol : float, default=1e-3
        Stopping tolerance.
    views : int, default=1
        Views of every face side by side in ``X``, as :class:`KernelSVC`'s;
        ``blocks`` are then the widths of one view.
    multiclass : {"ovo", "ovr"}, default="ovo"
        As :class:`KernelSVC`'s.
    n_jobs : int, optional
        Threads, as :class:`KernelSVC`'s.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds of ``weights="cv"``; passed to :class:`sklearn.svm.SVC`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    block_slices_ : list of slice
        Columns of each block.
    kernels_ : tuple of str
        Kernel of each block.
    weights_ : ndarray of shape (n_blocks,)
    gammas_ : ndarray of shape (n_blocks,)
        Coefficient of each block (1 where the kernel has none).
    offset_ : ndarray of shape (n_features,)
        Shift of the columns of histogram blocks (see :class:`KernelSVC`).
    svc_, support_, support_vectors_, view_width_, views_, normalize_
        As :class:`KernelSVC`.
    cv_results_ : dict
        For ``weights="cv"``: ``"weights"`` (the candidates) and
        ``"mean_accuracy"`` (their cross-validated accuracy, each row
        counted by its ``sample_weight``). Absent after a
        fit with fixed weights.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.random_sample((60, 6)), np.repeat([0, 1], 30)
    >>> X[y == 1, 4:] += 0.5
    >>> model = CombinedKernelSVC(blocks=(4, 2), kernels=("rbf", "intersection"), weights=(1, 3)).fit(X, y)
    >>> model.kernels_, model.weights_.tolist()
    (('rbf', 'intersection'), [1.0, 3.0])
    """

    _parameter_constraints: dict = {
        "blocks": [SequenceOf(Interval(Integral, 1, None, closed="left")), None],
        "kernels": [StrOptions(set(KERNELS)), SequenceOf(StrOptions(set(KERNELS)))],
        "weights": [SequenceOf(Interval(Real, 0, None, closed="left")), StrOptions({"cv"}), None],
        "weight_grid": [SequenceOf(SequenceOf(Interval(Real, 0, None, closed="left"))), None],
        "cv": ["cv_object"],
        **_COMMON_CONSTRAINTS,
    }

    def __init__(self, *, blocks=None, kernels="rbf", weights=None, weight_grid=None, cv: int = 3,
                 gamma="scale", normalize: bool = True, C: float = 1.0, class_weight=None, cache_size: float = 1000,
                 tol: float = 1e-3, views: int = 1, multiclass: str = "ovo", n_jobs: int | None = None,
                 random_state=None):
        self.blocks = blocks
        self.kernels = kernels
        self.weights = weights
        self.weight_grid = weight_grid
        self.cv = cv
        self.gamma = gamma
        self.normalize = normalize
        self.C = C
        self.class_weight = class_weight
        self.cache_size = cache_size
        self.tol = tol
        self.views = views
        self.multiclass = multiclass
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _validate_params(self):
        # Before scikit-learn's "must be a tuple ... Got [0, 1296]": name the item that is wrong.
        for name, what, low in (("blocks", "a width, a whole number of columns of 1 or more", 1),
                                ("weights", "a weight, a number of 0 or more", 0)):
            values = getattr(self, name)
            if isinstance(values, (list, tuple, np.ndarray)):
                for i, value in enumerate(values):
                    if isinstance(value, bool) or not isinstance(value, Integral if low else Real) or value < low:
                        raise InvalidParameterError(
                            f"The {name!r} parameter of {type(self).__name__}: item {i} ({value!r}) of "
                            f"{list(values)} is not {what}; give one per block of the feature union, in order.")
        if isinstance(self.weights, (list, tuple, np.ndarray)) and len(self.weights) and \
                not np.any(np.asarray(self.weights, dtype=float)):
            raise InvalidParameterError(f"The 'weights' parameter of {type(self).__name__}: weights="
                                        f"{tuple(self.weights)} are all 0; at least one block needs a positive weight.")
        super()._validate_params()

    def _spec(self, n_features):
        kernels = (self.kernels,) if isinstance(self.kernels, str) else tuple(self.kernels)
        if self.blocks is None:
            slices = [slice(0, n_features)] * len(kernels)
        else:
            widths = [int(w) for w in self.blocks]
            if sum(widths) != n_features:
                per_view = " per view" if self.views > 1 else ""
                raise ValueError(
                    f"blocks={tuple(widths)} add up to {sum(widths)} columns but X has {n_features} "
                    f"features{per_view}; give the width of every block of the feature union, in order."
                )
            edges = np.concatenate([[0], np.cumsum(widths)]).astype(int)
            slices = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
            if len(kernels) == 1:
                kernels = kernels * len(slices)
        if len(kernels) != len(slices):
            raise ValueError(f"kernels={self.kernels!r} names {len(kernels)} kernel(s) for {len(slices)} block(s); "
                             "give one kernel per block, or one string for all.")
        if self.weights is None or isinstance(self.weights, str):  # "cv": every block, weights chosen later
            weights = np.full(len(slices), 1.0 / len(slices))
        else:
            weights = self._checked_weights(self.weights, len(slices), "weights")
        return slices, kernels, weights

    @staticmethod
    def _checked_weights(values, n_blocks: int, name: str) -> np.ndarray:
        weights = np.asarray(values, dtype=np.float64)
        if len(weights) != n_blocks:
            raise ValueError(f"{name}={tuple(values)} has {len(weights)} value(s) for {n_blocks} block(s); give one "
                             "weight per block.")
        if not weights.any():
            raise ValueError(f"{name}={tuple(values)} are all 0; at least one block needs a positive weight.")
        return weights

    def _candidates(self, n_blocks: int) -> list[np.ndarray]:
        if self.weight_grid is not None:
            return [self._checked_weights(w, n_blocks, "weight_grid item") for w in self.weight_grid]
        equal = np.ones(n_blocks)
        out = [equal]
        for b in range(n_blocks):
            doubled = equal.copy()
            doubled[b] = 2.0
            out.append(doubled)
            if n_blocks > 1:
                dropped = equal.copy()
                dropped[b] = 0.0
                out.append(dropped)
        return [w / w.sum() for w in out]

    def _cv_name(self) -> str:
        """``cv`` as messages name it: its value, or what it is where the value would fill the screen."""
        if isinstance(self.cv, (list, tuple)):
            return f"cv (a list of {len(self.cv)} split{'' if len(self.cv) == 1 else 's'})"
        return f"cv={self.cv!r}"

    def _checked_folds(self, folds, y: np.ndarray, sample_weight) -> list[tuple[np.ndarray, np.ndarray]]:
        """The ``(train, test)`` splits ``cv`` gave, as row indices; ValueError naming ``cv`` for any that cannot run.

        Checked before any kernel (they cost minutes on FER2013): some split at all (a generator is used up by
        the first fit), indices of rows of ``y``, and a training part of two classes (of positive weight).
        """
        if not folds:
            raise ValueError(f"{self._cv_name()} gave no (train, test) split: a generator or iterator yields its "
                             "splits once, so a second fit finds it used up; give a splitter object "
                             "(StratifiedKFold(3)) or a list of splits: cv=list(splitter.split(X, y)).")
        n = len(y)
        checked = []
        for k, fold in enumerate(folds, start=1):
            parts = []
            for name, part in zip(("training", "test"), fold):
                part = np.asarray(part)
                if part.dtype == bool and part.shape == (n,):  # a mask of the rows
                    part = np.flatnonzero(part)
                if part.ndim != 1 or (part.size and (part.dtype.kind not in "iu" or part.min() < 0
                                                     or part.max() >= n)):
                    raise ValueError(f"{self._cv_name()}: the {name} part of split {k} of {len(folds)} is no array of "
                                     f"row indices from 0 to {n - 1} (the {n} rows fit was given); give splits of "
                                     "these rows, e.g. from StratifiedKFold(3).split(X, y).")
                parts.append(part)
            train = parts[0] if sample_weight is None else parts[0][sample_weight[parts[0]] > 0]
            labels = np.unique(y[train])
            if len(labels) < 2:
                of_weight = "" if sample_weight is None else " of positive sample_weight"
                held = f"only rows of class {labels.tolist()[0]!r}" if len(labels) else "no row"
                raise ValueError(f"{self._cv_name()}: the training part of split {k} of {len(folds)} holds {held}"
                                 f"{of_weight}; an SVM needs 2 classes: give stratified splits "
                                 "(StratifiedKFold) or an int cv.")
            checked.append(tuple(parts))
        return checked

    @staticmethod
    def _cv_bytes(n: int, n_blocks: int, largest: int, tested: int, working: int = 0, solver: int = 0) -> int:
        """Peak bytes of ``weights="cv"`` for ``n`` rows: the blocks' float32 matrices beside one float64 matrix and
        ``working`` (:meth:`_working_bytes`) while each is made, or a fold's ``largest`` training part, its
        ``tested`` rows and libsvm's caches (``solver``, :meth:`_solver_bytes`) while the candidates are scored."""
        return 8 * n * n + 4 * n_blocks * n * n + max(working, 8 * largest * (largest + tested) + solver)

    # Nested: the inner SVCs get validated parameters.
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit on ``X`` (n_samples, n_features) and labels ``y``; choose the weights first for ``weights="cv"``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features (``views`` views side by side).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample (scales its ``C``); None: equal weights.

        Returns
        -------
        self : object
            Fitted estimator.

        Raises
        ------
        ValueError
            If ``y`` holds one class, a class has no sample of positive
            ``sample_weight``, blocks, kernels and weights do not agree,
            (``weights="cv"``) a class has fewer rows of positive weight than
            an int ``cv``, ``cv`` gives no split (a used-up generator), indices
            of no row, or a training part of one class, or a kernel overflows
            (see :meth:`KernelSVC.fit`).
        MemoryError
            If the training kernel matrix exceeds the memory available now,
            before any work.
        """
        if not isinstance(self.weights, str):
            self.__dict__.pop("cv_results_", None)  # a former weights="cv" fit's
            return super().fit.__wrapped__(self, X, y, sample_weight=sample_weight)
        from sklearn.model_selection import check_cv

        X, y = validate_data(self, X, y, dtype=_FLOATS, order="C")
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        check_weighted_classes(y, sample_weight)
        if self.cv is None or isinstance(self.cv, Integral):
            n_folds = 3 if self.cv is None else int(self.cv)
            weighted = y if sample_weight is None else y[sample_weight > 0]
            smallest = int(np.unique(weighted, return_counts=True)[1].min())
            if smallest < n_folds:  # before any kernel: they cost minutes on FER2013
                of_weight = "" if sample_weight is None else " of positive sample_weight"
                raise ValueError(f"weights='cv' with cv={n_folds} needs at least {n_folds} rows{of_weight} of every "
                                 f"class; the smallest class has {smallest}.")
            folds = positive_weight_folds(y, sample_weight, n_folds, shuffle=True, random_state=self.random_state)
        else:
            splitter = check_cv(self.cv, y, classifier=True)
            try:
                folds = list(splitter.split(X, y))
            except ValueError as error:
                if "groups" not in str(error):
                    raise
                raise ValueError(f"{self._cv_name()} splits by groups, which fit does not take; give the list of its "
                                 "splits instead: cv=list(splitter.split(X, y, groups)).") from None
            folds = self._checked_folds(folds, y, sample_weight)
        # Accuracy weighted as accuracy_score(sample_weight=...) weighs it: rows of weight 0 are not scored. Over
        # the rows scored, as any splitter's test parts need not be a partition.
        scored = np.ones(len(y)) if sample_weight is None else sample_weight
        total = sum(float(scored[test].sum()) for _, test in folds)
        if total <= 0:
            raise ValueError(f"{self._cv_name()}: no test part holds a row of positive sample_weight, so no weights "
                             "can be scored; give splits whose test parts hold weighted rows.")  # before any kernel
        Xp, _, diagonals = self._fit_kernel(X, with_gram=False)
        n, n_blocks = len(X), len(self.block_slices_)
        largest = max(len(train) for train, _ in folds)
        tested = max(len(test) for _, test in folds)
        # Beside the float32 matrix of every block: while one is made, its float64 matrix and _add_block's
        # working memory; then each candidate's float64 sum, a fold's training part and its test rows.
        require_memory(
            self._cv_bytes(n, n_blocks, largest, tested, self._working_bytes(n, np.ones(n_blocks)),
                           self._solver_bytes(y, largest)),
            f"{type(self).__name__}(weights='cv'): the kernel matrix of each of {n_blocks} blocks of {n:,} "
            "training rows, their weighted sums, the folds' parts and libsvm's kernel caches,",
            "give the weights (weights=[...], chosen on fewer rows), or fit on fewer rows.",
        )
        candidates = self._candidates(n_blocks)
        # Every block's matrix once, in float32: each candidate's kernel is a weighted sum of them.
        blocks = [self._block_kernel(b, Xp, Xp, diagonals, diagonals).astype(np.float32) for b in range(n_blocks)]
        scores = []
        for weights in candidates:
            gram = _weighted_sum(weights, blocks)
            correct = 0.0
            for train, test in folds:
                svc, rows = self._fit_libsvm(gram, y, sample_weight, train)
                correct += float(scored[test] @ (svc.predict(gram[np.ix_(test, rows)]) == y[test]))
            del gram  # before the next sum
            scores.append(correct / total)
        self.cv_results_ = {"weights": [w.tolist() for w in candidates], "mean_accuracy": scores}
        self.weights_ = candidates[int(np.argmax(scores))]  # the first of equal scores: grid order
        gram = _weighted_sum(self.weights_, blocks)
        del blocks
        return self._fit_svc(Xp, gram, diagonals, y, sample_weight)
