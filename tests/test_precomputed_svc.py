"""PrecomputedKernelSVC is scikit-learn's RBF SVC, fitted on a precomputed kernel matrix."""

import logging
import pickle

import numpy as np
import pytest
from sklearn.svm import SVC

from fer_classic.estimators import CombinedKernelSVC, KernelSVC, LocalSVC, PrecomputedKernelSVC, SVMClassifier
from fer_classic.estimators import _precomputed_svc, _svm


def _data(n_classes, n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.normal(size=(n, 5)) + y[:, None] * 0.8
    return X, y


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("gamma", ["scale", "auto", 0.3])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_equals_svc_with_rbf_kernel(n_classes, gamma, class_weight):
    X, y = _data(n_classes)
    X_new = _data(n_classes, n=40, seed=1)[0]
    ours = PrecomputedKernelSVC(C=3, gamma=gamma, class_weight=class_weight).fit(X, y)
    svc = SVC(C=3, gamma=gamma, class_weight=class_weight).fit(X, y)
    np.testing.assert_array_equal(ours.support_, svc.support_)
    np.testing.assert_array_equal(ours.predict(X_new), svc.predict(X_new))
    # The kernel is computed in float32 (values within ~1e-7): decisions agree to ~1e-5.
    np.testing.assert_allclose(ours.decision_function(X_new), svc.decision_function(X_new), atol=1e-4)


def test_sample_weight_as_svc():
    X, y = _data(3)
    weights = np.random.default_rng(2).uniform(0.2, 3, size=len(y))
    # Solved tightly: at the default tol=1e-3 the two solvers' paths may part at rounding level.
    ours = PrecomputedKernelSVC(tol=1e-10).fit(X, y, sample_weight=weights)
    svc = SVC(tol=1e-10).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.decision_function(X), svc.decision_function(X), atol=1e-5)


def test_scores_in_blocks_equal_scores_at_once(monkeypatch):
    X, y = _data(3)
    model = PrecomputedKernelSVC().fit(X, y)
    whole = model.decision_function(X)
    monkeypatch.setattr(_precomputed_svc, "_PREDICT_ROWS", 7)
    # BLAS may sum a 7-row block in another order than a 90-row one: equal to rounding.
    np.testing.assert_allclose(model.decision_function(X), whole, rtol=1e-12, atol=1e-12)


def test_keeps_support_vectors_for_prediction():
    X, y = _data(3)
    model = PrecomputedKernelSVC().fit(X, y)
    np.testing.assert_array_equal(model.support_vectors_, X[model.support_])
    assert model.n_fit_samples_ == len(X)


def test_predictions_survive_pickling():
    X, y = _data(3)
    model = PrecomputedKernelSVC().fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X), model.predict(X))


@pytest.mark.parametrize("gamma", [0.0, -1.0])
def test_rejects_non_positive_gamma(gamma):
    with pytest.raises(ValueError, match=r"The 'gamma' parameter of PrecomputedKernelSVC must be .* \(0.0, inf\)"):
        PrecomputedKernelSVC(gamma=gamma).fit(*_data(2))


# -- SVMClassifier(backend="sklearn") and its precompute_kernel option -------------------------

@pytest.mark.parametrize("precompute, expected", [("auto", PrecomputedKernelSVC), (True, PrecomputedKernelSVC),
                                                  (False, SVC)])
def test_svm_classifier_precomputes_the_kernel_as_asked(precompute, expected):
    model = SVMClassifier(backend="sklearn", precompute_kernel=precompute).fit(*_data(3))
    assert type(model.estimator_) is expected
    assert model.kernel_precomputed_ == (expected is PrecomputedKernelSVC)


@pytest.mark.parametrize(("available", "precomputed"), [
    (lambda need: need, False),  # 3/4 of it would not hold the kernel
    (lambda need: 2 * need, True),
    (lambda need: None, True),  # unknown: up to 8 GiB
])
def test_auto_precomputes_a_kernel_within_three_quarters_of_the_available_memory(monkeypatch, available,
                                                                                 precomputed):
    from fer_classic import _resources

    X, y = _data(3)
    monkeypatch.setattr(_resources, "available_memory", lambda: available(_svm.precomputed_kernel_bytes(y)))
    assert SVMClassifier(backend="sklearn").fit(X, y).kernel_precomputed_ is precomputed


def test_auto_does_not_precompute_a_kernel_over_the_memory_limit(monkeypatch, caplog):
    from fer_classic import _resources

    X, y = _data(3)
    monkeypatch.setattr(_resources, "available_memory", lambda: None)
    monkeypatch.setattr(_svm, "_PRECOMPUTE_MAX_BYTES", _svm.precomputed_kernel_bytes(y) - 1)
    with caplog.at_level(logging.INFO, logger="fer_classic"):
        model = SVMClassifier(backend="sklearn").fit(X, y)
    assert not model.kernel_precomputed_ and "precomputed" not in caplog.text


def test_precomputing_is_logged(caplog):
    X, y = _data(3)
    with caplog.at_level(logging.INFO, logger="fer_classic"):
        SVMClassifier(backend="sklearn").fit(X, y)
    assert f"precomputed {len(X)} x {len(X)} kernel matrix" in caplog.text


def test_svm_classifier_gives_the_same_model_either_way():
    X, y = _data(4)
    fast = SVMClassifier(backend="sklearn", C=10, tol=1e-10, precompute_kernel=True).fit(X, y)
    slow = SVMClassifier(backend="sklearn", C=10, tol=1e-10, precompute_kernel=False).fit(X, y)
    np.testing.assert_array_equal(fast.predict(X), slow.predict(X))
    np.testing.assert_allclose(fast.decision_function(X), slow.decision_function(X), atol=1e-5)


def test_precomputed_probabilities_are_calibrated_rows():
    X, y = _data(3)
    proba = SVMClassifier(backend="sklearn", probability=True, random_state=0).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_invalid_precompute_kernel_is_rejected_whatever_the_backend(value):
    message = "The 'precompute_kernel' parameter of SVMClassifier must be a str among {'auto'} or"
    with pytest.raises(ValueError, match=message):
        SVMClassifier(backend="approx", precompute_kernel=value).fit(*_data(2))


# -- the kernel computed once, in float32, on and above the diagonal ---------------------------

def test_kernel_blocks_match_the_float64_kernel():
    from fer_classic.estimators._rbf import centred_single, class_gram, rbf, squared_norms

    X, y = _data(3, n=60)
    order = np.argsort(y, kind="stable")
    Xs = X[order]
    bounds = np.searchsorted(y[order], np.arange(4))
    blocks = class_gram(*centred_single(Xs, Xs.mean(axis=0)), bounds, 0.2)
    full = rbf(Xs, Xs, squared_norms(Xs), 0.2)
    assert sorted(blocks) == [(a, b) for a in range(3) for b in range(a, 3)]
    for (a, b), block in blocks.items():
        assert block.dtype == np.float32
        np.testing.assert_allclose(block, full[bounds[a]:bounds[a + 1], bounds[b]:bounds[b + 1]], rtol=1e-6, atol=1e-7)


def test_a_row_is_at_distance_zero_from_itself():
    from fer_classic.estimators._rbf import centred_single, class_gram

    X = _data(2)[0] * 1e3 + 1e4  # large, far from the origin: rounding would leave a residue
    blocks = class_gram(*centred_single(X, X.mean(axis=0)), np.array([0, len(X)]), 1.0)
    np.testing.assert_array_equal(np.diag(blocks[0, 0]), 1.0)


@pytest.mark.parametrize("make", [
    lambda: PrecomputedKernelSVC(),
    lambda: KernelSVC(kernel="rbf"),
    lambda: CombinedKernelSVC(kernels="rbf"),
    lambda: LocalSVC(KernelSVC(kernel="rbf"), k=10),
], ids=["precomputed", "kernel", "combined", "local"])
def test_rows_too_large_for_float32_products_are_refused(make):
    X, y = _data(2)
    X[0, 0] = 1e20  # its squared norm overflows float32 (the decisions silently changed)
    with pytest.raises(ValueError, match="too large for the rbf kernel's float32 products"):
        make().fit(X, y)


@pytest.mark.parametrize("kernel", ["linear", "chi2"])
def test_a_histogram_or_linear_kernel_that_overflows_is_refused(kernel):
    X, y = _data(2)
    with pytest.raises(ValueError, match=f"The {kernel} kernel of these rows overflowed .*scale the features"):
        KernelSVC(kernel=kernel).fit(np.abs(X) * 1e160, y)  # was libsvm's "Input X contains NaN"


@pytest.mark.parametrize("make", [
    lambda: KernelSVC(kernel="rbf"),
    lambda: CombinedKernelSVC(kernels="rbf"),
    lambda: CombinedKernelSVC(kernels="rbf", weights="cv"),
    lambda: LocalSVC(KernelSVC(kernel="rbf"), k=10),
], ids=["kernel", "combined", "combined-cv", "local"])
def test_a_kernel_matrix_larger_than_the_memory_is_refused_before_it_is_made(monkeypatch, make):
    from fer_classic import _resources

    X, y = _data(2)
    monkeypatch.setattr(_resources, "available_memory", lambda: 8 * len(X) ** 2 - 1)
    with pytest.raises(MemoryError, match=f"the kernel matrix of {len(X)} training rows, with its working memory"
                                          ".* needs .* GiB, more than"):
        make().fit(X, y)


def test_the_kernel_memory_check_counts_the_working_memory_beside_the_matrix(monkeypatch):
    # The float64 matrix alone was checked; the bands and the centred columns come on top of it.
    from fer_classic import _resources

    X, y = _data(2)
    monkeypatch.setattr(_resources, "available_memory", lambda: 8 * len(X) ** 2 + 1)
    with pytest.raises(MemoryError, match="with its working memory"):
        KernelSVC(kernel="rbf").fit(X, y)


@pytest.mark.parametrize("make, refused", [
    (lambda: KernelSVC(kernel="rbf", cache_size=0.001), False),
    (lambda: LocalSVC(KernelSVC(kernel="rbf", cache_size=0.001), k=10), True),
], ids=["kernel", "local"])
def test_a_local_svm_counts_its_float32_copy_of_the_kernel_matrix(monkeypatch, make, refused):
    from fer_classic import _resources
    from fer_classic.estimators import _kernel_svc

    monkeypatch.setattr(_kernel_svc, "_PAIR_ROWS", 1)  # bands of one row: the copy is then the larger extra
    X, y = _data(2)
    model = KernelSVC(kernel="rbf", cache_size=0.001).fit(X, y)  # libsvm's caches: 1 KB, below the copy
    needed = model._fit_kernel_bytes(X, solver_bytes=model._solver_bytes(y))
    monkeypatch.setattr(_resources, "available_memory", lambda: needed)
    if refused:
        with pytest.raises(MemoryError, match="and the float32 copy the local SVMs read, needs"):
            make().fit(X, y)
    else:
        make().fit(X, y)


@pytest.mark.parametrize("multiclass, n_jobs, machines", [("ovr", 2, 2), ("ovr", 8, 3), ("ovr", 1, 1), ("ovo", 2, 1)])
def test_libsvm_caches_are_counted_for_the_machines_fitted_at_once(monkeypatch, multiclass, n_jobs, machines):
    # One cache_size per one-vs-rest machine in the threads (three classes: three machines at most); one for ovo.
    from fer_classic import _resources

    monkeypatch.setattr(_resources, "usable_cpus", lambda: 8)
    X, y = _data(3, n=600)
    model = KernelSVC(kernel="rbf", cache_size=1, multiclass=multiclass, n_jobs=n_jobs)
    assert model._solver_bytes(y) == machines * 2**20


@pytest.mark.parametrize("rows, expected", [(300, 4 * 300**2), (10, 8 * 10)], ids=["every column", "two columns"])
def test_libsvm_caches_are_bounded_by_the_columns_they_can_hold(rows, expected):
    X, y = _data(2, n=rows)
    model = KernelSVC(kernel="rbf", cache_size=1 if rows == 300 else 1e-6)
    assert model._solver_bytes(y) == expected


def test_the_kernel_memory_check_counts_libsvms_caches(monkeypatch):
    # Measured on FER2013 (28,709 rows, ovr in two threads): the fit peaks 2.2 GiB above the matrix, beyond the check.
    from fer_classic import _resources
    from fer_classic.estimators import _kernel_svc

    monkeypatch.setattr(_kernel_svc, "_PAIR_ROWS", 1)  # the caches are then the larger extra
    monkeypatch.setattr(_resources, "usable_cpus", lambda: 2)
    X, y = _data(3, n=300)
    model = KernelSVC(kernel="rbf", multiclass="ovr", n_jobs=2)
    model._validate_params()
    model._fit_kernel(X, with_gram=False)
    monkeypatch.setattr(_resources, "available_memory", lambda: model._fit_kernel_bytes(X))
    with pytest.raises(MemoryError, match="libsvm's kernel caches, needs"):
        model.fit(X, y)


@pytest.mark.parametrize("make, releases", [
    (lambda: KernelSVC(kernel="rbf"), 1),
    (lambda: LocalSVC(KernelSVC(kernel="rbf"), k=10, mode="refine"), 1),
    (lambda: LocalSVC(KernelSVC(kernel="rbf"), k=10, mode="local"), 0),
], ids=["kernel", "refine", "local"])
def test_the_global_fit_gives_libsvms_freed_caches_back(monkeypatch, make, releases):
    # Once per libsvm fit on the whole matrix: not for each small local SVM, fit or predict.
    from fer_classic.estimators import _kernel_svc

    calls = []
    monkeypatch.setattr(_kernel_svc, "release_freed_memory", lambda: calls.append(1))
    X, y = _data(2)
    make().fit(X, y).predict(X[:5])
    assert len(calls) == releases


@pytest.mark.parametrize("make", [
    lambda: KernelSVC(kernel="rbf", views=2),
    lambda: CombinedKernelSVC(blocks=[10, 10], kernels="rbf", views=2),
], ids=["kernel", "combined"])
def test_the_kernel_memory_check_bounds_what_the_kernel_allocates(make):
    # Measured: the traced peak is 0.1 to 1.3 % above the figure (norms, diagonals, gamma's variance).
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.random((600, 40)).astype(np.float32)
    model = make()
    model._validate_params()
    tracemalloc.start()
    try:
        model._fit_kernel(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert model._fit_kernel_bytes(X) <= peak <= 1.05 * model._fit_kernel_bytes(X)


def test_weights_cv_memory_check_bounds_what_its_fit_allocates(monkeypatch):
    # Before: only the kernel phase's figure, below the block matrices and the candidates' sums beside them.
    import tracemalloc

    from fer_classic.estimators import _kernel_svc

    monkeypatch.setattr(_kernel_svc, "_PAIR_ROWS", 16)  # bands as small beside n x n as on FER2013
    asked = []
    monkeypatch.setattr(_kernel_svc, "require_memory", lambda needed, *args: asked.append(needed))
    rng = np.random.default_rng(0)
    X, y = rng.random((600, 20)).astype(np.float32), np.arange(600) % 3
    model = CombinedKernelSVC(blocks=[10, 10], kernels="rbf", weights="cv", weight_grid=[(1, 1), (1, 2)],
                              random_state=0)
    tracemalloc.start()
    try:
        model.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= max(asked) <= 1.2 * peak


@pytest.mark.parametrize("kernel", ["intersection", "chi2"])
def test_histogram_kernels_prepare_float32_rows_in_one_float64_copy(kernel):
    # Before: a float64 cast, then the shifted rows as a second array beside it.
    import tracemalloc

    X = np.random.default_rng(0).random((2000, 200)).astype(np.float32)
    model = KernelSVC(kernel=kernel).fit(X[:60], np.arange(60) % 3)
    tracemalloc.start()
    try:
        prepared = model._prepare(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert prepared.dtype == np.float64
    assert peak < 1.5 * prepared.nbytes


@pytest.mark.parametrize("params", [{"C": 1}, {"C": 100}, {"C": 10, "class_weight": "balanced"}])
def test_pairwise_machines_are_libsvm_multiclass(params):
    X, y = _data(4)
    ours = PrecomputedKernelSVC(**params).fit(X, y)
    svc = SVC(**params).fit(X, y)
    np.testing.assert_array_equal(ours.n_support_, svc.n_support_)
    # libsvm stops within tol=1e-3 of the optimum: float32 kernel values may move it that far.
    np.testing.assert_allclose(ours.intercept_, svc.intercept_, atol=1e-3)


def test_a_search_computes_the_kernel_once_per_gamma():
    X, y = _data(3)
    with _precomputed_svc.kernel_cache() as cache:
        for gamma in (0.1, 0.2):
            for C in (1, 3, 10):
                PrecomputedKernelSVC(C=C, gamma=gamma).fit(X, y)
    assert (cache["kernels_computed"], cache["kernels_reused"]) == (2, 4)


def test_a_repeated_fit_in_the_cache_is_the_same_model():
    X, y = _data(3)
    with _precomputed_svc.kernel_cache() as cache:
        first = PrecomputedKernelSVC(C=3).fit(X, y)
        again = PrecomputedKernelSVC(C=3).fit(X, y)
    assert cache["fits_reused"] == 1
    np.testing.assert_array_equal(again.dual_coef_, first.dual_coef_)


def test_a_fit_from_the_cache_owns_its_arrays():
    X, y = _data(3)
    with _precomputed_svc.kernel_cache():
        first = PrecomputedKernelSVC().fit(X, y)
        expected = first.dual_coef_.copy()
        for name in ("support_", "n_support_", "pairs_", "dual_coef_", "intercept_"):
            getattr(first, name)[...] = 0  # was the cached fit's array: the next fit got the zeros
        again = PrecomputedKernelSVC().fit(X, y)
    np.testing.assert_array_equal(again.dual_coef_, expected)
    assert again.intercept_.any() and again.support_.any()


def test_other_rows_or_weights_are_not_taken_from_the_cache():
    X, y = _data(3)
    with _precomputed_svc.kernel_cache() as cache:
        PrecomputedKernelSVC().fit(X, y)
        PrecomputedKernelSVC().fit(X[:-3], y[:-3])
        PrecomputedKernelSVC().fit(X, y, sample_weight=np.full(len(y), 2.0))
    assert (cache["kernels_computed"], cache["fits_reused"]) == (2, 0)


def test_nothing_is_kept_outside_a_cache_block():
    X, y = _data(3)
    with _precomputed_svc.kernel_cache() as cache:
        pass
    PrecomputedKernelSVC().fit(X, y)
    assert cache["kernels_computed"] == 0 and not cache["grams"]


def test_the_memory_estimate_counts_blocks_and_the_largest_pair():
    y = np.repeat([0, 1, 2], [10, 20, 30])
    assert _svm.precomputed_kernel_bytes(y) == 4 * (60**2 + 100 + 400 + 900) // 2 + 8 * 50**2


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_variance_in_blocks_is_the_variance(dtype):
    from fer_classic.estimators._rbf import ELEMENTWISE_ROWS, variance

    X = (np.random.default_rng(0).normal(size=(2 * ELEMENTWISE_ROWS + 7, 5)) * 3 + 100).astype(dtype)
    np.testing.assert_allclose(variance(X), X.astype(np.float64).var(), rtol=1e-12)


def test_centred_rows_do_not_depend_on_their_neighbours():
    from fer_classic.estimators._rbf import ELEMENTWISE_ROWS, centred_single

    X = np.random.default_rng(1).normal(size=(ELEMENTWISE_ROWS + 9, 13)) * 50 + 7
    centre = X.mean(axis=0)
    rows = np.random.default_rng(2).permutation(len(X))
    whole, whole_norms = centred_single(X, centre, rows=rows)
    for start in (0, 5, ELEMENTWISE_ROWS - 3):
        part, part_norms = centred_single(X[rows[start:start + 11]], centre)
        np.testing.assert_array_equal(part, whole[start:start + 11])
        np.testing.assert_array_equal(part_norms, whole_norms[start:start + 11])


def test_a_reloaded_model_centres_its_support_vectors_as_the_fit_did():
    X, y = _data(3, n=80)
    fitted = PrecomputedKernelSVC(C=3).fit(X, y)
    reloaded = pickle.loads(pickle.dumps(fitted))  # rebuilds its centred support vectors
    for made_by_fit, made_after_load in zip(fitted._single_support(), reloaded._single_support()):
        np.testing.assert_array_equal(made_by_fit, made_after_load)
    np.testing.assert_array_equal(fitted.decision_function(X), reloaded.decision_function(X))


@pytest.mark.parametrize("labels", [[1, 2, 3], ["angry", "happy", "sad"]], ids=["int", "str"])
def test_class_weight_is_keyed_by_label_as_svcs(labels):
    X, codes = _data(3)
    y = np.asarray(labels)[codes]
    class_weight = {labels[0]: 1.0, labels[1]: 50.0}  # the third class keeps weight 1
    ours = PrecomputedKernelSVC(class_weight=class_weight).fit(X, y)
    np.testing.assert_array_equal(ours.predict(X), SVC(class_weight=class_weight).fit(X, y).predict(X))


class _Rows:
    """A feature step whose codes are its output: support vectors rebuilt as they are."""

    def transform(self, X):
        return X

    def decode_compact(self, codes):
        return np.asarray(codes)


def test_refit_forgets_the_support_vectors_kept_as_codes():
    from sklearn.pipeline import Pipeline

    X, y = _data(2)
    model = PrecomputedKernelSVC().fit(X, y)
    assert model.compact_support(X[model.support_], Pipeline([("rows", _Rows())]))
    X_new = X + 3.0
    model.fit(X_new, y)
    loaded = pickle.loads(pickle.dumps(model))
    assert not hasattr(model, "support_codes_")
    np.testing.assert_array_equal(loaded.support_vectors_, X_new[model.support_])


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_zero_weights_give_svcs_decisions(class_weight):
    # scikit-learn's SVC on a precomputed kernel reports support_ among the rows of positive weight
    # (scikit-learn #5150): read as training rows, the pairs' machines took other rows' kernel columns.
    X, y = _data(3)
    weights = np.where(np.arange(len(y)) % 4 == 0, 0.0, 1.0)
    ours = PrecomputedKernelSVC(tol=1e-10, class_weight=class_weight).fit(X, y, sample_weight=weights)
    svc = SVC(tol=1e-10, class_weight=class_weight).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.decision_function(X), svc.decision_function(X), atol=1e-5)
