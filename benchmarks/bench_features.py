"""Time HOG and LBP extraction: a per-image scikit-image loop against the batch transformers.

For each extractor (HOGFeatures and LBPFeatures with their default parameters)
this times, on every image of the dataset (FER2013: 35,887 images, train+test):

(a) ``skimage-loop``: a plain single-process loop calling ``skimage.feature.hog``
    or ``skimage.feature.local_binary_pattern`` (+ the same grid histogram) per image;
(b) ``batch n_jobs=1``: the transformer's ``transform``, one process;
(c) ``batch n_jobs=-1``: the same on every core.

Each transformer is fitted and warmed up on a few images first (worker pool
and look-up tables), so the timings are steady-state. The outputs of (b) and
(c) are compared with (a); the largest absolute difference is reported.

Usage::

    python benchmarks/bench_features.py [--data DIR] [--limit N] [--out FILE]
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
import warnings
from pathlib import Path

import joblib
import numpy as np
import skimage
from skimage.feature import hog, local_binary_pattern

from fer_classic.data import dataset_inputs, load_folder
from fer_classic.features import HOGFeatures, LBPFeatures

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import OUT_HELP, check_results, run_script, write_json  # noqa: E402  (one road for --out)
DEFAULT_DATA = REPO.parent / "shared" / "data" / "fer2013"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "bench_features.json"


def skimage_hog_loop(images: np.ndarray, params: HOGFeatures) -> np.ndarray:
    """HOG descriptors with one ``skimage.feature.hog`` call per image."""
    return np.stack([
        hog(image, orientations=params.orientations, pixels_per_cell=tuple(params.pixels_per_cell),
            cells_per_block=tuple(params.cells_per_block), block_norm=params.block_norm,
            feature_vector=True)
        for image in images
    ]).astype(np.float64)


def skimage_lbp_loop(images: np.ndarray, params: LBPFeatures) -> np.ndarray:
    """LBP grid histograms with one ``local_binary_pattern`` call and one bincount per cell."""
    P, R = int(params.P), float(params.R)  # noqa: N806 - scikit-image's names
    method = params.method
    n_bins = {"uniform": P + 2, "nri_uniform": P * (P - 1) + 3}.get(method, 2**P)
    rows = np.linspace(0, images.shape[1], int(params.grid[0]) + 1).astype(int)
    cols = np.linspace(0, images.shape[2], int(params.grid[1]) + 1).astype(int)
    out = np.empty((len(images), len(rows) - 1, len(cols) - 1, n_bins))
    for k, image in enumerate(images):
        codes = local_binary_pattern(image, P, R, method).astype(np.int64)
        for i in range(len(rows) - 1):
            for j in range(len(cols) - 1):
                cell = codes[rows[i] : rows[i + 1], cols[j] : cols[j + 1]]
                out[k, i, j] = np.bincount(cell.ravel(), minlength=n_bins) / cell.size
    return out.reshape(len(images), -1)


def timed(function, *args) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def run(data: Path, limit: int | None) -> dict:
    print(f"Loading {data} ...", flush=True)
    dataset = load_folder(data)
    images = dataset.images[:limit] if limit else dataset.images
    X = images.reshape(len(images), -1)  # noqa: N806 - scikit-learn's name
    n = len(images)
    print(f"{n} images of {images.shape[1]}x{images.shape[2]} pixels", flush=True)

    rows = []
    extractors = (("HOG", HOGFeatures, skimage_hog_loop), ("LBP", LBPFeatures, skimage_lbp_loop))
    for name, make, loop in extractors:
        seconds, reference = timed(loop, images, make())
        rows.append(dict(extractor=name, method="skimage-loop", images=n, seconds=seconds,
                         max_abs_diff=0.0))
        print(f"  {name} skimage-loop: {seconds:.1f} s", flush=True)
        for n_jobs in (1, -1):
            transformer = make(n_jobs=n_jobs).fit(X[:2])
            transformer.transform(X[: min(n, 512)])  # warm-up: worker pool, look-up tables
            seconds, features = timed(transformer.transform, X)
            rows.append(dict(
                extractor=name, method=f"batch n_jobs={n_jobs}", images=n, seconds=seconds,
                max_abs_diff=float(np.abs(features - reference).max()) if n else 0.0,
            ))
            print(f"  {name} batch n_jobs={n_jobs}: {seconds:.1f} s", flush=True)
        baseline = rows[-3]["seconds"]
        for row in rows[-3:]:
            row["images_per_s"] = row["images"] / row["seconds"] if row["seconds"] else float("inf")
            row["speedup"] = baseline / row["seconds"] if row["seconds"] else float("inf")

    return dict(
        data=str(data),
        images=n,
        results=rows,
        environment=dict(
            python=sys.version.split()[0], numpy=np.__version__, scikit_image=skimage.__version__,
            joblib=joblib.__version__, platform=platform.platform(), cpu_count=os.cpu_count(),
            load_average=os.getloadavg() if hasattr(os, "getloadavg") else None,
        ),
    )


def print_table(results: list[dict]) -> None:
    header = (f"{'extractor':<9} {'method':<16} {'images':>7} {'seconds':>9} {'images/s':>10} "
              f"{'speed-up':>9} {'max |diff|':>11}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['extractor']:<9} {r['method']:<16} {r['images']:>7} {r['seconds']:>9.2f} "
              f"{r['images_per_s']:>10.0f} {r['speedup']:>8.1f}x {r['max_abs_diff']:>11.1e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"class-folder dataset (default: {DEFAULT_DATA})")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="use only the first N images, for a quick run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=OUT_HELP)
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit {args.limit}: give 1 or more images.")
    if not args.data.is_dir():  # a usage error, before loading
        parser.error(f"--data {args.data} is not a folder; give a class-folder dataset (<class>/ or "
                     "train/<class>/ image folders).")

    check_results({"--out": args.out}, input_trees={"--data": dataset_inputs(args.data)})

    # The loop feeds uint8 images to local_binary_pattern; keep its float advice quiet anyway.
    warnings.filterwarnings("ignore", message="Applying `local_binary_pattern` to floating-point")
    report = run(args.data, args.limit)
    print()
    print_table(report["results"])
    write_json(args.out, report)
    print(f"\nResults written to {args.out}")
    return 0


if __name__ == "__main__":
    run_script(main)
