"""FER2013's ``fer2013.csv``: ``emotion,pixels,Usage`` (plain or gzip)."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import math
import os
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..exceptions import DatasetError, DatasetFormatError, UnknownLabelError
from ..labels import canonical_label, fer2013_label
from ._dataset import USAGE_SPLITS, FaceDataset, normalize_split
from ._images import as_size, resize_gray

__all__ = ["load_fer2013_csv"]


def _open_text(path: Path) -> io.TextIOBase:
    # utf-8-sig drops a byte-order mark; newline="" lets csv handle CRLF.
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of each CSV record.

    Undecodable text, malformed quoting and damaged gzip data become
    :class:`DatasetFormatError` naming the file and line.
    """
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        try:
            for fields in reader:
                yield reader.line_num, fields
        except UnicodeDecodeError as exc:
            raise DatasetFormatError(
                f"{path} near line {reader.line_num + 1}: not UTF-8 text ({exc.reason}); "
                "save the CSV as UTF-8 (FER2013's own file is ASCII)."
            ) from None
        except csv.Error as exc:
            raise DatasetFormatError(
                f"{path} line {reader.line_num}: malformed CSV ({exc}); fix or remove that line."
            ) from None
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise DatasetFormatError(
                f"{path}: damaged or truncated gzip data ({exc}); download or compress it again."
            ) from None


def _parse_pixels(text: str, where: str) -> np.ndarray:
    # np.fromstring's text mode is ~6x faster than str.split; make its partial
    # parse of malformed text an error instead of a deprecation warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            values = np.fromstring(text, dtype=np.int32, sep=" ")
        except (ValueError, DeprecationWarning):
            bad = next((t for t in text.split() if not t.lstrip("-").isdigit()), text[:20])
            raise DatasetFormatError(
                f"{where}: pixels must be space-separated integers 0..255; found {bad!r}."
            ) from None
    if values.size and (values.min() < 0 or values.max() > 255):
        raise DatasetFormatError(
            f"{where}: pixel values must lie in 0..255; found {values.min()}..{values.max()}."
        )
    return values


def _parse_label(text: str, where: str) -> str:
    text = text.strip()
    try:
        return fer2013_label(int(text)) if text.lstrip("-").isdigit() else canonical_label(text)
    except UnknownLabelError as exc:
        raise UnknownLabelError(f"{where}: {exc}") from None


def load_fer2013_csv(path: str | os.PathLike, *, size: int | tuple[int, int] | None = None) -> FaceDataset:
    """Load ``fer2013.csv`` (or ``.csv.gz``).

    Rows are streamed, so memory holds the decoded uint8 images and no text frame.

    Parameters
    ----------
    path : path
        CSV with a header naming ``emotion`` and ``pixels`` and optionally ``Usage``.
        ``emotion`` is a FER2013 id (0=angry 1=disgust 2=fear 3=happy 4=sad
        5=surprise 6=neutral) or a label name; ``pixels`` holds a square image's
        gray values in row-major order.
    size : int or (height, width), optional
        Resize to this geometry; default keeps the CSV's own (48x48 for FER2013).

    Returns
    -------
    FaceDataset
        ``Usage`` Training → split ``train``; PublicTest and PrivateTest → split
        ``test``, told apart by ``usages``. Without a Usage column, one unsplit set.

    Raises
    ------
    DatasetError
        If the file is missing, empty or lacks the required columns.
    DatasetFormatError
        If a row's pixels are not integers 0..255 or not a square count, or its
        count differs from the first row's (the row number is named).
    UnknownLabelError
        If a row's emotion is not a known id or name.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"CSV file {path} does not exist.")
    target = as_size(size) if size is not None else None
    images: list[np.ndarray] = []
    labels: list[str] = []
    usages: list[str] = []
    rows: list[int] = []
    side = None
    with contextlib.closing(_records(path)) as records:  # closes the file on an early error
        _, header = next(records, (0, None))
        if header is None:
            raise DatasetError(f"CSV file {path} is empty; expected a header 'emotion,pixels,Usage'.")
        columns = {name.strip().lower(): i for i, name in enumerate(header)}
        missing = {"emotion", "pixels"} - columns.keys()
        if missing:
            raise DatasetFormatError(
                f"{path}: header {header!r} lacks column(s) {sorted(missing)}; "
                "expected 'emotion,pixels,Usage' as in FER2013."
            )
        i_emotion, i_pixels, i_usage = columns["emotion"], columns["pixels"], columns.get("usage")
        for line, row in records:
            if not row or not any(cell.strip() for cell in row):
                continue
            where = f"{path} row {line}"
            if len(row) < len(header):
                raise DatasetFormatError(f"{where}: {len(row)} fields, header has {len(header)}.")
            pixels = _parse_pixels(row[i_pixels], where)
            if side is None:
                side = math.isqrt(pixels.size)
                if side * side != pixels.size or side < 4:
                    raise DatasetFormatError(
                        f"{where}: {pixels.size} pixel values are not a square image "
                        "(FER2013 rows hold 2304 = 48x48); fix or remove the row."
                    )
            elif pixels.size != side * side:
                raise DatasetFormatError(
                    f"{where}: {pixels.size} pixel values, but earlier rows hold "
                    f"{side * side} ({side}x{side}); fix or remove the row."
                )
            image = pixels.astype(np.uint8).reshape(side, side)
            images.append(resize_gray(image, target) if target else image)
            labels.append(_parse_label(row[i_emotion], where))
            usages.append(row[i_usage].strip() if i_usage is not None else "")
            rows.append(line)
    if not images:
        raise DatasetError(f"CSV file {path} has a header but no data rows.")
    splits = []
    for line, usage in zip(rows, usages):
        split = USAGE_SPLITS.get(usage, normalize_split(usage) if usage else "")
        if split is None:
            raise DatasetFormatError(
                f"{path} row {line}: Usage {usage!r} is not one of Training, PublicTest, "
                "PrivateTest (or train/test/val)."
            )
        splits.append(split)
    return FaceDataset(
        images=np.stack(images),
        labels=np.asarray(labels, dtype=object),
        splits=np.asarray(splits, dtype=object),
        usages=np.asarray(usages, dtype=object),
        sources=np.asarray([f"{path}:row {line}" for line in rows], dtype=object),
        name=str(path),
    )
