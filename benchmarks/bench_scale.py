"""Fitting the approximate SVM on 30k, 100k and 300k images: out of core here, or on a 2-worker Dask cluster.

Training sets are FER2013's 28,709 training images repeated with jitter
(replica 0 is the original; replica r > 0 is shifted by up to 2 px, its
contrast and brightness changed by up to 10 % and Gaussian noise of sigma 3
added, seeded by replica and file), written once as JPEG class folders under
``--work`` (``n30000/train/<label>/r<r>_<name>.jpg``); the test split is all
7,178 FER2013 test images (copied beside them). The dataset folder is only read.

Each (size, mode) runs in its own process, so its peak memory is its own:

* ``local``: ``fit_model(..., feature_store=DIR)``, out of core on this machine
  (features chunk by chunk into a memory-mapped store, the scaler and the
  SVM's sums in blocks); the store is removed first (``--keep-store`` reuses it).
* ``dask``: ``fit_model(..., backend="dask")`` on a ``LocalCluster`` of
  ``--workers`` worker processes of one thread each (``--worker-memory`` each,
  beyond which Dask spills the feature chunks to disk).
* ``memory``: the plain in-memory ``fit_model`` (every image decoded into one
  array), for reference at the smaller sizes.

Measured: wall seconds per stage, peak resident memory (``ru_maxrss``) of the
client process (with ``dask``, the scheduler runs in it too) and of each
worker process (``client.run``), test accuracy. Per chunk, the seconds of
decoding + HOG and of the SVM's sums are derived from the ``local`` run (one
process, chunks one after another) and give the projected wall time on more
workers: ``serial + chunks x per-chunk / workers``.

Model: HOG (default parameters) + StandardScaler + ``SVMClassifier(backend="approx",
C=10, n_components=2000)`` (``--n-components``): its fit time grows as
``n x m^2`` and the client and each partial sum hold ``16 m^2`` bytes (64 MB for 2,000).

Usage::

    python benchmarks/bench_scale.py --sizes 30000 --mode local      # one size, one mode
    python benchmarks/bench_scale.py --sizes 30000 100000 300000 --mode local dask
    python benchmarks/bench_scale.py --check-fer2013                  # same predictions: local vs dask, FER2013
    python benchmarks/bench_scale.py --check-fer2013 --engine ray     # the same on a local Ray of --workers CPUs
    python benchmarks/bench_scale.py --table                          # print the table of results so far

Results: ``benchmarks/results/bench_scale_<size>_<mode>.json`` (and
``bench_scale_fer2013_check.json``, ``bench_scale_fer2013_ray_check.json``).
"""

from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C in the seconds of the imports below: no traceback
    import contextlib

    with contextlib.suppress(ImportError):  # beside this script: sys.path[0] when run as a command, not by runpy
        import _interrupt

        _interrupt.install()

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import ScriptError, UsageExit, check_results, run_script, write_json  # noqa: E402  (one road)
RESULTS = REPO / "benchmarks" / "results"
FER = REPO.parent / "shared" / "data" / "fer2013"
MODES = ("local", "dask", "memory")


def _peak_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: Marks a folder under --work as made by this script: only such folders are ever removed.
_MADE_HERE = ".made-by-bench_scale"


def _foreign(path: Path) -> bool:
    """Whether ``path`` exists and this script did not make it (no marker): it is never removed."""
    return path.exists() and not (path / _MADE_HERE).exists()


def _fresh(path: Path) -> Path:
    """``path`` made empty and marked, a former one removed only if this script made it."""
    if _foreign(path):
        raise UsageExit(f"bench_scale.py: {path} exists and was not made by this script; remove it or give "
                        "another --work.")
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / _MADE_HERE).write_text("")
    return path


#: What :func:`table` reads of each results file.
ROW_KEYS = ("size", "mode", "seconds", "n_chunks", "wall_s", "workers", "client_peak_mb", "worker_peak_mb", "accuracy")


def generate(root: Path, size: int, source: Path = FER) -> Path:
    """Write ``size`` jittered copies of FER2013's training images (and its test images) under ``root``."""
    import cv2
    import numpy as np

    done = root / ".complete"
    if done.exists():
        return root
    _fresh(root)  # a run cut short is started over; a folder of the user's of that name is refused
    files = sorted((source / "train").glob("*/*.jpg"))
    for split_file in sorted((source / "test").glob("*/*.jpg")):
        target = root / "test" / split_file.parent.name / split_file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(split_file, target)
    images = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]
    for index in range(size):
        replica, i = divmod(index, len(files))
        image = images[i]
        if replica:
            rng = np.random.default_rng([replica, i])
            dx, dy = rng.integers(-2, 3, size=2)
            shifted = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), image.shape[::-1],
                                     borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
            shifted = shifted * rng.uniform(0.9, 1.1) + rng.uniform(-10, 10) + rng.normal(0, 3, image.shape)
            image = np.clip(shifted, 0, 255).astype(np.uint8)
        target = root / "train" / files[i].parent.name / f"r{replica}_{files[i].name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    from fer_classic._fileio import atomic_write_text

    atomic_write_text(done, str(size))  # the marker of a whole folder: never half written
    return root


def run_one(size: int, mode: str, args) -> dict:
    """Fit once in this process; the result row."""
    from fer_classic.workflow import fit_model

    data = generate(Path(args.work) / f"n{size}", size)
    params = {"backend": "approx", "n_components": args.n_components}
    common = dict(features="hog", clf="svm", clf_params=params, chunk_size=args.chunk_size, log=print)
    store = Path(args.work) / f"store_{size}"
    workers: list[float] = []
    start = time.perf_counter()
    if mode == "local":
        if not (args.keep_store and store.exists()):
            _fresh(store)
        result = fit_model(data, feature_store=store, **common)
    elif mode == "dask":
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          memory_limit=args.worker_memory, dashboard_address=":0",
                          local_directory=str(Path(args.work) / "dask-spill")) as cluster:
            result = fit_model(data, backend="dask", scheduler=cluster.scheduler_address, **common)
            with Client(cluster.scheduler_address) as client:
                workers = sorted(client.run(_peak_mb).values())
    else:
        result = fit_model(data, **common)
    wall = time.perf_counter() - start
    n_chunks = -(-result.n_train // args.chunk_size)
    return {"size": size, "mode": mode, "n_train": result.n_train, "n_test": result.n_test,
            "workers": args.workers if mode == "dask" else 0, "n_components": args.n_components,
            "chunk_size": args.chunk_size, "n_chunks": n_chunks, "wall_s": round(wall, 1),
            "seconds": result.timings, "client_peak_mb": round(_peak_mb()),
            "worker_peak_mb": [round(w) for w in workers],
            "accuracy": round(result.metrics["accuracy"], 4), "cpu": os.cpu_count()}


@contextlib.contextmanager
def _cluster(engine: str, args):
    """A local cluster of ``args.workers`` one-thread workers; yields the address for ``fit_model``.

    Ray: a local instance of ``args.workers`` CPUs, and None (``fit_model`` uses the session this
    process holds).
    """
    if engine == "ray":
        import ray

        ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        try:
            yield None
        finally:
            ray.shutdown()
        return
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, memory_limit=args.worker_memory,
                      dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def check_fer2013(args) -> dict:
    """Fit on all of FER2013 in memory and on a 2-worker Dask cluster (or Ray): do the test predictions agree?"""
    import numpy as np

    from fer_classic import load_dataset
    from fer_classic.workflow import fit_model

    params = {"backend": "approx", "n_components": args.n_components}
    common = dict(features="hog", clf="svm", clf_params=params, log=print)
    start = time.perf_counter()
    local = fit_model(FER, **common)
    wall = {"local": time.perf_counter() - start}
    start = time.perf_counter()
    with _cluster(args.engine, args) as address:
        wall["start"] = time.perf_counter() - start
        remote = fit_model(FER, backend=args.engine, scheduler=address, chunk_size=args.chunk_size, **common)
        wall[args.engine] = time.perf_counter() - start - wall["start"]
    test = load_dataset(FER).select("test")
    a, b = local.model.predict(test.images), remote.model.predict(test.images)
    scores = np.abs(local.model.pipeline.decision_function(test.X) - remote.model.pipeline.decision_function(test.X))
    return {"n_train": local.n_train, "n_test": len(test), "n_components": args.n_components,
            "workers": args.workers, "chunk_size": args.chunk_size,
            "accuracy_local": local.metrics["accuracy"], f"accuracy_{args.engine}": remote.metrics["accuracy"],
            "same_predictions": int((a == b).sum()), "max_score_difference": float(scores.max()),
            "seconds_local": local.timings, f"seconds_{args.engine}": remote.timings,
            "wall_s": {k: round(v, 1) for k, v in wall.items()}, "cpu": os.cpu_count()}


def table(results: Path | None = None) -> str:
    """Markdown table of every result file in ``results`` (default :data:`RESULTS`), with the projected wall time on
    more workers; files that are not such results are named below it (they were a KeyError traceback)."""
    rows, others = [], []
    for path in sorted(Path(results or RESULTS).glob("bench_scale_*_*.json")):
        if path.name.endswith("check.json"):
            continue
        try:
            row = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            row = None
        if isinstance(row, dict) and all(key in row for key in ROW_KEYS) and row["mode"] in MODES:
            rows.append(row)
        else:
            others.append(path.name)
    rows.sort(key=lambda r: (r["size"], MODES.index(r["mode"])))
    per_chunk = {}  # size -> seconds per chunk of the local run (decode + HOG + sums)
    for r in rows:
        if r["mode"] == "local":
            per_chunk[r["size"]] = (r["seconds"].get("features", 0) + r["seconds"].get("fit", 0)) / r["n_chunks"]
    lines = ["| images | mode | wall s | features s | fit s | client peak MB | worker peak MB | accuracy | "
             "s per chunk | projected wall s, 8 / 32 workers |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["seconds"]
        chunk = per_chunk.get(r["size"])
        serial = r["wall_s"] - (s.get("features", 0) + s.get("fit", 0)) if r["mode"] == "local" else None
        projected = (" / ".join(f"{serial + r['n_chunks'] * chunk / w:.0f}" for w in (8, 32))
                     if chunk and serial is not None else "")
        lines.append(
            f"| {r['size']:,} | {r['mode']}{' x' + str(r['workers']) if r['workers'] else ''} | {r['wall_s']:.0f} | "
            f"{s.get('features', 0):.0f} | {s.get('fit', 0):.0f} | {r['client_peak_mb']:,} | "
            f"{', '.join(f'{w:,}' for w in r['worker_peak_mb']) or '-'} | {r['accuracy']:.3f} | "
            f"{f'{chunk:.2f}' if chunk and r['mode'] == 'local' else ''} | {projected} |")
    if others:
        lines.append(f"\nnot bench_scale results, left out: {', '.join(others)}")
    return "\n".join(lines)


def check_options(parser, args) -> None:
    """Usage errors before any image is generated or fitted (a child process's failure was a traceback)."""
    for option in ("workers", "n_components", "chunk_size"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} {getattr(args, option)}: give 1 or more.")
    _check_worker_memory(parser, args.worker_memory)
    if args.check_fer2013 or args.one:
        return
    twice = sorted({size for size in args.sizes if args.sizes.count(size) > 1})
    if twice:
        parser.error(f"--sizes {' '.join(map(str, twice))} given twice; give each size once.")
    # generate() takes the first SIZE files in class order: a smaller size would miss whole classes.
    n_train = len(list((FER / "train").glob("*/*.jpg")))
    if not n_train:
        parser.error(f"FER2013's class folders are not at {FER} (train/<class>/*.jpg): the training sets are made "
                     "from them.")
    small = [size for size in args.sizes if size < n_train]
    if small:
        parser.error(f"--sizes {' '.join(map(str, small))}: give sizes of {n_train} images or more (FER2013's "
                     "training split, every class; jittered replicas come on top of it).")
    # The folders generate() and run_one() remove and remake: never one this script did not make.
    work = Path(args.work)
    mine = [work / f"n{size}" for size in args.sizes if not (work / f"n{size}" / ".complete").exists()]
    if "local" in args.mode and not args.keep_store:
        mine += [work / f"store_{size}" for size in args.sizes]
    foreign = [str(path) for path in mine if _foreign(path)]
    if foreign:
        parser.error(f"--work {work}: {', '.join(foreign)} exist(s) and were not made by this script, which removes "
                     "and remakes them; give another --work, or remove them.")


def _check_worker_memory(parser, value: str) -> None:
    """``--worker-memory`` as Dask's memory_limit reads it (``distributed.worker_memory.parse_memory_limit``).

    ``auto``; a number up to 1 is a fraction of this machine's memory (``0.5``; ``0`` is no limit), a larger
    one a count of bytes, its fraction dropped (``1.5`` is 1 byte: refused, as no one means it); anything else
    a size :func:`dask.utils.parse_bytes` reads (``2GB``, ``512MiB``; ``0GB`` is no limit). ``abc`` gave two
    tracebacks after the images were generated, ``nan`` Dask's ValueError in every worker.
    """
    try:
        from dask.utils import parse_bytes
    except ImportError:  # check_engine names the missing Dask where it is needed
        return
    if value == "auto":
        return
    hint = ""
    try:
        number = float(value)
    except ValueError:
        try:
            ok = bool(value.strip()) and parse_bytes(value) >= 0  # "" would be 1 byte
        except (ValueError, OverflowError):  # "inf GB" overflows
            ok = False
    else:
        ok = math.isfinite(number) and number >= 0 and (number <= 1 or number.is_integer())
        if not ok and math.isfinite(number) and number > 1:  # a fraction in bytes
            whole = int(number)
            hint = f" (Dask reads {value} as {whole} byte{'s' * (whole != 1)}: only numbers up to 1 are fractions)"
    if not ok:
        parser.error(f"--worker-memory {value}: give a size such as 2GB or 512MiB, a fraction of this machine's "
                     f"memory (0.5), 0 for no limit, or auto{hint}.")


def check_engine(args) -> None:
    """The cluster's package importable, before any image is generated or fitted; else its pip extra, one line.

    A missing Ray was found after --check-fer2013's whole local fit (a traceback), a missing Dask after the
    images were generated (in the child process).
    """
    from fer_classic._optional import import_optional

    if args.check_fer2013:
        import_optional("ray" if args.engine == "ray" else "dask.distributed", f"--engine {args.engine}")
    elif "dask" in (args.mode if args.one is None else [args.one[1]]):
        import_optional("dask.distributed", "--mode dask")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30000, 100000, 300000],
                        help="training images of each run, each at least FER2013's training split (28,709: "
                             "replicas come on top of it; default: 30000 100000 300000)")
    parser.add_argument("--mode", nargs="+", choices=MODES, default=["local", "dask"],
                        help="local: out of core in one process; dask: a local cluster of --workers; memory: the "
                             "plain in-memory fit (default: local dask)")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes of the dask mode (one thread each), or the CPUs of --engine ray "
                             "(default: %(default)s)")
    parser.add_argument("--worker-memory", default="2GB",
                        help="Dask memory limit per worker (spills beyond it): a size (2GB), a fraction of this "
                             "machine's memory (0.5), 0 for no limit, or auto (default: %(default)s).")
    parser.add_argument("--n-components", type=int, default=2000,
                        help="random features of the approximate SVM (default: %(default)s)")
    parser.add_argument("--chunk-size", type=int, default=4096,
                        help="images decoded and featurised per chunk (default: %(default)s)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "fer_classic_scale"),
                        help="Folder for the generated images, feature stores and Dask's spill (default: %(default)s).")
    parser.add_argument("--keep-store", action="store_true", help="local: reuse an existing feature store.")
    parser.add_argument("--table", action="store_true", help="Only print the table of results so far.")
    parser.add_argument("--check-fer2013", action="store_true",
                        help="Fit all of FER2013 in memory and on the cluster and compare test predictions.")
    parser.add_argument("--engine", choices=("dask", "ray"), default="dask",
                        help="--check-fer2013: the cluster (Ray: a local instance of --workers CPUs; default: dask).")
    parser.add_argument("--results", type=Path, default=RESULTS, metavar="DIR",
                        help="folder of the results, bench_scale_<size>_<mode>.json (and the --check-fer2013 ones), "
                             "each replaced by the run of its size and mode; --table reads it (default: %(default)s)")
    parser.add_argument("--one", nargs=2, metavar=("SIZE", "MODE"), help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.table:
        if not args.results.is_dir():  # was the header alone and exit 0, as if no run had been made
            parser.error(f"--results {args.results} is not a folder; give the folder the runs wrote their results "
                         "to.")
        print(table(args.results))
        return
    # Before any image is generated: results never go into a file's place or the dataset.
    if args.one is None:  # the parent checked it for its children
        check_results({"--results": args.results}, input_trees={"FER2013": FER}, dirs=("--results",))
    check_options(parser, args)
    check_engine(args)
    if args.check_fer2013:
        row = check_fer2013(args)
        name = "fer2013_check" if args.engine == "dask" else f"fer2013_{args.engine}_check"
        write_json(args.results / f"bench_scale_{name}.json", row)
        print(json.dumps(row, indent=1))
        return
    if args.one:
        row = run_one(int(args.one[0]), args.one[1], args)
        write_json(args.results / f"bench_scale_{row['size']}_{row['mode']}.json", row)
        print(json.dumps(row))
        return
    for size in args.sizes:
        generate(Path(args.work) / f"n{size}", size)
        for mode in args.mode:
            code = subprocess.run([sys.executable, __file__, "--one", str(size), mode, *_options(args)]).returncode
            if code:  # was a CalledProcessError traceback below the child's own error
                raise ScriptError(f"size {size}, mode {mode}: its process failed (exit status {code}), its error "
                                  f"above; the runs before it are in {args.results}.")
    print(table(args.results))


def _options(args) -> list[str]:
    """The options a child process needs."""
    out = ["--workers", str(args.workers), "--worker-memory", args.worker_memory, "--n-components",
           str(args.n_components), "--chunk-size", str(args.chunk_size), "--work", args.work,
           "--results", str(args.results)]
    return out + (["--keep-store"] if args.keep_store else [])


if __name__ == "__main__":
    run_script(main)
