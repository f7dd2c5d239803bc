"""The one core that ``fit`` and ``search`` share: fit a pipeline, score it once, package and save it.

:func:`fer_classic.workflow.fit_model` and
:func:`fer_classic.model_selection.search_model` differ only in how they
choose the pipeline's parameters; from there on both call :func:`fit_score_save`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from sklearn.base import BaseEstimator

from ._sklearn_compat import check_parameter_constraints
from .data import FaceDataset, load_dataset
from .evaluation import classification_metrics
from .features import deep_metadata
from .persistence import FERModel, save_model

__all__ = ["Log", "data_path", "fit_score_save", "load_data", "pipeline_options", "quiet", "timed", "validated"]

Log = Callable[[str], None]


def quiet(message: str) -> None:
    """Default logger: say nothing."""


def timed(timings: dict, key: str, func, *args, **kwargs):
    """Call ``func`` and add its seconds to ``timings[key]``."""
    start = time.perf_counter()
    result = func(*args, **kwargs)
    timings[key] = round(timings.get(key, 0.0) + time.perf_counter() - start, 3)
    return result


def data_path(data) -> str | os.PathLike | None:
    """``data`` when it is a path (an input whose files no output may touch), else None."""
    return data if isinstance(data, (str, os.PathLike)) else None


def load_data(data, size, label_map=None, n_jobs=None) -> FaceDataset:
    """``data`` itself when it is a FaceDataset, else :func:`fer_classic.load_dataset` of it."""
    if isinstance(data, FaceDataset):
        return data
    return load_dataset(data, size=size, label_map=label_map, n_jobs=n_jobs)


def pipeline_options(*, preprocess=None, flip: bool = False, block_scaling: bool = False,
                     sampler: str | None = None) -> dict:
    """The :func:`fer_classic.make_pipeline` options a model records (JSON-ready, None left out)."""
    options = {"preprocess": preprocess if preprocess is None or isinstance(preprocess, str) else repr(preprocess),
               "flip": bool(flip), "block_scaling": bool(block_scaling), "sampler": sampler}
    return {k: v for k, v in options.items() if v is not None}


def validated(estimator):
    """``estimator`` after checking the parameters of it and every estimator inside it.

    scikit-learn checks ``_parameter_constraints`` only when ``fit`` starts;
    this runs the same checks up front, so that ``--param C=abc`` fails
    before the data is loaded and the features are extracted.

    Raises
    ------
    InvalidParameterError
        (a ValueError) naming the estimator, the parameter and what it takes.
    """
    nested = [estimator, *estimator.get_params(deep=True).values()]
    for item in nested:
        if isinstance(item, BaseEstimator) and hasattr(item, "_parameter_constraints"):
            check_parameter_constraints(item)
    return estimator


def _feature_split(pipeline) -> int | None:
    """Index after the ``features`` step, or None when the pipeline cannot be split (FlipAugmented)."""
    names = [name for name, _ in getattr(pipeline, "steps", [])]
    return names.index("features") + 1 if "features" in names and len(names) > names.index("features") + 1 else None


def _fit(pipeline, train: FaceDataset, timings: dict, log: Log, features: str, clf: str) -> None:
    cut = _feature_split(pipeline)
    if cut is None:
        log(f"fitting '{features}' + '{clf}' on {len(train)} training images")
        timed(timings, "fit", pipeline.fit, train.X, train.y)
        return
    # Fitted in two parts only to report feature and classifier seconds apart.
    log(f"extracting '{features}' features of {len(train)} training images")
    train_features = timed(timings, "features", pipeline[:cut].fit_transform, train.X, train.y)
    log(f"fitting '{clf}' on {train_features.shape[0]} x {train_features.shape[1]} features")
    timed(timings, "fit", pipeline[cut:].fit, train_features, train.y)


def fit_score_save(
    pipeline,
    train: FaceDataset,
    test: FaceDataset,
    *,
    features: str,
    clf: str,
    source: str,
    timings: dict,
    log: Log = quiet,
    fitted: bool = False,
    out: str | os.PathLike | None = None,
    model_format: str | None = None,
    metrics_extra: Mapping | None = None,
    **metadata,
) -> tuple[FERModel, dict, Path | None]:
    """Fit ``pipeline`` on ``train`` (unless ``fitted``), score ``test`` once, wrap it as a FERModel, save it.

    Parameters
    ----------
    pipeline : Pipeline or FlipAugmented
        As :func:`fer_classic.make_pipeline` builds it.
    train, test : FaceDataset
    features, clf : str
        The names the pipeline was built from (recorded).
    source : str
        Where the data came from (recorded).
    timings : dict
        Seconds per stage; receives ``features``, ``fit``, ``predict`` and ``save``.
    log : callable, optional
        Receives progress messages.
    fitted : bool, default=False
        The pipeline is already fitted on ``train``: only score and package it.
    out, model_format : optional
        Where and how to save (see :func:`fer_classic.save_model`); None saves nothing.
    metrics_extra : mapping, optional
        Recorded with the test metrics (e.g. ``{"split": "PrivateTest"}``).
    **metadata
        More JSON-ready model metadata.

    Returns
    -------
    model : FERModel
    metrics : dict
        :func:`fer_classic.evaluation.classification_metrics` of ``test``.
    path : Path or None
    """
    if not fitted:
        _fit(pipeline, train, timings, log, features, clf)
    head = pipeline[-1] if hasattr(pipeline, "steps") else getattr(pipeline, "estimator_", pipeline)
    head = head[-1] if hasattr(head, "steps") else head
    inner = getattr(head, "estimator_", None)
    backend = getattr(inner, "backend_", None)
    if backend:
        how = ", precomputed kernel matrix" if getattr(inner, "kernel_precomputed_", False) else ""
        log(f"'{clf}' fitted with backend {backend} ({inner.backend_reason_}{how})")
    deep = deep_metadata(pipeline)  # vgg16, vgg19, cnn: backbone, layer, weights source and hash
    model = FERModel.from_fitted(
        pipeline, train, features=features, clf=clf, source=source, timings=timings,
        **({"backend": backend} if backend else {}), **({"deep_features": deep} if deep else {}), **metadata,
    )
    predicted, _, _, _ = model.predict_scores(test.images, timings=timings)
    metrics = classification_metrics(test.y, predicted, model.classes)
    model.metadata["timings"] = dict(timings)
    model.metadata["metrics"] = {**{k: metrics[k] for k in ("accuracy", "f1_weighted", "f1_macro", "n")},
                                 **dict(metrics_extra or {})}
    path = timed(timings, "save", save_model, model, out, format=model_format) if out is not None else None
    return model, metrics, path
