"""The one dataset type every loader returns."""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..exceptions import DatasetError, DatasetFormatError, UnknownLabelError
from ..labels import CANONICAL_LABELS, canonical_label, sort_labels

__all__ = ["FaceDataset", "effective_splits", "folder_split", "normalize_split", "parse_split", "split_mask"]

_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "test": "test",
    "testing": "test",
    "val": "val",
    "valid": "val",
    "validation": "val",
}
#: FER2013 ``Usage`` values and the split each belongs to.
USAGE_SPLITS = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}


def normalize_split(name: str) -> str | None:
    """Return ``"train"``, ``"test"`` or ``"val"`` for a split spelling, else None."""
    return _SPLIT_ALIASES.get(str(name).strip().lower())


def folder_split(name: str) -> tuple[str, str] | None:
    """``(split, usage)`` of a split folder's name: a split spelling or a FER2013 usage (any case), else None."""
    try:
        split, usage = parse_split(str(name), "")
    except DatasetFormatError:
        return None
    return (split, usage) if split else None


def parse_split(text: str, where: str, what: str = "split") -> tuple[str, str]:
    """``(split, usage)`` of a split cell: FER2013 usages (any case), train/test/val spellings or empty.

    Raises
    ------
    DatasetFormatError
        Naming ``where`` and the cell (``what``: the column's role) if it is none of them.
    """
    text = text.strip()
    if not text:
        return "", ""
    for usage, split in USAGE_SPLITS.items():
        if text.lower() == usage.lower():
            return split, usage
    split = normalize_split(text)
    if split is None:
        raise DatasetFormatError(
            f"{where}: {what} {text!r} is not train/training, test/testing, val/valid/validation or a "
            "FER2013 usage (Training, PublicTest, PrivateTest); fix the row."
        )
    return split, ""


def no_split_error(name: str, splits, usages, split: str) -> DatasetError:
    """The error for a dataset ``name`` (of these ``splits`` and ``usages``) without images in ``split``."""
    present = sorted(set(np.asarray(splits).tolist()) - {""})
    named = set(np.asarray(usages).tolist())
    used = [usage for usage in USAGE_SPLITS if usage in named]  # FER2013's order (a set of both mixed them)
    # --split takes either; one list of both read as "Training, test, train".
    usages = f" (FER2013 usages: {', '.join(used)})" if present and used else ""
    listed = ", ".join(present) + usages or ", ".join(used) or (
        "none: it is one unsplit set. --split all scores every image of it, so it includes the training "
        "images of a model fitted on it (evaluate --split held-out scores only those such a model's fit "
        "held out)")
    return DatasetError(f"Dataset {name!r} has no images in split {split!r}; its splits are: {listed}.")


def split_mask(splits: np.ndarray, usages: np.ndarray, split: str) -> np.ndarray:
    """The rows of ``split``: a split spelling (``train``, ``test``, ``val``) or a FER2013 usage.

    Where no row carries the split, the rows without a split whose usage
    belongs to it: a folder of FER2013's ``Training_*`` files has no split,
    only the usage its names give (``train`` and ``Training`` then select them
    alike). A row with a split of its own is of that split only (a
    ``PublicTest_*`` file in a ``train/`` folder is a training image, not
    one of ``PublicTest``; a ``Training_*`` file in ``test/`` is not one of
    ``Training``); a ``val/`` folder's files are of their usage (an export
    with ``PublicTest_*`` files in ``val/`` selects them as ``PublicTest``).
    """
    lowered = np.char.lower(np.asarray(usages).astype(str))
    canonical = normalize_split(split)
    splits = np.asarray(splits)
    if canonical is None:
        wanted = str(split).strip().lower()
        belongs = {usage.lower(): of for usage, of in USAGE_SPLITS.items()}.get(wanted)
        # A PrivateTest_ file in a train/ folder is a training image, not one of PrivateTest too (and a
        # Training_ file in test/ no training image); val/ may hold PublicTest_ files (a common export).
        barred = {"train": "test", "test": "train"}.get(belongs)
        return (lowered == wanted) & (splits != barred)
    by_split = splits == canonical
    if by_split.any():
        return by_split
    # Only rows of no split: a train/ folder's PublicTest_ files were selected as train and as test.
    return np.isin(lowered, [usage.lower() for usage, of in USAGE_SPLITS.items() if of == canonical]) & (splits == "")


def effective_splits(splits: np.ndarray, usages: np.ndarray) -> np.ndarray:
    """The split each row counts as in :meth:`FaceDataset.select` (so in ``fit``): its own, or its usage's.

    A row without a split takes, through :func:`split_mask`, the split its
    FER2013 usage belongs to where no row carries that split: a flat folder of
    ``Training_*`` and ``PublicTest_*`` files is trained and scored as train
    and test, so duplicates and leakage are counted as across train/test.
    """
    out = np.array(splits, dtype=object)
    for split in ("train", "val", "test"):
        out[split_mask(splits, usages, split) & (out == "")] = split
    return out


def _label(value: object) -> str:
    try:
        return canonical_label(value)
    except UnknownLabelError:
        raise UnknownLabelError(
            f"FaceDataset labels: {value!r} is not an emotion label; give names ({', '.join(CANONICAL_LABELS)}, or "
            "spellings such as happiness); FER2013's ids 0..6 become names with fer_classic.labels.fer2013_label."
        ) from None


def _replaced(values: np.ndarray, mapping: dict) -> np.ndarray:
    """``values`` (a new object array) with each key of ``mapping`` replaced by its value."""
    out = np.array(values, dtype=object)
    for old, new in mapping.items():
        out[np.asarray(values == old, dtype=bool)] = new
    return out


def dataset_fingerprint(shape: tuple, pixels: Iterable[bytes], labels) -> str:
    """SHA-256 of ``shape`` (rows, height, width), the pixels' bytes in row order and the labels.

    :meth:`FaceDataset.fingerprint`, and the same hash of faces met in parts
    (a chunked fit's, whatever the chunk size), so that ``evaluate`` recognises
    the training data either way.
    """
    digest = hashlib.sha256()
    digest.update(repr(tuple(int(n) for n in shape)).encode())
    for part in pixels:
        digest.update(part)
    digest.update("\n".join(np.asarray(labels).tolist()).encode())
    return digest.hexdigest()


def content_fingerprint(digests, labels) -> str:
    """SHA-256 of the images' pixel digests with their labels, sorted: :meth:`FaceDataset.content_fingerprint`.

    Also of faces met in parts (a chunked fit's, whatever the chunk size).
    """
    digest = hashlib.sha256()
    for entry in sorted(f"{d} {label}" for d, label in zip(digests, labels)):
        digest.update(entry.encode() + b"\n")
    return digest.hexdigest()


def _joined_cropper(datasets):
    """The cropper of joined datasets: the one their cut parts were cut with (face crops read alike by it).

    Parts cut by different croppers (other parameters) keep none, with a warning: which one a model of them
    records is the caller's choice (``FERModel.from_fitted(..., face_cropper=...)``).
    """
    croppers = {repr(d.face_cropper): d.face_cropper for d in datasets if d.face_cropper is not None}
    if len(croppers) > 1:
        warnings.warn(f"The datasets joined were cut by {len(croppers)} different face croppers ({', '.join(croppers)})"
                      "; the joined dataset records none: give the one a model of it should cut photos with to "
                      "FERModel.from_fitted(..., face_cropper=...).", UserWarning, stacklevel=3)
        return None
    return next(iter(croppers.values()), None)


@dataclass(frozen=True, eq=False)
class FaceDataset:
    """Face images with canonical labels, split membership and provenance.

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width), dtype uint8
        Grayscale images, all of one geometry.
    labels : ndarray of shape (n_samples,)
        Canonical label names (see :data:`fer_classic.labels.CANONICAL_LABELS`);
        other spellings (``"HAPPY"``, ``"happiness"``) are made canonical, an
        unknown label is an error.
    splits : ndarray of shape (n_samples,)
        ``"train"``, ``"test"``, ``"val"``, or ``""`` when the source has no split;
        other spellings (``"Train"``, ``"testing"``, a FER2013 usage, which then
        also fills ``usages``) are made canonical, any other value is an error.
    usages : ndarray of shape (n_samples,)
        FER2013 ``Usage`` (``"Training"``, ``"PublicTest"``, ``"PrivateTest"``) where
        known, else ``""``. It tells the two official halves of ``test`` apart.
    sources : ndarray of shape (n_samples,)
        File path of each image, or ``"FILE:row N"`` for CSV rows.
    name : str
        Where the data came from (a path or ``"synthetic"``).
    skipped : tuple of (str, str)
        ``(source, reason)`` of every input that could not be read; those files
        are left untouched on disk.
    subjects : ndarray of shape (n_samples,), optional
        Person shown in each image (``"S005"``, ``"KA"``), ``""`` where unknown;
        all ``""`` when not given. Grouped cross-validation keeps a person's
        images in one fold.
    cropped : bool, default=False
        Whether the images were cut out of larger ones by face boxes given with
        the data (a labels file's box columns, AffectNet, ExpW).
    face_cropper : FaceCropper, optional
        The cropper the image files were cut with (``load_dataset(...,
        cropper=...)``), which a model fitted on them records
        (:meth:`fer_classic.persistence.FERModel.from_fitted`) so that every
        command cuts photos as these images were cut; None when none was used.
    """

    images: np.ndarray
    labels: np.ndarray
    splits: np.ndarray
    usages: np.ndarray
    sources: np.ndarray
    name: str = ""
    skipped: tuple[tuple[str, str], ...] = field(default=())
    subjects: np.ndarray | None = None
    cropped: bool = False
    face_cropper: object = None

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise DatasetError(
                f"images must be a uint8 array of shape (n, height, width); got "
                f"{self.images.dtype} of shape {self.images.shape}."
            )
        n = len(self.images)
        if self.subjects is None:  # frozen: set the default the way dataclasses do
            object.__setattr__(self, "subjects", np.full(n, "", dtype=object))
        for attr in ("labels", "splits", "usages", "sources", "subjects"):
            if len(getattr(self, attr)) != n:
                raise DatasetError(f"{attr} has {len(getattr(self, attr))} entries for {n} images.")
        self._canonicalise()

    def _canonicalise(self) -> None:
        # Loaders give canonical labels and splits; a dataset built by hand may not, and a split
        # "Test" no split_mask finds would put the test images into training.
        labels = {value: _label(value) for value in set(self.labels.tolist())
                  if not (isinstance(value, str) and value in CANONICAL_LABELS)}
        if labels:
            object.__setattr__(self, "labels", _replaced(self.labels, labels))
        splits = {value: parse_split(str(value), "FaceDataset", "splits value")
                  for value in set(self.splits.tolist()) if value not in ("", "train", "test", "val")}
        if splits:
            usages = np.array(self.usages, dtype=object)
            for value, (_, usage) in splits.items():
                if usage:  # a FER2013 usage given as the split ("PublicTest") is kept as the usage too
                    rows = (self.splits == value) & (usages == "")
                    usages[rows] = usage
            object.__setattr__(self, "usages", usages)
            object.__setattr__(self, "splits", _replaced(self.splits, {v: split for v, (split, _) in splits.items()}))

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        counts = ", ".join(f"{s or 'unsplit'}={c}" for s, c in sorted(Counter(self.splits).items()))
        return (
            f"FaceDataset(name={self.name!r}, n={len(self)}, image_shape={self.image_shape}, "
            f"classes={self.classes}, splits=[{counts}], skipped={len(self.skipped)})"
        )

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of every image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def X(self) -> np.ndarray:  # noqa: N802 - scikit-learn's name for the design matrix
        """Images flattened to (n_samples, height * width), the input of every pipeline."""
        return self.images.reshape(len(self.images), -1)

    @property
    def y(self) -> np.ndarray:
        """Labels, the target of every pipeline."""
        return self.labels

    @property
    def classes(self) -> list[str]:
        """Labels present, in canonical order."""
        return sort_labels(self.labels.tolist())

    def class_counts(self) -> dict[str, int]:
        """Number of images per label, in canonical order.

        Returns
        -------
        dict
            Label → number of images.
        """
        counts = Counter(self.labels.tolist())
        return {label: counts[label] for label in self.classes}

    def has_split(self, split: str) -> bool:
        """Whether any image belongs to ``split`` (a split or a FER2013 usage name).

        Parameters
        ----------
        split : str
            ``train``/``test``/``val`` (any common spelling) or a FER2013 usage.

        Returns
        -------
        bool
            True if at least one image belongs to ``split``.
        """
        return bool(self._mask(split).any())

    def select(self, split: str) -> FaceDataset:
        """Return the images of one split.

        Parameters
        ----------
        split : str
            ``train``/``test``/``val`` (any common spelling), or a FER2013 usage
            (``Training``, ``PublicTest``, ``PrivateTest``) to pick one official
            half of the test set.

        Returns
        -------
        FaceDataset
            The images of ``split``, in dataset order.

        Raises
        ------
        DatasetError
            If no image belongs to ``split``.
        """
        mask = self._mask(split)
        if not mask.any():
            raise no_split_error(self.name, self.splits, self.usages, split)
        return self.subset(mask)

    def _mask(self, split: str) -> np.ndarray:
        return split_mask(self.splits, self.usages, split)

    def subset(self, index: np.ndarray) -> FaceDataset:
        """Return the images at ``index`` (a boolean mask or integer indices).

        Parameters
        ----------
        index : ndarray
            A boolean mask of length ``len(self)``, or integer indices.

        Returns
        -------
        FaceDataset
            Those images, every per-image field with them.
        """
        return FaceDataset(
            images=self.images[index],
            labels=self.labels[index],
            splits=self.splits[index],
            usages=self.usages[index],
            sources=self.sources[index],
            name=self.name,
            skipped=self.skipped,
            subjects=self.subjects[index],
            cropped=self.cropped,
            face_cropper=self.face_cropper,
        )

    def with_splits(self, splits: np.ndarray) -> FaceDataset:
        """Return the same images with other split assignments.

        Parameters
        ----------
        splits : array-like of shape (n_images,)
            The new split of each image.

        Returns
        -------
        FaceDataset
            A new dataset; this one is unchanged.
        """
        return FaceDataset(
            self.images, self.labels, np.asarray(splits), self.usages, self.sources,
            self.name, self.skipped, self.subjects, self.cropped, self.face_cropper,
        )

    @classmethod
    def concatenate(cls, datasets: list[FaceDataset], name: str | None = None) -> FaceDataset:
        """Join datasets of one geometry, every per-image field (subjects too) kept.

        Parameters
        ----------
        datasets : list of FaceDataset
            The datasets, joined in this order.
        name : str, optional
            Name of the result; default the first dataset's.

        Returns
        -------
        FaceDataset
            All the images.

        Raises
        ------
        DatasetError
            If the list is empty or the geometries differ (both named).
        """
        if not datasets:
            raise DatasetError("concatenate needs at least one dataset.")
        shapes = {d.image_shape for d in datasets}
        if len(shapes) > 1:
            raise DatasetError(
                f"Cannot concatenate datasets of different image geometries {sorted(shapes)}; "
                "load them with one size."
            )
        skipped = tuple(item for d in datasets for item in d.skipped)
        return cls(
            *(np.concatenate([getattr(d, attr) for d in datasets])
              for attr in ("images", "labels", "splits", "usages", "sources")),
            name=datasets[0].name if name is None else name,
            skipped=skipped,
            subjects=np.concatenate([d.subjects for d in datasets]),
            cropped=any(d.cropped for d in datasets),
            face_cropper=_joined_cropper(datasets),
        )

    def fingerprint(self) -> str:
        """SHA-256 of the pixels and labels, to recognise the same training data later.

        Returns
        -------
        str
            Hexadecimal SHA-256 digest.
        """
        return dataset_fingerprint(self.images.shape, [np.ascontiguousarray(self.images).tobytes()], self.labels)

    def content_fingerprint(self) -> str:
        """SHA-256 of the images with their labels, whatever their order: the same for a shuffled or renamed copy.

        :meth:`fingerprint` follows the images' order (a model's hold-out is
        recomputed from it); this one tells a reordered copy of a model's
        training data, whose score :func:`~fer_classic.evaluation.warn_training_images`
        must not pass in silence.

        Returns
        -------
        str
            Hexadecimal SHA-256 digest.
        """
        from ._duplicates import pixel_digests  # it builds on this module

        return content_fingerprint(pixel_digests(self.images), self.labels)
