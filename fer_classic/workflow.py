"""The library functions behind each CLI command: fit, evaluate, predict, compare, describe."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from .data import (
    DEFAULT_NEAR_THRESHOLD,
    IMAGE_EXTENSIONS,
    DatasetDescription,
    FaceDataset,
    dedupe,
    describe_dataset,
    load_dataset,
    read_image,
)
from .evaluation import Comparison, Report, classification_metrics, compare_models, write_report
from .exceptions import DatasetError, EmptyClassError, FerClassicError
from .features import deep_metadata
from .persistence import FERModel, load_model, save_model
from .pipeline import make_pipeline

__all__ = [
    "FitResult",
    "EvaluateResult",
    "compare_model_files",
    "describe_data",
    "fit_model",
    "evaluate_model",
    "predict_images",
    "split_train_test",
]

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    """Default logger: say nothing."""


@dataclass
class FitResult:
    """What :func:`fit_model` produced."""

    model: FERModel
    metrics: dict
    timings: dict
    n_train: int
    n_test: int
    held_out: bool
    path: Path | None = None

    def summary(self) -> dict:
        """Flat, JSON-ready summary (metrics, sizes, seconds, model path)."""
        return {
            **{k: self.metrics[k] for k in ("accuracy", "f1_weighted", "f1_macro")},
            "n_train": self.n_train,
            "n_test": self.n_test,
            "held_out_test": self.held_out,
            "seconds": self.timings,
            "classes": self.model.classes,
            "model": str(self.path) if self.path else None,
            "backend": self.model.metadata.get("backend"),
            "per_class": self.metrics["per_class"],
            "confusion_matrix": self.metrics["confusion_matrix"],
        }


@dataclass
class EvaluateResult:
    """What :func:`evaluate_model` produced."""

    metrics: dict
    timings: dict
    split: str
    n_test: int
    skipped: list = field(default_factory=list)
    report: Report | None = None

    def summary(self) -> dict:
        """Flat, JSON-ready summary."""
        return {
            **{k: self.metrics[k] for k in ("accuracy", "f1_weighted", "f1_macro")},
            **{k: self.metrics.get(k) for k in ("accuracy_ci", "balanced_accuracy", "roc_auc_macro",
                                                "roc_auc_micro")},
            "report": str(self.report.html) if self.report else None,
            "n_test": self.n_test,
            "split": self.split,
            "seconds": self.timings,
            "per_class": self.metrics["per_class"],
            "classes": self.metrics["classes"],
            "confusion_matrix": self.metrics["confusion_matrix"],
            "skipped_files": len(self.skipped),
        }


def split_train_test(
    data: FaceDataset, *, test_size: float = 0.2, random_state: int = 0
) -> tuple[FaceDataset, FaceDataset, bool]:
    """Return ``(train, test, held_out)``.

    The dataset's own ``train``/``test`` splits when it has both; otherwise a
    seeded, stratified hold-out of ``test_size`` from its training images
    (``held_out=True``).
    """
    if data.has_split("train") and data.has_split("test"):
        return data.select("train"), data.select("test"), False
    pool = data.select("train") if data.has_split("train") else data
    index = np.arange(len(pool))
    train_idx, test_idx = train_test_split(
        index, test_size=test_size, random_state=random_state, stratify=pool.labels
    )
    return pool.subset(np.sort(train_idx)), pool.subset(np.sort(test_idx)), True


def _timed(timings: dict, key: str, func, *args, **kwargs):
    start = time.perf_counter()
    result = func(*args, **kwargs)
    timings[key] = round(timings.get(key, 0.0) + time.perf_counter() - start, 3)
    return result


def _load(data, size, label_map, n_jobs) -> FaceDataset:
    return data if isinstance(data, FaceDataset) else load_dataset(data, size=size, label_map=label_map, n_jobs=n_jobs)


def fit_model(
    data: str | os.PathLike | FaceDataset | None = None,
    *,
    features: str = "hog",
    clf: str = "svm",
    clf_params: Mapping | None = None,
    block_scaling: bool = False,
    size: int = 48,
    random_state: int = 0,
    test_size: float = 0.2,
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
    out: str | os.PathLike | None = None,
    model_format: str | None = None,
    dedupe_data: bool = False,
    log: Log = _quiet,
) -> FitResult:
    """Load data, fit ``features → scaler → clf`` on the train split, score it on test, save it.

    Parameters
    ----------
    data : path, FaceDataset or None
        Any input :func:`fer_classic.load_dataset` takes; None is the generated default.
    features, clf : str
        See :func:`fer_classic.make_pipeline`.
    clf_params : mapping, optional
        Classifier parameters (e.g. ``{"C": 10}``).
    block_scaling : bool, default=False
        Scale each block of combined features on its own (see
        :func:`fer_classic.make_pipeline`).
    size : int, default=48
        Image geometry (square, grayscale).
    random_state : int, default=0
        Seed of the hold-out split and randomised estimators.
    test_size : float, default=0.2
        Hold-out fraction when the data has no test split.
    label_map : mapping, optional
        Folder name → label for numbered class folders.
    n_jobs : int, optional
        Workers for decoding, features and estimators.
    out : path, optional
        Where to save the model (atomically); None saves nothing.
    model_format : {"joblib", "skops"}, optional
        File format of ``out`` (default: by its suffix, see :func:`fer_classic.save_model`).
    dedupe_data : bool, default=False
        Drop pixel-identical copies first (in memory, see
        :func:`fer_classic.data.dedupe`): test images that also occur in train,
        and repeated copies within a split. Files are never changed.
    log : callable, optional
        Receives progress messages.

    Returns
    -------
    FitResult
        Model, test metrics, seconds per stage (load, features, fit, predict, save).
    """
    timings: dict[str, float] = {}
    dataset = _timed(timings, "load", _load, data, size, label_map, n_jobs)
    log(f"loaded {dataset!r} in {timings['load']:.1f} s")
    if dedupe_data:
        before = len(dataset)
        dataset = _timed(timings, "dedupe", dedupe, dataset)
        log(f"dedupe: dropped {before - len(dataset)} duplicate copies (in memory; files untouched)")
    train, test, held_out = split_train_test(dataset, test_size=test_size, random_state=random_state)
    if held_out:
        log(f"no test split in {dataset.name}: holding out a stratified {test_size:.0%} "
            f"of the training images (seed {random_state})")
    unseen = sorted(set(test.classes) - set(train.classes))
    if unseen:
        raise EmptyClassError(
            f"Test images of class(es) {unseen} have no training images in {dataset.name}; "
            "add training images or remove those classes."
        )
    pipeline = make_pipeline(features, clf, block_scaling=block_scaling, random_state=random_state, n_jobs=n_jobs,
                             **dict(clf_params or {}))
    extractor, head = pipeline[:1], pipeline[1:]
    log(f"extracting '{features}' features of {len(train)} training images")
    train_features = _timed(timings, "features", extractor.fit_transform, train.X, train.y)
    log(f"fitting '{clf}' on {train_features.shape[0]} x {train_features.shape[1]} features")
    _timed(timings, "fit", head.fit, train_features, train.y)
    fitted = pipeline[-1].estimator_
    backend = getattr(fitted, "backend_", None)
    if backend:
        how = ", precomputed kernel matrix" if getattr(fitted, "kernel_precomputed_", False) else ""
        log(f"'{clf}' fitted with backend {backend} ({fitted.backend_reason_}{how})")
    test_features = _timed(timings, "features", extractor.transform, test.X)
    predicted = _timed(timings, "predict", head.predict, test_features)
    metrics = classification_metrics(test.y, predicted, pipeline.classes_)
    # Deep extractors (vgg16, vgg19, cnn): backbone, layer, weights source and hash.
    deep = deep_metadata(pipeline)
    model = FERModel.from_fitted(
        pipeline, train, features=features, clf=clf, source=dataset.name,
        metrics={k: metrics[k] for k in ("accuracy", "f1_weighted", "f1_macro", "n")},
        timings=timings, random_state=random_state, held_out_test=held_out, backend=backend,
        block_scaling=block_scaling,
        **({"deep_features": deep} if deep else {}),
    )
    path = None
    if out is not None:
        path = _timed(timings, "save", save_model, model, out, format=model_format)
    return FitResult(model, metrics, timings, len(train), len(test), held_out, path)


def evaluate_model(
    model: FERModel,
    data: str | os.PathLike | FaceDataset,
    *,
    split: str | None = "test",
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
    report: str | os.PathLike | None = None,
) -> EvaluateResult:
    """Score a model on one split of a dataset (loaded at the model's geometry).

    Parameters
    ----------
    model : FERModel
    data : path or FaceDataset
    split : str or None, default="test"
        ``train``/``test``/``val`` or a FER2013 usage (``PublicTest``,
        ``PrivateTest``); None uses every image.
    report : path, optional
        Folder to write ``report.html``, ``metrics.json`` and ``predictions.csv``
        into (see :func:`fer_classic.evaluation.write_report`); the metrics
        then include ROC-AUC.
    """
    timings: dict[str, float] = {}
    dataset = _timed(timings, "load", _load, data, model.image_shape, label_map, n_jobs)
    subset = dataset.select(split) if split else dataset
    if report is not None:
        written = write_report(model, dataset, report, split=split)
        timings.update(written.timings)
        return EvaluateResult(written.metrics, timings, written.split, written.n, list(dataset.skipped), written)
    predicted = _timed(timings, "predict", model.predict, subset.images)
    metrics = classification_metrics(subset.y, predicted, model.classes)
    return EvaluateResult(metrics, timings, split or "all", len(subset), list(dataset.skipped))


def _expand(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    paths: list[Path] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            paths += sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        else:
            paths.append(item)
    return paths


def predict_images(model: FERModel, inputs: Iterable[str | os.PathLike]) -> list[dict]:
    """Predict the expression of image files (folders are searched recursively).

    Images are read as grayscale and resized to the model's geometry; they
    should be face crops like the training images.

    Returns
    -------
    list of dict
        Per file: ``source``, ``label``, ``score_kind`` (``probability`` or
        ``decision``) and ``scores`` (class → value); or ``source`` and
        ``error`` for a file that could not be read (never raised).
    """
    paths = _expand(inputs)
    if not paths:
        raise DatasetError("No image files given (folders searched for "
                           f"{', '.join(sorted(IMAGE_EXTENSIONS))}).")
    results: list[dict] = []
    images, ok_paths = [], []
    for path in paths:
        try:
            images.append(read_image(path, model.image_shape))
            ok_paths.append(path)
        except FerClassicError as exc:
            results.append({"source": str(path), "error": str(exc)})
    if images:
        batch = np.stack(images)
        labels = model.predict(batch)
        kind, scores = model.scores(batch)
        for path, label, row in zip(ok_paths, labels, scores):
            results.append({
                "source": str(path),
                "label": str(label),
                "score_kind": kind,
                "scores": {c: round(float(v), 4) for c, v in zip(model.classes, np.atleast_1d(row))},
            })
    order = {str(p): i for i, p in enumerate(paths)}
    return sorted(results, key=lambda r: order[r["source"]])


def compare_model_files(
    models: Iterable[str | os.PathLike],
    data: str | os.PathLike | FaceDataset,
    *,
    split: str | None = "test",
    out: str | os.PathLike | None = None,
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
    trusted: bool = False,
) -> Comparison:
    """Load model files, score them side by side, McNemar-test the best two, optionally write a CSV.

    Parameters
    ----------
    models : iterable of path
        Model files written by :func:`fit_model`; rows are named by file name.
    data : path or FaceDataset
    split : str or None, default="test"
    out : path, optional
        CSV file for the table (one row per model, McNemar result in the last columns).
    label_map, n_jobs
        As in :func:`fer_classic.load_dataset`.
    trusted : bool, default=False
        As in :func:`fer_classic.load_model`.

    Returns
    -------
    Comparison
    """
    paths = [Path(p) for p in models]
    comparison = compare_models(
        [load_model(p, trusted=trusted) for p in paths], data, names=[p.name for p in paths], split=split,
        label_map=label_map, n_jobs=n_jobs,
    )
    if out is not None:
        comparison.to_csv(out)
    return comparison


def describe_data(
    data: str | os.PathLike | FaceDataset | None = None,
    *,
    threshold: int = DEFAULT_NEAR_THRESHOLD,
    duplicates_csv: str | os.PathLike | None = None,
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
    warn: bool = True,
) -> DatasetDescription:
    """Describe a dataset (see :func:`fer_classic.data.describe_dataset`), optionally listing duplicates.

    Parameters
    ----------
    data : path, FaceDataset or None
    threshold : int, default=DEFAULT_NEAR_THRESHOLD
        Near-duplicate pHash Hamming distance (of 64 bits).
    duplicates_csv : path, optional
        Write one row per duplicate image (kind, group, split, label, source,
        hamming, dedupe action). The dataset is only read.
    label_map, n_jobs
        As in :func:`fer_classic.load_dataset`.
    warn : bool, default=True
        Issue a :class:`~fer_classic.exceptions.DataLeakageWarning` when test
        images occur in train (the description's text says so either way).
    """
    description = describe_dataset(data, threshold=threshold, label_map=label_map, n_jobs=n_jobs, warn=warn)
    if duplicates_csv is not None:
        description.write_duplicates_csv(duplicates_csv)
    return description
