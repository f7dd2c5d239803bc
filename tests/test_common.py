"""scikit-learn's estimator checks over every transformer and estimator fer-classic ships."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fer_classic.estimators import CLASSIFIERS, CanonicalOrderClassifier, make_classifier
from fer_classic.features import HOGFeatures, LBPFeatures, PixelFeatures


def _classifiers():
    for name in CLASSIFIERS:
        # MLP's early stopping needs a validation split larger than the checks' tiny data.
        params = {"early_stopping": False} if name == "mlp" else {}
        if name == "rf":
            params["n_estimators"] = 10
        yield make_classifier(name, **params)


ESTIMATORS = [
    PixelFeatures(),
    PixelFeatures(scale="centered"),
    # The checks feed rows of 1..10 features: cells of one pixel make them valid images.
    HOGFeatures(pixels_per_cell=(1, 1), cells_per_block=(1, 1)),
    LBPFeatures(grid=(1, 1)),
    CanonicalOrderClassifier(),
    *_classifiers(),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
