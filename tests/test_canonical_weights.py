"""CanonicalOrderClassifier's sample_weight for an inner Pipeline (without metadata routing)."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from fer_classic.estimators import CanonicalOrderClassifier


@pytest.fixture
def features():
    rng = np.random.RandomState(0)
    y = np.repeat(["angry", "happy", "sad"], 10)
    X = rng.random_sample((30, 12))
    weights = np.ones(30)
    weights[:10] = 50.0
    return X, y, weights


def test_an_inner_pipeline_gets_the_weights_for_its_last_step(features):
    X, y, weights = features
    pipeline = Pipeline([("scale", StandardScaler()), ("svc", SVC())])
    model = CanonicalOrderClassifier(pipeline).fit(X, y, sample_weight=weights)
    codes = np.searchsorted(model.classes_, y)  # the inner classifier's codes index the sorted classes_
    expected = Pipeline([("scale", StandardScaler()), ("svc", SVC())]).fit(X, codes, svc__sample_weight=weights)
    np.testing.assert_allclose(model.decision_function(X), expected.decision_function(X))


def test_an_inner_pipeline_ending_without_weights_is_refused_naming_its_step(features):
    X, y, weights = features
    pipeline = Pipeline([("scale", StandardScaler()), ("knn", KNeighborsClassifier())])
    with pytest.raises(ValueError, match=r"last step of Pipeline, 'knn' \(KNeighborsClassifier\), takes no "
                                         r"sample_weight.*knn__sample_weight"):
        CanonicalOrderClassifier(pipeline).fit(X, y, sample_weight=weights)


def test_the_refusal_for_an_estimator_without_weights_names_the_wrapper(features):
    X, y, weights = features
    with pytest.raises(ValueError, match="KNeighborsClassifier.fit takes no sample_weight; CanonicalOrderClassifier "
                                         "passes the weights to its estimator's fit"):
        CanonicalOrderClassifier(KNeighborsClassifier()).fit(X, y, sample_weight=weights)
