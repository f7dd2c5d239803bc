"""Classification metrics with class names taken from the model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

__all__ = ["classification_metrics", "format_confusion_matrix", "format_metrics"]


def classification_metrics(y_true, y_pred, classes: Sequence) -> dict:
    """Accuracy, weighted and macro F1, per-class scores and the confusion matrix.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    classes : sequence
        Class names in the model's order (``model.classes_``); rows and
        columns of the confusion matrix and the per-class entries follow it.
        Labels in ``y_true`` the model never saw count as errors.

    Returns
    -------
    dict
        ``accuracy``, ``f1_weighted``, ``f1_macro``, ``n``, ``classes``,
        ``per_class`` (name → precision, recall, f1, support) and
        ``confusion_matrix`` (list of rows: true class; columns: predicted).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = list(classes) + sorted(set(y_true.tolist()) - set(classes), key=str)
    # F1 averages run over the classes present in y_true or y_pred, like scikit-learn's.
    present = [c for c in labels if c in set(y_true.tolist()) | set(y_pred.tolist())]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_weighted": float(f1_score(y_true, y_pred, labels=present, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "classes": [str(c) for c in labels],
        "per_class": {
            str(c): {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for c, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def format_confusion_matrix(metrics: dict) -> str:
    """The confusion matrix as a text table (rows: true class, columns: predicted)."""
    names = metrics["classes"]
    width = max(8, *(len(n) + 1 for n in names))
    lines = ["true \\ pred".ljust(width) + "".join(n[:width - 1].rjust(width) for n in names)]
    for name, row in zip(names, metrics["confusion_matrix"]):
        lines.append(name.ljust(width) + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def format_metrics(metrics: dict) -> str:
    """Headline scores and the per-class table as text."""
    lines = [
        f"accuracy     {metrics['accuracy']:.4f}   (n={metrics['n']})",
        f"f1 weighted  {metrics['f1_weighted']:.4f}",
        f"f1 macro     {metrics['f1_macro']:.4f}",
        "",
        f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for name, row in metrics["per_class"].items():
        lines.append(
            f"{name:<10}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>10d}"
        )
    return "\n".join(lines)
