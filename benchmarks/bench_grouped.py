"""Subject-grouped, stratified k-fold accuracy of fer-classic pipelines on a small posed dataset (TFEID).

Issue #19's recipe (features with ``--block-scaling``, exact RBF SVM) scored per fold on
the Taiwanese Facial Expression Image Database: 1,232 front-view 256x256 JPEGs of 29
performers, seven expressions, as published in ``lai-wei-cheng/b12207073`` (commit
790c449, ``Taiwanese/faces_256x256/``). Every image of a performer lies in one fold, so
each fold is scored on faces never seen in training.

* Loading is what ``fer-classic fit`` / ``search`` do with a folder of photos: the
  face cropper they record (``--crop auto``: images larger than twice the model side
  are searched with OpenCV's Haar cascade, taken whole when no face is found and the
  image is square) cuts every image once, to 48x48 gray, and the same crops feed every
  row. Images without a face are skipped and counted; how each face was taken
  (``found`` / ``whole image``) is counted by running the same cropper again.
* Outer folds: ``StratifiedGroupKFold(n_splits=--folds, shuffle=True,
  random_state=--seed)`` over all images, groups the performer id that
  ``--groups`` (a regular expression, as ``fer-classic search --groups``) reads from
  each file name, subjects that share a pixel-identical image joined
  (:func:`fer_classic._training.image_groups`, as fit and search group them).
* Each fold is fitted by :func:`fer_classic.model_selection.search_model`, the function
  behind ``fer-classic search --cv K --groups REGEX --grid FILE``, on a copy of the
  dataset whose ``train`` split is the other folds and ``test`` split this fold: C in
  ``--C`` is chosen by its grouped, stratified ``--inner-cv``-fold cross-validation on
  the training folds only (same groups), the best is refitted on them and scores the
  fold once. ``--inner-cv 0`` fits ``C=--fixed-C`` without a search
  (:func:`fer_classic.workflow.fit_model`, behind ``fer-classic fit``).
* Rows: every ``--feature-sets`` entry with ``--clf svm`` (``make_pipeline(...,
  block_scaling=True)``), then ``local-svm`` (:class:`~fer_classic.estimators.LocalSVC`,
  its kernel RBF as in the FER2013 ablation, k=200, local C by the same inner search)
  on the feature set whose svm row has the best mean fold accuracy (``--local-svm``
  names one instead, ``none`` skips it).

``--jobs 2`` (default) fits two folds at once, each in its own process with BLAS and
OpenCV on one thread (libsvm's pairs of classes may still take two threads).
``fit s`` is one fold's inner search, refit and training features; ``predict s`` the
fold's test features (timed again after the fold: ``search_model`` sums training and
test feature seconds) and classification; a row's seconds add its folds up. Seconds are
wall clock on a possibly shared machine. ``mean`` and ``std`` (ddof=1) are over the
folds, which differ in size (whole performers); ``pooled`` is correct / all images.

The dataset is not in the repository. Its file names (``0111b01.jpg``) are the
performer (two digits), performance type, view (1: front), expression letter (a calm,
b happy, c sad, d angry, e disgusted, f fearful, g surprised) and a serial number; nine
calm images of performers 12, 13 and 18 lost their letter (``1201002.jpg``; the
database's ``Image_info.xls`` lists them as ``1201a02.tif``...) and are read as calm.
``--prepare`` copies the files into class folders named by fer-classic's canonical
labels.

Usage::

    mkdir -p /tmp/tfeid_raw && git --git-dir=MIRROR archive 790c449 Taiwanese/faces_256x256 \\
        | tar -x -C /tmp/tfeid_raw --strip-components=2
    python benchmarks/bench_grouped.py --prepare /tmp/tfeid_raw --data /tmp/tfeid   # class folders, once
    python benchmarks/bench_grouped.py --data /tmp/tfeid              # the issue-19 rows, 10 folds
    python benchmarks/bench_grouped.py --data /tmp/tfeid --feature-sets hog --local-svm none --inner-cv 0
"""

from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C in the seconds of the imports below: no traceback
    import contextlib

    with contextlib.suppress(ImportError):  # beside this script: sys.path[0] when run as a command, not by runpy
        import _interrupt

        _interrupt.install()

import argparse
import json
import re
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import (ROWS_OUT_HELP, SEED_MAX, RowsFile, check_results, run_script,  # noqa: E402  (one road)
                      UsageExit, seed)
from bench_samplers import machine  # noqa: E402  (CPU and BLAS kernel, one definition)

DEFAULT_DATA = Path("/tmp/tfeid")
DEFAULT_OUT = REPO / "benchmarks" / "results" / "bench_grouped.json"
#: Written by --prepare into the class folders: where their images were copied from (the results' ``source``).
PREPARED = ".bench_grouped_prepare.json"
DEFAULT_FEATURE_SETS = "hog,lbp,sift,gabor,hog+lbp,hog+sift,hog+gabor,hog+gabor+sift"
#: The performer id of a TFEID file name (``--groups`` of ``fer-classic search``).
TFEID_GROUPS = r"^(\d{2})\d{2}[a-g0]\d{2}\."
#: TFEID's expression letters and the database's own names for them; its calm face ("a") is its neutral
#: expression (calm is no alias of neutral in fer_classic.labels: RAVDESS keeps the two apart).
TFEID_EXPRESSIONS = {"a": "neutral", "b": "happy", "c": "sad", "d": "angry", "e": "disgusted", "f": "fearful",
                     "g": "surprised"}
_TFEID_NAME = re.compile(r"^(?P<subject>\d{2})(?P<performance>\d)(?P<view>\d)(?P<expression>[a-g0])(?P<serial>\d{2})"
                         r"\.(?:jpe?g|tiff?|png|bmp)$", re.IGNORECASE)
#: Parameters of the local-svm row's classifier beside the searched C (the FER2013 ablation's kernel).
LOCAL_SVM_PARAMS = {"clf__estimator__estimator__kernel": ["rbf"]}


def parse_tfeid_name(name: str) -> dict:
    """Performer, view and canonical label of a TFEID file name.

    Parameters
    ----------
    name : str
        A file name such as ``0111b01.jpg`` (performer 01, performance type 1,
        front view, happy, serial 01), or a path ending in one.

    Returns
    -------
    dict
        ``subject`` (two digits), ``view`` (``"1"`` front, ``"2"`` 3/4,
        ``"3"`` profile), ``label`` (one of
        :data:`fer_classic.labels.CANONICAL_LABELS`).

    Raises
    ------
    ValueError
        If the name does not follow TFEID's convention, or its expression
        digit ``0`` (a calm image that lost its letter) comes with a
        performance type other than 0 (calm images are type 0).
    """
    from fer_classic.labels import canonical_label

    base = Path(str(name)).name
    match = _TFEID_NAME.match(base)
    if match is None:
        raise ValueError(f"{base!r} is not a TFEID file name (two-digit performer, performance type, view, "
                         "expression letter a-g, two-digit serial, e.g. 0111b01.jpg).")
    letter = match["expression"].lower()
    if letter == "0":
        if match["performance"] != "0":
            raise ValueError(f"{base!r}: no expression letter, and performance type {match['performance']} is not "
                             "the calm images' 0.")
        letter = "a"
    return {"subject": match["subject"], "view": match["view"],
            "label": canonical_label(TFEID_EXPRESSIONS[letter])}


def prepare_tfeid(source: Path, out: Path, *, views: tuple[str, ...] = ("1",)) -> dict:
    """Copy TFEID images from a flat folder into class folders ``out/<label>/<file>``.

    Parameters
    ----------
    source : path
        Folder holding the TFEID files (other files are listed and left).
    out : path
        New or empty folder, outside this repository.
    views : tuple of str, default=("1",)
        Views kept (1: front).

    Returns
    -------
    dict
        ``copied`` per label, ``subjects``, ``other_views`` and ``not_tfeid`` (file names).

    Raises
    ------
    SystemExit
        If ``out`` is inside the repository or not empty, or ``source`` holds
        no TFEID image.
    """
    out, source = Path(out).resolve(), Path(source).resolve()
    if out == REPO or REPO in out.parents:
        raise UsageExit(f"--data {out}: dataset images are not to be written inside the repository.")
    if out.exists() and any(out.iterdir()):
        raise UsageExit(f"--data {out} is not empty; give a new folder for the class folders.")
    copied: Counter = Counter()
    subjects, other_views, not_tfeid = set(), [], []
    for path in sorted(p for p in source.iterdir() if p.is_file()):
        try:
            info = parse_tfeid_name(path.name)
        except ValueError:
            not_tfeid.append(path.name)
            continue
        if info["view"] not in views:
            other_views.append(path.name)
            continue
        target = out / info["label"] / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copied[info["label"]] += 1
        subjects.add(info["subject"])
    if not copied:
        raise UsageExit(f"{source}: no TFEID image (names such as 0111b01.jpg) found.")
    (out / PREPARED).write_text(json.dumps({"copied_from": str(source)}) + "\n")
    return {"copied": dict(sorted(copied.items())), "subjects": len(subjects), "other_views": other_views,
            "not_tfeid": not_tfeid}


def fold_summary(accuracies: list[float]) -> dict:
    """Mean, sample standard deviation (ddof=1), min and max of per-fold accuracies."""
    a = np.asarray(accuracies, dtype=float)
    return {"mean": round(float(a.mean()), 4), "std": round(float(a.std(ddof=1)) if len(a) > 1 else 0.0, 4),
            "min": round(float(a.min()), 4), "max": round(float(a.max()), 4)}


def how_taken(data, cropper) -> Counter:
    """How the cropper takes the largest face of each loaded image's file: found, whole image, crop, no face."""
    from fer_classic.prediction._image import load_image

    fitted = cropper.fit()
    counts: Counter = Counter()
    for source in data.sources:
        image, _ = load_image(source)
        found = fitted.crop_faces(image)
        counts[max(found, key=lambda pair: pair[0].area)[0].how if found else "no face"] += 1
    return counts


def prepared_source(data: Path) -> str | None:
    """The folder ``--prepare`` copied ``data``'s images from, or None for class folders made otherwise.

    The results recorded the TFEID repository as the source of any --data (a fixture in /tmp included).
    """
    try:
        return str(json.loads((data / PREPARED).read_text())["copied_from"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def block_scaling(features: str) -> bool:
    """Whether ``features`` combines extractors, so --block-scaling scales their blocks (one: nothing to scale,
    and fit_model warned in every fold about a --block-scaling the user never gave)."""
    from fer_classic.features import parse_feature_names

    return len(parse_feature_names(features)) > 1


def run_fold(data, train_index, test_index, *, features: str, clf: str, args) -> dict:
    """Fit one outer fold the way ``fer-classic search`` (or ``fit``) does; its accuracy, choice and seconds."""
    from fer_classic.model_selection import search_model
    from fer_classic.workflow import fit_model

    splits = np.full(len(data), "train", dtype=object)
    splits[test_index] = "test"
    fold = data.with_splits(splits.astype(str))
    start = time.perf_counter()
    if args.inner_cv:
        grid = {"clf__estimator__C": [float(c) for c in args.C],
                **(LOCAL_SVM_PARAMS if clf == "local-svm" else {})}
        result = search_model(fold, features=features, clf=clf, block_scaling=block_scaling(features), grid=grid,
                              cv=args.inner_cv, groups=args.groups, random_state=args.seed, n_jobs=1)
        chosen = {"C": result.best_params["clf__estimator__C"], "inner_cv_accuracy": round(result.best_score, 4)}
        timings, metrics = result.timings, result.metrics
    else:
        params = {"C": float(args.fixed_C), **({"estimator__kernel": "rbf"} if clf == "local-svm" else {})}
        # No groups: the fold is the test split, so fit_model holds nothing out (it warned, per fold, that
        # --groups does nothing and to leave it out; the outer folds are what --groups makes).
        result = fit_model(fold, features=features, clf=clf, clf_params=params,
                           block_scaling=block_scaling(features), random_state=args.seed, n_jobs=1)
        chosen = {"C": float(args.fixed_C)}
        timings, metrics = result.timings, result.metrics
    total = time.perf_counter() - start
    # search_model adds training and test feature seconds together: time the test fold's features again.
    model = result.model
    test = fold.select("test")
    t0 = time.perf_counter()
    model.pipeline[:-1].transform(test.X)
    test_features = time.perf_counter() - t0
    predict_s = test_features + timings.get("predict", 0.0)
    return {"n_train": int(len(train_index)), "n_test": int(len(test_index)),
            "accuracy": round(float(metrics["accuracy"]), 4), "f1_macro": round(float(metrics["f1_macro"]), 4),
            **chosen, "fit_s": round(total - predict_s, 2), "predict_s": round(predict_s, 2),
            "timings": {k: round(float(v), 2) for k, v in timings.items()}}


def _fold_task(data, train_index, test_index, features: str, clf: str, args, one_thread: bool) -> dict:
    """:func:`run_fold` in a worker process; with ``one_thread``, BLAS/OpenMP and OpenCV on one thread."""
    if not one_thread:
        return run_fold(data, train_index, test_index, features=features, clf=clf, args=args)
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    with threadpool_limits(limits=1):
        return run_fold(data, train_index, test_index, features=features, clf=clf, args=args)


def file_subjects(data: Path, pattern: str) -> set[str]:
    """The subjects that ``pattern`` reads from the file names under ``data`` (no image is decoded)."""
    from fer_classic._training import compile_groups

    regex = compile_groups(pattern)
    found = (regex.search(path.name) for path in data.rglob("*") if path.is_file())
    return {match.group(1) for match in found if match is not None and match.group(1) is not None}


def check_inner_cv(folds: list, groups: np.ndarray, labels: np.ndarray, args) -> None:
    """The inner search's ``--inner-cv`` grouped folds, possible in every outer fold's training images, before any fit.

    ``search_model`` checks them per fold, after the first rows' fits, naming its own option (``--cv``):
    the same check here, on all outer folds (the fewest subjects first), naming ``--inner-cv``.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    from fer_classic.exceptions import FerClassicError
    from fer_classic.model_selection import _check_enough_groups

    order = sorted(range(len(folds)), key=lambda i: len(np.unique(groups[folds[i][0]])))
    for i in order:
        train = folds[i][0]
        grouping = f"subjects from --groups {args.groups!r} ({len(np.unique(groups[train]))} subjects)"
        splitter = StratifiedGroupKFold(n_splits=args.inner_cv, shuffle=True, random_state=args.seed)
        try:
            _check_enough_groups(groups[train], args.inner_cv, grouping, labels[train], splitter, option="--inner-cv")
        except FerClassicError as exc:
            raise UsageExit(
                f"outer fold {i + 1} of --folds {args.folds}: {exc} Or --inner-cv 0 for a fixed C.") from None


def check_models(parser, args, feature_sets: list[str]) -> None:
    """Usage errors for the feature sets, the local-svm row, C and the size: each pipeline built and checked."""
    from fer_classic._training import validated
    from fer_classic.data._images import as_size
    from fer_classic.features import parse_feature_names
    from fer_classic.pipeline import make_pipeline

    for option, spec in [*(("--feature-sets", s) for s in feature_sets),
                         *([("--local-svm", args.local_svm)] if args.local_svm not in ("best", "none") else [])]:
        try:
            parse_feature_names(spec)
        except ValueError as exc:
            parser.error(f"{option} {spec!r}: {exc}"
                         + (" Or give 'best' or 'none'." if option == "--local-svm" else ""))
    if not feature_sets and args.local_svm in ("best", "none"):
        parser.error(f"--feature-sets {args.feature_sets!r} names no feature set; give one or more, comma-separated"
                     + (" (--local-svm best picks among them)." if args.local_svm == "best" else "."))
    try:
        as_size(args.size)
    except ValueError as exc:
        parser.error(f"--size {args.size}: {exc}")
    option, values = ("--C", args.C) if args.inner_cv else ("--fixed-C", [args.fixed_C])
    clfs = ["svm", *(["local-svm"] if args.local_svm != "none" else [])]
    for value in values:
        for clf in clfs:
            try:
                validated(make_pipeline("hog", clf, C=float(value)))
            except ValueError as exc:
                parser.error(f"{option} {value:g}: give a C above 0 ({exc})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="class-folder tree of the TFEID images (default: %(default)s)")
    parser.add_argument("--prepare", type=Path, metavar="FOLDER",
                        help="copy the TFEID files of FOLDER into class folders at --data, then stop")
    parser.add_argument("--feature-sets", default=DEFAULT_FEATURE_SETS,
                        help="comma-separated feature specs, each with svm (default: %(default)s)")
    parser.add_argument("--local-svm", default="best",
                        help="feature set of the local-svm row: 'best' (best mean svm accuracy), a spec, or 'none' "
                             "(default: best)")
    parser.add_argument("--folds", type=int, default=10, help="outer folds (default: %(default)s)")
    parser.add_argument("--inner-cv", type=int, default=3,
                        help="folds of the inner grouped search over --C on the training folds; 0: fixed C "
                             "(default: %(default)s)")
    parser.add_argument("--C", type=float, nargs="+", default=[1.0, 10.0, 100.0], help="C searched (default: 1 10 100)")
    parser.add_argument("--fixed-C", type=float, default=10.0, help="C with --inner-cv 0 (default: %(default)s)")
    parser.add_argument("--groups", default=TFEID_GROUPS,
                        help="regular expression whose first group is the subject in a file name "
                             "(default: %(default)s)")
    parser.add_argument("--crop", default="auto", choices=["auto", "detect", "none"],
                        help="face crop policy, as fer-classic fit --crop (default: %(default)s)")
    parser.add_argument("--size", type=int, default=48, help="model side in pixels (default: %(default)s)")
    parser.add_argument("--n-jobs", type=int, default=2,
                        help="decoding threads, 1 or more; -1: all cores (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="folds fitted at once (1 or more), each in its own process on one thread (BLAS, "
                             "OpenCV); 1: one fold at a time on all threads (default: %(default)s)")
    parser.add_argument("--seed", type=seed, default=0,
                        help=f"seed of the folds, codebooks and classifiers (0 to {SEED_MAX}; default 0)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=ROWS_OUT_HELP)
    args = parser.parse_args()

    if args.prepare is not None:
        if not args.prepare.is_dir():
            parser.error(f"--prepare {args.prepare} is not a folder; give the folder of the TFEID files "
                         "(faces_256x256).")
        report = prepare_tfeid(args.prepare, args.data)
        print(f"{sum(report['copied'].values())} images of {report['subjects']} subjects into {args.data}: "
              f"{report['copied']}; other views left: {len(report['other_views'])}; "
              f"not TFEID names: {report['not_tfeid'] or 'none'}")
        return

    from joblib import Parallel, delayed
    from sklearn.model_selection import StratifiedGroupKFold

    from fer_classic import load_dataset
    from fer_classic._training import compile_groups, image_groups, make_face_cropper
    from fer_classic.exceptions import FerClassicError

    feature_sets = [s.strip() for s in args.feature_sets.split(",") if s.strip()]
    # Usage errors (exit 2, the option named) before the images are loaded.
    check_models(parser, args, feature_sets)
    if args.folds < 2 or args.inner_cv == 1 or args.inner_cv < 0:
        parser.error("--folds must be 2 or more and --inner-cv 0 (no search) or 2 or more.")
    if args.n_jobs == 0 or args.n_jobs < -1:  # the loaders would read them as 1 thread
        parser.error(f"--n-jobs {args.n_jobs}: give 1 or more decoding threads, or -1 for all cores.")
    if args.jobs < 1:  # 0 stopped joblib after loading; -1 ran every fold's process on all threads
        parser.error(f"--jobs {args.jobs}: give 1 or more folds fitted at once (1: one fold at a time on all "
                     "threads).")
    try:
        compile_groups(args.groups)
    except ValueError as exc:
        parser.error(str(exc))
    from fer_classic.data import dataset_inputs

    check_results({"--out": args.out}, input_trees={"--data": dataset_inputs(args.data)})
    results_file = RowsFile(args.out)
    if not args.data.is_dir():
        parser.error(f"--data {args.data} is not a folder; give the TFEID class folders (made by --prepare).")
    subjects = file_subjects(args.data, args.groups)
    if len(subjects) < args.folds:
        parser.error(f"--folds {args.folds}: the file names under --data {args.data} name {len(subjects)} "
                     f"subject(s) (--groups); give at most {len(subjects)} folds, each whole subjects.")

    start = time.perf_counter()
    cropper = make_face_cropper(args.size, crop=args.crop)  # what fit and search load photos through
    data = load_dataset(args.data, size=args.size, n_jobs=args.n_jobs, cropper=cropper)
    load_s = time.perf_counter() - start
    try:
        # As fit and search group them: a copy filed under two performers joins them.
        groups, grouping = image_groups(data, args.groups)
    except FerClassicError as exc:
        raise UsageExit(str(exc)) from None
    if len(np.unique(groups)) < args.folds:  # images without a face were skipped
        parser.error(f"--folds {args.folds}: the images loaded from --data {args.data} are of "
                     f"{len(np.unique(groups))} subject(s); give at most that many folds.")
    how = how_taken(data, cropper)
    print(f"loaded {data.name}: {len(data)} images, grouped by {grouping}, classes "
          f"{data.class_counts()}, {len(data.skipped)} skipped in {load_s:.1f} s; faces {dict(how)}", flush=True)
    for path, reason in data.skipped:
        print(f"  skipped {path}: {reason}")
    outer = StratifiedGroupKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    folds = list(outer.split(np.zeros(len(data)), data.y, groups))
    if args.inner_cv:  # else search_model refused them in a fold, naming its own --cv
        check_inner_cv(folds, groups, data.labels, args)

    config = {
        "data": str(args.data), "source": prepared_source(args.data),
        "n_images": len(data), "n_subjects": int(len(np.unique(groups))), "classes": data.class_counts(),
        "skipped": [list(item) for item in data.skipped], "faces": dict(how), "crop": args.crop, "size": args.size,
        "groups": args.groups, "folds": args.folds, "seed": args.seed,
        "fold_subjects": [sorted(set(groups[test].tolist())) for _, test in folds],
        "fold_sizes": [int(len(test)) for _, test in folds],
        "hyper_parameters": (f"C in {args.C} by grouped stratified {args.inner_cv}-fold CV on the training folds "
                             "(fer_classic.model_selection.search_model)" if args.inner_cv
                             else f"fixed C={args.fixed_C} (fer_classic.workflow.fit_model)"),
        "block_scaling": True, "jobs": args.jobs, "machine": machine(),
    }

    def write(rows: list[dict], done: bool) -> None:
        # Rewritten after every row: a stopped run keeps what it measured.
        results_file.write({**config, "total_s": round(time.perf_counter() - start, 1), "rows": rows}, done)

    print(f"{'features':<16}{'clf':<10}" + "".join(f"{f'f{i + 1}':>7}" for i in range(args.folds))
          + f"{'mean':>8}{'std':>7}{'pooled':>8}{'fit s':>8}{'pred s':>8}", flush=True)
    rows: list[dict] = []

    def run_row(spec: str, clf: str) -> dict:
        results = Parallel(n_jobs=args.jobs)(delayed(_fold_task)(data, train, test, spec, clf, args, args.jobs > 1)
                                             for train, test in folds)
        accuracies = [r["accuracy"] for r in results]
        pooled = sum(round(r["accuracy"] * r["n_test"]) for r in results) / sum(r["n_test"] for r in results)
        row = {"features": spec, "clf": clf, "folds": results, "accuracy": fold_summary(accuracies),
               "pooled_accuracy": round(float(pooled), 4),
               "f1_macro_mean": round(float(np.mean([r["f1_macro"] for r in results])), 4),
               "C_chosen": Counter(str(r["C"]) for r in results),
               "fit_s": round(sum(r["fit_s"] for r in results), 1),
               "predict_s": round(sum(r["predict_s"] for r in results), 1)}
        rows.append(row)
        print(f"{spec:<16}{clf:<10}" + "".join(f"{a:>7.3f}" for a in accuracies)
              + f"{row['accuracy']['mean']:>8.3f}{row['accuracy']['std']:>7.3f}{row['pooled_accuracy']:>8.3f}"
              f"{row['fit_s']:>8.1f}{row['predict_s']:>8.1f}", flush=True)
        write(rows, done=False)
        return row

    for spec in feature_sets:
        run_row(spec, "svm")
    if args.local_svm != "none":
        spec = (max((r for r in rows if r["clf"] == "svm"), key=lambda r: r["accuracy"]["mean"])["features"]
                if args.local_svm == "best" else args.local_svm)
        run_row(spec, "local-svm")
    write(rows, done=True)
    print("C chosen per row: " + "; ".join(f"{r['features']} {r['clf']}: {dict(r['C_chosen'])}" for r in rows))
    print(f"total {time.perf_counter() - start:.0f} s; results: {args.out}")


if __name__ == "__main__":
    run_script(main)
