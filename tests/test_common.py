"""scikit-learn's estimator checks over every transformer and estimator fer-classic ships."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fer_classic.estimators import CLASSIFIERS, CanonicalOrderClassifier, SVMClassifier, make_classifier
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
    SVMClassifier(backend="sklearn"),
    SVMClassifier(backend="sklearn", probability=True),
    SVMClassifier(backend="approx"),
    SVMClassifier(backend="approx", probability=True),
]

# The same checks fail for scikit-learn's own SVC (verified with check_estimator on
# SVC(probability=True)): libsvm's sample weights rescale C per sample, which is not
# the same as repeating samples, and its predict_proba needs writable model arrays.
_SVM_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data": "libsvm/liblinear: weighting != repeating samples",
}


def _expected_failures(estimator):
    if not isinstance(estimator, SVMClassifier):
        return {}
    failures = dict(_SVM_XFAIL)
    if estimator.probability and estimator.backend == "sklearn":
        # Only its readonly_memmap variant fails; the plain variant passes (non-strict xfail).
        failures["check_estimators_pickle"] = "libsvm predict_proba rejects read-only memmapped models (as SVC)"
    if estimator.probability and estimator.backend == "approx":
        failures["check_class_weight_classifiers"] = "3-fold sigmoid calibration on 20 samples blurs the class weights"
    return failures


@pytest.mark.filterwarnings("ignore::UserWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
