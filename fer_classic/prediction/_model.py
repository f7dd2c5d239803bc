"""A model's face cropper, and classifying a batch of face crops."""

from __future__ import annotations

import os
import warnings

import numpy as np

from .._fileio import file_sha256
from ..data._images import as_size
from ..detection import FaceCropper
from ..exceptions import CropMismatchWarning, FaceDetectorError
from ..persistence import FERModel
from ..persistence._header import FACE_CROPPER_KEY, FACE_DETECTOR_DIGEST_KEY

__all__ = [
    "FACE_CROPPER_KEY", "FACE_DETECTOR_DIGEST_KEY", "classify_crops", "detector_files", "face_cropper_for",
    "loading_cropper", "score_dict", "with_face_cropper",
]


def _file_sha256(path) -> str | None:
    """The SHA-256 of the file at ``path``, or None where it cannot be read (the detector reports that)."""
    try:
        return file_sha256(path)
    except OSError:
        return None


def with_face_cropper(model: FERModel, cropper: FaceCropper) -> FERModel:
    """A copy of ``model`` whose metadata records ``cropper``'s parameters.

    :func:`face_cropper_for` (and so every prediction function) then crops
    faces exactly that way. Record the cropper the training images were cut
    with; save the result with :func:`fer_classic.save_model`. The SHA-256
    of the detector file it names (``detector_model``) is recorded with it
    (:data:`FACE_DETECTOR_DIGEST_KEY`), so that another file found under
    that name later is warned about.

    Parameters
    ----------
    model : FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model``.
    cropper : FaceCropper
        The cropper the training images were cut with (fitted here).

    Returns
    -------
    FERModel
        A new model sharing ``model``'s pipeline; ``model`` is unchanged.

    Raises
    ------
    FaceDetectorError
        If the cropper's ``output_shape`` is not the model's geometry.
    """
    check_cropper(model, cropper.fit())
    metadata = {key: value for key, value in model.metadata.items() if key != FACE_DETECTOR_DIGEST_KEY}
    digest = None if cropper.detector_model is None else _file_sha256(cropper.detector_model)
    if digest is not None:
        metadata[FACE_DETECTOR_DIGEST_KEY] = digest
    return FERModel(pipeline=model.pipeline, metadata={**metadata, FACE_CROPPER_KEY: cropper.to_metadata()})


def check_cropper(model: FERModel, cropper: FaceCropper) -> FaceCropper:
    """``cropper`` if its crops have the model's geometry (before any image is cut).

    Unfitted, its ``output_shape`` parameter is compared (the crop then
    refuses it as unfitted).

    Raises
    ------
    FaceDetectorError
        If the cropper's ``output_shape`` is not the model's ``image_shape``.
    """
    shape = getattr(cropper, "output_shape_", None) or as_size(cropper.output_shape)
    if tuple(shape) != tuple(model.image_shape):
        raise FaceDetectorError(
            f"The cropper makes {shape[0]}x{shape[1]} crops but the model takes "
            f"{model.image_shape[0]}x{model.image_shape[1]} images; pass output_shape={tuple(model.image_shape)}."
        )
    return cropper


def face_cropper_for(model: FERModel, **overrides) -> FaceCropper:
    """The fitted cropper the model records (see :func:`with_face_cropper`), else the default one.

    Models without a recorded cropper (fitted on face crops such as FER2013)
    get ``FaceCropper(output_shape=model.image_shape)``: the Haar cascade,
    no margin, no alignment, ``detect="auto"``.

    Parameters
    ----------
    model : FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model``.
    **overrides
        Cropper parameters to change (e.g. ``faces="largest"``, ``detect=False``).
        Changing the framing (``detect``, ``detector``, ``margin``, ``align``)
        makes crops unlike the training images.

    Returns
    -------
    FaceCropper
        Fitted.

    Warns
    -----
    CropMismatchWarning
        When an override changes the framing the model records (``predict
        --detect never`` on a ``fit --crop detect`` model, ``--yunet`` on a
        Haar one...): honoured, since the images may need it (faces cut by
        another tool), but the scores are then those of other inputs than
        the model was trained on. Also when the detector file the model
        names (a relative path, found from the current folder) is not the
        file it was fitted with.
    """
    stored = model.metadata.get(FACE_CROPPER_KEY)
    cropper = FaceCropper.from_metadata(stored) if stored else FaceCropper(output_shape=tuple(model.image_shape))
    fitted = cropper.set_params(**overrides).fit()  # bad overrides are refused before any warning
    if stored:
        _warn_framing_changes(FaceCropper.from_metadata(stored), overrides)
        if not {"detector", "detector_model"} & set(overrides):  # another detector asked for is warned above
            _warn_other_detector_file(model, fitted)
    return check_cropper(model, fitted)  # an output_shape override, or a recorded cropper of other crops


def _warn_other_detector_file(model: FERModel, cropper: FaceCropper) -> None:
    """Warn when the detector file ``cropper`` names is not the one ``model`` was fitted with (its SHA-256)."""
    recorded = model.metadata.get(FACE_DETECTOR_DIGEST_KEY)
    found = None if recorded is None or cropper.detector_model is None else _file_sha256(cropper.detector_model)
    if found is not None and found != recorded:
        path = str(cropper.detector_model)
        where = "" if os.path.isabs(path) else f" found from {os.getcwd()}"
        warnings.warn(f"The face detector file {path!r}{where} is not the one the model was fitted with (SHA-256 "
                      f"{found[:12]}..., recorded {recorded[:12]}...): faces are cut unlike its training images, and "
                      "its scores may not hold; give the model the file it was fitted with.",
                      CropMismatchWarning, stacklevel=3)


#: Cropper parameters that decide which pixels make a face crop (not which faces are kept, or a no-face result);
#: the detector is compared with its model file (two YuNet files find different boxes).
_FRAMING = {"detect": "--detect", "margin": "margin", "align": "align"}
#: How a recorded ``detect`` reads as the options that set it (fit --crop, predict --detect).
_DETECT_NAMES = {True: ("detect", "always"), False: ("none", "never"), "auto": ("auto", "auto")}


def _warn_framing_changes(recorded: FaceCropper, overrides) -> None:
    changed = []
    for name, option in _FRAMING.items():
        if name not in overrides or overrides[name] == getattr(recorded, name):
            continue
        before, after = getattr(recorded, name), overrides[name]
        if name == "detect" and before in _DETECT_NAMES and after in _DETECT_NAMES:
            changed.append(f"--detect {_DETECT_NAMES[after][1]} (its training images: fit --crop "
                           f"{_DETECT_NAMES[before][0]}, i.e. --detect {_DETECT_NAMES[before][1]})")
        else:
            changed.append(f"{option} {after!r} (recorded: {before!r})")
    detector = (overrides.get("detector", recorded.detector), overrides.get("detector_model", recorded.detector_model))
    if detector != (recorded.detector, recorded.detector_model):
        changed.append(f"face detector {_detector_text(*detector)} (recorded: "
                       f"{_detector_text(recorded.detector, recorded.detector_model)})")
    if changed:
        warnings.warn(f"{'; '.join(changed)}: faces are cut unlike the model's training images, and its scores "
                      "may not hold; leave the option out to crop as the model records.",
                      CropMismatchWarning, stacklevel=3)


def _detector_text(detector: str, detector_model) -> str:
    """A face detector as the options set it: YuNet with its model file, or a Haar cascade (OpenCV's or a file)."""
    if detector == "yunet":
        return f"YuNet {str(detector_model)!r}"
    return "OpenCV's Haar cascade" if detector_model is None else f"the Haar cascade {str(detector_model)!r}"


def detector_files(cropper: FaceCropper) -> dict[str, str | os.PathLike]:
    """The detector model file ``cropper`` reads, as a :func:`~fer_classic._fileio.check_outputs` input.

    ``{"the YuNet model": path}`` or ``{"the Haar cascade": path}``, the path
    as given (``--yunet``, or as the model records it); empty for OpenCV's own
    cascade. Checked with the inputs, so that no output (a timeline, an
    annotated copy) replaces the file the detector reads.
    """
    if cropper.detector_model is None:
        return {}
    return {"the YuNet model" if cropper.detector == "yunet" else "the Haar cascade": cropper.detector_model}


def loading_cropper(model: FERModel) -> FaceCropper | None:
    """The cropper the dataset loaders cut images with for ``model``: the one it records, else None.

    Models fitted with a face cropper (every ``fit``/``search`` model since
    ``--crop``) record it, and ``evaluate``, ``compare``, ``report`` load
    images through it, exactly as ``predict`` cuts photos. Models that
    record none were fitted on whole images resized, so their datasets are
    loaded that way (None) while ``predict`` still searches large photos
    with the default cropper (:func:`face_cropper_for`).

    Parameters
    ----------
    model : FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model``.

    Returns
    -------
    FaceCropper or None
        The cropper the model records; None when it records none.

    Raises
    ------
    FaceDetectorError
        If the recorded parameters are unknown to this fer-classic.
    """
    stored = model.metadata.get(FACE_CROPPER_KEY)
    if not stored:
        return None
    cropper = FaceCropper.from_metadata(stored)
    _warn_other_detector_file(model, cropper)
    return cropper


def classify_crops(model: FERModel, crops: np.ndarray) -> tuple[np.ndarray, str, np.ndarray]:
    """Labels, score kind (``probability`` or ``decision``) and per-class scores of face crops (n, h, w).

    The same values as ``model.predict`` and ``model.scores``, in one pass
    (:meth:`FERModel.predict_scores`).

    Parameters
    ----------
    model : FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model``.
    crops : ndarray of shape (n, height, width)
        uint8 face crops of the model's geometry.

    Returns
    -------
    labels : ndarray of shape (n,)
        Predicted labels.
    score_kind : {"probability", "decision"}
        What the scores are.
    scores : ndarray of shape (n, n_classes)
        Columns follow ``model.classes``.
    """
    labels, kind, scores, _ = model.predict_scores(crops)
    return labels, kind, scores


def score_dict(classes: list[str], row: np.ndarray) -> dict[str, float]:
    """Class → score, rounded for output."""
    return {c: round(float(v), 4) for c, v in zip(classes, np.atleast_1d(row))}
