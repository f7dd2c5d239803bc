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
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from .._fileio import require_regular_file
from ..exceptions import DatasetError, DatasetFormatError, UnknownLabelError, UnmappedIdsWarning
from ..labels import _key as _label_key
from ..labels import FER2013_LABELS, canonical_label, fer2013_label, integral_text, parse_label_map, warn_unused_keys
from ._dataset import FaceDataset, parse_split
from ._images import as_size, check_allocation, resize_gray
from ._labels_file import not_gzip, read_header_fields, warn_merged_spellings

__all__ = ["load_fer2013_csv"]


#: Longest line read before the first row fixes the image size: rows of up to
#: 512x512 pixels ("255 " is 4 characters a pixel), plus the other fields.
_FIRST_LINE_LIMIT = 4 * 512 * 512 + 1024
_ROWS_PER_MEMORY_CHECK = 4096


def _line_limit(side: int) -> int:
    """Longest line a row of ``side`` x ``side`` pixels may take (~19 KB for FER2013's 48 x 48).

    Twice the ~10 KB of single spaces ("255 " is 4 characters a pixel): rows
    written with two spaces, or tabs, between pixels still parse.
    """
    return 8 * side * side + 1024


def _open_text(path: Path) -> io.TextIOBase:
    # utf-8-sig drops a byte-order mark; newline="" lets csv handle CRLF.
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


class _BoundedLines:
    """A text file's physical lines, none read beyond ``limit`` characters.

    ``csv.reader`` pulls whole lines from its input, so a line of a gigabyte
    would be read whole before any check; here a line (or a record spanning
    lines) longer than ``limit`` is refused after reading ``limit`` characters.
    ``record_start`` is the line where the record being read began.
    """

    def __init__(self, handle: io.TextIOBase, path: Path, limit: int) -> None:
        self.handle, self.path, self.limit = handle, path, limit
        self.line = 0
        self.record_start = 1
        self._record_chars = 0

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        text = self.handle.readline(self.limit + 1)
        if not text:
            raise StopIteration
        self.line += 1
        self._record_chars += len(text)
        if self._record_chars > self.limit:
            spans = "" if self.line == self.record_start else f" (to line {self.line}: is a quote left open?)"
            raise DatasetFormatError(
                f"{self.path} line {self.record_start}: the record is longer than {self.limit:,} characters"
                f"{spans}; FER2013 rows of 48x48 pixels take about 10 KB. Fix or remove that line."
            )
        return text

    def next_record(self) -> None:
        """Mark the end of a record: the next one starts on the next line."""
        self.record_start, self._record_chars = self.line + 1, 0


def _records(path: Path, lines_limit: list[int], delimiter: str = ",") -> Iterator[tuple[int, int, list[str]]]:
    """``(first line, last line, fields)`` of each CSV record.

    ``lines_limit[0]`` is the longest record allowed; the caller may lower it
    once the image size is known. Undecodable text, malformed quoting,
    over-long lines and damaged gzip data become :class:`DatasetFormatError`
    naming the file and the line where the bad record starts.
    """
    with _open_text(path) as handle:
        lines = _BoundedLines(handle, path, lines_limit[0])
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            for fields in reader:
                yield lines.record_start, lines.line, fields
                lines.limit = lines_limit[0]
                lines.next_record()
        except UnicodeDecodeError as exc:
            raise DatasetFormatError(
                f"{path} near line {lines.line + 1}: not UTF-8 text ({exc.reason}); "
                "save the CSV as UTF-8 (FER2013's own file is ASCII)."
            ) from None
        except csv.Error as exc:
            raise DatasetFormatError(
                f"{path} line {lines.record_start}: malformed CSV ({exc}); fix or remove that line."
            ) from None
        except gzip.BadGzipFile:
            raise not_gzip(path) from None
        except (EOFError, zlib.error) as exc:
            raise DatasetFormatError(
                f"{path}: damaged or truncated gzip data ({exc}); download or compress it again."
            ) from None


def _bad_token(tokens: list[str]) -> int | None:
    """The index of the first of ``tokens`` that is not an integer 0..255 (``-0`` and ``+7`` are), else None."""
    for i, token in enumerate(tokens):
        digits = token[1:] if token[:1] in "+-" else token
        if not (digits.isascii() and digits.isdigit()) or (token[0] == "-" and int(digits)) or int(digits) > 255:
            return i
    return None


def _bad_pixel(text: str) -> str:
    """The first token of ``text`` that is not an integer 0..255, and its position."""
    tokens = text.split()
    i = _bad_token(tokens)
    if i is not None:
        token = tokens[i]
        shown = token if len(token) <= 24 else token[:21] + "..."
        return f"pixel {i + 1} of {len(tokens)} is {shown!r}"
    return f"{text[:24]!r}"  # numpy could not read it whole, though each token is a pixel value (odd whitespace)


# FER2013's own pixel strings hold ASCII digits and spaces only, which np.fromstring always reads to the end.
_PLAIN_PIXEL_CHARS = b"0123456789 "


def _plain_pixels(text: str) -> bool:
    """Whether ``text`` holds only ASCII digits and spaces (5 us a FER2013 row; a regular expression took 23)."""
    return text.isascii() and not text.encode("ascii").translate(None, _PLAIN_PIXEL_CHARS)


def _parse_pixels(text: str, where: str) -> np.ndarray:
    # np.fromstring's text mode is ~6x faster than str.split. What it cannot read to the end (a letter, a
    # comma, a decimal point) it parses in part, with a DeprecationWarning on older NumPy (a ValueError on
    # newer): so text other than digits and spaces is checked token by token first, and the values counted.
    # No warnings filter: catch_warnings around each row swapped the process-wide filters, so every other
    # thread's DeprecationWarning raised while a CSV loaded (and concurrent loads could leave it so).
    # int64: with int32 a value such as 4294967303 would wrap around to a valid 7.
    plain = _plain_pixels(text)
    values = None
    if plain or _bad_token(tokens := text.split()) is None:
        try:
            values = np.fromstring(text, dtype=np.int64, sep=" ")
        except ValueError:
            values = None
        if values is not None and not plain and values.size != len(tokens):
            values = None  # read in part (older NumPy): not the whole row
    if values is None or (values.size and (values.min() < 0 or values.max() > 255)):
        raise DatasetFormatError(
            f"{where}: pixels must be space-separated integers 0..255; {_bad_pixel(text)}; fix or remove the row."
        )
    return values


def _warn_fer2013_ids(label_map: Mapping[str, str] | None, known: Mapping[str, str], path) -> None:
    """Warn when a map of some of the file's ids leaves others to FER2013's table: two numberings may be mixed.

    ``0=neutral,1=happy`` on ids 0..6 read ids 2..6 as FER2013's, so angry
    and disgust were gone and neutral and happy merged without a word. A map
    meant only to merge (``1=angry``) is warned about too: it cannot be told
    from a partial renumbering, and mapping every id silences it. Entries
    keeping FER2013's table (``3=happy``, ``7=contempt``) renumber nothing.
    """
    if not label_map:
        return
    mapped = {_label_key(key) for key in label_map}
    ids = {text: label for text, label in known.items() if _label_key(text).isdigit()}
    fell = {int(_label_key(text)): label for text, label in ids.items() if _label_key(text) not in mapped}
    renumbered = any(_label_key(text) in mapped and not _is_fer2013(int(_label_key(text)), label)
                     for text, label in ids.items())  # 3=happy or 7=contempt is FER2013's numbering still
    if fell and renumbered:
        warnings.warn(
            f"{path}: emotion id(s) {', '.join(map(str, sorted(fell)))} are not in the label map and were read as "
            f"FER2013's ({', '.join(f'{i}={fell[i]}' for i in sorted(fell))}); add them to --label-map if the "
            "file numbers its classes its own way.", UnmappedIdsWarning, stacklevel=3)


def _is_fer2013(emotion_id: int, label: str) -> bool:
    """Whether ``emotion_id=label`` keeps FER2013's table: its own label, or a class beyond it (``7=contempt``)."""
    if emotion_id < len(FER2013_LABELS):
        return FER2013_LABELS[emotion_id] == label
    return label not in FER2013_LABELS  # 7=neutral (RAF-DB's numbering) moves neutral off id 6


def _parse_label(text: str, where: str, label_map: Mapping[str, str] | None) -> str:
    raw = text.strip()
    text = integral_text(raw)  # "4.0", as pandas writes an emotion column read as floats
    try:
        if label_map is not None:
            try:
                return canonical_label(text, label_map)
            except UnknownLabelError:
                if not text.lstrip("-").isdigit():
                    raise
        if text.lstrip("-").isdigit() and raw.startswith("-") and int(text) == 0:
            # int("-0") is 0: a negative zero is no id, as -1 is not (fer2013_label refuses that one).
            raise UnknownLabelError(f"FER2013 emotion id {raw!r} has a minus sign; ids are 0..6 without one "
                                    "(0=angry); fix the row.")
        return fer2013_label(int(text)) if text.lstrip("-").isdigit() else canonical_label(text)
    except UnknownLabelError as exc:
        raise UnknownLabelError(f"{where}: {exc}") from None


def _unasked_merges(known: dict[str, str], label_map: Mapping[str, str] | None) -> dict[str, str]:
    """``known`` with the cells that label map keys fold into one label joined as one spelling.

    parse_label_map warned already of a merge the map's own keys ask for
    (``0=angry,1=angry``); those cells together still count as one spelling
    beside a cell folding in without the map asking (``angry``).
    """
    if not label_map:
        return known
    keys = {_label_key(key) for key in label_map}
    asked: dict[str, dict[str, str]] = {}  # label → {cell as a label key: cell}
    for text, label in known.items():
        if _label_key(text) in keys:
            asked.setdefault(label, {}).setdefault(_label_key(text), text.strip())
    out: dict[str, str] = {}  # in the file's order, as the warning lists them
    for text, label in known.items():
        if _label_key(text) not in keys:
            out[text] = label
        elif label in asked:
            out[", ".join(sorted(asked.pop(label).values(), key=str.lower))] = label
    return out


def short_row_error(where: str, row: list, header: list) -> DatasetFormatError:
    """The error for a row of a CSV (named by ``where``) with fewer fields than its ``header``."""
    return DatasetFormatError(f"{where}: {len(row)} fields, header has {len(header)} ({', '.join(header)}); fill "
                              "in the missing field(s) or remove the row.")


def load_fer2013_csv(
    path: str | os.PathLike,
    *,
    size: int | tuple[int, int] | None = None,
    label_map: Mapping[str, str] | str | None = None,
) -> FaceDataset:
    """Load ``fer2013.csv`` (or ``.csv.gz``).

    Rows are streamed with a bounded line length, so memory holds the decoded
    uint8 images and no text frame, and a gigabyte line is refused after
    reading its first megabyte.

    Parameters
    ----------
    path : path
        CSV with a header naming ``emotion`` and ``pixels`` and optionally ``Usage``.
        ``emotion`` is a FER2013 id (0=angry 1=disgust 2=fear 3=happy 4=sad
        5=surprise 6=neutral) or a label name (``happy``, ``Happiness``...);
        ``pixels`` holds a square image's gray values in row-major order.
    size : int or (height, width), optional
        Resize to this geometry; default keeps the CSV's own (48x48 for FER2013).
        The rows are face crops already: no face cropper applies to them (a
        model's ``--crop`` policy cuts image files only, see
        :func:`fer_classic.load_dataset`).
    label_map : mapping or str, optional
        Emotion value → label, tried before the FER2013 ids and the label names
        (``{"0": "neutral", "1": "happy"}`` or ``"0=neutral,1=happy"``), for
        CSVs numbering their classes otherwise.

    Returns
    -------
    FaceDataset
        ``Usage`` Training → split ``train``; PublicTest and PrivateTest → split
        ``test``, told apart by ``usages``. Without a Usage column, one unsplit set.

    Raises
    ------
    DatasetError
        If the file is missing, not a regular file (a FIFO or device is never
        opened), empty or lacks the required columns.
    DatasetFormatError
        If a row's pixels are not integers 0..255 (the first bad value and its
        position are named) or not a square count, its count differs from the
        first row's, a line is longer than a row of that size can be
        (``4 * side**2 + 1024`` characters, 1 MiB before the first row), or
        quoting is malformed (the line where the record starts is named).
    UnknownLabelError
        If a row's emotion is not in ``label_map``, a known id or a name.
    ImageSizeError
        If ``size`` is invalid, or the images would not fit in memory.
    """
    path = Path(path)
    require_regular_file(path, what="CSV file", error=DatasetError)
    target = as_size(size) if size is not None else None
    label_map = parse_label_map(label_map)  # a mapping is checked as the text is
    images: list[np.ndarray] = []
    labels: list[str] = []
    usages: list[str] = []
    splits: list[str] = []
    rows: list[int] = []
    known_usages: dict[str, tuple[str, str]] = {}  # Usage text → (split, FER2013 usage)
    side = None
    known: dict[str, str] = {}  # emotion text → label, parsed once per distinct value
    limit = [_FIRST_LINE_LIMIT]
    csv.field_size_limit(max(csv.field_size_limit(), _FIRST_LINE_LIMIT))  # only ever raised
    try:  # as a labels file's: ';' from spreadsheets set to a decimal comma, tabs in .tsv
        delimiter = read_header_fields(path)[0]
    except DatasetError:  # empty or unreadable: the reader below says so in FER2013's terms
        delimiter = ","
    with contextlib.closing(_records(path, limit, delimiter)) as records:  # closes the file on an early error
        _, _, header = next(records, (0, 0, None))
        if header is None:
            raise DatasetError(f"CSV file {path} is empty; expected a header 'emotion,pixels,Usage'.")
        columns = {name.strip().lower(): i for i, name in enumerate(header)}
        repeated = sorted({name for name in ("emotion", "pixels", "usage")
                           if [cell.strip().lower() for cell in header].count(name) > 1})
        if repeated:
            raise DatasetFormatError(
                f"{path}: header {header!r} names column(s) {repeated} twice, so which one to read is unclear; "
                "rename or remove the extra column(s).")
        missing = {"emotion", "pixels"} - columns.keys()
        if missing:
            raise DatasetFormatError(
                f"{path}: header {header!r} lacks column(s) {sorted(missing)}; "
                "expected 'emotion,pixels,Usage' as in FER2013."
            )
        i_emotion, i_pixels, i_usage = columns["emotion"], columns["pixels"], columns.get("usage")
        # Empty header cells at the end (a spreadsheet's "emotion,pixels,Usage,") name no column a row must fill.
        named = len(header)
        while named and not header[named - 1].strip():
            named -= 1
        for line, last, row in records:
            if not row or not any(cell.strip() for cell in row):
                continue
            where = f"{path} row {line}"
            if last != line:
                raise DatasetFormatError(
                    f"{where}: the record runs on to line {last}, so a quote opened on line {line} is "
                    "not closed; fix that line (FER2013 fields never hold line breaks)."
                )
            if len(row) < named:
                raise short_row_error(where, row, header[:named])
            usage = row[i_usage] if i_usage is not None else ""
            if usage not in known_usages:  # checked before the row's pixels, once per distinct value
                known_usages[usage] = parse_split(usage, where, "Usage")  # any case: "publictest" too
            pixels = _parse_pixels(row[i_pixels], where)
            if side is None:
                side = math.isqrt(pixels.size)
                if side * side != pixels.size or side < 4:
                    raise DatasetFormatError(
                        f"{where}: {pixels.size} pixel values are not a square image "
                        "(FER2013 rows hold 2304 = 48x48); fix or remove the row."
                    )
                limit[0] = _line_limit(side)  # later lines are bounded by this row's size
            elif pixels.size != side * side:
                raise DatasetFormatError(
                    f"{where}: {pixels.size} pixel values, but earlier rows hold "
                    f"{side * side} ({side}x{side}); fix or remove the row."
                )
            n = len(images)
            if n % _ROWS_PER_MEMORY_CHECK == 0 or n & (n - 1) == 0:  # as the list doubles, then every 4096 rows
                check_allocation(min(max(n, 1), _ROWS_PER_MEMORY_CHECK), target or (side, side), f"Loading {path}")
            image = pixels.astype(np.uint8).reshape(side, side)
            images.append(resize_gray(image, target) if target else image)
            emotion = row[i_emotion]
            if emotion not in known:
                known[emotion] = _parse_label(emotion, where, label_map)
            labels.append(known[emotion])
            split, official = known_usages[usage]
            splits.append(split)
            usages.append(official or usage.strip())
            rows.append(line)
    if not images:
        raise DatasetError(f"CSV file {path} has a header but no data rows.")
    warn_unused_keys(label_map, known, path)
    _warn_fer2013_ids(label_map, known, path)
    # "3", "happy" and "Happiness"; an id a map folds into a FER2013 id's label (not a merge of the map's own keys)
    warn_merged_spellings(_unasked_merges(known, label_map), path, stacklevel=3)
    check_allocation(len(images), images[0].shape, f"Loading {path}")  # np.stack copies once
    return FaceDataset(
        images=np.stack(images),
        labels=np.asarray(labels, dtype=object),
        splits=np.asarray(splits, dtype=object),
        usages=np.asarray(usages, dtype=object),
        sources=np.asarray([f"{path}:row {line}" for line in rows], dtype=object),
        name=str(path),
    )
