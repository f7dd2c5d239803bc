"""Saving and loading fitted models with everything needed to reuse them."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
from sklearn.pipeline import Pipeline

from ._version import __version__
from .exceptions import IncompatibleModelError, ModelFileError, VersionMismatchWarning

__all__ = ["FERModel", "FORMAT", "FORMAT_VERSION", "library_versions", "load_model", "save_model"]

FORMAT = "fer-classic-model"
#: Bumped when the layout of the saved payload changes incompatibly.
FORMAT_VERSION = 1

#: How images are brought to the model's input; loaders follow this, and
#: ``FERModel.predict`` checks geometry against it.
PREPROCESSING = {
    "color": "grayscale (OpenCV BGR2GRAY weights)",
    "dtype": "uint8, 0..255, rows flattened row-major",
    "resize": "cv2.INTER_AREA when shrinking, cv2.INTER_LINEAR when enlarging",
}


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on."""
    import cv2
    import scipy
    import skimage
    import sklearn

    return {
        "fer_classic": __version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-image": skimage.__version__,
        "opencv": cv2.__version__,
        "joblib": joblib.__version__,
        "python": platform.python_version(),
    }


@dataclass
class FERModel:
    """A fitted pipeline and the metadata needed to use it the same way later.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted; input rows are flattened grayscale images of ``image_shape``.
    metadata : dict
        ``classes``, ``image_shape``, ``preprocessing``, ``features``,
        ``classifier``, ``params``, ``versions``, ``training`` (data
        fingerprint, source, counts), ``metrics`` and ``timings``.
    """

    pipeline: Pipeline
    metadata: dict = field(default_factory=dict)

    @classmethod
    def from_fitted(
        cls,
        pipeline: Pipeline,
        train,
        *,
        features: str,
        clf: str,
        source: str | None = None,
        metrics: dict | None = None,
        timings: dict | None = None,
        **extra,
    ) -> FERModel:
        """Wrap a pipeline fitted on ``train`` (a FaceDataset) with full metadata.

        Parameters
        ----------
        pipeline : Pipeline
            Fitted on ``train.X, train.y``.
        train : FaceDataset
            The training images: gives geometry, class counts and the fingerprint.
        features, clf : str
            The names the pipeline was built from.
        source : str, optional
            Where the data came from (default ``train.name``).
        metrics, timings : dict, optional
            Test scores and seconds per stage to record.
        **extra
            More JSON-ready metadata (e.g. ``random_state``).
        """
        estimator = pipeline[-1]
        estimator = getattr(estimator, "estimator", estimator)
        metadata = {
            "created": utc_now(),
            "classes": [str(c) for c in pipeline.classes_],
            "image_shape": list(train.image_shape),
            "preprocessing": PREPROCESSING,
            "features": features,
            "classifier": clf,
            "params": {k: repr(v) for k, v in estimator.get_params().items()},
            "versions": library_versions(),
            "training": {
                "source": source or train.name,
                "fingerprint": train.fingerprint(),
                "n_train": len(train),
                "class_counts": train.class_counts(),
            },
            "metrics": metrics or {},
            "timings": timings or {},
            **extra,
        }
        return cls(pipeline=pipeline, metadata=metadata)

    @property
    def classes(self) -> list[str]:
        """Class names in the order of probability columns."""
        return [str(c) for c in self.pipeline.classes_]

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of the images the model takes."""
        return tuple(self.metadata["image_shape"])  # type: ignore[return-value]

    def _rows(self, images) -> np.ndarray:
        images = np.asarray(images)
        height, width = self.image_shape
        if images.ndim == 3 and images.shape[1:] == (height, width):
            return images.reshape(len(images), -1)
        if images.ndim == 2 and images.shape[1] == height * width:
            return images
        raise ValueError(
            f"The model takes {height}x{width} grayscale images (n, {height}, {width}) or rows of "
            f"{height * width} pixels; got an array of shape {images.shape}. Load images with "
            f"size={height} (fer_classic.load_dataset / read_image)."
        )

    def predict(self, images) -> np.ndarray:
        """Labels of ``images`` (uint8, shape (n, height, width) or flattened rows)."""
        return self.pipeline.predict(self._rows(images))

    def scores(self, images) -> tuple[str, np.ndarray]:
        """Per-class scores: ``("probability", P)`` where the classifier gives
        probabilities, else ``("decision", D)`` from ``decision_function``.
        Columns follow :attr:`classes`.
        """
        rows = self._rows(images)
        if hasattr(self.pipeline, "predict_proba"):
            return "probability", self.pipeline.predict_proba(rows)
        decision = self.pipeline.decision_function(rows)
        if decision.ndim == 1:  # two classes: scikit-learn gives the positive class's score only
            decision = np.column_stack([-decision, decision])
        return "decision", decision


def save_model(model: FERModel, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` with joblib, atomically.

    The payload goes to a temporary file in the same folder, is flushed to
    disk, then renamed over ``path``: an interrupted save leaves the previous
    file (or none), never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": model.metadata,
               "pipeline": model.pipeline}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            joblib.dump(payload, handle, compress=3)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_model(path: str | os.PathLike) -> FERModel:
    """Load a model written by :func:`save_model`.

    joblib files can run code when loaded: load only files you trust.

    Raises
    ------
    ModelFileError
        If the file is missing, damaged, or not a fer-classic model.
    IncompatibleModelError
        If it was written in a newer, unknown format version.

    Warns
    -----
    VersionMismatchWarning
        If it was written with other versions of fer-classic or scikit-learn;
        predictions may differ; refit the model with the installed versions.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"Model file {path} does not exist.")
    try:
        payload = joblib.load(path)
    except Exception as exc:  # joblib/pickle raise many types on foreign or damaged files
        raise ModelFileError(
            f"{path} is not a readable fer-classic model (damaged, truncated or another file type): "
            f"{type(exc).__name__}: {exc}. Refit it with 'fer-classic fit --out {path.name}'."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(
            f"{path} is a joblib file but not a fer-classic model (no '{FORMAT}' header); "
            "save models with fer_classic.save_model or 'fer-classic fit'."
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{path} uses model format version {version!r}; this fer-classic ({__version__}) reads "
            f"versions up to {FORMAT_VERSION}. Upgrade fer-classic or refit the model."
        )
    metadata = payload["metadata"]
    saved = metadata.get("versions", {})
    installed = library_versions()
    differing = [
        f"{lib} {saved.get(lib)} (installed {installed[lib]})"
        for lib in ("fer_classic", "scikit-learn")
        if saved.get(lib) != installed[lib]
    ]
    if differing:
        warnings.warn(
            f"{path} was written with {', '.join(differing)}; predictions may differ. "
            "Refit the model with the installed versions to be sure.",
            VersionMismatchWarning,
            stacklevel=2,
        )
    return FERModel(pipeline=payload["pipeline"], metadata=metadata)


def utc_now() -> str:
    """Current UTC time, ISO 8601, for metadata."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
