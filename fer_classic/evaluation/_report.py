"""A self-contained HTML report of a model on one dataset split, with metrics.json and predictions.csv."""

from __future__ import annotations

import base64
import html
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._display import valid_text
from .._fileio import csv_writer, write_together
from .._json import output_json
from .._sklearn_compat import validate_parameter_constraints
from .._version import __version__
from ..exceptions import ReportError
from ..persistence._model import check_fer_model
from ._metrics import _BOOTSTRAP_CONSTRAINTS, classification_metrics, interval_name
from ._plots import (
    PCA_POINTS,
    figure_to_png,
    plot_average_faces,
    plot_class_distribution,
    plot_confusion_matrix,
    plot_feature_pca,
    plot_per_class_f1,
    plot_roc_curves,
    pca_sample_rows,
    plot_sample_predictions,
    require_matplotlib,
)

__all__ = ["REPORT_FILES", "REPORT_PLOTS", "Predictions", "Report", "predict_with_scores", "write_report"]

#: The files ``write_report`` writes into its folder.
REPORT_FILES = ("report.html", "metrics.json", "predictions.csv")

#: Plot id → caption, in the order the report shows them.
REPORT_PLOTS = {
    "confusion-matrix": "Confusion matrix (rows: true class, share and count per cell)",
    "per-class-f1": "Per-class F1, precision (|) and recall (x)",
    "roc-curves": "One-vs-rest ROC curves",
    "sample-predictions": "Sample predictions, correct and wrong",
    "class-distribution": "Images per class in each split of the dataset",
    "average-faces": "Average face per class (evaluated images)",
    "feature-pca": "Model features (after scaling) on two principal components",
}

#: Plots shown across the full page width.
_WIDE_PLOTS = ("sample-predictions", "average-faces", "class-distribution")


@dataclass
class Predictions:
    """Labels, per-class scores and features of a batch of images.

    Attributes
    ----------
    labels : ndarray of shape (n_samples,)
    score_kind : {"probability", "decision"}
    scores : ndarray of shape (n_samples, n_classes)
        Columns follow the model's classes.
    features : ndarray of shape (n_samples, n_features)
        Input of the classifier (after every earlier pipeline step).
    seconds : dict
        ``features`` and ``predict`` seconds.
    """

    labels: np.ndarray
    score_kind: str
    scores: np.ndarray
    features: np.ndarray
    seconds: dict = field(default_factory=dict)


def predict_with_scores(model, images) -> Predictions:
    """Predict labels and per-class scores, extracting features once.

    Parameters
    ----------
    model : FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model``.
    images : array-like of shape (n, height, width) or flattened rows
        uint8 images of the model's geometry.

    Returns
    -------
    Predictions
        Scores are ``predict_proba`` where the classifier has it, else
        ``decision_function`` (as :meth:`FERModel.scores`).
    """
    seconds: dict = {}
    labels, kind, scores, features = model.predict_scores(images, timings=seconds)
    return Predictions(labels, kind, scores, features, seconds)


@dataclass
class Report:
    """What :func:`write_report` wrote.

    Attributes
    ----------
    metrics : dict
        :func:`classification_metrics` output (with ROC-AUC).
    html, metrics_json, predictions_csv : Path
        The files written.
    split : str
    n : int
        Images evaluated.
    score_kind : str
    timings : dict
        Seconds per stage.
    """

    metrics: dict
    html: Path
    metrics_json: Path
    predictions_csv: Path
    split: str
    n: int
    score_kind: str
    timings: dict

    def summary(self) -> dict:
        """JSON-ready summary: headline scores and file paths.

        Returns
        -------
        dict
            The headline scores, ``n``, ``split``, ``score_kind``, ``seconds`` and the
            paths of ``report``, ``metrics_json`` and ``predictions_csv``.
        """
        return {
            **{k: self.metrics[k] for k in ("accuracy", "accuracy_ci", "balanced_accuracy", "f1_weighted",
                                            "f1_macro", "roc_auc_macro", "roc_auc_micro", "accuracy_by_group")
               if k in self.metrics},
            "n": self.n,
            "split": self.split,
            "score_kind": self.score_kind,
            "seconds": self.timings,
            "report": str(self.html),
            "metrics_json": str(self.metrics_json),
            "predictions_csv": str(self.predictions_csv),
        }


def _prepare_dir(out_dir: str | os.PathLike) -> tuple[Path, Path | None]:
    """``out_dir`` created; and the topmost folder this call created (None: it existed), to remove on failure."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"Report folder {out_dir} exists and is a file; give a folder path (it is created).")
    created = None
    for folder in (out_dir, *out_dir.parents):
        if folder.exists():
            break
        created = folder
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"Cannot create report folder {out_dir}: {exc.strerror or exc}.") from exc
    return out_dir, created


def _remove_created(out_dir: Path, created: Path | None) -> None:
    """Remove the folders :func:`_prepare_dir` created, from ``out_dir`` up, while they are empty."""
    if created is None:
        return
    for folder in (out_dir, *out_dir.parents):
        try:
            folder.rmdir()  # only an empty folder: never what another process wrote into it
        except OSError:
            return
        if folder == created:
            return


def _check_split_classes(model, data, subset, split_name: str) -> None:
    """Refuse a split none of whose images is of a class the model predicts (its accuracy would be 0)."""
    present = sorted(set(subset.y.tolist()), key=str)
    if present and not set(present) & set(model.classes):
        raise ReportError(
            f"The {split_name!r} images of {data.name!r} are all of classes the model does not predict "
            f"({', '.join(map(str, present))}; it predicts {', '.join(map(str, model.classes))}), so every one "
            "would count as wrong: score the model on data holding its classes, or a model fitted on these."
        )


def _predictions_csv(sources, y_true, predictions: Predictions, classes: list[str],
                     usages=None) -> Callable[[Path], None]:
    # A last "usage" column where the images have one (FER2013's PublicTest / PrivateTest): the halves the
    # metrics give can be recomputed from the file, as from a class folder's file names (not from CSV rows).
    usages = None if usages is None or not any(usages) else list(usages)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="", errors="surrogateescape") as handle:
            writer = csv_writer(handle)
            writer.writerow(["source", "true", "predicted", "correct", "score_kind", *classes]
                            + (["usage"] if usages else []))
            for i, (source, true, pred, row) in enumerate(zip(sources, y_true, predictions.labels,
                                                              predictions.scores)):
                writer.writerow([source, true, pred, int(true == pred), predictions.score_kind,
                                 *(f"{v:.6g}" for v in row)] + ([usages[i]] if usages else []))

    return write


def _plots(model, data, subset, predictions: Predictions, metrics: dict, random_state, max_pca_points,
           split_names, pca_rows) -> dict:
    # predictions.features holds only the rows pca_rows picks (all rows when None), the points the PCA draws.
    classes = model.classes
    pca_labels = subset.y if pca_rows is None else np.asarray(subset.y)[pca_rows]
    makers = {
        "confusion-matrix": lambda: plot_confusion_matrix(metrics),
        "per-class-f1": lambda: plot_per_class_f1(metrics),
        "roc-curves": lambda: plot_roc_curves(
            subset.y, predictions.scores, classes,
            title=f"ROC curves (one-vs-rest, from {predictions.score_kind} scores)"),
        "sample-predictions": lambda: plot_sample_predictions(
            subset.images, subset.y, predictions.labels, random_state=random_state),
        "class-distribution": lambda: plot_class_distribution(data, split_names=split_names),
        "average-faces": lambda: plot_average_faces(subset.images, subset.y, classes),
        "feature-pca": lambda: plot_feature_pca(
            predictions.features, pca_labels, classes, max_points=max_pca_points, random_state=random_state),
    }
    return {name: base64.b64encode(figure_to_png(make())).decode("ascii") for name, make in makers.items()}


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1200px;
color:#222;padding:0 16px}
h1{font-size:1.6em;margin-bottom:0}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
.sub{color:#666;margin-top:4px}
table{border-collapse:collapse;font-size:0.92em}td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #aaa}
.grid{display:grid;grid-template-columns:minmax(320px,1fr) minmax(420px,1.3fr);gap:24px;align-items:start}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{background:#f5f7fa;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:1.35em}.card span{color:#555;font-size:0.85em}
figure{margin:0 0 18px 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
.plots{display:grid;grid-template-columns:1fr 1fr;gap:18px;align-items:start}.plots .wide{grid-column:1 / -1}
figcaption{color:#555;font-size:0.9em}
details{margin:8px 0}code{background:#f3f3f3;padding:1px 4px}
"""


def _fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _escape(value) -> str:
    """``value`` as HTML text; a non-UTF-8 file name's bytes as ``\\xff`` (the page says it is UTF-8)."""
    return html.escape(valid_text(str(value)))


def _html(model, data, subset, split: str, metrics: dict, predictions: Predictions, images: dict,
          timings: dict) -> str:
    e = _escape
    meta = model.metadata
    low, high = metrics["accuracy_ci"]
    cards = [
        ("accuracy", f"{metrics['accuracy']:.3f}",
         f"{interval_name(metrics['confidence'])} {low:.3f}–{high:.3f}"),
        ("balanced accuracy", f"{metrics['balanced_accuracy']:.3f}", "mean recall over classes"),
        ("F1 weighted", f"{metrics['f1_weighted']:.3f}", "by support"),
        ("F1 macro", f"{metrics['f1_macro']:.3f}", "unweighted mean"),
        ("ROC-AUC macro", _fmt(metrics["roc_auc_macro"]), f"one-vs-rest, {predictions.score_kind} scores"),
        ("ROC-AUC micro", _fmt(metrics["roc_auc_micro"]),
         "the second class's decision" if len(metrics["classes"]) == 2 and predictions.score_kind == "decision"
         else "pooled class-vs-rest"),
        ("images", str(metrics["n"]), f"split {split}"),
        *((f"accuracy, {name}", f"{part['accuracy']:.3f}", f"{part['n']} images")
          for name, part in metrics.get("accuracy_by_group", {}).items()),
    ]
    card_html = "".join(f'<div class="card"><span>{e(t)}</span><b>{e(v)}</b><span>{e(s)}</span></div>'
                        for t, v, s in cards)
    rows = "".join(
        f"<tr><td>{e(name)}</td><td>{r['precision']:.3f}</td><td>{r['recall']:.3f}</td><td>{r['f1']:.3f}</td>"
        f"<td>{r['support']}</td><td>{_fmt(r.get('roc_auc'))}</td></tr>"
        for name, r in metrics["per_class"].items()
    )
    per_class = (
        '<table id="per-class"><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>'
        f"<th>support</th><th>ROC-AUC</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    names = metrics["classes"]
    matrix_rows = "".join(
        f"<tr><th>{e(name)}</th>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>"
        for name, row in zip(names, metrics["confusion_matrix"])
    )
    matrix_table = (
        '<details><summary>Confusion matrix as a table (counts)</summary><table id="confusion-table"><thead><tr>'
        "<th>true \\ predicted</th>" + "".join(f"<th>{e(n)}</th>" for n in names)
        + f"</tr></thead><tbody>{matrix_rows}</tbody></table></details>"
    )

    def figure(name: str) -> str:
        wide = ' class="wide"' if name in _WIDE_PLOTS else ""
        return (f'<figure id="plot-{name}"{wide}><img alt="{e(REPORT_PLOTS[name])}" '
                f'src="data:image/png;base64,{images[name]}"><figcaption>{e(REPORT_PLOTS[name])}'
                "</figcaption></figure>")

    training = meta.get("training", {})
    model_rows = [
        ("features", meta.get("features")), ("classifier", meta.get("classifier")),
        ("classes", ", ".join(model.classes)), ("image size", "x".join(map(str, model.image_shape))),
        ("trained on", f"{training.get('source', '?')} ({training.get('n_train', '?')} images)"),
        ("created", meta.get("created")),
        ("fit seconds", meta.get("timings", {}).get("fit")),
        ("parameters", ", ".join(f"{k}={v}" for k, v in sorted(meta.get("params", {}).items()))),
        ("versions", ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())),
    ]
    model_table = "<table>" + "".join(
        f"<tr><td>{e(str(k))}</td><td style='text-align:left'>{e(str(v))}</td></tr>" for k, v in model_rows
    ) + "</table>"
    skipped = (f"<p><b>{len(data.skipped)}</b> file(s) could not be decoded and were skipped "
               "(left untouched on disk).</p>" if data.skipped else "")
    rest = "".join(figure(n) for n in REPORT_PLOTS if n not in ("confusion-matrix",))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fer-classic report: {e(str(meta.get('features')))} + {e(str(meta.get('classifier')))} on {e(data.name)}</title>
<style>{_CSS}</style></head>
<body>
<h1>fer-classic report: {e(str(meta.get('features')))} + {e(str(meta.get('classifier')))}</h1>
<p class="sub">Data <code>{e(data.name)}</code>, split <b>{e(split)}</b>: {len(subset)} images, classes
{e(', '.join(model.classes))}. Seconds: {e(', '.join(f'{k} {v:.2f}' for k, v in timings.items()))}.</p>
{skipped}
<div class="cards">{card_html}</div>
<div class="grid">
<section><h2>Per-class scores</h2>{per_class}{matrix_table}</section>
<section><h2>Confusion matrix</h2>{figure('confusion-matrix')}</section>
</div>
<h2>Plots</h2>
<div class="plots">{rest}</div>
<h2>Model</h2>{model_table}
<p class="sub">Files beside this report: <code>metrics.json</code> (every number above) and
<code>predictions.csv</code> (one row per image: source, true, predicted, per-class {e(predictions.score_kind)}
scores{', usage' if any(subset.usages) else ''}). Generated by fer-classic {e(__version__)}.</p>
</body></html>
"""


def write_report(
    model,
    data,
    out_dir: str | os.PathLike,
    *,
    split: str | None = "test",
    split_name: str | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
    max_pca_points: int = 2000,
) -> Report:
    """Evaluate ``model`` on a split of ``data`` and write report.html, metrics.json, predictions.csv.

    ``report.html`` is one self-contained file (plots embedded as base64 PNG,
    CSS inline, no script, nothing fetched), readable from disk in any browser.
    All three are valid UTF-8: a file name that is not is written with its
    undecodable bytes as ``\\xNN`` (``\\xff``) in each; metrics.json is strict
    JSON, a number no image defined as null (:func:`fer_classic._json.output_json`).

    Parameters
    ----------
    model : FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model``.
    data : FaceDataset or path
        The whole dataset at the model's image geometry (its other splits feed
        the class-distribution plot). A path is loaded here at the model's
        geometry, its images cut with the face cropper the model records, as
        ``predict`` cuts photos (see :func:`fer_classic.prediction.loading_cropper`);
        a FaceDataset is used as given.
    out_dir : path
        Folder to write into (created; files of the same names are replaced,
        all three or, when writing fails, none: see :func:`fer_classic._fileio.write_together`).
    split : str or None, default="test"
        Split to evaluate (``train``/``test``/``val`` or a FER2013 usage); None: every image.
    split_name : str, optional
        What the report, metrics.json and :class:`Report` call the images
        scored; default ``split`` (``"all"`` for None). ``evaluate --split
        held-out`` passes ``"held-out"`` for the recomputed hold-out it scores
        as its ``"test"`` split.
    n_resamples, confidence : int, float
        Bootstrap of the accuracy interval (see
        :func:`~fer_classic.evaluation.accuracy_interval`).
    random_state : int or None, default=0
        Seed of the bootstrap, the sample grid and the PCA subset.
    max_pca_points : int, default=2000
        Images drawn for the PCA scatter, 2 or more.

    Returns
    -------
    Report

    Raises
    ------
    TypeError
        If ``model`` is not a FERModel (a bare scikit-learn pipeline, say).
    ValueError
        If ``n_resamples``, ``confidence`` or ``max_pca_points`` is out of
        range. These two are checked before any work.
    ImportError
        If matplotlib is not installed (``pip install 'fer-classic[plot]'``).
    ReportError
        If ``out_dir`` cannot be created, the images do not have the model's
        geometry or none is of a class the model predicts. A folder this call
        created is removed again when it fails.
    DatasetError
        If ``split`` holds no image.
    """
    # In the body, not @validate_params: that decorator renames every parameter error raised inside
    # (a face cropper's margin, the model's own) as one of write_report's.
    validate_parameter_constraints(
        {"max_pca_points": [PCA_POINTS], **_BOOTSTRAP_CONSTRAINTS},
        {"max_pca_points": max_pca_points, "n_resamples": n_resamples, "confidence": confidence},
        caller_name="write_report",
    )
    check_fer_model(model, "write_report")
    require_matplotlib("write_report")
    from ..data import FaceDataset, load_dataset

    if not isinstance(data, FaceDataset):
        from ..prediction._model import loading_cropper

        data = load_dataset(data, size=tuple(model.image_shape), cropper=loading_cropper(model))
    if tuple(data.image_shape) != tuple(model.image_shape):
        raise ReportError(
            f"Dataset {data.name!r} holds {data.image_shape[0]}x{data.image_shape[1]} images but the model takes "
            f"{model.image_shape[0]}x{model.image_shape[1]}; load it with "
            f"load_dataset(path, size={tuple(model.image_shape)}) or pass the path."
        )
    subset = data.select(split) if split else data
    split_name = split_name or split or "all"
    _check_split_classes(model, data, subset, split_name)
    out_dir, created = _prepare_dir(out_dir)
    try:
        timings: dict[str, float] = {}
        predictions = predict_with_scores(model, subset.images)
        timings.update(predictions.seconds)
        # The PCA scatter draws max_pca_points rows of the n x F features: keep those rows only, so the whole
        # matrix (1.3 GB of HOG features at 128k images) is freed before the plots and pages are made.
        pca_rows = pca_sample_rows(len(predictions.features), max_pca_points, random_state)
        if pca_rows is not None:
            predictions.features = predictions.features[pca_rows]
        start = time.perf_counter()
        metrics = classification_metrics(
            subset.y, predictions.labels, model.classes, scores=predictions.scores, groups=subset.usages,
            n_resamples=n_resamples, confidence=confidence, random_state=random_state,
        )
        timings["metrics"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        images = _plots(model, data, subset, predictions, metrics, random_state, max_pca_points,
                        {split: split_name} if split else None, pca_rows)
        timings["plots"] = round(time.perf_counter() - start, 3)
        paths = {name: out_dir / name for name in REPORT_FILES}
        payload = {
            "fer_classic": __version__,
            "data": {"name": data.name, "split": split_name, "n": len(subset),
                     "skipped_files": len(data.skipped), "class_counts": subset.class_counts()},
            # classes as model.classes gives them, the order of every list here (the file records sorted classes_)
            "model": {**{k: model.metadata.get(k) for k in ("features", "classifier", "classes", "image_shape",
                                                            "created", "params", "training", "versions")},
                      "classes": model.classes},
            "score_kind": predictions.score_kind,
            "metrics": metrics,
            "seconds": timings,
        }
        page = _html(model, data, subset, split_name, metrics, predictions, images, timings)
        # All three or none: an interrupted write never leaves this run's numbers beside another run's page
        # (the page, which names the other two, renamed last).
        write_together([
            (paths["report.html"], page),
            (paths["metrics.json"], output_json(payload, indent=1, default=str)),
            (paths["predictions.csv"],
             _predictions_csv(subset.sources, subset.y, predictions, model.classes, subset.usages)),
        ])
    except BaseException:  # an error or an interrupt: leave no empty folder behind
        _remove_created(out_dir, created)
        raise
    return Report(metrics, paths["report.html"], paths["metrics.json"], paths["predictions.csv"], split_name,
                  len(subset), predictions.score_kind, timings)
