"""The on-disk layouts of downloadable FER datasets, each recognised from its files.

RAF-DB, AffectNet, ExpW, FER+, CK+, JAFFE and KDEF are read as they unpack,
with their own label codes; every image goes through the one decoder via
:func:`~fer_classic.data._labels_file.build_dataset`. Each loader takes an
optional ``cropper`` (a :class:`~fer_classic.detection.FaceCropper`): each
image is then cut to its largest face as ``predict`` cuts photos, and images
without a face are skipped (reason ``"no face"...``). FER+'s
``fer2013new.csv`` reads FER2013's CSV pixels, which are taken as face crops
(see :func:`~fer_classic.data.load_fer2013_csv`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import warnings
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._fileio import require_regular_file
from ..exceptions import DatasetError, DatasetFormatError, SkippedFilesWarning, UnknownLabelError
from ..labels import canonical_label
from ._csv import load_fer2013_csv, short_row_error
from ._dataset import FaceDataset, folder_split, normalize_split, parse_split
from ._folder import is_hidden
from ._images import IMAGE_EXTENSIONS, as_size, list_sources
if TYPE_CHECKING:
    from ..detection import FaceCropper
from ._labels_file import (
    LabelledImage,
    LabelReader,
    _code_key,
    _norm,
    _portable,
    build_dataset,
    first_cells,
    parse_box,
    read_header_fields,
    resolve_path,
    text_rows,
    warn_skipped_rows,
)

__all__ = [
    "LAYOUTS",
    "detect_layout",
    "load_affectnet",
    "load_ckplus",
    "load_expw",
    "load_ferplus",
    "load_jaffe",
    "layout_inputs",
    "load_kdef",
    "load_layout",
    "load_rafdb",
]

#: RAF-DB basic emotion ids (``list_patition_label.txt``).
RAFDB_CODES = {"1": "surprise", "2": "fear", "3": "disgust", "4": "happy", "5": "sad", "6": "angry", "7": "neutral"}
#: AffectNet ``expression`` ids; 8-10 are not emotions (see AFFECTNET_NOT_EMOTIONS).
AFFECTNET_CODES = {
    "0": "neutral", "1": "happy", "2": "sad", "3": "surprise", "4": "fear", "5": "disgust", "6": "angry",
    "7": "contempt",
}
AFFECTNET_NOT_EMOTIONS = {"8": "'none' (8)", "9": "'uncertain' (9)", "10": "'no-face' (10)"}
#: ExpW ``label.lst`` expression ids.
EXPW_CODES = {"0": "angry", "1": "disgust", "2": "fear", "3": "happy", "4": "sad", "5": "surprise", "6": "neutral"}
#: CK+ ``*_emotion.txt`` codes.
CKPLUS_CODES = {
    "0": "neutral", "1": "angry", "2": "contempt", "3": "disgust", "4": "fear", "5": "happy", "6": "sad",
    "7": "surprise",
}
#: JAFFE file-name expression codes (``KA.AN1.39.tiff``).
JAFFE_CODES = {
    "AN": "angry", "DI": "disgust", "FE": "fear", "HA": "happy",
    "NE": "neutral", "SA": "sad", "SU": "surprise",
}
#: KDEF file-name expression codes (``AF01ANS.JPG``).
KDEF_CODES = {
    "AF": "fear", "AN": "angry", "DI": "disgust", "HA": "happy",
    "NE": "neutral", "SA": "sad", "SU": "surprise",
}
#: KDEF camera angles: straight, half left/right, full left/right profile.
KDEF_ANGLES = ("S", "HL", "HR", "FL", "FR")
#: FER+ vote columns, in ``fer2013new.csv`` order, and the label of each emotion column.
FERPLUS_VOTES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
_FERPLUS_LABELS = {
    "neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad", "anger": "angry",
    "disgust": "disgust", "fear": "fear", "contempt": "contempt",
}
#: FER+'s image folders → (split, FER2013 usage). FER2013Valid holds FER2013's PublicTest images, which are
#: test as fer2013new.csv's PublicTest rows are: both releases give one test set (PublicTest + PrivateTest).
_FERPLUS_FOLDERS = {"FER2013Train": ("train", "Training"), "FER2013Valid": ("test", "PublicTest"),
                    "FER2013Test": ("test", "PrivateTest")}
_AFFECTNET_HEADER = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
                     "facial_landmarks", "expression", "valence", "arousal")

_JAFFE_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})\d*\.\d+\.[A-Z0-9]+$", re.IGNORECASE)
_KDEF_NAME = re.compile(r"^([AB])([FM])(\d{2})(AF|AN|DI|HA|NE|SA|SU)(S|HL|HR|FL|FR)\.[A-Z0-9]+$", re.IGNORECASE)
_KDEF_FOLDER = re.compile(r"^[AB][FM]\d{2}$", re.IGNORECASE)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not is_hidden(p.name))


def _warn_ignored(ignored: list[Path], root: Path, pattern: str) -> None:
    if ignored:
        warnings.warn(
            f"{len(ignored)} image file(s) under {root} are not named as {pattern} and were ignored: "
            + list_sources([str(p) for p in ignored]),
            SkippedFilesWarning,
            stacklevel=4,
        )


# --------------------------------------------------------------------------- RAF-DB


#: RAF-DB's labels file as released ("patition") and as re-uploads and scripts spell it.
_RAFDB_LABEL_NAMES = ("list_patition_label.txt", "list_partition_label.txt")


def _rafdb_labels_file(root: Path) -> Path | None:
    """``root``'s ``EmoLabel/list_patition_label.txt`` (or the ``partition`` spelling), else None."""
    return next((f for f in (root / "EmoLabel" / n for n in _RAFDB_LABEL_NAMES) if f.is_file()), None)


def _rafdb_root(path: Path) -> Path | None:
    for root in (path, path / "basic"):
        if _rafdb_labels_file(root) is not None:
            return root
    return None


def load_rafdb(
    root: str | os.PathLike,
    *,
    size: int | tuple[int, int] = 48,
    images: str | None = None,
    n_jobs: int | None = None,
    cropper: FaceCropper | None = None,
) -> FaceDataset:
    """Load RAF-DB's basic-emotion set.

    Parameters
    ----------
    root : path
        The folder holding ``EmoLabel/list_patition_label.txt`` (or
        ``list_partition_label.txt``; lines
        ``train_00001.jpg 5``) and ``Image/aligned/`` (``train_00001_aligned.jpg``)
        or ``Image/original/``, or its parent holding ``basic/``.
        Ids: 1=surprise 2=fear 3=disgust 4=happiness 5=sadness 6=anger 7=neutral.
    size : int or (height, width), default=48
        Side of the square images, or ``(height, width)``, after loading (grayscale).
    images : {"aligned", "original"}, optional
        Which images to read; default aligned where ``Image/aligned/`` holds
        files, else original.
    n_jobs : int, optional
        Decoding threads; None or -1: all cores.
    cropper : FaceCropper, optional
        Cut each image to its largest face, as ``predict`` does; images without
        a face are skipped (reason ``"no face"...``). None: whole images resized.

    Returns
    -------
    FaceDataset
        Split ``train``/``test`` from the ``train_``/``test_`` name prefix.

    Raises
    ------
    DatasetError
        If the labels file or the chosen image folder is missing.
    DatasetFormatError
        If a line is not ``NAME ID`` or a name lacks the train_/test_ prefix.
    UnknownLabelError
        If an id is outside 1..7; ids 8..11, or a root named ``compound``, are
        named as RAF-DB's compound set, which is not read.
    """
    path = Path(root)
    size = as_size(size)
    found = _rafdb_root(path)
    if found is None:
        raise DatasetError(f"{path}: no EmoLabel/list_patition_label.txt (or list_partition_label.txt; RAF-DB "
                           "basic layout) found.")
    labels_file = _rafdb_labels_file(found)
    # Its ids 1..7 are compound emotions: read as basic ones they would pass. Said before asking for its images.
    if found.name.lower() == "compound":
        raise _rafdb_compound_error(str(labels_file))
    if images is None:  # aligned where its folder holds anything (an empty one is an unpacking left undone)
        images = "aligned" if _holds_files(found / "Image" / "aligned") else "original"
    if images not in ("aligned", "original"):
        raise DatasetError(f"RAF-DB images={images!r}; choose 'aligned' or 'original'.")
    folder = found / "Image" / images
    if not folder.is_dir():
        raise DatasetError(f"RAF-DB {images} images folder {folder} does not exist; unpack Image/{images}.zip there.")
    read_label = LabelReader(codes=RAFDB_CODES)
    entries = []
    for line, fields in text_rows(labels_file, None):
        where = f"{labels_file} line {line}"
        if len(fields) != 2:
            raise DatasetFormatError(f"{where}: expected 'train_00001.jpg 5' (name and id); got {' '.join(fields)!r}.")
        name, code = fields
        if _code_key(code) in _RAFDB_COMPOUND_ONLY:
            raise _rafdb_compound_error(f"{where}: id {code}")
        split = name.split("_", 1)[0].lower()
        if split not in ("train", "test"):
            raise DatasetFormatError(f"{where}: image name {name!r} does not start with train_ or test_.")
        entries.append(LabelledImage(folder / _rafdb_file(name, images), read_label(code, where), where, split=split))
    return build_dataset(entries, size=size, name=str(found), n_jobs=n_jobs, stacklevel=3, cropper=cropper)


#: Ids of RAF-DB's compound set (1..11) beyond the basic set's 1..7.
_RAFDB_COMPOUND_ONLY = {"8", "9", "10", "11"}


def _rafdb_compound_error(what: str) -> UnknownLabelError:
    return UnknownLabelError(
        f"{what}: this looks like RAF-DB's compound set (compound/EmoLabel, ids 1..11 such as 'happily "
        "surprised'), which fer-classic does not read: its classes are not the basic emotions. Point --data at "
        "RAF-DB's basic/ folder (ids 1..7) instead."
    )


def _rafdb_file(name: str, images: str) -> str:
    """The file of the labels file's ``name`` in ``Image/<images>/``: aligned faces end in ``_aligned``."""
    stem, suffix = os.path.splitext(name)
    return f"{stem}_aligned{suffix}" if images == "aligned" else name


# --------------------------------------------------------------------------- AffectNet


def _holds_files(folder: Path) -> bool:
    """Whether ``folder`` exists and holds any entry (one directory read, stopped at the first)."""
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is not None
    except OSError:
        return False


def _affectnet_path_column(header: list[str]) -> int | None:
    """Where AffectNet's ``subDirectory_filePath`` heads the first line (0, or 1 after pandas' index), else None."""
    return next((i for i, cell in enumerate(header[:2]) if _norm(cell) == "subdirectoryfilepath"), None)


def _affectnet_columns(csv_path: Path) -> tuple[str | None, list[str], bool, list[str]]:
    """An AffectNet CSV's delimiter, first line, whether that is a header, and its column names.

    The names are normalised (:func:`_norm`); a file without AffectNet's header is read in
    AffectNet's own column order. Raises DatasetError where the file cannot be read.
    """
    delimiter, header = read_header_fields(csv_path)
    has_header = _affectnet_path_column(header) is not None  # columns found by name: an index column too
    return delimiter, header, has_header, [_norm(h) for h in (header if has_header else _AFFECTNET_HEADER)]


def _is_affectnet_csv(csv_path: Path) -> bool:
    """Whether ``csv_path``'s first line is AffectNet's header, or a header-less row of its 9 fields (a path first)."""
    try:
        _, header = read_header_fields(csv_path)
    except DatasetError:
        return False
    return _is_affectnet_header(header)


def _is_affectnet_header(header: list[str]) -> bool:
    """Whether a CSV's first fields are AffectNet's header, or a header-less row of its 9 fields (a path first)."""
    return _affectnet_path_column(header) is not None or (len(header) == len(_AFFECTNET_HEADER)
                                                          and ("/" in header[0] or "\\" in header[0]))


def _affectnet_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    for folder in (path, path / "Manually_Annotated_file_lists"):
        files = [folder / n for n in ("training.csv", "validation.csv") if (folder / n).is_file()]
        if files:
            return files
    return []


#: The words of a file name: "affectnet_test", "AffectNetValidation", "val-set" → affect net test, ..., val set.
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _affectnet_split(csv_path: Path) -> str:
    """The split of an AffectNet CSV, from its name's split words as :func:`parse_split` reads them.

    AffectNet's test set is not public and results are reported on its validation set, so a val or
    validation word is the test split, as ``validation.csv`` is; a name without a split word is train.
    Raises DatasetFormatError where the name holds words of both splits.
    """
    stem = csv_path.name.split(".", 1)[0]  # training.csv.gz → training
    found = {normalize_split(word) for word in _NAME_WORDS.findall(stem)} - {None}
    if not found and "valid" in stem.lower():  # glued words (validset, affectnetvalidation): the release's rule
        found = {"test"}
    found = {"test" if split == "val" else split for split in found}
    if len(found) > 1:
        raise DatasetFormatError(
            f"{csv_path}: the file name holds both train and test words, so its split is unclear; rename it "
            "(training.csv for training rows, validation.csv for the rows results are reported on)."
        )
    return found.pop() if found else "train"


def _unread_affectnet_csvs(path: Path, files: list[Path]) -> list[Path]:
    """AffectNet-headed CSVs beside the ``files`` a folder ``path`` is read from, which are not read."""
    if path.is_file() or not files:
        return []
    folder = files[0].parent
    others = sorted(p for p in folder.iterdir() if p not in files and not is_hidden(p.name)
                    and p.name.lower().endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")) and p.is_file())
    return [p for p in others if _is_affectnet_csv(p)]


def affectnet_image_root(csv_path: Path) -> Path:
    """The folder AffectNet's CSV paths start from (beside the CSV's folder or above it)."""
    for folder in (csv_path.parent, csv_path.parent.parent):
        for name in ("Manually_Annotated_Images", "Manually_Annotated/Manually_Annotated_Images"):
            if (folder / name).is_dir():
                return folder / name
    return csv_path.parent


def load_affectnet(
    path: str | os.PathLike,
    *,
    size: int | tuple[int, int] = 48,
    image_root: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    cropper: FaceCropper | None = None,
) -> FaceDataset:
    """Load AffectNet's manually annotated set.

    Parameters
    ----------
    path : path
        ``training.csv`` or ``validation.csv``, or the folder holding them (or
        holding ``Manually_Annotated_file_lists/``). Columns
        ``subDirectory_filePath, face_x, face_y, face_width, face_height,
        facial_landmarks, expression, valence, arousal`` (a file without that
        header row is read in this order). Expression ids: 0=neutral 1=happy
        2=sad 3=surprise 4=fear 5=disgust 6=anger 7=contempt; 8=none,
        9=uncertain and 10=no-face are skipped and counted
        (:class:`~fer_classic.exceptions.SkippedRowsWarning`).
    size : int or (height, width), default=48
        Side of the square images, or ``(height, width)``, after loading (grayscale).
    image_root : path, optional
        Folder ``subDirectory_filePath`` is relative to; default
        ``Manually_Annotated_Images/`` beside the CSV (or beside its folder).
    n_jobs : int, optional
        Decoding threads; None or -1: all cores.
    cropper : FaceCropper, optional
        Cut each image to its largest face, as ``predict`` does; images without
        a face are skipped (reason ``"no face"...``). None: whole images resized.

    Returns
    -------
    FaceDataset
        Faces cut out by their boxes (``cropped``). ``training.csv`` → split
        ``train``; ``validation.csv`` → ``test`` (AffectNet's own test set is not
        public; its validation set is what results are reported on). A CSV
        given by another name has the split of its name's words (``test.csv``,
        ``val.csv``, ``affectnet_validation.csv``: test; else train). Other
        AffectNet CSVs in a folder given are named in a
        :class:`~fer_classic.exceptions.SkippedFilesWarning`.

    Raises
    ------
    DatasetFormatError
        If a CSV lacks AffectNet's columns, a row is short, or a file name holds
        words of both splits (``train_test.csv``).
    """
    path = Path(path)
    size = as_size(size)
    files = _affectnet_files(path)
    if not files:
        raise DatasetError(f"{path}: no AffectNet training.csv or validation.csv found.")
    read_label = LabelReader(codes=AFFECTNET_CODES)
    entries: list[LabelledImage] = []
    skipped_rows: dict[str, list[str]] = {reason: [] for reason in AFFECTNET_NOT_EMOTIONS.values()}
    unboxed: list[str] = []
    for csv_path in files:
        delimiter, header, has_header, names = _affectnet_columns(csv_path)
        try:
            i_path, i_expr = names.index("subdirectoryfilepath"), names.index("expression")
            i_box = [names.index(n) for n in ("facex", "facey", "facewidth", "faceheight")]
        except ValueError:
            raise DatasetFormatError(
                f"{csv_path}: header {header!r} lacks AffectNet's columns {list(_AFFECTNET_HEADER)}."
            ) from None
        split = _affectnet_split(csv_path)
        base = Path(image_root) if image_root is not None else affectnet_image_root(csv_path)
        rows = text_rows(csv_path, delimiter)
        if has_header:
            next(rows, None)
        for line, row in rows:
            where = f"{csv_path} row {line}"
            if len(row) <= max(i_path, i_expr, *i_box):
                raise short_row_error(where, row, names)
            code = row[i_expr].strip()
            if _code_key(code) in AFFECTNET_NOT_EMOTIONS:  # "8.0" as "8", as the emotion codes are read
                skipped_rows[AFFECTNET_NOT_EMOTIONS[_code_key(code)]].append(f"row {line}")
                continue
            box = parse_box([row[i] for i in i_box], "xywh", where)
            if box is None:
                unboxed.append(f"{csv_path.name} row {line}")
            # resolve_path as for labels files: Windows separators accepted ("689\\a.jpg").
            entries.append(LabelledImage(resolve_path(row[i_path], base), read_label(code, where), where,
                                         split=split, box=box))
    unread = _unread_affectnet_csvs(path, files)
    if unread:  # a val.csv beside training.csv: fit would hold out 20 % of train instead of scoring on it
        warnings.warn(
            f"{len(unread)} AffectNet CSV(s) in {unread[0].parent} are not read: "
            f"{list_sources([str(p) for p in unread])}. "
            "A folder is read from training.csv (train) and validation.csv (test) only; rename a file to one "
            "of those if it holds those rows.",
            SkippedFilesWarning,
            stacklevel=3,
        )
    warn_skipped_rows(skipped_rows, path, stacklevel=3)
    if unboxed:  # AffectNet's photos are not face crops: a whole one mixed in with the faces is said
        warnings.warn(f"{path}: {len(unboxed)} row(s) have no face box, so their whole photos are used instead of "
                      f"a face: {', '.join(unboxed[:5])}{', ...' if len(unboxed) > 5 else ''}; fill in their "
                      "face_x, face_y, face_width and face_height.", UserWarning, stacklevel=2)
    return build_dataset(entries, size=size, name=str(path), n_jobs=n_jobs, stacklevel=3, cropper=cropper)


# --------------------------------------------------------------------------- ExpW


def load_expw(
    root: str | os.PathLike,
    *,
    size: int | tuple[int, int] = 48,
    n_jobs: int | None = None,
    cropper: FaceCropper | None = None,
) -> FaceDataset:
    """Load ExpW (Expression in-the-Wild).

    Parameters
    ----------
    root : path
        The folder holding ``label/label.lst`` (lines ``image_name face_id top
        left right bottom confidence label``) and ``image/origin/``. Labels:
        0=angry 1=disgust 2=fear 3=happy 4=sad 5=surprise 6=neutral. An image
        with several faces has one line per face.
    size : int or (height, width), default=48
        Side of the square images, or ``(height, width)``, after loading (grayscale).
    n_jobs : int, optional
        Decoding threads; None or -1: all cores.
    cropper : FaceCropper, optional
        Cut each image to its largest face, as ``predict`` does; images without
        a face are skipped (reason ``"no face"...``). None: whole images resized.

    Returns
    -------
    FaceDataset
        One unsplit set of faces cut out by their boxes; ``sources`` name the
        image and face (``PATH#face=0``).
    """
    root = Path(root)
    size = as_size(size)
    labels_file = root / "label" / "label.lst"
    if not labels_file.is_file():
        raise DatasetError(f"{root}: no label/label.lst (ExpW layout) found.")
    read_label = LabelReader(codes=EXPW_CODES)
    entries = []
    for line, fields in text_rows(labels_file, None):
        where = f"{labels_file} line {line}"
        if len(fields) != 8:
            raise DatasetFormatError(
                f"{where}: expected 'image_name face_id top left right bottom confidence label' (8 fields); "
                f"got {len(fields)}."
            )
        name, face, top, left, right, bottom, _confidence, code = fields
        box = parse_box([left, top, right, bottom], "corners", where)
        path = root / "image" / "origin" / name
        entries.append(LabelledImage(path, read_label(code, where), where, box=box, source=f"{path}#face={face}"))
    return build_dataset(entries, size=size, name=str(root), n_jobs=n_jobs, stacklevel=3, cropper=cropper)


# --------------------------------------------------------------------------- FER+


#: FER+'s reference code (microsoft/FERPlus src/ferplus.py, ``_process_data`` in mode ``majority``) drops the
#: votes of one annotator as outliers, then keeps an emotion only with more than half of the votes left.
_FERPLUS_ANNOTATORS = 10


def _ferplus_shares(rows: list[list[float]]) -> bool:
    """Whether a file's vote rows hold shares (0.7, 0.3), not counts of ten annotators: decided once per file.

    Per row, a count row of a single vote (``0,1,0,...``) would read as
    shares, its one vote as a majority, where FER+'s rule drops it. Shares
    sum to 1 (give or take rounding); a count file has rows of 2 votes or more.
    """
    return all(sum(votes) <= 1.5 for votes in rows)


def _ferplus_labels(vote_rows: list[list[float]]) -> list[tuple[str | None, str]]:
    """Each row's :func:`_ferplus_majority`, the file's votes read as shares or counts once (`_ferplus_shares`)."""
    shares = _ferplus_shares(vote_rows)
    return [_ferplus_majority(votes, shares) for votes in vote_rows]


def _ferplus_majority(votes: list[float], shares: bool) -> tuple[str | None, str]:
    """The majority label of one row's votes, or None and why not (FER+'s ``majority`` rule).

    Votes of one annotator (a count of 1, or a share of 0.1 where the file
    holds shares, see :func:`_ferplus_shares`) are dropped as outliers, as
    FER+'s reference code does; the label is the emotion holding more than
    half of the votes left. A plurality (4 of 10 votes against 3, 2 and 1) is
    no majority: such a row is FER+'s "unknown" and skipped, as are rows
    whose majority is unknown or NF (not a face).
    """
    one_vote = 1.0 / _FERPLUS_ANNOTATORS if shares else 1.0
    kept = [v if v > one_vote * (1 + 1e-6) else 0.0 for v in votes]
    total, best = sum(kept), max(kept)
    if best <= 0:
        return None, "without votes of more than one annotator"
    winners = [FERPLUS_VOTES[i] for i, v in enumerate(kept) if v == best]
    if len(winners) > 1:
        return None, "tied between emotions"
    if best <= total / 2:
        return None, "without an emotion holding more than half the votes (single votes dropped)"
    if winners[0] in ("unknown", "NF"):
        return None, f"with majority {winners[0]!r}"
    return _FERPLUS_LABELS[winners[0]], ""


def _votes(cells: list[str], where: str) -> list[float]:
    """One row's votes: counts of 10 annotators, or their shares (0.7, 0.3) as some copies hold them."""
    try:
        votes = [float(c) for c in cells]
    except ValueError:
        raise DatasetFormatError(f"{where}: FER+ votes {cells!r} are not numbers; fix the row.") from None
    if not all(math.isfinite(v) and v >= 0 for v in votes):
        raise DatasetFormatError(f"{where}: FER+ votes {cells!r} must be finite and not negative; fix the row.")
    return votes


def _ferplus_folders(
    root: Path, size: tuple[int, int], n_jobs: int | None, cropper: FaceCropper | None = None
) -> FaceDataset:
    entries = []
    skipped_rows: dict[str, list[str]] = {}
    unlabelled = []
    for folder_name, (split, usage) in _FERPLUS_FOLDERS.items():
        labels_file = root / folder_name / "label.csv"
        if not labels_file.is_file():
            if (root / folder_name).is_dir():  # a half-extracted download: its images would vanish unsaid
                unlabelled.append(folder_name)
            continue
        rows = []
        for line, row in text_rows(labels_file, ","):
            where = f"{labels_file} row {line}"
            if len(row) != 2 + len(FERPLUS_VOTES):
                raise DatasetFormatError(
                    f"{where}: expected 'fer0000000.png,\"(0, 0, 48, 48)\",' and {len(FERPLUS_VOTES)} votes; "
                    f"got {len(row)} fields."
                )
            rows.append((line, row, where, _votes(row[2:], where)))
        for (line, row, where, _), (label, why) in zip(rows, _ferplus_labels([votes for *_, votes in rows])):
            if label is None:
                skipped_rows.setdefault(why, []).append(f"{folder_name}/label.csv row {line}")
                continue
            entries.append(LabelledImage(root / folder_name / row[0].strip(), label, where, split=split, usage=usage))
    if not entries and not skipped_rows:
        raise DatasetError(f"{root}: no FER2013Train/label.csv, FER2013Valid/label.csv or FER2013Test/label.csv.")
    if unlabelled:
        warnings.warn(
            f"{root}: {', '.join(f'{name}/' for name in unlabelled)} without its label.csv was not read (its "
            "images have no labels); copy the label.csv of FER+'s download into it to use them.",
            SkippedFilesWarning,
            stacklevel=4,
        )
    warn_skipped_rows(skipped_rows, root, stacklevel=4)
    return build_dataset(entries, size=size, name=str(root), n_jobs=n_jobs, stacklevel=4, cropper=cropper)


def load_ferplus(
    path: str | os.PathLike,
    *,
    size: int | tuple[int, int] = 48,
    fer2013_csv: str | os.PathLike | None = None,
    n_jobs: int | None = None,
    cropper: FaceCropper | None = None,
) -> FaceDataset:
    """Load FER+ (FER2013 relabelled by ten annotators), keeping each image's majority label.

    Parameters
    ----------
    path : path
        ``fer2013new.csv`` (``Usage,Image name,neutral,happiness,surprise,
        sadness,anger,disgust,fear,contempt,unknown,NF`` vote counts, row i
        relabelling row i of ``fer2013.csv``) or a folder holding it; or FER+'s
        image folders ``FER2013Train/ FER2013Valid/ FER2013Test/``, each with a
        ``label.csv`` (``name,"(box)",`` and the ten votes).
        Each row's label is FER+'s ``majority`` (its reference code's rule):
        votes of one annotator are dropped as outliers, then the emotion holding
        more than half of the votes left. Rows without such an emotion (ties and
        pluralities such as 4 of 10 votes), whose majority is unknown or NF, or
        that FER+ dropped (empty image name) are skipped and counted
        (:class:`~fer_classic.exceptions.SkippedRowsWarning`).
    size : int or (height, width), default=48
        Side of the square images, or ``(height, width)``, after loading (grayscale).
    fer2013_csv : path, optional
        The pixels for ``fer2013new.csv``; default ``fer2013.csv`` (or
        ``fer2013.csv.gz``) beside it, in its parent folder or in ``fer2013/`` beside it.
    n_jobs : int, optional
        Decoding threads; None or -1: all cores.
    cropper : FaceCropper, optional
        FER+'s image folders only: cut each image to its largest face, as
        ``predict`` does (images without a face are skipped). FER2013 CSV
        pixels (``fer2013new.csv``) are 48x48 face crops and taken as they are.

    Returns
    -------
    FaceDataset
        FER2013's splits and usages, the same from either release (FER+
        folders: Train → train/Training, Valid → test/PublicTest, Test →
        test/PrivateTest; ``select("PublicTest")`` picks the validation images).

    Raises
    ------
    DatasetError
        If fer2013.csv cannot be found.
    DatasetFormatError
        If the two files have different row counts or a row's Usage differs
        (they are not aligned), or votes are not numbers.
    """
    path = Path(path)
    size = as_size(size)
    if path.is_dir() and not (path / "fer2013new.csv").is_file():
        return _ferplus_folders(path, size, n_jobs, cropper)
    labels_file = path / "fer2013new.csv" if path.is_dir() else path
    require_regular_file(labels_file, what="FER+ labels file", error=DatasetError)
    if fer2013_csv is None:
        candidates = _ferplus_pixel_files(labels_file)
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise DatasetError(
                f"{labels_file} holds FER+ votes; its pixels are in FER2013's fer2013.csv, not found at "
                f"{', '.join(map(str, candidates))}; put fer2013.csv (or .gz) in one of those places (in Python, "
                "load_dataset(path, fer2013_csv=...) may name it elsewhere)."
            )
        fer2013_csv = found[0]
    delimiter, header = read_header_fields(labels_file)
    names = [_norm(h) for h in header]
    try:
        i_usage, i_name = names.index("usage"), names.index("imagename")
        i_votes = [names.index(_norm(v)) for v in FERPLUS_VOTES]
    except ValueError:
        raise DatasetFormatError(
            f"{labels_file}: header {header!r} lacks FER+'s columns Usage, Image name, {', '.join(FERPLUS_VOTES)}."
        ) from None
    rows = list(text_rows(labels_file, delimiter))[1:]  # 35,887 short rows: small
    keep = np.zeros(len(rows), dtype=bool)
    labels = np.empty(len(rows), dtype=object)
    skipped_rows: dict[str, list[str]] = {"dropped by FER+ (empty Image name)": []}
    usages: dict[str, tuple[str, str]] = {}  # Usage text → (split, FER2013 usage)
    # The votes first: a bad one is named before fer2013.csv's pixels are decoded (a minute's work).
    votes: dict[int, list[float]] = {}  # row index → votes, of the rows FER+ names an image for
    for k, (line, row) in enumerate(rows):
        where = f"{labels_file} row {line}"
        if len(row) <= max(i_usage, i_name, *i_votes):
            raise short_row_error(where, row, header)
        if row[i_usage] not in usages:  # as load_fer2013_csv reads it (any case), before the pixels are
            usages[row[i_usage]] = parse_split(row[i_usage], where, "Usage")
        if not row[i_name].strip():
            skipped_rows["dropped by FER+ (empty Image name)"].append(f"row {line}")
            continue
        votes[k] = _votes([row[i] for i in i_votes], where)
    for k, (label, why) in zip(votes, _ferplus_labels(list(votes.values()))):
        if label is None:
            skipped_rows.setdefault(why, []).append(f"row {rows[k][0]}")
            continue
        keep[k], labels[k] = True, label
    pixels = load_fer2013_csv(fer2013_csv, size=size)
    if len(rows) != len(pixels):
        raise DatasetFormatError(
            f"{labels_file} has {len(rows)} data rows but {fer2013_csv} has {len(pixels)}; FER+ relabels "
            "fer2013.csv row by row, so use the original, unfiltered fer2013.csv."
        )
    for k, (line, row) in enumerate(rows):
        # The parsed splits compared ('training' is 'Training'), and the usages where both files give one.
        split, usage = usages[row[i_usage]]
        if (split and pixels.splits[k] and split != pixels.splits[k]) or (
                usage and pixels.usages[k] and usage != pixels.usages[k]):
            raise DatasetFormatError(
                f"{labels_file} row {line}: Usage {row[i_usage].strip()!r}, but {pixels.sources[k]} says "
                f"{pixels.usages[k]!r}; the two files are not aligned (use the original fer2013.csv)."
            )
    warn_skipped_rows(skipped_rows, labels_file, stacklevel=3)
    if not keep.any():
        raise DatasetError(f"{labels_file}: no row has a majority emotion.")
    kept = pixels.subset(keep)
    return dataclasses.replace(kept, labels=labels[keep], name=str(labels_file))


# --------------------------------------------------------------------------- CK+


def load_ckplus(
    root: str | os.PathLike,
    *,
    size: int | tuple[int, int] = 48,
    neutral_first_frame: bool = False,
    n_jobs: int | None = None,
    cropper: FaceCropper | None = None,
) -> FaceDataset:
    """Load CK+ (extended Cohn-Kanade) from its original layout.

    Parameters
    ----------
    root : path
        Holding ``cohn-kanade-images/S005/001/S005_001_00000011.png`` and
        ``Emotion/S005/001/S005_001_00000011_emotion.txt`` (one number such as
        ``3.0000000e+00``: 0=neutral 1=anger 2=contempt 3=disgust 4=fear
        5=happy 6=sadness 7=surprise). Only the labelled (peak) frame of each
        sequence is read; sequences without an emotion file are left out.
    size : int or (height, width), default=48
        Side of the square images, or ``(height, width)``, after loading (grayscale).
    neutral_first_frame : bool, default=False
        Also read each labelled sequence's first frame as ``neutral``.
    n_jobs : int, optional
        Decoding threads; None or -1: all cores.
    cropper : FaceCropper, optional
        Cut each image to its largest face, as ``predict`` does; images without
        a face are skipped (reason ``"no face"...``). None: whole images resized.

    Returns
    -------
    FaceDataset
        One unsplit set; ``subjects`` from the path (``S005``), for grouped
        cross-validation.
    """
    root = Path(root)
    size = as_size(size)
    images, emotions = root / "cohn-kanade-images", root / "Emotion"
    missing = [f"{folder.name}/" for folder in (images, emotions) if not folder.is_dir()]
    if missing:
        # CK+ ships its images and its labels as separate archives (the labels in Emotion_labels.zip).
        raise DatasetError(
            f"{root}: CK+ needs cohn-kanade-images/ and Emotion/ side by side; {' and '.join(missing)} "
            "not found. Unpack CK+'s images and its emotion labels (Emotion_labels) into this folder."
        )
    read_label = LabelReader(codes=CKPLUS_CODES)
    entries = []
    for file in sorted(emotions.glob("*/*/*_emotion.txt")):
        if is_hidden(file.name):  # macOS's ._ companions (AppleDouble), copied from a Mac: not labels
            continue
        subject, sequence = file.parent.parent.name, file.parent.name
        with open(file, encoding="utf-8-sig", errors="replace") as handle:  # a BOM, as some editors save
            text = handle.read(256).strip()  # one number; a huge file is not read whole
        where = str(file)
        if len(text.split()) != 1:
            raise DatasetFormatError(f"{file}: expected one emotion code such as '3.0000000e+00'; got {text[:40]!r}.")
        frames = images / subject / sequence
        peak = frames / (file.name[: -len("_emotion.txt")] + ".png")
        entries.append(LabelledImage(peak, read_label(text, where), where, subject=subject))
        if neutral_first_frame and frames.is_dir():
            first = next(iter(_image_files(frames)), None)
            if first is not None and first != peak:
                entries.append(LabelledImage(first, "neutral", f"{frames} (first frame)", subject=subject))
    if not entries:
        raise DatasetError(f"{emotions} holds no */*/*_emotion.txt file.")
    return build_dataset(entries, size=size, name=str(root), n_jobs=n_jobs, stacklevel=3, cropper=cropper)


# --------------------------------------------------------------------------- JAFFE and KDEF


def load_jaffe(
    root: str | os.PathLike,
    *,
    size: int | tuple[int, int] = 48,
    n_jobs: int | None = None,
    cropper: FaceCropper | None = None,
) -> FaceDataset:
    """Load JAFFE: ``KA.AN1.39.tiff`` files (subject KA, code AN/DI/FE/HA/NE/SA/SU).

    Parameters
    ----------
    root : path
        The folder holding the images (other image files are ignored, with a
        :class:`~fer_classic.exceptions.SkippedFilesWarning`).
    size : int or (height, width), default=48
        Side of the square images, or ``(height, width)``, after loading (grayscale).
    n_jobs : int, optional
        Decoding threads; None or -1: all cores.
    cropper : FaceCropper, optional
        Cut each image to its largest face, as ``predict`` does; images without
        a face are skipped (reason ``"no face"...``). None: whole images resized.

    Returns
    -------
    FaceDataset
        One unsplit set with ``subjects``.
    """
    root = Path(root)
    size = as_size(size)
    entries, ignored = [], []
    for file in _image_files(root):
        match = _JAFFE_NAME.match(file.name)
        if not match or match.group(2).upper() not in JAFFE_CODES:
            ignored.append(file)
            continue
        entries.append(LabelledImage(file, JAFFE_CODES[match.group(2).upper()], str(file),
                                     subject=match.group(1).upper()))
    _warn_ignored(ignored, root, "JAFFE's SUBJECT.CODEn.NUMBER.tiff")
    if not entries:
        raise DatasetError(f"{root} holds no JAFFE image (named like KA.AN1.39.tiff).")
    return build_dataset(entries, size=size, name=str(root), n_jobs=n_jobs, stacklevel=3, cropper=cropper)


def load_kdef(
    root: str | os.PathLike,
    *,
    size: int | tuple[int, int] = 48,
    angles: str | Collection[str] = "straight",
    n_jobs: int | None = None,
    cropper: FaceCropper | None = None,
) -> FaceDataset:
    """Load KDEF: ``AF01ANS.JPG`` = session A/B, gender F/M, subject 01, expression AN, angle S.

    Parameters
    ----------
    root : path
        The ``KDEF/`` folder (``AF01/AF01ANS.JPG``...) or one holding the files.
        Expressions AF=afraid AN=angry DI=disgusted HA=happy NE=neutral SA=sad
        SU=surprised.
    size : int or (height, width), default=48
        Side of the square images, or ``(height, width)``, after loading (grayscale).
    angles : "straight", "all" or collection of {"S", "HL", "HR", "FL", "FR"}, default="straight"
        Camera angles to keep: straight only (the frontal faces most features
        assume), every profile, or a chosen set. The images left out are
        counted by angle in a :class:`~fer_classic.exceptions.SkippedFilesWarning`.
    n_jobs : int, optional
        Decoding threads; None or -1: all cores.
    cropper : FaceCropper, optional
        Cut each image to its largest face, as ``predict`` does; images without
        a face are skipped (reason ``"no face"...``). None: whole images resized.

    Returns
    -------
    FaceDataset
        One unsplit set; ``subjects`` are gender and number (``F01``), the same
        person in sessions A and B.
    """
    root = Path(root)
    size = as_size(size)
    if isinstance(angles, str) and angles.lower() in ("straight", "all"):
        wanted = {"S"} if angles.lower() == "straight" else set(KDEF_ANGLES)
    else:
        try:
            wanted = {str(a).upper() for a in ([angles] if isinstance(angles, str) else angles)}
        except TypeError:  # angles=5: refused below with the choices, not "'int' object is not iterable"
            wanted = set()
        if not wanted or wanted - set(KDEF_ANGLES):
            raise DatasetError(
                f"KDEF angles={angles!r}; choose 'straight', 'all' or codes from {', '.join(KDEF_ANGLES)}."
            )
    folders = [root] + sorted(p for p in root.iterdir() if p.is_dir() and _KDEF_FOLDER.match(p.name))
    entries, ignored = [], []
    other_angles: dict[str, int] = {}
    for folder in folders:
        for file in _image_files(folder):
            match = _KDEF_NAME.match(file.name)
            if not match:
                ignored.append(file)
                continue
            _session, gender, number, code, angle = (g.upper() for g in match.groups())
            if angle in wanted:
                entries.append(LabelledImage(file, KDEF_CODES[code], str(file), subject=f"{gender}{number}"))
            else:
                other_angles[angle] = other_angles.get(angle, 0) + 1
    _warn_ignored(ignored, root, "KDEF's AF01ANS.JPG")
    _warn_other_angles(other_angles, root, angles)
    if not entries:
        raise DatasetError(f"{root} holds no KDEF image at angles {sorted(wanted)} (named like AF01ANS.JPG).")
    return build_dataset(entries, size=size, name=str(root), n_jobs=n_jobs, stacklevel=3, cropper=cropper)


def _warn_other_angles(counts: dict[str, int], root: Path, angles: str | Collection[str]) -> None:
    """One SkippedFilesWarning counting the KDEF images left out by camera angle (4 in 5 of KDEF by default)."""
    if counts:
        by_angle = ", ".join(f"{angle} {n}" for angle, n in sorted(counts.items()))
        warnings.warn(
            f"{sum(counts.values())} KDEF image(s) under {root} were left out for their camera angle "
            f"({by_angle}; angles={angles!r} was read). To include them, in Python: "
            "load_dataset(path, angles='all') or a set such as angles=['S', 'HL', 'HR'].",
            SkippedFilesWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- detection


def _matches_names(folder: Path, pattern: re.Pattern) -> bool:
    files = _image_files(folder)
    return bool(files) and sum(bool(pattern.match(f.name)) for f in files) * 2 >= len(files)


def _is_ferplus_header(path: Path) -> bool:
    try:
        _, header = read_header_fields(path)
    except DatasetError:
        return False
    names = {_norm(h) for h in header}
    return "imagename" in names and {_norm(v) for v in FERPLUS_VOTES} <= names


def detect_layout(path: str | os.PathLike) -> str | None:
    """The name of the layout ``path`` is in (see :data:`LAYOUTS`), or None.

    Only names and headers are looked at: no image is opened. A folder whose
    label or split folders hold images is a class-folder tree (None), whatever
    files or folders beside them are named like JAFFE's or KDEF's.

    Parameters
    ----------
    path : path
        A file or folder.

    Returns
    -------
    str or None
        A key of :data:`LAYOUTS`, or None when ``path`` is in none of them.
    """
    path = Path(path)
    if path.is_file():
        name = path.name.lower()
        if name in _RAFDB_LABEL_NAMES:
            return "rafdb"
        if name == "label.lst":
            return "expw"
        if name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")):
            try:
                _, header = read_header_fields(path)
            except DatasetError:
                return None
            # The header just read: _is_affectnet_csv would read it again.
            if _affectnet_path_column(header) is not None or (
                    name in ("training.csv", "validation.csv") and _is_affectnet_header(header)):
                return "affectnet"
            if _is_ferplus_header(path):
                return "ferplus"
        return None
    if not path.is_dir():
        return None
    if _rafdb_root(path) is not None:
        return "rafdb"
    if (path / "label" / "label.lst").is_file():
        return "expw"
    if (path / "cohn-kanade-images").is_dir() or next((path / "Emotion").glob("*/*/*_emotion.txt"), None):
        return "ckplus"  # one of its two halves: load_ckplus names the other (a bare Emotion/ may be a class)
    if (path / "fer2013new.csv").is_file() or any((path / f / "label.csv").is_file() for f in _FERPLUS_FOLDERS):
        return "ferplus"
    files = _affectnet_files(path)
    if files and all(_is_affectnet_csv(f) for f in files):  # a training.csv of one's own (a loss log) is not
        return "affectnet"
    kdef = any(p.is_dir() and _KDEF_FOLDER.match(p.name) for p in path.iterdir()) or _matches_names(path, _KDEF_NAME)
    jaffe = not kdef and _matches_names(path, _JAFFE_NAME)
    # Label or split folders holding images make a class-folder tree, which a stray KA.HA1.1.png or an
    # empty AM01/ beside them must not turn into JAFFE or KDEF (the label folders were dropped unsaid);
    # the folder loader names what it does not read.
    if (kdef or jaffe) and not _class_folders(path):
        return "kdef" if kdef else "jaffe"
    return None


def _class_folders(path: Path) -> list[Path]:
    """The sub-folders of ``path`` named as an emotion label or a split that hold an image (names only)."""
    found = []
    for folder in (p for p in path.iterdir() if not is_hidden(p.name) and p.is_dir()):
        try:
            canonical_label(folder.name)
        except UnknownLabelError:
            if folder_split(folder.name) is None:
                continue
            depth = 3  # <split>/<label>/<nested>/image
        else:
            depth = 2  # <label>/<nested>/image
        if _holds_image(folder, depth):
            found.append(folder)
    return found


def _holds_image(folder: Path, depth: int) -> bool:
    """Whether ``folder`` holds a file with an image suffix, at most ``depth`` levels down (stops at the first)."""
    try:
        with os.scandir(folder) as entries:
            folders = []
            for entry in entries:
                if is_hidden(entry.name):
                    continue
                if os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS and not entry.is_dir():
                    return True
                if depth > 1 and entry.is_dir():
                    folders.append(entry.path)
    except OSError:
        return False
    return any(_holds_image(Path(f), depth - 1) for f in folders)


def _ferplus_pixel_files(labels_file: Path) -> list[Path]:
    """Where ``load_ferplus`` looks for the fer2013.csv of a ``fer2013new.csv``, in order."""
    folder = labels_file.parent
    above = Path(os.path.abspath(folder)).parent  # Path("fer2013new.csv").parent.parent is "." again
    # Each place's gzipped copy too (load_fer2013_csv reads it; some mirrors ship fer2013.csv.gz).
    return [place / name for place in (folder, above, folder / "fer2013") for name in ("fer2013.csv", "fer2013.csv.gz")]


def _layout_root(path: Path) -> Path:
    # RAF-DB's EmoLabel/list_patition_label.txt and ExpW's label/label.lst lie one folder below the root.
    return path.parent.parent if path.is_file() else path


def layout_inputs(path: str | os.PathLike, layout: str) -> list[Path | str]:
    """The files and folders ``layout``'s loader reads for ``path``, as output checks need them.

    Parameters
    ----------
    path : path
        What :func:`load_layout` would be given: the dataset folder or its labels file.
    layout : str
        A :data:`LAYOUTS` name.

    Returns
    -------
    list of Path or str
        ``path``; RAF-DB and ExpW: their root folder; AffectNet: its CSVs and
        their image folders; FER+: every place its fer2013.csv is looked for
        (a file not there yet is harmless to list). Then, for the layouts whose
        labels file names the images (RAF-DB, AffectNet, ExpW, FER+'s image
        folders), each listed image that lies outside the folder listed for it
        (an absolute path, or one through ``..``), as a string: the images inside
        are the folder's files already. Only the labels files' name column is
        read, no image; a labels file that cannot be read lists no image here
        (loading reports it).
    """
    path = Path(path)
    if layout in ("rafdb", "expw"):
        root = _layout_root(path)
        return [path, root, *_escaping(_listed_layout_images(path, layout), root)]
    if layout == "affectnet":
        files = _affectnet_files(path)
        roots = {f: affectnet_image_root(f) for f in files}
        escaping = [image for f in files for image in _escaping(_affectnet_listed(f, roots[f]), roots[f])]
        return [path, *files, *dict.fromkeys(roots.values()), *dict.fromkeys(escaping)]
    if layout == "ferplus" and (path.is_file() or (path / "fer2013new.csv").is_file()):
        labels_file = path / "fer2013new.csv" if path.is_dir() else path
        return [path, labels_file, *_ferplus_pixel_files(labels_file)]
    if layout == "ferplus":
        return [path, *_escaping(_listed_layout_images(path, layout), path)]
    return [path]


def _escaping(images: Collection[str], folder: Path) -> list[str]:
    """The ``images`` not plainly inside ``folder``: elsewhere, or reached through ``..``.

    Strings, each once: 28,709 images are tested in a few hundredths of a second (see
    :func:`~fer_classic.data._labels_file.listed_images`). What lies plainly inside is a file of
    ``folder``, an input tree whose linked sub-folders the output checks follow.
    """
    prefix = os.path.join(os.fspath(folder), "")

    def escapes(image: str) -> bool:
        rest = image[len(prefix):]  # ".." in the folder's own path (--data ../shared/...) is not an escape
        return not image.startswith(prefix) or (".." in rest and ".." in rest.split(os.sep))

    return list(dict.fromkeys(image for image in images if escapes(image)))


def _listed_layout_images(path: Path, layout: str) -> list[str]:
    """Every image RAF-DB's, ExpW's or FER+'s (image folders) labels files name, as their loaders join them.

    RAF-DB: both the aligned and the original image of each line (which one is read is a
    loading option). Lines the loader would refuse are passed over.
    """
    images: list[str] = []
    try:
        if layout == "rafdb":
            root = _rafdb_root(_layout_root(path))
            if root is None:
                return []
            aligned, original = (os.fspath(root / "Image" / kind) for kind in ("aligned", "original"))
            for _, fields in text_rows(_rafdb_labels_file(root), None):
                if len(fields) == 2:
                    images += [os.path.join(aligned, _rafdb_file(fields[0], "aligned")),
                               os.path.join(original, fields[0])]
        elif layout == "expw":
            folder = os.fspath(_layout_root(path) / "image" / "origin")
            images = [os.path.join(folder, fields[0])
                      for _, fields in text_rows(_layout_root(path) / "label" / "label.lst", None) if len(fields) == 8]
        elif layout == "ferplus":
            for name in _FERPLUS_FOLDERS:
                labels_file = path / name / "label.csv"
                if labels_file.is_file():
                    folder = os.fspath(path / name)
                    images += [os.path.join(folder, row[0].strip()) for _, row in text_rows(labels_file, ",")
                               if row[0].strip()]
    except (DatasetError, OSError):  # an unreadable labels file: loading reports it
        return []
    return images


def _affectnet_listed(csv_path: Path, base: Path) -> list[str]:
    """The images an AffectNet CSV names, joined to ``base`` as :func:`load_affectnet` joins them."""
    try:
        delimiter, _, has_header, names = _affectnet_columns(csv_path)
        column = names.index("subdirectoryfilepath")
        folder = os.fspath(base)
        if column == 0:  # as released: the path leads each row (see first_cells)
            cells = first_cells(csv_path, delimiter)[1 if has_header else 0:]
        else:
            rows = text_rows(csv_path, delimiter)
            if has_header:
                next(rows, None)
            cells = [row[column].strip() for _, row in rows if len(row) > column]
        # Windows separators as the loader reads them (resolve_path): "..\\..\\x.jpg" escapes too.
        return [os.path.join(folder, _portable(cell)) for cell in cells if cell]
    except (DatasetError, OSError):
        return []


def _from_file(loader: Callable[..., FaceDataset]) -> Callable[..., FaceDataset]:
    """A folder layout's loader, also accepting its labels file (``EmoLabel/list_patition_label.txt``)."""
    def load(path: Path, **options: object) -> FaceDataset:
        return loader(_layout_root(path), **options)

    load.__wrapped__ = loader  # type: ignore[attr-defined]
    return load


#: Layout name → loader.
LAYOUTS: dict[str, Callable[..., FaceDataset]] = {
    "rafdb": _from_file(load_rafdb),
    "affectnet": load_affectnet,
    "expw": _from_file(load_expw),
    "ferplus": load_ferplus,
    "ckplus": load_ckplus,
    "jaffe": load_jaffe,
    "kdef": load_kdef,
}
_LAYOUT_ALIASES = {"raf": "rafdb", "rafdb": "rafdb", "affectnet": "affectnet", "expw": "expw",
                   "ferplus": "ferplus", "fer+": "ferplus", "ck": "ckplus", "ck+": "ckplus", "ckplus": "ckplus",
                   "jaffe": "jaffe", "kdef": "kdef"}


def load_layout(path: str | os.PathLike, layout: str, **options: object) -> FaceDataset:
    """Load ``path`` as ``layout`` (a :data:`LAYOUTS` name), passing that loader's keyword options.

    Raises
    ------
    DatasetError
        If the layout is unknown or an option is not one of that loader's (the
        accepted ones are named).
    """
    import inspect

    name = _LAYOUT_ALIASES.get(str(layout).strip().lower().replace("-", "").replace("_", ""))
    if name is None:
        raise DatasetError(f"Unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}.")
    loader = LAYOUTS[name]
    accepted = set(inspect.signature(getattr(loader, "__wrapped__", loader)).parameters) - {"root", "path"}
    unknown = set(options) - accepted
    if unknown:
        raise DatasetError(
            f"Option(s) {sorted(unknown)} do not apply to the {name} layout; it accepts {', '.join(sorted(accepted))}."
        )
    return loader(Path(path), **options)


def layout_options(mapping: Mapping[str, object] | None) -> dict[str, object]:
    """Drop unset options (None), so each loader keeps its own defaults."""
    return {k: v for k, v in (mapping or {}).items() if v is not None}
