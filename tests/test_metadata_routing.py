"""scikit-learn's metadata routing through fer-classic's wrappers (``enable_metadata_routing=True``)."""

import numpy as np
import pytest
import sklearn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

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
