import logging
import pickle

import numpy as np
import pytest
from sklearn.svm import SVC

from fer_classic.estimators import LandmarkRidgeClassifier, SVMClassifier, cuml_status, make_classifier

CUML_USABLE, CUML_REASON = cuml_status()
requires_cuml = pytest.mark.skipif(not CUML_USABLE, reason=f"cuML path not testable here: {CUML_REASON}")


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    labels = np.repeat(["angry", "happy", "neutral"], 60)
    centers = {"angry": 0.0, "happy": 2.0, "neutral": 4.0}
    X = rng.normal(size=(len(labels), 6)) + np.array([centers[c] for c in labels])[:, None]
    return X, labels


def test_sklearn_backend_equals_svc(blobs):
    X, y = blobs
    # Solved tightly: at the default tol=1e-3 a precomputed kernel's path may part at rounding level.
    ours = SVMClassifier(backend="sklearn", tol=1e-10).fit(X, y)
    np.testing.assert_allclose(ours.decision_function(X), SVC(tol=1e-10).fit(X, y).decision_function(X), atol=1e-6)


@pytest.mark.skipif(CUML_USABLE, reason="cuML is usable here, auto picks it")
def test_auto_falls_back_to_sklearn_and_says_why(blobs, caplog, monkeypatch):
    monkeypatch.setattr("fer_classic.estimators._svm._gpu_present", lambda: True, raising=False)
    with caplog.at_level(logging.INFO, logger="fer_classic"):
        model = SVMClassifier().fit(*blobs)
    assert model.backend_ == "sklearn" and "fell back to scikit-learn" in model.backend_reason_
    assert "backend: sklearn" in caplog.text


def test_auto_on_a_machine_without_a_gpu_names_no_fallback_or_gpu_install(blobs, monkeypatch):
    # Every CPU fit said "fell back to scikit-learn: cuML is not installed (pip install 'fer-classic[gpu]' ...)".
    monkeypatch.setattr("fer_classic.estimators._svm._gpu_present", lambda: False, raising=False)
    monkeypatch.setattr("fer_classic.estimators._svm.cuml_status", lambda: (False, "cuML is not installed (pip)"))
    model = SVMClassifier(precompute_kernel=False).fit(*blobs)
    assert model.backend_ == "sklearn" and model.backend_reason_ == "auto, no GPU here"


def test_auto_with_a_gpu_but_no_cuml_keeps_the_install_hint(blobs, monkeypatch):
    monkeypatch.setattr("fer_classic.estimators._svm._gpu_present", lambda: True, raising=False)
    monkeypatch.setattr("fer_classic.estimators._svm.cuml_status", lambda: (False, "cuML is not installed (pip)"))
    model = SVMClassifier(precompute_kernel=False).fit(*blobs)
    assert model.backend_reason_ == "fell back to scikit-learn: cuML is not installed (pip)"


@pytest.mark.skipif(CUML_USABLE, reason="cuML is usable here")
def test_requesting_cuml_without_it_is_a_clear_error(blobs):
    with pytest.raises(ImportError, match="backend='cuml' cannot run"):
        SVMClassifier(backend="cuml").fit(*blobs)


def test_approx_backend_agrees_with_exact_on_easy_data(blobs):
    X, y = blobs
    exact = SVMClassifier(backend="sklearn").fit(X, y).predict(X)
    approx = SVMClassifier(backend="approx", n_components=100, random_state=0).fit(X, y).predict(X)
    assert (exact == approx).mean() > 0.95


@pytest.mark.parametrize("probability", [False, True])
def test_approx_backend_is_a_landmark_ridge_with_alpha_from_C(blobs, probability):
    X, y = blobs
    model = SVMClassifier(backend="approx", C=4.0, n_components=50, probability=probability, random_state=0)
    model.fit(X, y)
    ridge = model.estimator_.calibrated_classifiers_[0].estimator if probability else model.estimator_
    assert isinstance(ridge, LandmarkRidgeClassifier) and ridge.alpha == 1 / 8
    np.testing.assert_allclose(model.decision_function(X), ridge.decision_function(X))
    np.testing.assert_array_equal(model.predict(X), model.classes_[ridge.predict(X)])


@pytest.mark.parametrize("backend", ["sklearn", "approx"])
def test_probabilities_are_calibrated_rows(blobs, backend):
    X, y = blobs
    proba = SVMClassifier(backend=backend, probability=True, random_state=0, n_components=50).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert proba.shape == (len(X), 3)


def test_no_predict_proba_without_probability(blobs):
    assert not hasattr(SVMClassifier(backend="sklearn").fit(*blobs), "predict_proba")


@pytest.mark.parametrize("backend", ["sklearn", "approx"])
def test_predictions_survive_pickling(blobs, backend):
    X, y = blobs
    model = SVMClassifier(backend=backend, n_components=50, random_state=0).fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X), model.predict(X))


def test_class_weight_by_label(blobs):
    X, y = blobs
    heavy = SVMClassifier(backend="sklearn", class_weight={"angry": 100.0}).fit(X, y)
    plain = SVMClassifier(backend="sklearn").fit(X, y)
    assert (heavy.predict(X) == "angry").sum() >= (plain.predict(X) == "angry").sum()


@pytest.mark.parametrize("backend", ["sklearn", "approx"])
def test_class_weight_naming_no_class_is_an_error(blobs, backend):
    model = SVMClassifier(backend=backend, n_components=20, class_weight={"angrry": 5.0})
    with pytest.raises(ValueError, match=r"class_weight names 'angrry', not a class of the training data \(angry, "
                                         r"happy, neutral\); key it by those labels"):
        model.fit(*blobs)


@pytest.mark.parametrize("precompute_kernel", [True, False])
def test_probability_calibrates_a_class_with_few_rows_of_positive_weight(blobs, precompute_kernel):
    X, y = blobs
    # "neutral" keeps its last 2 rows: folds counted on all its rows put both in one fold, whose training part
    # then had none (libsvm: "all samples with positive weights belong to the same class").
    weights = np.where((y == "neutral") & (np.arange(len(y)) < len(y) - 2), 0.0, 1.0)
    model = SVMClassifier(backend="sklearn", probability=True, precompute_kernel=precompute_kernel,
                          random_state=0).fit(X, y, sample_weight=weights)
    assert model.predict_proba(X).shape == (len(y), 3)


def test_approx_backend_refuses_rows_whose_squared_norm_overflows(blobs):
    X, y = blobs
    # |x|^2 overflowed to inf, then inf - inf: an all-NaN model; the sklearn backend already said so.
    with pytest.raises(ValueError, match=r"squared norm of inf, too large .* float64 .*scale the features"):
        SVMClassifier(backend="approx", n_components=10).fit(np.abs(X) * 1e154, y)


def test_unknown_backend_is_rejected(blobs):
    with pytest.raises(ValueError, match="The 'backend' parameter of SVMClassifier must be a str among"):
        SVMClassifier(backend="gpu").fit(*blobs)


def test_registry_svm_accepts_backend():
    assert make_classifier("svm", backend="approx").estimator.backend == "approx"


@requires_cuml
def test_cuml_backend_matches_sklearn(blobs):
    X, y = blobs
    gpu = SVMClassifier(backend="cuml").fit(X, y)
    cpu = SVMClassifier(backend="sklearn").fit(X, y)
    assert gpu.backend_ == "cuml"
    assert (gpu.predict(X) == cpu.predict(X)).mean() > 0.97


@requires_cuml
def test_cuml_model_reloads_with_identical_predictions(blobs):
    X, y = blobs
    model = SVMClassifier(backend="cuml").fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X), model.predict(X))


@requires_cuml
def test_auto_picks_cuml_when_usable(blobs):
    assert SVMClassifier().fit(*blobs).backend_ == "cuml"


@pytest.mark.parametrize("params, name", [
    ({"tol": 0}, "tol"), ({"cache_size": -1}, "cache_size"), ({"n_components": 0}, "n_components"),
    ({"probability": "yes"}, "probability"), ({"C": 0}, "C"), ({"gamma": "wide"}, "gamma"),
])
def test_every_parameter_is_validated_when_fit_starts(blobs, params, name):
    with pytest.raises(ValueError, match=f"The '{name}' parameter of SVMClassifier must be"):
        SVMClassifier(backend="sklearn", **params).fit(*blobs)
