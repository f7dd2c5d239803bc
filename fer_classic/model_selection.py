"""Hyper-parameter search over fer-classic pipelines (``fer-classic search``)."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import Memory, parallel_backend
from sklearn.model_selection import GridSearchCV, GroupKFold, PredefinedSplit, StratifiedKFold

from .data import FaceDataset
from .evaluation import classification_metrics
from .exceptions import DatasetError
from .features._registry import parse_feature_names
from .persistence import FERModel, save_model
from .pipeline import make_pipeline
from .workflow import Log, _load, _quiet, _timed

__all__ = ["DEFAULT_GRIDS", "SearchResult", "default_grid", "load_grid", "report_search", "search_model"]

#: Classifier parameter grids tried by default (names relative to the classifier).
#: The SVM grid is the exact RBF SVM (backend auto: cuML on a GPU, else libsvm on a
#: precomputed kernel matrix, about 1 min per fit on FER2013's 28,709 HOG vectors).
DEFAULT_GRIDS: dict[str, dict[str, list]] = {
    "svm": {"C": [1.0, 3.0, 10.0, 30.0], "gamma": ["scale"]},
    "linear-svm": {"C": [0.01, 0.1, 1.0]},
    "logreg": {"C": [0.01, 0.1, 1.0]},
    "knn": {"n_neighbors": [5, 11, 21]},
    "rf": {"n_estimators": [300], "max_features": ["sqrt", 0.1]},
    "mlp": {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [[256], [512]]},
}
#: Feature parameter grids added by default, per extractor.
_FEATURE_GRIDS: dict[str, dict[str, list]] = {
    "hog": {"pixels_per_cell": [[6, 6], [8, 8]]},
    "lbp": {"R": [1.0, 2.0]},
}


def _prefix_grid(features: str, clf_grid: Mapping, feature_grids: Mapping) -> dict:
    names = parse_feature_names(features)
    grid = {f"clf__estimator__{k}": list(v) for k, v in clf_grid.items()}
    for name in names:
        step = "features" if len(names) == 1 else f"features__{name}"
        grid.update({f"{step}__{k}": list(v) for k, v in feature_grids.get(name, {}).items()})
    return grid


def _tuples(grid: dict) -> dict:
    # JSON/YAML give lists; scikit-image-style parameters expect tuples.
    return {k: [tuple(v) if isinstance(v, list) else v for v in values] for k, values in grid.items()}


def default_grid(features: str, clf: str, *, tune_features: bool = False) -> dict:
    """The built-in grid for a features × classifier pair, in Pipeline parameter names.

    Parameters
    ----------
    features, clf : str
        As for :func:`fer_classic.make_pipeline`.
    tune_features : bool, default=False
        Also vary the extractors' main parameters (each value recomputes features).
    """
    if clf not in DEFAULT_GRIDS:
        raise ValueError(f"No default grid for classifier {clf!r}; give a grid file.")
    return _tuples(_prefix_grid(features, DEFAULT_GRIDS[clf], _FEATURE_GRIDS if tune_features else {}))


def load_grid(path: str | os.PathLike, features: str) -> dict:
    """Read a grid from JSON or YAML.

    Keys are Pipeline parameter names (``clf__estimator__C``,
    ``features__orientations``) or the short forms ``clf.C`` / ``hog.orientations``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Grid file {path} does not exist.")
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise ImportError("Reading a YAML grid needs PyYAML: pip install pyyaml (or give JSON).") from exc
        raw = yaml.safe_load(text)
    else:
        raw = json.loads(text)
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise ValueError(f"Grid file {path} must map parameter names to lists of values.")
    names = parse_feature_names(features)
    grid = {}
    for key, values in raw.items():
        head, dot, tail = key.partition(".")
        if not dot:
            grid[key] = values
        elif head == "clf":
            grid[f"clf__estimator__{tail}"] = values
        elif head in names:
            grid[f"features__{tail}" if len(names) == 1 else f"features__{head}__{tail}"] = values
        else:
            raise ValueError(f"Grid key {key!r}: {head!r} is neither 'clf' nor one of the features {names}.")
    return _tuples(grid)


def subject_groups(sources: np.ndarray, pattern: str) -> np.ndarray:
    """Subject id of each image from a regular expression's first group over its file name.

    Raises
    ------
    DatasetError
        If the pattern has no group or a file name does not match (the file is named).
    """
    regex = re.compile(pattern)
    if regex.groups < 1:
        raise ValueError(f"--groups pattern {pattern!r} needs a capturing group, e.g. 'S(\\d+)_'.")
    groups = []
    for source in sources:
        match = regex.search(Path(str(source)).name)
        if match is None:
            raise DatasetError(f"{source}: file name does not match the groups pattern {pattern!r}.")
        groups.append(match.group(1))
    return np.asarray(groups)


@dataclass
class SearchResult:
    """What :func:`search_model` produced."""

    model: FERModel
    best_params: dict
    best_score: float
    cv_results: list[dict]
    metrics: dict
    timings: dict
    test_split: str
    path: Path | None = None

    def summary(self) -> dict:
        """JSON-ready summary."""
        return {
            "best_params": {k: repr(v) for k, v in self.best_params.items()},
            "best_cv_score": self.best_score,
            "test_split": self.test_split,
            **{k: self.metrics[k] for k in ("accuracy", "f1_weighted", "f1_macro", "n")},
            "seconds": self.timings,
            "model": str(self.path) if self.path else None,
            "ranking": [{"rank": r["rank_test_score"], "score": r["mean_test_score"], "params": r["params"]}
                        for r in sorted(self.cv_results, key=lambda r: r["rank_test_score"])],
        }


def _flat_results(cv_results: dict) -> list[dict]:
    rows = []
    for i, params in enumerate(cv_results["params"]):
        row = {"params": json.dumps({k: repr(v) for k, v in params.items()})}
        for key, values in cv_results.items():
            if key != "params" and not key.startswith("param_"):
                value = values[i]
                row[key] = value.item() if hasattr(value, "item") else value
        rows.append(row)
    return rows


def write_cv_results(rows: list[dict], path: str | os.PathLike) -> Path:
    """Write flattened ``cv_results_`` rows to CSV, ranked best first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: r["rank_test_score"])
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@contextlib.contextmanager
def _joblib_backend(backend: str, scheduler: str | None, n_jobs: int | None):
    if backend == "loky":
        yield
    elif backend == "dask":
        try:
            from dask.distributed import Client
        except ImportError as exc:
            raise ImportError("--backend dask needs dask.distributed: pip install 'fer-classic[dask]'") from exc
        client = Client(scheduler) if scheduler else Client(processes=False)
        try:
            with parallel_backend("dask", n_jobs=n_jobs or -1):
                yield
        finally:
            client.close()
    elif backend == "ray":
        try:
            import ray
            from ray.util.joblib import register_ray
        except ImportError as exc:
            raise ImportError("--backend ray needs ray: pip install 'ray[default]'") from exc
        register_ray()
        ray.init(address=scheduler, ignore_reinit_error=True)
        with parallel_backend("ray", n_jobs=n_jobs or -1):
            yield
    else:
        raise ValueError(f"backend must be 'loky', 'dask' or 'ray'; got {backend!r}.")


def search_model(
    data: str | os.PathLike | FaceDataset | None = None,
    *,
    features: str = "hog",
    clf: str = "svm",
    block_scaling: bool = False,
    grid: str | os.PathLike | Mapping | None = "default",
    cv: int | str = 5,
    groups: str | None = None,
    size: int = 48,
    random_state: int = 0,
    n_jobs: int | None = None,
    backend: str = "loky",
    scheduler: str | None = None,
    out: str | os.PathLike | None = None,
    model_format: str | None = None,
    results_csv: str | os.PathLike | None = None,
    verbose: int = 0,
    log: Log = _quiet,
) -> SearchResult:
    """Grid-search a ``features → scaler → clf`` pipeline, refit the best, score it once.

    Parameters
    ----------
    data : path, FaceDataset or None
        Dataset with a ``train`` split (and ``test``, or FER2013's PublicTest /
        PrivateTest for ``cv="publictest"``).
    features, clf : str
        As for :func:`fer_classic.make_pipeline`.
    block_scaling : bool, default=False
        Scale each block of combined features on its own (see
        :func:`fer_classic.make_pipeline`).
    grid : "default", path or mapping
        ``"default"``: :data:`DEFAULT_GRIDS`; a JSON/YAML file (see
        :func:`load_grid`); or a mapping of Pipeline parameter names to lists.
    cv : int or "publictest", default=5
        Stratified k-fold on ``train`` (grouped by subject when ``groups`` is
        given), or FER2013's official protocol: fit on ``train``, validate on
        ``PublicTest``, then refit the best on ``train`` and report ``PrivateTest``.
    groups : str, optional
        Regular expression whose first group is the subject id in each file
        name; folds then never split a subject across training and validation.
    n_jobs : int, optional
        Parallel candidates (and folds).
    backend : {"loky", "dask", "ray"}, default="loky"
        joblib backend running the candidates; ``scheduler`` is the Dask
        scheduler or Ray address (None starts a local one).
    out : path, optional
        Where to save the refitted best model.
    model_format : {"joblib", "skops"}, optional
        File format of ``out`` (default: by its suffix, see :func:`fer_classic.save_model`).
    results_csv : path, optional
        Where to write ``cv_results_`` (ranked).
    verbose : int, default=0
        GridSearchCV progress messages.
    """
    timings: dict[str, float] = {}
    dataset = _timed(timings, "load", _load, data, size, None, None)
    if grid is None or (isinstance(grid, str) and grid == "default"):
        param_grid = default_grid(features, clf)
    elif isinstance(grid, Mapping):
        param_grid = _tuples(dict(grid))
    else:
        param_grid = load_grid(grid, features)
    train = dataset.select("train")
    fit_groups = None
    if str(cv).lower() == "publictest":
        validation = dataset.select("PublicTest")
        test_split = "PrivateTest"
        pool = FaceDataset(
            np.concatenate([train.images, validation.images]), np.concatenate([train.labels, validation.labels]),
            np.concatenate([train.splits, validation.splits]), np.concatenate([train.usages, validation.usages]),
            np.concatenate([train.sources, validation.sources]), dataset.name,
        )
        splitter = PredefinedSplit(np.r_[np.full(len(train), -1), np.zeros(len(validation), int)])
        refit_on = train
    else:
        pool, test_split, refit_on = train, "test", train
        folds = int(cv)
        if groups:
            fit_groups = subject_groups(train.sources, groups)
            splitter = GroupKFold(n_splits=folds)
        else:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    test = dataset.select(test_split)

    with tempfile.TemporaryDirectory(prefix="fer-classic-cache-") as cache:
        # The pipeline memory caches fitted feature extractors, so candidates that differ
        # only in classifier parameters reuse the training features.
        pipeline = make_pipeline(features, clf, block_scaling=block_scaling, random_state=random_state)
        pipeline.set_params(memory=Memory(cache, verbose=0))
        search = GridSearchCV(pipeline, param_grid, cv=splitter, n_jobs=n_jobs, refit=False,
                              verbose=verbose, error_score="raise")
        n_candidates = int(np.prod([len(v) for v in param_grid.values()])) if param_grid else 1
        log(f"searching {n_candidates} candidates of '{features}' + '{clf}' on {len(pool)} images "
            f"(cv={cv}, backend={backend})")
        with _joblib_backend(backend, scheduler, n_jobs):
            _timed(timings, "search", lambda: search.fit(pool.X, pool.y, groups=fit_groups))
    best = make_pipeline(features, clf, block_scaling=block_scaling, random_state=random_state)
    best.set_params(**search.best_params_)
    log(f"best {search.best_params_} (cv score {search.best_score_:.4f}); refitting on {len(refit_on)} images")
    _timed(timings, "refit", best.fit, refit_on.X, refit_on.y)
    predicted = _timed(timings, "predict", best.predict, test.X)
    metrics = classification_metrics(test.y, predicted, best.classes_)
    rows = _flat_results(search.cv_results_)
    model = FERModel.from_fitted(
        best, refit_on, features=features, clf=clf, source=dataset.name,
        metrics={**{k: metrics[k] for k in ("accuracy", "f1_weighted", "f1_macro", "n")}, "split": test_split},
        timings=timings, random_state=random_state,
        search={"cv": str(cv), "block_scaling": block_scaling, "grid": {k: repr(v) for k, v in param_grid.items()},
                "best_params": {k: repr(v) for k, v in search.best_params_.items()},
                "best_cv_score": float(search.best_score_)},
    )
    path = save_model(model, out, format=model_format) if out is not None else None
    if results_csv is not None:
        write_cv_results(rows, results_csv)
    return SearchResult(model, search.best_params_, float(search.best_score_), rows, metrics,
                        timings, test_split, path)


def report_search(
    model: FERModel,
    data: str | os.PathLike | FaceDataset | None,
    out_dir: str | os.PathLike,
    *,
    param: str | None = None,
    values: list | None = None,
    train_sizes: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 1.0),
    cv: int = 3,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> dict:
    """Learning and validation curves of a searched model's pipeline on the train split.

    Writes ``learning_curve.png``, ``validation_curve.png`` and ``curves.json``
    into ``out_dir``.

    Parameters
    ----------
    model : FERModel
        Saved by :func:`search_model` (its metadata holds the grid searched).
    data : path, FaceDataset or None
        The dataset; only its ``train`` split is used.
    param : str, optional
        Pipeline parameter of the validation curve; default: the first one the
        search varied.
    values : list, optional
        Values of ``param``; default: the searched ones.
    train_sizes, cv, random_state, n_jobs
        As in :func:`fer_classic.evaluation.compute_learning_curve`.

    Returns
    -------
    dict
        Paths written and the curves' summaries.
    """
    import ast

    from .evaluation import (
        compute_learning_curve,
        compute_validation_curve,
        plot_learning_curve,
        plot_validation_curve,
    )

    search = model.metadata.get("search")
    if not search and (param is None or values is None):
        raise ValueError("This model was not saved by 'fer-classic search' (no search metadata); "
                         "pass --param and --values explicitly.")
    grid = {k: ast.literal_eval(v) for k, v in (search or {}).get("grid", {}).items()}
    if param is None:
        varied = [k for k, v in grid.items() if len(v) > 1] or list(grid)
        param = varied[0]
    if values is None:
        if param not in grid:
            raise ValueError(f"{param!r} was not searched; give its values (searched: {', '.join(grid)}).")
        values = grid[param]
    dataset = _load(data, model.image_shape[0], None, None)
    train = dataset.select("train")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    learning = compute_learning_curve(model.pipeline, train.X, train.y, train_sizes=train_sizes, cv=cv,
                                      random_state=random_state, n_jobs=n_jobs)
    validation = compute_validation_curve(model.pipeline, train.X, train.y, param_name=param, param_range=values,
                                          cv=cv, random_state=random_state, n_jobs=n_jobs)
    written = {}
    for name, curve, plot in (("learning_curve", learning, plot_learning_curve),
                              ("validation_curve", validation, plot_validation_curve)):
        figure = plot(curve)
        written[name] = str(out / f"{name}.png")
        figure.savefig(written[name], dpi=100, bbox_inches="tight")
    summary = {"files": written, "learning": learning.summary(), "validation": validation.summary()}
    (out / "curves.json").write_text(json.dumps(summary, indent=1))
    return summary
