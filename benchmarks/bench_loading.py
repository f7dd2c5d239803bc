"""Peak memory and time of loading a large class-folder dataset.

Writes N small PNG faces (default 100,000, 48x48, random gray) into a
temporary ``ROOT/train/<label>/`` tree, then loads it with
``fer_classic.data.load_folder`` in a fresh process and reports that process's
peak resident memory above its baseline (after imports) next to the size of
the output image array. Memory should be the output array plus a small,
per-file bookkeeping cost (paths, labels, source names).

Usage::

    python benchmarks/bench_loading.py [--n 100000] [--side 48] [--out FILE]
"""

from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C in the seconds of the imports below: no traceback
    import contextlib

    with contextlib.suppress(ImportError):  # beside this script: sys.path[0] when run as a command, not by runpy
        import _interrupt

        _interrupt.install()

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import OUT_HELP, check_results, run_script, write_json  # noqa: E402  (one road for --out)
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Run in a child process so the parent's memory (file writing) does not count.
CHILD = """
import json, resource, sys, time
from fer_classic.data import load_folder

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

baseline = rss_mb()
start = time.perf_counter()
dataset = load_folder(sys.argv[1], size=int(sys.argv[2]))
seconds = time.perf_counter() - start
print(json.dumps({"baseline_mb": baseline, "peak_mb": rss_mb(), "seconds": seconds,
                  "n_images": len(dataset), "output_mb": dataset.images.nbytes / 2**20}))
"""


def write_dataset(root: Path, n: int, side: int) -> float:
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for label in LABELS[:n]:  # a label folder without an image would be refused by load_folder
        (root / "train" / label).mkdir(parents=True)
    for i in range(n):
        image = rng.integers(0, 256, (side, side), dtype=np.uint8)
        cv2.imwrite(str(root / "train" / LABELS[i % len(LABELS)] / f"{i:06d}.png"), image)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000,
                        help="images to write and load (1 or more; default: 100,000, minutes of writing)")
    parser.add_argument("--side", type=int, default=48,
                        help="image side in pixels, as load_folder takes it (4 to 1024; default: %(default)s)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_loading.json"), help=OUT_HELP)
    args = parser.parse_args(argv)
    if args.n < 1:  # before any file is written (no image loaded would end in a division by zero)
        parser.error(f"--n {args.n}: give 1 or more images to write and load.")
    from fer_classic.data._images import as_size
    from fer_classic.exceptions import ImageSizeError

    try:  # load_folder's own rule, before any file is written (0 stopped OpenCV's writer, -2 numpy)
        as_size(args.side)
    except ImageSizeError as exc:
        parser.error(f"--side {args.side}: {exc}")
    check_results({"--out": args.out})  # before 100,000 images are written
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "faces"
        written = write_dataset(root, args.n, args.side)
        child = subprocess.run([sys.executable, "-c", CHILD, str(root), str(args.side)],
                               capture_output=True, text=True, check=True)
    result = json.loads(child.stdout)
    result.update(write_seconds=written, side=args.side)
    grown = result["peak_mb"] - result["baseline_mb"]
    result["grown_mb"] = grown
    result["overhead_bytes_per_file"] = (grown - result["output_mb"]) * 2**20 / result["n_images"]
    print(f"{'images':>8} {'output MB':>10} {'RSS growth MB':>14} {'growth/output':>14} "
          f"{'extra B/file':>13} {'load s':>7} {'images/s':>9}")
    print(f"{result['n_images']:>8} {result['output_mb']:>10.1f} {grown:>14.1f} "
          f"{grown / result['output_mb']:>14.2f} {result['overhead_bytes_per_file']:>13.0f} "
          f"{result['seconds']:>7.1f} {result['n_images'] / result['seconds']:>9.0f}")
    write_json(args.out, result)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    run_script(main)
