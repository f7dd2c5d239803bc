"""FER2013 test accuracy and macro F1 of HOG + SVM with and without oversampling (imbalanced-learn).

FER2013's training classes are unbalanced (disgust: 436 images, happy: 7,215). For
each sampler of :func:`fer_classic.make_pipeline` (``none``, ``random``, ``smote``,
``adasyn``) the pipeline ``hog → StandardScaler → sampler → SVM`` is fitted on the
training images and scored on all test images and on the PrivateTest half. The
sampler sits inside an ``imblearn.pipeline.Pipeline``: it resamples the training
features at fit time only; test images are never resampled.

HOG features are extracted once per setting and shared by the samplers (the
pipeline's steps after ``features`` are fitted on them: the same computation as
fitting the whole pipeline). Two settings:

* ``subset``: at most ``--per-class`` (default 1,000) training images per class,
  seeded, with the exact RBF SVM (precomputed kernel; oversampled to 7,000 rows);
* ``full``: all 28,709 training images with the approximate SVM
  (``backend="approx"``, 10,000 landmarks): oversampling to 50,505 rows would need
  a 20 GB float64 kernel matrix for the exact SVM, more than this machine's memory.

Hyper-parameters are the ``fit`` defaults; no test label chooses anything.

Usage::

    python benchmarks/bench_samplers.py                      # both settings
    python benchmarks/bench_samplers.py --settings subset --samplers none,smote
"""

from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C in the seconds of the imports below: no traceback
    import contextlib

    with contextlib.suppress(ImportError):  # beside this script: sys.path[0] when run as a command, not by runpy
        import _interrupt

        _interrupt.install()

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score

from fer_classic import load_dataset, make_pipeline
from fer_classic._training import _check_sampler
from fer_classic.data import DEFAULT_DATASET, dataset_inputs
from fer_classic.pipeline import SAMPLERS, make_sampler

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import (ROWS_OUT_HELP, SEED_MAX, RowsFile, UsageExit, check_results,  # noqa: E402  (one road)
                      run_script, seed)
DEFAULT_DATA = REPO.parent / "shared" / "data" / "fer2013"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "bench_samplers.json"
SETTINGS = {"subset": {}, "full": {"backend": "approx"}}
SAMPLER_NAMES = ("none", *SAMPLERS)


def choices(parser, option: str, value: str, allowed) -> list[str]:
    """The comma-separated names of ``option``, each one of ``allowed`` (else a usage error naming them)."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in dict.fromkeys(names) if n not in allowed]
    if unknown or not names:
        parser.error(f"{option} {value!r}: " + (f"unknown {', '.join(unknown)}; " if unknown else "")
                     + f"give one or more of {', '.join(allowed)}, comma-separated.")
    return list(dict.fromkeys(names))


def machine() -> dict:
    from threadpoolctl import threadpool_info

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    blas = [{k: i.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return {"cpu": cpu, "cores": os.cpu_count(), "blas": blas}


def per_class_subset(train, per_class: int, seed: int):
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.permutation(np.flatnonzero(train.labels == c))[:per_class] for c in train.classes])
    return train.subset(np.sort(keep))


def scores(y, predicted, classes) -> dict:
    recall = recall_score(y, predicted, labels=classes, average=None, zero_division=0)
    return {"accuracy": round(float(accuracy_score(y, predicted)), 4),
            "f1_macro": round(float(f1_score(y, predicted, average="macro")), 4),
            "recall_disgust": round(float(recall[list(classes).index("disgust")]), 4) if "disgust" in classes
            else None}


def setting_train(name: str, data, per_class: int, seed: int):
    """The training images of setting ``name``."""
    train = data.select("train")
    return per_class_subset(train, per_class, seed) if name == "subset" else train


def check_neighbours(name: str, train, samplers: list[str]) -> None:
    """SMOTE's and ADASYN's neighbours within every class they oversample, before any feature or fit.

    The library's check (fit's and search's): with too few images imbalanced-learn stops with
    "Expected n_neighbors <= n_samples_fit" after HOG.
    """
    for sampler in samplers:
        if sampler in ("none", "random"):  # no neighbours
            continue
        try:
            _check_sampler(make_pipeline("hog", "svm", sampler=sampler, **SETTINGS[name]), train, option="--samplers")
        except ValueError as error:
            # Found before any work: a usage error (exit 2, PROG: error: ...), as the scripts' other refusals.
            raise UsageExit(f"setting {name}: {error}") from None


def run_setting(name: str, data, samplers: list[str], per_class: int, seed: int, on_row=None) -> list[dict]:
    """The rows of setting ``name``, one per sampler; ``on_row(row)`` is called as each is finished."""
    train = setting_train(name, data, per_class, seed)
    test = data.select("test")
    private = test.subset(test.usages == "PrivateTest") if "PrivateTest" in set(test.usages) else None
    params = SETTINGS[name]
    extractor = make_pipeline("hog", "svm", **params)[:1]
    start = time.perf_counter()
    train_features = extractor.fit_transform(train.X, train.y)
    test_features = extractor.transform(test.X)
    feature_seconds = time.perf_counter() - start
    rows = []
    for sampler in samplers:
        pipeline = make_pipeline("hog", "svm", sampler=None if sampler == "none" else sampler, random_state=seed,
                                 **params)
        head = pipeline[1:]
        start = time.perf_counter()
        head.fit(train_features, train.y)
        fit_seconds = time.perf_counter() - start
        predicted = head.predict(test_features)
        row = {"setting": name, "sampler": sampler, "n_train": len(train),
               "test": scores(test.y, predicted, train.classes),
               "fit_s": round(fit_seconds, 1), "feature_s": round(feature_seconds, 1)}
        if private is not None:
            row["private"] = scores(private.y, predicted[test.usages == "PrivateTest"], train.classes)
        # Rows the classifier was fitted on: the scaler and sampler steps again (cheap next to the SVM).
        row["n_fit_rows"] = len(train) if sampler == "none" else int(
            len(head[:-1].fit_resample(train_features, train.y)[1]))
        rows.append(row)
        if on_row is not None:
            on_row(row)
        disgust = row["test"]["recall_disgust"]  # None where the data has no disgust class
        print(f"{name:7s} {sampler:7s} rows {row['n_fit_rows']:6d}  test acc {row['test']['accuracy']:.4f} "
              f"F1 macro {row['test']['f1_macro']:.4f} disgust recall "
              + ("-" if disgust is None else f"{disgust:.4f}") + "  "
              + (f"private acc {row['private']['accuracy']:.4f} F1 macro {row['private']['f1_macro']:.4f}  "
                 if private is not None else "") + f"fit {fit_seconds:.1f} s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help=f"dataset folder or CSV, or {DEFAULT_DATASET!r} for generated faces "
                             "(default: %(default)s)")
    parser.add_argument("--settings", default="subset,full",
                        help=f"comma-separated, from {', '.join(SETTINGS)} (subset: --per-class images a class; full: "
                             "every training image, 28,709 on FER2013) (default: %(default)s)")
    parser.add_argument("--samplers", default="none,random,smote,adasyn",
                        help=f"comma-separated, from {', '.join(SAMPLER_NAMES)} (default: %(default)s)")
    parser.add_argument("--per-class", type=int, default=1000,
                        help="training images per class at most in the subset setting (1 or more; default 1000)")
    parser.add_argument("--seed", type=seed, default=0,
                        help=f"seed of the subset, the samplers and the SVM (0 to {SEED_MAX}; default 0)")
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help=ROWS_OUT_HELP)
    args = parser.parse_args()
    settings = choices(parser, "--settings", args.settings, SETTINGS)
    samplers = choices(parser, "--samplers", args.samplers, SAMPLER_NAMES)
    if args.per_class < 1 and "subset" in settings:
        parser.error(f"--per-class {args.per_class}: give 1 or more training images per class (setting subset).")
    if args.data != DEFAULT_DATASET and not Path(args.data).exists():  # a usage error, before loading
        parser.error(f"--data {args.data} does not exist; give a dataset folder or a fer2013.csv, or "
                     f"{DEFAULT_DATASET!r} for generated faces.")
    check_results({"--out": args.out}, input_trees={"--data": dataset_inputs(args.data)})
    results_file = RowsFile(args.out)
    for sampler in samplers:  # imbalanced-learn missing: its pip extra, before loading
        if sampler != "none":
            make_sampler(sampler)
    data = load_dataset(args.data)
    print(f"{data!r}", flush=True)
    for setting in settings:  # too few images for SMOTE's neighbours: before any HOG or fit
        check_neighbours(setting, setting_train(setting, data, args.per_class, args.seed), samplers)
    about, rows = {"machine": machine()}, []

    def write(done: bool) -> None:
        # Rewritten after every row: a row that fails (or Ctrl-C) keeps the rows before it.
        results_file.write({**about, "rows": rows}, done)

    def add(row: dict) -> None:
        rows.append(row)
        write(False)

    for setting in settings:
        run_setting(setting, data, samplers, args.per_class, args.seed, on_row=add)
    write(True)
    print(f"results written to {args.out}")


if __name__ == "__main__":
    run_script(main)
