import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from fer_classic.estimators import (
    CLASSIFIERS, CanonicalOrderClassifier, CombinedKernelSVC, KernelSVC, LandmarkRidgeClassifier, LocalSVC,
    PrecomputedKernelSVC, SVMClassifier, make_classifier,
)
from fer_classic.estimators._canonical import check_two_classes, check_weighted_classes
from fer_classic.preprocessing import FlipAugmented

CANONICAL_7 = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    labels = np.array(["surprise", "neutral", "angry", "happy", "sad", "fear", "disgust"] * 10, dtype=object)
    X = rng.normal(size=(len(labels), 3)) + np.array([CANONICAL_7.index(lab) for lab in labels])[:, None] * 3
    return X, labels


def test_classes_are_sorted_as_scikit_learn_sorts_them(blobs):
    model = CanonicalOrderClassifier(LogisticRegression()).fit(*blobs)
    assert model.classes_.tolist() == sorted(CANONICAL_7)


@pytest.mark.parametrize("scoring", ["neg_log_loss", "roc_auc_ovr", "top_k_accuracy", "neg_brier_score"])
def test_scikit_learn_probability_scorers_read_the_columns_right(blobs, scoring):
    """They read the columns in sorted order: canonical columns gave a log loss of 2.57 for 0.47."""
    from sklearn.metrics import get_scorer

    X, y = blobs
    ours = get_scorer(scoring)(CanonicalOrderClassifier(LogisticRegression()).fit(X, y), X, y)
    assert ours == pytest.approx(get_scorer(scoring)(LogisticRegression().fit(X, y), X, y))


def test_probability_columns_follow_classes(blobs):
    X, y = blobs
    model = CanonicalOrderClassifier(LogisticRegression()).fit(X, y)
    proba = model.predict_proba(X)
    np.testing.assert_array_equal(model.classes_[proba.argmax(1)], model.predict(X))


def test_predictions_match_plain_estimator(blobs):
    X, y = blobs
    ours = CanonicalOrderClassifier(SVC()).fit(X, y).predict(X)
    np.testing.assert_array_equal(ours, SVC().fit(X, y).predict(X))


def test_predict_proba_hidden_when_inner_has_none(blobs):
    model = CanonicalOrderClassifier(SVC()).fit(*blobs)  # no probabilities by default
    assert not hasattr(model, "predict_proba") and hasattr(model, "decision_function")


@pytest.mark.parametrize("check", [check_two_classes, check_weighted_classes])
def test_weights_none_of_them_positive_are_said_to_be_so(blobs, check):
    # The shared class checks; fit reaches them only past check_sample_weight, which refuses a negative weight
    # naming its row (see below) and all-zero weights (scikit-learn's message) first.
    _, y = blobs
    with pytest.raises(ValueError, match=r"No sample_weight is positive \(all 70 are zero or negative\)"):
        check(y, -np.ones(len(y)))


@pytest.mark.parametrize("make", [
    pytest.param(lambda: LandmarkRidgeClassifier(gamma=0.3, n_components=20), id="ridge"),
    pytest.param(lambda: SVMClassifier(backend="approx", n_components=20), id="approx"),
    pytest.param(lambda: SVMClassifier(backend="sklearn"), id="sklearn"),
    pytest.param(lambda: PrecomputedKernelSVC(), id="precomputed"),
    pytest.param(lambda: KernelSVC(), id="KernelSVC"),
    pytest.param(lambda: CombinedKernelSVC(kernels=("rbf", "intersection")), id="combined"),
    pytest.param(lambda: LocalSVC(k=5), id="LocalSVC"),
    # The wrapper of every named classifier checked with scikit-learn's check: linear-svm, logreg and mlp
    # fit on unsaid, ridge and rf failed on NaN or negative probabilities. knn takes no weights at all.
    *(pytest.param(lambda name=name: make_classifier(name, n_jobs=1), id=f"make_classifier-{name}")
      for name in CLASSIFIERS if name != "knn"),
    pytest.param(lambda: FlipAugmented(LogisticRegression(), image_shape=(1, 3)), id="FlipAugmented"),
])
def test_a_negative_weight_is_refused_naming_its_row(blobs, make):
    # The ridge took its square root: NaN coefficients, every face one class; libsvm left the row out unsaid.
    X, y = blobs
    weights = np.ones(len(y))
    weights[3] = -0.5
    with pytest.raises(ValueError, match=r"sample_weight holds 1 negative value\(s\) \(row 3: -0.5\)"):
        make().fit(np.abs(X), y, sample_weight=weights)


@pytest.mark.parametrize("make", [
    lambda: KernelSVC(kernel="rbf", n_jobs=0),  # ran no pool: accepted unsaid
    lambda: KernelSVC(n_jobs=0),
    lambda: CombinedKernelSVC(kernels=("rbf", "intersection"), n_jobs=0),
    lambda: LocalSVC(k=5, n_jobs=0),  # failed at predict, in joblib
], ids=["KernelSVC-rbf", "KernelSVC-intersection", "combined", "LocalSVC"])
def test_n_jobs_zero_is_refused_when_fit_starts(blobs, make):
    with pytest.raises(ValueError, match=r"The 'n_jobs' parameter of \w+ must be an int in the range \(-inf, -1\]"):
        make().fit(*blobs)


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_every_named_classifier_fits(name, blobs):
    model = make_classifier(name, n_jobs=1).fit(*blobs)
    assert model.classes_.tolist() == sorted(CANONICAL_7)


def test_class_weight_is_passed_through():
    assert make_classifier("svm", class_weight="balanced").estimator.class_weight == "balanced"


@pytest.mark.parametrize("weights, expected", [
    ({"sad": 5.0, "angry": 2.0}, {2: 5.0, 0: 2.0}),
    ("balanced", "balanced"),
    (None, None),
])
def test_class_weight_codes_key_weights_by_class_index(weights, expected):
    from fer_classic.estimators._canonical import class_weight_codes

    assert class_weight_codes(weights, np.array(["angry", "happy", "sad"])) == expected


def test_class_weight_codes_name_a_label_that_is_no_class():
    from fer_classic.estimators._canonical import class_weight_codes

    with pytest.raises(ValueError, match=r"class_weight names 'fear', not a class of the training data \(angry, happy, "
                                         r"sad\)"):
        class_weight_codes({"sad": 5.0, "fear": 9.0}, np.array(["angry", "happy", "sad"]))


def test_class_weight_codes_drop_keys_of_absent_classes_when_every_class_has_one():
    """A seven-emotion dict serves a fold without disgust, as SVC's compute_class_weight accepts it."""
    from fer_classic.estimators._canonical import class_weight_codes

    weights = {"angry": 1.0, "disgust": 8.0, "happy": 2.0, "sad": 3.0}
    assert class_weight_codes(weights, np.array(["angry", "happy", "sad"])) == {0: 1.0, 1: 2.0, 2: 3.0}


def test_an_unfitted_ensemble_inside_shows_its_predict_proba():
    # A random forest's len() raises before fit: the wrapper asked its truthiness and hid predict_proba.
    assert hasattr(make_classifier("rf", n_estimators=3), "predict_proba")


@pytest.mark.parametrize("make", [
    lambda: PrecomputedKernelSVC(),
    lambda: SVMClassifier(backend="sklearn"),
    lambda: SVMClassifier(backend="sklearn", precompute_kernel=False),
    lambda: make_classifier("svm", n_jobs=1),
    lambda: KernelSVC(kernel="rbf"),
    lambda: KernelSVC(kernel="rbf", multiclass="ovr"),
    lambda: CombinedKernelSVC(kernels=("rbf", "linear"), weights="cv"),
    lambda: LocalSVC(k=5, mode="refine"),
    lambda: CanonicalOrderClassifier(),
], ids=["PrecomputedKernelSVC", "SVMClassifier", "SVMClassifier-libsvm-kernel", "svm", "KernelSVC", "KernelSVC-ovr",
        "CombinedKernelSVC-cv", "LocalSVC-refine", "CanonicalOrderClassifier-SVC"])
def test_a_class_without_positive_weight_is_named(blobs, make):
    X, y = blobs
    weights = np.where(y == "happy", 0.0, 1.0)
    with pytest.raises(ValueError, match=r"No sample of class 'happy' has a positive sample_weight: the SVM would "
                                         r"learn without it"):
        make().fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("name", ["svm", "kernel-svm", "local-svm"])
def test_label_keyed_class_weight_reaches_the_svm(name):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = np.where(X[:, 0] + rng.normal(scale=1.0, size=80) > 0.5, "happy", "sad").astype(object)  # overlapping
    inner = "estimator__" if name == "local-svm" else ""  # the local SVMs take their kernel SVM's weights
    params = {} if name == "svm" else {f"{inner}kernel": "rbf"}
    weighted = make_classifier(name, n_jobs=1, C=1.0, **params, **{f"{inner}class_weight": {"happy": 20.0}})
    weighted.fit(X, y)
    plain = make_classifier(name, n_jobs=1, C=1.0, **params).fit(X, y)
    assert (weighted.predict(X) == "happy").sum() > (plain.predict(X) == "happy").sum()


def test_class_weight_naming_no_training_class_is_an_error(blobs):
    model = make_classifier("svm", class_weight={"hapy": 2.0})
    with pytest.raises(ValueError, match=r"class_weight names 'hapy', not a class of the training data \(angry,"):
        model.fit(*blobs)


@pytest.mark.parametrize("weight", ["x", -5, 0, float("inf"), float("nan"), True, [1]])
def test_class_weight_that_is_no_positive_number_is_named(blobs, weight):
    # Named when the classifier is made (before any data), and when one set later is fitted.
    match = r"class_weight gives happy=.*: each weight must be a positive number"
    with pytest.raises(ValueError, match=match):
        make_classifier("svm", class_weight={"happy": weight})
    model = make_classifier("svm").set_params(estimator__class_weight={"happy": weight})
    with pytest.raises(ValueError, match=match):
        model.fit(*blobs)


@pytest.mark.parametrize("name, params, message", [
    ("boosting", {}, "Unknown classifier 'boosting'"),
    ("knn", {"C": 1}, r"has no parameter\(s\) \['C'\]"),
])
def test_bad_classifier_requests_are_errors(name, params, message):
    with pytest.raises(ValueError, match=message):
        make_classifier(name, **params)


def test_single_class_training_data_is_an_error():
    with pytest.raises(ValueError, match="only 1 class"):
        CanonicalOrderClassifier().fit(np.zeros((3, 2)), ["happy"] * 3)


def test_a_classifier_keeps_the_n_jobs_it_is_given():
    # Parameters are stored as given (scikit-learn's contract): the commands cap --n-jobs (capped_n_jobs).
    assert make_classifier("rf", n_jobs=100_000).estimator.n_jobs == 100_000


@pytest.mark.parametrize("name, params", [("svm", {"gamma": True}), ("svm", {"C": True}),
                                          ("local-svm", {"estimator__C": True}), ("knn", {"n_neighbors": True}),
                                          ("rf", {"max_leaf_nodes": True})])  # as a grid refuses it
def test_a_bool_for_a_numeric_parameter_is_refused_naming_it(name, params):
    # --param gamma=true fitted gamma=1 without a word (accuracy 0.99 -> 0.20).
    key = next(iter(params))
    with pytest.raises(ValueError, match=f"{key}=(True|False): .* takes a number, not a boolean"):
        make_classifier(name, **params)


def test_a_bool_for_a_boolean_parameter_is_taken():
    assert make_classifier("mlp", early_stopping=False).estimator.early_stopping is False
    assert make_classifier("svm", precompute_kernel=True).estimator.precompute_kernel is True
