"""Datasets listed in a labels file: a CSV or TSV of image paths and labels.

The same reading core (:func:`build_dataset`) serves the generic labels file
and every downloadable layout in :mod:`._layouts`: rows are parsed and checked
first (bad rows, duplicates and conflicting labels are errors before any image
is read), then each listed file is decoded once through
:func:`~fer_classic.data._images.decode_image`, cut to its face box if one is
given, passed through the face cropper if one is given (the largest face's
crop is kept, as ``predict`` cuts photos), and written into one preallocated
array.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._fileio import require_regular_file
from ..exceptions import (
    DatasetError,
    DatasetFormatError,
    DuplicateRowsWarning,
    ImageDecodeError,
    LabelMergeWarning,
    SkippedFilesWarning,
    SkippedRowsWarning,
    UnknownLabelError,
)
from .. import _resources
from ..labels import _key as _label_key
from ..labels import canonical_label, parse_label_map, warn_unused_keys
from ._dataset import FaceDataset, parse_split
from ._images import FaceSource, _warn_stretched, as_size, check_allocation, decode_image, list_sources

if TYPE_CHECKING:
    from ..detection import FaceCropper

__all__ = [
    "BOX_COLUMNS",
    "COLUMN_SPELLINGS",
    "LabelledImage",
    "build_dataset",
    "crop_box",
    "listed_images",
    "load_labels_file",
    "read_header_fields",
]

#: Header spellings recognised for each column role (compared lower-case with
#: spaces, ``-`` and ``_`` removed). ``image`` and ``label`` are required.
COLUMN_SPELLINGS: dict[str, tuple[str, ...]] = {
    "image": ("image", "path", "file", "filename", "img", "imagepath", "imagefile", "imagename", "filepath"),
    "label": ("label", "emotion", "expression", "class", "emotionlabel", "category"),
    "split": ("split", "usage", "set", "subset", "partition"),
    "subject": ("subject", "person", "identity", "id", "subjectid", "personid", "participant"),
}

#: Face-box column sets: ``("xywh", names)`` give the top-left corner, width and
#: height; ``("corners", names)`` the top-left and bottom-right corners, in
#: pixels of the upright image.
BOX_COLUMNS: tuple[tuple[str, tuple[str, str, str, str]], ...] = (
    ("xywh", ("x", "y", "w", "h")),
    ("xywh", ("x", "y", "width", "height")),
    ("xywh", ("facex", "facey", "facewidth", "faceheight")),
    ("xywh", ("facex", "facey", "facew", "faceh")),
    ("xywh", ("boxx", "boxy", "boxwidth", "boxheight")),
    ("xywh", ("boxx", "boxy", "boxw", "boxh")),
    ("corners", ("x1", "y1", "x2", "y2")),
    ("corners", ("left", "top", "right", "bottom")),
    ("corners", ("xmin", "ymin", "xmax", "ymax")),
)

#: Longest line of a labels file: a path and a few short fields (AffectNet's
#: rows with 68 landmarks take about 1 KB).
LINE_LIMIT = 1 << 16

_ROLES = ("image", "label", "split", "subject", "box", "corners")


@dataclass(frozen=True)
class LabelledImage:
    """One image (or one face of an image) listed by a labels file.

    Parameters
    ----------
    path : Path
        The image file.
    label : str
        Canonical label.
    where : str
        The row that lists it (``"labels.csv row 3"``), for messages.
    split, usage, subject : str
        As the FaceDataset fields of the same names; ``""`` when unknown.
    box : (x, y, width, height) or None
        Face box in pixels of the upright image; None for the whole image.
    source : str
        How ``dataset.sources`` names it; default the path (with the box).
    """

    path: Path
    label: str
    where: str
    split: str = ""
    usage: str = ""
    subject: str = ""
    box: tuple[int, int, int, int] | None = None
    source: str = ""

    def name(self) -> str:
        if self.source:
            return self.source
        return str(self.path) if self.box is None else f"{self.path}#box={','.join(map(str, self.box))}"


def _norm(name: str) -> str:
    return "".join(ch for ch in str(name).strip().lower() if ch.isalnum())


# --------------------------------------------------------------------------- reading text


def _open_text(path: Path) -> io.TextIOBase:
    # utf-8-sig drops a byte-order mark; newline="" lets csv handle CRLF.
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _bounded(handle: io.TextIOBase, path: Path, limit: int) -> Iterator[str]:
    """Physical lines, none read beyond ``limit`` characters (a gigabyte line is refused, not read)."""
    number = 0
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit:
            raise DatasetFormatError(
                f"{path} line {number}: longer than {limit:,} characters; a labels file row holds an "
                "image path and a few fields. Fix or remove that line."
            )
        yield line


def text_rows(path: Path, delimiter: str | None, limit: int = LINE_LIMIT) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of each non-blank row; ``delimiter=None`` splits on whitespace.

    Raises
    ------
    DatasetFormatError
        For text that is not UTF-8, malformed quoting, an over-long line or
        damaged gzip data (file and line named).
    """
    with _open_text(path) as handle:
        lines = _bounded(handle, path, limit)
        number = 0
        try:
            if delimiter is None:
                for number, line in enumerate(lines, 1):
                    if line.strip():
                        yield number, line.split()
                return
            reader = csv.reader(lines, delimiter=delimiter)
            for fields in reader:
                number = reader.line_num
                if any(cell.strip() for cell in fields):
                    yield number, fields
        except UnicodeDecodeError as exc:
            raise DatasetFormatError(
                f"{path} near line {number + 1}: not UTF-8 text ({exc.reason}); save it as UTF-8."
            ) from None
        except csv.Error as exc:
            raise DatasetFormatError(f"{path} line {number + 1}: malformed CSV ({exc}); fix that line.") from None
        except (EOFError, OSError) as exc:
            raise DatasetFormatError(f"{path}: damaged or truncated data ({exc}); download it again.") from None


def first_cells(path: Path, delimiter: str) -> list[str]:
    """The first cell of each non-blank row, stripped, the header's included: for the output checks.

    AffectNet's image paths lead rows of some 1,000 characters of landmarks, whose csv parsing took
    0.4 s for 28,709 rows; the text before the first delimiter takes 0.07 s. A file with a line
    that opens a quoted cell is parsed with :func:`text_rows` as a whole. A quoted cell spanning
    lines (never AffectNet's) only adds cells that name no image.

    Raises
    ------
    DatasetFormatError
        As :func:`text_rows`: text that is not UTF-8, an over-long line, damaged gzip data.
    """
    try:
        with _open_text(path) as handle:
            lines = list(_bounded(handle, path, LINE_LIMIT))
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8.") from None
    except (EOFError, OSError) as exc:
        raise DatasetFormatError(f"{path}: damaged or truncated data ({exc}); download it again.") from None
    if any(line.startswith('"') for line in lines):
        return [fields[0].strip() for _, fields in text_rows(path, delimiter)]
    return [line.split(delimiter, 1)[0].strip() for line in lines if line.strip()]


def _delimiter(path: Path, first_line: str) -> str:
    if "\t" in first_line or path.name.lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    if ";" in first_line and "," not in first_line:
        return ";"
    return ","


def not_gzip(path: Path) -> DatasetFormatError:
    """The error for a ``.gz`` file whose content is not gzip data."""
    return DatasetFormatError(f"{path} is not gzip data, despite its .gz suffix; rename it without .gz if it is "
                              "plain text, or compress it again.")


def read_header_fields(path: str | os.PathLike) -> tuple[str, list[str]]:
    """The delimiter and header fields of a CSV/TSV file, reading only its first line.

    Raises
    ------
    DatasetError
        If the file is missing, not a regular file or empty.
    DatasetFormatError
        If the first line is not UTF-8 text or is over-long.
    """
    path = Path(path)
    require_regular_file(path, what="Labels file", error=DatasetError)
    try:
        with _open_text(path) as handle:
            first = next(_bounded(handle, path, LINE_LIMIT), "")
    except gzip.BadGzipFile:
        raise not_gzip(path) from None
    except UnicodeDecodeError as exc:
        # The reader decodes the file's first block at once: the bad byte may lie lines further on.
        line = exc.object[: exc.start].count(b"\n") + 1
        raise DatasetFormatError(f"{path} near line {line}: not UTF-8 text ({exc.reason}); save it as UTF-8.") from None
    except (EOFError, OSError) as exc:
        raise DatasetFormatError(f"{path} line 1: cannot be read ({exc}).") from None
    if not first.strip():
        raise DatasetError(f"{path} is empty or starts with a blank line; expected a header such as 'image,label'.")
    delimiter = _delimiter(path, first)
    return delimiter, next(csv.reader([first], delimiter=delimiter))


# --------------------------------------------------------------------------- columns


def _find(header: list[str], name: str) -> int | None:
    exact = [i for i, h in enumerate(header) if h.strip() == name]
    if exact:
        return exact[0]
    loose = [i for i, h in enumerate(header) if _norm(h) == _norm(name)]
    return loose[0] if loose else None


def resolve_columns(
    header: list[str], path: Path, columns: Mapping[str, object] | None = None
) -> dict[str, object]:
    """Column index of each role (``image``, ``label``, ``split``, ``subject``) and of the box.

    Returns
    -------
    dict
        Role → column index; ``"box"`` → ``(kind, (i_x, i_y, i_w, i_h))`` when
        face-box columns are present.

    Raises
    ------
    DatasetError
        If ``columns`` names an unknown role.
    DatasetFormatError
        If a named column is not in the header, a role matches several columns,
        or the image or label column is missing (the header and the accepted
        spellings are named).
    """
    columns = dict(columns or {})
    unknown = set(columns) - set(_ROLES)
    if unknown:
        raise DatasetError(f"columns= has unknown role(s) {sorted(unknown)}; the roles are {', '.join(_ROLES)}.")
    result: dict[str, object] = {}

    def given(name: object, role: str) -> int:
        index = _find(header, str(name))
        if index is None:
            raise DatasetFormatError(f"{path}: columns={{{role!r}: {name!r}}}, but the header is {header!r}.")
        return index

    for role, spellings in COLUMN_SPELLINGS.items():
        if role in columns:
            result[role] = given(columns[role], role)
            continue
        found = [i for i, h in enumerate(header) if _norm(h) in spellings]
        if len(found) > 1:
            names = [header[i] for i in found]
            raise DatasetFormatError(
                f"{path}: columns {names} could each be the {role} column; rename all but one in the header, "
                f"or in Python, load_dataset(path, columns={{{role!r}: {names[0]!r}}})."
            )
        if found:
            result[role] = found[0]
    for role in ("box", "corners"):
        if role in columns:
            names = columns[role]
            if isinstance(names, str):
                names = [n for n in names.replace(";", ",").split(",") if n.strip()]
            if len(names) != 4:
                raise DatasetError(f"columns={{{role!r}: ...}} needs four column names; got {names!r}.")
            result["box"] = ("xywh" if role == "box" else "corners", tuple(given(n, role) for n in names))
    if "box" not in result:
        normed = [_norm(h) for h in header]
        matches = [(kind, names) for kind, names in BOX_COLUMNS if all(n in normed for n in names)]
        if len(matches) > 1:
            raise DatasetFormatError(
                f"{path}: several face-box column sets match the header ({[m[1] for m in matches]}); rename "
                "all but one set in the header, or in Python, load_dataset(path, columns={'box': (x, y, w, h)}) "
                "or columns={'corners': (x1, y1, x2, y2)}."
            )
        if matches:
            kind, names = matches[0]
            result["box"] = (kind, tuple(normed.index(n) for n in names))
    missing = [role for role in ("image", "label") if role not in result]
    if missing:
        raise DatasetFormatError(
            f"{path}: header {header!r} has no {' and no '.join(missing)} column; rename the header cell(s) to "
            "one of "
            + "; ".join(f"{role}: {', '.join(COLUMN_SPELLINGS[role])}" for role in missing)
            + ", or in Python, load_dataset(path, columns={'image': ..., 'label': ...}) (a file with a 'pixels' "
            "column is read as fer2013.csv)."
        )
    return result


def parse_box(cells: Sequence[str], kind: str, where: str) -> tuple[int, int, int, int] | None:
    """``(x, y, width, height)`` from four cells (``xywh`` or ``corners``); None when all are empty."""
    if not any(c.strip() for c in cells):
        return None
    try:
        values = [float(c) for c in cells]
    except ValueError:
        raise DatasetFormatError(f"{where}: face box {list(cells)!r} is not four numbers; fix the row.") from None
    if not all(math.isfinite(v) for v in values):
        raise DatasetFormatError(f"{where}: face box {list(cells)!r} is not finite; fix the row.")
    x, y, a, b = (int(round(v)) for v in values)
    w, h = (a, b) if kind == "xywh" else (a - x, b - y)
    if w <= 0 or h <= 0:
        order = "x, y, width, height" if kind == "xywh" else "x1, y1, x2, y2"
        raise DatasetFormatError(
            f"{where}: face box {list(cells)!r} ({order}) gives a {w}x{h} region; "
            "width and height must be positive."
        )
    return x, y, w, h


def _portable(cell: str) -> str:
    """A path cell as this system spells it (Windows separators accepted)."""
    text = cell.strip()
    return text.replace("\\", "/") if os.sep == "/" else text


def resolve_path(cell: str, base: Path) -> Path:
    """A listed path, relative to ``base`` unless absolute (Windows separators accepted)."""
    path = Path(_portable(cell))
    return path if path.is_absolute() else base / path


class LabelReader:
    """Label cells → canonical labels, each distinct spelling parsed once; reports spellings folded together."""

    def __init__(self, label_map: Mapping[str, str] | None = None, codes: Mapping[str, str] | None = None) -> None:
        self.label_map = label_map
        self.codes = codes
        self.known: dict[str, str] = {}

    def __call__(self, text: str, where: str) -> str:
        text = text.strip()
        if text not in self.known:
            if not text:
                raise DatasetFormatError(f"{where}: the label is empty; fill it in or remove the row.")
            try:
                if self.codes is not None and (self.label_map is None or text not in self.label_map):
                    key = _code_key(text)
                    if key not in self.codes:
                        raise UnknownLabelError(
                            f"label {text!r} is not one of this layout's codes "
                            f"({', '.join(f'{k}={v}' for k, v in self.codes.items())})."
                        )
                    self.known[text] = self.codes[key]
                else:
                    self.known[text] = canonical_label(text, self.label_map)
            except UnknownLabelError as exc:
                raise UnknownLabelError(f"{where}: {exc}") from None
        return self.known[text]

    def warn_merged(self, path: Path, stacklevel: int = 3) -> None:
        """LabelMergeWarning when different spellings (``anger``, ``angry``) fold into one label."""
        if self.codes is None:  # a layout's codes are its own numbering: no spellings to fold
            warn_merged_spellings(self.known, path, stacklevel=stacklevel + 1)


def warn_merged_spellings(known: Mapping[str, str], path: Path, stacklevel: int = 3) -> None:
    """LabelMergeWarning when label cells spelled differently (``anger``, ``angry``, ``0``) fold into one label.

    ``known`` maps each distinct cell of ``path`` to its canonical label;
    cells equal as labels are compared (``"4"`` and ``"4.0"`` are one).
    """
    by_label: dict[str, set[str]] = {}
    spelled: dict[str, str] = {}
    for text, label in known.items():
        spelled.setdefault(_label_key(text), text.strip())
        by_label.setdefault(label, set()).add(_label_key(text))
    merged = [
        f"{', '.join(sorted((spelled[k] for k in keys), key=str.lower))} -> {label}"
        for label, keys in by_label.items()
        if len(keys) > 1
    ]
    if merged:
        warnings.warn(
            f"Labels in {path} spelled differently fold into one label and are merged: {'; '.join(merged)}. "
            "Fix the file or the label map if they are different classes.",
            LabelMergeWarning,
            stacklevel=stacklevel,
        )


def _code_key(text: str) -> str:
    """``"3"``, ``"3.0"`` and ``"3.0000000e+00"`` are one code; other codes compare as upper-case text."""
    try:
        value = float(text)
    except ValueError:
        return text.strip().upper()
    return str(int(value)) if value.is_integer() else text.strip()


# --------------------------------------------------------------------------- reading images


def crop_box(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """The ``(x, y, width, height)`` region of ``image``, its border repeated where the box leaves it.

    Returns None when the box lies wholly outside the image, or leaves it on
    some side by more than the image's size there: such a box (coordinates in
    other units, another image's) would be mostly repeated border, and the
    padded copy could exhaust memory.
    """
    height, width = image.shape[:2]
    x0, y0, w, h = box
    x1, y1 = x0 + w, y0 + h
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        return None
    pad = [(max(0, -y0), max(0, y1 - height)), (max(0, -x0), max(0, x1 - width))]
    if max(pad[0]) > height or max(pad[1]) > width:
        return None
    region = image[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
    if not any(a or b for a, b in pad):
        return region
    return np.pad(region, pad + [(0, 0)] * (image.ndim - 2), mode="edge")


def _drop_duplicates(entries: list[LabelledImage], stacklevel: int) -> list[LabelledImage]:
    """Entries with repeated rows removed; conflicting rows are a DatasetError naming both."""
    first: dict[tuple[str, object], LabelledImage] = {}
    kept: list[LabelledImage] = []
    repeats: list[str] = []
    conflicts: list[str] = []
    for entry in entries:
        # Absolute, so a file listed once relative to the labels file and once in full is one image
        # (string work only: resolving each path's links took 0.74 s on FER2013's 28,709).
        key = (os.path.abspath(entry.path), entry.box)
        seen = first.get(key)
        if seen is None:
            first[key] = entry
            kept.append(entry)
            continue
        differs = [
            f"{attr} {getattr(seen, attr)!r} vs {getattr(entry, attr)!r}"
            for attr in ("label", "split", "subject")
            if getattr(seen, attr) != getattr(entry, attr)
        ]
        if differs:
            conflicts.append(f"{entry.name()}: {seen.where} and {entry.where} ({'; '.join(differs)})")
        else:
            repeats.append(f"{entry.name()} ({seen.where} and {entry.where})")
    if conflicts:
        raise DatasetError(
            f"{len(conflicts)} image(s) are listed twice with different labels, splits or subjects; keep "
            "one row for each: " + list_sources(conflicts)
        )
    if repeats:
        warnings.warn(
            f"{len(repeats)} row(s) repeat an earlier row exactly and were read once: " + list_sources(repeats),
            DuplicateRowsWarning,
            stacklevel=stacklevel + 1,
        )
    return kept


def warn_skipped_rows(skipped_rows: Mapping[str, list[str]], path: Path, stacklevel: int) -> None:
    """One SkippedRowsWarning counting each reason and naming the first rows."""
    counts = {reason: rows for reason, rows in skipped_rows.items() if rows}
    if counts:
        total = sum(len(rows) for rows in counts.values())
        warnings.warn(
            f"{total} row(s) of {path} carry no usable emotion label and were skipped: "
            + "; ".join(f"{len(rows)} {reason} (e.g. {', '.join(rows[:3])})" for reason, rows in counts.items()),
            SkippedRowsWarning,
            stacklevel=stacklevel + 1,
        )


def build_dataset(
    entries: list[LabelledImage],
    *,
    size: tuple[int, int],
    name: str,
    n_jobs: int | None = None,
    stacklevel: int = 2,
    cropper: FaceCropper | None = None,
) -> FaceDataset:
    """Read the listed images (each file decoded once) into a FaceDataset.

    Parameters
    ----------
    entries : list of LabelledImage
        Already parsed and checked rows.
    size : (height, width)
    name : str
        The dataset's name (the labels file or layout root).
    n_jobs : int, optional
        Decoding threads; None or -1 uses every core.
    stacklevel : int
        Where the warnings point (the caller of the public loader).
    cropper : FaceCropper, optional
        Keep the largest face's crop of each image (after its face box, if
        the row gives one); images without a face are skipped with a reason
        starting ``"no face"``. None: the whole image (or box) is resized.

    Raises
    ------
    DatasetError
        If there are no entries, an image is listed twice with different labels
        (both rows named) or no listed image can be read.
    ImageSizeError
        If the images would not fit in memory (before reading), or the
        cropper's ``output_shape`` is not ``size``.
    """
    source = FaceSource(size, cropper)
    if not entries:
        raise DatasetError(f"{name} lists no labelled image.")
    entries = _drop_duplicates(entries, stacklevel + 1)
    n = len(entries)
    check_allocation(n, size, f"Loading {n:,} images listed by {name}")
    out = np.empty((n, *size), dtype=np.uint8)
    ok = np.zeros(n, dtype=bool)
    by_path: dict[Path, list[int]] = {}
    for i, entry in enumerate(entries):
        by_path.setdefault(entry.path, []).append(i)
    paths = list(by_path)
    skipped: list[tuple[str, str]] = []
    stretched: list[tuple[str, str]] = []

    def work(path: Path) -> None:
        try:
            image = decode_image(path)
        except ImageDecodeError as exc:
            rows = ", ".join(entries[i].where for i in by_path[path][:3])
            skipped.append((str(path), f"{exc} (listed at {rows})"))
            return
        for i in by_path[path]:
            entry = entries[i]
            face = image if entry.box is None else crop_box(image, entry.box)
            if face is None:
                skipped.append((entry.name(), (
                    f"{entry.where}: face box {entry.box} (x, y, width, height) lies outside the "
                    f"{image.shape[1]}x{image.shape[0]} image {path}, or beyond its edges by more than the "
                    "image's size; fix the row."
                )))
                continue
            converted, what = source.convert(face)
            if converted is None:
                skipped.append((entry.name(), source.no_face(f"{entry.name()} ({entry.where})")))
                continue
            if what:
                stretched.append((entry.name(), what))
            out[i] = converted
            ok[i] = True

    # OpenCV releases the GIL while decoding, so threads scale without copying data.
    workers = _resources.workers(n_jobs)
    if workers == 1 or len(paths) < 64:
        for path in paths:
            work(path)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, paths, chunksize=max(1, min(256, math.ceil(len(paths) / workers)))))
    skipped.sort()
    stretched.sort()
    if not ok.any():
        raise DatasetError(
            f"None of the {n} images listed by {name} could be read: {list_sources([r for _, r in skipped], 5)}"
        )
    if skipped:
        warnings.warn(
            f"{len(skipped)} of the {n} images listed by {name} were skipped (a file missing or undecodable, a "
            "face box outside its image, or no face found; files left untouched, all in dataset.skipped): "
            + list_sources([r for _, r in skipped]),
            SkippedFilesWarning,
            stacklevel=stacklevel + 1,
        )
    if stretched:
        _warn_stretched(stretched, stacklevel=stacklevel + 1)
    kept = [entry for entry, good in zip(entries, ok) if good]

    def column(attr: str) -> np.ndarray:
        return np.asarray([getattr(entry, attr) for entry in kept], dtype=object)

    return FaceDataset(
        images=out if ok.all() else out[ok],
        labels=column("label"),
        splits=column("split"),
        usages=column("usage"),
        sources=np.asarray([entry.name() for entry in kept], dtype=object),
        name=name,
        skipped=tuple(skipped),
        subjects=column("subject"),
        cropped=any(entry.box is not None for entry in kept),
    )


# --------------------------------------------------------------------------- the generic labels file


def listed_images(path: str | os.PathLike) -> list[str]:
    """The image files a labels file lists, relative ones from its folder, each once, as strings.

    Only the image column is read (no label checked, no image opened), so a
    command can refuse an output that is one of the user's images before
    loading them; a row the loader will refuse (too short, empty path) is
    passed over here and reported by :func:`load_labels_file`.

    Raises
    ------
    DatasetError, DatasetFormatError
        As :func:`load_labels_file` for an unreadable file or a missing image column.
    """
    path = Path(path)
    delimiter, header = read_header_fields(path)
    column = resolve_columns(header, path, None)["image"]
    rows = text_rows(path, delimiter)
    next(rows, None)  # the header
    # Strings joined as resolve_path joins them: pathlib's parsing of 30,000 paths took 0.6 s of 0.8.
    # A dict keeps the first listing of each, in file order.
    base = os.fspath(path.parent)
    return list(dict.fromkeys(os.path.join(base, _portable(row[column])) for _, row in rows
                              if len(row) > column and row[column].strip()))


def load_labels_file(
    path: str | os.PathLike,
    *,
    size: int | tuple[int, int] = 48,
    columns: Mapping[str, object] | None = None,
    label_map: Mapping[str, str] | str | None = None,
    image_root: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    cropper: FaceCropper | None = None,
) -> FaceDataset:
    """Load the images a CSV or TSV labels file lists.

    Parameters
    ----------
    path : path
        A ``.csv``/``.tsv`` (optionally ``.gz``) file with a header row; the
        delimiter (comma, tab or semicolon) is taken from the header. Columns
        are recognised by their names (case, spaces, ``-`` and ``_`` ignored):

        - image (required): image, path, file, filename, img, image_path, image_file, image_name, filepath
        - label (required): label, emotion, expression, class, emotion_label, category
        - split: split, usage, set, subset, partition (train/test/val spellings
          or FER2013's Training/PublicTest/PrivateTest)
        - subject: subject, person, identity, id, subject_id, person_id, participant
        - face box, x/y/width/height: ``x,y,w,h``, ``x,y,width,height``,
          ``face_x,face_y,face_width,face_height``, ``face_x,face_y,face_w,face_h``,
          ``box_x,box_y,box_w(idth),box_h(eight)``; or corners: ``x1,y1,x2,y2``,
          ``left,top,right,bottom``, ``xmin,ymin,xmax,ymax``.
    size : int or (height, width), default=48
        Geometry every image (or face box) is converted to (grayscale).
    columns : mapping, optional
        Role → column name, overriding the recognised names: ``image``,
        ``label``, ``split``, ``subject``, and ``box`` (four names, x, y,
        width, height) or ``corners`` (four names, x1, y1, x2, y2).
    label_map : mapping or str, optional
        Label value → label for numbered classes (``{"0": "angry"}`` or
        ``"0=angry,1=happy"``); other values must be label spellings
        (``anger``, ``HAPPINESS``... matched case-insensitively).
    image_root : path, optional
        Folder relative paths start from; default the labels file's folder.
    n_jobs : int, optional
        Decoding threads.
    cropper : FaceCropper, optional
        Cut each image (or its face box) to its largest face, as ``predict``
        does; images without a face are skipped (reason ``"no face"...``).
        None: each whole image (or box) is resized.

    Returns
    -------
    FaceDataset
        In row order. With a face box, the box is cut out (the image's border
        repeated where the box leaves it) before resizing and ``cropped`` is
        True; ``sources`` then name the box (``path#box=x,y,w,h``). Missing or
        undecodable files are skipped, listed in ``skipped`` with their rows
        and warned about (:class:`~fer_classic.exceptions.SkippedFilesWarning`).
        Rows repeated exactly are read once with a
        :class:`~fer_classic.exceptions.DuplicateRowsWarning`; spellings that
        fold into one label give a :class:`~fer_classic.exceptions.LabelMergeWarning`.

    Raises
    ------
    DatasetError
        If the file is missing, empty or has no data rows, or an image (and
        box) is listed twice with different labels, splits or subjects (both
        rows named). All rows are checked before any image is read.
    DatasetFormatError
        If the image or label column cannot be found, a row is short, or a
        split, box or path cell is malformed (file and row named).
    UnknownLabelError
        If a label is neither in ``label_map`` nor a known spelling (row named).
    """
    path = Path(path)
    size = as_size(size)
    label_map = parse_label_map(label_map)  # a mapping is checked as the text is
    delimiter, header = read_header_fields(path)
    cols = resolve_columns(header, path, columns)
    base = Path(image_root) if image_root is not None else path.parent
    read_label = LabelReader(label_map)
    needed = max(i for value in cols.values() for i in (value[1] if isinstance(value, tuple) else (value,)))
    entries: list[LabelledImage] = []
    rows = text_rows(path, delimiter)
    next(rows, None)  # the header
    for line, row in rows:
        where = f"{path} row {line}"
        if len(row) <= needed:
            raise DatasetFormatError(
                f"{where}: {len(row)} fields, but the columns used need {needed + 1}; fix the row."
            )
        image = row[cols["image"]].strip()
        if not image:
            raise DatasetFormatError(f"{where}: the image path is empty; fill it in or remove the row.")
        split, usage = parse_split(row[cols["split"]], where) if "split" in cols else ("", "")
        box = None
        if "box" in cols:
            kind, indices = cols["box"]
            box = parse_box([row[i] for i in indices], kind, where)
        entries.append(LabelledImage(
            path=resolve_path(image, base),
            label=read_label(row[cols["label"]], where),
            where=where,
            split=split,
            usage=usage,
            subject=row[cols["subject"]].strip() if "subject" in cols else "",
            box=box,
        ))
    if not entries:
        raise DatasetError(f"Labels file {path} has a header but no data rows.")
    read_label.warn_merged(path, stacklevel=3)
    warn_unused_keys(label_map, read_label.known, path)
    return build_dataset(entries, size=size, name=str(path), n_jobs=n_jobs, stacklevel=2, cropper=cropper)
