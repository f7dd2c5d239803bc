"""Deep features on FER2013: throughput of frozen backbones, accuracy of CNN + SVM.

Three parts, each adding its section to one results file (``--out``):

``throughput``
    Images per second of :class:`~fer_classic.features.DeepFeatures` for every
    backbone (vgg16, vgg19) and input size (48, 96 by default) on a subset of the
    test images, with ``weights=None`` (speed does not depend on the weight
    values), on CPU, and on GPU when TensorFlow sees one. One warm-up batch is
    run first and not timed. Only what is measured is reported.

``cnn``
    :class:`~fer_classic.features.CNNFeatures` fitted on the ``train`` split
    (early stopping on its own seeded 10 % validation split of train), then
    StandardScaler + exact RBF SVM on its features; ``C`` is chosen on that same
    internal validation split (SVMs fitted on a seeded subsample of the rest of
    train), then the SVM is refitted on all of train. Scored on all test images
    and on PrivateTest (and PublicTest); the CNN's own softmax head is scored too.
    ``--budget-min`` sizes the number of epochs: two short epochs on a few
    batches measure the seconds per step on this machine first (logged).

``imagenet``
    DeepFeatures (ImageNet weights) + SVM accuracy, only when the weights are in
    Keras' cache (``~/.keras/models``); otherwise the section says they were not
    available and nothing is downloaded.

Usage::

    python benchmarks/bench_deep.py throughput --n-images 256
    python benchmarks/bench_deep.py cnn --budget-min 45 > cnn.log 2>&1
    python benchmarks/bench_deep.py imagenet --limit 5000
"""

from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C in the seconds of the imports below: no traceback
    import contextlib

    with contextlib.suppress(ImportError):  # beside this script: sys.path[0] when run as a command, not by runpy
        import _interrupt

        _interrupt.install()

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline as sk_pipeline
from sklearn.preprocessing import StandardScaler

from fer_classic import load_dataset
from fer_classic.data import DEFAULT_DATASET, dataset_inputs
from fer_classic.estimators import SVMClassifier
from fer_classic.features import BACKBONES, CNNFeatures, DeepFeatures
from fer_classic.features._deep import import_keras, keras_weights_path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import SEED_MAX, UsageExit, check_results, run_script, seed, write_json  # noqa: E402  (one road)
DEFAULT_DATA = REPO.parent / "shared" / "data" / "fer2013"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "bench_deep.json"
C_GRID = (0.3, 1.0, 3.0, 10.0)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> dict:
    tf, _ = import_keras()
    return {
        "platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "tensorflow": tf.__version__, "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "load_average_at_start": os.getloadavg(),
    }


def read_sections(out: Path) -> dict:
    """The sections ``out`` holds already ({} for a new file); SystemExit if it is not a results file."""
    if not out.is_file():
        return {}
    try:
        results = json.loads(out.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError):
        results = None
    # Its sections are objects: another benchmark's results (numbers, lists, strings at the top) were merged into.
    strangers = sorted(key for key, value in results.items() if not isinstance(value, dict)) \
        if isinstance(results, dict) else None
    if strangers is None or strangers:
        found = f" (it holds {', '.join(strangers[:5])}, which are no sections of it)" if strangers else ""
        raise UsageExit(f"--out {out} holds no JSON results of this script{found}; give a new file or one it "
                        "wrote.")
    return results


def write_section(out: Path, name: str, section: dict) -> None:
    """Merge ``section`` into the results file under ``name`` (other parts' sections are kept).

    A section still in progress (``"complete": false``, the cnn part's) over a complete one of an earlier run
    goes under ``NAME.partial`` until it completes, as the other scripts keep their rows beside complete results:
    a stopped cnn run replaced the earlier complete section with its first steps.
    """
    sections = read_sections(out)
    partial = f"{name}.partial"
    if section.get("complete") is False and name in sections and sections[name].get("complete") is not False:
        sections[partial] = section
    else:
        sections.pop(partial, None)
        sections[name] = section
    write_json(out, sections)


def scores(y_true, y_pred) -> dict:
    return {"accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
            "f1_macro": round(float(f1_score(y_true, y_pred, average="macro")), 4), "n": int(len(y_true))}


def run_throughput(args, data) -> dict:
    images = data.select("test").X[: args.n_images]
    tf, _ = import_keras()
    devices = ["cpu"] + (["gpu"] if tf.config.list_physical_devices("GPU") else [])
    rows = []
    runs = [(device, backbone, size, precision) for device in devices for backbone in args.backbones
            for size in args.sizes for precision in args.precisions]
    for device, backbone, size, precision in runs:
        extractor = DeepFeatures(backbone=backbone, input_size=size, weights=None, device=device,
                                 precision=precision, batch_size=args.batch_size,
                                 verbose=False).fit(images[:1])
        extractor.transform(images[: args.batch_size])  # warm-up: tracing, allocations
        start = time.perf_counter()
        features = extractor.transform(images)
        seconds = time.perf_counter() - start
        row = {"device": device, "backbone": backbone, "input_size": size, "images": len(images),
               "batch_size": args.batch_size, "precision": extractor.precision_,
               "n_features": features.shape[1], "seconds": round(seconds, 2),
               "images_per_s": round(len(images) / seconds, 1), "load_average": os.getloadavg()[0]}
        log(f"{device} {backbone} {size}px {extractor.precision_}: {row['images_per_s']} images/s "
            f"({row['seconds']} s)")
        rows.append(row)
    return {"rows": rows, "weights": "None (random; speed does not depend on values)"}


def probe_seconds_per_step(params: dict, X, y, n_steps: int) -> float:
    """Seconds per training step: the second of two short epochs (the first includes tracing)."""
    n = min(n_steps * params["batch_size"], len(y))
    rows = np.random.default_rng(0).choice(len(y), size=n, replace=False)
    probe = CNNFeatures(**{**params, "epochs": 2, "validation_fraction": None}).fit(X[rows], y[rows])
    return probe.history_["seconds"][1] / n_steps


def run_cnn(args, data) -> dict:
    train, test = data.select("train"), data.select("test")
    params = dict(batch_size=args.batch_size, random_state=args.seed, verbose=2, patience=args.patience,
                  precision=args.precision, dropout=args.dropout)
    # --epochs fixes the epochs: --budget-min (its default 45 too) and the probe are then unused.
    section: dict = {"params": params, "epochs_from": "--epochs" if args.epochs else "--budget-min",
                     "budget_min": None if args.epochs else args.budget_min, "complete": False}
    n_fit = int(round(len(train) * 0.9))
    steps = -(-n_fit // args.batch_size)
    if args.epochs:
        epochs = args.epochs
    else:
        per_step = probe_seconds_per_step(params, train.X, train.y, args.probe_steps)
        # a validation pass costs about a third of a training step per image: ~4 % of an epoch
        per_epoch = per_step * steps * 1.04
        epochs = int(np.clip(args.budget_min * 60 // per_epoch, 5, 60))
        section["probe"] = {"seconds_per_step": round(per_step, 3), "estimated_epoch_s": round(per_epoch, 1),
                            "load_average": os.getloadavg()}
        log(f"probe: {per_step:.3f} s/step, ~{per_epoch:.0f} s/epoch -> {epochs} epochs in "
            f"{args.budget_min} min")
    params["epochs"] = epochs
    section["params"] = params
    write_section(args.out, args.section, section)

    start = time.perf_counter()
    cnn = CNNFeatures(**params).fit(train.X, train.y)
    cnn_s = time.perf_counter() - start
    section["cnn"] = {"fit_s": round(cnn_s, 1), "epochs_run": cnn.n_epochs_, "best_epoch": cnn.best_epoch_,
                      "epoch_s": cnn.history_["seconds"],
                      "mean_epoch_s": round(float(np.mean(cnn.history_["seconds"])), 1),
                      "val_accuracy": cnn.history_.get("val_accuracy"),
                      "load_average_after": os.getloadavg()}
    log(f"CNN fitted in {cnn_s:.0f} s, {cnn.n_epochs_} epochs (best {cnn.best_epoch_})")
    write_section(args.out, args.section, section)

    t0 = time.perf_counter()
    f_train = cnn.transform(train.X)
    train_features_s = time.perf_counter() - t0

    # C on the CNN's own validation split of train: never on test labels.
    val = np.zeros(len(train), dtype=bool)
    val[cnn.validation_indices_] = True
    rest = np.flatnonzero(~val)
    rng = np.random.default_rng(args.seed)
    sub = np.sort(rng.choice(rest, size=min(args.c_select_n, len(rest)), replace=False))
    t0 = time.perf_counter()
    c_scores = {}
    for c in C_GRID:
        svm = sk_pipeline(StandardScaler(), SVMClassifier(C=c, backend="sklearn"))
        c_scores[c] = float(svm.fit(f_train[sub], train.y[sub]).score(f_train[val], train.y[val]))
        log(f"C={c}: validation accuracy {c_scores[c]:.4f}")
    best_c = max(C_GRID, key=lambda c: (c_scores[c], -c))
    c_select_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    svm = sk_pipeline(StandardScaler(), SVMClassifier(C=best_c, backend="sklearn")).fit(f_train, train.y)
    svm_fit_s = time.perf_counter() - t0
    total_fit_s = cnn_s + train_features_s + c_select_s + svm_fit_s

    t0 = time.perf_counter()
    f_test = cnn.transform(test.X)
    predicted = svm.predict(f_test)
    predict_s = time.perf_counter() - t0
    head = cnn.classes_[np.argmax(f_test @ cnn.head_coef_ + cnn.head_intercept_, axis=1)]
    results = {}
    for name in ("test", "PrivateTest", "PublicTest"):
        mask = np.ones(len(test), dtype=bool) if name == "test" else np.char.lower(
            test.usages.astype(str)) == name.lower()
        if mask.any():
            results[name] = {"cnn+svm": scores(test.y[mask], predicted[mask]),
                             "cnn_softmax": scores(test.y[mask], head[mask])}
    section.update({
        "complete": True, "C_grid_validation_accuracy": c_scores, "C": best_c, "c_select_n": len(sub),
        "seconds": {"cnn_fit": round(cnn_s, 1), "train_features": round(train_features_s, 1),
                    "svm_C_selection": round(c_select_s, 1), "svm_fit": round(svm_fit_s, 1),
                    "total_fit": round(total_fit_s, 1), "test_features_and_predict": round(predict_s, 1)},
        "results": results, "n_train": len(train), "n_test": len(test),
    })
    for name, row in results.items():
        log(f"{name}: CNN+SVM {row['cnn+svm']['accuracy']:.4f}, CNN softmax {row['cnn_softmax']['accuracy']:.4f}")
    log(f"total fit {total_fit_s:.0f} s (CNN {cnn_s:.0f}, features {train_features_s:.0f}, "
        f"C selection {c_select_s:.0f}, SVM {svm_fit_s:.0f})")
    write_section(args.out, args.section, section)
    return section


def run_imagenet(args, data) -> dict:
    section = {}
    train, test = data.select("train"), data.select("test")
    if args.limit:
        rng = np.random.default_rng(args.seed)
        train = train.subset(np.sort(rng.choice(len(train), size=min(args.limit, len(train)), replace=False)))
    for backbone in args.backbones:
        path = keras_weights_path(backbone)
        if not path.is_file():
            section[backbone] = {"skipped": f"ImageNet weights not in Keras' cache ({path}); nothing downloaded"}
            log(f"{backbone}: skipped, {path} missing")
            continue
        start = time.perf_counter()
        pipe = sk_pipeline(DeepFeatures(backbone=backbone, input_size=args.sizes[-1], verbose=False),
                           StandardScaler(), SVMClassifier(backend="sklearn")).fit(train.X, train.y)
        fit_s = time.perf_counter() - start
        predicted = pipe.predict(test.X)
        private = np.char.lower(test.usages.astype(str)) == "privatetest"
        section[backbone] = {"input_size": args.sizes[-1], "n_train": len(train), "fit_s": round(fit_s, 1),
                             "test": scores(test.y, predicted),
                             "PrivateTest": scores(test.y[private], predicted[private]) if private.any() else None}
        log(f"{backbone}: test accuracy {section[backbone]['test']['accuracy']}")
    return section


def names(text: str) -> list[str]:
    """Comma-separated names (argparse type): blanks dropped."""
    return [name.strip() for name in text.split(",") if name.strip()]


def input_sides(text: str) -> list[int]:
    """Comma-separated input sides in pixels (argparse type): a value that is not a whole number is a usage error."""
    values = names(text)
    for value in values:
        try:
            int(value)
        except ValueError:
            # argparse names the option before the message (its own said "invalid <lambda> value").
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of pixels; give input sides such as "
                                             "48,96, comma-separated.") from None
    return [int(value) for value in values]


def check_options(parser, args) -> None:
    """Usage errors before loading: the extractors the part builds, checked as their fit would (no TensorFlow)."""
    from fer_classic._training import validated

    def check(option: str, value, build) -> None:
        try:
            validated(build())
        except ValueError as exc:
            parser.error(f"{option} {value}: {exc}")

    for option in ("--backbones", "--sizes", "--precisions"):
        if not getattr(args, option[2:]):
            parser.error(f"{option} names nothing; give one or more, comma-separated.")
    deep = dict(weights=None, verbose=False, batch_size=args.batch_size)
    check("--batch-size", args.batch_size, lambda: DeepFeatures(**deep))
    if args.part in ("throughput", "imagenet"):
        for backbone in args.backbones:
            check("--backbones", backbone, lambda: DeepFeatures(backbone=backbone, **deep))
        for size in args.sizes if args.part == "throughput" else args.sizes[-1:]:
            minimum = max(BACKBONES[b].min_size for b in args.backbones)
            if size < minimum:
                parser.error(f"--sizes {size}: give input sides of {minimum} px or more (the smallest the "
                             "backbones take).")
    if args.part == "throughput":
        for precision in args.precisions:
            check("--precisions", precision, lambda: DeepFeatures(precision=precision, **deep))
        if args.n_images < 1:
            parser.error(f"--n-images {args.n_images}: give 1 or more test images to time.")
    if args.part == "cnn":
        for option in ("precision", "dropout", "patience", "epochs"):
            value = getattr(args, option)
            if value is not None:
                check(f"--{option}", value, lambda: CNNFeatures(batch_size=args.batch_size, **{option: value}))
        for option in ("budget_min", "probe_steps", "c_select_n"):
            if getattr(args, option) <= 0:
                parser.error(f"--{option.replace('_', '-')} {getattr(args, option)}: give a number above 0.")
    if args.part == "imagenet" and args.limit is not None and args.limit < 1:
        parser.error(f"--limit {args.limit}: give 1 or more training images (leave it out for all).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["throughput", "cnn", "imagenet"],
                        help="throughput: DeepFeatures images per second; cnn: the CNN trained on FER2013, then an "
                             "SVM on its features; imagenet: DeepFeatures + SVM")
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help=f"dataset folder or CSV, or {DEFAULT_DATASET!r} for generated faces "
                             "(default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="results JSON of bench_deep: the part adds its section (--section) to it, or replaces its "
                             "section of an earlier run when it completes (until then: NAME.partial), other sections "
                             "kept; the results of another benchmark are refused (default: %(default)s)")
    parser.add_argument("--backbones", type=names, default=list(BACKBONES),
                        help=f"comma-separated, from {', '.join(BACKBONES)} (default: all)")
    parser.add_argument("--sizes", type=input_sides, default=[48, 96],
                        help="input sides in pixels, comma-separated (imagenet: the last; default: 48,96)")
    parser.add_argument("--n-images", type=int, default=256, help="throughput: images timed (default: %(default)s)")
    parser.add_argument("--precisions", type=names, default=["auto", "mixed"],
                        help="throughput: DeepFeatures precisions (auto: float32 on CPU, float16 on GPU; default: "
                             "auto,mixed)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 64 (throughput), 128 (cnn)")
    parser.add_argument("--budget-min", type=float, default=45.0,
                        help="cnn: minutes for the CNN's epochs (default: 45)")
    parser.add_argument("--epochs", type=int, default=None, help="cnn: fixed epochs instead of --budget-min")
    parser.add_argument("--patience", type=int, default=6,
                        help="cnn: epochs without a better validation accuracy before training stops (default: 6)")
    parser.add_argument("--dropout", type=float, default=0.3,
                        help="cnn: dropout before the head (blocks: half; default: 0.3)")
    parser.add_argument("--section", default=None, help="results section name (default: the part)")
    parser.add_argument("--precision", default="mixed",
                        help="cnn: CNNFeatures precision (mixed: bfloat16 on CPU, float16 on GPU; default: mixed)")
    parser.add_argument("--probe-steps", type=int, default=12,
                        help="cnn: training steps timed to fit --budget-min's epochs (default: 12)")
    parser.add_argument("--c-select-n", type=int, default=8000,
                        help="cnn: SVM training images per C candidate (default: 8000)")
    parser.add_argument("--limit", type=int, default=None, help="imagenet: training images")
    parser.add_argument("--seed", type=seed, default=0,
                        help=f"seed of the CNN, its splits and the subsamples (0 to {SEED_MAX}; default 0)")
    args = parser.parse_args()
    if args.data != DEFAULT_DATASET and not Path(args.data).exists():  # a usage error, before loading
        parser.error(f"--data {args.data} does not exist; give a dataset folder or a fer2013.csv, or "
                     f"{DEFAULT_DATASET!r} for generated faces.")
    if args.batch_size is None:  # not `or`: --batch-size 0 is refused below, not taken for the default
        args.batch_size = 128 if args.part == "cnn" else 64
    args.section = args.section or args.part
    check_options(parser, args)
    import_keras(f"bench_deep.py {args.part}")  # TensorFlow missing: its pip extra now, not after loading

    check_results({"--out": args.out}, input_trees={"--data": dataset_inputs(args.data)})
    read_sections(args.out)  # merged into after the run: a file that is not results is refused now

    start = time.perf_counter()
    data = load_dataset(args.data)
    log(f"loaded {data!r} in {time.perf_counter() - start:.0f} s")
    info = machine()
    section = {"throughput": run_throughput, "cnn": run_cnn, "imagenet": run_imagenet}[args.part](args, data)
    section["machine"] = info
    section["total_s"] = round(time.perf_counter() - start, 1)
    write_section(args.out, args.section, section)
    print(json.dumps(section, indent=1, default=str)[:4000])
    log(f"results: {args.out}")


if __name__ == "__main__":
    run_script(main)
