"""Figures of models and datasets (matplotlib, headless).

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot``: nothing opens a window or changes the user's backend, and PNG
rendering uses Agg. Save one with ``fig.savefig("x.png")`` or
:func:`figure_to_png`; notebooks display it as is. matplotlib is an optional
dependency (``pip install 'fer-classic[plot]'``), imported when a plot is made.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

from .._optional import import_optional
from ..data._levels import read_levels
from .._sklearn_compat import Integral, Interval, validate_params
from ._curves import CurveResult
from ._metrics import _ovr_inputs, normalize_confusion_matrix

__all__ = [
    "figure_to_png",
    "plot_average_faces",
    "plot_class_distribution",
    "plot_confusion_matrix",
    "plot_feature_pca",
    "plot_learning_curve",
    "plot_per_class_f1",
    "plot_roc_curves",
    "plot_sample_predictions",
    "plot_validation_curve",
]


def require_matplotlib(what: str = "fer-classic's plots") -> None:
    """Raise :class:`~fer_classic.exceptions.MissingDependencyError` naming the extra when matplotlib is missing.

    Parameters
    ----------
    what : str, default="fer-classic's plots"
        What needs matplotlib, named in the error.

    Raises
    ------
    MissingDependencyError
        If matplotlib is not installed.
    """
    import_optional("matplotlib", what)


def _figure(what: str, width: float, height: float):
    require_matplotlib(what)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def _plain(text) -> str:
    """``text`` shown as written: ``$`` escaped (matplotlib reads ``$...$`` as mathtext and fails on ``$x^$``), and
    a leading ``_`` kept behind a zero-width space (a legend drops labels starting with ``_``)."""
    text = str(text).replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text


def _plains(texts) -> list:
    return [_plain(t) for t in texts]


def figure_to_png(figure, *, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes (Agg, no window).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure to render.
    dpi : int, default=100
        Resolution.

    Returns
    -------
    bytes
        The PNG file's content.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def plot_confusion_matrix(metrics: dict, *, normalize: bool = True, title: str | None = None):
    """Heatmap of the confusion matrix, class names on both axes.

    Parameters
    ----------
    metrics : dict
        Output of :func:`classification_metrics` (``classes``, ``confusion_matrix``).
    normalize : bool, default=True
        Colour by the row-normalised share (recall on the diagonal) and write
        share and count in each cell; False colours by counts.
    title : str, optional
        Figure title; None: a default title naming the plot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = metrics["classes"]
    counts = np.asarray(metrics["confusion_matrix"])
    shares = normalize_confusion_matrix(counts)
    values = shares if normalize else counts
    side = 1.6 + 0.75 * len(names)
    fig = _figure("plot_confusion_matrix", side + 1.2, side)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else max(1, counts.max()))
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class" if normalize else "images")
    ax.set_xticks(range(len(names)), _plains(names), rotation=45, ha="right")
    ax.set_yticks(range(len(names)), _plains(names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = (values.max() if values.size else 0) / 2
    for i in range(len(names)):
        for j in range(len(names)):
            text = f"{shares[i, j]:.2f}\n{counts[i, j]}" if normalize else str(counts[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if values[i, j] > threshold else "black")
    ax.set_title(_plain(title or ("Confusion matrix (row-normalised)" if normalize else "Confusion matrix")))
    return fig


def plot_per_class_f1(metrics: dict, *, title: str | None = None):
    """Horizontal bars of each class's F1, with precision and recall marked and macro F1 dashed.

    Parameters
    ----------
    metrics : dict
        Output of :func:`classification_metrics`.
    title : str, optional
        Figure title; None: a default title naming the plot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(metrics["per_class"])
    rows = [metrics["per_class"][n] for n in names]
    fig = _figure("plot_per_class_f1", 7, 1.6 + 0.45 * len(names))
    ax = fig.add_subplot()
    y = np.arange(len(names))
    # A class neither in y_true nor predicted has no F1 (the averages leave it out): no bar, no markers.
    predicted = np.asarray(metrics["confusion_matrix"]).sum(axis=0)
    present = np.array([row["support"] > 0 or n > 0 for row, n in zip(rows, predicted)], bool)
    f1 = np.array([r["f1"] for r in rows])
    ax.barh(y[present], f1[present], color=np.array(_colors(len(names)))[present], alpha=0.85, label="F1")
    ax.scatter([r["precision"] for r, p in zip(rows, present) if p], y[present], marker="|", s=200,
               color="black", label="precision")
    ax.scatter([r["recall"] for r, p in zip(rows, present) if p], y[present], marker="x", color="black",
               label="recall")
    for yi, value, row, shown in zip(y, f1, rows, present):
        # At the bar's start, clear of the precision and recall markers further right.
        text = f"{value:.2f} (n={row['support']})" if shown else "absent: neither in the data nor predicted"
        ax.text(0.01, yi, text, va="center", ha="left", fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})
    ax.axvline(metrics["f1_macro"], ls="--", color="gray", label=f"macro F1 {metrics['f1_macro']:.2f}")
    ax.set_yticks(y, _plains(names))
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("score")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4, fontsize=8, frameon=False)
    ax.set_title(_plain(title or "Per-class F1"))
    return fig


def plot_roc_curves(y_true, scores, classes: Sequence, *, title: str | None = None):
    """One-vs-rest ROC curve of every class, and the micro-average.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Checked as :func:`roc_auc_ovr` checks it.
    scores : array-like of shape (n_samples, n_classes)
        ``predict_proba`` or ``decision_function`` output, columns following
        ``classes`` (one column for two classes, as :func:`roc_auc_ovr` takes it).
    classes : sequence
        The classes of the columns of ``scores``, in their order, each once
        (``model.classes`` for ``model.scores``, ``pipeline.classes_`` for ``predict_proba``).
    title : str, optional
        Figure title; None: a default title naming the plot.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        As :func:`roc_auc_ovr`.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    classes, indicator, scores, (pooled, pooled_scores) = _ovr_inputs(y_true, scores, classes)
    fig = _figure("plot_roc_curves", 6.5, 5.5)
    ax = fig.add_subplot()
    for j, (name, color) in enumerate(zip(classes, _colors(len(classes)))):
        column = indicator[:, j]
        if 0 < column.sum() < len(column):
            fpr, tpr, _ = roc_curve(column, scores[:, j])
            ax.plot(fpr, tpr, color=color, lw=1.5,
                    label=_plain(f"{name} (AUC {roc_auc_score(column, scores[:, j]):.3f})"))
    if 0 < pooled.sum() < len(pooled):
        fpr, tpr, _ = roc_curve(pooled, pooled_scores)
        ax.plot(fpr, tpr, color="black", ls=":", lw=2,
                label=f"micro-average (AUC {roc_auc_score(pooled, pooled_scores):.3f})")
    ax.plot([0, 1], [0, 1], color="gray", lw=0.8, ls="--")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(_plain(title or "ROC curves (one-vs-rest)"))
    return fig


def _same_length(**arrays: np.ndarray) -> None:
    """Refuse arrays of different lengths, naming them (numpy's broadcast or index error named none)."""
    lengths = {name: len(array) if np.ndim(array) else 0 for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError("one row per image is needed in each of "
                         + ", ".join(f"{name} ({n})" for name, n in lengths.items()) + ".")


def plot_sample_predictions(
    images,
    y_true,
    y_pred,
    *,
    n_correct: int = 8,
    n_wrong: int = 8,
    columns: int = 8,
    random_state: int | None = 0,
):
    """A grid of randomly drawn correct and wrong predictions, true vs predicted.

    Parameters
    ----------
    images : array-like of shape (n_samples, height, width)
        Gray levels 0..255; floats within 0..1 and 16-bit images are read as
        the models read them (scaled to 0..255, each image by its own values).
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    n_correct, n_wrong : int, default=8
        How many of each to show (fewer if there are fewer).
    columns : int, default=8
        Images per row of the grid.
    random_state : int or None, default=0
        Seed of the draw.

    Returns
    -------
    matplotlib.figure.Figure
        Correct ones first (green titles), then wrong ones (red titles).
    """
    images = np.asarray(images)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    _same_length(images=images, y_true=y_true, y_pred=y_pred)
    images = read_levels(images)  # drawn on 0..255, as the models read them: floats in 0..1 were black
    rng = np.random.default_rng(random_state)
    correct = np.flatnonzero(y_true == y_pred)
    wrong = np.flatnonzero(y_true != y_pred)
    chosen = [(i, True) for i in rng.permutation(correct)[:n_correct]]
    chosen += [(i, False) for i in rng.permutation(wrong)[:n_wrong]]
    rows = max(1, -(-len(chosen) // columns))
    fig = _figure("plot_sample_predictions", 1.35 * columns, 1.75 * rows)
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (i, ok) in zip(axes.ravel(), chosen):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        ax.set_title(_plain(f"true {y_true[i]}\npred {y_pred[i]}"), fontsize=8, color="green" if ok else "red")
    fig.suptitle(f"Sample predictions: {sum(ok for _, ok in chosen)} correct (green), "
                 f"{sum(not ok for _, ok in chosen)} wrong (red)", fontsize=10)
    return fig


def plot_class_distribution(dataset, *, title: str | None = None, split_names: Mapping | None = None):
    """Grouped bars of images per class in each split of a FaceDataset.

    Parameters
    ----------
    dataset : FaceDataset
        The images counted, by label and split.
    title : str, optional
        Figure title; None: a default title naming the plot.
    split_names : mapping, optional
        The legend's name of a split, where it is not the split's own (the
        held-out images a report scores as its ``"test"`` split).

    Returns
    -------
    matplotlib.figure.Figure
    """
    classes = dataset.classes
    splits = sorted(set(dataset.splits.tolist()), key=lambda s: ("train", "val", "test", "").index(s)
                    if s in ("train", "val", "test", "") else 9)
    fig = _figure("plot_class_distribution", 1.5 + 0.9 * len(classes), 4)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(splits))
    x = np.arange(len(classes))
    for k, (split, color) in enumerate(zip(splits, _colors(len(splits)))):
        mask = dataset.splits == split
        counts = [int(np.sum(mask & (dataset.labels == c))) for c in classes]
        bars = ax.bar(x + (k - (len(splits) - 1) / 2) * width, counts, width, color=color,
                      label=_plain(f"{(split_names or {}).get(split, split or 'unsplit')} ({int(mask.sum())})"))
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(x, _plains(classes), rotation=30, ha="right")
    ax.set_ylabel("images")
    ax.legend(fontsize=8)
    ax.set_title(_plain(title or "Images per class and split"))
    return fig


def plot_average_faces(images, labels, classes: Sequence | None = None, *, title: str | None = None):
    """The mean image of each class.

    Parameters
    ----------
    images : array-like of shape (n_samples, height, width)
        Gray levels 0..255; floats within 0..1 and 16-bit images are read as
        the models read them (scaled to 0..255, each image by its own values).
    labels : array-like of shape (n_samples,)
        Label of each image.
    classes : sequence, optional
        Order of the panels (default: canonical order of the labels present).
    title : str, optional
        Figure title; None: a default title naming the plot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..labels import sort_labels

    images = np.asarray(images)
    labels = np.asarray(labels)
    _same_length(images=images, labels=labels)
    order = sort_labels(labels.tolist()) if classes is None else list(classes)
    classes = [c for c in order if np.any(labels == c)]
    means, counts = _class_means(images, labels, classes)
    fig = _figure("plot_average_faces", 1.6 * max(1, len(classes)), 2.1)
    axes = fig.subplots(1, max(1, len(classes)), squeeze=False)[0]
    for ax, name, mean, count in zip(axes, classes, means, counts):
        ax.imshow(mean, cmap="gray", vmin=0, vmax=255)
        ax.set_title(_plain(f"{name}\n(n={count})"), fontsize=9)
        ax.axis("off")
    fig.suptitle(_plain(title or "Average face per class"), fontsize=10)
    return fig


#: Images summed at a time for the mean images: the float scratch memory stays that of this many images.
_MEAN_CHUNK = 1024


def _class_means(images: np.ndarray, labels: np.ndarray, classes: list) -> tuple[np.ndarray, list[int]]:
    """The mean image of each class (on the 8-bit scale, as models read) and the class's number of images.

    Sums a chunk of images at a time in float64: no float copy of every image
    (at 128k 48x48 images that was 2.4 GB for 7 means). Integer levels sum
    exactly, so uint8 images give the means of a float64 copy bit for bit.
    """
    sums = np.zeros((len(classes), *images.shape[1:]))
    counts = [int(np.count_nonzero(labels == name)) for name in classes]
    for start in range(0, len(images), _MEAN_CHUNK):
        # Floats in 0..1 (and 16-bit) on 0..255, each image by its own values; uint8 comes back uncopied.
        chunk = read_levels(images[start : start + _MEAN_CHUNK])
        chunk_labels = labels[start : start + _MEAN_CHUNK]
        for k, name in enumerate(classes):
            rows = chunk[chunk_labels == name]
            if len(rows):
                sums[k] += rows.astype(np.float64, copy=False).sum(axis=0)
    return sums / np.reshape(np.maximum(counts, 1), (-1, *(1,) * (images.ndim - 1))), counts


def pca_sample_rows(n_samples: int, max_points: int, random_state: int | None) -> np.ndarray | None:
    """Rows :func:`plot_feature_pca` draws out of ``n_samples``: sorted indices, or None for all of them.

    Parameters
    ----------
    n_samples : int
        Rows of the features.
    max_points : int
        Most rows drawn.
    random_state : int or None
        Seed of the draw.

    Returns
    -------
    ndarray of int or None
        None when ``n_samples <= max_points`` (every row is drawn).
    """
    if n_samples <= max_points:
        return None
    return np.sort(np.random.default_rng(random_state).choice(n_samples, max_points, replace=False))


#: Points of the PCA scatter: two or more (one point has no variance to project).
PCA_POINTS = Interval(Integral, 2, None, closed="left")


@validate_params({"max_points": [PCA_POINTS]}, prefer_skip_nested_validation=True)
def plot_feature_pca(
    features,
    labels,
    classes: Sequence | None = None,
    *,
    max_points: int = 2000,
    random_state: int | None = 0,
    title: str | None = None,
):
    """Scatter of the first two principal components of feature vectors, coloured by class.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        E.g. ``model.pipeline[:-1].transform(rows)`` (features after scaling).
    labels : array-like of shape (n_samples,)
        Label of each row, which colours its point.
    classes : sequence, optional
        Legend order (default: canonical order of the labels present).
    max_points : int, default=2000
        A seeded random subset of at most this many points (2 or more) is
        drawn and projected.
    random_state : int or None, default=0
        Seed of the subset and of the PCA.
    title : str, optional
        Figure title; None: a default title naming the plot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from sklearn.decomposition import PCA

    from ..labels import sort_labels

    features = np.asarray(features)  # as given: only the drawn rows are made float64 (float32 features: no copy)
    labels = np.asarray(labels)
    _same_length(features=features, labels=labels)
    keep = pca_sample_rows(len(features), max_points, random_state)
    if keep is not None:
        features, labels = features[keep], labels[keep]
    features = np.asarray(features, dtype=float)
    classes = sort_labels(labels.tolist()) if classes is None else list(classes)
    n_components = min(2, *features.shape)
    # One face, or identical ones, have no spread to project (PCA divided by n - 1 = 0, or by no variance).
    if len(features) < 2 or not np.ptp(features, axis=0).any():
        points, ratio = np.zeros((len(features), 2)), []
    else:
        pca = PCA(n_components=n_components, random_state=random_state)
        points, ratio = pca.fit_transform(features), pca.explained_variance_ratio_
    if points.shape[1] < 2:
        points = np.column_stack([points, np.zeros(len(points))])
    fig = _figure("plot_feature_pca", 7, 5.5)
    ax = fig.add_subplot()
    for name, color in zip(classes, _colors(len(classes))):
        mask = labels == name
        if mask.any():
            ax.scatter(points[mask, 0], points[mask, 1], s=6, alpha=0.6, color=color, label=_plain(name))
    ax.set_xlabel(f"PC 1 ({ratio[0]:.1%} of variance)" if len(ratio) else "PC 1")
    ax.set_ylabel(f"PC 2 ({ratio[1]:.1%} of variance)" if len(ratio) > 1 else "PC 2")
    ax.legend(markerscale=3, fontsize=8)
    ax.set_title(_plain(title or f"Features projected on 2 principal components ({len(points)} images)"))
    return fig


def _plot_curve(curve: CurveResult, what: str, title: str):
    fig = _figure(what, 6.5, 4.5)
    ax = fig.add_subplot()
    numeric = all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in curve.x)
    x = np.asarray(curve.x, dtype=float) if numeric else np.arange(len(curve.x))
    for which, name, color in (("train", "training", "tab:blue"), ("test", "cross-validation", "tab:orange")):
        mean, std, _ = curve.fold_statistics(which)
        ax.plot(x, mean, "o-", color=color, label=name)
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2)
    if numeric and curve.kind == "validation" and x.min() > 0 and x.max() / x.min() >= 100:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(x, _plains(curve.x), rotation=30, ha="right")
    ax.set_xlabel(_plain(curve.x_label))
    ax.set_ylabel(_plain(curve.scoring))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(_plain(title))
    return fig


def plot_learning_curve(curve: CurveResult, *, title: str | None = None):
    """Training and cross-validated score vs training size (mean ± std over folds).

    Parameters
    ----------
    curve : CurveResult
        From :func:`compute_learning_curve`.
    title : str, optional
        Figure title; None: a default title naming the plot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return _plot_curve(curve, "plot_learning_curve", title or "Learning curve")


def plot_validation_curve(curve: CurveResult, *, title: str | None = None):
    """Training and cross-validated score vs one parameter (log axis for wide positive ranges).

    Parameters
    ----------
    curve : CurveResult
        From :func:`compute_validation_curve`.
    title : str, optional
        Figure title; None: a default title naming the plot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return _plot_curve(curve, "plot_validation_curve", title or f"Validation curve: {curve.x_label}")
