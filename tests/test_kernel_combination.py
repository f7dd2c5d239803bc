"""CombinedKernelSVC: a weighted sum of per-block kernels."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, ShuffleSplit, StratifiedKFold
from sklearn.svm import SVC

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


def test_refit_with_fixed_weights_drops_the_former_cv_results():
    X, y = _two_blocks()
    model = CombinedKernelSVC(blocks=(4, 3), weights="cv", cv=2, random_state=0).fit(X, y)
    model.set_params(weights=(1, 1)).fit(X, y)
    assert not hasattr(model, "cv_results_")


@pytest.mark.parametrize("splitter, as_list", [(KFold(3), False), (KFold(3), True)], ids=["splitter", "list"])
def test_cv_takes_a_splitter_or_a_list_of_splits(splitter, as_list):
    X, y = _two_blocks()
    y = y[np.argsort(np.arange(len(y)) % 3, kind="stable")]  # each KFold fold holds every class
    folds = list(splitter.split(X, y))
    model = CombinedKernelSVC(blocks=(4, 3), weights="cv", weight_grid=[(1, 0), (0, 1)],
                              cv=folds if as_list else splitter).fit(X, y)
    accuracy = []
    for weights in ((1, 0), (0, 1)):
        correct = 0
        for train, test in folds:
            fold = CombinedKernelSVC(blocks=(4, 3), weights=weights).fit(X[train], y[train])
            correct += int((fold.predict(X[test]) == y[test]).sum())
        accuracy.append(correct / len(y))
    np.testing.assert_allclose(model.cv_results_["mean_accuracy"], accuracy)


def test_the_accuracy_of_splits_that_are_no_partition_is_over_the_rows_they_score():
    """It was divided by all the rows: 4 splits scoring 30 % of them each gave 'accuracies' up to 2.8."""
    X, y = _two_blocks()
    folds = list(ShuffleSplit(4, test_size=0.3, random_state=0).split(X, y))
    model = CombinedKernelSVC(blocks=(4, 3), weights="cv", weight_grid=[(1, 0), (0, 1)], cv=folds).fit(X, y)
    scored = sum(len(test) for _, test in folds)
    correct = np.asarray(model.cv_results_["mean_accuracy"]) * scored
    assert (np.asarray(model.cv_results_["mean_accuracy"]) <= 1).all()
    np.testing.assert_allclose(correct, np.round(correct), atol=1e-9)  # whole faces of the rows scored


def test_weight_selection_scores_rows_by_their_sample_weight():
    """Rows of weight 0 were scored as if they weighed 1 (here: a third of the rows, labels shuffled)."""
    X, y = _two_blocks()
    rng = np.random.default_rng(1)
    weights = np.where(np.arange(len(y)) % 3 == 0, 0.0, rng.uniform(0.5, 2.0, len(y)))
    y = np.where(weights == 0, rng.permutation(y), y)
    folds = list(KFold(3, shuffle=True, random_state=0).split(X, y))
    model = CombinedKernelSVC(blocks=(4, 3), weights="cv", weight_grid=[(1, 0), (0, 1), (1, 1)], cv=folds)
    model.fit(X, y, sample_weight=weights)
    expected = []
    for candidate in ((1, 0), (0, 1), (1, 1)):
        correct = 0.0
        for train, test in folds:
            fold = CombinedKernelSVC(blocks=(4, 3), weights=candidate).fit(X[train], y[train], weights[train])
            correct += weights[test] @ (fold.predict(X[test]) == y[test])
        expected.append(correct / weights.sum())
    np.testing.assert_allclose(model.cv_results_["mean_accuracy"], expected)


def test_weight_selection_refuses_splits_that_score_no_weighted_row():
    X, y = _two_blocks()
    weights = np.where(np.arange(len(y)) < 10, 0.0, 1.0)
    folds = [(np.arange(10, len(y)), np.arange(10))]
    with pytest.raises(ValueError, match=r"no test part holds a row of positive sample_weight"):
        CombinedKernelSVC(blocks=(4, 3), weights="cv", cv=folds).fit(X, y, sample_weight=weights)


def test_cv_splitter_that_needs_groups_is_told_to_come_as_its_splits():
    X, y = _two_blocks()
    with pytest.raises(ValueError, match=r"splits by groups, which fit does not take; give the list of its splits "
                                         r"instead: cv=list\(splitter.split\(X, y, groups\)\)"):
        CombinedKernelSVC(blocks=(4, 3), weights="cv", cv=GroupKFold(3)).fit(X, y)


def test_a_cv_generator_used_up_by_a_former_fit_is_said_to_be_so():
    X, y = _two_blocks()
    model = CombinedKernelSVC(blocks=(4, 3), weights="cv", cv=StratifiedKFold(3).split(X, y)).fit(X, y)
    # Was "no test part holds a row of positive sample_weight", with no weights given.
    with pytest.raises(ValueError, match=r"gave no \(train, test\) split: a generator .* give a splitter object"):
        model.fit(X, y)


def test_cv_indices_of_no_row_are_refused_naming_cv():
    X, y = _two_blocks()
    folds = [(np.arange(60), np.arange(60, 100))]  # 90 rows: was a bare IndexError
    with pytest.raises(ValueError, match=r"cv \(a list of 1 split\): the test part of split 1 of 1 is no array of "
                                         r"row indices from 0 to 89"):
        CombinedKernelSVC(blocks=(4, 3), weights="cv", cv=folds).fit(X, y)


def test_a_cv_training_part_of_one_class_is_refused_naming_the_split():
    X, y = _two_blocks()
    folds = [(np.flatnonzero(y != 0), np.flatnonzero(y == 0)), (np.flatnonzero(y == 0), np.flatnonzero(y != 0))]
    # Was libsvm's "The number of classes has to be greater than one", naming no split.
    with pytest.raises(ValueError, match=r"the training part of split 2 of 2 holds only rows of class 0; .*"
                                         r"StratifiedKFold"):
        CombinedKernelSVC(blocks=(4, 3), weights="cv", cv=folds).fit(X, y)


def test_weight_selection_counts_the_rows_of_positive_weight():
    X, y = _two_blocks()
    weights = np.where((y == 2) & (np.arange(len(y)) < len(y) - 2), 0.0, 1.0)  # class 2: 2 rows weigh
    with pytest.raises(ValueError, match=r"weights='cv' with cv=3 needs at least 3 rows of positive sample_weight "
                                         r"of every class; the smallest class has 2"):
        CombinedKernelSVC(blocks=(4, 3), weights="cv", cv=3).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("shuffle", [False, True])
def test_weight_selection_folds_train_on_rows_of_positive_weight_of_every_class(shuffle):
    from fer_classic.estimators._canonical import positive_weight_folds

    y = np.repeat([0, 1, 2], 30)
    weights = np.where((y == 2) & (np.arange(len(y)) < len(y) - 3), 0.0, 1.0)  # class 2: its last 3 rows weigh
    folds = positive_weight_folds(y, weights, 3, shuffle=shuffle, random_state=0 if shuffle else None)
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(len(y)))
    for train, _ in folds:
        assert set(y[train[weights[train] > 0]].tolist()) == {0, 1, 2}


@pytest.mark.parametrize("multiclass", ["ovo", "ovr"])
@pytest.mark.parametrize("class_weight", [None, {0: 1.0, 1: 3.0, 2: 1.0}])
def test_zero_weights_give_the_model_of_the_other_rows(multiclass, class_weight):
    # scikit-learn's SVC on a precomputed kernel reports support_ among the rows of positive weight
    # (scikit-learn #5150): read as training rows, prediction took other rows' kernel columns.
    X, y = _two_blocks()
    weights = np.where(np.arange(len(y)) % 4 == 0, 0.0, 1.0)
    model = KernelSVC(kernel="linear", multiclass=multiclass, class_weight=class_weight, tol=1e-10)
    weighted = model.fit(X, y, sample_weight=weights).decision_function(X)
    kept = weights > 0
    np.testing.assert_allclose(weighted, model.fit(X[kept], y[kept]).decision_function(X), atol=1e-6)


@pytest.mark.parametrize("fitted, changed", [
    ({"kernel": "intersection"}, {"normalize": False}),
    ({"kernel": "rbf"}, {"views": 7}),
    ({"kernel": "rbf", "views": 7}, {"views": 1}),
], ids=["normalize", "views-1-to-7", "views-7-to-1"])
def test_parameters_set_after_fit_change_no_decision(fitted, changed):
    X, y = _two_blocks()
    model = KernelSVC(**fitted).fit(X, y)
    before = model.decision_function(X)
    np.testing.assert_array_equal(model.set_params(**changed).decision_function(X), before)


def test_a_model_saved_before_views_and_normalize_were_kept_predicts_as_it_did():
    X, y = _two_blocks()
    model = KernelSVC(kernel="intersection", normalize=False).fit(X, y)
    old = KernelSVC.__new__(KernelSVC)
    old.__setstate__({name: value for name, value in model.__getstate__().items()
                      if name not in ("views_", "normalize_")})
    assert (old.views_, old.normalize_) == (1, False)
    np.testing.assert_array_equal(old.decision_function(X), model.decision_function(X))


def test_zero_weights_with_balanced_class_weights_give_svcs_decisions():
    """'balanced' is resolved on all rows, as SVC resolves it, before the rows of weight 0 are left out."""
    X, y = _two_blocks()
    weights = np.where(np.arange(len(y)) % 4 == 0, 0.0, 1.0)
    ours = KernelSVC(kernel="linear", normalize=False, class_weight="balanced", tol=1e-10)
    theirs = SVC(kernel="linear", class_weight="balanced", tol=1e-10)
    np.testing.assert_allclose(ours.fit(X, y, sample_weight=weights).decision_function(X),
                               theirs.fit(X, y, sample_weight=weights).decision_function(X), atol=1e-6)


def test_make_pipeline_gives_combined_svm_one_kernel_per_extractor_where_the_geometry_is_known():
    # blocks=None computed one kernel over all the columns of hog+lbp, silently.
    pipeline = make_pipeline("hog+lbp", "combined-svm", image_shape=(48, 48))
    assert pipeline.named_steps["clf"].estimator.blocks == [1296, 360]
    with pytest.warns(UserWarning, match="one kernel for the whole union: the images' geometry is not known"):
        assert make_pipeline("hog+lbp", "combined-svm").named_steps["clf"].estimator.blocks is None


def test_blocks_that_do_not_add_up_to_the_known_widths_are_refused_before_any_data():
    from fer_classic.pipeline import combined_blocks

    with pytest.raises(ValueError, match=r"blocks=\[1296, 5\] .* give 1,656 per 48x48 image \(hog 1,296, lbp 360\)"):
        combined_blocks("hog+lbp", "combined-svm", {"blocks": [1296, 5]}, (48, 48))


@pytest.mark.parametrize("params, match", [
    ({"blocks": [0, 1296]}, r"'blocks' parameter .* item 0 \(0\) of \[0, 1296\] is not a width"),
    ({"weights": [1, -1]}, r"item 1 \(-1\) of \[1, -1\] is not a weight"),
    ({"weights": [0, 0]}, r"weights=\(0, 0\) are all 0"),
])
def test_bad_blocks_or_weights_name_the_item_at_fault(params, match):
    # Was "must be a tuple of one or more items ... Got [0, 1296]" though lists are accepted.
    with pytest.raises(ValueError, match=match):
        CombinedKernelSVC(**params)._validate_params()


@pytest.mark.parametrize("params, expected", [
    ({"weights": "cv"}, 8 * 900**2 + 4 * 2 * 900**2 + 8 * 600 * (600 + 300)),
    ({"weights": "cv", "cv": 2}, 8 * 900**2 + 4 * 2 * 900**2 + 8 * 450 * (450 + 450)),
    ({}, 8 * 900**2),
], ids=["cv", "two folds", "fixed weights"])
def test_the_memory_figure_before_the_features_counts_the_blocks_and_folds_of_weights_cv(params, expected):
    from fer_classic._training import kernel_matrix_bytes

    pipeline = make_pipeline("hog+lbp", "combined-svm", image_shape=(48, 48), blocks=[1296, 360], **params)
    assert kernel_matrix_bytes(pipeline, 900) == expected
