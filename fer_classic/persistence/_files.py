"""Saving and loading model files: the format is chosen here, written and read by its module.

``.joblib`` files (:mod:`._joblib_format`) are signed and checksummed
pickles; ``.skops`` files (:mod:`._skops_format`) load without running code,
given the list of trusted names (:mod:`._trust`). Both are written atomically
(:func:`fer_classic._fileio.atomic_write`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ._header import model_format, model_path, warn_versions
from ._joblib_format import load_joblib, save_joblib
from ._inspect import component_sizes
from ._model import FERModel, plain_metadata
from ._skops_format import is_zip, load_skops, save_skops

__all__ = ["load_model", "save_model"]


def save_model(model: FERModel, path: str | os.PathLike, *, format: str | None = None) -> Path:
    """Write ``model`` to ``path`` atomically.

    Parameters
    ----------
    model : FERModel
    path : path
        Destination; a ``.skops`` suffix selects the skops format.
    format : {"joblib", "skops"}, optional
        ``joblib`` (default): the pipeline pickled by joblib, wrapped in a header
        with its SHA-256 and a signature by this user's key, so this machine
        loads it without ``trusted=True`` and detects corruption. ``skops``: a
        file that loads without running code when every type and function it
        names is on fer-classic's list of trusted names.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    file_format = model_format(path, format)
    metadata = plain_metadata({**model.metadata, "sizes": component_sizes(model.pipeline)})
    save = save_joblib if file_format == "joblib" else save_skops
    return save(model.pipeline, metadata, path)


def load_model(
    path: str | os.PathLike,
    *,
    trusted: bool = False,
    trusted_types: Iterable[str] = (),
) -> FERModel:
    """Load a model written by :func:`save_model`.

    Parameters
    ----------
    path : path
        A ``.joblib`` or ``.skops`` model file (the format is read from the file).
    trusted : bool, default=False
        Load files that could run code: joblib files not signed on this machine
        (older fer-classic files, files from elsewhere), and skops files naming
        types or functions outside fer-classic's list of trusted names
        (:data:`fer_classic.persistence.TRUSTED_TYPES`). Only for files from a
        source you trust.
    trusted_types : iterable of str
        skops only: more exact type or function names to trust (as listed by
        ``fer-classic inspect``).

    Raises
    ------
    ModelFileError
        If the file is missing, not a regular file, not a fer-classic model, or
        its metadata lacks what using it needs (``image_shape``).
    ModelIntegrityError
        If it is truncated or corrupted (checksum mismatch).
    UntrustedModelError
        If loading it could run code and ``trusted`` is False.
    IncompatibleModelError
        If it was written in a newer, unknown format version.

    Warns
    -----
    VersionMismatchWarning
        If it was written with other versions of fer-classic or scikit-learn;
        predictions may differ; refit the model with the installed versions.
    """
    path = model_path(path)
    if is_zip(path):
        model = load_skops(path, trusted=trusted, trusted_types=trusted_types)
    else:
        model = load_joblib(path, trusted=trusted)
    warn_versions(path, model.metadata)
    return model
