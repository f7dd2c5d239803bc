"""Dataset diagnostics: class counts, image sizes and modes, unreadable files, duplicates and leakage."""

from __future__ import annotations

import io
import os
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import _resources
from .._display import one_line
from .._fileio import atomic_write_text, csv_writer
from ..exceptions import DataLeakageWarning, ImageDecodeError, ReportError
from ..labels import parse_label_map, sort_labels
from ._csv import load_fer2013_csv
from ._dataset import FaceDataset, effective_splits
from ._duplicates import (
    DEFAULT_NEAR_THRESHOLD,
    MAX_NEAR_PAIRS,
    SPLIT_PRIORITY,
    DuplicateReport,
    _check_threshold,
    find_duplicates,
    hash_thumbnail,
    perceptual_hashes,
    pixel_digest,
    pixel_digests,
)
from ._folder import file_usages, scan_folder
from ._images import decode_image_header
from ._load import existing_path, is_generated, load_dataset, recognise_format
from ._synthetic import make_synthetic_faces

__all__ = ["DUPLICATE_CSV_COLUMNS", "DatasetDescription", "describe_dataset"]

#: Columns of :meth:`DatasetDescription.write_duplicates_csv`.
DUPLICATE_CSV_COLUMNS = ("kind", "group", "split", "label", "source", "hamming", "dedupe")


def _split_order(split: str) -> int:
    return SPLIT_PRIORITY.index(split) if split in SPLIT_PRIORITY else 9


def _nested_counts(splits, values) -> dict[str, dict[str, int]]:
    out: dict[str, Counter] = {}
    for split, value in zip(splits, values):
        out.setdefault(split or "unsplit", Counter())[value] += 1
    order = sorted(out, key=lambda s: _split_order("" if s == "unsplit" else s))
    return {s: dict(out[s].most_common()) for s in order}


@dataclass
class DatasetDescription:
    """What :func:`describe_dataset` found.

    Attributes
    ----------
    name : str
        The dataset path (or ``synthetic``).
    kind : {"folder", "csv", "in-memory"}
    class_counts : dict
        split → class → images (canonical class order).
    sizes, modes, formats : dict
        split → value → images. Sizes are ``WIDTHxHEIGHT`` upright (the EXIF
        orientation applied, as loading reads the images); modes are Pillow's
        (``L`` gray, ``RGB``...). For folders they come from the file headers,
        for a CSV, a labels file, a downloaded layout or an in-memory dataset
        from the loaded arrays (mode ``L``: every image is read as gray).
    size_source : str
        Where sizes and modes were read from.
    unreadable : list of (str, str)
        ``(file, reason)`` of files that could not be decoded (left untouched).
    duplicates : DuplicateReport
        Exact and near duplicates of the readable images.
    seconds : dict
        ``read`` (decode and hash), ``duplicates`` (pair search and the
        counts per split) and ``total`` (all of describe's work).
    """

    name: str
    kind: str
    class_counts: dict
    sizes: dict
    modes: dict
    formats: dict
    size_source: str
    unreadable: list
    duplicates: DuplicateReport
    seconds: dict = field(default_factory=dict)

    @property
    def n_images(self) -> int:
        """Readable images."""
        return self.duplicates.n_images

    def leaked(self, split: str = "test") -> tuple[int, int]:
        """``(exact, near)``: images of ``split`` (``test`` or ``val``) whose copy is also in train.

        Parameters
        ----------
        split : str, default="test"
            ``"test"`` or ``"val"``.

        Returns
        -------
        exact : int
            Images of ``split`` identical to a training image.
        near : int
            Images of ``split`` near one and identical to none.
        """
        return self.duplicates.leaked("train", split)

    def summary(self) -> dict:
        """JSON-ready form of everything found (duplicate counts, not the lists).

        Returns
        -------
        dict
            ``name``, ``kind``, ``n_images``, ``class_counts``, image ``sizes``,
            ``modes`` and ``formats``, ``unreadable``, ``duplicates``,
            ``test_in_train``, ``val_in_train``, ``seconds``...
        """
        (exact, near), (val_exact, val_near) = self.leaked(), self.leaked("val")
        return {
            "name": self.name,
            "kind": self.kind,
            "n_images": self.n_images,
            "class_counts": self.class_counts,
            "sizes": self.sizes,
            "modes": self.modes,
            "formats": self.formats,
            "size_source": self.size_source,
            "unreadable": [{"source": s, "reason": r} for s, r in self.unreadable],
            "duplicates": self.duplicates.counts(),
            "test_in_train": {"exact": exact, "near": near},
            "val_in_train": {"exact": val_exact, "near": val_near},
            "seconds": self.seconds,
        }

    def format(self) -> str:
        """A readable text report.

        Returns
        -------
        str
            Several lines, ending with the leakage warning if any.
        """
        lines = [f"Dataset {one_line(self.name)} ({self.kind}): {self.n_images} readable "
                 f"image{'s' if self.n_images != 1 else ''}, "
                 f"{len(self.unreadable)} unreadable; {self.seconds.get('total', 0):.1f} s"]
        classes = sort_labels({c for counts in self.class_counts.values() for c in counts})
        lines += ["", "Images per class:",
                  f"  {'split':<9}" + "".join(f"{c[:9]:>10}" for c in classes) + f"{'total':>10}"]
        for split, counts in self.class_counts.items():
            lines.append(f"  {split:<9}" + "".join(f"{counts.get(c, 0):>10}" for c in classes)
                         + f"{sum(counts.values()):>10}")
        for title, table in (("Image sizes (width x height)", self.sizes), ("Modes", self.modes),
                             ("Formats", self.formats)):
            text = "; ".join(f"{split}: " + ", ".join(f"{k} {v}" for k, v in values.items())
                             for split, values in table.items())
            if title.startswith("Image"):
                title = f"{title}, from {self.size_source}"
            elif title == "Modes" and self.kind != "folder":  # the arrays' mode, not the files' (color photos too)
                title = "Modes, of the loaded images (every image is read as gray)"
            lines.append(f"{title}: {text}")
        if self.unreadable:
            lines.append(f"Unreadable files ({len(self.unreadable)}, left untouched):")
            lines += [f"  {one_line(source)}: {reason}" for source, reason in self.unreadable[:20]]
            if len(self.unreadable) > 20:
                lines.append(f"  ... and {len(self.unreadable) - 20} more")
        else:
            lines.append("Unreadable files: none")
        counts = self.duplicates.counts()
        # One column for the scopes, as wide as the longest ("across train/unsplit" is 20 characters).
        width = max([20, *(len(scope) + 2 for kind in ("exact", "near") for scope in counts[kind])])
        lines += ["", "Exact duplicates (pixel-identical after decoding):"]
        for scope, c in counts["exact"].items():
            lines.append(f"  {scope:<{width}}" + "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in c.items()))
        lines.append(f"  groups whose copies carry different labels: {counts['exact_label_conflicts']}")
        lines += ["", f"Near duplicates (64-bit DCT pHash within Hamming distance {self.duplicates.threshold} "
                      "of 64 bits, not pixel-identical):"]
        for scope, c in counts["near"].items():
            lines.append(f"  {scope:<{width}}" + "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in c.items()))
        warning = self.leakage_message()
        if warning:
            lines += ["", f"WARNING: {warning}"]
        return "\n".join(lines)

    def leakage_message(self) -> str | None:
        """The leakage warning, or None when no test or validation image occurs in train.

        Validation copies of training images inflate the validation scores
        (``evaluate --split val``) as test copies inflate the test's.

        Returns
        -------
        str or None
            The message; None without leakage.
        """
        found, fixes = self._leaks()
        if not found:
            return None
        return (f"{'; '.join(found)}. To fix it, {' and '.join(fixes)}. dedupe keeps the training copy and works in "
                "memory; the files are never changed.")

    def _leak_warning(self) -> str | None:
        """The short warning of :func:`describe_dataset`: what leaks, not the fix :meth:`format` prints.

        The whole paragraph in both printed it twice for ``describe_dataset(...).format()``.
        """
        found, _ = self._leaks()
        if not found:
            return None
        return (f"{'; '.join(found)}. The description's leakage_message() (the end of its format()) says how to "
                "drop them with fer_classic.data.dedupe.")

    def _leaks(self) -> tuple[list[str], list[str]]:
        """What leaks (one sentence per split) and how to fix each."""
        found, fixes = [], []
        threshold = self.duplicates.threshold
        near_call = "near=True" + (f", threshold={threshold}" if threshold != DEFAULT_NEAR_THRESHOLD else "")
        # fit never uses val, and evaluate has no --dedupe: its fix is the library's. fit --dedupe (and
        # dedupe's default) drops copies identical once loaded (gray, at --size: a colour or enlarged copy of
        # a file counted near here is one); other near ones need dedupe(near=True), in Python.
        for split, name, scope, command in (
            ("test", "test", "fit and score on", " (`fer-classic fit --dedupe`)"),
            ("val", "validation", "score the validation images of", ""),
        ):
            exact, near = self.leaked(split)
            if not (exact or near):
                continue
            found.append(f"{exact} {name} image(s) are pixel-identical to training images and {near} more are near "
                         f"duplicates (pHash distance <= {threshold}, identical to none) of training images: "
                         f"{name} scores are inflated")
            if not near:
                fixes.append(f"{scope} fer_classic.data.dedupe(dataset){command}, which drops the {name} copies of "
                             "training images")
            else:
                exact_only = f"{command.strip(' ()')} and dedupe(dataset)" if command else "dedupe(dataset)"
                fixes.append(f"{scope} fer_classic.data.dedupe(dataset, {near_call}) in Python, which drops the "
                             f"{name} copies of training images, near ones included ({exact_only} drop "
                             "copies identical once loaded only, gray at the model's size: a colour or enlarged "
                             "copy is one, other near duplicates stay)")
        return found, fixes

    def write_duplicates_csv(self, path: str | os.PathLike) -> Path:
        """Write one row per image in a duplicate group (columns :data:`DUPLICATE_CSV_COLUMNS`).

        ``dedupe`` says what :func:`fer_classic.data.dedupe` does with an exact
        copy (keep/drop). The dataset itself is not touched. A source name that
        is not valid UTF-8 is written with its undecodable bytes as ``\\xNN``
        (:func:`fer_classic._fileio.csv_writer`).

        Parameters
        ----------
        path : path
            The CSV file (written atomically).

        Returns
        -------
        Path
            The path written.

        Raises
        ------
        ReportError
            If ``path`` is a folder or cannot be written.
        """
        path = Path(path)
        if path.is_dir():
            raise ReportError(f"--duplicates-csv {path} is a folder; give a file name such as duplicates.csv.")
        buffer = io.StringIO(newline="")
        writer = csv_writer(buffer)
        writer.writerow(DUPLICATE_CSV_COLUMNS)
        writer.writerows([row.get(column, "") for column in DUPLICATE_CSV_COLUMNS] for row in self.duplicates.rows())
        try:
            atomic_write_text(path, buffer.getvalue())
        except OSError as exc:
            raise ReportError(f"Cannot write duplicates CSV {path}: {exc.strerror or exc}.") from exc
        return path


def _inspect(path: Path):
    """Read one file: (digest, 32x32 thumbnail, size, mode, format) or (None, reason).

    Through the loaders' own decoder, so the same files are refused (format
    by content, size capped before decoding) and the pixels are upright.
    """
    try:
        image, header = decode_image_header(path)
    except ImageDecodeError as exc:
        return None, str(exc).removeprefix(f"{path}: ")  # the report names the file already
    # The upright size, as the loaders read the image (a sideways phone photo is 24x48, not its stored 48x24).
    width, height = header.upright_size
    return (pixel_digest(image), hash_thumbnail(image), f"{width}x{height}", header.mode, header.format), None


#: Files read before their 32x32 thumbnails are hashed and dropped: 4 MB of thumbnails at a time, not 1 KB
#: per image of the whole dataset (a GB for a million files).
_HASH_CHUNK = 4096


def _describe_folder(root: Path, label_map, n_jobs):
    groups, paths, labels, splits, folder_of = scan_folder(root, label_map)
    workers = _resources.workers(n_jobs)
    rows, hashes, ok, unreadable = [], [], [], []
    with ThreadPoolExecutor(max_workers=workers) if workers > 1 and len(paths) >= 64 else nullcontext() as pool:
        for start in range(0, len(paths), _HASH_CHUNK):
            part = paths[start:start + _HASH_CHUNK]
            results = list(pool.map(_inspect, part)) if pool else [_inspect(p) for p in part]
            unreadable += [(str(p), reason) for p, (r, reason) in zip(part, results) if r is None]
            found = [r for r, _ in results if r is not None]
            ok += [r is not None for r, _ in results]
            if found:
                hashes.append(perceptual_hashes(np.stack([r[1] for r in found])))
            rows += [(r[0], r[2], r[3], r[4]) for r in found]  # the thumbnail hashed, not kept
    keep = np.flatnonzero(ok)
    # The usages load_folder reads from FER2013 folder and file names: fit trains and scores a flat folder by these.
    usages = file_usages(groups, paths, folder_of)
    splits = effective_splits(np.asarray(splits, dtype=object), np.asarray(usages, dtype=object))
    return {
        "digests": [r[0] for r in rows],
        "hashes": np.concatenate(hashes) if hashes else np.zeros(0, np.uint64),
        "sizes": [r[1] for r in rows], "modes": [r[2] for r in rows], "formats": [r[3] for r in rows],
        "labels": np.asarray(labels, dtype=object)[keep], "splits": splits[keep],
        "sources": np.asarray([str(p) for p in paths], dtype=object)[keep], "unreadable": sorted(unreadable),
    }


def _describe_arrays(dataset: FaceDataset, fmt: str):
    height, width = dataset.image_shape
    n = len(dataset)
    return {
        "digests": pixel_digests(dataset.images),
        "hashes": perceptual_hashes(dataset.images),
        "sizes": [f"{width}x{height}"] * n, "modes": ["L"] * n, "formats": [fmt] * n,
        "labels": dataset.labels, "splits": effective_splits(dataset.splits, dataset.usages),
        "sources": dataset.sources,
        # The loaders' reasons start with the file, which the report names already (as _inspect's do not).
        "unreadable": [(source, reason.removeprefix(f"{source}: ")) for source, reason in dataset.skipped],
    }


def describe_dataset(
    data: str | os.PathLike | FaceDataset | None = None,
    *,
    threshold: int = DEFAULT_NEAR_THRESHOLD,
    label_map=None,
    n_jobs: int | None = None,
    warn: bool = True,
) -> DatasetDescription:
    """Describe a dataset: classes per split, sizes, modes, unreadable files, duplicates, leakage.

    Files are only read, never changed. For class folders every file is read
    once: Pillow reads the size, mode and format from its header (and the
    format and size are checked there, as the loaders do), OpenCV decodes the pixels at their stored size for the exact
    digest and the perceptual hash. A CSV is parsed at its own geometry.

    Parameters
    ----------
    data : path, FaceDataset or None
        Class folders, a fer2013.csv[.gz], a loaded FaceDataset, or None /
        ``"synthetic"`` for the generated faces.
    threshold : int, default=DEFAULT_NEAR_THRESHOLD (6)
        Largest pHash Hamming distance (of 64 bits) of a near duplicate; see
        :mod:`fer_classic.data._duplicates` for how it was chosen.
    label_map : mapping or str, optional
        Folder name (or CSV emotion value) → label, as in :func:`fer_classic.data.load_dataset`.
    n_jobs : int, optional
        Reading threads for folders (None: every core).
    warn : bool, default=True
        Emit a :class:`~fer_classic.exceptions.DataLeakageWarning` when test
        (or val) images also occur in train. It says what leaks; how to fix it
        is in :meth:`DatasetDescription.leakage_message` and the end of
        :meth:`DatasetDescription.format`.

    Returns
    -------
    DatasetDescription

    Raises
    ------
    DatasetError
        If ``data`` does not exist or is not a recognised format.
    ValueError
        If ``threshold`` is not an int from 0 to 64 (checked before reading).
    ReportError
        If the images hold more than :data:`~fer_classic.data.MAX_NEAR_PAIRS`
        near-duplicate pairs at ``threshold`` (refused as the pairs are
        counted, before their list outgrows it).
    """
    _check_threshold(threshold)
    label_map = parse_label_map(label_map)
    start = time.perf_counter()
    if isinstance(data, FaceDataset):
        name, kind, found = data.name, "in-memory", _describe_arrays(data, "array")
        size_source = "the loaded arrays"
    elif is_generated(data):
        synthetic = make_synthetic_faces()
        name, kind, found = synthetic.name, "in-memory", _describe_arrays(synthetic, "generated")
        size_source = "the generated arrays"
    else:
        path = existing_path(data)  # load_dataset's check: "" (the current folder) is refused too
        kind = recognise_format(path)  # the same dispatch as load_dataset
        name = str(path)
        if kind == "folder":
            found, size_source = _describe_folder(path, label_map, n_jobs), "file headers (Pillow)"
        elif kind == "fer2013":
            kind = "csv"
            found = _describe_arrays(load_fer2013_csv(path, label_map=label_map), "CSV pixels")
            size_source = "the CSV's pixel counts"
        else:  # a labels file or a downloaded layout: the images as the loader cuts them out
            found = _describe_arrays(load_dataset(path, label_map=label_map, n_jobs=n_jobs), "decoded")
            size_source = "the loaded (cropped, resized) images"
    read_seconds = time.perf_counter() - start
    report = find_duplicates(found["digests"], found["hashes"], splits=found["splits"], labels=found["labels"],
                             sources=found["sources"], threshold=threshold, max_pairs=MAX_NEAR_PAIRS)
    report.counts()  # counted once (cached) and timed here: the warning and the report read them
    duplicates_done = time.perf_counter() - start
    class_counts = {
        split: {c: counts[c] for c in sort_labels(counts)}
        for split, counts in _nested_counts(found["splits"], found["labels"]).items()
    }
    description = DatasetDescription(
        name=name, kind=kind, class_counts=class_counts,
        sizes=_nested_counts(found["splits"], found["sizes"]),
        modes=_nested_counts(found["splits"], found["modes"]),
        formats=_nested_counts(found["splits"], found["formats"]),
        size_source=size_source, unreadable=list(found["unreadable"]), duplicates=report,
    )
    message = description._leak_warning()
    description.seconds = {"read": round(read_seconds, 3), "duplicates": round(duplicates_done - read_seconds, 3),
                           "total": round(time.perf_counter() - start, 3)}
    if warn and message:
        warnings.warn(message, DataLeakageWarning, stacklevel=2)
    return description
