"""The whole ``fer-classic fit --features hog --clf svm`` command against the notebook way, side by side.

For each training-set size, both run as separate processes on the same images,
one after the other in this one run:

* ``fer-classic``: ``fer-classic fit --data SUBSET --features hog --clf svm --out MODEL``
  (imports, loading, HOG, the exact RBF SVM, scoring the test images, saving);
* ``naive``: ``benchmarks/naive_fit.py`` (``cv2.imread`` per file, one
  ``skimage.feature.hog`` call per image, ``StandardScaler``, ``SVC(C=10)``,
  ``joblib.dump``), the baseline.

Sizes: ``6k`` (at most 1,000 training and 300 test images per class: 6,436 /
1,911), ``12k`` (2,000 / 600: 12,436 / 3,660) and ``full`` (all 28,709 / 7,178),
taken from FER2013's folders by file name order through symbolic links (no
image is copied). Measured per process: wall seconds, CPU seconds (user +
system, all threads and children) and peak resident memory (``wait4``), the
model file's size and the test accuracy. The CPU model and the BLAS kernel
(threadpoolctl) are recorded: ratios hold for this machine; other CPUs differ.

Usage::

    python benchmarks/bench_fit.py                  # 6k, 12k and full (about 20 min on 2 cores)
    python benchmarks/bench_fit.py --sizes 6k --repeat 3   # median of 3 alternating runs
    python benchmarks/bench_fit.py --repeat 5 --repeat-sizes 6k   # 6k five times, 12k and full once
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
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import OUT_HELP, ScriptError, check_results, run_script, write_json  # noqa: E402  (one road)
from bench_samplers import machine  # noqa: E402  (CPU and BLAS kernel, one definition)

DEFAULT_DATA = REPO.parent / "shared" / "data" / "fer2013"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "bench_fit.json"
#: Training and test images per class at each size (None: all).
SIZES = {"6k": (1000, 300), "12k": (2000, 600), "full": (None, None)}


def make_subset(data: Path, root: Path, per_class: tuple[int | None, int | None]) -> Path:
    """``root/train/<class>`` and ``root/test/<class>``: links to the first images of each class.

    Only the files fer-classic reads: an image suffix, and not hidden (its loader's own rule, ``is_hidden``: a
    Mac copy's ``._x.jpg``, ``.ipynb_checkpoints/``). fit skipped a notes.txt or a ``._x.jpg`` that naive_fit then
    failed on, and ``n_train`` counted it.
    """
    from fer_classic.data import IMAGE_EXTENSIONS
    from fer_classic.data._folder import is_hidden

    for split, n in zip(("train", "test"), per_class):
        for class_dir in sorted(p for p in (data / split).iterdir() if p.is_dir() and not is_hidden(p.name)):
            target = root / split / class_dir.name
            target.mkdir(parents=True)
            images = (p for p in class_dir.iterdir()
                      if p.suffix.lower() in IMAGE_EXTENSIONS and not is_hidden(p.name) and not p.is_dir())
            for path in sorted(images)[:n]:
                (target / path.name).symlink_to(path.resolve())
    return root


def run(command: list[str], name: str) -> dict:
    """Run ``command``; its wall and CPU seconds, peak memory and output.

    A failure is a :class:`ScriptError` naming ``name`` (the tool and size) and the child's last line (its error):
    it was a RuntimeError holding the child's whole traceback, inside bench_fit's own.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=REPO,
                                   env={**os.environ, "FER_CLASSIC_PROGRESS": "0"})
        _, status, usage = os.wait4(process.pid, 0)  # this child's own resource use
        wall = time.perf_counter() - start
        output.seek(0)
        text = output.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        last = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "no output")
        raise ScriptError(f"{name} failed (exit status {code}): {last}")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "output": text}


def fer_classic(subset: Path, model: Path, size: str) -> dict:
    command = shutil.which("fer-classic", path=str(Path(sys.executable).parent)) or "fer-classic"
    result = run([command, "fit", "--data", str(subset), "--features", "hog",
                  "--clf", "svm", "--out", str(model)], f"fer-classic fit on size {size}")
    found = re.search(r"accuracy\s+([0-9.]+)", result.pop("output"))
    if found is None:  # was a TypeError on found[1]
        raise ScriptError(f"fer-classic fit on size {size}: its output holds no 'accuracy' line to read.")
    return {**result, "accuracy": float(found[1]), "model_mb": round(model.stat().st_size / 1e6, 1)}


def naive(subset: Path, model: Path, size: str) -> dict:
    result = run([sys.executable, str(REPO / "benchmarks" / "naive_fit.py"), str(subset), str(model)],
                 f"naive_fit.py on size {size}")
    report = json.loads(result.pop("output").strip().splitlines()[-1])
    return {**result, "accuracy": report["accuracy"], "model_mb": round(model.stat().st_size / 1e6, 1),
            "steps_s": report["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="FER2013's class folders, train/<class>/ and test/<class>/ (default: %(default)s)")
    parser.add_argument("--sizes", default=",".join(SIZES),
                        help="comma-separated, from 6k (1,000 training and 300 test images a class at most), 12k "
                             "(2,000 / 600) and full (every image) (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=OUT_HELP)
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each tool per size, alternating; the run of median wall time is kept "
                             "(default: 1)")
    parser.add_argument("--repeat-sizes", default=None,
                        help="the sizes run --repeat times (default: all); the others run once")
    args = parser.parse_args()
    sizes = list(dict.fromkeys(s.strip() for s in args.sizes.split(",") if s.strip()))
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or not sizes:
        parser.error(f"--sizes {args.sizes!r}: " + (f"unknown {', '.join(unknown)}; " if unknown else "")
                     + f"give one or more of {', '.join(SIZES)}, comma-separated.")
    if args.repeat_sizes is None:
        repeated = sizes
    else:
        repeated = list(dict.fromkeys(s.strip() for s in args.repeat_sizes.split(",") if s.strip()))
        strangers = [s for s in repeated if s not in sizes]
        if strangers or not repeated:
            parser.error(f"--repeat-sizes {args.repeat_sizes!r}: "
                         + (f"{', '.join(strangers)} not among --sizes; " if strangers else "")
                         + f"give one or more of the sizes run ({', '.join(sizes)}), comma-separated.")
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: give 1 or more runs of each tool per size.")
    missing = [split for split in ("train", "test") if not (args.data / split).is_dir()]
    if missing:
        parser.error(f"--data {args.data} has no {' or '.join(f'{m}/' for m in missing)} folder; give FER2013's "
                     "class folders (train/<class>/ and test/<class>/).")
    check_results({"--out": args.out}, input_trees={"--data": args.data})
    rows = []
    print(f"{'size':<6}{'tool':<12}{'n_train':>8}{'wall s':>9}{'cpu s':>9}{'peak MB':>9}{'model MB':>10}"
          f"{'acc':>8}{'speed-up':>10}")
    with tempfile.TemporaryDirectory(prefix="bench-fit-") as tmp:
        for size in sizes:
            subset = make_subset(args.data, Path(tmp) / size, SIZES[size])
            n_train = sum(1 for _ in (subset / "train").glob("*/*"))
            runs = []
            repeat = args.repeat if size in repeated else 1
            for run_number in range(repeat):
                # A new model file each run: an existing one is checked against every input file first.
                runs.append((fer_classic(subset, Path(tmp) / f"{size}-{run_number}.joblib", size),
                             naive(subset, Path(tmp) / f"{size}-{run_number}-naive.joblib", size)))
                if repeat > 1:
                    print(f"  run {len(runs)}: fer-classic {runs[-1][0]['wall_s']} s, naive {runs[-1][1]['wall_s']} s",
                          flush=True)
            ours, baseline = (sorted((r[k] for r in runs), key=lambda m: m["wall_s"])[len(runs) // 2] for k in (0, 1))
            for index, (tool, result) in enumerate((("fer-classic", ours), ("naive", baseline))):
                speedup = baseline["wall_s"] / result["wall_s"]
                rows.append({"size": size, "tool": tool, "n_train": n_train, **result,
                             "speedup_vs_naive": round(speedup, 2),
                             "runs_wall_s": [run[index]["wall_s"] for run in runs]})
                print(f"{size:<6}{tool:<12}{n_train:>8}{result['wall_s']:>9.1f}{result['cpu_s']:>9.1f}"
                      f"{result['peak_rss_mb']:>9}{result['model_mb']:>10.1f}{result['accuracy']:>8.4f}"
                      f"{speedup:>9.1f}x", flush=True)
    write_json(args.out, {"machine": machine(), "rows": rows})
    print(f"results in {args.out}")


if __name__ == "__main__":
    run_script(main)
