"""Classification metrics with class names taken from the model."""

from __future__ import annotations

import numbers
import os
import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.utils.validation import column_or_1d

from .._sklearn_compat import Integral, Interval, Real, validate_params

__all__ = [
    "HELD_OUT",
    "MAX_RESAMPLES",
    "accuracy_interval",
    "warn_class_mismatch",
    "classification_metrics",
    "format_confusion_matrix",
    "format_metrics",
    "metrics_summary",
    "normalize_confusion_matrix",
    "roc_auc_ovr",
    "training_images_scored",
    "warn_training_images",
]


#: ``evaluate --split held-out``: the images a model's fit held out of unsplit data (recomputed).
HELD_OUT = "held-out"

#: Most bootstrap resamples :func:`accuracy_interval` draws: their accuracies are
#: held in memory, 8 bytes each (8 MB at this bound).
MAX_RESAMPLES = 1_000_000

#: The bootstrap's parameters, checked by ``validate_params`` wherever they are taken.
_BOOTSTRAP_CONSTRAINTS = {
    "n_resamples": [Interval(Integral, 1, MAX_RESAMPLES, closed="both")],
    "confidence": [Interval(Real, 0, 1, closed="neither")],
}


def _label_kind(value) -> str:
    if isinstance(value, str):
        return "text"
    if value is None or (isinstance(value, numbers.Real) and value != value):
        return "missing"
    return "number" if isinstance(value, numbers.Number) else "other"


def _check_labels(y, name: str) -> np.ndarray:
    """``y`` as a 1-D array of labels, all text or all numbers.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, 1)
        Labels; a column is flattened.
    name : str
        The parameter, for the messages (``"y_true"``).

    Returns
    -------
    ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        If ``y`` is not one label per sample, or holds a missing label (None
        or NaN), mixes text and numbers, or holds something else (a list).
    """
    y = np.asarray(y, dtype=object)  # object first: NumPy would make ["happy", None, 1] three strings
    try:
        y = column_or_1d(y)
    except ValueError:
        raise ValueError(f"{name} must be one label per sample, a 1-D array-like (or one column); got an "
                         f"array of shape {y.shape}.") from None
    values = y.tolist()
    kinds: dict[str, int] = {}
    for i, value in enumerate(values):
        kinds.setdefault(_label_kind(value), i)
    if "missing" in kinds:
        raise ValueError(f"{name} holds a missing label (None or NaN) at index {kinds['missing']}; give every "
                         "sample a class name, or leave the unlabelled ones out.")
    if "other" in kinds:
        i = kinds["other"]
        raise ValueError(f"{name} holds {values[i]!r} at index {i}; a label is a class name (text) or a number.")
    if len(kinds) > 1:
        text, number = values[kinds["text"]], values[kinds["number"]]
        raise ValueError(f"{name} mixes text and numeric labels (e.g. {text!r} and {number!r}); give every label "
                         "as the model names its classes (model.classes).")
    return np.asarray(values) if values else np.asarray([], dtype=object)


def _named(labels, limit: int = 5) -> str:
    """The first ``limit`` of ``labels``, and how many more."""
    labels = list(labels)
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return ", ".join(map(repr, labels[:limit])) + more


def _check_predictions(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels checked by :func:`_check_labels`: of one kind and length, at least one sample."""
    y_true, y_pred = _check_labels(y_true, "y_true"), _check_labels(y_pred, "y_pred")
    if len(y_true) and len(y_pred) and (y_true.dtype.kind == "U") != (y_pred.dtype.kind == "U"):
        true, pred = y_true[:1].tolist()[0], y_pred[:1].tolist()[0]
        raise ValueError(f"y_true and y_pred hold labels of two kinds (e.g. {true!r} and {pred!r}); give both as "
                         "the model names its classes (model.classes).")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}: give one prediction "
                         "per true label.")
    if len(y_true) == 0:
        raise ValueError("y_true is empty: the metrics need at least one sample.")
    return y_true, y_pred


@validate_params(
    {"y_true": ["array-like"], "y_pred": ["array-like"], **_BOOTSTRAP_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def accuracy_interval(
    y_true,
    y_pred,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the accuracy.

    The test images are resampled with replacement ``n_resamples`` times (each
    resample's count of correct predictions drawn from its binomial law, so the
    interval depends on the accuracy and the number of images, not on their
    order); the interval holds the central ``confidence`` share of the
    resampled accuracies. It measures the uncertainty due to the finite test
    set (not to training).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    n_resamples : int, default=1000
        Bootstrap resamples, 1 to :data:`MAX_RESAMPLES` (their accuracies
        are held in memory).
    confidence : float, default=0.95
        Coverage of the interval, in (0, 1).
    random_state : int or None, default=0
        Seed: the same inputs and seed give the same interval.

    Returns
    -------
    (low, high) : tuple of float

    Raises
    ------
    ValueError
        If ``n_resamples`` or ``confidence`` is out of range, ``y_true`` and
        ``y_pred`` differ in length, are not one label per sample, hold a
        missing label (None, NaN) or mix text and numbers, or there are no samples.
    """
    if isinstance(n_resamples, (bool, np.bool_)):  # scikit-learn's Interval(Integral) takes True as 1
        raise ValueError(f"n_resamples={n_resamples!r}: give a number of resamples (an int), not a bool.")
    y_true, y_pred = _check_predictions(y_true, y_pred)
    correct = y_true == y_pred
    n = len(correct)
    # A resample of n images with replacement holds a binomial count of correct ones: drawn so, the interval
    # depends on the hits and n alone, not on the images' order (drawing indices gave a reordered test set
    # another interval), and costs n_resamples draws rather than n_resamples x n indices.
    accuracies = np.random.default_rng(random_state).binomial(n, correct.mean(), size=int(n_resamples)) / n
    tail = (1.0 - float(confidence)) / 2.0 * 100.0
    low, high = np.percentile(accuracies, [tail, 100.0 - tail])
    return float(low), float(high)


def warn_class_mismatch(model_classes: Sequence, data_labels, *, model: str = "The model") -> list[str]:
    """Warn when the data holds classes the model cannot predict; return them.

    Such images count as errors whatever the model does, so the accuracy is
    not the model's accuracy on its own classes.

    Parameters
    ----------
    model_classes : sequence
        The classes the model predicts.
    data_labels : array-like
        The labels of the images scored.
    model : str, default="The model"
        How the warning names the model.

    Returns
    -------
    list of str
        The data's classes the model cannot predict (empty: no warning).

    Warns
    -----
    ClassMismatchWarning
        Naming the classes, their image counts and the fix.
    """
    from ..exceptions import ClassMismatchWarning

    labels, counts = np.unique(np.asarray(data_labels).astype(str), return_counts=True)
    known = {str(c) for c in model_classes}
    unknown = {str(lab): int(n) for lab, n in zip(labels, counts) if lab not in known}
    if unknown:
        listed = ", ".join(f"{lab} ({n} images)" for lab, n in unknown.items())
        warnings.warn(
            f"{model} predicts {len(known)} classes ({', '.join(map(str, model_classes))}) but the data also holds "
            f"{listed}: those images always count as wrong. Score the model on data of its own classes "
            "(e.g. a --label-map or a subset) to measure it on them.",
            ClassMismatchWarning, stacklevel=2,
        )
    return sorted(unknown)


def normalize_confusion_matrix(matrix) -> np.ndarray:
    """Divide each row (true class) by its total; rows without samples stay 0.

    Parameters
    ----------
    matrix : array-like of shape (n_classes, n_classes)
        Counts, rows true class, columns predicted class.

    Returns
    -------
    ndarray of float, same shape
        Row ``i`` is the share of class ``i``'s images predicted as each class
        (its diagonal entry is the recall of class ``i``).
    """
    matrix = np.asarray(matrix, dtype=float)
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def _is_probability(scores: np.ndarray) -> bool:
    """Whether a 1-D binary score reads as the positive class's probability: every value in [0, 1]."""
    return bool(scores.size) and bool(np.all((scores >= 0) & (scores <= 1)))


def _as_score_matrix(scores, classes: Sequence) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1 and len(classes) == 2:
        # One column scores the second class: its probability (predict_proba[:, 1]) when every value lies in
        # [0, 1], whose complement scores the first; else a decision function, whose negation does.
        scores = np.column_stack([1 - scores, scores] if _is_probability(scores) else [-scores, scores])
    if scores.ndim != 2 or scores.shape[1] != len(classes):
        raise ValueError(
            f"scores must have one column per class of the model ({len(classes)}: "
            f"{', '.join(map(str, classes))}); got an array of shape {scores.shape}. Pass "
            "model.scores(images)[1] with classes=model.classes, or pipeline.predict_proba / decision_function "
            "output with classes=pipeline.classes_ (their columns follow each)."
        )
    bad = ~np.isfinite(scores)
    if bad.any():  # scikit-learn said only "Input contains NaN."
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"scores holds values that are not finite numbers (NaN or infinity: "
                         f"{int(bad.sum())} of them), the first in row {row}, column {column} (class "
                         f"{classes[column]}); give finite scores, or scores=None to leave ROC AUC out.")
    return scores


def _unseen_labels(y_true: np.ndarray, classes: list) -> list:
    """The labels of ``y_true`` (checked) not among ``classes`` (checked), which count as errors.

    Raises
    ------
    ValueError
        If one of them spells a class another way (``"Happy"`` for ``happy``):
        it would be an extra class with every image wrong; or if none of
        ``y_true``'s labels is a class.
    """
    from ..labels import canonical_label

    known = set(classes)
    unseen = sorted(set(y_true.tolist()) - known, key=str)
    spelled = {}
    for label in unseen:
        try:
            name = canonical_label(label) if isinstance(label, str) else None
        except ValueError:  # no emotion's spelling: a class the model lacks, counted as errors
            name = None
        if name in known:
            spelled[label] = name
    if spelled:
        pairs = ", ".join(f"{label!r} (class {name!r})" for label, name in list(spelled.items())[:5])
        more = f" and {len(spelled) - 5} more" if len(spelled) > 5 else ""
        raise ValueError(f"y_true holds {pairs}{more}: labels that spell one of the classes another way, which "
                         "would count as an extra class with every image wrong. Map the labels to the class "
                         "names first (fer_classic.labels.canonical_label).")
    if len(unseen) == len(set(y_true.tolist())):
        raise ValueError(f"No label of y_true is one of the classes ({_named(classes, 10)}): y_true holds "
                         f"{_named(unseen)}, so the accuracy would be 0. Labels are compared exactly (spelling "
                         "and case): map them to the model's class names.")
    return unseen


def _ovr_inputs(y_true, scores, classes) -> tuple:
    """Checked inputs of a one-vs-rest ROC, shared by :func:`roc_auc_ovr` and ``plot_roc_curves``.

    Returns
    -------
    classes : list
    indicator : ndarray of shape (n_samples, n_classes)
        1 where a sample is of the column's class.
    scores : ndarray of shape (n_samples, n_classes)
    pooled : (labels, scores)
        The micro-average's decisions: every class-vs-rest decision pooled;
        for a decision function of two classes (one column, or two that negate
        each other), the second class's (see :func:`roc_auc_ovr`).
    """
    if y_true is None:
        raise ValueError("y_true is None: give the true label of every sample scored.")
    classes = _check_classes(classes)
    y_true = _check_labels(y_true, "y_true")
    if len(y_true) == 0:
        raise ValueError("y_true is empty: the ROC curves need at least one sample.")
    _unseen_labels(y_true, classes)
    matrix = _as_score_matrix(scores, classes)
    if len(matrix) != len(y_true):
        raise ValueError(f"scores has {len(matrix)} rows for {len(y_true)} labels in y_true.")
    indicator = np.column_stack([y_true == c for c in classes]).astype(int)
    # A two-class decision function, given as one column or as the two FERModel.scores gives (-s, s):
    # pooling [-s, s] assumes a threshold at 0, the second class's own AUC assumes nothing.
    # (Probabilities are never that: 1 - p is not -p.)
    if len(classes) == 2 and np.array_equal(matrix[:, 0], -matrix[:, 1]):
        return classes, indicator, matrix, (indicator[:, 1], matrix[:, 1])
    return classes, indicator, matrix, (indicator.ravel(), matrix.ravel())


def roc_auc_ovr(y_true, scores, classes: Sequence) -> dict:
    """One-vs-rest ROC-AUC per class, macro- and micro-averaged.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels. Labels the model does not know count as negatives of
        every class; checked as :func:`classification_metrics` checks them.
    scores : array-like of shape (n_samples, n_classes)
        ``predict_proba`` or ``decision_function`` output; column ``j`` scores
        ``classes[j]``. For two classes one column scoring ``classes[1]`` is
        accepted too: its probability when every value lies in [0, 1]
        (``predict_proba(X)[:, 1]``), else a decision function.
    classes : sequence
        Class names in the order of the columns of ``scores``, each once:
        ``model.classes`` for ``model.scores(images)[1]`` (canonical order),
        ``pipeline.classes_`` for a pipeline's ``predict_proba`` (sorted).

    Returns
    -------
    dict
        ``per_class`` (name → AUC, or None for a class with no positive or no
        negative sample), ``macro`` (mean over the classes that have a value)
        and ``micro`` (AUC of all class-vs-rest decisions pooled; it assumes the
        columns share one scale, true of probabilities, roughly of decision
        scores; for a one-column probability, that of its two columns, as
        scikit-learn's ``average="micro"``; for a decision function of two
        classes, one column or the two of ``model.scores`` (each the other's
        negation), the AUC of ``classes[1]``). None where undefined.

    Raises
    ------
    ValueError
        If ``classes`` is empty or names a class twice; ``y_true`` is not one
        label per sample, holds a missing label, no class, or a label spelling a
        class another way; or ``scores`` is not one finite score per class and sample.
    """
    classes, indicator, scores, (pooled, pooled_scores) = _ovr_inputs(y_true, scores, classes)
    per_class: dict[str, float | None] = {}
    for j, name in enumerate(classes):
        column = indicator[:, j]
        defined = 0 < column.sum() < len(column)
        per_class[str(name)] = float(roc_auc_score(column, scores[:, j])) if defined else None
    values = [v for v in per_class.values() if v is not None]
    micro = float(roc_auc_score(pooled, pooled_scores)) if 0 < pooled.sum() < len(pooled) else None
    return {"per_class": per_class, "macro": float(np.mean(values)) if values else None, "micro": micro}


#: The metric keys of every ``--json`` test score (fit, search, evaluate), in :func:`metrics_summary`'s order.
SUMMARY_METRIC_KEYS = ("accuracy", "accuracy_ci", "balanced_accuracy", "f1_weighted", "f1_macro", "roc_auc_macro",
                       "roc_auc_micro", "n_test", "classes", "per_class", "confusion_matrix")


def metrics_summary(metrics: dict) -> dict:
    """The JSON-ready test-score entries that ``fit``, ``search`` and ``evaluate`` (``--json``) all give.

    One function, so that a script reads the same keys for the same score
    whichever command computed it (fit's lacked the interval and balanced
    accuracy, search's the per-class scores and the FER2013 halves).

    Parameters
    ----------
    metrics : dict
        Output of :func:`classification_metrics`.

    Returns
    -------
    dict
        :data:`SUMMARY_METRIC_KEYS` (``n_test`` is ``metrics["n"]``; an entry
        ``metrics`` lacks is None), then ``accuracy_by_group`` where
        ``metrics`` has it.
    """
    found = {key: metrics.get("n" if key == "n_test" else key) for key in SUMMARY_METRIC_KEYS}
    if "accuracy_by_group" in metrics:
        found["accuracy_by_group"] = metrics["accuracy_by_group"]
    return found


@validate_params(
    {"y_true": ["array-like"], "y_pred": ["array-like"], "classes": ["array-like"], **_BOOTSTRAP_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def classification_metrics(
    y_true,
    y_pred,
    classes: Sequence,
    *,
    scores=None,
    groups=None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> dict:
    """Accuracy (with a bootstrap interval), F1s, per-class scores, confusion matrix, ROC-AUC.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels. Every label of ``y_pred`` must be one of
        ``classes``; labels of ``y_true`` the model never saw count as errors
        (listed after ``classes``), but at least one must be a class.
    classes : sequence
        Class names, each once; rows and columns of the confusion matrix and
        the per-class entries follow it. With ``scores``, the order of their
        columns: ``model.classes`` for ``model.scores(images)[1]`` (canonical
        order), ``pipeline.classes_`` for a pipeline's ``predict_proba`` (sorted).
    scores : array-like of shape (n_samples, n_classes), optional
        Per-class scores (``model.scores(images)[1]``, ``predict_proba`` or
        ``decision_function`` output), columns following ``classes``; gives
        the one-vs-rest ROC-AUC. Without it the AUC entries are None.
    groups : array-like of shape (n_samples,), optional
        A name per sample, e.g. FER2013's usages (``PublicTest``,
        ``PrivateTest``); with two or more non-empty names, the accuracy of
        each is reported too, from the same predictions.
    n_resamples : int, default=1000
        Bootstrap resamples of the accuracy interval, see :func:`accuracy_interval`.
    confidence : float, default=0.95
        Coverage of the accuracy interval, in (0, 1).
    random_state : int or None, default=0
        Seed of the bootstrap.

    Returns
    -------
    dict
        ``accuracy``, ``accuracy_ci`` ([low, high]), ``confidence``,
        ``balanced_accuracy``, ``f1_weighted``, ``f1_macro``, ``n``, ``classes``,
        ``per_class`` (name → precision, recall, f1, support, roc_auc),
        ``confusion_matrix`` (list of rows: true class; columns: predicted),
        ``confusion_matrix_normalized`` (rows divided by their totals),
        ``roc_auc_macro`` and ``roc_auc_micro`` (None without ``scores``);
        with ``groups``, ``accuracy_by_group`` (name → accuracy, n).
        Every value is JSON-ready. A class of ``classes`` with no test image
        and no prediction keeps its ``per_class`` entry (precision, recall and
        f1 0.0, as scikit-learn's ``zero_division=0``; support 0; roc_auc None)
        and its confusion-matrix row (zeros), but the macro averages
        (``f1_macro``, ``balanced_accuracy``, ``roc_auc_macro``) run over the
        classes present in ``y_true`` or ``y_pred`` only, so they are not the
        mean of every ``per_class`` row.

    Raises
    ------
    ValueError
        If ``classes`` names a class twice or none; ``y_true`` and ``y_pred``
        differ in length, are not one label per sample, hold a missing label
        (None, NaN) or mix text and numbers; ``y_pred`` holds a label not in
        ``classes``; no label of ``y_true`` is in ``classes`` (its spelling or
        case differs: the accuracy would be 0), or one spells a class another
        way (``"Happy"`` for ``happy``: map the labels first); or ``n_resamples`` or
        ``confidence`` is out of range (checked before any metric).
    """
    y_true, y_pred = _check_predictions(y_true, y_pred)
    classes = _check_classes(classes)
    known = set(classes)
    foreign = sorted(set(y_pred.tolist()) - known, key=str)
    if foreign:
        raise ValueError(f"y_pred holds {_named(foreign)}, not among the classes ({_named(classes, 10)}); pass "
                         "the predictions of the model whose classes are given (classes=model.classes).")
    unseen = _unseen_labels(y_true, classes)
    labels = classes + unseen
    # F1 averages run over the classes present in y_true or y_pred, like scikit-learn's.
    present = [c for c in labels if c in set(y_true.tolist()) | set(y_pred.tolist())]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    auc = roc_auc_ovr(y_true, scores, list(classes)) if scores is not None else None
    low, high = accuracy_interval(
        y_true, y_pred, n_resamples=n_resamples, confidence=confidence, random_state=random_state
    )
    # Balanced accuracy, as scikit-learn's: the mean recall over the classes y_true holds (predictions of other
    # classes are simply errors). From the recalls above: balanced_accuracy_score built a second confusion matrix,
    # and warned of a single label and of predicted classes not in y_true.
    balanced = float(recall[support > 0].mean())
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "accuracy_ci": [low, high],
        "confidence": float(confidence),
        "balanced_accuracy": balanced,
        "f1_weighted": float(f1_score(y_true, y_pred, labels=present, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "roc_auc_macro": auc["macro"] if auc else None,
        "roc_auc_micro": auc["micro"] if auc else None,
        "classes": [str(c) for c in labels],
        "per_class": {
            str(c): {
                "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s),
                "roc_auc": auc["per_class"].get(str(c)) if auc else None,
            }
            for c, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "confusion_matrix": matrix.tolist(),
        "confusion_matrix_normalized": normalize_confusion_matrix(matrix).round(6).tolist(),
        **_accuracy_by_group(y_true, y_pred, groups),
    }


def _check_classes(classes) -> list:
    """``classes`` as a list of distinct labels (see :func:`_check_labels`); none, or one twice, refused."""
    classes = _check_labels(classes, "classes").tolist()
    if not classes:
        raise ValueError("classes is empty: give the model's class names (model.classes).")
    twice = sorted((c for c, n in Counter(classes).items() if n > 1), key=str)
    if twice:
        raise ValueError(f"classes names {_named(twice)} more than once; give each class once, in the model's "
                         "order (model.classes).")
    return classes


def _accuracy_by_group(y_true: np.ndarray, y_pred: np.ndarray, groups) -> dict:
    """``{"accuracy_by_group": {name: {accuracy, n}}}`` for two or more non-empty group names, else ``{}``."""
    if groups is None:
        return {}
    groups = np.asarray(groups).astype(str)
    if len(groups) != len(y_true):
        raise ValueError(f"groups has {len(groups)} names but y_true has {len(y_true)} labels.")
    names = sorted(set(groups.tolist()) - {""})
    if len(names) < 2:
        return {}
    parts = {}
    for name in names:
        mine = groups == name
        parts[name] = {"accuracy": float(accuracy_score(y_true[mine], y_pred[mine])), "n": int(mine.sum())}
    return {"accuracy_by_group": parts}


def format_confusion_matrix(metrics: dict) -> str:
    """The confusion matrix as a text table (rows: true class, columns: predicted).

    Parameters
    ----------
    metrics : dict
        From :func:`classification_metrics`.

    Returns
    -------
    str
        One line per true class.
    """
    names = metrics["classes"]
    width = max(8, *(len(n) + 1 for n in names))
    lines = ["true \\ pred".ljust(width) + "".join(n[:width - 1].rjust(width) for n in names)]
    for name, row in zip(names, metrics["confusion_matrix"]):
        lines.append(name.ljust(width) + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def _auc_text(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def interval_name(confidence: float) -> str:
    """How the accuracy interval is named in text and reports: ``"95% bootstrap interval"`` (0.975: 97.5%)."""
    return f"{confidence * 100:g}% bootstrap interval"


def format_metrics(metrics: dict) -> str:
    """Headline scores and the per-class table as text.

    Parameters
    ----------
    metrics : dict
        From :func:`classification_metrics`.

    Returns
    -------
    str
        Several lines of text.
    """
    lines = [f"accuracy     {metrics['accuracy']:.4f}   (n={metrics['n']})"]
    if metrics.get("accuracy_ci"):
        low, high = metrics["accuracy_ci"]
        share = metrics.get("confidence", 0.95)
        lines[0] += f"   {interval_name(share)} {low:.4f}..{high:.4f}"
    for name, part in metrics.get("accuracy_by_group", {}).items():
        lines.append(f"  {name:<11} {part['accuracy']:.4f}   (n={part['n']})")
    if "balanced_accuracy" in metrics:
        lines.append(f"balanced acc {metrics['balanced_accuracy']:.4f}")
    lines += [
        f"f1 weighted  {metrics['f1_weighted']:.4f}",
        f"f1 macro     {metrics['f1_macro']:.4f}",
    ]
    if metrics.get("roc_auc_macro") is not None:
        lines.append(f"roc-auc      macro {_auc_text(metrics['roc_auc_macro'])}   "
                     f"micro {_auc_text(metrics.get('roc_auc_micro'))}   (one-vs-rest)")
    with_auc = any(row.get("roc_auc") is not None for row in metrics["per_class"].values())
    lines += ["", f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"
              + (f"{'roc-auc':>10}" if with_auc else "")]
    for name, row in metrics["per_class"].items():
        line = (f"{name:<10}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}"
                f"{row['support']:>10d}")
        if with_auc:
            line += f"{_auc_text(row.get('roc_auc')):>10}"
        lines.append(line)
    return "\n".join(lines)


def held_out_test(metadata: dict) -> bool:
    """Whether a model's fit held its test images out of its training data (``metadata["held_out_test"]``).

    Models from ``search`` before it recorded that say so only in their
    metrics' ``split``.
    """
    return bool(metadata.get("held_out_test") or (metadata.get("metrics") or {}).get("split") == "held-out test")


def _same_source(training: dict, name: str) -> bool:
    """Whether a model's recorded training source and a dataset's name are the same data (a path or a name).

    By the absolute path recorded at fit time where there is one (a relative
    name means another folder from another working folder); else, for models
    saved before it, by the name or the file.
    """
    recorded = training.get("source_path") or training["source"]
    if not training.get("source_path") and str(recorded) == str(name):
        return True
    try:
        return os.path.samefile(recorded, name)
    except (OSError, ValueError):  # not both existing paths (a name such as "synthetic", or moved files)
        return str(recorded) == str(name) and not os.path.exists(str(name))


def _same_images(model, data) -> bool:
    """Whether ``data`` (a FaceDataset) gives back the images ``model`` was trained on: the fingerprint it records.

    A copy of the training data under another name or path: its ``train`` split (or all of it) has
    the recorded fingerprint (or, its images in another order, the recorded content fingerprint: a
    model fitted on a train split; the hold-out of the others follows the images' order),
    or, for a model that held its test out of data without a test split,
    the hold-out recomputed from it does (as ``evaluate --split held-out`` checks it). An image
    listing (``--backend dask``/``ray``: no pixels) is never recognised so.
    """
    metadata = getattr(model, "metadata", None) or {}
    recorded = (metadata.get("training") or {}).get("fingerprint")
    if not recorded or not callable(getattr(data, "fingerprint", None)) or not len(data):
        return False
    pool = data.select("train") if data.has_split("train") else data
    if not (held_out_test(metadata) and metadata.get("hold_out")) or data.has_split("test"):
        content = (metadata.get("training") or {}).get("content_fingerprint")  # older models: none
        return pool.fingerprint() == recorded or (content is not None and pool.content_fingerprint() == content)
    # Cheap refusals first: recomputing the hold-out groups every image (about a second for 14,000).
    training = metadata.get("training") or {}
    n_train, n_test = training.get("n_train"), (metadata.get("metrics") or {}).get("n")
    if isinstance(n_train, int) and n_train >= len(pool):  # too few images to have held a test out of
        return False
    deduped = isinstance(metadata["hold_out"], dict) and metadata["hold_out"].get("dedupe")
    if isinstance(n_train, int) and isinstance(n_test, int) and not deduped and n_train + n_test != len(pool):
        # Without --dedupe, the hold-out split every image of the data.
        return False
    counts = training.get("class_counts")
    if isinstance(counts, dict) and any(pool.class_counts().get(label, 0) < n for label, n in counts.items()
                                        if isinstance(n, int)):
        return False
    from ..exceptions import DatasetError
    from ..workflow import _recompute_held_out

    try:
        _recompute_held_out(model, data)  # checks the recomputed training part's fingerprint
    except DatasetError:
        return False
    return True


def training_images_scored(model, data, split: str | None) -> int:
    """How many of the images ``split`` (None: all) selects from ``data`` may be ``model``'s training images.

    A rule from the model's metadata: ``data`` (a FaceDataset or an image
    listing: ``name``, ``splits`` and ``usages``) is the one the model
    records as its training source (the same file or folder, by the absolute
    path recorded at fit time; by name for generated data and older models),
    or a copy of it (a FaceDataset whose training part has the fingerprint
    the model records, as ``evaluate --split held-out`` checks it), and the
    images scored lie in the part it was trained from: the ``train`` split,
    or every image of data without one (its fit held a share out of them).

    Parameters
    ----------
    model : FERModel
        The model scored.
    data : FaceDataset or image listing
        The data scored.
    split : str or None
        The split scored; None: every image.

    Returns
    -------
    int
        Images scored that lie in the part the model was trained from (0: none).
    """
    from ..data._dataset import split_mask

    training = (getattr(model, "metadata", None) or {}).get("training") or {}
    if not training.get("source") or not (_same_source(training, getattr(data, "name", ""))
                                          or _same_images(model, data)):
        return 0
    everything = np.ones(len(data.splits), dtype=bool)
    pool = split_mask(data.splits, data.usages, "train")
    pool = pool if pool.any() else everything
    scored = split_mask(data.splits, data.usages, split) if split else everything
    return int((pool & scored).sum())


def deduped_as_fit(model, data, split: str | None):
    """``(deduped data, dropped, scored)`` when ``model`` was fitted on ``data`` with ``--dedupe``, else None.

    ``fit --dedupe`` scored its test without the images dedupe drops (test
    copies of training images, repeats within a split): ``deduped data`` is
    ``data`` without them (:func:`fer_classic.data.dedupe`), ``dropped`` how
    many of the ``scored`` images ``split`` (None: all) selects are gone.
    Only for the data the model was fitted on (:func:`training_images_scored`'s rule).
    """
    from ..data import dedupe
    from ..data._dataset import split_mask

    if (getattr(model, "metadata", None) or {}).get("dedupe") is not True or not training_images_scored(
            model, data, None):
        return None
    deduped = dedupe(data)

    def count(dataset) -> int:
        return int(split_mask(dataset.splits, dataset.usages, split).sum()) if split else len(dataset)

    return deduped, count(data) - count(deduped), count(data)


def warn_training_images(model, data, split: str | None, *, name: str = "The model", held_out_note: str = "") -> int:
    """Warn when the images ``split`` selects from ``data`` include ``model``'s own training images.

    See :func:`training_images_scored` for the rule; the warning says how to
    score only images the model was not trained on (``held_out_note`` follows
    the ``--split held-out`` advice). Returns how many images scored lie in
    the part it was trained from (0: no warning).

    Parameters
    ----------
    model : FERModel
        The model scored.
    data : FaceDataset or image listing
        The data scored.
    split : str or None
        The split scored; None: every image.
    name : str, default="The model"
        How the warning names the model.
    held_out_note : str, default=""
        Appended to the ``--split held-out`` advice.

    Returns
    -------
    int
        Images scored that lie in the part the model was trained from (0: no warning).

    Warns
    -----
    DataLeakageWarning
        Naming the data, the training images and what to score instead.
    """
    from ..exceptions import DataLeakageWarning

    overlap = training_images_scored(model, data, split)
    if not overlap:
        return 0
    metadata = model.metadata
    training = metadata["training"]
    scored = f"the {'whole dataset' if split is None else f'{split!r} split'}"
    if held_out_test(metadata):
        n_train = training.get("n_train")
        if metadata.get("hold_out"):
            advice = (f"score only the images its fit held out with evaluate --split {HELD_OUT}{held_out_note} "
                      f"(evaluate_model(..., split={HELD_OUT!r})), recomputed from the seed, test_size and groups "
                      "the model records, or score it on data it was not trained on")
        else:
            advice = ("its held-out images cannot be recomputed (the model, fitted by an older fer-classic, does "
                      "not record its hold-out's test_size), so score it on data it was not trained on")
        text = (f"{name} was fitted on {training['source']}, holding out part of it as the test: the {overlap} "
                f"images of {scored} include the {'' if n_train is None else f'{n_train} '}images it was "
                f"trained on, so this score includes training images and overstates its accuracy; {advice}.")
    else:
        text = (f"{name} was fitted on the train split of {training['source']}: {scored} includes those "
                f"{overlap} training images, so this score includes training images and overstates its accuracy; "
                "score --split test (or another split it was not trained on).")
    warnings.warn(text, DataLeakageWarning, stacklevel=2)
    return overlap
