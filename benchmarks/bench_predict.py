"""Time prediction on real-sized frames: face detection + features + classification, on one core.

For each model type (fitted on the FER2013 train split, scored on its test split)
this measures, with ``cv2.setNumThreads(1)`` and single-threaded BLAS
(threadpoolctl), wall-clock and CPU time (the machine may be shared):

(a) milliseconds per 640x480 BGR frame holding one face (skimage's astronaut,
    face 85-105 px wide, moving and zooming smoothly from frame to frame), split
    into face search + cropping and features + classification, in two modes:
    ``video``: as ``predict_video`` runs (whole-frame search every 10th frame,
    in between only around the face of the previous frame), and ``full``:
    the whole frame searched every frame (``redetect_every=1``, the cost of a
    single photo); and ``full-80``: the same for faces of 80 px and more only
    (``min_face_size=80``: the frame is searched at 240x180); and frames per second;
(b) throughput of ``predict_paths`` on a folder of 1,000 generated 640x480
    JPEG photos with one face each (decoding, whole-image search, batched
    classification), written to a temporary folder and deleted afterwards;
(c) throughput of ``predict_paths`` on 1,000 FER2013 test images (48x48 face
    crops: no search, by the ``detect="auto"`` rule), read in place.

Usage::

    python benchmarks/bench_predict.py [--data DIR] [--models hog:linear-svm,hog:svm-approx]
                                       [--train-limit N] [--frames N] [--images N] [--out FILE]
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
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import sklearn
from skimage.data import astronaut
from threadpoolctl import threadpool_limits

from fer_classic import fit_model, load_dataset
from fer_classic.data import dataset_inputs
from fer_classic.detection import FaceCropper
from fer_classic.prediction import FrameSearch, face_cropper_for, predict_paths
from fer_classic.prediction._image import face_rows

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import OUT_HELP, ScriptError, check_results, run_script, write_json  # noqa: E402  (one road)
DEFAULT_DATA = REPO.parent / "shared" / "data" / "fer2013"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "bench_predict.json"
#: name -> (features, clf, classifier parameters)
MODELS = {
    "hog:linear-svm": ("hog", "linear-svm", {}),
    "hog:svm-approx": ("hog", "svm", {"backend": "approx"}),
    "hog:logreg": ("hog", "logreg", {}),
    "hog:svm-exact": ("hog", "svm", {"backend": "sklearn"}),
}
FRAME_SIZE = (640, 480)


def make_frames(n: int) -> list[np.ndarray]:
    """640x480 BGR frames with the astronaut (one face 85-105 px wide) moving and zooming smoothly."""
    photo = np.ascontiguousarray(astronaut()[..., ::-1])
    width, height = FRAME_SIZE
    frames = []
    for k in range(n):
        scale = 0.98 + 0.08 * np.sin(2 * np.pi * k / 60)
        small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame = np.full((height, width, 3), 110, np.uint8)
        x, y = round(70 + 60 * np.sin(2 * np.pi * k / 90)), round(10 + 8 * np.cos(2 * np.pi * k / 45))
        part = small[: height - y, : width - x]
        frame[y : y + part.shape[0], x : x + part.shape[1]] = part
        frames.append(frame)
    return frames


def time_frames(model, cropper: FaceCropper, frames: list[np.ndarray], redetect_every: int, mode: str) -> dict:
    """Per-frame search+crop and features+classification times (ms), as predict_video runs them."""
    warm = FrameSearch(cropper, redetect_every)
    for frame in frames[:5]:  # warm-up: cascade load, first allocations
        face_rows(model, [({"source": "warm-up"}, warm.crop_faces(frame), frame.shape)])
    search = FrameSearch(cropper, redetect_every)
    detect_ms, classify_ms, found = [], [], 0
    cpu_start = time.process_time()
    for k, frame in enumerate(frames):
        start = time.perf_counter()
        pairs = search.crop_faces(frame)
        middle = time.perf_counter()
        rows = face_rows(model, [({"source": "bench", "frame": k}, pairs, frame.shape)])
        end = time.perf_counter()
        detect_ms.append(1000 * (middle - start))
        classify_ms.append(1000 * (end - middle))
        found += sum(row["status"] == "ok" for row in rows) == 1
    cpu_ms = 1000 * (time.process_time() - cpu_start) / len(frames)
    total = np.add(detect_ms, classify_ms)
    return {
        "mode": mode,
        "min_face_size": cropper.min_face_size,
        "redetect_every": redetect_every,
        "frames": len(frames),
        "frames_with_one_face": found,
        "detect_crop_ms": float(np.mean(detect_ms)),
        "features_classify_ms": float(np.mean(classify_ms)),
        "ms_per_frame": float(np.mean(total)),
        "ms_per_frame_median": float(np.median(total)),
        "ms_per_frame_p95": float(np.percentile(total, 95)),
        "fps": float(1000 / np.mean(total)),
        "cpu_ms_per_frame": cpu_ms,
        "fps_cpu": float(1000 / cpu_ms),
    }


def time_folder(model, paths: list[Path]) -> dict:
    """predict_paths over ``paths``: seconds, images per second, and how many had a face."""
    start = time.perf_counter()
    run = predict_paths(model, paths)
    seconds = time.perf_counter() - start
    return {
        "images": len(paths),
        "seconds": seconds,
        "images_per_s": len(paths) / seconds,
        "with_face": sum(r["status"] == "ok" for r in run.rows),
        "failed": run.failed,
    }


def fer_test_files(data: Path, n: int) -> list[Path]:
    """``n`` FER2013 test images, evenly spread over the sorted list (all classes), read in place."""
    files = sorted((data / "test").rglob("*.jpg"))
    step = max(1, len(files) // n)
    return files[::step][:n]


def run(data: Path, model_names: list[str], train_limit: int | None, n_frames: int, n_images: int) -> dict:
    if train_limit is not None and train_limit < 1:
        raise ValueError(f"train_limit must be 1 or more (None: every training image), got {train_limit}")
    cv2.setNumThreads(1)
    print(f"Loading {data} ...", flush=True)
    dataset = load_dataset(data)
    if train_limit is not None:
        train_idx = np.random.default_rng(0).permutation(np.flatnonzero(dataset.splits == "train"))[:train_limit]
        keep = np.concatenate([train_idx, np.flatnonzero(dataset.splits != "train")])
        dataset = dataset.subset(np.sort(keep))
        drawn = set(dataset.y[dataset.splits == "train"].tolist())
        missing = sorted(set(dataset.y[dataset.splits != "train"].tolist()) - drawn)
        if missing:  # was fit's "add training images or remove those classes", blaming the dataset
            raise ScriptError(f"--train-limit {train_limit}: the {train_limit} training images drawn at random "
                              f"(not per class) hold no image of {', '.join(missing)}; give a larger --train-limit "
                              "or leave it out.")
    frames = make_frames(n_frames)
    fer_files = fer_test_files(data, n_images)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp:
        photos = []
        for k, frame in enumerate(make_frames(n_images)):
            path = Path(tmp) / f"photo_{k:04d}.jpg"
            cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
            photos.append(path)
        for name in model_names:
            features, clf, params = MODELS[name]
            print(f"Fitting {name} on {int((dataset.splits == 'train').sum())} images ...", flush=True)
            fitted = fit_model(dataset, features=features, clf=clf, clf_params=params)
            model, cropper = fitted.model, face_cropper_for(fitted.model)
            common = {"model": name, "accuracy": fitted.metrics["accuracy"], "fit_s": fitted.timings["fit"]}
            with threadpool_limits(limits=1):
                for mode, redetect_every, min_face in (("video", 10, None), ("full", 1, None), ("full-80", 1, 80)):
                    mode_cropper = face_cropper_for(model, min_face_size=min_face) if min_face else cropper
                    row = {**common, **time_frames(model, mode_cropper, frames, redetect_every, mode)}
                    if mode == "full":
                        row["photos"] = time_folder(model, photos)
                        row["fer_crops"] = time_folder(model, fer_files)
                    results.append(row)
                    print(f"  {row['mode']:<7}: {row['ms_per_frame']:.1f} ms/frame ({row['fps']:.0f} fps; "
                          f"CPU {row['cpu_ms_per_frame']:.1f} ms, {row['fps_cpu']:.0f} fps)", flush=True)
            full = results[-2]
            print(f"  photos {full['photos']['images_per_s']:.1f}/s, "
                  f"FER crops {full['fer_crops']['images_per_s']:.0f}/s",
                  flush=True)
    return {
        "data": str(data),
        "train_images": int((dataset.splits == "train").sum()),
        "frame_size": list(FRAME_SIZE),
        "threads": "cv2.setNumThreads(1), BLAS/OpenMP limited to 1 (threadpoolctl)",
        "results": results,
        "environment": {
            "python": sys.version.split()[0], "numpy": np.__version__, "opencv": cv2.__version__,
            "scikit_learn": sklearn.__version__, "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
    }


def print_table(report: dict) -> None:
    header = (f"{'model':<16} {'mode':<7} {'accuracy':>8} {'search ms':>9} {'clf ms':>7} {'ms/frame':>9} "
              f"{'p95 ms':>7} {'fps':>6} {'CPU ms':>7} {'fps CPU':>7} {'photos/s':>9} {'FER crops/s':>12}")
    print(header)
    print("-" * len(header))
    for r in report["results"]:
        photos = f"{r['photos']['images_per_s']:>9.1f}" if "photos" in r else f"{'':>9}"
        crops = f"{r['fer_crops']['images_per_s']:>12.0f}" if "fer_crops" in r else f"{'':>12}"
        print(f"{r['model']:<16} {r['mode']:<7} {r['accuracy']:>8.3f} {r['detect_crop_ms']:>9.1f} "
              f"{r['features_classify_ms']:>7.2f} {r['ms_per_frame']:>9.1f} {r['ms_per_frame_p95']:>7.1f} "
              f"{r['fps']:>6.0f} {r['cpu_ms_per_frame']:>7.1f} {r['fps_cpu']:>7.0f} {photos} {crops}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"FER2013 class folders (default: {DEFAULT_DATA})")
    parser.add_argument("--models", default="hog:linear-svm,hog:svm-approx,hog:logreg",
                        help=f"comma-separated, from {', '.join(MODELS)} (default: %(default)s)")
    parser.add_argument("--train-limit", type=int, default=None, metavar="N",
                        help="fit on N random training images only, not drawn per class: give enough for every "
                             "class (hog:svm-exact needs this to be quick; default: all)")
    parser.add_argument("--frames", type=int, default=300,
                        help="640x480 frames timed per model (10 or more; default 300)")
    parser.add_argument("--images", type=int, default=1000,
                        help="images per folder throughput run (10 or more; default 1000)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=OUT_HELP)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        parser.error(f"--models {args.models!r}: " + (f"unknown {', '.join(unknown)}" if unknown else "names no model")
                     + f"; give one or more of {', '.join(MODELS)}, comma-separated.")
    if args.train_limit is not None and args.train_limit < 1:
        parser.error(f"--train-limit {args.train_limit}: give 1 or more training images (leave it out for all)")
    for option, value in (("--frames", args.frames), ("--images", args.images)):
        if value < 10:
            parser.error(f"{option} {value}: give 10 or more.")
    # Usage errors before loading: the folder throughput run times test/<class>/*.jpg files after the fits.
    if not args.data.is_dir():
        parser.error(f"--data {args.data} is not a folder; give FER2013's class folders (train/ and test/).")
    if not fer_test_files(args.data, args.images):
        parser.error(f"--data {args.data} has no test/<class>/*.jpg images to time; give FER2013's class folders "
                     "(train/ and test/).")
    classes = [p for p in (args.data / "train").iterdir() if p.is_dir()] if (args.data / "train").is_dir() else []
    if args.train_limit is not None and args.train_limit < len(classes):
        parser.error(f"--train-limit {args.train_limit}: fewer training images than the {len(classes)} classes of "
                     f"--data; give {len(classes)} or more (they are drawn at random, not per class), or leave it "
                     "out.")
    check_results({"--out": args.out}, input_trees={"--data": dataset_inputs(args.data)})
    report = run(args.data, names, args.train_limit, args.frames, args.images)
    print()
    print_table(report)
    write_json(args.out, report)
    print(f"\nResults written to {args.out}")
    return 0


if __name__ == "__main__":
    run_script(main)
