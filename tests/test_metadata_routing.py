"""scikit-learn's metadata routing through fer-classic's wrappers (``enable_metadata_routing=True``)."""

import numpy as np
import pytest
import sklearn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from fer_classic.estimators import CanonicalOrderClassifier, KernelSVC, LocalSVC
from fer_classic.preprocessing import MirrorViews


@pytest.fixture
def faces():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(30, 48 * 48)).astype(np.uint8)
    y = np.repeat(["angry", "happy", "sad"], 10)
    weights = np.ones(30)
    weights[:10] = 50.0
    return X, y, weights


@pytest.mark.parametrize("method", ["fit", "fit_transform"])
def test_mirror_views_route_a_requested_weight_to_their_transformer(faces, method):
    X, y, weights = faces
    with sklearn.config_context(enable_metadata_routing=True):
        views = MirrorViews(StandardScaler().set_fit_request(sample_weight=True))
        getattr(views, method)(X, y, sample_weight=weights)
    expected = StandardScaler().fit(X, sample_weight=weights).mean_
    np.testing.assert_allclose(views.transformer_.mean_, expected)


def test_mirror_views_in_a_pipeline_take_the_weight_their_step_requests(faces):
    X, y, weights = faces
    with sklearn.config_context(enable_metadata_routing=True):
        model = Pipeline([
            ("views", MirrorViews(StandardScaler().set_fit_request(sample_weight=True))),
            ("svc", SVC().set_fit_request(sample_weight=False)),
        ]).fit(X, y, sample_weight=weights)
    expected = StandardScaler().fit(X, sample_weight=weights).mean_
    np.testing.assert_allclose(model[0].transformer_.mean_, expected)


@pytest.fixture
def features():
    rng = np.random.RandomState(0)
    y = np.repeat(["angry", "happy", "sad"], 10)
    X = rng.random_sample((30, 12))
    X[y == "happy", :3] += 0.5
    weights = np.ones(30)
    weights[:10] = 50.0
    weights[10:20] = 0.02
    return X, y, weights


def test_canonical_order_keeps_the_weight_from_an_estimator_that_declines_it(features):
    X, y, weights = features
    with sklearn.config_context(enable_metadata_routing=True):
        model = CanonicalOrderClassifier(SVC().set_fit_request(sample_weight=False)).set_fit_request(
            sample_weight=True).fit(X, y, sample_weight=weights)
    unweighted = CanonicalOrderClassifier(SVC()).fit(X, y)
    np.testing.assert_allclose(model.decision_function(X), unweighted.decision_function(X))


def test_canonical_order_weighs_an_estimator_that_requests_nothing(features):
    X, y, weights = features
    with sklearn.config_context(enable_metadata_routing=True):
        model = CanonicalOrderClassifier(SVC()).set_fit_request(sample_weight=True).fit(X, y, sample_weight=weights)
    weighted = CanonicalOrderClassifier(SVC()).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(model.decision_function(X), weighted.decision_function(X))


def test_local_svc_refine_keeps_the_weight_from_a_global_svm_that_declines_it(features):
    X, y, weights = features
    inner = KernelSVC(kernel="intersection", C=10.0)
    with sklearn.config_context(enable_metadata_routing=True):
        model = LocalSVC(inner.set_fit_request(sample_weight=False), k=10, mode="refine").set_fit_request(
            sample_weight=True).fit(X, y, sample_weight=weights)
    unweighted = LocalSVC(KernelSVC(kernel="intersection", C=10.0), k=10, mode="refine").fit(X, y)
    np.testing.assert_allclose(model.estimator_.svc_.dual_coef_, unweighted.estimator_.svc_.dual_coef_)
    assert model.sample_weight_ is not None  # the local SVMs take this object's own weights


def test_canonical_order_lets_an_inner_pipeline_route_the_weights(features):
    X, y, weights = features
    with sklearn.config_context(enable_metadata_routing=True):
        pipeline = Pipeline([("scale", StandardScaler().set_fit_request(sample_weight=False)),
                             ("svc", SVC().set_fit_request(sample_weight=True))])
        model = CanonicalOrderClassifier(pipeline).fit(X, y, sample_weight=weights)
    expected = CanonicalOrderClassifier(SVC()).fit(StandardScaler().fit_transform(X), y, sample_weight=weights)
    scaled = StandardScaler().fit(X).transform(X)
    np.testing.assert_allclose(model.decision_function(X), expected.decision_function(scaled))
