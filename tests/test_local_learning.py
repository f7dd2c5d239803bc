"""LocalSVC: an SVM on each test face's nearest training faces, in the kernel space of a KernelSVC."""

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier

from fer_classic import make_pipeline
from fer_classic.data import make_synthetic_faces
from fer_classic.estimators import KernelSVC, LocalSVC, make_classifier


def _blobs(n_per_class=25, d=6, seed=0, n_classes=3):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.random((len(y), d))
    for c in range(1, n_classes):
        X[y == c, c - 1] += 1.5
    return X, y


@pytest.mark.parametrize("kernel", ["rbf", "intersection"])
def test_neighbourhood_of_every_training_face_is_the_global_svm(kernel):
    X, y = _blobs()
    local = LocalSVC(KernelSVC(kernel=kernel), k=len(X), C=3).fit(X, y)
    global_ = KernelSVC(kernel=kernel, C=3).fit(X, y)
    np.testing.assert_array_equal(local.predict(X), global_.predict(X))


@pytest.mark.parametrize("kernel", ["rbf", "intersection"])
def test_one_vs_rest_local_svms_over_every_training_face_are_the_global_machines(kernel):
    X, y = _blobs()
    local = LocalSVC(KernelSVC(kernel=kernel, multiclass="ovr"), k=len(X), C=3).fit(X, y)
    global_ = KernelSVC(kernel=kernel, C=3, multiclass="ovr").fit(X, y)
    # The local machines fit the float32 training kernel the global ones see in float64.
    np.testing.assert_allclose(local.decision_function(X), global_.decision_function(X), atol=1e-4)


def test_one_vs_rest_local_svm_of_two_classes_scores_each_class_by_its_side_of_one_machine():
    X, y = _blobs(n_classes=2)
    local = LocalSVC(KernelSVC(kernel="rbf", multiclass="ovr"), k=len(X), C=3).fit(X, y)
    global_ = KernelSVC(kernel="rbf", C=3, multiclass="ovr").fit(X, y)
    # Scores -v and v for the two classes; the 1-D decision is their difference.
    np.testing.assert_allclose(local.decision_function(X), 2 * global_.decision_function(X), atol=2e-4)


def test_one_neighbour_in_rbf_space_is_the_nearest_neighbour():
    X, y = _blobs(seed=1)
    X_test = np.random.default_rng(2).random((40, X.shape[1])) * 2
    local = LocalSVC(KernelSVC(kernel="rbf"), k=1).fit(X, y)
    np.testing.assert_array_equal(local.predict(X_test), KNeighborsClassifier(1).fit(X, y).predict(X_test))


def test_absent_classes_score_minus_one_and_a_unanimous_neighbourhood_one():
    X, y = _blobs()
    scores = LocalSVC(KernelSVC(kernel="rbf"), k=1).fit(X, y).decision_function(X[:1])
    np.testing.assert_array_equal(scores, [[1.0, -1.0, -1.0]])


@pytest.mark.parametrize("mode", ["local", "refine"])
def test_predict_is_the_highest_score(mode):
    X, y = _blobs()
    model = LocalSVC(k=20, mode=mode).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), model.classes_[model.decision_function(X).argmax(axis=1)])


@pytest.mark.parametrize("mode", ["local", "refine"])
def test_two_classes_give_one_decision_whose_sign_is_the_prediction(mode):
    X, y = _blobs(n_classes=2)
    labels = np.array(["happy", "sad"])[y]
    model = LocalSVC(k=15, mode=mode).fit(X, labels)
    decision = model.decision_function(X)
    assert decision.shape == (len(X),)
    np.testing.assert_array_equal(model.predict(X), model.classes_[(decision > 0).astype(int)])


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("mode", ["local", "refine"])
def test_predict_and_decision_equals_predict_and_decision_function(mode, n_classes):
    X, y = _blobs(n_classes=n_classes)
    model = LocalSVC(k=15, mode=mode).fit(X, y)
    labels, decision = model.predict_and_decision(X)
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_array_equal(decision, model.decision_function(X))


def test_predict_and_decision_fits_each_local_svm_once(monkeypatch):
    X, y = _blobs()
    model = LocalSVC(k=15).fit(X, y)
    calls = []
    real = LocalSVC._local_scores
    monkeypatch.setattr(LocalSVC, "_local_scores", lambda self, *a: calls.append(1) or real(self, *a))
    model.predict_and_decision(X)
    assert len(calls) == len(X)


@pytest.mark.parametrize("mode", ["local", "refine"])
def test_threads_give_the_same_scores(mode, monkeypatch):
    from fer_classic.estimators import _local_svc

    monkeypatch.setattr(_local_svc, "_ROWS", 16)  # several blocks of rows, the last one short
    X, y = _blobs()
    X_test = np.random.default_rng(3).random((40, X.shape[1])) * 2
    one = LocalSVC(k=20, mode=mode).fit(X, y).decision_function(X_test)
    two = LocalSVC(k=20, mode=mode, n_jobs=2).fit(X, y).decision_function(X_test)
    np.testing.assert_array_equal(two, one)


@pytest.mark.parametrize("multiclass", ["ovo", "ovr"])
@pytest.mark.parametrize("local_weight", [1.0, 0.5, 0.0])
def test_refine_adds_the_weighted_local_scores_to_the_global_ones(multiclass, local_weight):
    X, y = _blobs()
    estimator = KernelSVC(multiclass=multiclass)
    local = LocalSVC(estimator, k=20, mode="local").fit(X, y)
    refined = LocalSVC(estimator, k=20, mode="refine", local_weight=local_weight).fit(X, y)
    global_scores = refined.estimator_.svc_.decision_function(refined.estimator_._kernel(
        refined.X_fit_, refined.X_fit_, refined.diagonals_, refined.diagonals_))
    np.testing.assert_allclose(refined.decision_function(X) - local_weight * local.decision_function(X),
                               global_scores, atol=1e-5)


def test_a_model_saved_before_one_vs_rest_local_svms_keeps_one_vs_one_ones():
    X, y = _blobs()
    model = LocalSVC(KernelSVC(kernel="rbf", multiclass="ovr"), k=20).fit(X, y)
    state = {name: value for name, value in model.__getstate__().items()
             if name not in ("local_multiclass_", "local_weight")}
    old = LocalSVC.__new__(LocalSVC)
    old.__setstate__(state)
    assert (old.local_multiclass_, old.get_params()["local_weight"]) == ("ovo", 1.0)
    votes = old.decision_function(X)
    # Vote counts with confidences in (-1/3, 1/3), not the machines' decision values.
    assert np.abs(votes - np.round(votes)).max() < 1 / 3


@pytest.mark.parametrize("fitted, changed", [("local", "refine"), ("refine", "local")])
def test_mode_set_after_fit_changes_no_decision(fitted, changed):
    X, y = _blobs()
    model = LocalSVC(k=10, mode=fitted).fit(X, y)
    before = model.decision_function(X)
    np.testing.assert_array_equal(model.set_params(mode=changed).decision_function(X), before)


@pytest.mark.parametrize("mode", ["local", "refine"])
def test_a_model_saved_before_its_mode_was_kept_predicts_in_the_mode_it_had(mode):
    X, y = _blobs()
    model = LocalSVC(k=10, mode=mode).fit(X, y)
    old = LocalSVC.__new__(LocalSVC)
    old.__setstate__({name: value for name, value in model.__getstate__().items() if name != "mode_"})
    np.testing.assert_array_equal(old.decision_function(X), model.decision_function(X))


def test_kernel_weights_chosen_by_cv_are_refused():
    from fer_classic.estimators import CombinedKernelSVC

    X, y = _blobs()
    model = LocalSVC(CombinedKernelSVC(blocks=(3, 3), weights="cv"), k=10)
    with pytest.raises(ValueError, match=r"LocalSVC does not choose its estimator's kernel weights: weights='cv' would "
                                         r"leave them equal. Fit CombinedKernelSVC\(weights='cv'\) on its own and "
                                         r"pass its weights_ as weights="):
        model.fit(X, y)


@pytest.mark.parametrize("multiclass", ["ovo", "ovr"])
def test_refine_with_weightless_faces_adds_the_global_svm_of_the_other_faces(multiclass):
    X, y = _blobs()
    weights = np.where(np.arange(len(y)) % 4 == 0, 0.0, 1.0)
    kernel = KernelSVC(kernel="linear", multiclass=multiclass, tol=1e-10)
    refined = LocalSVC(kernel, k=10, mode="refine", local_weight=0.0).fit(X, y, sample_weight=weights)
    kept = weights > 0
    np.testing.assert_allclose(refined.decision_function(X), kernel.fit(X[kept], y[kept]).decision_function(X),
                               atol=1e-6)


def test_refine_keeps_the_global_svm_fitted_on_all_faces():
    X, y = _blobs()
    labels = np.array(["angry", "happy", "sad"])[y]
    refined = LocalSVC(KernelSVC(C=3), k=20, mode="refine").fit(X, labels)
    np.testing.assert_array_equal(refined.estimator_.predict(X), KernelSVC(C=3).fit(X, labels).predict(X))


def test_label_keyed_class_weight_reaches_the_local_svms():
    X, y = _blobs()
    labels = np.array(["angry", "happy", "sad"])[y]
    model = LocalSVC(KernelSVC(class_weight={"sad": 5.0}), k=30).fit(X, labels)
    assert model.local_class_weight_ == {2: 5.0}
    assert len(model.predict(X)) == len(X)


def test_weightless_training_faces_are_no_neighbours():
    X, y = _blobs()
    weights = np.ones(len(y))
    weights[0] = 0.0  # the nearest face of X[0] is itself
    model = LocalSVC(KernelSVC(kernel="rbf"), k=1).fit(X, y, sample_weight=weights)
    reference = KNeighborsClassifier(1).fit(X[1:], y[1:])
    assert model.predict(X[:1])[0] == reference.predict(X[:1])[0]


def test_saved_model_leaves_the_training_kernel_out_and_predicts_the_same():
    X, y = _blobs(n_per_class=60)
    model = LocalSVC(k=20).fit(X, y)
    data = pickle.dumps(model)
    assert len(data) < 4 * len(X) ** 2  # the float32 n x n cache is not in the file
    np.testing.assert_array_equal(pickle.loads(data).predict(X), model.predict(X))


@pytest.mark.parametrize("suffix", ["joblib", "skops"])
def test_refine_saves_the_global_support_vectors_once(tmp_path, suffix):
    from fer_classic.persistence import FERModel, load_model, save_model

    faces = make_synthetic_faces(12, 6, random_state=0)
    train, test = faces.select("train"), faces.select("test")
    pipeline = make_pipeline("hog", "local-svm", k=20, mode="refine").fit(train.X, train.y)
    expected = pipeline.decision_function(test.X)
    fitted = pipeline[-1].estimator_
    fitted_state = dict(vars(fitted.estimator_))
    model = FERModel.from_fitted(pipeline, train, features="hog", clf="local-svm", source="synthetic")
    path = save_model(model, tmp_path / f"m.{suffix}")
    assert vars(fitted.estimator_) == fitted_state  # saving left the fitted model as it was
    loaded = load_model(path).pipeline  # fer-classic's own file and types: no trust needed
    global_svm = loaded[-1].estimator_.estimator_
    np.testing.assert_array_equal(global_svm.support_vectors_, fitted.estimator_.support_vectors_)
    np.testing.assert_array_equal(loaded.decision_function(test.X), expected)


def test_refine_pickles_hold_the_training_rows_once():
    X, y = _blobs(n_per_class=60, d=50)
    model = LocalSVC(KernelSVC(kernel="rbf", C=10), k=20, mode="refine").fit(X, y)
    assert len(model.estimator_.support_) > len(X) / 4
    assert len(pickle.dumps(model)) < X.nbytes * 1.2  # X_fit_, not X_fit_ and the support vectors


def test_refine_holds_no_copy_of_the_global_support_vectors():
    X, y = _blobs(n_per_class=60, d=50)
    model = LocalSVC(KernelSVC(kernel="rbf", C=10), k=20, mode="refine").fit(X, y)
    assert len(model.estimator_.support_) > len(X) / 4
    own = [v for v in vars(model.estimator_).values() if isinstance(v, np.ndarray)
           and not np.shares_memory(v, model.X_fit_)]
    assert sum(v.nbytes for v in own) < model.X_fit_.nbytes / 4  # no second copy of most training rows


def test_refine_global_svm_reads_its_support_vectors_from_the_training_rows():
    X, y = _blobs(n_per_class=60, d=50)
    model = LocalSVC(KernelSVC(kernel="rbf", C=10), k=20, mode="refine").fit(X, y)
    np.testing.assert_array_equal(model.estimator_.support_vectors_, model.X_fit_[model.estimator_.support_])


def test_refine_global_svm_support_vectors_read_by_another_reader_meanwhile():
    # A second thread reading them while the first one copies them (replayed in one thread, deterministically).
    class _Rows(np.ndarray):
        def __getitem__(self, key):
            reader, self.reader = self.reader, None
            if reader is not None:
                reader()
            return np.asarray(self)[key]

    X, y = _blobs(n_per_class=60, d=50)
    model = LocalSVC(KernelSVC(kernel="rbf", C=10), k=20, mode="refine").fit(X, y)
    rows = model.X_fit_.view(_Rows)
    rows.reader, seen = (lambda: seen.append(model.estimator_.support_vectors_)), []
    model.estimator_._support_source = rows
    first = model.estimator_.support_vectors_
    np.testing.assert_array_equal(seen[0], first)


def test_refine_global_svm_predicts_as_the_kernel_svc_fitted_alone():
    X, y = _blobs(n_per_class=60, d=50)
    X_test = np.random.default_rng(3).random((30, X.shape[1])) * 2
    model = LocalSVC(KernelSVC(kernel="rbf", C=10), k=20, mode="refine").fit(X, y)
    alone = KernelSVC(kernel="rbf", C=10).fit(X, y)
    np.testing.assert_allclose(model.estimator_.decision_function(X_test), alone.decision_function(X_test),
                               atol=1e-6)


def test_an_estimator_without_a_kernel_is_an_error():
    X, y = _blobs()
    with pytest.raises(TypeError, match="LocalSVC needs a KernelSVC or CombinedKernelSVC"):
        LocalSVC(LogisticRegression()).fit(X, y)


def test_k_and_c_are_grid_parameters():
    X, y = _blobs()
    search = GridSearchCV(LocalSVC(KernelSVC()), {"k": [5, 30], "C": [0.1, 10.0], "estimator__kernel": ["rbf"]},
                          cv=3)
    assert search.fit(X, y).best_params_["k"] in (5, 30)


@pytest.mark.parametrize("params, name", [({"k": 0}, "k"), ({"local_weight": -1.0}, "local_weight")])
def test_parameters_read_when_predicting_are_checked_then(params, name):
    X, y = _blobs()
    model = LocalSVC(KernelSVC(kernel="rbf"), k=10, mode="refine").fit(X, y).set_params(**params)
    # Were SVC's "Found array with 0 sample(s)" and a negative weight used as given.
    with pytest.raises(ValueError, match=f"The '{name}' parameter of LocalSVC must be"):
        model.predict(X[:3])


def test_local_svm_by_name_in_a_pipeline():
    data = make_synthetic_faces(6, 2, random_state=0)
    train, test = data.select("train"), data.select("test")
    pipeline = make_pipeline("hog", "local-svm", k=10, C=1.0)
    assert len(pipeline.fit(train.X, train.y).predict(test.X)) == len(test.y)
    assert isinstance(make_classifier("local-svm").estimator, LocalSVC)
