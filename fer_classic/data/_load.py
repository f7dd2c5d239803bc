"""One entry point that recognises a dataset's format."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import DatasetError
from ..labels import parse_label_map
from ._csv import load_fer2013_csv
from ._dataset import FaceDataset
from ._folder import load_folder
from ._images import as_size
from ._labels_file import _norm, listed_images, load_labels_file, read_header_fields
from ._layouts import LAYOUTS, detect_layout, layout_inputs, load_layout
from ._synthetic import make_synthetic_faces

if TYPE_CHECKING:
    from ..detection import FaceCropper

__all__ = ["load_dataset", "dataset_inputs", "recognise_format", "DEFAULT_DATASET"]

#: Names that select the generated default dataset.
DEFAULT_DATASET = "synthetic"


def is_generated(data) -> bool:
    """Whether ``data`` names the generated faces: None (no ``--data``) or :data:`DEFAULT_DATASET`."""
    return data is None or str(data) == DEFAULT_DATASET


def load_dataset(
    path: str | os.PathLike | None = None,
    *,
    size: int | tuple[int, int] = 48,
    label_map: Mapping[str, str] | str | None = None,
    n_jobs: int | None = None,
    layout: str | None = None,
    columns: Mapping[str, object] | None = None,
    cropper: FaceCropper | None = None,
    **options: object,
) -> FaceDataset:
    """Load a dataset, recognising its format.

    Parameters
    ----------
    path : path or None
        One of, recognised from names and headers (no image is opened to decide):

        - a downloaded dataset as it unpacks: RAF-DB, AffectNet, ExpW, FER+,
          CK+, JAFFE or KDEF (see :data:`fer_classic.data.LAYOUTS` and the
          ``load_*`` function of each);
        - a class-folder tree (:func:`~fer_classic.data.load_folder`);
        - a ``.csv``/``.csv.gz`` with a ``pixels`` column, in FER2013's format
          (:func:`~fer_classic.data.load_fer2013_csv`);
        - any other ``.csv``/``.tsv`` (optionally ``.gz``): a labels file listing
          image paths and labels (:func:`~fer_classic.data.load_labels_file`);
        - None / ``"synthetic"`` for the generated default dataset.
    size : int or (height, width), default=48
        Image geometry (grayscale) after loading.
    label_map : mapping or str, optional
        Folder name (or CSV emotion value) → label, e.g. ``{"0": "angry"}`` or
        the command line's ``"0=angry,1=disgust"`` (parsed by
        :func:`fer_classic.labels.parse_label_map`, errors before any reading).
    n_jobs : int, optional
        Decoding threads for folders.
    layout : str, optional
        Skip recognition: ``"folder"``, ``"fer2013"``, ``"labels"`` or a layout
        name (``rafdb``, ``affectnet``, ``expw``, ``ferplus``, ``ckplus``,
        ``jaffe``, ``kdef``).
    columns : mapping, optional
        Labels files only: role → column name (``{"image": "file", "label":
        "emo"}``), see :func:`~fer_classic.data.load_labels_file`.
    cropper : FaceCropper, optional
        The model's face cropper (its ``output_shape`` must be ``size``): each
        decoded image file goes through ``cropper.crop_faces`` and the largest
        face's crop is the dataset image, exactly as ``predict`` cuts photos;
        an image without a face is skipped and named in ``dataset.skipped``
        (reason starting ``"no face"``, with a SkippedFilesWarning). None
        (default): each whole image is converted to gray and resized, the
        policy of models that record no cropper. FER2013 CSV pixels (and
        FER+'s) are 48x48 face crops already and are taken as crops: the
        cropper does not apply to them, as to the generated dataset.
    **options
        Keyword options of the loader used: ``image_root`` (labels files,
        AffectNet), ``images`` (RAF-DB), ``fer2013_csv`` (FER+),
        ``neutral_first_frame`` (CK+), ``angles`` (KDEF).

    Returns
    -------
    FaceDataset
        The images and labels, with each image's split (``train``, ``test``,
        ``val`` or ``""``): a class-folder tree's split folders, a labels
        file's split column, a layout's own partition, FER2013's ``Usage``
        (Training → ``train``; PublicTest and PrivateTest → ``test``, told
        apart by ``usages``). Data without splits is one unsplit set.

    Raises
    ------
    DatasetError
        If ``path`` is empty, does not exist or is not a recognised format, or
        an option does not apply to its format (the accepted ones are named).
    UnknownLabelError
        If ``label_map`` is malformed, repeats a key or names an unknown label.
    ImageSizeError
        If ``size`` is invalid or the images would not fit in memory.
    TypeError
        If ``cropper`` is not a FaceCropper, or ``label_map`` neither a mapping
        nor a string (before any file is listed).
    """
    size = as_size(size)
    label_map = parse_label_map(label_map)  # a mapping checked as the text is, before any file is listed
    if cropper is not None:
        from ..detection import FaceCropper

        if not isinstance(cropper, FaceCropper):
            raise TypeError(f"cropper must be a fitted fer_classic.detection.FaceCropper or None; got "
                            f"{type(cropper).__name__} {cropper!r:.40} (the command line's --crop names a policy; "
                            "here build one: FaceCropper(output_shape=size, detect=True).fit()).")
    options = {k: v for k, v in options.items() if v is not None}  # unset: each loader's default
    if is_generated(path):
        _no_options(str(DEFAULT_DATASET), columns, options)
        return make_synthetic_faces(size=size)
    path = existing_path(path)
    kind = layout.strip().lower() if layout is not None else recognise_format(path)
    dataset = _load_kind(path, kind, size, label_map, n_jobs, columns, cropper, options)
    if cropper is not None and not _crops_already(kind, path):  # cut by it: a model fitted on them records it
        dataset = replace(dataset, face_cropper=cropper)
    return dataset


def _load_kind(path: Path, kind: str, size, label_map, n_jobs, columns, cropper, options) -> FaceDataset:
    """:func:`load_dataset` of an existing ``path`` of the format ``kind``."""
    if kind == "folder":
        _no_options("a class-folder tree", columns, options)
        return load_folder(path, size=size, label_map=label_map, n_jobs=n_jobs, cropper=cropper)
    if kind == "fer2013":
        _no_options("fer2013.csv", columns, options)
        return load_fer2013_csv(path, size=size, label_map=label_map)
    if kind == "labels":
        _no_options("a labels file", None, {k: v for k, v in options.items() if k != "image_root"})
        return load_labels_file(path, size=size, columns=columns, label_map=label_map, n_jobs=n_jobs,
                                cropper=cropper, **options)
    if label_map is not None or columns is not None:
        raise DatasetError(
            f"{path} is read as the {kind} layout, whose label codes and files are fixed; label_map "
            "(--label-map) and columns apply to class folders, labels files and fer2013.csv only."
        )
    return load_layout(path, kind, size=size, n_jobs=n_jobs, cropper=cropper, **options)


def takes_crops(data) -> bool:
    """Whether :func:`load_dataset` takes ``data``'s images as face crops already, no cropper applied.

    The generated faces (``None``), fer2013.csv and FER+'s votes on it: their
    pixels are 48x48 face crops, framed as the default crop frames a photo.
    A path that is no dataset is not (loading names the problem).
    """
    if is_generated(data):
        return True
    try:
        kind = recognise_format(data)
    except DatasetError:
        return False
    return _crops_already(kind, Path(data))


def _crops_already(kind: str, path: Path) -> bool:
    """Whether a dataset of format ``kind`` at ``path`` holds face crops as pixels, which no cropper cuts."""
    # FER+ as image folders (FER2013Train/...) are files a cropper cuts; as votes on fer2013.csv, crops.
    return kind == "fer2013" or (kind == "ferplus" and not (path.is_dir() and not (path / "fer2013new.csv").is_file()))


def existing_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path, refused where it is empty or does not exist (every reader of a dataset path).

    Raises
    ------
    DatasetError
        If ``path`` is empty (``Path("")`` is ".": the current folder would be
        read as a dataset) or does not exist, saying what to give.
    """
    if not os.fspath(path).strip():
        raise DatasetError("The dataset path is empty; give a class-folder tree, a fer2013.csv or a labels file, "
                           "or None for the generated default.")
    path = Path(path)
    if not path.exists():
        raise DatasetError(
            f"Dataset path {path} does not exist; give a class-folder tree, a fer2013.csv "
            f"(or .csv.gz), a labels file (.csv/.tsv), a downloaded dataset folder "
            f"({', '.join(LAYOUTS)}), or omit it for the generated '{DEFAULT_DATASET}' dataset."
        )
    return path


def dataset_inputs(path: str | os.PathLike | None) -> list[str | Path]:
    """The files and folders :func:`load_dataset` reads for ``path``: where no output may go.

    Only names, headers and a labels file's image column are read, so that a
    command checks its outputs (:func:`fer_classic._fileio.check_outputs`)
    before any image is decoded.

    Parameters
    ----------
    path : path or None
        What :func:`load_dataset` would be given.

    Returns
    -------
    list of Path or str
        A class-folder tree: the folder (its every file is an input). A
        fer2013.csv: the file (its pixels are the images). A labels file: the
        file and every image it lists, wherever they lie; other files beside
        them are no part of the dataset, so new files may go there. A
        downloaded layout: what its loader reads
        (:func:`~fer_classic.data._layouts.layout_inputs`). The generated
        dataset (None): nothing. A file that cannot be read as a dataset is its
        own only input (loading it raises the error, after the outputs' checks).
    """
    if is_generated(path):
        return []
    path = Path(path)
    if not path.exists():  # loading will refuse it
        return [path]
    try:
        kind = recognise_format(path)
        if kind == "labels":
            return [path, *listed_images(path)]
    except DatasetError:
        return [path]
    return [path] if kind in ("folder", "fer2013") else layout_inputs(path, kind)


class _DataInputs:
    """:func:`~fer_classic.data.dataset_inputs` of ``data``, listed only when iterated.

    A command without outputs never iterates it (check_outputs returns first): AffectNet's
    training.csv alone is 414,799 rows to read for the images it lists.
    """

    def __init__(self, data) -> None:
        self.data = data
        self.listed_by = os.fspath(data)  # check_outputs names the files it lists with it

    def __iter__(self):
        return iter(dataset_inputs(self.data))


def data_path(data):
    """The files and folders ``data`` is read from when it is a path (no output may touch them), else none.

    See :func:`fer_classic.data.dataset_inputs`: a labels file brings the images it lists; they
    are listed when an output is checked against them, not before.
    """
    return _DataInputs(data) if isinstance(data, (str, os.PathLike)) else []


def recognise_format(path: str | os.PathLike) -> str:
    """How :func:`load_dataset` reads ``path``: ``folder``, ``fer2013``, ``labels`` or a layout name.

    Decided from file names and the header line only (no image is opened), so
    other commands (``describe``) can dispatch as loading does.

    Parameters
    ----------
    path : path
        An existing file or folder.

    Returns
    -------
    str
        ``"folder"``, ``"fer2013"``, ``"labels"`` or a name of :data:`fer_classic.data.LAYOUTS`.

    Raises
    ------
    DatasetError
        If ``path`` is a file that is neither a ``.csv``/``.tsv`` (plain or
        ``.gz``) nor a layout's labels file.
    """
    path = Path(path)
    found = detect_layout(path)
    if found is not None:
        return found
    if path.is_dir():
        return "folder"
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
        _, header = read_header_fields(path)
        return "fer2013" if "pixels" in {_norm(h) for h in header} else "labels"
    raise DatasetError(
        f"Dataset path {path} is neither a folder nor a .csv/.tsv file (plain or .gz); "
        "give a labels file, a fer2013.csv or a dataset folder."
    )


def _no_options(what: str, columns: object, options: Mapping[str, object]) -> None:
    given = sorted(options) + (["columns"] if columns is not None else [])
    if given:
        raise DatasetError(f"Option(s) {given} do not apply to {what}; they are for labels files and dataset layouts.")
