"""Test accuracy and F1 of feature sets x classifiers on FER2013, with fit and predict seconds.

For every feature set (``hog``, ``lbp``, ``hog+lbp``, ``sift``, ``hog+lbp+sift`` by
default) the pipeline of :func:`fer_classic.make_pipeline` up to the classifier
(preprocessing, extractors, scaling: per-block for combined sets) is fitted on the
``train`` split once and applied to the test images; then every classifier
(``linear-svm``: LinearSVC; ``svm-approx``: RBF SVM through Nystroem landmarks;
``svm``: the exact RBF SVM, on a precomputed kernel matrix; ``logreg``; ``kernel-svm``:
:class:`~fer_classic.estimators.KernelSVC`, histogram intersection by default;
``combined-svm``: :class:`~fer_classic.estimators.CombinedKernelSVC`, one kernel per
extractor's block; ``local-svm``: :class:`~fer_classic.estimators.LocalSVC`, an SVM on
each test face's nearest training faces) is fitted on those features and scored on

* all test images (FER2013: 7,178, PublicTest + PrivateTest), and
* the PrivateTest half alone (when the dataset has FER2013 usages),

with accuracy, weighted F1 and macro F1. ``fit s`` is the feature fit/extraction on
train plus the classifier fit; ``predict s`` the test feature extraction plus the
prediction; ``feat s`` the feature part of both.

Hyper-parameters are fixed (the defaults of :func:`fer_classic.estimators.make_classifier`,
or ``--clf-param``, which also reaches nested parameters such as
``local-svm:estimator__kernel=rbf``), or chosen by the classifier's own
cross-validation on the training rows (``combined-svm:weights=cv``): no test label is
used to choose anything. ``combined-svm``'s ``blocks`` (and any nested ``..__blocks``)
left unset are the widths of the feature set's blocks, one per extractor in the order
of the spec (``hog+sift``: 1,296 and 2,560), so that its ``kernels`` name one kernel per
extractor. ``--flip`` trains on
every training image and its mirror image, exactly as
:class:`fer_classic.preprocessing.FlipAugmented` does (the features of the mirrors
are computed once here and shared by the classifiers); test images are never flipped.
``--mirror-kernel`` instead gives the kernel classifiers (``kernel-svm``,
``combined-svm``, ``local-svm``) the features of every face and of its mirror image
side by side, and ``views=2``, as ``make_pipeline(mirror_kernel=True)`` builds them:
their kernel is averaged over both orientations of both faces, at fit and predict time.
``--kernel-shift N`` adds four views, every face moved N pixels right and left and the
mirrors of both (``make_pipeline(mirror_kernel=True, kernel_shift=N)``, ``views=6``).

Usage::

    python benchmarks/bench_accuracy.py --limit 5000                 # quick look
    python benchmarks/bench_accuracy.py --flip --clfs linear-svm,svm-approx,svm
    python benchmarks/bench_accuracy.py --feature-sets sift+hog+gabor --block-scaling --mirror-kernel \
        --clfs kernel-svm --clf-param kernel-svm:kernel=rbf
    python benchmarks/bench_accuracy.py --feature-sets hog+lbp --clf-param svm-approx:C=3
    python benchmarks/bench_accuracy.py --feature-sets hog+gabor+sift --block-scaling --clfs combined-svm \
        --clf-param combined-svm:weights=cv --clf-param 'combined-svm:kernels=["rbf","rbf","intersection"]'
"""

from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C in the seconds of the imports below: no traceback
    import contextlib

    with contextlib.suppress(ImportError):  # beside this script: sys.path[0] when run as a command, not by runpy
        import _interrupt

        _interrupt.install()

import argparse
import ast
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from fer_classic import load_dataset, make_pipeline
from fer_classic._training import check_geometry, validated
from fer_classic.data import DEFAULT_DATASET, dataset_inputs
from fer_classic.estimators import CanonicalOrderClassifier, make_classifier
from fer_classic.features import CNNFeatures, DeepFeatures, parse_feature_names
from fer_classic.features._deep import import_keras
from fer_classic.pipeline import check_block_weights, parse_block_weights
from fer_classic.preprocessing import make_preprocessing, mirror_rows, n_mirror_views

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import (ROWS_OUT_HELP, SEED_MAX, RowsFile, check_results, run_script,  # noqa: E402  (one road)
                      UsageExit, json_text, seed)
DEFAULT_DATA = REPO.parent / "shared" / "data" / "fer2013"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "bench_accuracy.json"
#: Side of the loaded images, in pixels (load_dataset's size).
SIZE = 48

#: Benchmark classifier name -> (make_classifier name, fixed parameters).
CLASSIFIERS = {
    "linear-svm": ("linear-svm", {}),
    "svm-approx": ("svm", {"backend": "approx"}),
    "svm": ("svm", {}),
    "logreg": ("logreg", {}),
    "kernel-svm": ("kernel-svm", {}),
    "combined-svm": ("combined-svm", {}),
    "local-svm": ("local-svm", {}),
}
#: Classifier parameters recorded with each row (those the classifier has).
REPORTED_PARAMS = ("C", "gamma", "backend", "n_components", "kernel", "kernels", "blocks", "weights", "cv",
                   "k", "mode", "estimator")
#: Fitted attributes recorded with each row of a classifier that chose them by cross-validation on train
#: (one with a ``cv_results_``): the choice and the candidates' scores.
FITTED_ATTRIBUTES = ("weights_", "cv_results_")


def parse_clf_params(items: list[str]) -> dict[str, dict]:
    """``["svm-approx:C=3", ...]`` -> ``{"svm-approx": {"C": 3}}`` (values as Python literals).

    Raises
    ------
    ValueError
        Naming ``--clf-param`` and the item that is not ``CLF:NAME=VALUE``.
    """
    params: dict[str, dict] = {}
    for item in items:
        clf, sep, assignment = item.partition(":")
        name, eq, value = assignment.partition("=")
        if not sep or not eq or not name or clf not in CLASSIFIERS:
            raise ValueError(f"--clf-param {item!r}: expected CLF:NAME=VALUE with CLF in {', '.join(CLASSIFIERS)}.")
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        params.setdefault(clf, {})[name] = parsed
    return params


def block_widths(features: TransformerMixin, n_features: int) -> list[int]:
    """Column widths of a fitted features step's blocks, one per extractor in spec order.

    Parameters
    ----------
    features : transformer
        The fitted ``"features"`` step of :func:`fer_classic.make_pipeline`: one
        extractor, or a (block-scaled) FeatureUnion of several.
    n_features : int
        Columns it outputs.

    Returns
    -------
    list of int
        ``[n_features]`` for one extractor; else the width of each extractor's block
        (output names ``"<extractor>__..."``, consecutive per extractor).

    Raises
    ------
    ValueError
        If the widths do not add up to ``n_features``.
    """
    if not hasattr(features, "transformer_list"):
        return [int(n_features)]
    prefixes = (str(name).split("__", 1)[0] for name in features.get_feature_names_out())
    widths = [sum(1 for _ in group) for _, group in itertools.groupby(prefixes)]
    if sum(widths) != n_features:
        raise ValueError(f"the feature blocks {widths} do not add up to the {n_features} features")
    return widths


def parse_feature_params(items: list[str]) -> dict:
    """``["epochs=30", ...]`` -> ``{"epochs": 30}`` (values as Python literals).

    Raises
    ------
    ValueError
        Naming ``--feature-param`` and the item that is not ``NAME=VALUE``.
    """
    params = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise ValueError(f"--feature-param {item!r}: expected NAME=VALUE.")
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    return params


def set_feature_params(head, params: dict) -> dict:
    """Set each of ``params`` on every extractor of ``head`` that has it; the full keys set.

    ``epochs`` reaches ``features__cnn__epochs`` in ``cnn+sift``; a name no extractor of the
    feature set has is left out (the same flags serve several feature sets).
    """
    keys = {key: params[key.rsplit("__", 1)[-1]] for key in head.get_params()
            if key.startswith("features") and key.rsplit("__", 1)[-1] in params}
    head.set_params(**keys)
    return keys


def feature_head(spec: str, args: argparse.Namespace, feature_params: dict):
    """Everything before the classifier, exactly as make_pipeline builds it, with ``feature_params`` set.

    (A classifier over views for ``--mirror-kernel``, so that make_pipeline wraps the features.)
    """
    head = make_pipeline(spec, "kernel-svm" if args.mirror_kernel else "linear-svm", preprocess=args.preprocess,
                         block_scaling=args.block_scaling, block_weights=args.block_weights,
                         mirror_kernel=args.mirror_kernel,
                         kernel_shift=args.kernel_shift, random_state=args.seed, n_jobs=args.n_jobs)[:-1]
    set_feature_params(head, feature_params)
    return head


def stratified_subset(train, limit: int, seed: int):
    """``limit`` of the ``train`` images, stratified by class (``train`` itself when it holds no more).

    Raises
    ------
    ValueError
        Naming ``--limit`` when the subset, or the images left out of it, cannot
        hold one image of every class, or a class has a single image (what the
        stratified split needs).
    """
    if limit >= len(train):
        return train
    classes, counts = np.unique(train.y, return_counts=True)
    n_classes = len(classes)
    if limit < n_classes:
        raise ValueError(f"--limit {limit}: fewer training images than the {n_classes} classes, and the stratified "
                         f"subset holds one of each at least; give {n_classes} or more, or leave --limit out for "
                         f"all {len(train)} of them.")
    if len(train) - limit < n_classes:
        raise ValueError(f"--limit {limit} leaves {len(train) - limit} of the {len(train)} training images out, fewer "
                         f"than the {n_classes} classes (the stratified split leaves one of each out at least); give "
                         f"at most {len(train) - n_classes}, or leave --limit out for all of them.")
    if counts.min() < 2:
        single = classes[counts < 2]
        raise ValueError(f"--limit {limit}: the stratified split needs two training images of every class at least, "
                         f"and {', '.join(map(str, single))} {'has' if len(single) == 1 else 'have'} only one; leave "
                         "--limit out for all of them.")
    index, _ = train_test_split(np.arange(len(train)), train_size=limit, stratify=train.y, random_state=seed)
    return train.subset(np.sort(index))


def check_pca_rows(spec: str, head, n_rows: int, flip: bool) -> None:
    """PCA's components within the ``n_rows`` training rows it is fit on; SystemExit naming the feature set if not.

    scikit-learn refused them only after the features before it ("n_components=150 must be between 0 and
    min(n_samples, n_features)"), a traceback.
    """
    from sklearn.decomposition import PCA

    components = [step.n_components for step in head.get_params().values()
                  if isinstance(step, PCA) and isinstance(step.n_components, int)]
    if components and max(components) > n_rows:
        k = max(components)
        raise UsageExit(f"--feature-sets {spec}: PCA keeps {k} components, more than the {n_rows} training rows it "
                        f"would be fit on{' (with --flip)' if flip else ''}; give at least "
                        f"{-(-k // (2 if flip else 1))} training images, or --feature-param n_components={n_rows} "
                        "or less, or other feature sets.")


def build_classifier(clf: str, params: dict, widths: list[int] | None, *, random_state: int,
                     n_jobs: int | None, views: int = 1) -> CanonicalOrderClassifier:
    """The benchmark classifier ``clf``, with ``blocks`` (and ``views``) parameters left unset filled in.

    Parameters
    ----------
    clf : str
        A key of :data:`CLASSIFIERS`.
    params : dict
        Its ``--clf-param`` values (over the table's fixed ones).
    widths : list of int or None
        The feature set's block widths (:func:`block_widths`): the value of every
        ``blocks`` or ``*__blocks`` parameter that is None and not in ``params``;
        None leaves them unset (the parameters checked before any feature set).
    random_state : int
        Seed of the classifier.
    n_jobs : int, optional
        Threads of the classifiers that take them (the histogram kernels).
    views : int, default=1
        Views of every face in the features (2 with ``--mirror-kernel``, 6 with
        ``--kernel-shift``), as
        :func:`~fer_classic.estimators.make_classifier` takes it.

    Returns
    -------
    CanonicalOrderClassifier
        As :func:`fer_classic.estimators.make_classifier` returns it.

    Raises
    ------
    ValueError
        If ``views`` > 1 and the classifier has no kernel over views.
    """
    name, fixed = CLASSIFIERS[clf]
    params = {**fixed, **params}
    model = make_classifier(name, random_state=random_state, n_jobs=n_jobs, views=views, **params)
    if widths is not None:
        inner = model.estimator.get_params()
        model.estimator.set_params(**{key: list(widths) for key, value in inner.items()
                                      if key.split("__")[-1] == "blocks" and value is None and key not in params})
    return model


def save_features(folder: Path, spec: str, F_fit, y_fit, F_test, test, info: dict) -> None:
    """Train and test features of ``spec`` as ``.npy`` files in ``folder``, with labels, usages and ``info``.

    ``info``: the seconds of fitting and of the test features, and the block widths. The six files are
    written as one set (:func:`fer_classic._fileio.write_together`): a run stopped while writing them over
    earlier ones left new train arrays beside old test arrays and old seconds.
    """
    from fer_classic._fileio import write_together

    folder.mkdir(parents=True, exist_ok=True)
    stem = spec.replace("+", "_")
    arrays = {"train_X": F_fit, "train_y": np.asarray(y_fit).astype(str), "test_X": F_test,
              "test_y": np.asarray(test.y).astype(str),
              "test_usage": np.asarray(test.usages).astype(str)}

    def saver(array):
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:  # np.save would add .npy to the temporary's name
                np.save(handle, array)

        return write

    write_together([*((folder / f"{stem}_{name}.npy", saver(array)) for name, array in arrays.items()),
                    (folder / f"{stem}_seconds.json", json_text(info))])


#: The options the features are computed with (what a saved set records), as the command line names them.
FEATURE_OPTIONS = {"mirror_kernel": "--mirror-kernel", "kernel_shift": "--kernel-shift",
                   "block_scaling": "--block-scaling", "block_weights": "--block-weight", "preprocess": "--preprocess",
                   "feature_params": "--feature-param", "seed": "--seed", "flip": "--flip"}


def feature_options(args, feature_params: dict) -> dict:
    """The values of :data:`FEATURE_OPTIONS` in this run, as JSON keeps them (tuples as lists)."""
    values = {"mirror_kernel": args.mirror_kernel, "kernel_shift": args.kernel_shift,
              "block_scaling": args.block_scaling, "block_weights": args.block_weights, "preprocess": args.preprocess,
              "feature_params": feature_params, "seed": args.seed, "flip": args.flip}
    return json.loads(json.dumps(jsonable(values)))


def draws_at_random(head) -> bool:
    """Whether a step of ``head`` takes a ``random_state`` (SIFT's and VLAD's codebooks, the CNN): --seed changes
    its features. HOG, LBP, pixels and Gabor take none, and give the same features under every seed."""
    return any(key.rsplit("__", 1)[-1] == "random_state" for key in head.get_params())


def saved_files(folder: Path, spec: str) -> list[Path]:
    """The four arrays :func:`save_features` writes for ``spec``; SystemExit naming those missing (or its JSON)."""
    stem = spec.replace("+", "_")
    files = [folder / f"{stem}_{name}.npy" for name in ("train_X", "train_y", "test_X", "test_y")]
    missing = [f.name for f in [*files, folder / f"{stem}_seconds.json"] if not f.is_file()]
    if missing:
        raise UsageExit(f"--load-features {folder}: no saved {spec} features ({', '.join(missing)} missing); "
                        "save them first with --save-features.")
    return files


def flip_refusal(folder: Path, spec: str, saved_flip: bool) -> str:
    """Why features saved with(out) --flip cannot serve a run without (with) it: their rows differ."""
    if saved_flip:
        return (f"--load-features {folder}: the saved {spec} features were computed with --flip (rows for the "
                "mirror images too); give --flip, or save them again without it.")
    return (f"--load-features {folder}: the saved {spec} features were computed without --flip (no rows for the "
            "mirror images, which --flip trains on), so --flip cannot reuse them; save them again with --flip "
            "--save-features, or leave --flip out.")


def check_recorded(folder: Path, spec: str, options: dict, *, seeded: bool = True) -> dict:
    """The saved set's ``_seconds.json``, the options it records checked against ``options``; SystemExit if one differs.

    Reads no array: run before the data is loaded (``seeded=False``: the seed is checked by :func:`load_features`).
    """
    info = json.loads((folder / f"{spec.replace('+', '_')}_seconds.json").read_text())
    recorded = {"mirror_kernel": False, "kernel_shift": 0, "block_weights": None, **info}  # older sets: none
    for key, option in FEATURE_OPTIONS.items():
        if key == "seed" and not seeded:
            continue
        if key in recorded and key in options and recorded[key] != options[key]:
            if key == "flip":
                raise UsageExit(flip_refusal(folder, spec, bool(recorded[key])))
            raise UsageExit(f"--load-features {folder}: the saved {spec} features were computed with {option} "
                            f"{recorded[key]!r}, this run asks for {options[key]!r}; give the same option (the "
                            "results would record the other).")
    return info


def load_features(folder: Path, spec: str, y_fit, test, options: dict, *, seeded: bool = True):
    """``(F_fit, F_test, fit s, test s, widths)`` of ``spec`` as :func:`save_features` wrote them, checked.

    ``options`` (:func:`feature_options`) must be those the features were computed with: the results
    record them. Files that record none of an option (older ones, or sets joined by hand) are not
    checked for it, except --mirror-kernel and --kernel-shift (off when not recorded). The seed is
    checked only when ``seeded``: when it changes the features (:func:`draws_at_random`) or drew the
    training images (``--limit``); else features saved under another ``--seed`` are the same ones.
    """
    files = saved_files(folder, spec)
    info = check_recorded(folder, spec, options, seeded=seeded)
    arrays = {name: np.load(file) for name, file in zip(("train_X", "train_y", "test_X", "test_y"), files)}
    y = np.asarray(y_fit).astype(str)
    if "flip" not in info:  # saved before --flip was recorded: told apart by their rows
        flip = bool(options.get("flip"))
        if np.array_equal(arrays["train_y"], y[: len(y) // 2] if flip else np.concatenate([y, y])):
            raise UsageExit(flip_refusal(folder, spec, not flip))
    if not (np.array_equal(arrays["train_y"], y) and np.array_equal(arrays["test_y"], np.asarray(test.y).astype(str))):
        raise UsageExit(f"--load-features {folder}: the saved {spec} features are of other images (labels differ).")
    return arrays["train_X"], arrays["test_X"], info["fit"], info["test"], info["widths"]


def jsonable(value):
    """``value`` with arrays as lists and numpy scalars as Python numbers (for the results JSON)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def scores(y_true, y_pred) -> dict[str, float]:
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "f1_weighted": round(float(f1_score(y_true, y_pred, average="weighted")), 4),
        "f1_macro": round(float(f1_score(y_true, y_pred, average="macro")), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="dataset folder or CSV (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None,
                        help="fit on a stratified random subset of N training images, one of each class at least "
                             "(default: all)")
    parser.add_argument("--feature-sets", default="hog,lbp,hog+lbp,sift,hog+lbp+sift",
                        help="comma-separated feature specs (default: %(default)s)")
    parser.add_argument("--clfs", default="linear-svm,svm-approx",
                        help=f"comma-separated classifiers among {', '.join(CLASSIFIERS)} (default: %(default)s)")
    parser.add_argument("--clf-param", action="append", default=[], metavar="CLF:NAME=VALUE",
                        help="fixed classifier parameter, e.g. svm-approx:C=3, local-svm:estimator__kernel=rbf, "
                             "combined-svm:weights=cv (repeatable)")
    parser.add_argument("--feature-param", action="append", default=[], metavar="NAME=VALUE",
                        help="set NAME of the extractors that have it (e.g. epochs=30, precision=mixed; repeatable)")
    parser.add_argument("--save-features", default=None, metavar="DIR",
                        help="write each feature set's train and test features to DIR as .npy (for later classifiers), "
                             "replacing the files of the same feature set there")
    parser.add_argument("--load-features", default=None, metavar="DIR",
                        help="take each feature set's features from DIR (written by --save-features) instead of "
                             "computing them; their recorded seconds are reported")
    parser.add_argument("--preprocess", default=None, help="e.g. clahe, equalize, crop+clahe (default: none)")
    parser.add_argument("--flip", action="store_true", help="train on the images and their mirror images")
    parser.add_argument("--mirror-kernel", action="store_true",
                        help="kernel classifiers: average the kernel over every face and its mirror image "
                             "(make_pipeline(mirror_kernel=True))")
    parser.add_argument("--kernel-shift", type=int, default=0, metavar="PIXELS",
                        help="with --mirror-kernel: also average over every face moved PIXELS (below half the image "
                             "width: 23 at most for 48 pixels) right and left "
                             "and their mirrors (six views; make_pipeline(kernel_shift=PIXELS))")
    parser.add_argument("--block-scaling", action="store_true",
                        help="scale each block of combined features on its own (make_pipeline(block_scaling=True))")
    parser.add_argument("--block-weight", action="append", default=[], metavar="NAME=WEIGHT",
                        help="with --block-scaling: multiply extractor NAME's block by WEIGHT (above 0; repeatable; "
                             "make_pipeline(block_weights={NAME: WEIGHT}))")
    parser.add_argument("--n-jobs", type=int, default=-1,
                        help="threads for feature extraction and histogram kernels; -1: all (default)")
    parser.add_argument("--seed", type=seed, default=0,
                        help=f"seed of the subset, codebooks and classifiers (0 to {SEED_MAX}; default 0)")
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help=ROWS_OUT_HELP)
    args = parser.parse_args()

    # Usage errors (exit 2, the option named) before anything is built or loaded.
    def usage_error(call, *a, **k):  # call(*a, **k), a ValueError of it a usage error
        try:
            return call(*a, **k)
        except ValueError as exc:
            parser.error(str(exc))

    if args.data != DEFAULT_DATASET and not Path(args.data).exists():
        parser.error(f"--data {args.data} does not exist; give a dataset folder or a fer2013.csv.")
    if args.limit is not None and args.limit < 1:  # 0 would have meant every image
        parser.error(f"--limit {args.limit}: give 1 or more training images, or leave --limit out for all of them.")
    if args.n_jobs == 0:
        parser.error("--n-jobs 0 cannot run anything; give 1 or more, or -1 for all cores.")
    feature_sets = [s.strip() for s in args.feature_sets.split(",") if s.strip()]
    if not feature_sets:  # else complete results of no row, exit 0
        parser.error(f"--feature-sets {args.feature_sets!r} names no feature set; give one or more, comma-separated.")
    for spec in feature_sets:
        try:
            parse_feature_names(spec)
        except ValueError as exc:
            parser.error(f"--feature-sets {spec}: {exc}")
    clfs = [c.strip() for c in args.clfs.split(",") if c.strip()]
    if not clfs:  # else every feature set extracted for no row, exit 0
        parser.error(f"--clfs {args.clfs!r} names no classifier; give one or more of {', '.join(CLASSIFIERS)}, "
                     "comma-separated.")
    unknown = [c for c in clfs if c not in CLASSIFIERS]
    if unknown:
        parser.error(f"--clfs: unknown {', '.join(unknown)}; choose from {', '.join(CLASSIFIERS)}.")
    clf_params = usage_error(parse_clf_params, args.clf_param)
    for clf in clf_params:  # else its parameters would be dropped without a word
        if clf not in clfs:
            parser.error(f"--clf-param gives parameters of {clf}, which is not among --clfs ({', '.join(clfs)}); "
                         f"add {clf} to --clfs or drop its --clf-param.")
    feature_params = usage_error(parse_feature_params, args.feature_param)
    args.block_weights = usage_error(parse_block_weights, args.block_weight)
    for spec in feature_sets:  # before feature_head builds a pipeline with them
        try:
            check_block_weights(args.block_weights, spec, args.block_scaling)
        except ValueError as exc:
            parser.error(f"--feature-sets {spec}: {exc}")
    if args.flip and args.mirror_kernel:
        parser.error("--flip and --mirror-kernel are two ways to use the mirror images; choose one.")
    if args.kernel_shift < 0 or (args.kernel_shift and not args.mirror_kernel):
        parser.error("--kernel-shift takes 0 or more pixels and adds views to --mirror-kernel; give both.")
    if args.preprocess is not None:
        try:
            make_preprocessing(args.preprocess)
        except ValueError as exc:
            parser.error(f"--preprocess {args.preprocess}: {exc}")
    views = n_mirror_views(args.kernel_shift) if args.mirror_kernel else 1
    for clf in clfs:  # a parameter the classifier lacks, or a value it refuses, stops here, before any data
        try:
            # No widths: blocks=[] was refused (no block), so combined-svm never passed this check.
            validated(build_classifier(clf, clf_params.get(clf, {}), None, random_state=args.seed,
                                       n_jobs=args.n_jobs, views=views))
        except ValueError as exc:
            parser.error(f"--clf-param {clf}: {exc}")
    extractor_params = set()
    for spec in feature_sets:  # the extractors' parameters and geometry (--kernel-shift) as fit checks them
        head = feature_head(spec, args, feature_params)
        extractor_params |= {key.rsplit("__", 1)[-1] for key in head.get_params() if key.startswith("features")}
        if not args.load_features and any(isinstance(step, (CNNFeatures, DeepFeatures))
                                          for step in head.get_params().values()):
            import_keras(f"--feature-sets {spec}")  # TensorFlow missing: its pip extra now, not after loading
        try:
            check_geometry(validated(head), args.data, SIZE)
        except ValueError as exc:
            parser.error(f"--feature-sets {spec} on {SIZE}-pixel images: {exc}")
    unused = sorted(set(feature_params) - extractor_params)
    if unused:  # else a misspelt name (n_word=2000) would run without it, and the results record it
        parser.error(f"--feature-param {', '.join(unused)}: no extractor of --feature-sets {args.feature_sets} has "
                     "such a parameter.")

    # Before any work: the results and saved features never replace an input (the data, a model).
    check_results({"--out": args.out, "--save-features": args.save_features},
                  input_trees={"--data": dataset_inputs(args.data), "--load-features": args.load_features},
                  dirs=("--save-features",))
    results_file = RowsFile(args.out)
    for spec in feature_sets if args.load_features else ():  # before the data is loaded
        saved_files(Path(args.load_features), spec)
        check_recorded(Path(args.load_features), spec, feature_options(args, feature_params), seeded=False)

    start = time.perf_counter()
    data = load_dataset(args.data, size=SIZE)
    lacking = [split for split in ("train", "test") if not (data.splits == split).any()]
    if lacking:  # data.select's message gave fer-classic evaluate's advice (--split all, --split held-out)
        splits = sorted(set(data.splits.tolist()) - {""}) or ["none, it is one set of class folders"]
        parser.error(f"--data {args.data} has no {' or '.join(lacking)} images (its splits: {', '.join(splits)}); "
                     "bench_accuracy needs FER2013-style train/ and test/ class folders, or a CSV with a Usage "
                     "column.")
    train, test = data.select("train"), data.select("test")
    drawn = args.limit is not None and args.limit < len(train)  # the seed chose the training images
    if args.limit is not None:  # the classes are known now, before any feature
        train = usage_error(stratified_subset, train, args.limit, args.seed)
    private = test.usages == "PrivateTest"
    public = test.usages == "PublicTest"  # where a choice between rows may be made
    print(f"loaded {data.name}: {len(train)} train, {len(test)} test ({int(private.sum())} PrivateTest) "
          f"in {time.perf_counter() - start:.1f} s", flush=True)
    X_fit, y_fit = train.X, train.y
    if args.flip:
        X_fit, y_fit = np.concatenate([X_fit, mirror_rows(X_fit, train.image_shape)]), np.concatenate([y_fit, y_fit])
    for spec in feature_sets if not args.load_features else ():  # before any feature is computed
        check_pca_rows(spec, feature_head(spec, args, feature_params), len(y_fit), args.flip)

    config = {
        "data": str(data.name), "n_train": len(train), "n_test": len(test), "limit": args.limit,
        "flip": args.flip, "mirror_kernel": args.mirror_kernel, "kernel_shift": args.kernel_shift,
        "preprocess": args.preprocess, "feature_params": feature_params,
        "block_scaling": args.block_scaling, "block_weights": args.block_weights, "seed": args.seed,
        "hyper_parameters": ("fixed (make_classifier defaults and --clf-param) or by the classifier's own "
                             "cross-validation on train; no test labels used"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
    }

    def write(rows: list[dict], done: bool) -> None:
        # Rewritten after every row: a long run that is stopped keeps what it measured.
        results_file.write({**config, "total_s": round(time.perf_counter() - start, 1), "rows": rows}, done)

    header = (f"{'features':<14} {'clf':<12} {'dims':>6} {'acc':>7} {'F1w':>7} {'F1m':>7} "
              f"{'acc priv':>8} {'F1w priv':>8} {'F1m priv':>8} {'acc pub':>7} {'feat s':>7} {'fit s':>7} "
              f"{'predict s':>9}")
    print(header)
    rows = []
    options = feature_options(args, feature_params)
    for spec in feature_sets:
        head = feature_head(spec, args, feature_params)
        if args.load_features:
            F_fit, F_test, feat_fit_s, feat_test_s, widths = load_features(
                Path(args.load_features), spec, y_fit, test, options, seeded=drawn or draws_at_random(head))
        else:
            t0 = time.perf_counter()
            F_fit = head.fit_transform(X_fit, y_fit)
            feat_fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            F_test = head.transform(test.X)
            feat_test_s = time.perf_counter() - t0
            features = head.named_steps["features"]
            if args.mirror_kernel:  # MirrorViews around [features, scale]: the widths of one view
                features = features.transformer_.named_steps["features"]
            widths = block_widths(features, F_fit.shape[1] // views)
        print(f"{spec}: features fitted in {feat_fit_s:.1f} s, test features {feat_test_s:.1f} s", flush=True)
        if args.save_features:
            save_features(Path(args.save_features), spec, F_fit, y_fit, F_test, test,
                          info={"fit": round(feat_fit_s, 1), "test": round(feat_test_s, 1), "widths": widths,
                                **options})
        for clf in clfs:
            model = build_classifier(clf, clf_params.get(clf, {}), widths, random_state=args.seed,
                                     n_jobs=args.n_jobs, views=views)
            t0 = time.perf_counter()
            model.fit(F_fit, y_fit)
            fit_s = feat_fit_s + time.perf_counter() - t0
            t0 = time.perf_counter()
            predicted = model.predict(F_test)
            predict_s = feat_test_s + time.perf_counter() - t0
            chosen = ({name: jsonable(getattr(model.estimator_, name)) for name in FITTED_ATTRIBUTES
                       if hasattr(model.estimator_, name)} if hasattr(model.estimator_, "cv_results_") else {})
            row = {
                "features": spec, "clf": clf, "params": {k: repr(v) for k, v in model.estimator.get_params().items()
                                                         if k in REPORTED_PARAMS},
                "chosen_on_train": chosen,
                "n_train": len(train), "flip": args.flip, "mirror_kernel": args.mirror_kernel,
                "kernel_shift": args.kernel_shift,
                "preprocess": args.preprocess,
                "block_scaling": args.block_scaling, "block_weights": args.block_weights,
                "n_features": int(F_fit.shape[1]),
                "test": {"n": len(test), **scores(test.y, predicted)},
                "private_test": ({"n": int(private.sum()), **scores(test.y[private], predicted[private])}
                                 if private.any() else None),
                "public_test": ({"n": int(public.sum()), **scores(test.y[public], predicted[public])}
                                if public.any() else None),
                "features_s": round(feat_fit_s + feat_test_s, 2), "fit_s": round(fit_s, 2),
                "predict_s": round(predict_s, 2),
            }
            rows.append(row)
            missing = {"accuracy": float("nan"), "f1_weighted": float("nan"), "f1_macro": float("nan")}
            p, pub = row["private_test"] or missing, row["public_test"] or missing
            print(f"{spec:<14} {clf:<12} {row['n_features']:>6} {row['test']['accuracy']:>7.4f} "
                  f"{row['test']['f1_weighted']:>7.4f} {row['test']['f1_macro']:>7.4f} {p['accuracy']:>8.4f} "
                  f"{p['f1_weighted']:>8.4f} {p['f1_macro']:>8.4f} {pub['accuracy']:>7.4f} "
                  f"{row['features_s']:>7.1f} {fit_s:>7.1f} {predict_s:>9.1f}", flush=True)
            if "weights_" in chosen:
                print(f"{'':<14} {clf} weights on train: {chosen['weights_']}", flush=True)
            write(rows, done=False)

    write(rows, done=True)
    print(f"results: {args.out}")


if __name__ == "__main__":
    run_script(main)
