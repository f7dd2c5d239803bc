"""The notebook way of fitting HOG + SVM on an image folder: the baseline of ``bench_fit.py``.

What people write before they have a library: read every file with OpenCV, one
``skimage.feature.hog`` call per image, ``StandardScaler``, ``SVC(C=10)`` (libsvm
computing its own RBF kernel values), accuracy on the test folder, ``joblib.dump``.
Same HOG parameters as fer-classic's ``hog`` (9 orientations, 8 x 8 cells, 3 x 3
blocks, L2-Hys) and the same C and gamma as ``fer-classic fit --features hog --clf svm``.

Usage::

    python benchmarks/naive_fit.py DATA_FOLDER MODEL_OUT

``DATA_FOLDER`` holds ``train/<class>/*`` and ``test/<class>/*``. Prints one JSON
line with the accuracy and the seconds of each step.
"""

from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C in the seconds of the imports below: no traceback
    import contextlib

    with contextlib.suppress(ImportError):  # beside this script: sys.path[0] when run as a command, not by runpy
        import _interrupt

        _interrupt.install()

import argparse
import json
import time
from pathlib import Path

import sys

import cv2
import joblib
import numpy as np
from skimage.feature import hog
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from fer_classic._fileio import atomic_write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import ScriptError, check_results, run_script  # noqa: E402  (one road for every script's output)


def read_split(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(class_dir.iterdir()):
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is None:  # was cv2.resize's '!ssize.empty()' traceback, naming no file
                # path.resolve(): bench_fit's subsets are links in a temporary folder, gone when it ends.
                raise ScriptError(f"{path.resolve()}: OpenCV cannot read it as an image (fer-classic fit skips "
                                  "such files with a warning); naive_fit reads every file of the class folders, so "
                                  "move the files that are not decodable images out of them.")
            images.append(cv2.resize(image, (48, 48), interpolation=cv2.INTER_AREA))
            labels.append(class_dir.name)
    return np.stack(images), np.array(labels)


def features(images: np.ndarray) -> np.ndarray:
    return np.array([hog(image, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(3, 3),
                         block_norm="L2-Hys") for image in images])


def fit(data: Path, out: Path) -> None:
    seconds = {}
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = read_split(data / "train"), read_split(data / "test")
    seconds["load"] = time.perf_counter() - start
    start = time.perf_counter()
    f_train, f_test = features(x_train), features(x_test)
    seconds["features"] = time.perf_counter() - start
    start = time.perf_counter()
    scaler = StandardScaler().fit(f_train)
    model = SVC(C=10, kernel="rbf", gamma="scale", cache_size=1000).fit(scaler.transform(f_train), y_train)
    seconds["fit"] = time.perf_counter() - start
    start = time.perf_counter()
    accuracy = accuracy_score(y_test, model.predict(scaler.transform(f_test)))
    seconds["predict"] = time.perf_counter() - start
    start = time.perf_counter()
    # Through a temporary: a stopped or failed dump leaves the previous file (or none), never half a model.
    atomic_write(out, lambda tmp: joblib.dump((scaler, model), tmp))
    seconds["save"] = time.perf_counter() - start
    print(json.dumps({"accuracy": accuracy, "n_train": len(y_train), "n_test": len(y_test),
                      "seconds": {k: round(v, 2) for k, v in seconds.items()}}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, metavar="DATA_FOLDER", help="holds train/<class>/* and test/<class>/*")
    parser.add_argument("out", type=Path, metavar="MODEL_OUT",
                        help="the (scaler, SVC) pair, written by joblib.dump (replaced if it exists; not a .txt, "
                             ".csv, .json or image path)")
    args = parser.parse_args(argv)
    # Usage errors (exit 2) before the images are read; the model is written only after the fit.
    missing = [split for split in ("train", "test") if not (args.data / split).is_dir()]
    if missing:
        parser.error(f"DATA_FOLDER {args.data} has no {' or '.join(f'{m}/' for m in missing)} folder; give a folder of "
                     "train/<class>/ and test/<class>/ images.")
    if not args.out.parent.is_dir():
        parser.error(f"MODEL_OUT {args.out}: the folder {args.out.parent} does not exist; create it or choose "
                     "another path.")
    # The one check the notebook lacks, kept here: MODEL_OUT inside DATA_FOLDER replaced a training image.
    # MODEL_OUT ending in a table's or an image's suffix (notes.txt, a photo) is refused: far likelier the user's.
    check_results({"MODEL_OUT": args.out}, input_trees={"DATA_FOLDER": args.data}, models=("MODEL_OUT",))
    fit(args.data, args.out)


if __name__ == "__main__":
    run_script(main)
