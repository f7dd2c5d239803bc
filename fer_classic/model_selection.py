"""Hyper-parameter search over fer-classic pipelines (``fer-classic search``)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import Memory, parallel_backend
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, PredefinedSplit, StratifiedGroupKFold
from sklearn.pipeline import Pipeline

from ._json import unique_keys
from ._optional import import_optional
from ._resources import capped_n_jobs
from ._sklearn_compat import wants_number
from ._fileio import atomic_write_text, check_outputs, csv_writer, folder_outputs
from ._training import (
    Log,
    check_before_loading,
    require_feature_memory,
    require_mlp_memory,
    check_stratified_folds,
    compile_groups,
    data_path,
    check_candidates,
    check_geometry,
    training_cropper,
    training_pipeline,
    fit_pipeline,
    fit_score_save,
    image_groups,
    load_data,
    pipeline_options,
    quiet,
    hold_out,
    hold_out_record,
    subject_groups,
    timed,
    validated,
)
from .data import FaceDataset
from .data._duplicates import warn_exact_copies
from .estimators import kernel_cache
from .estimators._canonical import check_class_weight_values
from .exceptions import DatasetError
from .features._registry import NESTED_FEATURE_STEPS, parse_feature_names
from .persistence import FERModel, model_format as file_format
from .preprocessing import FlipAugmented
from .prediction._model import loading_cropper

__all__ = [
    "DEFAULT_GRIDS", "SearchResult", "check_grid", "default_grid", "load_grid", "pipeline_param_name",
    "report_search", "search_model", "subject_groups",
]

#: The share ``search`` holds out of data without a test split (``fit``'s default ``test_size``).
_HOLD_OUT_SIZE = 0.2

#: Classifier parameter grids tried by default (names relative to the classifier).
#: The SVM grid is the exact RBF SVM (backend auto: cuML on a GPU, else libsvm on a
#: precomputed kernel matrix, about 1 min per fit on FER2013's 28,709 HOG vectors).
#: The most candidates one search takes (a grid's full product): ten thousand fits of the exact SVM on
#: FER2013 would take weeks on one machine, and GridSearchCV lists them all first.
MAX_CANDIDATES = 10_000

DEFAULT_GRIDS: dict[str, dict[str, list]] = {
    "svm": {"C": [1.0, 3.0, 10.0, 30.0], "gamma": ["scale"]},
    "linear-svm": {"C": [0.01, 0.1, 1.0]},
    "logreg": {"C": [0.01, 0.1, 1.0]},
    "ridge": {"alpha": [1.0, 10.0, 100.0]},
    "knn": {"n_neighbors": [5, 11, 21]},
    "rf": {"n_estimators": [300], "max_features": ["sqrt", 0.1]},
    "mlp": {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [[256], [512]]},
    "kernel-svm": {"C": [1.0, 10.0], "kernel": ["intersection", "chi2"]},
    "local-svm": {"k": [200, 800], "C": [1.0, 10.0]},
}
#: The files ``report_search`` writes into its folder.
CURVE_FILES = ("learning_curve.png", "validation_curve.png", "curves.json")
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

    Returns
    -------
    dict
        Pipeline parameter name → list of values.
    """
    from .estimators import CLASSIFIERS

    key = str(clf).strip().lower()  # as make_pipeline reads the name
    if key not in CLASSIFIERS:  # as with a grid file: the name, not the grid, is at fault
        raise ValueError(f"Unknown classifier {clf!r}; choose from {', '.join(CLASSIFIERS)}.")
    if key not in DEFAULT_GRIDS:
        raise ValueError(f"No default grid for classifier {clf!r}; give a grid file.")
    return _tuples(_prefix_grid(features, DEFAULT_GRIDS[key], _FEATURE_GRIDS if tune_features else {}))


def load_grid(path: str | os.PathLike, features: str) -> dict:
    """Read a grid from JSON or YAML.

    Keys are Pipeline parameter names (``clf__estimator__C``,
    ``features__orientations``) or the short forms ``clf.C`` / ``hog.orientations``.

    Parameters
    ----------
    path : path
        The ``.json``, ``.yaml`` or ``.yml`` file.
    features : str
        The pipeline's features (as for :func:`fer_classic.make_pipeline`), which name the short forms.

    Returns
    -------
    dict
        Pipeline parameter name → list of values.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"Grid file {path} does not exist (or is not a regular file); give a JSON or YAML "
                           "file, or 'default'.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"Grid file {path} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    try:
        raw = _parse_grid(text, path)
    except RecursionError:  # nesting deeper than Python's parsers go: it was "a bug in fer-classic"
        raise ValueError(f"Grid file {path} nests lists or mappings too deeply (thousands of levels) to be a "
                         "grid.") from None
    return _grid_names(raw, features, where=f"Grid file {path}")


def _parse_grid(text: str, path: Path):
    """A grid file's content as JSON or (by its suffix) YAML; ValueError naming the file and where it breaks."""
    if path.suffix.lower() in (".yaml", ".yml"):
        yaml = import_optional("yaml", "Reading a YAML grid (or give a JSON file)")
        try:
            raw = yaml.safe_load(text)
            _unique_yaml_keys(yaml, yaml.compose(text, Loader=yaml.SafeLoader), path)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ValueError(f"Grid file {path} is not valid YAML{where}: "
                             f"{getattr(exc, 'problem', None) or exc}.") from exc
        return raw
    try:
        return json.loads(text, object_pairs_hook=unique_keys(lambda key: ValueError(
            f"Grid file {path}: {key!r} is given twice; give its values once (one list of every value to try).")))
    except json.JSONDecodeError as exc:
        raise ValueError(f"Grid file {path} is not valid JSON at line {exc.lineno}, column {exc.colno}: "
                         f"{exc.msg}.") from exc


def _grid_names(raw, features: str, *, where: str = "grid") -> dict:
    """A grid (a grid file's content, or ``search_model(grid=...)``) checked, in Pipeline parameter names.

    One road for grid files and mappings: a non-empty mapping of names (short
    ``clf.C`` or Pipeline ``clf__estimator__C``) to non-empty lists (tuples
    or arrays from Python) of values, no parameter named twice.

    Raises
    ------
    ValueError
        Naming ``where`` and the entry at fault.
    """
    def values_of(value):  # any sequence but text, as ParameterGrid takes; arrays of one dimension or more
        if isinstance(value, np.ndarray):
            return list(value) if value.ndim else None
        return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else None

    if not isinstance(raw, Mapping) or not raw or not all(values_of(v) for v in raw.values()):
        raise ValueError(f"{where} must map parameter names to non-empty lists of values, "
                         'e.g. {"clf.C": [1, 10]}.')
    odd = [key for key in raw if not isinstance(key, str)]
    if odd:
        raise ValueError(f"{where}: key {odd[0]!r} is not a parameter name; write names as text, "
                         'e.g. {"clf.C": [1, 10]}.')
    grid: dict = {}
    spelled: dict[str, str] = {}
    for key, values in raw.items():
        name = pipeline_param_name(key, features)
        if name in grid:
            raise ValueError(f"{where}: {spelled[name]!r} and {key!r} both name {name}; give its values "
                             "once (one list of every value to try).")
        grid[name], spelled[name] = _unique_values(values_of(values), f"{where}: {key!r}"), key
    return _tuples(grid)


def _unique_values(values: list, what: str) -> list:
    """``values`` without repeats (by repr: 1 and 1.0 stay apart), with a UserWarning naming ``what`` and them.

    A value given twice was fitted twice (a candidate or a curve point more, the same scores).
    """
    seen: dict[str, object] = {}
    counts: dict[str, int] = {}
    for value in values:
        text = repr(value)
        seen.setdefault(text, value)
        counts[text] = counts.get(text, 0) + 1
    if len(seen) < len(values):
        repeated = [text for text, n in counts.items() if n > 1]
        warnings.warn(f"{what} gives {', '.join(repeated)} more than once; each value is tried once.", UserWarning,
                      stacklevel=3)
    return list(seen.values())


def _unique_yaml_keys(yaml, node, path: Path) -> None:
    """Refuse a YAML grid's key given twice at any depth, as JSON grids are (PyYAML keeps the last one)."""
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _unique_yaml_keys(yaml, item, path)
    if not isinstance(node, yaml.MappingNode):
        return  # a scalar, or not a grid: load_grid says what a grid file holds
    lines: dict[str, int] = {}
    for key, value in node.value:
        _unique_yaml_keys(yaml, value, path)  # a class_weight dict among the values
        if not isinstance(key, yaml.ScalarNode) or key.tag.endswith(":merge"):
            continue  # a merge (<<) may repeat keys on purpose; odd keys are refused later
        if key.value in lines:
            line = key.start_mark.line + 1
            where = f"line {line}" if line == lines[key.value] else f"lines {lines[key.value]} and {line}"
            raise ValueError(f"Grid file {path}: {key.value!r} is given twice ({where}); give its values once "
                             "(one list of every value to try).")
        lines[key.value] = key.start_mark.line + 1


def pipeline_param_name(key: str, features: str) -> str:
    """The Pipeline name of a short parameter name: ``clf.C`` → ``clf__estimator__C``.

    ``hog.orientations`` → ``features__orientations`` (one extractor) or
    ``features__hog__orientations`` (a combination); names without a dot are
    returned as they are.

    Parameters
    ----------
    key : str
        A short (``clf.C``) or Pipeline (``clf__estimator__C``) name.
    features : str
        The pipeline's features, e.g. ``"hog+lbp"``.

    Returns
    -------
    str
        The Pipeline parameter name.

    Raises
    ------
    ValueError
        If the part before the dot is neither ``clf`` nor one of ``features``.
    """
    names = parse_feature_names(features)
    head, dot, tail = key.partition(".")
    if not dot:
        return key
    if head == "clf":
        return f"clf__estimator__{tail}"
    if head == "sampler":  # the pipeline's sampler step (--sampler); check_grid says when there is none
        return f"sampler__{tail}"
    if head in names:
        if head in NESTED_FEATURE_STEPS and "__" not in tail:  # pca: pixels then PCA, whose parameter is meant
            tail = f"{NESTED_FEATURE_STEPS[head]}__{tail}"
        return f"features__{tail}" if len(names) == 1 else f"features__{head}__{tail}"
    raise ValueError(f"Parameter {key!r}: {head!r} is neither 'clf' nor one of the features {names}, nor 'sampler'.")


def _wrapped_param_name(key: str, *, flip: bool = False, mirror_kernel: bool = False) -> str:
    """The name of a plain pipeline's parameter ``key`` in the pipeline ``flip`` or ``mirror_kernel`` built.

    ``clf__estimator__C`` → ``estimator__clf__estimator__C`` with ``flip`` (FlipAugmented wraps
    the pipeline); ``features__orientations`` → ``features__transformer__features__orientations``
    with ``mirror_kernel`` (MirrorViews wraps the features and the scaler, see
    :func:`fer_classic.make_pipeline`). Search's grids and report-search's ``--param`` are named so.
    """
    if flip:
        key = f"estimator__{key}"
    if mirror_kernel and key.split("__", 1)[0] in ("features", "scale"):
        key = f"features__transformer__{key}"
    return key


def check_grid(pipeline, grid: Mapping, what: str = "Grid parameter") -> None:
    """Check every name and value of ``grid`` against ``pipeline`` before the search starts.

    Parameters
    ----------
    pipeline : Pipeline
        The pipeline that will be searched.
    grid : mapping
        Pipeline parameter name → values.
    what : str, default="Grid parameter"
        Beginning of the error (``"--values for"`` for report-search's values).

    Raises
    ------
    ValueError
        Naming the first unknown parameter (with the names that exist) or the
        first value its estimator refuses.
    """
    known = pipeline.get_params(deep=True)
    for key, values in grid.items():
        owner = known.get(key.rpartition("__")[0], pipeline) if key in known else None
        if isinstance(owner, (Pipeline, FlipAugmented)):  # memory, steps, verbose, or a whole step (clf, features)
            raise ValueError(f"{what} {key!r} names the pipeline's own parameter or a whole step, which a search "
                             "does not vary; name a step's parameter (clf.C, hog.orientations).")
        if key not in known and key.removeprefix("estimator__").startswith("sampler__") and not any(
                k.removeprefix("estimator__") == "sampler" for k in known):
            raise ValueError(f"{what} {key!r} names a parameter of the sampler, but this pipeline has none: choose "
                             "one with sampler= (--sampler smote, adasyn or random on the command line).")
        if key not in known:
            near = _near_names(key, known)
            owner_name, _, name = key.rpartition("__")
            owner = known.get(owner_name, pipeline if not owner_name else None)
            where = (f"{type(owner).__name__} ({owner_name or 'the pipeline'}), whose parameters are "
                     f"{', '.join(sorted(owner.get_params(deep=False)))}" if hasattr(owner, "get_params")
                     else "this pipeline")
            hint = f" Did you mean {', '.join(near)}?" if near else (
                " Use short names such as clf.C or hog.orientations, or the pipeline's own names.")
            raise ValueError(f"{what} {key!r}: {name!r} is not a parameter of {where}.{hint}")
        owner = known.get(key.rpartition("__")[0], pipeline)
        for value in values:
            if isinstance(value, (bool, np.bool_)) and wants_number(owner, key.rpartition("__")[2]):
                raise ValueError(f"{what} {key!r}, value {value!r}: a boolean where a number is meant (JSON's and "
                                 "YAML's true is not 1); write the number.")
            try:
                validated(clone(pipeline).set_params(**{key: value}))
                if key.endswith("class_weight"):  # the weights now, the classes later
                    check_class_weight_values(value)
            except (ValueError, TypeError) as exc:
                hint = ""
                if isinstance(value, str) and _number_text(value):
                    hint = (f" (YAML 1.1 reads {value} as text: write a number YAML knows, such as 1.0e+3 for 1e3, "
                            "or 1000)")
                raise ValueError(f"{what} {key!r}, value {value!r}: {str(exc).rstrip('.')}{hint}.") from exc


def _near_names(key: str, known) -> list[str]:
    """The names of ``known`` ending as ``key`` does, those under the steps ``key`` names first.

    ``features__n_components`` (PCA's, asked of the pca feature) leads with ``features__pca__n_components``, not
    the classifier's ``clf__estimator__n_components``, a parameter of the same name that means something else.
    """
    *steps, leaf = key.split("__")
    same = [k for k in known if k.rsplit("__", 1)[-1] == leaf]
    # Most steps in common with key's first (os.path.commonprefix compares lists item by item).
    return sorted(same, key=lambda k: (-len(os.path.commonprefix([k.split("__")[:-1], steps])), k))


#: How a search's user turns an MLP's early stopping off (fit's is --param; see check_candidates).
_SEARCH_EARLY_STOPPING_OFF = 'the grid entry "clf.early_stopping": [false]'


def _number_text(text: str) -> bool:
    """Whether ``text`` spells a finite number (``'1e3'``: text to YAML 1.1, a float to Python)."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _short_param_name(key: str, features: str) -> str:
    """The short name of a search grid's Pipeline parameter: ``clf__estimator__C`` → ``clf.C`` (as grid files say).

    The inverse of :func:`pipeline_param_name` and :func:`_wrapped_param_name`; names of no step a
    short name reaches are returned whole.
    """
    key = key.removeprefix("estimator__")  # --flip's wrapper
    key = key.removeprefix("features__transformer__")  # --mirror-kernel's wrapper
    names = parse_feature_names(features)
    head, _, rest = key.partition("__")
    if head == "clf" and rest.startswith("estimator__"):
        return f"clf.{rest.removeprefix('estimator__')}"
    if head == "sampler" and rest and "__" not in rest:
        return f"sampler.{rest}"
    if head == "features" and rest:
        step, name = (names[0], rest) if len(names) == 1 else rest.partition("__")[::2]
        inner = NESTED_FEATURE_STEPS.get(step)
        if inner and name.startswith(f"{inner}__"):
            name = name.removeprefix(f"{inner}__")
        if step in names and name and "__" not in name:
            return f"{step}.{name}"
    return key


class _CandidateFailed(Exception):
    """A search candidate's fit or score raised ValueError or TypeError: ``(reason, its parameters)``.

    Raised in the worker that fitted it (and pickled back whole: its only state is its args), so that
    the search can name the candidate: scikit-learn's error says nothing of it.
    """

    def __init__(self, reason: str, params: dict):
        super().__init__(reason, params)
        self.reason, self.params = reason, params


class _NamedFailures:
    """Mixin of the estimator a search fits: an error of a candidate carries the candidate's parameters."""

    def _failed(self, exc: Exception) -> _CandidateFailed:
        params = {k: v for k, v in self.get_params(deep=True).items() if "__" in k and not hasattr(v, "get_params")}
        return _CandidateFailed(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc), params)

    def fit(self, X, y=None, **params):
        try:
            return super().fit(X, y, **params)
        except (ValueError, TypeError) as exc:  # the candidate's values (another error is a bug: it stays whole)
            raise self._failed(exc) from exc

    def score(self, X, y=None, **params):
        try:
            return super().score(X, y, **params)
        except (ValueError, TypeError) as exc:
            raise self._failed(exc) from exc


class _SearchedPipeline(_NamedFailures, Pipeline):
    pass


class _SearchedFlip(_NamedFailures, FlipAugmented):
    pass


def _searched(template):
    """``template`` as the estimator a search fits: its candidates' errors name them (:class:`_NamedFailures`)."""
    kind = {Pipeline: _SearchedPipeline, FlipAugmented: _SearchedFlip}.get(type(template))
    return template if kind is None else kind(**template.get_params(deep=False))


def _candidate_error(exc: _CandidateFailed, param_grid: Mapping, features: str, *, default: bool) -> ValueError:
    """The error of a search whose candidate failed: the grid, the candidate's values in short names, the reason.

    ``default``: the grid is :data:`DEFAULT_GRIDS`' (no ``--grid`` to change: the data is the likelier cause).
    """
    values = ", ".join(f"{_short_param_name(k, features)}={exc.params[k]!r}" for k in param_grid if k in exc.params)
    candidate = f"the candidate {values}" if values else "a candidate"
    where = "the default grid" if default else "--grid"
    fix = ("give a --grid of values that suit it" if default else
           "these values do not go together (or one does not suit the data): change or drop them in the grid")
    return ValueError(f"{where}: {candidate} cannot be fitted: {exc.reason.rstrip('.')}. {fix[0].upper()}{fix[1:]}.")


def _check_cv(cv) -> int | str:
    if str(cv).strip().lower() == "publictest":
        return "publictest"
    try:
        folds = int(str(cv))
    except ValueError:
        folds = 0
    if folds < 2:
        raise ValueError(f"--cv {cv!r}: give a number of folds (2 or more) or 'publictest'.")
    return folds


@dataclass
class SearchResult:
    """What :func:`search_model` produced.

    Attributes
    ----------
    model : FERModel
        The best candidate, refitted on all the training images.
    best_params : dict
        Its Pipeline parameters.
    best_score : float
        Its mean cross-validated (or PublicTest) accuracy.
    cv_results : list of dict
        One row per candidate, flattened from ``GridSearchCV.cv_results_``.
    metrics : dict
        Test scores of the refitted model, as
        :func:`fer_classic.evaluation.classification_metrics` returns them.
    timings : dict
        Seconds per stage.
    test_split : str
        The split scored: ``"test"``, ``"PrivateTest"`` or ``"held-out test"``.
    path : Path or None, default=None
        Where the model was saved; None when it was not.
    """

    model: FERModel
    best_params: dict
    best_score: float
    cv_results: list[dict]
    metrics: dict
    timings: dict
    test_split: str
    path: Path | None = None

    def summary(self) -> dict:
        """JSON-ready summary.

        Returns
        -------
        dict
            ``best_params``, ``best_cv_score``, ``test_split``, the test scores, ``n``, ``seconds``, ``model``
            and ``ranking`` (every candidate, best first).
        """
        from .evaluation._metrics import metrics_summary

        return {
            "best_params": {k: _json_value(v) for k, v in self.best_params.items()},
            "best_cv_score": self.best_score,
            "test_split": self.test_split,
            # The keys of fit's and evaluate's --json; "n" kept beside n_test for scripts that read it.
            **metrics_summary(self.metrics),
            "n": self.metrics["n"],
            "seconds": self.timings,
            "model": str(self.path) if self.path else None,
            "ranking": [{"rank": r["rank_test_score"], "score": r["mean_test_score"], "std": r["std_test_score"],
                         "worst": min(v for k, v in r.items() if k.startswith("split") and k.endswith("_test_score")),
                         "params": json.loads(r["params"])}
                        for r in sorted(self.cv_results, key=lambda r: r["rank_test_score"])],
        }


def _json_value(value):
    """``value`` as JSON gives it (numbers, text, booleans, null; lists and text-keyed mappings of them), else its repr.

    A search's summary and results file show a chosen value as itself (``5``, not ``"5"``); a value
    JSON cannot hold (an estimator, ``inf``) is shown as its repr. Tuples become lists.
    """
    def plain(item):
        if isinstance(item, np.generic):
            item = item.item()
        if item is None or isinstance(item, (bool, int, str)):
            return item
        if isinstance(item, float) and math.isfinite(item):
            return item
        if isinstance(item, (list, tuple)):
            return [plain(v) for v in item]
        if isinstance(item, Mapping) and all(isinstance(k, str) for k in item):
            return {k: plain(v) for k, v in item.items()}
        raise TypeError(item)

    try:
        return plain(value)
    except (TypeError, ValueError):  # ValueError: a NumPy scalar .item() refused
        return repr(value)


def _training_parts(splitter, labels, groups) -> list[np.ndarray]:
    """The rows of each fold's training part, as the search or the curves split them (labels and groups suffice).

    Grouped folds differ in size (a subject's many images): the checks of the candidates bound by the smallest.
    """
    return [rows for rows, _ in splitter.split(np.zeros((len(labels), 1)), labels, groups)]


def _check_enough_groups(groups: np.ndarray, folds: int, grouping: str, labels, splitter, *,
                         held_out: bool = False, option: str = "--cv") -> list[np.ndarray]:
    """The rows of each fold's training part (:func:`_training_parts`), once the folds are known to be possible.

    Raises DatasetError naming --cv (and --groups) before any fit: fewer groups or images of a class
    than folds (the advice is the smaller of both limits), or a fold whose training part holds a
    single class (every image of the other of two classes is of one group: that fold's fit could only
    fail). ``held_out``: ``grouping`` was counted over the data before a test was held out of it.
    ``option`` is the option the messages name (a benchmark's ``--inner-cv``).
    """
    labels = np.asarray(labels)
    n = len(np.unique(groups))
    if n < folds:
        largest = int(np.unique(labels, return_counts=True)[1].max()) if len(labels) else 0
        limit = min(n, largest)
        fix = ("give a --groups pattern whose first group tells the subjects apart" if n < 2 else
               "add images" if limit < 2 else f"use {option} {limit} or fewer folds")
        also = f", and the largest class has {largest} of them (the folds are stratified)" if largest < n else ""
        images = (f"the {len(labels)} training images left beside the held-out test" if held_out
                  else f"the {len(labels)} training images")
        counted = ", counted before the hold-out" if held_out else ""
        raise DatasetError(f"{option} {folds} needs at least {folds} groups of images, but {images} form {n} "
                           f"(grouping by {grouping}{counted}){also}; {fix}.")
    _check_cv_classes(labels, folds, option)
    splits = _training_parts(splitter, labels, groups)
    for rows in splits:
        kept = np.unique(labels[rows])
        if len(kept) < 2:
            gone = [str(label) for label in np.unique(labels) if label not in kept]
            raise DatasetError(
                f"{option} {folds} with {grouping}: a fold trains on images of {kept[0]!r} alone, as every image of "
                f"{', '.join(map(repr, gone))} is of one group (one subject) and validates in that fold; a classifier "
                "needs 2 classes or more. Give images of more subjects of it, or a --groups pattern that tells its "
                "subjects apart.")
    lone = [str(label) for label in np.unique(labels) if len(np.unique(groups[labels == label])) == 1]
    if lone:  # the search scored it anyway, its recall 0 on the test images
        warnings.warn(f"{grouping}: every image of {', '.join(map(repr, lone))} is of one group (one subject), so the "
                      "fold that validates on them trains without that class and counts them all as errors, and no "
                      "other fold scores it. Give images of more subjects of it.", UserWarning, stacklevel=3)
    return splits


def _check_cv_classes(labels, folds: int, option: str = "--cv") -> None:
    """``--cv folds`` stratified folds of ``labels`` can be made (search's and report-search's folds)."""
    check_stratified_folds(labels, folds, f"{option} {folds}", f"use {option} {{largest}} or fewer folds")


def _flat_results(cv_results: dict) -> list[dict]:
    rows = []
    for i, params in enumerate(cv_results["params"]):
        row = {"params": json.dumps({k: _json_value(v) for k, v in params.items()})}
        for key, values in cv_results.items():
            if key != "params" and not key.startswith("param_"):
                value = values[i]
                row[key] = value.item() if hasattr(value, "item") else value
        rows.append(row)
    return rows


def write_cv_results(rows: list[dict], path: str | os.PathLike) -> Path:
    """Write flattened ``cv_results_`` rows to CSV, ranked best first."""
    rows = sorted(rows, key=lambda r: r["rank_test_score"])
    buffer = io.StringIO(newline="")
    writer = csv_writer(buffer)  # a text value (a class name of class_weight) cannot run as a formula
    writer.writerow(list(rows[0]))
    writer.writerows([row[column] for column in rows[0]] for row in rows)
    return atomic_write_text(path, buffer.getvalue())


@contextlib.contextmanager
def _joblib_backend(backend: str, scheduler: str | None, n_jobs: int | None):
    """joblib's ``backend`` (checked by :func:`~fer_classic._distributed.check_backend`) for the search."""
    if backend == "dask":
        from ._distributed import dask_client

        with dask_client(scheduler), parallel_backend("dask", n_jobs=n_jobs or -1):
            yield
    elif backend == "ray":
        from ._distributed import ray_session

        with ray_session(scheduler):
            import_optional("ray.util.joblib", "--backend ray").register_ray()
            with parallel_backend("ray", n_jobs=n_jobs or -1):
                yield
    else:  # loky: joblib's default
        yield


def search_model(
    data: str | os.PathLike | FaceDataset | None = None,
    *,
    features: str = "hog",
    clf: str = "svm",
    block_scaling: bool = False,
    block_weights: Mapping[str, float] | None = None,
    preprocess: str | None = None,
    flip: bool = False,
    mirror_kernel: bool = False,
    kernel_shift: int = 0,
    sampler: str | None = None,
    grid: str | os.PathLike | Mapping | None = "default",
    cv: int | str = 5,
    groups: str | None = None,
    size: int = 48,
    random_state: int = 0,
    label_map: Mapping[str, str] | str | None = None,
    n_jobs: int | None = None,
    backend: str = "loky",
    scheduler: str | None = None,
    out: str | os.PathLike | None = None,
    model_format: str | None = None,
    results_csv: str | os.PathLike | None = None,
    verbose: int = 0,
    crop: str = "auto",
    margin: float = 0.0,
    align: bool = False,
    log: Log = quiet,
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
        Standardise each feature block on its own.
    block_weights : mapping, optional
        With ``block_scaling``: extractor name → weight of its block, as for
        :func:`fer_classic.make_pipeline`; recorded in the model's metadata.
    preprocess : str, optional
        Preprocessing name(s), e.g. ``"crop+clahe"``; None: none.
    flip : bool, default=False
        Also train on mirror images.
    mirror_kernel : bool, default=False
        Average the kernel over mirror images (kernel classifiers).
    kernel_shift : int, default=0
        With ``mirror_kernel``: also shifted views, by this many pixels.
    sampler : {"smote", "adasyn", "random"}, optional
        Oversample minority classes; None: no resampling.

        These six are pipeline options, see :func:`fer_classic.make_pipeline`;
        they are recorded in the model's metadata (``pipeline_options``). Grid
        names stay those of the plain pipeline (``features__...``,
        ``clf__...``) with ``flip`` or ``mirror_kernel``.
    grid : "default", path or mapping
        ``"default"``: :data:`DEFAULT_GRIDS`; a JSON/YAML file (see
        :func:`load_grid`); or a mapping as a grid file holds: Pipeline or
        short names (``clf.C``) to non-empty lists (or tuples, arrays) of
        values, checked as a file's are.
    cv : int or "publictest", default=5
        Stratified, grouped k-fold on ``train`` (data without a test split get
        the hold-out of :func:`fer_classic.workflow.split_train_test` first),
        or FER2013's official protocol: fit on ``train``, validate on
        ``PublicTest``, then refit the best on ``train`` and report ``PrivateTest``.
    groups : str, optional
        Regular expression whose first group is the subject id in each file
        name; folds then never split a subject across training and validation.
        Without it, the dataset's subjects (a labels file's subject column,
        CK+, JAFFE, KDEF) group the folds, else clusters of near-duplicate
        images (see :func:`fer_classic._training.image_groups`): no copy of an
        image is trained on while another is scored.
    size : int, default=48
        Image geometry (square, grayscale).
    random_state : int, default=0
        Seed of the folds, the hold-out split and randomised estimators.
    label_map : mapping or str, optional
        As in :func:`fer_classic.load_dataset`.
    n_jobs : int, optional
        Parallel candidates (and folds).
    backend : {"loky", "dask", "ray"}, default="loky"
        joblib backend running the candidates.
    scheduler : str, optional
        With ``backend="dask"`` or ``"ray"``: the Dask scheduler or Ray
        address; None starts a local one.
    out : path, optional
        Where to save the refitted best model.
    model_format : {"joblib", "skops"}, optional
        File format of ``out`` (default: by its suffix, see :func:`fer_classic.save_model`);
        one that the ``.joblib`` / ``.skops`` suffix of ``out`` contradicts is a
        ValueError before any work.
    results_csv : path, optional
        Where to write ``cv_results_`` (ranked); written once the best model
        is scored and saved, so that an error before leaves the previous
        table, not this search's beside the previous model.
    verbose : int, default=0
        GridSearchCV progress messages.
    crop : {"auto", "detect", "none"}, default="auto"
        How image files become training images, recorded in the model: see
        :func:`fer_classic.workflow.fit_model`.
    margin : float, default=0.0
        Added to each side of a found face's box (fraction of its size).
    align : bool, default=False
        Rotate found faces so the eyes are level.
    log : callable, optional
        Receives progress messages.

    Returns
    -------
    SearchResult
        The refitted best model, its parameters and scores, and every candidate's.
    """
    # Everything that can be wrong with the options is checked before the data is loaded.
    grid_file = grid if isinstance(grid, (str, os.PathLike)) and grid != "default" else None
    check_outputs({"--out": out, "--results": results_csv}, inputs={"--grid": grid_file},
                  input_trees={"--data": data_path(data)}, text=("--results",), models=("--out",),
                  make_parents=True)
    if out is not None:  # --format against --out's suffix now, as fit does: the file is written after the search
        file_format(out, model_format)
    options = pipeline_options(preprocess=preprocess, flip=flip, mirror_kernel=mirror_kernel,
                               kernel_shift=kernel_shift, block_scaling=block_scaling,
                               block_weights=block_weights, sampler=sampler, features=features)
    if grid is None or (isinstance(grid, str) and grid == "default"):
        param_grid = default_grid(features, clf)
    elif isinstance(grid, (str, os.PathLike)):
        param_grid = load_grid(grid, features)
    else:  # a mapping, or what is none (a list of dicts): the checks of a grid file's content
        param_grid = _grid_names(grid, features)
    param_grid = {_wrapped_param_name(k, flip=flip, mirror_kernel=mirror_kernel): v for k, v in param_grid.items()}
    template, shape = training_pipeline(features, clf, None, data=data, size=size, preprocess=preprocess,
                                        options=options, random_state=random_state, log=log, grid=param_grid)
    require_mlp_memory(template, features, shape)
    n_candidates = math.prod(len(v) for v in param_grid.values())  # exact: np.prod overflows int64
    # Counted before check_grid, which checks each value (about 1 ms each: 3 million took an hour to refuse).
    if n_candidates > MAX_CANDIDATES:  # GridSearchCV lists every candidate before it fits one
        sizes = " x ".join(str(len(v)) for v in param_grid.values())
        raise ValueError(f"--grid holds {n_candidates:,} candidates ({sizes} values); at most {MAX_CANDIDATES:,} "
                         "are searched: give fewer values.")
    check_grid(template, param_grid)
    # Every candidate's device and backend (cnn.device: gpu without a GPU): not after the others trained.
    check_before_loading(template, shape, param_grid, name=lambda key: _short_param_name(key, features))
    cv = _check_cv(cv)
    from ._distributed import check_backend, check_scheduler

    # An unknown backend, --scheduler with loky (it was ignored), a missing engine, an address that cannot
    # be reached (RAY_ADDRESS too): named before the data is loaded.
    check_backend(backend, scheduler, local="loky")
    check_scheduler(backend, scheduler)
    if groups is not None:
        compile_groups(groups)
        if cv == "publictest":  # it was ignored without a word
            raise ValueError(f"--groups {groups!r} groups the images of cross-validation folds; --cv publictest "
                             "validates on FER2013's PublicTest images, whoever they show: leave --groups out, or "
                             "give a number of folds.")
    check_geometry(template, data, size, param_grid)
    cropper = training_cropper(data, size, crop=crop, margin=margin, align=align)
    timings: dict[str, float] = {}
    dataset = timed(timings, "load", load_data, data, size, label_map, n_jobs, cropper, template)
    fit_groups = None
    grouping = None
    held_out = False
    if cv == "publictest":
        train = dataset.select("train")
        try:
            validation, test, test_split = dataset.select("PublicTest"), dataset.select("PrivateTest"), "PrivateTest"
        except DatasetError as exc:  # it named neither the option nor what to give instead
            raise DatasetError(
                f"--cv publictest (cv='publictest') validates on FER2013's PublicTest images and reports "
                f"PrivateTest, so it needs FER2013's usages (fer2013.csv's Usage column, or PublicTest_ / "
                f"PrivateTest_ file names): {exc} Give a number of folds instead (--cv 5)."
            ) from None
        pool = FaceDataset.concatenate([train, validation], name=dataset.name)
        splitter = PredefinedSplit(np.r_[np.full(len(train), -1), np.zeros(len(validation), int)])
    else:
        # The same hold-out as fit when the data has no test split (subjects and copies kept on one side).
        train, test, held_out, grouping, fit_groups = timed(timings, "hold-out", hold_out, dataset,
                                                            test_size=_HOLD_OUT_SIZE, random_state=random_state,
                                                            groups=groups, log=log)
        if not held_out:
            del timings["hold-out"]  # the data's own test split: nothing was held out
        test_split = "held-out test" if held_out else "test"
        pool = train
        if fit_groups is None:  # the data's own train/test splits: group the training images now
            fit_groups, grouping = timed(timings, "groups", image_groups, train, groups, log=log)
        splitter = StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=random_state)
    scored = {"PublicTest (validation)": validation, "PrivateTest": test} if cv == "publictest" else {"test": test}
    warn_exact_copies(train, scored, dataset.name, command="search", stacklevel=3)
    refit_on = train
    require_feature_memory(features, shape, len(pool), flip=flip, mirror_kernel=mirror_kernel,
                           kernel_shift=kernel_shift, pipeline=template)
    splits = (None if cv == "publictest" else
              _check_enough_groups(fit_groups, cv, grouping, train.labels, splitter, held_out=held_out))
    default = grid is None or (isinstance(grid, str) and grid == "default")
    check_candidates(template, train, param_grid, folds=None if cv == "publictest" else cv, splits=splits,
                     early_stopping_off=_SEARCH_EARLY_STOPPING_OFF + (
                         ", in a grid file of your own: the default grid keeps it on" if default else ""))

    # The exact SVM's candidates run one after another in this process (each on all cores), so
    # that they share its kernel matrix: computed once per gamma, and the refit on the same rows
    # (cv="publictest") reuses the fitted candidate.
    shared = clf == "svm" and backend == "loky"
    memory_key = "estimator__memory" if flip else "memory"
    with tempfile.TemporaryDirectory(prefix="fer-classic-cache-") as cache, \
            (kernel_cache() if shared else contextlib.nullcontext()) as kernels:
        # The pipeline memory caches fitted feature extractors, so candidates that differ
        # only in classifier parameters reuse the training features.
        pipeline = _searched(clone(template)).set_params(**{memory_key: Memory(cache, verbose=0)})
        # Local candidates at most one process per CPU; a cluster's (dask, ray) as many as asked.
        workers = capped_n_jobs(n_jobs) if backend == "loky" else n_jobs
        search = GridSearchCV(pipeline, param_grid, cv=splitter, n_jobs=1 if shared else workers, refit=False,
                              verbose=verbose, error_score="raise")
        log(f"searching {n_candidates} candidates of '{features}' + '{clf}' on {len(pool)} images "
            f"(cv={cv}, backend={backend}" + (", one candidate at a time on all cores" if shared else "") + ")")
        with _joblib_backend(backend, scheduler, n_jobs):
            try:
                timed(timings, "search", lambda: search.fit(pool.X, pool.y, groups=fit_groups))
            except _CandidateFailed as exc:
                raise _candidate_error(exc, param_grid, features, default=grid_file is None and not isinstance(
                    grid, Mapping)) from None
        best = clone(template).set_params(**search.best_params_, **{memory_key: Memory(cache, verbose=0)})
        log(f"best {search.best_params_} (cv score {search.best_score_:.4f}); refitting on {len(refit_on)} images")
        fit_pipeline(best, refit_on, timings, log, features, clf)
        best.set_params(**{memory_key: None})  # the cache folder goes now: the model must not name it
        # The candidates took one thread each (they may run side by side); the model predicts on
        # all cores, as fit's does, unless --n-jobs said otherwise.
        params = best.get_params()
        best.set_params(**{key: -1 if n_jobs is None else capped_n_jobs(n_jobs) for key, value in params.items()
                           if key.endswith("n_jobs") and value is None and _uses_n_jobs(params, key)})
        if kernels is not None:
            log(f"RBF kernel matrices: {kernels['kernels_computed']} computed, {kernels['kernels_reused']} reused; "
                f"{kernels['fits_reused']} fit(s) reused (the refit when it trains on the same rows)")
    rows = _flat_results(search.cv_results_)
    model, metrics, path = fit_score_save(
        best, refit_on, test, features=features, clf=clf, source=dataset.name, timings=timings, log=log, fitted=True,
        out=out, model_format=model_format, metrics_extra={"split": test_split}, random_state=random_state,
        held_out_test=held_out, **({"hold_out": hold_out_record(_HOLD_OUT_SIZE, groups)} if held_out else {}),
        pipeline_options=options, **({"grouping": grouping} if grouping else {}), face_cropper=cropper,
        search={"cv": str(cv), "groups": groups, "block_scaling": block_scaling,
                "grid": {k: repr(v) for k, v in param_grid.items()},
                "best_params": {k: repr(v) for k, v in search.best_params_.items()},
                "best_cv_score": float(search.best_score_)},
    )
    # After the model is saved: a failure in scoring or saving it never leaves this search's table
    # beside the last search's model.
    if results_csv is not None:
        try:
            write_cv_results(rows, results_csv)
        except OSError as exc:
            if path is None:
                raise
            raise type(exc)(exc.errno, f"--results could not be written ({exc.strerror or exc}); the best model "
                                       f"was saved to {path}", exc.filename) from exc
    return SearchResult(model, search.best_params_, float(search.best_score_), rows, metrics,
                        timings, test_split, path)


def _uses_n_jobs(params: dict, key: str) -> bool:
    """Whether the estimator owning ``key`` (``...__n_jobs``) of a pipeline's ``params`` has threads to set."""
    from sklearn.linear_model import LogisticRegression

    # LogisticRegression's n_jobs does nothing for its multinomial solvers, and warns at every fit
    # from scikit-learn 1.8 on.
    return not isinstance(params.get(key.rpartition("__")[0]), LogisticRegression)


#: Names a recorded value's repr may hold besides literals: float('inf') and float('nan') print as inf and nan.
_REPR_NAMES = {"inf": math.inf, "nan": math.nan}


def _read_repr(text: str):
    """The value whose ``repr`` is ``text`` (a recorded grid entry): literals, ``inf``/``nan`` and NumPy scalars.

    ``ast.literal_eval`` refuses ``inf`` and ``np.float64(1.0)`` (NumPy 2's scalar repr), which a
    searched grid may hold; NumPy scalars come back as the Python values they hold.

    Raises
    ------
    ValueError
        If ``text`` holds anything else (a call other than a NumPy scalar's, an unknown name).
    """
    import ast

    def value(node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [value(item) for item in node.elts]
            return items if isinstance(node, ast.List) else tuple(items) if isinstance(node, ast.Tuple) else set(items)
        if isinstance(node, ast.Dict) and None not in node.keys:
            return {value(k): value(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = value(node.operand)
            if isinstance(operand, (int, float)) and not isinstance(operand, bool):
                return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.Name) and node.id in _REPR_NAMES:
            return _REPR_NAMES[node.id]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy"):
            if node.attr in ("True_", "False_"):  # NumPy 2's repr of its booleans
                return node.attr == "True_"
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.keywords
                and isinstance(node.func.value, ast.Name) and node.func.value.id in ("np", "numpy")
                and len(node.args) == 1):  # np.float64(1.0), np.int64(5), np.str_('scale')
            kind = getattr(np, node.func.attr, None)
            if isinstance(kind, type) and issubclass(kind, np.generic):
                return kind(value(node.args[0])).item()
        raise ValueError(f"cannot read {ast.unparse(node)!r}")

    return value(ast.parse(text.strip(), mode="eval").body)


def _searched_values(search: Mapping) -> dict[str, list | None]:
    """The values each parameter of a search's recorded grid took (None where the record cannot be read back)."""
    grid = {}
    for name, text in (search.get("grid") or {}).items():
        try:
            values = _read_repr(text) if isinstance(text, str) else text
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            values = None
        grid[name] = values if isinstance(values, (list, tuple)) else None
    return grid


def _searched_groups(metadata: Mapping) -> str | None:
    """The ``--groups`` pattern a model's search grouped its images by; None: its default grouping.

    Recorded by the search (``search["groups"]``); models searched before that record it only in
    the hold-out they made, if any, and otherwise get the default grouping.
    """
    for recorded in (metadata.get("search"), metadata.get("hold_out")):
        if isinstance(recorded, Mapping) and isinstance(recorded.get("groups"), str):
            return recorded["groups"]
    return None


def _curve_images(model: FERModel, dataset: FaceDataset) -> FaceDataset:
    """The images of ``dataset`` the curves are drawn on: the train split, less what the model's search held out.

    On the data the search held its test out of (no test split), the hold-out is recomputed as
    ``evaluate --split held-out`` does (:func:`fer_classic.workflow.held_out_images`), and the
    curves get the rest: the images the search trained on. Other data gives its train split, or
    every image when it has no split.
    """
    from .data import dedupe
    from .evaluation._metrics import held_out_test, training_images_scored
    from .workflow import _recompute_held_out

    metadata = model.metadata
    pool = dataset.select("train") if dataset.has_split("train") else dataset
    if not training_images_scored(model, dataset, None):  # neither its path nor its images' fingerprint
        source = (metadata.get("training") or {}).get("source")
        warnings.warn(f"{dataset.name} is not the data this model was searched on ({source or 'not recorded'}): "
                      "neither its path nor its images match what the model records, so the curves show this "
                      f"pipeline on other images, not the search's; give --data {source or 'the searched data'} for "
                      "the search's own.", UserWarning, stacklevel=3)
        return pool
    if dataset.has_split("test") or not held_out_test(metadata):
        return pool
    try:
        test = _recompute_held_out(model, dataset)
    except DatasetError as exc:
        raise DatasetError(f"report-search draws its curves on the images the model was trained on, less the test "
                           f"it held out of {dataset.name}; they could not be recomputed. {exc}") from None
    if (metadata.get("hold_out") or {}).get("dedupe"):
        pool = dedupe(pool)  # as the fit did before holding out
    train = pool.subset(~np.isin(pool.sources.astype(str), test.sources.astype(str)))
    if train.fingerprint() != (metadata.get("training") or {}).get("fingerprint"):  # sources named twice
        raise DatasetError(f"{dataset.name}: the images left beside the recomputed hold-out are not the ones the "
                           "model was trained on (some file names are given twice?); give the data the model was "
                           "searched on, with one name per image.")
    return train


def _refuse_missing_step(param: str, known, given: str) -> None:
    """ValueError naming the step ``param`` goes through that the pipeline lacks, and the steps it has there.

    ``given`` is the name as the user wrote it (``sampler.k_neighbors``); ``param`` the pipeline's own
    (``estimator__sampler__k_neighbors`` under ``--flip``), whose wrappers the message leaves out.
    """
    parts = param.split("__")
    for depth in range(1, len(parts)):
        if "__".join(parts[:depth]) not in known:
            base = "__".join(parts[: depth - 1] + [""]) if depth > 1 else ""
            below = [k[len(base):] for k in known if k.startswith(base)]
            steps = sorted({k.split("__")[0] for k in below if "__" in k})
            if not steps:  # a leaf's parameter named as a step: the caller's list of near names says more
                return
            missing = parts[depth - 1]
            # The steps of the plain pipeline, whatever wraps it (--flip, --mirror-kernel): what short names reach.
            where = "" if base in ("", "estimator__") else f" under {base[:-2]!r}"
            fitted = (" (the model was fitted without --sampler; refit with it to tune it)" if missing == "sampler"
                      else "")
            raise ValueError(f"--param {given!r}: this model's pipeline has no step {missing!r}{where}{fitted} (its "
                             f"steps there: {', '.join(steps)}); give a parameter of one of them (short names such "
                             "as clf.C).")


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
    """Learning and validation curves of a searched model's pipeline on the images it was searched on.

    Writes ``learning_curve.png``, ``validation_curve.png`` and ``curves.json``
    into ``out_dir``. The folds are grouped as the search's were (its
    ``--groups`` pattern, else the dataset's subjects, else near-duplicate
    clusters): no subject or copy of a face is on both sides of a fold.

    Parameters
    ----------
    model : FERModel
        Saved by :func:`search_model` (its metadata holds the grid searched).
    data : path, FaceDataset or None
        The dataset; only its ``train`` split is used, and of the data the
        search held its test out of (no test split) only the images it
        trained on (the hold-out recomputed, as ``evaluate --split held-out``
        does); other data without splits is used whole. A path is loaded
        with the face cropper the model records (whole images resized for
        models recording none).
    out_dir : path
        Folder to write the plots and ``curves.json`` into (created if needed).
    param : str, optional
        Pipeline parameter of the validation curve; default: the first one the
        search varied.
    values : list, optional
        Values of ``param``; default: the searched ones.
    train_sizes : tuple of float, default=(0.1, 0.25, 0.5, 0.75, 1.0)
        Shares of the training folds of the learning curve.
    cv : int, default=3
        Number of folds.
    random_state : int, default=0
        Seed of the folds.
    n_jobs : int, optional
        Parallel fits. These four
        are as in :func:`fer_classic.evaluation.compute_learning_curve`.

    Returns
    -------
    dict
        Paths written, how many images the curves used and how their folds
        were grouped, and the curves' summaries.
    """
    from .evaluation import (
        compute_learning_curve,
        compute_validation_curve,
        plot_learning_curve,
        plot_validation_curve,
        require_matplotlib,
    )
    from .evaluation._curves import curve_splitter
    from ._fileio import write_together

    search = model.metadata.get("search")
    if not search and (param is None or values is None):
        raise ValueError("This model was not saved by 'fer-classic search' (no search metadata); "
                         "pass --param and --values explicitly.")
    grid = _searched_values(search or {})  # read only when needed: --param and --values need none of it
    if param is not None:
        known = model.pipeline.get_params(deep=True)
        options = model.metadata.get("pipeline_options") or {}
        # As search names a grid's keys: short names, then the prefix of --flip's or --mirror-kernel's wrapper.
        wrapped = _wrapped_param_name(pipeline_param_name(param, model.metadata.get("features", "hog")),
                                      flip=bool(options.get("flip")), mirror_kernel=bool(options.get("mirror_kernel")))
        given, param = param, param if wrapped not in known and param in known else wrapped  # a wrapped name whole
        if param not in known:
            _refuse_missing_step(param, known, given)  # sampler.k_neighbors of a model without a sampler
            near = _near_names(param, known) or sorted(k for k in known if "__" in k and not k.endswith("memory"))[:12]
            raise ValueError(f"--param {param!r} is not a parameter of this model's pipeline; "
                             f"for example: {', '.join(near)} (or short names such as clf.C).")
    if param is None:
        if not grid:
            raise ValueError("The model's search records no parameter it varied (its grid was empty); give the "
                             "validation curve's parameter and values (--param clf.C --values 0.1,1,10).")
        varied = [k for k, v in grid.items() if v is None or len(v) > 1] or list(grid)
        param = varied[0]
    if values is None:
        if param not in grid:
            raise ValueError(f"{param!r} was not searched; give its values (searched: {', '.join(grid) or 'none'}).")
        if grid[param] is None:
            raise ValueError(f"The model records the values searched for {param!r} as "
                             f"{search['grid'][param]!r}, which cannot be read back; give them with --values.")
        values = list(grid[param])
    values = _unique_values(list(values), "--values")
    if len(values) > MAX_CANDIDATES:  # search's cap: each value is --cv fits (20,000 values ran for hours)
        raise ValueError(f"--values gives {len(values):,} values; at most {MAX_CANDIDATES:,} are fitted: give "
                         "fewer values.")
    check_grid(model.pipeline, {param: values}, "--values for")  # before the curves' fits, as search's grid
    check_outputs({"--out": out_dir, **folder_outputs("--out", out_dir, CURVE_FILES)},
                  input_trees={"--data": data_path(data)}, dirs=("--out",), make_parents=True)
    require_matplotlib("report-search")  # before the curves' many fits
    # Cut as the model's training images were (whole images for models recording no cropper).
    dataset = load_data(data, tuple(model.image_shape), None, None, loading_cropper(model))
    train = _curve_images(model, dataset)
    if len(set(train.labels.tolist())) < 2:  # every fit of both curves would fail
        raise DatasetError(f"{train.name}: the curves need training images of 2 or more classes; these are all "
                           f"{train.labels[0]!r}. Give the dataset the model was searched on.")
    # The search's folds: a subject's images, or a face's near copies, never on both sides of a fold.
    groups, grouping = image_groups(train, _searched_groups(model.metadata))
    splits = _check_enough_groups(groups, cv, grouping, train.labels, curve_splitter(cv, random_state, groups))
    # As search checks its grid: k-NN neighbours above a fold's rows, a class_weight naming no class
    # of these images... (each such value was cv failed fits, NaN on the curve and a warning per fit).
    check_candidates(model.pipeline, train, {param: values}, folds=cv, splits=splits,
                     early_stopping_off=f"a search with {_SEARCH_EARLY_STOPPING_OFF}, then report-search on its model")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_jobs = capped_n_jobs(n_jobs)  # the curves' fits are local processes: at most one per CPU
    learning = compute_learning_curve(model.pipeline, train.X, train.y, train_sizes=train_sizes, cv=cv,
                                      groups=groups, random_state=random_state, n_jobs=n_jobs)
    validation = compute_validation_curve(model.pipeline, train.X, train.y, param_name=param, param_range=values,
                                          cv=cv, groups=groups, random_state=random_state, n_jobs=n_jobs)
    written, writes = {}, []
    for name, curve, plot in (("learning_curve", learning, plot_learning_curve),
                              ("validation_curve", validation, plot_validation_curve)):
        figure = plot(curve)
        written[name] = str(out / f"{name}.png")
        writes.append((written[name], lambda tmp, figure=figure: figure.savefig(tmp, format="png", dpi=100,
                                                                                bbox_inches="tight")))
    summary = {"files": written, "images": len(train), "grouping": grouping, "learning": learning.summary(),
               "validation": validation.summary()}
    # All three or none (curves.json, which describes the plots, renamed last): an interrupted write never
    # leaves one of this run's plots beside the last run's.
    write_together([(out / "curves.json", json.dumps(summary, indent=1)), *writes])
    return summary
