"""Class-folder datasets: ``ROOT/<label>/*`` or ``ROOT/<split>/<label>/*``."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..exceptions import DatasetError, EmptyClassError, LabelMergeWarning, SkippedFilesWarning, UnknownLabelError
from ..labels import canonical_label, parse_label_map, warn_unused_keys
from ._dataset import FaceDataset, folder_split
from ._images import IMAGE_EXTENSIONS, _warn_stretched, as_size, list_sources, read_images

if TYPE_CHECKING:
    from ..detection import FaceCropper

__all__ = [
    "file_usages", "is_hidden", "list_files", "load_folder", "refuse_undecoded_folders", "scan_folder", "warn_skipped",
]

# Kaggle's FER2013 folders name files after the CSV's Usage column.
_USAGE_PREFIX = re.compile(r"^(Training|PublicTest|PrivateTest)_", re.IGNORECASE)
_USAGE_CANONICAL = {u.lower(): u for u in ("Training", "PublicTest", "PrivateTest")}


#: Folders a download carries beside its data: macOS zips' __MACOSX/ (AppleDouble ``._`` files mirroring the tree).
_NOT_DATA_FOLDERS = frozenset({"__macosx"})


def is_hidden(name: str) -> bool:
    """Whether a file or folder ``name`` is left out of every listing: hidden (``.``, ``._``) or ``__MACOSX``."""
    return name.startswith(".") or name.lower() in _NOT_DATA_FOLDERS


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not is_hidden(p.name))


def list_files(
    folder: Path, suffixes: Collection[str] = IMAGE_EXTENSIONS
) -> tuple[list[Path], list[Path], list[Path], dict[tuple[str, ...], int]]:
    """Files under ``folder`` whose suffix (lower case) is one of ``suffixes``, nested sub-folders included
    (sorted by relative path); the other files; the links to folders found below it; and the count of
    ``suffixes`` files of each nested sub-folder holding some (its relative parts).

    Hidden files and folders (:func:`is_hidden`) are left out, and linked folders are not entered,
    so a link loop cannot repeat or mislabel files (the caller says so). The dataset loaders list
    images with it, ``predict`` images and videos.
    """
    # (relative parts, path): sorted by the parts, built once per folder (a relative_to per
    # file took a third of listing FER2013's 35,887 files).
    found: list[tuple[tuple[str, ...], Path]] = []
    others: list[tuple[tuple[str, ...], Path]] = []
    linked: list[tuple[tuple[str, ...], Path]] = []
    nested: dict[tuple[str, ...], int] = {}
    stack: list[tuple[Path, tuple[str, ...]]] = [(folder, ())]
    while stack:
        base, parts = stack.pop()
        try:
            entries = list(os.scandir(base))
        except OSError:  # an unreadable sub-folder is passed over, as os.walk did
            continue
        for entry in entries:
            name = entry.name
            if is_hidden(name):
                continue
            if entry.is_dir(follow_symlinks=False):  # the directory entry's type: no stat
                stack.append((base / name, (*parts, name)))
            elif entry.is_symlink() and _links_to_folder(entry):
                linked.append(((*parts, name), base / name))
            elif os.path.splitext(name)[1].lower() in suffixes:
                # Not stat'ed here (a link's target would be, file by file): FIFOs, devices,
                # dangling links and linked folders are skipped with their reason when read.
                found.append(((*parts, name), base / name))
                if parts:
                    nested[parts] = nested.get(parts, 0) + 1
            elif _is_file_or_bad_link(entry):
                others.append(((*parts, name), base / name))
    return (*([path for _, path in sorted(kept)] for kept in (found, others, linked)), nested)


def _links_to_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows the link: one stat, for links only
    except OSError:
        return False


def _is_file_or_bad_link(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:  # a link loop (ELOOP): listed with the files that are not images, not a crash of the listing
        return True


def _label_of(folder: Path, label_map: Mapping[str, str] | None) -> str:
    try:
        return canonical_label(folder.name, label_map)
    except UnknownLabelError as exc:
        from ._layouts import _class_folders, detect_layout  # the error's path only: no cycle at import

        layout = detect_layout(folder)
        if layout is not None:  # the folder holding a download's root, one level too high
            raise DatasetError(f"Folder {folder} holds a dataset in the {layout!r} layout, not the images of "
                               f"one emotion; give --data {folder} itself.") from None
        inner = sorted(_class_folders(folder))
        if inner:
            # archive/fer2013/train/happy/ (an unzipping's extra top folder, alone) or a stray copy beside the
            # label folders (happy/, sad/, old/happy/): reading it alone drops the others.
            alone = _subdirs(folder.parent) == [folder]
            raise DatasetError(
                f"Folder {folder} holds a class-folder dataset ({', '.join(p.name + '/' for p in inner[:4])}"
                f"{', ...' if len(inner) > 4 else ''}), not the images of one emotion; "
                + (f"give --data {folder} itself." if alone else
                   f"move it out of {folder.parent}, or give --data {folder} to read it alone.")) from None
        raise UnknownLabelError(f"Folder {folder}: {exc}") from None


def _warn_unread(root: Path, folders: list[Path], parents: list[Path]) -> None:
    """SkippedFilesWarning for what the layout does not read: folders beside split folders, loose images."""
    loose = [Path(entry.path) for parent in parents for entry in os.scandir(parent)
             if not is_hidden(entry.name) and os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS]
    unread = [f"{folder}{os.sep}" for folder in folders] + [str(path) for path in sorted(loose)]
    if unread:
        warnings.warn(
            f"{len(unread)} folder(s) and image(s) under {root} are not read: images are read from "
            f"{root}/<label>/ or {root}/<split>/<label>/ only, and a tree with split folders reads those "
            f"alone: {list_sources(unread)}. Move them into a label folder (of a split) if they belong.",
            SkippedFilesWarning,
            stacklevel=3,
        )


def _refuse_shared(groups: list[tuple[str, Path]]) -> None:
    """DatasetError where two label folders are one folder, or one lies inside the other, through a link.

    Links are not entered inside label folders; a linked label folder is followed, and one reaching
    another label folder gave the same files two labels (or put them in two splits) unsaid.
    """
    real = [(folder, os.path.realpath(folder)) for _, folder in groups]
    for i, (folder, path) in enumerate(real):
        for other, other_path in real[i + 1:]:
            if path == other_path:
                how = f"Label folders {folder} and {other} are one folder, {path}"
            elif other_path.startswith(os.path.join(path, "")) or path.startswith(os.path.join(other_path, "")):
                (inner, inner_path), (outer, outer_path) = sorted(
                    [(folder, path), (other, other_path)], key=lambda pair: -len(pair[1]))
                how = f"Label folder {inner} lies inside label folder {outer} ({inner_path} is inside {outer_path})"
            else:
                continue
            raise DatasetError(
                f"{how}, through a link: their images would be read twice, under both folders' "
                "labels (or splits). Remove the link, or copy the images that belong to each label into its "
                "own folder."
            )


def _misnamed_subfolders(folder: Path, label: str, nested: dict[tuple[str, ...], int],
                         label_map: Mapping[str, str] | None) -> list[tuple[Path, str, str, int]]:
    """``(sub-folder, "split" or "label", its split or label, images)`` for each of ``folder``'s nested
    sub-folders holding images that is named (or lies in one named) as a split, or as a label not ``label``."""
    found = []
    for parts, count in nested.items():
        for name in parts:
            split = folder_split(name)
            if split:
                found.append((folder.joinpath(*parts), "split", split[0], count))
                break
            other = _other_label(name, label, label_map)
            if other:
                found.append((folder.joinpath(*parts), "label", other, count))
                break
    return found


def _other_label(name: str, label: str, label_map: Mapping[str, str] | None) -> str | None:
    try:
        other = canonical_label(name, label_map)
    except UnknownLabelError:
        return None
    return other if other != label else None


def _check_nested(root: Path, misnamed: list[tuple[Path, str, str, int]], labels: dict[Path, str]) -> None:
    """Refuse sub-folders of label folders named as splits; warn for those named as another label.

    Their images are read as their label folder's: the images of a ``happy/test/`` folder were trained
    on (refused: a test set mixed into training spoils every score unseen, and label-first trees are
    no layout), and ``neutral/contempt/`` images became neutral unsaid (warned: a sub-folder may
    sort a label's images by anything).
    """
    splits = [(path, n) for path, kind, _, n in misnamed if kind == "split"]
    if splits:
        raise DatasetError(
            f"{len(splits)} sub-folder(s) of label folders under {root} are named as splits: "
            + list_sources([f"{path}{os.sep} ({n} image(s))" for path, n in splits])
            + ". A label folder's sub-folders are read as that label, so their test images would be trained "
            f"on. Arrange the tree as {root}/<split>/<label>/ (train/happy/, test/happy/), or rename the "
            "sub-folders if they are not splits."
        )
    if misnamed:
        warnings.warn(
            f"{len(misnamed)} sub-folder(s) of label folders under {root} are named as another label; their "
            "images are read as their label folder's: "
            + list_sources([f"{path}{os.sep} ({n} image(s), named {other}, read as {labels[path]})"
                            for path, _, other, n in misnamed])
            + f". Move each to {root}/<its label>/ if its images show that label.",
            LabelMergeWarning,
            stacklevel=3,
        )


def _warn_merged(groups: list[tuple[str, Path]], labels: list[str], root: Path) -> None:
    by_label: dict[tuple[str, str, str], list[str]] = {}
    for (split, folder), label, usage in zip(groups, labels, _group_usages(groups)):
        # PublicTest/happy/ and PrivateTest/happy/ are both test, kept apart by their usages: not merged.
        by_label.setdefault((split, usage, label), []).append(folder.name)
    merged = [f"{', '.join(names)} -> {label}" for (_, _, label), names in by_label.items() if len(names) > 1]
    if merged:
        warnings.warn(
            f"Label folders under {root} fold into one label and are merged: {'; '.join(merged)}. "
            "Rename or move one of them (or fix --label-map) if they are different classes.",
            LabelMergeWarning,
            stacklevel=3,
        )


def scan_folder(
    root: Path, label_map: Mapping[str, str] | None = None
) -> tuple[list[tuple[str, Path]], list[Path], list[str], list[str], list[int]]:
    """List a class-folder tree's image files without reading them.

    Returns
    -------
    groups : list of (split, label folder)
    paths, labels, splits : list
        Per image file, in folder then name order.
    folder_of : list of int
        Index into ``groups`` of each file.

    Raises
    ------
    DatasetError, UnknownLabelError, EmptyClassError
        As :func:`load_folder`.
    """
    label_map = parse_label_map(label_map)  # a mapping checked as the text is (parsed ones pass as they are)
    if not root.is_dir():
        raise DatasetError(f"Dataset folder {root} does not exist or is not a folder.")
    top = _subdirs(root)
    if not top:
        raise DatasetError(
            f"Dataset folder {root} has no sub-folders; expected {root}/<label>/*.jpg "
            f"or {root}/<split>/<label>/*.jpg."
        )
    # Split folders are named as parse_split reads splits elsewhere: FER2013's usages (PublicTest/) too.
    split_dirs = [d for d in top if folder_split(d.name)]
    if split_dirs:
        groups = [(folder_split(d.name)[0], label_dir) for d in split_dirs for label_dir in _subdirs(d)]
    else:
        groups = [("", d) for d in top]
    _warn_unread(root, [d for d in top if d not in split_dirs] if split_dirs else [], [root, *split_dirs])

    paths: list[Path] = []
    labels: list[str] = []
    splits: list[str] = []
    folder_of: list[int] = []
    _refuse_shared(groups)
    group_labels = [_label_of(folder, label_map) for _, folder in groups]  # all names checked before reading
    _warn_merged(groups, group_labels, root)
    warn_unused_keys(label_map, [folder.name for _, folder in groups], root)
    ignored: list[Path] = []
    linked: list[Path] = []
    misnamed: list[tuple[Path, str, str, int]] = []
    misnamed_labels: dict[Path, str] = {}
    for index, ((split, folder), label) in enumerate(zip(groups, group_labels)):
        files, others, links, nested = list_files(folder)
        found = _misnamed_subfolders(folder, label, nested, label_map)
        misnamed += found
        misnamed_labels.update((path, label) for path, *_ in found)
        ignored += others
        linked += links
        if not files:
            raise EmptyClassError(
                f"Label folder {folder} holds no image ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
                "add images or remove the folder."
            )
        paths += files
        labels += [label] * len(files)
        splits += [split] * len(files)
        folder_of += [index] * len(files)
    _check_nested(root, misnamed, misnamed_labels)
    if ignored:
        warnings.warn(
            f"{len(ignored)} file(s) in label folders under {root} have no image suffix "
            f"({', '.join(sorted(IMAGE_EXTENSIONS))}) and were ignored: "
            + list_sources([str(p) for p in ignored]),
            SkippedFilesWarning,
            stacklevel=2,
        )
    if linked:
        warnings.warn(
            f"{len(linked)} linked folder(s) inside label folders under {root} were not entered (links to "
            "folders are not followed there, so that a loop cannot repeat images); move or copy their images "
            "into the label folder to use them: " + list_sources([str(p) for p in linked]),
            SkippedFilesWarning,
            stacklevel=2,
        )
    if not paths:
        raise DatasetError(f"Dataset folder {root} holds no label folders with images.")
    return groups, paths, labels, splits, folder_of


def _group_usages(groups: list[tuple[str, Path]]) -> list[str]:
    """The FER2013 usage each label folder's split folder is named as (``PublicTest/``), else ``""``."""
    return [(folder_split(folder.parent.name) or ("", ""))[1] if split else "" for split, folder in groups]


def file_usages(groups: list[tuple[str, Path]], paths: list[Path], folder_of: list[int]) -> list[str]:
    """The FER2013 usage of each file :func:`scan_folder` listed, ``""`` where none.

    Its split folder's where that is named as a usage (``PublicTest/``: the folder decides the
    split, so its usage too), else its name's prefix (``PublicTest_00001.png``, Kaggle's FER2013 folders).
    """
    by_group = _group_usages(groups)
    usages = []
    for path, index in zip(paths, folder_of):
        if by_group[index]:
            usages.append(by_group[index])
        else:
            match = _USAGE_PREFIX.match(path.name)
            usages.append(_USAGE_CANONICAL[match.group(1).lower()] if match else "")
    return usages


def refuse_undecoded_folders(folders, ok, skipped) -> None:
    """Raise EmptyClassError for the first label folder none of whose listed files was decoded.

    ``folders`` holds each listed file's label folder, ``ok`` which files gave
    an image (a mask or indices), ``skipped`` the ``(path, reason)`` of the
    others. Shared by :func:`load_folder` and the chunked fit and evaluation,
    which decode the files elsewhere.
    """
    folders = np.asarray([os.fspath(folder) for folder in folders], dtype=object)
    kept = set(folders[ok].tolist())
    for folder in dict.fromkeys(folders.tolist()):
        if folder not in kept:
            inside = [reason for path, reason in skipped if Path(path).is_relative_to(folder)]
            raise EmptyClassError(
                f"Label folder {folder}: none of its {len(inside)} images could be decoded or held a face "
                f"({list_sources(inside, 3)}); replace the files."
            )


def warn_skipped(root, n_files: int, skipped, *, stacklevel: int = 2) -> None:
    """SkippedFilesWarning for the ``skipped`` ``(path, reason)`` of ``n_files`` files read under ``root``."""
    if skipped:
        warnings.warn(
            f"{len(skipped)} of {n_files} files under {root} could not be decoded (or hold no face) and were "
            f"skipped (left untouched; all are in dataset.skipped): "
            + list_sources([reason for _, reason in skipped]),
            SkippedFilesWarning,
            stacklevel=stacklevel + 1,
        )


def load_folder(
    root: str | os.PathLike,
    *,
    size: int | tuple[int, int] = 48,
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
    cropper: FaceCropper | None = None,
) -> FaceDataset:
    """Load a class-folder dataset.

    Parameters
    ----------
    root : path
        ``ROOT/<label>/*.jpg`` (one unsplit set) or ``ROOT/<split>/<label>/*.jpg``
        with split folders named train/training, test/testing, val/validation,
        or as FER2013's usages (Training, PublicTest, PrivateTest: train and
        test, the usage kept in ``usages``), in any case.
        Images may be any of :data:`~fer_classic.data.IMAGE_EXTENSIONS` (jpg,
        png, bmp, tif, gif, webp, ppm/pgm, jp2...), color or gray, any size; the
        format is recognised from the content and checked before decoding.
        Images in nested sub-folders of a label folder belong to that label
        (read recursively, in relative-path order; linked folders are not
        entered); one named as a split (``happy/test/``) is refused, one named
        as another label (``neutral/contempt/``) is read as its label folder's
        with a :class:`~fer_classic.exceptions.LabelMergeWarning`. Files
        without an image suffix are ignored and counted in a
        :class:`~fer_classic.exceptions.SkippedFilesWarning`. Hidden files and
        folders (``.*``, macOS's ``._*``) and macOS zips' ``__MACOSX/`` are skipped.
    size : int or (height, width), default=48
        Geometry every image is converted to (grayscale).
    label_map : mapping, optional
        Folder name → label, for numbered folders (``{"0": "angry", ...}``).
        Folders that fold into one label (``Happy/`` and ``happiness/``) are
        merged with a :class:`~fer_classic.exceptions.LabelMergeWarning`.
    n_jobs : int, optional
        Decoding threads; None or -1 uses every core.
    cropper : FaceCropper, optional
        Cut each image to its largest face, as ``predict`` does (its
        ``output_shape`` must be ``size``); images without a face are skipped,
        with a reason starting ``"no face"``. None (default): each whole image
        is resized, as for models that record no cropper.

    Returns
    -------
    FaceDataset
        Files in name order; FER2013 usage folders (``PublicTest/``) and file
        prefixes (``PublicTest_``...) fill ``usages``.
        Undecodable files are listed in ``skipped`` as ``(path, reason)``, every
        one of them (the warning names up to 20), and never touched. Images
        enlarged more than 4x a side give a
        :class:`~fer_classic.exceptions.DegenerateImageWarning` naming them.

    Raises
    ------
    DatasetError
        If ``root`` is missing, empty or holds no label folders, two label
        folders are one folder (or one lies inside the other) through a link,
        or a label folder's sub-folder is named as a split.
    ImageSizeError
        If ``size`` is invalid or the images would not fit in memory (before reading).
    UnknownLabelError
        If a folder name is not a known label and not in ``label_map``.
    EmptyClassError
        If a label folder holds no decodable image.
    """
    root = Path(root)
    size = as_size(size)
    groups, paths, labels, splits, folder_of = scan_folder(root, label_map)
    images, ok, skipped, stretched = read_images(paths, size, n_jobs, cropper=cropper)
    refuse_undecoded_folders([groups[i][1] for i in folder_of], ok, skipped)
    warn_skipped(root, len(paths), skipped, stacklevel=2)
    if stretched:
        _warn_stretched(stretched, stacklevel=2)
    kept = [p for p, keep in zip(paths, ok) if keep]
    return FaceDataset(
        images=images,
        labels=np.asarray(labels, dtype=object)[ok],
        splits=np.asarray(splits, dtype=object)[ok],
        usages=np.asarray(file_usages(groups, paths, folder_of), dtype=object)[ok],
        sources=np.asarray([str(p) for p in kept], dtype=object),
        name=str(root),
        skipped=tuple(skipped),
    )
