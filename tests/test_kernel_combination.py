"""CombinedKernelSVC: a weighted sum of per-block kernels."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from fer_classic import make_pipeline
from fer_classic.data import make_synthetic_faces
from fer_classic.estimators import CombinedKernelSVC, KernelSVC, make_classifier
from fer_classic.features import make_features


def _two_blocks(n_per_class=30, seed=0):
    """Block A (4 columns) separates the classes; block B (3 columns) is noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n_per_class)
    informative = rng.random((len(y), 4))
    informative[y == 1, :2] += 1.0
    informative[y == 2, 2:] += 1.0
    return np.hstack([informative, rng.random((len(y), 3))]), y


@pytest.mark.parametrize("kernel", ["rbf", "intersection", "chi2"])
def test_one_weighted_block_is_the_kernel_svm_of_that_block(kernel):
    X, y = _two_blocks()
    combined = CombinedKernelSVC(blocks=(4, 3), kernels=(kernel, "linear"), weights=(1, 0), C=3).fit(X, y)
    alone = KernelSVC(kernel=kernel, C=3).fit(X[:, :4], y)
    np.testing.assert_allclose(combined.decision_function(X), alone.decision_function(X[:, :4]), atol=1e-8)


def test_kernels_without_blocks_all_see_every_column():
    X, y = _two_blocks()
    combined = CombinedKernelSVC(kernels=("rbf", "rbf"), weights=(0.5, 0.5), C=3).fit(X, y)
    np.testing.assert_allclose(combined.decision_function(X), KernelSVC(kernel="rbf", C=3).fit(X, y)
                               .decision_function(X), atol=1e-8)


def test_doubling_the_weights_is_doubling_c():
    X, y = _two_blocks()
    double = CombinedKernelSVC(blocks=(4, 3), kernels="intersection", weights=(2, 2), C=1, tol=1e-9).fit(X, y)
    single = CombinedKernelSVC(blocks=(4, 3), kernels="intersection", weights=(1, 1), C=2, tol=1e-9).fit(X, y)
    np.testing.assert_allclose(double.decision_function(X), single.decision_function(X), atol=1e-5)


def test_one_kernel_string_applies_to_every_block_and_weights_default_to_equal():
    X, y = _two_blocks()
    model = CombinedKernelSVC(blocks=(4, 3), kernels="chi2").fit(X, y)
    assert model.kernels_ == ("chi2", "chi2")
    np.testing.assert_allclose(model.weights_, [0.5, 0.5])
    assert [(s.start, s.stop) for s in model.block_slices_] == [(0, 4), (4, 7)]


@pytest.mark.parametrize("params, match", [
    ({"blocks": (4, 4)}, r"blocks=\(4, 4\) add up to 8 columns but X has 7 features"),
    ({"blocks": (4, 3), "kernels": ("rbf", "rbf", "rbf")}, r"names 3 kernel\(s\) for 2 block\(s\)"),
    ({"blocks": (4, 3), "weights": (1.0,)}, r"has 1 value\(s\) for 2 block\(s\)"),
    ({"blocks": (4, 3), "weights": (0.0, 0.0)}, r"weights=\(0.0, 0.0\) are all 0"),
    ({"blocks": (4, 3), "weights": "cv", "weight_grid": [(1.0,)]}, r"weight_grid item=\(1.0,\) has 1 value"),
])
def test_blocks_kernels_and_weights_that_disagree_are_errors(params, match):
    X, y = _two_blocks()
    with pytest.raises(ValueError, match=match):
        CombinedKernelSVC(**params).fit(X, y)


def test_grid_search_over_weights_picks_the_informative_block():
    X, y = _two_blocks()
    search = GridSearchCV(CombinedKernelSVC(blocks=(4, 3), kernels=("rbf", "rbf"), C=3),
                          {"weights": [(1.0, 0.0), (0.0, 1.0)]}, cv=3).fit(X, y)
    assert search.best_params_["weights"] == (1.0, 0.0)


def test_weights_by_cross_validation_are_the_best_candidate():
    X, y = _two_blocks()
    model = CombinedKernelSVC(blocks=(4, 3), kernels=("rbf", "rbf"), weights="cv", C=3, random_state=0).fit(X, y)
    candidates, scores = model.cv_results_["weights"], model.cv_results_["mean_accuracy"]
    # Candidates: equal, each block doubled, each block left out (normalised to sum 1).
    np.testing.assert_allclose(candidates, [[0.5, 0.5], [2 / 3, 1 / 3], [0, 1], [1 / 3, 2 / 3], [1, 0]])
    assert scores[candidates.index([0.0, 1.0])] == min(scores) < 0.5  # the noise block alone
    np.testing.assert_allclose(model.weights_, candidates[int(np.argmax(scores))])


def test_weights_by_cross_validation_refit_as_fixed_weights():
    X, y = _two_blocks()
    chosen = CombinedKernelSVC(blocks=(4, 3), kernels="intersection", weights="cv",
                               weight_grid=[(1, 3), (3, 1)], random_state=0).fit(X, y)
    fixed = CombinedKernelSVC(blocks=(4, 3), kernels="intersection", weights=tuple(chosen.weights_)).fit(X, y)
    np.testing.assert_allclose(chosen.decision_function(X), fixed.decision_function(X), atol=1e-5)


@pytest.mark.parametrize("params, rows, match", [
    ({"weights": "cv"}, 62, "weights='cv' with cv=3 needs at least 3 rows of every class"),
    ({"weights": "cv", "blocks": (4, 3), "weight_grid": [(1.0, 2.0, 3.0)]}, None, "has 3 value"),
])
def test_cross_validation_settings_that_cannot_run_fail_before_any_kernel(monkeypatch, params, rows, match):
    X, y = _two_blocks()
    monkeypatch.setattr(CombinedKernelSVC, "_block_kernel", lambda *a: pytest.fail("a kernel was computed"))
    with pytest.raises(ValueError, match=match):
        CombinedKernelSVC(**params).fit(X[:rows], y[:rows])


def test_combined_svm_by_name_on_the_blocks_of_a_feature_union():
    data = make_synthetic_faces(6, 2, random_state=0)
    train, test = data.select("train"), data.select("test")
    union = make_features("hog+lbp").fit(train.X)
    widths = [len(t.get_feature_names_out()) for _, t in union.transformer_list]
    pipeline = make_pipeline("hog+lbp", "combined-svm", blocks=widths, kernels=["rbf", "intersection"],
                             weights=[1.0, 2.0])
    assert len(pipeline.fit(train.X, train.y).predict(test.X)) == len(test.y)
    assert isinstance(make_classifier("combined-svm").estimator, CombinedKernelSVC)
