"""Labels and scores in one pass: the same values as predict and decision_function, kernel rows evaluated once."""

import re

import numpy as np
import pytest

from fer_classic import fit_model
from fer_classic.estimators import make_classifier


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3, size=(4, 6))
    y = np.repeat(np.array(["angry", "happy", "sad", "fear"]), 40)
    X = centres[np.repeat(np.arange(4), 40)] + rng.normal(size=(160, 6))
    return X, y


@pytest.mark.parametrize("params", [
    {"backend": "sklearn"}, {"backend": "sklearn", "precompute_kernel": False}, {"backend": "approx"},
], ids=["precomputed", "libsvm", "approx"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_predict_and_decision_equals_predict_and_decision_function(blobs, params, n_classes):
    X, y = blobs
    keep = np.isin(y, np.unique(y)[:n_classes])
    clf = make_classifier("svm", **params).fit(X[keep], y[keep])
    labels, decision = clf.predict_and_decision(X)
    np.testing.assert_array_equal(labels, clf.predict(X))
    np.testing.assert_array_equal(decision, clf.decision_function(X))


def test_precomputed_svc_evaluates_the_kernel_once(blobs, monkeypatch):
    import fer_classic.estimators._precomputed_svc as module

    X, y = blobs
    clf = make_classifier("svm").fit(X, y)
    calls = []
    real = module.single_rbf
    monkeypatch.setattr(module, "single_rbf", lambda *a, **k: calls.append(1) or real(*a, **k))
    clf.predict_and_decision(X)
    assert len(calls) == 1


@pytest.mark.parametrize("clf", ["svm", "logreg", "knn", "local-svm"])
def test_model_scores_agree_with_predict(tiny_faces, clf):
    model = fit_model(tiny_faces, features="hog", clf=clf).model
    test = tiny_faces.select("test")
    labels, kind, scores, _ = model.predict_scores(test.images)
    np.testing.assert_array_equal(labels, model.pipeline.predict(test.X))
    assert scores.shape == (len(test), len(model.classes))
    assert kind == ("decision" if clf in ("svm", "local-svm") else "probability")


def test_model_scores_through_a_sampler_pipeline(tiny_faces):
    pytest.importorskip("imblearn")
    model = fit_model(tiny_faces, features="hog", clf="svm", sampler="random").model
    test = tiny_faces.select("test")
    labels, _, _, features = model.predict_scores(test.images)
    np.testing.assert_array_equal(labels, model.pipeline.predict(test.X))
    assert len(features) == len(test)


@pytest.mark.parametrize("method", ["predict", "scores", "predict_scores"])
@pytest.mark.parametrize("images, shape", [
    (np.zeros((0, 48, 48), np.uint8), "(0, 48, 48)"),
    (np.zeros((0, 48 * 48), np.uint8), "(0, 2304)"),
    ([], "(0,)"),
], ids=["images", "rows", "empty list"])
def test_an_empty_batch_is_refused_as_scikit_learn_refuses_it(fitted_model, method, images, shape):
    with pytest.raises(ValueError, match=rf"^Found array with 0 sample\(s\) \(shape={re.escape(shape)}\) while a "
                                         r"minimum of 1 is required: give at least one image"):
        getattr(fitted_model, method)(images)


@pytest.mark.parametrize("method", ["predict", "scores", "predict_scores"])
@pytest.mark.parametrize("shapes, index", [
    ([(48, 48), (40, 48)], 1),
    ([(48, 48), (48, 48), (48, 48, 3)], 2),
    ([(48 * 48,), (48 * 48 - 1,)], 1),
], ids=["taller", "colour", "rows"])
def test_a_ragged_list_names_the_first_image_of_another_shape(fitted_model, method, shapes, index):
    images = [np.zeros(shape, np.uint8) for shape in shapes]
    with pytest.raises(ValueError, match=rf"^images\[{index}\] has shape {re.escape(str(shapes[index]))}, unlike "
                                         rf"images\[0\] of shape {re.escape(str(shapes[0]))}: a batch holds images "
                                         "of one shape"):
        getattr(fitted_model, method)(images)


def test_a_flip_model_computes_its_features_once(tiny_faces, monkeypatch):
    from fer_classic.features import HOGFeatures

    model = fit_model(tiny_faces, features="hog", clf="svm", flip=True).model
    test = tiny_faces.select("test")
    calls = []
    real = HOGFeatures.transform
    monkeypatch.setattr(HOGFeatures, "transform", lambda self, X: calls.append(len(X)) or real(self, X))
    labels, kind, scores, _ = model.predict_scores(test.images)
    np.testing.assert_array_equal(labels, model.pipeline.predict(test.X))
    assert kind == "decision" and calls[:1] == [len(test)] and len(calls) == 2  # once here, once for predict
