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

from .._fileio import check_outputs
from ._header import (
    check_fitted, check_loaded, fill_new_parameters, model_format, model_path, model_problem, warn_versions,
)
from ._joblib_format import encode_joblib, load_joblib, save_joblib
from ._inspect import component_sizes
from ._model import FERModel, check_fer_model, plain_metadata
from ._skops_format import is_zip, load_skops, save_skops
from ._trust import trusted_names, warn_unused_trust

__all__ = ["PendingSave", "load_model", "save_model", "start_save"]


def save_model(model: FERModel, path: str | os.PathLike, *, format: str | None = None) -> Path:
    """Write ``model`` to ``path`` atomically.

    Parameters
    ----------
    model : FERModel
        From :func:`load_model`, ``fit_model(...).model`` or :meth:`FERModel.from_fitted`.
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

    Raises
    ------
    TypeError
        If ``model`` is not a FERModel (wrap a pipeline with :meth:`FERModel.from_fitted`).
    OutputPathError
        If ``path`` is a folder, not a regular file, or in a folder that
        cannot be written; checked before the model is pickled.
    ValueError
        If ``format`` contradicts the ``.joblib`` / ``.skops`` suffix of ``path``,
        or the model is one :func:`load_model` would refuse or misread (an
        unfitted pipeline, ``image_shape`` missing, invalid or other than the
        geometry its features were fitted on, classes it does not predict);
        nothing is written.
    """
    return start_save(model, path, format=format).finish()


class PendingSave:
    """A model file being written: :func:`start_save`'s result; :meth:`finish` writes it.

    Parameters
    ----------
    model : FERModel
        The model to write; checked (as :func:`save_model` checks it) and its pipeline sized now.
    path : path
        Destination; checked now.
    format : {"joblib", "skops"}, optional
        As in :func:`save_model`; None: by the suffix of ``path``.
    """

    def __init__(self, model: FERModel, path: str | os.PathLike, format: str | None = None):
        if isinstance(model, (str, os.PathLike)) and isinstance(path, FERModel):  # not "load the file first"
            raise TypeError("save_model takes (model, path); the path came first. Call save_model(model, path).")
        check_fer_model(model, "save_model")  # the message evaluate, report and compare give
        problem = model_problem(model)  # what load_model would refuse, or read wrongly, is not written
        if problem is not None:
            raise ValueError(f"Cannot save {path}: {problem[1]}. Build the model with "
                             "FERModel.from_fitted(pipeline, train, ...) from the pipeline fitted on train.")
        self.model, self.path = model, Path(path)
        self.format = model_format(self.path, format, options=None)
        # Before pickling (seconds for a large model): a folder, a folder that cannot be written, or a
        # photo, video or table named by mistake (the rule the commands' --out follows).
        check_outputs({"path": path}, models=("path",), make_parents=True)
        # Taken from the pipeline as it is now; a joblib payload too (encode_joblib pickles it at
        # once), while a skops file is written whole by finish().
        self._sizes = component_sizes(model.pipeline)
        self._payload = encode_joblib(model.pipeline, self.path.parent) if self.format == "joblib" else None

    def finish(self) -> Path:
        """Write the file with the model's metadata as it is now.

        Returns
        -------
        Path
            The path written.
        """
        metadata = plain_metadata({**self.model.metadata, "sizes": self._sizes})
        if self.format == "joblib":
            return save_joblib(self.model.pipeline, metadata, self.path, payload=self._payload)
        return save_skops(self.model.pipeline, metadata, self.path)


def start_save(model: FERModel, path: str | os.PathLike, *, format: str | None = None) -> PendingSave:
    """Start writing ``model`` to ``path``; the metadata is read when :meth:`PendingSave.finish` writes it.

    For callers with work left before the metadata is complete (``fit``
    scores the test images, then records the scores): a joblib file's
    pipeline is pickled now and compressed in a thread meanwhile (a skops
    file is written whole by ``finish``). ``start_save(...).finish()`` is
    :func:`save_model`; the pipeline must not be refitted in between.

    Parameters
    ----------
    model : FERModel
        The model to write.
    path : path
        Destination.
    format : {"joblib", "skops"}, optional
        As in :func:`save_model`; None: by the suffix of ``path``.

    Returns
    -------
    PendingSave
        Call its :meth:`~PendingSave.finish` to write the file.

    Raises
    ------
    TypeError, OutputPathError, ValueError
        As :func:`save_model`, before anything is written.
    """
    return PendingSave(model, path, format)


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
    trusted_types : str or iterable of str, default=()
        skops only: more exact type or function names to trust (as listed by
        ``fer-classic inspect``); one string is one name.

    Returns
    -------
    FERModel
        The fitted pipeline with its metadata (classes, image geometry, face cropper...).

    Raises
    ------
    ModelFileError
        If the file is missing, not a regular file, not a fer-classic model, or
        its metadata lacks what using it needs (``image_shape``).
    ModelIntegrityError
        If it is truncated or corrupted (checksum mismatch), or its metadata
        disagrees with its model (the pixels it takes or the geometry its
        features were fitted on, the classes, the face cropper), or, for a
        skops file (which loads without a signature), its model cannot
        predict: an estimator's parameters are invalid, or it fails on one
        image of its geometry (checked here, at load).
    UntrustedModelError
        If loading it could run code and ``trusted`` is False.
    IncompatibleModelError
        If it was written in a newer, unknown format version.

    Warns
    -----
    VersionMismatchWarning
        If it was written with other versions of fer-classic or scikit-learn;
        predictions may differ; refit the model with the installed versions
        (or upgrade fer-classic, for a file of a newer one).
    UserWarning
        If a name of ``trusted_types`` did nothing: the skops file does not
        name it, or the file is a joblib file.
    """
    trusted_types = trusted_names(trusted_types)
    model, named = load_model_naming(path, trusted=trusted, trusted_types=trusted_types)
    warn_unused_trust({path: named}, trusted_types)
    return model


def load_model_naming(path, *, trusted: bool = False,
                      trusted_types: Iterable[str] = ()) -> tuple[FERModel, list | None]:
    """:func:`load_model` without its warning of unused ``trusted_types``, and the names the file holds.

    Returns the model and what the file names beyond skops' defaults (None
    for a joblib file), for a command loading several files to warn once of
    the ``trusted_types`` none of them used (``compare``).
    """
    path = model_path(path)
    skops = is_zip(path)
    named = None
    if skops:
        model, named = load_skops(path, trusted=trusted, trusted_types=trusted_types)
    else:
        model = load_joblib(path, trusted=trusted)
    # A file saved before a parameter was added restores estimators without it: it takes its default
    # (the old behaviour, by the project's rule) before anything reads the parameters.
    fill_new_parameters(model)
    check_loaded(path, model)
    warn_versions(path, model.metadata)  # before check_fitted: its refusal may come from other versions
    if skops:  # a skops file loads without a signature
        check_fitted(path, model)
    return model, named
