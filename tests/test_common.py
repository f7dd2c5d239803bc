"""scikit-learn's estimator checks over every transformer and estimator fer-classic ships."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fer_classic.estimators import (
    CLASSIFIERS, CanonicalOrderClassifier, LandmarkRidgeClassifier, PrecomputedKernelSVC, SVMClassifier,
    make_classifier,
)
from fer_classic.features import CNNFeatures, DeepFeatures, DenseSIFTBoVW, HOGFeatures, LBPFeatures, PixelFeatures
from fer_classic.preprocessing import BorderCrop, FlipAugmented, HistogramEqualizer


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
    # A keypoint on every pixel and two words: enough descriptors from one tiny row.
    DenseSIFTBoVW(step=1, patch_sizes=4, n_words=2, levels=(1,), random_state=0),
    DenseSIFTBoVW(step=1, patch_sizes=(4, 8), n_words=2, levels=(1,), assignment="hard", random_state=0),
    HistogramEqualizer(),
    HistogramEqualizer(method="global"),
    BorderCrop(),
    BorderCrop(resize=False),
    FlipAugmented(make_classifier("logreg")),
    FlipAugmented(PixelFeatures()),
    CanonicalOrderClassifier(),
    *_classifiers(),
    SVMClassifier(backend="sklearn"),
    SVMClassifier(backend="sklearn", precompute_kernel=False),
    SVMClassifier(backend="sklearn", probability=True),
    SVMClassifier(backend="approx"),
    SVMClassifier(backend="approx", probability=True),
    LandmarkRidgeClassifier(random_state=0),
    PrecomputedKernelSVC(),
]

try:
    import tensorflow  # noqa: F401
except ImportError:  # the deep extractors are checked where the `deep` (or `dev`) extra is installed
    pass
else:
    ESTIMATORS += [
        # The smallest cut of VGG16 (first block) on the checks' tiny rows, upsampled to 32x32.
        DeepFeatures(weights=None, layer="block1_pool", batch_size=8, verbose=False),
        # One block of 2 filters, one epoch: the checks test the contract, not the accuracy.
        CNNFeatures(blocks=(2,), convs_per_block=1, dense_units=4, epochs=1, batch_size=32,
                    validation_fraction=None),
    ]

# The same checks fail for scikit-learn's own SVC (verified with check_estimator on
# SVC(probability=True)): libsvm's sample weights rescale C per sample, which is not
# the same as repeating samples.
_SVM_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data": "libsvm/liblinear: weighting != repeating samples",
}


def _expected_failures(estimator):
    if isinstance(estimator, FlipAugmented):
        # The checks train on 2-D blobs, not images: the "mirror image" of a blob point
        # (its features in reverse order) lies elsewhere with the same label, so the
        # training accuracy cannot reach 0.83. On faces the mirror keeps the expression.
        return {"check_classifiers_train": "mirroring non-image toy data adds wrongly placed points"}
    if isinstance(estimator, PrecomputedKernelSVC):
        return dict(_SVM_XFAIL)
    if not isinstance(estimator, SVMClassifier):
        return {}
    failures = dict(_SVM_XFAIL)
    if estimator.probability and estimator.backend == "approx":
        # Per-class sigmoids can reorder the top class near a boundary (1 of 200 points
        # here), the inconsistency scikit-learn documents for SVC(probability=True).
        failures["check_classifiers_train"] = "calibrated argmax may differ from predict on a boundary point"
    return failures


@pytest.mark.filterwarnings("ignore::UserWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
