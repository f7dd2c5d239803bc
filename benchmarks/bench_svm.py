"""SVM backends against training-set size on FER2013 HOG features.

For each training size (2k, 4k, 8k, 16k, all 28,709 images) fits the exact
scikit-learn SVC (``sklearn``: libsvm computing kernel values itself;
``precomputed``: the same SVC on a precomputed kernel matrix,
:class:`fer_classic.estimators.PrecomputedKernelSVC`), the ``approx`` backend (least-squares SVM on Nystroem
landmarks, :class:`fer_classic.estimators.LandmarkRidgeClassifier`) and, when
cuML and a GPU are usable, cuML's SVC, all with ``SVMClassifier``'s defaults
(C=1, or ``--C``; gamma="scale"), on the same standardised HOG vectors (features computed
once), and scores each on all 7,178 test images and on the PrivateTest half.
Prints a table, writes JSON and a plot.

Run::

    python benchmarks/bench_svm.py                       # full run (~1 h on 2 cores)
    python benchmarks/bench_svm.py --sizes 2000 4000     # quick
    python benchmarks/bench_svm.py --n-components 10000 20000   # two approx rows per size
    python benchmarks/bench_svm.py --backends precomputed approx --C 3
"""

from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C in the seconds of the imports below: no traceback
    import contextlib

    with contextlib.suppress(ImportError):  # beside this script: sys.path[0] when run as a command, not by runpy
        import _interrupt

        _interrupt.install()

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from fer_classic._fileio import atomic_write_text, write_together
from fer_classic.data import IMAGE_EXTENSIONS, dataset_inputs, load_folder
from fer_classic.estimators import SVMClassifier, cuml_status
from fer_classic.features import HOGFeatures
from sklearn.preprocessing import StandardScaler

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import UsageExit, check_results, json_text, run_script  # noqa: E402  (one road for --out)
DEFAULT_SIZES = [2000, 4000, 8000, 16000, 28709]


def train_files(data: Path) -> int:
    """Image files under ``data/train`` (what the training split can hold at most; nothing decoded)."""
    train = Path(data) / "train"
    return sum(1 for p in train.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()) \
        if train.is_dir() else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "fer2013"),
                        help="FER2013's class folders, train/ and test/ (a folder, not a CSV; default: %(default)s)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="training images of each row, 1 or more, at most the training split's (default: "
                             f"{' '.join(map(str, DEFAULT_SIZES))}, those above the training split's size "
                             "replaced by one row of all its images)")
    parser.add_argument("--backends", nargs="+", default=["sklearn", "precomputed", "approx", "cuml"],
                        choices=["sklearn", "precomputed", "approx", "cuml"],
                        help="SVMClassifier backends timed, space-separated (default: all four; cuml is skipped "
                             "without a GPU)")
    parser.add_argument("--C", type=float, default=1.0, help="SVM regularisation (default: %(default)s)")
    parser.add_argument("--n-components", type=int, nargs="+", default=[None],
                        help="approx landmarks, 1 or more, one row per value (default: the estimator's)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_svm.json"),
                        help="results JSON, with its plot NAME.png beside it; both replaced together when the run "
                             "ends (a stopped run leaves them as they were; without matplotlib no plot is made and "
                             "an earlier NAME.png is removed; default: %(default)s)")
    args = parser.parse_args(argv)
    # Usage errors (exit 2, the option named) before the data is loaded.
    if not Path(args.data).is_dir():
        parser.error(f"--data {args.data} is not a folder; give FER2013's class folders (train/ and test/).")
    given = args.sizes is not None
    sizes = args.sizes if given else DEFAULT_SIZES
    if min(sizes) < 2:  # 0 failed in the first fit, after the features; 1 too (a single class)
        parser.error(f"--sizes {min(sizes)}: give training sizes of 2 or more images (an SVM needs two classes).")
    if not 0 < args.C < float("inf"):  # scikit-learn's InvalidParameterError traceback, after the features
        parser.error(f"--C {args.C:g}: give a finite regularisation above 0 (SVMClassifier's C; default 1).")
    twice = sorted({size for size in sizes if sizes.count(size) > 1})
    if twice:
        parser.error(f"--sizes {' '.join(map(str, twice))} given twice; give each size once.")
    n_files = train_files(args.data)
    if not n_files:
        parser.error(f"--data {args.data} has no train/<class>/ images; give FER2013's class folders (train/ and "
                     "test/).")
    if given and max(sizes) > n_files:  # capped, they gave duplicate rows of the whole training split
        parser.error(f"--sizes {max(sizes)}: above the {n_files} training images of --data {args.data}; give "
                     f"sizes up to {n_files}.")
    landmarks = [m for m in args.n_components if m is not None]
    if landmarks and min(landmarks) < 1:  # 0 silently ran the estimator's default
        parser.error(f"--n-components {min(landmarks)}: give 1 or more landmarks, or leave --n-components out for "
                     "the estimator's default.")
    out = Path(args.out)
    if out.suffix.lower() == ".png":  # the plot goes beside the JSON under this name: it replaced the results
        parser.error(f"--out {out}: name the JSON results (the plot is written beside them as .png).")
    check_results({"--out": out, "--out's plot": out.with_suffix(".png")},
                  input_trees={"--data": dataset_inputs(args.data)})
    usable, reason = cuml_status()
    if set(args.backends) == {"cuml"} and not usable:  # no row could run: exit 0 with none, after the features
        parser.error(f"--backends cuml: {reason}")

    data = load_folder(args.data)
    train, test = data.select("train"), data.select("test")
    if given and max(sizes) > len(train):  # images that failed to load
        raise UsageExit(f"--sizes {max(sizes)}: above the {len(train)} training images loaded from --data "
                        f"{args.data} ({n_files - len(train)} of its files skipped); give sizes up to {len(train)}.")
    if not given and max(sizes) > len(train):
        above = [size for size in sizes if size >= len(train)]
        sizes = [size for size in sizes if size < len(train)] + [len(train)]
        print(f"sizes {', '.join(map(str, above))} at or above the {len(train)} training images: one row of all "
              f"{len(train)}", flush=True)
    order = np.random.default_rng(0).permutation(len(train))
    for size in sizes:  # the first fit's "only 1 class" traceback, after the features
        held = np.unique(train.y[order[:size]])
        if len(held) < 2:
            raise UsageExit(f"--sizes {size}: the {size} training images it draws (seeded) are all of class "
                            f"{held[0]!r}; an SVM needs two classes: give a larger size.")
    hog = HOGFeatures(n_jobs=-1).fit(train.X[:1])
    scaler = StandardScaler().fit(hog.transform(train.X))
    X_train, X_test = scaler.transform(hog.transform(train.X)), scaler.transform(hog.transform(test.X))
    private = test.usages == "PrivateTest"

    backends = [b for b in args.backends if b != "cuml" or usable]
    # One configuration per row label: approx once per landmark count.
    configs = []
    for backend in backends:
        if backend in ("sklearn", "precomputed"):
            configs.append((backend, {"backend": "sklearn", "precompute_kernel": backend == "precomputed",
                                      "C": args.C, "random_state": 0}))
        elif backend == "cuml":
            configs.append((backend, {"backend": backend, "C": args.C, "random_state": 0}))
        for m in args.n_components if backend == "approx" else []:
            params = {"backend": "approx", "C": args.C, "random_state": 0, **({"n_components": m} if m else {})}
            configs.append((f"approx-{SVMClassifier(**params).n_components}", params))
    if "cuml" in args.backends and not usable:
        print(f"cuML skipped: {reason}")
    rows = []
    plotted = []  # each row's line in the plot: its configuration (approx: the landmarks asked for)
    print(f"{'n_train':>8} {'backend':>13} {'fit s':>8} {'predict s':>10} {'accuracy':>9} {'private':>8}")
    for size in sizes:
        index = order[:size]
        for label, params in configs:
            model = SVMClassifier(**params)
            start = time.perf_counter()
            model.fit(X_train[index], train.y[index])
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            correct = model.predict(X_test) == test.y
            predict_s = time.perf_counter() - start
            accuracy = float(correct.mean())
            private_accuracy = float(correct[private].mean()) if private.any() else float("nan")
            row = {"n_train": len(index), "backend": label, "fit_s": round(fit_s, 2),
                   "predict_s": round(predict_s, 2), "accuracy": round(accuracy, 4),
                   "private_accuracy": round(private_accuracy, 4), "C": model.C}
            if params["backend"] == "approx":  # landmarks are capped at the training rows: the count used
                used = int(model.estimator_.components_.shape[0])
                row.update(backend=f"approx-{used}", n_components=used, n_components_requested=model.n_components)
            rows.append(row)
            plotted.append(label)
            print(f"{len(index):>8} {row['backend']:>13} {fit_s:>8.1f} {predict_s:>10.1f} {accuracy:>9.4f} "
                  f"{private_accuracy:>8.4f}", flush=True)

    results = json_text({"rows": rows, "n_test": len(test), "cuml": reason})
    plot = out.with_suffix(".png")
    try:
        # Not pyplot: no global figure left open (tests run main in-process). The package is imported first,
        # so a missing one fails here even where matplotlib.figure was imported before.
        import matplotlib.figure
    except ImportError:
        atomic_write_text(out, results)
        # An earlier run's plot beside these results would be taken for theirs.
        stale = plot.is_file()
        plot.unlink(missing_ok=True)
        print("matplotlib not installed: no plot" + (f" (the earlier run's {plot} removed)" if stale else ""))
        return
    fig = matplotlib.figure.Figure(figsize=(10, 4))
    ax_time, ax_acc = fig.subplots(1, 2)
    for label, _ in configs:
        mine = [r for r, line in zip(rows, plotted) if line == label]
        ax_time.plot([r["n_train"] for r in mine], [r["fit_s"] for r in mine], "o-", label=label)
        ax_acc.plot([r["n_train"] for r in mine], [r["accuracy"] for r in mine], "o-", label=label)
    ax_time.set(xlabel="training images", ylabel="fit seconds", xscale="log", yscale="log")
    ax_acc.set(xlabel="training images", ylabel="test accuracy", xscale="log")
    ax_time.legend()
    fig.tight_layout()
    # One set: a stop or failure while the plot is saved leaves the earlier JSON and plot both, never new results
    # beside the earlier run's plot (and never half a PNG).
    write_together([(out, results), (plot, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))])
    print(f"results: {out} and {plot}")


if __name__ == "__main__":
    run_script(main)
