import numpy as np
import pytest
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline

from fer_classic.estimators import LandmarkRidgeClassifier


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    y = np.repeat(["angry", "happy", "neutral", "sad"], 40)
    X = rng.normal(size=(len(y), 5)) + (np.unique(y, return_inverse=True)[1] % 3)[:, None]
    return X, y


def nystroem_ridge(n_components, **ridge):
    return make_pipeline(Nystroem(gamma=0.3, n_components=n_components, random_state=0), RidgeClassifier(**ridge))


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("n_components", [20, 60])
@pytest.mark.parametrize("weights", ["none", "sample", "balanced"])
def test_equals_nystroem_then_ridge(data, n_classes, n_components, weights):
    X, y = data
    keep = np.isin(y, np.unique(y)[:n_classes]) & (np.arange(len(y)) % 7 != 0)  # unequal class sizes
    X, y = X[keep], y[keep]
    sample_weight = np.linspace(0.5, 2.0, len(y)) if weights == "sample" else None
    class_weight = "balanced" if weights == "balanced" else None
    ours = LandmarkRidgeClassifier(alpha=0.1, gamma=0.3, n_components=n_components, class_weight=class_weight,
                                   random_state=0).fit(X, y, sample_weight=sample_weight)
    reference = nystroem_ridge(n_components, alpha=0.1, class_weight=class_weight)
    reference.fit(X, y, ridgeclassifier__sample_weight=sample_weight)
    np.testing.assert_allclose(ours.decision_function(X), reference.decision_function(X), atol=1e-6)
    np.testing.assert_array_equal(ours.predict(X), reference.predict(X))


def test_landmarks_are_training_rows_drawn_by_the_seed(data):
    X, y = data
    first = LandmarkRidgeClassifier(n_components=10, random_state=3).fit(X, y).components_
    again = LandmarkRidgeClassifier(n_components=10, random_state=3).fit(X, y).components_
    np.testing.assert_array_equal(first, again)
    assert all((X == row).all(axis=1).any() for row in first)


def test_n_components_is_capped_at_the_samples(data):
    X, y = data
    assert LandmarkRidgeClassifier(n_components=10_000).fit(X, y).coef_.shape == (len(X), 4)


def test_duplicate_landmarks_still_solve(data):
    X, y = data
    X2, y2 = np.vstack([X, X]), np.concatenate([y, y])  # every landmark twice: a singular system
    model = LandmarkRidgeClassifier(alpha=1.0, gamma=0.3, n_components=len(X2), random_state=0).fit(X2, y2)
    reference = LandmarkRidgeClassifier(alpha=1.0, gamma=0.3, n_components=len(X), random_state=0).fit(X, y)
    # Same function space, doubled data: the fit equals the single copy with alpha halved.
    single = LandmarkRidgeClassifier(alpha=0.5, gamma=0.3, n_components=len(X), random_state=0).fit(X, y)
    np.testing.assert_allclose(model.decision_function(X), single.decision_function(X), atol=1e-5)
    assert not np.allclose(model.decision_function(X), reference.decision_function(X))


@pytest.mark.parametrize("params, message", [
    (dict(alpha=-1.0), "The 'alpha' parameter of LandmarkRidgeClassifier must be"),
    (dict(gamma=0.0), "The 'gamma' parameter of LandmarkRidgeClassifier must be"),
    (dict(n_components=0), "The 'n_components' parameter of LandmarkRidgeClassifier must be"),
])
def test_rejects_bad_parameters_in_fit(data, params, message):
    with pytest.raises(ValueError, match=message):
        LandmarkRidgeClassifier(**params).fit(*data)


def test_rejects_a_single_class(data):
    X, _ = data
    with pytest.raises(ValueError, match="only 1 class"):
        LandmarkRidgeClassifier().fit(X, np.full(len(X), "happy"))


def test_predicting_a_row_whose_squared_norm_overflows_is_refused(data):
    X, y = data
    model = LandmarkRidgeClassifier(gamma=0.3, n_components=20, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="squared norm of inf, too large"):  # was a NaN score, class angry
        model.predict(np.full((1, X.shape[1]), 1e200))


def test_fit_in_blocks_of_rows_equals_one_block(data, monkeypatch):
    from fer_classic.estimators import _landmark_ridge

    X, y = data
    whole = LandmarkRidgeClassifier(alpha=0.1, gamma=0.3, n_components=50, random_state=0).fit(X, y)
    monkeypatch.setattr(_landmark_ridge, "_ROWS", 16)  # 160 rows and 50 landmarks in several blocks
    blocked = LandmarkRidgeClassifier(alpha=0.1, gamma=0.3, n_components=50, random_state=0).fit(X, y)
    np.testing.assert_allclose(blocked.decision_function(X), whole.decision_function(X), atol=1e-10)


@pytest.mark.parametrize("panel", [3, 4, 10, 64])
def test_add_upper_gram_adds_the_upper_triangle_in_panels(panel):
    from fer_classic.estimators._landmark_ridge import _add_upper_gram

    block = np.random.default_rng(0).normal(size=(6, 10))
    gram = np.ones((10, 10))
    _add_upper_gram(gram, block, panel=panel)
    upper = np.triu_indices(10)
    np.testing.assert_allclose(gram[upper], 1 + (block.T @ block)[upper], atol=1e-12)
