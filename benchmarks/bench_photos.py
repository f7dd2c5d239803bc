"""Score a saved model on real photos: face-found rate per class (by rule), accuracy, macro F1, recall, speed.

The photos are given as a folder of class folders (``ROOT/<label>/*.jpg``, searched
recursively) or as a labels file (CSV with a ``path`` and a ``label`` column; paths
relative to the file's folder). Folder and label names may be any spelling
:func:`fer_classic.labels.canonical_label` knows (``Happiness``, ``anger``...).

Each photo goes through :func:`fer_classic.prediction.predict_paths` with the
model's own cropper (:func:`fer_classic.prediction.face_cropper_for`), so it is
cropped exactly as ``fer-classic predict`` crops it; the largest face is the
photo's prediction. Per class the table gives how the face was taken
(``found`` by the detector, ``crop``: taken as a face crop without a search,
``whole image``: searched in vain and taken whole, ``no face``), then the recall.
A photo without a face counts as wrong in the accuracy, the macro F1 and the
recalls; ``acc found`` is the accuracy over photos with a face. Seconds per
photo cover decoding, the face search, features and classification (one process,
wall clock: the machine may be shared).

Usage::

    python benchmarks/bench_photos.py MODEL PHOTOS [--limit N] [--fallback none] [--detect auto|always|never]
                                      [--portrait-aspect X|none] [--yunet FILE.onnx] [--trust] [--out FILE.json]

``--fallback`` and ``--portrait-aspect`` override the model's recorded rule for photos
without a face found (``--portrait-aspect none``: no portrait rule, as models saved
before it load), to compare rules on the same model.
"""

from __future__ import annotations

if __name__ == "__main__":  # Ctrl-C in the seconds of the imports below: no traceback
    import contextlib

    with contextlib.suppress(ImportError):  # beside this script: sys.path[0] when run as a command, not by runpy
        import _interrupt

        _interrupt.install()

import argparse
import csv
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score

from fer_classic import load_model
from fer_classic.data import IMAGE_EXTENSIONS
from fer_classic.detection import FaceCropper
from fer_classic.exceptions import FerClassicError
from fer_classic.labels import canonical_label
from fer_classic.prediction import face_cropper_for, predict_paths
from fer_classic.prediction._image import load_image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import UsageExit, check_results, run_script, write_json  # noqa: E402  (one road for --out)
RESULTS = REPO / "benchmarks" / "results"
#: How a photo's face was taken, in table order ("no face": none).
RULES = ("found", "crop", "whole image", "no face")


def read_photos(source: Path, limit: int | None = None) -> list[tuple[Path, str]]:
    """``(path, canonical label)`` of every photo of a class-folder tree or labels file, sorted.

    Parameters
    ----------
    source : path
        A folder of class folders, or a CSV file with ``path`` and ``label`` columns.
    limit : int, optional
        At most this many photos per class (the first in sorted order).

    Raises
    ------
    ValueError
        If ``source`` holds no photo, the CSV lacks its columns, or a row of it names a folder.
    """
    pairs: list[tuple[Path, str]] = []
    if source.is_dir():
        for folder in sorted(p for p in source.iterdir() if p.is_dir()):
            label = canonical_label(folder.name)
            pairs += [(p, label) for p in sorted(folder.rglob("*"))
                      if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    else:
        with open(source, newline="") as handle:
            reader = csv.DictReader(handle)
            if not {"path", "label"} <= set(reader.fieldnames or ()):
                raise ValueError(f"{source}: a labels file needs 'path' and 'label' columns; "
                                 f"got {reader.fieldnames}.")
            rows = []
            for row in reader:
                line = reader.line_num
                # A short row gave "Unknown emotion label None" naming no line; an empty field the same.
                missing = [column for column in ("path", "label") if not (row[column] or "").strip()]
                if missing:
                    raise ValueError(f"line {line}: no {' and no '.join(missing)} (expected path,label).")
                try:
                    rows.append((line, source.parent / row["path"], canonical_label(row["label"])))
                except ValueError as exc:
                    raise ValueError(f"line {line}: {exc}") from None
            # A missing file was scored as a wrong answer after the model ran.
            absent = [f"line {line} ({path})" for line, path, _ in rows if not path.exists()]
            if absent:
                raise ValueError(f"{', '.join(absent[:3])}{' and more' if len(absent) > 3 else ''} "
                                 + ("names no file" if len(absent) == 1 else "name no files")
                                 + "; fix the paths (relative ones are read from the CSV's folder) or remove the rows.")
            # predict_paths would read a folder's images as more photos, and the row itself had no face.
            folders = [f"line {line} ({path})" for line, path, _ in rows if path.is_dir()]
            if folders:
                raise ValueError(f"{', '.join(folders[:3])}{' and more' if len(folders) > 3 else ''} "
                                 + ("names a folder, not a photo" if len(folders) == 1 else "name folders, not photos")
                                 + "; list one image file per row (or give a folder of class folders as PHOTOS).")
            pairs = sorted((path, label) for _, path, label in rows)
    if limit is not None:
        taken: Counter = Counter()
        pairs = [pair for pair in pairs if (taken.update([pair[1]]) or taken[pair[1]] <= limit)]
    if not pairs:
        raise ValueError(f"No photo in {source} (class folders of {', '.join(sorted(IMAGE_EXTENSIONS))} files, "
                         "or a CSV with path and label columns).")
    return pairs


def photo_rule(row: dict | None, cropper, path: Path) -> str:
    """How the photo's face was taken (one of :data:`RULES`), from its first prediction row."""
    if row is None or row["status"] != "ok":
        return "no face"
    if "how" in row:
        return row["how"]
    # Rows from before fer-classic reported `how`: an image not searched was a crop, else taken whole.
    if row["detected"]:
        return "found"
    return "whole image" if cropper.needs_detection(load_image(path)[0].shape) else "crop"


def score_photos(model, photos: list[tuple[Path, str]], **cropper_params) -> dict:
    """Predict every photo and gather the rates, scores and timing (see the module docstring)."""
    cropper = face_cropper_for(model, **cropper_params)
    files = [path for path, _ in photos if not path.is_dir()]  # a folder would be read as its images
    start = time.perf_counter()
    run_rows = predict_paths(model, files, cropper=cropper).rows if files else []
    seconds = time.perf_counter() - start
    first: dict[str, dict] = {}
    boxes: Counter = Counter()
    for row in run_rows:
        first.setdefault(row["source"], row)  # faces come largest first
        boxes[row["source"]] += row["status"] == "ok"
    classes = list(model.classes)
    truth, predicted, rules, errors = [], [], [], []
    for path, label in photos:
        row = first.get(str(path))
        if path.is_dir():  # no row: it counted as a photo without a face
            rule, reason = "error", f"{path}: a folder, not a photo"
        elif row is not None and row["status"] == "error":  # not an image, missing, unreadable
            rule, reason = "error", row.get("error", "error")
        else:
            rule = photo_rule(row, cropper, path)
        if rule == "error":
            errors.append({"path": str(path), "label": label, "error": reason})
        truth.append(label)
        rules.append(rule)
        predicted.append(row["label"] if rule not in ("no face", "error") else rule)
    truth_a, pred_a, rules_a = np.array(truth), np.array(predicted), np.array(rules)
    with_face = ~np.isin(rules_a, ["no face", "error"])
    recalls = recall_score(truth_a, pred_a, labels=classes, average=None, zero_division=0)
    per_class = {}
    for cls, recall in zip(classes, recalls):
        mine = truth_a == cls
        if mine.any():
            per_class[cls] = {"n": int(mine.sum()), "recall": float(recall),
                              **{rule: float(np.mean(rules_a[mine] == rule)) for rule in RULES}}
    return {
        "n_photos": len(photos),
        "n_errors": int(np.sum(rules_a == "error")),
        "errors": errors,
        "rates": {rule: float(np.mean(rules_a == rule)) for rule in RULES},
        # Photos of these sets show one face each: a second box is a false or doubled detection.
        "several_boxes": int(sum(1 for path, _ in photos if boxes[str(path)] > 1)),
        "accuracy": float(accuracy_score(truth_a, pred_a)),
        "accuracy_with_face": float(accuracy_score(truth_a[with_face], pred_a[with_face])) if with_face.any() else None,
        "f1_macro": float(f1_score(truth_a, pred_a, labels=sorted(set(truth) & set(classes)), average="macro",
                                   zero_division=0)),
        "per_class": per_class,
        "seconds_per_photo": seconds / len(photos),
        "cropper": cropper.to_metadata(),
        "unknown_labels": sorted(set(truth) - set(classes)),
    }


def format_table(result: dict) -> str:
    """Per class: photos, share by rule, recall; then the totals."""
    head = f"{'class':<10}{'n':>6}" + "".join(f"{rule:>13}" for rule in RULES) + f"{'recall':>9}"
    lines = [head]
    for cls, entry in result["per_class"].items():
        lines.append(f"{cls:<10}{entry['n']:>6}" + "".join(f"{entry[rule]:>13.1%}" for rule in RULES)
                     + f"{entry['recall']:>9.3f}")
    lines.append(f"{'all':<10}{result['n_photos']:>6}" + "".join(f"{result['rates'][r]:>13.1%}" for r in RULES))
    acc_face = result["accuracy_with_face"]
    lines.append(f"accuracy {result['accuracy']:.3f} (acc found {'-' if acc_face is None else f'{acc_face:.3f}'})"
                 f"  macro F1 {result['f1_macro']:.3f}  {result['seconds_per_photo'] * 1000:.1f} ms/photo"
                 f"  errors {result['n_errors']}  photos with several boxes {result['several_boxes']}")
    for error in result.get("errors", [])[:10]:
        lines.append(f"error (counts as wrong): {error['error']}")
    if len(result.get("errors", [])) > 10:
        lines.append(f"... and {len(result['errors']) - 10} more errors (the results list them all)")
    if result["unknown_labels"]:
        lines.append(f"labels the model does not know (count as wrong): {', '.join(result['unknown_labels'])}")
    return "\n".join(lines)


def portrait_aspect(text: str) -> float | None:
    """``--portrait-aspect``: a number, or ``none`` (argparse named this function for any other text)."""
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number (height / width) or none") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="A model saved by fer_classic.save_model / fer-classic train.")
    parser.add_argument("photos", type=Path, help="Folder of class folders, or a CSV with path,label columns.")
    parser.add_argument("--limit", type=int, default=None, help="At most N photos per class.")
    parser.add_argument("--fallback", choices=["whole", "none"], default=None,
                        help="Override the cropper's fallback for photos without a face found.")
    parser.add_argument("--detect", choices=["auto", "always", "never"], default=None,
                        help="Override the cropper's face search: auto (images larger than a face crop), always or "
                             "never (default: the model's).")
    parser.add_argument("--portrait-aspect", type=portrait_aspect, default=False, metavar="X|none",
                        help="Override the cropper's portrait_aspect (none: no portrait rule).")
    parser.add_argument("--yunet", type=Path, default=None, metavar="FILE.onnx", help="Find faces with YuNet.")
    parser.add_argument("--trust", action="store_true", help="Load a model file from outside fer-classic's list.")
    parser.add_argument("--out", type=Path, default=None,
                        help="results JSON, replaced when the run ends (a stopped run leaves it as it was; default: "
                             "benchmarks/results/bench_photos_<folder above PHOTOS>_<PHOTOS name>.json)")
    args = parser.parse_args(argv)

    # Named after the folder above PHOTOS too: two photo sets both called test/ wrote one file.
    out = args.out or RESULTS / f"bench_photos_{args.photos.resolve().parent.name}_{args.photos.stem}.json"
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit {args.limit}: give 1 or more photos per class.")
    if not args.photos.exists():  # was "[Errno 2] No such file or directory"
        parser.error(f"PHOTOS {args.photos} does not exist; give a folder of class folders or a CSV with path,label "
                     "columns.")
    try:  # listing only: a CSV's photos may lie anywhere, and every one is an input
        photos = read_photos(args.photos, args.limit)
        listed = [path for path, _ in read_photos(args.photos)] if args.photos.is_file() else []
    except (ValueError, OSError) as exc:
        parser.error(f"PHOTOS {args.photos}: {exc}")
    params = {"detect": {"always": True, "never": False}.get(args.detect, args.detect), "fallback": args.fallback}
    if args.yunet:
        if not args.yunet.is_file():
            parser.error(f"--yunet {args.yunet} is not a file; give YuNet's ONNX file "
                         "(face_detection_yunet_2023mar.onnx, OpenCV model zoo).")
        params.update(detector="yunet", detector_model=str(args.yunet))
    params = {k: v for k, v in params.items() if v is not None}
    if args.portrait_aspect is not False:  # None is a value here: the rule turned off
        params["portrait_aspect"] = args.portrait_aspect
    try:  # the overrides on the default cropper, as the model's own will take them
        FaceCropper(**params).fit()
    except FerClassicError as exc:
        option = "--portrait-aspect" if "portrait_aspect" in str(exc) else "--yunet" if args.yunet else "the options"
        parser.error(f"{option}: {exc}")
    # Before any work: the results never replace the model or a photo.
    check_results({"--out": out}, inputs={"MODEL": args.model}, input_trees={"PHOTOS": [args.photos, *listed]})
    if not args.model.is_file():
        parser.error(f"MODEL {args.model} is not a file; give a model saved by fer_classic.save_model or "
                     "fer-classic fit.")
    try:
        model = load_model(args.model, trusted=args.trust)
        face_cropper_for(model, **params)  # overrides the model's cropper refuses: before any photo
    except FerClassicError as exc:
        raise UsageExit(f"MODEL {args.model}: {exc}") from None
    result = score_photos(model, photos, **params)
    print(f"{args.photos}: {len(photos)} photos, model {args.model.name}")
    print(format_table(result))
    result.update(model=str(args.model), photos=str(args.photos), python=sys.version.split()[0],
                  machine=platform.machine())
    write_json(out, result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    run_script(main)
