"""Metrics agree with scikit-learn's own functions; class names come from the model."""

import json
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from fer_classic.evaluation import (
    accuracy_interval,
    classification_metrics,
    format_metrics,
    normalize_confusion_matrix,
    roc_auc_ovr,
)
from fer_classic.labels import FER2013_LABELS

CLASSES = list(FER2013_LABELS)  # canonical order, not alphabetical


@pytest.fixture(scope="module")
def predictions():
    """Labels, noisy predictions and probability-like scores for 300 images."""
    rng = np.random.default_rng(7)
    y_true = rng.choice(CLASSES, size=300, p=[0.14, 0.02, 0.14, 0.25, 0.17, 0.11, 0.17])
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.choice(CLASSES, size=300))
    proba = rng.dirichlet(np.ones(len(CLASSES)), size=300)
    proba[np.arange(300), [CLASSES.index(c) for c in y_true]] += rng.random(300)
    proba /= proba.sum(axis=1, keepdims=True)
    return y_true, y_pred, proba


@pytest.fixture(scope="module")
def result(predictions):
    y_true, y_pred, proba = predictions
    return classification_metrics(y_true, y_pred, CLASSES, scores=proba)


@pytest.mark.parametrize("key, reference", [
    ("accuracy", lambda t, p: skm.accuracy_score(t, p)),
    ("balanced_accuracy", lambda t, p: skm.balanced_accuracy_score(t, p)),
    ("f1_weighted", lambda t, p: skm.f1_score(t, p, average="weighted")),
    ("f1_macro", lambda t, p: skm.f1_score(t, p, average="macro")),
])
def test_headline_scores_match_sklearn(predictions, result, key, reference):
    y_true, y_pred, _ = predictions
    assert result[key] == pytest.approx(reference(y_true, y_pred))


@pytest.mark.parametrize("y_true, y_pred", [
    (["happy", "sad", "sad", "happy"], ["happy", "sad", "angry", "angry"]),  # a predicted class not in y_true
    (["happy", "happy", "happy"], ["happy", "sad", "happy"]),  # one true class
    (["happy", "contempt", "sad"], ["happy", "happy", "sad"]),  # a true label outside the classes
])
def test_balanced_accuracy_matches_sklearn(y_true, y_pred):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's own warnings about the labels
        expected = skm.balanced_accuracy_score(y_true, y_pred)
    assert classification_metrics(y_true, y_pred, CLASSES)["balanced_accuracy"] == pytest.approx(expected)


@pytest.mark.parametrize("field, index", [("precision", 0), ("recall", 1), ("f1", 2), ("support", 3)])
def test_per_class_scores_match_sklearn(predictions, result, field, index):
    y_true, y_pred, _ = predictions
    expected = skm.precision_recall_fscore_support(y_true, y_pred, labels=CLASSES, zero_division=0)[index]
    assert [result["per_class"][c][field] for c in CLASSES] == pytest.approx(list(expected))


@pytest.mark.parametrize("key, normalize", [("confusion_matrix", None), ("confusion_matrix_normalized", "true")])
def test_confusion_matrices_match_sklearn(predictions, result, key, normalize):
    y_true, y_pred, _ = predictions
    expected = skm.confusion_matrix(y_true, y_pred, labels=CLASSES, normalize=normalize)
    np.testing.assert_allclose(result[key], expected, atol=1e-6)


def test_macro_auc_matches_sklearn_ovr(predictions, result):
    y_true, _, proba = predictions
    alphabetical = np.argsort(CLASSES)  # scikit-learn's multiclass AUC wants sorted labels
    expected = skm.roc_auc_score(y_true, proba[:, alphabetical], multi_class="ovr",
                                 labels=sorted(CLASSES), average="macro")
    assert result["roc_auc_macro"] == pytest.approx(expected)


def test_micro_auc_matches_sklearn(predictions, result):
    y_true, _, proba = predictions
    expected = skm.roc_auc_score(label_binarize(y_true, classes=CLASSES), proba, average="micro")
    assert result["roc_auc_micro"] == pytest.approx(expected)


def test_per_class_auc_matches_sklearn(predictions, result):
    y_true, _, proba = predictions
    expected = skm.roc_auc_score(label_binarize(y_true, classes=CLASSES), proba, average=None)
    assert [result["per_class"][c]["roc_auc"] for c in CLASSES] == pytest.approx(list(expected))


def test_auc_from_decision_function_of_a_fitted_model(fitted_model, tiny_faces):
    test = tiny_faces.select("test")
    kind, scores = fitted_model.scores(test.images)
    assert kind == "decision"  # the SVM has no predict_proba: decision scores, not probabilities
    result = classification_metrics(test.y, fitted_model.predict(test.images), fitted_model.classes, scores=scores)
    expected = skm.roc_auc_score(label_binarize(test.y, classes=fitted_model.classes), scores, average="macro")
    assert result["roc_auc_macro"] == pytest.approx(expected)


def test_class_names_and_order_come_from_the_model(fitted_model, tiny_faces):
    test = tiny_faces.select("test")
    result = classification_metrics(test.y, fitted_model.predict(test.images), fitted_model.classes)
    assert result["classes"] == fitted_model.classes
    assert list(result["per_class"]) == fitted_model.classes
    assert result["classes"] != sorted(result["classes"])  # canonical, not alphabetical


def test_binary_one_column_decision_scores_are_accepted():
    y = np.array(["happy", "sad", "happy", "sad"])
    result = roc_auc_ovr(y, np.array([-2.0, 1.0, -0.5, 0.2]), ["happy", "sad"])
    assert result["per_class"]["sad"] == pytest.approx(1.0)


def test_auc_is_none_for_a_class_without_test_images(predictions):
    y_true, y_pred, proba = predictions
    keep = y_true != "disgust"
    result = classification_metrics(y_true[keep], y_pred[keep], CLASSES, scores=proba[keep])
    assert result["per_class"]["disgust"]["roc_auc"] is None
    assert result["roc_auc_macro"] is not None


def test_without_scores_auc_is_none(predictions):
    y_true, y_pred, _ = predictions
    result = classification_metrics(y_true, y_pred, CLASSES)
    assert result["roc_auc_macro"] is None and result["roc_auc_micro"] is None


def test_unknown_test_label_counts_as_error_and_stays_json_ready():
    result = classification_metrics(["happy", "contempt"], ["happy", "happy"], ["happy", "sad"],
                                    scores=[[0.9, 0.1], [0.6, 0.4]])
    assert result["accuracy"] == 0.5 and result["classes"] == ["happy", "sad", "contempt"]
    json.dumps(result)


def test_legacy_keys_are_kept(result):
    assert {"accuracy", "f1_weighted", "f1_macro", "n", "classes", "per_class", "confusion_matrix"} <= result.keys()


def test_accuracy_interval_is_seeded(predictions):
    y_true, y_pred, _ = predictions
    assert accuracy_interval(y_true, y_pred, random_state=3) == accuracy_interval(y_true, y_pred, random_state=3)


def test_accuracy_interval_brackets_accuracy_with_binomial_width(predictions, result):
    low, high = result["accuracy_ci"]
    p, n = result["accuracy"], result["n"]
    assert low <= p <= high
    assert high - low == pytest.approx(2 * 1.96 * np.sqrt(p * (1 - p) / n), rel=0.25)


def test_accuracy_interval_does_not_depend_on_the_order_of_the_images(predictions):
    # A reordered (renamed) copy of the test set printed another interval for the same predictions.
    y_true, y_pred, _ = predictions
    order = np.random.default_rng(1).permutation(len(y_true))
    assert accuracy_interval(y_true, y_pred) == accuracy_interval(np.asarray(y_true)[order], np.asarray(y_pred)[order])


def test_accuracy_interval_of_perfect_predictions_is_a_point():
    assert accuracy_interval(["sad"] * 5, ["sad"] * 5) == (1.0, 1.0)


def _metrics_of_sad(y_true, y_pred, **kwargs):
    return classification_metrics(y_true, y_pred, ["sad"], **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"confidence": 1.5}, r"'confidence' parameter .* must be a float in the range \(0.0, 1.0\)"),
    ({"n_resamples": 0}, r"'n_resamples' parameter .* must be an int in the range \[1, 1000000\]"),
    ({"n_resamples": 10**12}, r"'n_resamples' parameter .* must be an int in the range \[1, 1000000\]"),
])
@pytest.mark.parametrize("function", [accuracy_interval, _metrics_of_sad],
                         ids=["accuracy_interval", "classification_metrics"])
def test_bootstrap_parameters_out_of_range_are_refused(function, kwargs, message):
    with pytest.raises(ValueError, match=message):
        function(["sad"], ["sad"], **kwargs)


def test_accuracy_interval_refuses_y_pred_of_another_length():
    with pytest.raises(ValueError, match="y_true has 4 labels but y_pred has 1"):
        accuracy_interval(["a", "b", "c", "d"], ["a"])


def test_a_class_named_twice_is_refused():
    with pytest.raises(ValueError, match="classes names 'happy' more than once"):
        classification_metrics(["happy", "sad"], ["happy", "sad"], CLASSES + ["happy"])


def test_classes_as_one_string_is_refused():
    with pytest.raises(ValueError, match="'classes' parameter .* must be an array-like. Got 'happy'"):
        classification_metrics(["happy"], ["happy"], "happy")


def test_y_pred_outside_the_classes_is_refused_naming_the_labels():
    with pytest.raises(ValueError, match="y_pred holds 'contempt', not among the classes"):
        classification_metrics(["happy", "sad"], ["happy", "contempt"], ["happy", "sad"])


def test_y_true_without_any_of_the_classes_is_refused():
    with pytest.raises(ValueError, match="No label of y_true is one of the classes .* y_true holds 'glad', 'low'"):
        classification_metrics(["glad", "low"], ["happy", "sad"], CLASSES)


@pytest.mark.parametrize("bad, message", [
    (None, "y_true holds a missing label \\(None or NaN\\) at index 1"),
    (np.nan, "y_true holds a missing label \\(None or NaN\\) at index 1"),
    (1, "y_true mixes text and numeric labels \\(e.g. 'happy' and 1\\)"),
], ids=["None", "NaN", "number"])
def test_missing_or_mixed_labels_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        classification_metrics(["happy", bad], ["happy", "sad"], CLASSES)


def test_two_dimensional_labels_are_refused():
    with pytest.raises(ValueError, match=r"y_true must be one label per sample.* shape \(2, 2\)"):
        classification_metrics([["happy", "sad"], ["sad", "happy"]], ["happy", "sad"], CLASSES)


def test_scores_with_wrong_column_count_name_the_classes(predictions):
    y_true, y_pred, proba = predictions
    with pytest.raises(ValueError, match="one column per class of the model"):
        classification_metrics(y_true, y_pred, CLASSES, scores=proba[:, :3])


def test_scores_that_are_not_finite_are_named(predictions):
    # scikit-learn said only "Input contains NaN."
    y_true, y_pred, proba = predictions
    scores = proba.copy()
    scores[2, 1] = np.nan
    with pytest.raises(ValueError, match=rf"scores holds values that are not finite numbers \(NaN or infinity: 1 "
                                         rf"of them\), the first in row 2, column 1 \(class {CLASSES[1]}\)"):
        classification_metrics(y_true, y_pred, CLASSES, scores=scores)


def test_normalized_confusion_rows_without_samples_are_zero():
    np.testing.assert_array_equal(normalize_confusion_matrix([[2, 2], [0, 0]]), [[0.5, 0.5], [0.0, 0.0]])


def test_format_metrics_shows_interval_balanced_accuracy_and_auc(result):
    text = format_metrics(result)
    assert "bootstrap interval" in text and "balanced acc" in text and "roc-auc" in text


@pytest.mark.parametrize("confidence, shown", [(0.95, "95%"), (0.975, "97.5%")])
def test_format_metrics_shows_the_interval_s_confidence_as_given(predictions, confidence, shown):
    # 0.975 showed as "98% bootstrap interval".
    y_true, y_pred, _ = predictions
    metrics = classification_metrics(y_true, y_pred, CLASSES, confidence=confidence, n_resamples=50)
    assert f"   {shown} bootstrap interval" in format_metrics(metrics)


# -- accuracy of each group (FER2013's PublicTest and PrivateTest) ------------------------------

def _halves(n):
    return np.where(np.arange(n) % 3 == 0, "PublicTest", "PrivateTest")


def test_accuracy_by_group_is_each_group_s_accuracy(predictions):
    y_true, y_pred, _ = predictions
    groups = _halves(len(y_true))
    parts = classification_metrics(y_true, y_pred, CLASSES, groups=groups)["accuracy_by_group"]
    assert list(parts) == ["PrivateTest", "PublicTest"]
    for name, part in parts.items():
        keep = groups == name
        assert part == {"accuracy": pytest.approx(skm.accuracy_score(y_true[keep], y_pred[keep])),
                        "n": int(keep.sum())}


@pytest.mark.parametrize("groups", [None, "", "PrivateTest"], ids=["none", "empty names", "one name"])
def test_accuracy_by_group_needs_two_named_groups(predictions, groups):
    y_true, y_pred, _ = predictions
    names = None if groups is None else np.full(len(y_true), groups)
    assert "accuracy_by_group" not in classification_metrics(y_true, y_pred, CLASSES, groups=names)


def test_groups_of_another_length_are_an_error(predictions):
    y_true, y_pred, _ = predictions
    with pytest.raises(ValueError, match="groups has 3 names"):
        classification_metrics(y_true, y_pred, CLASSES, groups=["a", "b", "c"])


def test_format_metrics_shows_each_group_s_accuracy(predictions):
    y_true, y_pred, _ = predictions
    metrics = classification_metrics(y_true, y_pred, CLASSES, groups=_halves(len(y_true)))
    part = metrics["accuracy_by_group"]["PublicTest"]
    assert f"PublicTest  {part['accuracy']:.4f}   (n={part['n']})" in format_metrics(metrics)


def test_one_class_scored_gives_no_scikit_learn_warning():
    """balanced_accuracy_score's own 1x1 confusion matrix warned 'use the labels parameter' (ours is 7x7)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = classification_metrics(["happy", "happy"], ["happy", "happy"], list(FER2013_LABELS))
    assert len(metrics["confusion_matrix"]) == 7


@pytest.fixture
def binary_probability():
    """Two classes, and the second class's probability (one column)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    return np.array(["happy", "sad"])[y], np.clip(y * 0.3 + rng.random(40) * 0.7, 0, 1)


def test_one_column_probability_gives_the_micro_auc_of_its_two_columns(binary_probability):
    y, p = binary_probability
    expected = skm.roc_auc_score(label_binarize(y, classes=["happy", "sad", "x"])[:, :2], np.c_[1 - p, p],
                                 average="micro")
    assert roc_auc_ovr(y, p, ["happy", "sad"])["micro"] == pytest.approx(expected)


@pytest.mark.parametrize("columns", [
    lambda s: s, lambda s: np.c_[-s, s], lambda s: np.c_[-(s + 0.2) / 3, (s + 0.2) / 3],
], ids=["one column", "model.scores' two", "second column within [0, 1]"])
def test_decision_function_micro_auc_is_the_second_class_auc(binary_probability, columns):
    """FERModel.scores gives a two-class decision as (-s, s): pooled, they gave another AUC (0.6952 for 0.6853)."""
    y, p = binary_probability
    result = roc_auc_ovr(y, columns(3 * p - 0.2), ["happy", "sad"])  # not centred on 0
    assert result["micro"] == pytest.approx(skm.roc_auc_score(y == "sad", p))


def test_a_label_spelling_a_class_another_way_is_refused():
    with pytest.raises(ValueError, match=r"'Happy' \(class 'happy'\)"):
        classification_metrics(["Happy", "sad", "sad"], ["happy", "sad", "sad"], ["happy", "sad"])


def test_a_label_spelling_no_class_still_counts_as_an_error():
    result = classification_metrics(["contempt", "sad"], ["sad", "sad"], ["happy", "sad"])
    assert result["classes"] == ["happy", "sad", "contempt"]


@pytest.mark.parametrize("y_true, classes, match", [
    ([0, 1], ["happy", "sad"], "No label of y_true"),
    (["happy", "sad"], "hs", "classes"),
    (["happy", "sad"], ["happy", "happy"], "more than once"),
    (None, ["happy", "sad"], "y_true is None"),
    (["Sad", "happy"], ["happy", "sad"], "spell one of the classes"),
])
def test_roc_auc_ovr_checks_labels_and_classes(y_true, classes, match):
    with pytest.raises(ValueError, match=match):
        roc_auc_ovr(y_true, [[0.2, 0.8], [0.7, 0.3]], classes)


def test_a_bool_number_of_resamples_is_refused():
    # scikit-learn's Interval(Integral) took True as one resample: a zero-width interval.
    with pytest.raises(ValueError, match="n_resamples=True: give a number of resamples"):
        accuracy_interval(["happy", "sad"], ["happy", "happy"], n_resamples=True)


def test_metrics_summary_names_the_count_n_test_and_keeps_the_halves():
    from fer_classic.evaluation import classification_metrics, metrics_summary

    metrics = classification_metrics(["a", "b"], ["a", "a"], ["a", "b"], groups=["PublicTest", "PrivateTest"],
                                     n_resamples=10)
    summary = metrics_summary(metrics)
    assert summary["n_test"] == 2 and "n" not in summary and summary["roc_auc_macro"] is None
    assert summary["accuracy_by_group"] == metrics["accuracy_by_group"]


@pytest.mark.parametrize("clf", ["logreg", "linear-svm"])
def test_model_scores_follow_the_canonical_classes(tiny_faces, clf):
    """The classifier's columns are sorted (scikit-learn's order); the model's follow its canonical classes."""
    from fer_classic import fit_model

    model = fit_model(tiny_faces, features="hog", clf=clf).model
    images = tiny_faces.select("test").images
    labels, _, scores, _ = model.predict_scores(images)
    assert model.classes == CLASSES and list(model.pipeline.classes_) == sorted(CLASSES)
    np.testing.assert_array_equal(np.array(model.classes)[scores.argmax(1)], labels)
    np.testing.assert_array_equal(model.scores(images)[1], scores)
