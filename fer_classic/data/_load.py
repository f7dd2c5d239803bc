"""One entry point that recognises a dataset's format."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..exceptions import DatasetError
from ._csv import load_fer2013_csv
from ._dataset import FaceDataset
from ._folder import load_folder
from ._synthetic import make_synthetic_faces

__all__ = ["load_dataset", "DEFAULT_DATASET"]

#: Names that select the generated default dataset.
DEFAULT_DATASET = "synthetic"


def load_dataset(
    path: str | os.PathLike | None = None,
    *,
    size: int | tuple[int, int] = 48,
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
) -> FaceDataset:
    """Load a dataset, recognising its format.

    Parameters
    ----------
    path : path or None
        A class-folder tree, a ``.csv``/``.csv.gz`` file in FER2013's format, or
        None / ``"synthetic"`` for the generated default dataset.
    size : int or (height, width), default=48
        Image geometry (grayscale) after loading.
    label_map : mapping, optional
        Folder name → label for numbered class folders.
    n_jobs : int, optional
        Decoding threads for folders.

    Raises
    ------
    DatasetError
        If ``path`` does not exist or is not a recognised format.
    """
    if path is None or str(path) == DEFAULT_DATASET:
        return make_synthetic_faces(size=size)
    path = Path(path)
    if path.is_dir():
        return load_folder(path, size=size, label_map=label_map, n_jobs=n_jobs)
    if not path.exists():
        raise DatasetError(
            f"Dataset path {path} does not exist; give a class-folder tree, a fer2013.csv "
            f"(or .csv.gz), or omit it for the generated '{DEFAULT_DATASET}' dataset."
        )
    if path.name.lower().endswith((".csv", ".csv.gz")):
        return load_fer2013_csv(path, size=size)
    raise DatasetError(
        f"Dataset path {path} is neither a folder nor a .csv/.csv.gz file."
    )
