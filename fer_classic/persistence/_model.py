"""The fitted model and the metadata needed to use it the same way later."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import time
from dataclasses import dataclass, field

import joblib
import numpy as np
from sklearn.pipeline import Pipeline

from .._version import __version__
from ..data._levels import gray_levels
from ..labels import display_order

__all__ = ["FERModel", "PREPROCESSING", "check_fer_model", "library_versions", "plain_metadata",
           "utc_now"]

#: How images are brought to the model's input; loaders follow this, and
#: ``FERModel.predict`` checks geometry against it.
PREPROCESSING = {
    "color": "grayscale (OpenCV BGR2GRAY weights)",
    "dtype": "uint8, 0..255, rows flattened row-major",
    "resize": "cv2.INTER_AREA when shrinking, cv2.INTER_LINEAR when enlarging",
}


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on.

    Returns
    -------
    dict
        Library name (``fer_classic``, ``scikit-learn``, ``numpy``... ``python``) → version string.
    """
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


def _absolute(name: str) -> str | None:
    """``name``'s absolute path if it names an existing file or folder (not ``"synthetic"``), else None."""
    return os.path.abspath(name) if name and os.path.exists(name) else None


@dataclass
class FERModel:
    """A fitted pipeline and the metadata needed to use it the same way later.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted; input rows are flattened grayscale images of ``image_shape``.
    metadata : dict, optional
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
        face_cropper=None,
        **extra,
    ) -> FERModel:
        """Wrap a pipeline fitted on ``train`` (a FaceDataset) with full metadata.

        Parameters
        ----------
        pipeline : Pipeline
            Fitted on ``train.X, train.y``.
        train : FaceDataset
            The training images: gives geometry, class counts and the fingerprints (in order, and order-free).
        features, clf : str
            The names the pipeline was built from.
        source : str, optional
            Where the data came from (default ``train.name``).
        metrics, timings : dict, optional
            Test scores and seconds per stage to record.
        face_cropper : FaceCropper, optional
            The cropper the training images were cut with, recorded so that
            ``predict`` and the dataset loaders of ``evaluate``/``compare`` cut
            images exactly as the training images were cut. None (default):
            ``train.face_cropper`` (the cropper given to ``load_dataset(path,
            cropper=...)``); for data read without one, whole images
            (``detect=False``, ``fit --crop none``) when its files are photos
            the default crop would search for a face (a side over twice the
            model's; up to 200 evenly spaced files' headers are read), else the
            default crop (``FaceCropper(output_shape=...)``, what ``fit --crop
            auto`` records): the generated faces, CSV rows, face-crop files
            such as FER2013's and images cut by the dataset's own boxes.
        **extra
            More JSON-ready metadata (e.g. ``random_state``).

        Raises
        ------
        FaceDetectorError
            If ``face_cropper`` makes crops of another geometry than ``train``'s.
        """
        steps = getattr(pipeline, "estimator_", pipeline)  # FlipAugmented wraps the fitted pipeline
        estimator = steps[-1] if hasattr(steps, "steps") else steps
        estimator = getattr(estimator, "estimator", estimator)
        metadata = {
            "created": utc_now(),
            "classes": [str(c) for c in pipeline.classes_],  # inspect shows them in display_order
            "image_shape": list(train.image_shape),
            "preprocessing": PREPROCESSING,
            "features": features,
            "classifier": clf,
            "params": {k: repr(v) for k, v in estimator.get_params().items()},
            "versions": library_versions(),
            "training": {
                "source": source or train.name,
                # Where the source lies, to tell it from another folder of the same relative name later.
                "source_path": _absolute(source or train.name),
                "fingerprint": train.fingerprint(),
                # Order-free, to tell a shuffled or renamed copy of them.
                "content_fingerprint": train.content_fingerprint(),
                "n_train": len(train),
                "class_counts": train.class_counts(),
            },
            "metrics": metrics or {},
            "timings": timings or {},
            **extra,
        }
        model = cls(pipeline=pipeline, metadata=plain_metadata(metadata))
        # A model recording no cropper is cut two ways (whole by the loaders, searched by predict): record one.
        from ..prediction._model import with_face_cropper  # prediction builds on persistence

        return with_face_cropper(model, face_cropper if face_cropper is not None else _read_policy(train))

    @property
    def classes(self) -> list[str]:
        """Class names in the canonical order: that of :meth:`scores`' columns and of every report.

        The pipeline's ``classes_`` are sorted, as scikit-learn's scorers need
        them; what fer-classic shows follows the vocabulary (angry, disgust,
        fear, happy, sad, surprise, neutral; other labels after, sorted).
        """
        return shown_classes(self.pipeline.classes_)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of the images the model takes."""
        return tuple(self.metadata["image_shape"])  # type: ignore[return-value]

    def _rows(self, images) -> np.ndarray:
        """``images`` as the pipeline's input rows, checked: the one entrance of every prediction method.

        Raises
        ------
        ValueError
            If the images are not of the model's geometry, a list's images
            differ in shape (the first that differs from ``images[0]`` is
            named), or there is no image (as scikit-learn refuses an empty
            batch: "Found array with 0 sample(s)").
        """
        height, width = self.image_shape
        expected = (f"The model takes {height}x{width} grayscale images (n, {height}, {width}) or rows of "
                    f"{height * width} pixels")
        advice = f"Load images with size={height} (fer_classic.load_dataset / read_image)."
        if not isinstance(images, np.ndarray) and isinstance(images, (list, tuple)) and images:
            shapes = [np.shape(image) for image in images]
            differs = next((i for i, shape in enumerate(shapes) if shape != shapes[0]), None)
            if differs is not None:
                raise ValueError(f"images[{differs}] has shape {shapes[differs]}, unlike images[0] of shape "
                                 f"{shapes[0]}: a batch holds images of one shape. {expected}. {advice}")
        images = np.asarray(images)
        fits = ((images.ndim == 3 and images.shape[1:] == (height, width))
                or (images.ndim == 2 and images.shape[1] == height * width))
        if images.shape in ((height, width), (height * width,)):  # one image: 'load with size=' was no help
            raise ValueError(f"{expected}; got one image of shape {images.shape}: give a batch of one "
                             f"(np.asarray(image)[None], shape (1, {', '.join(map(str, images.shape))})), or a photo "
                             "to fer_classic.predict_image.")
        if not fits and images.shape != (0,):  # (0,): an empty list
            raise ValueError(f"{expected}; got an array of shape {images.shape}. {advice}")
        if len(images) == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={images.shape}) while a minimum of 1 is "
                             f"required: give at least one image to predict. {expected}.")
        # The training images were 8-bit levels: floats in 0..1 or 16-bit values are brought to them,
        # as image files are, so that the scale the caller chose does not change the answer.
        return gray_levels(images, "images", batch=True).reshape(len(images), -1)

    def predict(self, images) -> np.ndarray:
        """Labels of ``images``, shape (n, height, width) or flattened rows.

        uint8 levels 0..255 as the training images; 16-bit values and floats
        in 0..1 are converted to them, each image by its own values
        (:func:`fer_classic.data.gray_levels`). A list of images must hold
        images of one shape; an empty batch is refused with a ValueError, as
        scikit-learn refuses one (``predict``, :meth:`scores` and
        :meth:`predict_scores` alike).

        Parameters
        ----------
        images : array-like
            uint8 images (n, height, width) or flattened rows.

        Returns
        -------
        ndarray of shape (n,)
            One label of :attr:`classes` per image.
        """
        return self.pipeline.predict(self._rows(images))

    def scores(self, images) -> tuple[str, np.ndarray]:
        """Per-class scores of ``images``, as probabilities or decision values.

        Parameters
        ----------
        images : array-like
            uint8 images (n, height, width) or flattened rows, as for :meth:`predict`.

        Returns
        -------
        score_kind : {"probability", "decision"}
            ``"probability"`` where the classifier has ``predict_proba``, else
            ``"decision"`` (from ``decision_function``).
        scores : ndarray of shape (n, n_classes)
            Columns follow :attr:`classes` (two columns for two classes).
        """
        features, head = self._classifier_input(self._rows(images))
        if hasattr(head, "predict_proba"):  # no labels asked for: predict is not run
            return "probability", np.asarray(head.predict_proba(features), dtype=float)[:, self._columns()]
        decision = _two_columns(np.asarray(head.decision_function(features), dtype=float))
        return "decision", decision[:, self._columns()]

    def _columns(self) -> list[int]:
        """The score columns (in ``classes_`` order) in the order of :attr:`classes`."""
        return display_order(self.pipeline.classes_)

    def _classifier_input(self, rows: np.ndarray):
        """What the classifier head sees for ``rows``, and the head (the whole model if it has no steps)."""
        from ..preprocessing._augment import FlipAugmented  # the model's own classes are imported already

        pipeline = self.pipeline
        if isinstance(pipeline, FlipAugmented):
            # It predicts with the pipeline it fitted, on the rows as given: that pipeline's steps split
            # here too, so that labels and scores share one pass of the features (they took two).
            rows, pipeline = pipeline._unchanged(rows), pipeline.estimator_
        features, head = rows, pipeline  # a model without steps to split
        if hasattr(pipeline, "steps") and len(pipeline) >= 2:
            head = pipeline[-1]
            for _, step in pipeline.steps[:-1]:
                # As imbalanced-learn's Pipeline predicts: samplers only act in fit.
                if step not in (None, "passthrough") and not hasattr(step, "fit_resample"):
                    features = step.transform(features)
        return features, head

    def predict_scores(self, images, *, timings: dict | None = None) -> tuple[np.ndarray, str, np.ndarray, np.ndarray]:
        """Labels, score kind, per-class scores and features of ``images`` in one pass.

        The one place where fer-classic turns images into predictions: the
        features are computed once for labels and scores, and fer-classic's
        classifiers give both from one kernel evaluation
        (``predict_and_decision``); a classifier with probabilities is asked
        for labels and probabilities separately (its argmax can differ from
        ``predict`` near a boundary, as scikit-learn documents for SVC).

        Parameters
        ----------
        images : array-like
            uint8 images (n, height, width) or flattened rows.
        timings : dict, optional
            Receives ``features`` and ``predict`` seconds (added to what it holds).

        Returns
        -------
        labels : ndarray of shape (n,)
        score_kind : {"probability", "decision"}
            ``predict_proba`` where the classifier has it, else ``decision_function``.
        scores : ndarray of shape (n, n_classes)
            Columns follow :attr:`classes`.
        features : ndarray
            What the classifier saw (the images' rows for a model without
            separable steps).
        """
        rows = self._rows(images)
        start = time.perf_counter()
        features, head = self._classifier_input(rows)
        middle = time.perf_counter()
        if hasattr(head, "predict_proba"):
            labels, kind, scores = head.predict(features), "probability", head.predict_proba(features)
        elif hasattr(head, "predict_and_decision"):  # fer-classic's classifiers: one kernel evaluation
            (labels, scores), kind = head.predict_and_decision(features), "decision"
        else:
            labels, kind, scores = head.predict(features), "decision", head.decision_function(features)
        labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
        if kind == "decision":
            scores = _two_columns(scores)
        scores = scores[:, self._columns()]
        if timings is not None:
            for key, seconds in (("features", middle - start), ("predict", time.perf_counter() - middle)):
                timings[key] = round(timings.get(key, 0.0) + seconds, 3)
        return labels, kind, scores, np.asarray(features)


def _read_policy(train):
    """The cropper that cuts photos as ``train``'s images were cut (see :meth:`FERModel.from_fitted`)."""
    from ..data._headers import read_header
    from ..data._images import searched
    from ..detection import FaceCropper

    if getattr(train, "face_cropper", None) is not None:  # load_dataset(..., cropper=...)
        return train.face_cropper
    shape = tuple(train.image_shape)
    if not getattr(train, "cropped", False):
        # Image files read whole: photos the default crop would search for a face were squeezed whole into the
        # model's inputs, so photos must be taken whole; face crops (FER2013's files) read alike either way.
        n = len(train.sources)
        sources = train.sources[np.unique(np.linspace(0, n - 1, min(n, _SOURCES_LOOKED_AT)).astype(int))]
        for source in sources:
            try:  # CSV rows and generated faces are no files; a moved file tells nothing
                width, height = read_header(str(source)).upright_size
            except (OSError, ValueError):
                continue
            if searched((height, width), "auto", shape):
                return FaceCropper(output_shape=shape, detect=False)
    return FaceCropper(output_shape=shape)  # the default crop, as fit --crop auto records for face crops


#: Training sources whose headers from_fitted reads to tell photos read whole from face crops (evenly spaced).
_SOURCES_LOOKED_AT = 200


def check_fer_model(model, caller: str, where: str = "model", files: str | None = None) -> FERModel:
    """``model`` itself when it is a :class:`FERModel`, else a TypeError saying how to get one.

    Parameters
    ----------
    model : object
    caller : str
        The function taking it, for the message (``"write_report"``).
    where : str, default="model"
        Which argument or item it is (``"models[1]"``).
    files : str, optional
        The function to use for model files instead, when there is one.

    Raises
    ------
    TypeError
        Naming what was given and the ways to a FERModel: ``load_model(path)``,
        ``fit_model(...).model``, and ``FERModel.from_fitted`` for a fitted
        scikit-learn pipeline (a bare pipeline has no image geometry or metadata).
    """
    if isinstance(model, FERModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        hint = f" Load the file first (load_model({str(model)!r}))" + (f", or use {files}." if files else ".")
    elif hasattr(model, "predict"):
        hint = (" Wrap a fitted pipeline with FERModel.from_fitted(pipeline, train, features=..., clf=...), which "
                "records its image geometry and classes.")
    else:
        hint = ""
    raise TypeError(f"{caller} takes a FERModel for {where}, from load_model(path) or fit_model(...).model; got "
                    f"{type(model).__name__}.{hint}")


def shown_classes(classes) -> list[str]:
    """The names of ``classes`` (a ``classes_``, or the list a model file records) in the order fer-classic shows
    them (:func:`~fer_classic.labels.display_order`): :attr:`FERModel.classes`, ``inspect``."""
    classes = list(classes)
    return [str(classes[i]) for i in display_order(classes)]


def _two_columns(decision: np.ndarray) -> np.ndarray:
    """Decision scores with a column per class: scikit-learn gives two classes the positive one's only."""
    return np.column_stack([-decision, decision]) if decision.ndim == 1 else decision


def utc_now() -> str:
    """Current UTC time, ISO 8601, for metadata.

    Returns
    -------
    str
        E.g. ``"2024-05-01T12:00:00+00:00"`` (whole seconds).
    """
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"metadata value {value!r} of type {type(value).__name__} is not JSON-ready")


def plain_metadata(metadata: dict) -> dict:
    """``metadata`` as plain JSON types (NumPy scalars and arrays converted).

    Saved metadata must be readable without unpickling any class, and signable
    as canonical JSON.

    Parameters
    ----------
    metadata : dict
        A model's metadata.

    Returns
    -------
    dict
        A copy holding only JSON types.

    Raises
    ------
    TypeError
        If a value is neither JSON-ready nor a NumPy scalar or array.
    """
    return json.loads(json.dumps(metadata, default=_plain))
