"""Histogram kernels (intersection, chi-squared, PQ) and the precomputed-kernel KernelSVC."""

import itertools

import numpy as np
import pytest
from sklearn.metrics.pairwise import additive_chi2_kernel, chi2_kernel, rbf_kernel
from sklearn.svm import SVC

from fer_classic import make_pipeline
from fer_classic.data import make_synthetic_faces
from fer_classic.estimators import (
    KERNELS, KernelSVC, chi2_distances, intersection_kernel, kernel_matrix, make_classifier, pq_kernel,
)
from fer_classic.estimators import _histogram_kernels as histogram_kernels
from fer_classic.estimators import _rbf
from fer_classic.estimators._histogram_kernels import kernel_diagonal


def _histograms(n, d, seed=0, sparsity=0.5):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    X[X < sparsity] = 0.0  # zeros, and ties among them, as in visual-word histograms
    return X


def _blobs(n_per_class=30, d=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((3 * n_per_class, d))
    y = np.repeat([0, 1, 2], n_per_class)
    X[y == 1, : d // 2] += 1.0
    X[y == 2, d // 2 :] += 1.0
    return X, y


@pytest.mark.parametrize("n_x, n_y, d", [(1, 1, 1), (5, 300, 7), (270, 3, 40)])
def test_intersection_is_the_sum_of_minima(n_x, n_y, d):
    X, Y = _histograms(n_x, d, 1), _histograms(n_y, d, 2)
    expected = np.minimum(X[:, None, :], Y[None, :, :]).sum(axis=2)
    np.testing.assert_allclose(intersection_kernel(X, Y, n_jobs=2), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_x, n_y, d", [(1, 1, 1), (5, 300, 7), (270, 3, 40)])
def test_chi2_distances_are_scikit_learns_additive_chi2(n_x, n_y, d):
    X, Y = _histograms(n_x, d, 1), _histograms(n_y, d, 2)
    np.testing.assert_allclose(chi2_distances(X, Y, n_jobs=2), -additive_chi2_kernel(X, Y), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel", ["intersection", "chi2", "pq"])
def test_matrix_of_one_set_is_computed_symmetric_as_against_a_copy(kernel, monkeypatch):
    monkeypatch.setattr(histogram_kernels, "PQ_MATRIX_FEATURES", 1)  # the banded merge-sort PQ
    X = _histograms(600, 9, 6)  # several bands of 256 rows
    np.testing.assert_allclose(kernel_matrix(kernel, X, n_jobs=2), kernel_matrix(kernel, X, X.copy()),
                               rtol=1e-12, atol=1e-12)


@pytest.fixture
def rbf_blocks_of_7_rows(monkeypatch):
    """The rbf matrix in blocks of 7 rows (a short last block), as a large one is."""
    monkeypatch.setattr(_rbf, "ROWS", 7)


@pytest.mark.parametrize("symmetric", [True, False], ids=["one set", "two sets"])
def test_rbf_is_scikit_learns_to_float32_products(symmetric, rbf_blocks_of_7_rows):
    # Far from the origin: the centring keeps float32 products accurate.
    X, Y = 100.0 + _histograms(30, 9, 1), 100.0 + _histograms(20, 9, 2)
    Y = X if symmetric else Y
    got = kernel_matrix("rbf", X, None if symmetric else Y, gamma=0.3)
    np.testing.assert_allclose(got, rbf_kernel(X, Y, gamma=0.3), rtol=1e-6)


def test_rbf_of_one_set_is_symmetric_with_a_unit_diagonal(rbf_blocks_of_7_rows):
    K = kernel_matrix("rbf", 100.0 + _histograms(30, 9, 1), gamma=0.3)
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_array_equal(np.diag(K), np.ones(30))


def test_chi2_of_two_empty_histograms_is_zero():
    np.testing.assert_array_equal(chi2_distances(np.zeros((2, 3))), np.zeros((2, 2)))


def _pq_by_counting(x, y):
    concordant = discordant = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        product = (x[i] - x[j]) * (y[i] - y[j])
        concordant += product > 0
        discordant += product < 0
    return 2.0 * (concordant - discordant)


@pytest.mark.parametrize("algorithm", ["sign products", "merge sort"])
@pytest.mark.parametrize("d", [1, 2, 9, 31])
def test_pq_is_twice_concordant_minus_discordant_pairs(d, algorithm, monkeypatch):
    if algorithm == "merge sort":
        monkeypatch.setattr(histogram_kernels, "PQ_MATRIX_FEATURES", 1)
    X = np.round(_histograms(4, d, 3) * 3) / 3  # coarse values: ties within and across rows
    Y = np.round(_histograms(5, d, 4) * 3) / 3
    expected = np.array([[_pq_by_counting(x, y) for y in Y] for x in X])
    np.testing.assert_array_equal(pq_kernel(X, Y), expected)


def test_pq_of_reversed_ranking_is_minus_that_of_the_ranking():
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert pq_kernel(x, x[:, ::-1])[0, 0] == -pq_kernel(x, x)[0, 0] == -12.0


@pytest.mark.parametrize("kernel", KERNELS)
def test_diagonal_is_the_kernel_of_each_row_with_itself(kernel):
    X = np.round(_histograms(6, 12, 5) * 4) / 4
    np.testing.assert_allclose(kernel_diagonal(kernel, X), np.diag(kernel_matrix(kernel, X, gamma=0.3)), rtol=1e-12)


def test_rbf_kernel_svc_without_normalisation_is_scikit_learns_svc():
    X, y = _blobs()
    # A tight tolerance: both solvers then reach the same optimum, whatever the rounding of the kernels.
    ours = KernelSVC(kernel="rbf", normalize=False, C=3, tol=1e-9).fit(X, y)
    theirs = SVC(kernel="rbf", C=3, tol=1e-9).fit(X, y)
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X), atol=1e-6)


def test_chi2_kernel_svc_is_svc_on_scikit_learns_chi2_kernel():
    X, y = _blobs()
    ours = KernelSVC(kernel="chi2", gamma=0.5, C=3, tol=1e-9).fit(X, y)
    theirs = SVC(kernel=lambda a, b: chi2_kernel(a, b, gamma=0.5), C=3, tol=1e-9).fit(X, y)
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X), atol=1e-6)


def test_chi2_gamma_scale_is_one_over_the_mean_distance():
    X, y = _blobs()
    model = KernelSVC(kernel="chi2").fit(X, y)
    np.testing.assert_allclose(model.gammas_[0], 1.0 / chi2_distances(X).mean())


def test_intersection_svm_ignores_a_constant_shift_of_the_features():
    # Standardised features go negative: the columns are shifted to a training minimum of 0,
    # which changes the intersection kernel by a constant that the SVM's bias absorbs.
    X, y = _blobs()
    plain = KernelSVC(normalize=False).fit(X, y)
    shifted = KernelSVC(normalize=False).fit(X - 5.0, y)
    assert shifted.offset_.min() < 0
    np.testing.assert_allclose(shifted.decision_function(X - 5.0), plain.decision_function(X), atol=1e-5)


def test_normalised_kernel_has_a_unit_diagonal():
    X, y = _blobs()
    model = KernelSVC(kernel="pq").fit(X, y)
    Xp = model._prepare(X)
    diagonals = model._diagonals(Xp)
    np.testing.assert_allclose(np.diag(model._kernel(Xp, Xp, diagonals, diagonals)), 1.0)


def test_values_below_the_training_minimum_are_clipped_for_chi2():
    X, y = _blobs()
    model = KernelSVC(kernel="chi2").fit(X, y)
    assert np.isfinite(model.decision_function(X - 10.0)).all()


@pytest.mark.parametrize("kernel", KERNELS)
def test_every_kernel_learns_the_blobs(kernel):
    X, y = _blobs()
    assert KernelSVC(kernel=kernel, C=10).fit(X, y).score(X, y) > 0.9


def test_sample_weight_reaches_libsvm():
    X, y = _blobs()
    weights = np.linspace(0.5, 2.0, len(y))
    model = KernelSVC(normalize=False, C=2).fit(X, y, sample_weight=weights)
    reference = SVC(kernel="precomputed", C=2).fit(intersection_kernel(X), y, sample_weight=weights)
    np.testing.assert_array_equal(model.support_, reference.support_)


def test_predict_and_decision_agree_with_predict_and_decision_function():
    X, y = _blobs()
    model = KernelSVC().fit(X, y)
    labels, scores = model.predict_and_decision(X)
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_array_equal(scores, model.decision_function(X))


@pytest.mark.parametrize("kernel", ["intersection", "chi2"])
def test_kernel_svm_by_name_in_a_pipeline_of_sift_words(kernel):
    data = make_synthetic_faces(8, 3, random_state=0)
    train, test = data.select("train"), data.select("test")
    pipeline = make_pipeline("sift", "kernel-svm", kernel=kernel)
    pipeline.set_params(features__n_words=32, features__step=8)
    predicted = pipeline.fit(train.X, train.y).predict(test.X)
    assert set(predicted) <= set(train.y) and len(predicted) == len(test.y)


def test_registry_names_the_kernel_estimators():
    assert isinstance(make_classifier("kernel-svm").estimator, KernelSVC)
    assert make_classifier("kernel-svm", kernel="pq").estimator.kernel == "pq"


# --- One machine per class (multiclass="ovr") ---------------------------------------------------

def _ovr_reference(X, y, T, C, sample_weight=None):
    """One SVC per class against the rest on sklearn's rbf kernel (gamma=0.5): decision columns."""
    K, KT = rbf_kernel(X, gamma=0.5), rbf_kernel(T, X, gamma=0.5)
    return np.column_stack([SVC(C=C, kernel="precomputed").fit(K, y == c, sample_weight=sample_weight)
                            .decision_function(KT) for c in np.unique(y)])


def test_one_vs_rest_is_one_machine_per_class_on_the_kernel():
    X, y = _blobs()
    model = KernelSVC(kernel="rbf", gamma=0.5, C=3, multiclass="ovr").fit(X, y)
    expected = _ovr_reference(X, y, X[::3], C=3)
    np.testing.assert_allclose(model.decision_function(X[::3]), expected, atol=1e-4)  # float32 kernel products
    np.testing.assert_array_equal(model.predict(X[::3]), np.unique(y)[expected.argmax(axis=1)])


def test_one_vs_rest_class_weight_weighs_each_class_s_rows():
    X, y = _blobs()
    model = KernelSVC(kernel="rbf", gamma=0.5, C=3, multiclass="ovr", class_weight={2: 4.0}).fit(X, y)
    expected = _ovr_reference(X, y, X[::3], C=3, sample_weight=np.where(y == 2, 4.0, 1.0))
    np.testing.assert_allclose(model.decision_function(X[::3]), expected, atol=1e-4)


def test_one_vs_rest_with_two_classes_is_the_one_vs_one_machine():
    X, y = _blobs()
    two = y < 2
    ovr = KernelSVC(kernel="rbf", C=3, multiclass="ovr").fit(X[two], y[two])
    ovo = KernelSVC(kernel="rbf", C=3).fit(X[two], y[two])
    np.testing.assert_allclose(ovr.decision_function(X), ovo.decision_function(X), atol=1e-8)
    np.testing.assert_array_equal(ovr.predict(X), ovo.predict(X))


def test_one_vs_rest_machines_in_threads_are_the_serial_ones():
    X, y = _blobs()
    serial = KernelSVC(kernel="rbf", C=3, multiclass="ovr", n_jobs=1).fit(X, y)
    threads = KernelSVC(kernel="rbf", C=3, multiclass="ovr", n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(threads.decision_function(X), serial.decision_function(X))
