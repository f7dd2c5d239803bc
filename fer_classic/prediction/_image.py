"""Predicting the expression of every face in a photo."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image

from ..data._images import _stretch, _warn_stretched, decode_image, one_image
from ..data._levels import gray_levels
from ..detection import Face, FaceCropper
from ..detection._boxes import clip_box
from ..detection._cropper import pil_pixels
from ..persistence import FERModel
from ._model import check_cropper, classify_crops, face_cropper_for, score_dict

__all__ = ["NO_FACE", "face_rows", "load_image", "pil_pixels", "predict_image"]

#: ``status`` of an image, or a video frame, in which no face was found.
NO_FACE = "no face"


def load_image(image: str | os.PathLike | np.ndarray | Image.Image) -> tuple[np.ndarray, str]:
    """The image array and a name for it: a file is decoded, an array checked (``ImageDecodeError`` if not an image).

    An array must be what a decoded file is: gray (height, width), or BGR /
    BGRA (height, width, 3 or 4), not empty, in levels :func:`gray_levels` converts.
    A PIL image is taken as the array of its pixels (:func:`pil_pixels`).

    Raises
    ------
    ImageDecodeError
        If a file cannot be decoded, or an array is not one image.
    TypeError
        If ``image`` is none of a path, an array and a PIL image (a list, bytes).
    """
    if isinstance(image, Image.Image):
        return load_image(pil_pixels(image))[0], "<PIL image>"
    if not isinstance(image, (np.ndarray, str, os.PathLike)):
        hint = (" For several files use predict_paths; for one image's pixels, an array (np.asarray)."
                if isinstance(image, (list, tuple)) else "")
        raise TypeError(f"image must be a path (str or os.PathLike), a NumPy array (gray, BGR or BGRA, as "
                        f"cv2.imread returns) or a PIL image; got {type(image).__name__}.{hint}")
    if isinstance(image, np.ndarray):
        return gray_levels(one_image(image), "The image array"), "<array>"
    return decode_image(image), str(image)


def face_rows(
    model: FERModel, found: Sequence[tuple[dict, Sequence[tuple[Face, np.ndarray]], tuple[int, ...]]]
) -> list[dict]:
    """Classify the crops of several images in one batch; one row per face, or a ``no face`` row per image.

    Parameters
    ----------
    found : sequence of (base row, [(face, crop), ...], image shape)
        The base row (``source``, and ``frame``/``time_s`` for video) is
        copied into every row of its image. Each row's ``box`` is the face's
        box clipped to the image (``shape``'s height and width): a detector's
        box may reach past the image's edge, and is kept so for cutting a crop
        centred on the face, but rows give boxes in the image's pixels.
    """
    crops = [crop for _, pairs, _ in found for _, crop in pairs]
    if crops:
        labels, kind, scores = classify_crops(model, np.stack(crops))
    rows, k = [], 0
    for base, pairs, shape in found:
        if not pairs:
            rows.append({**base, "status": NO_FACE})
        for index, (face, _) in enumerate(pairs):
            rows.append({
                **base, "status": "ok", "face": index, "box": list(clip_box(face.box, shape[1], shape[0])),
                "detected": face.detected, "how": face.how,
                "label": str(labels[k]), "score_kind": kind, "scores": score_dict(model.classes, scores[k]),
            })
            k += 1
    return rows


def predict_image(
    model: FERModel,
    image: str | os.PathLike | np.ndarray | Image.Image,
    *,
    cropper: FaceCropper | None = None,
) -> list[dict]:
    """Find the faces of one photo and predict the expression of each.

    Parameters
    ----------
    model : FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model``.
    image : path, ndarray or PIL.Image.Image
        An image file, an array as OpenCV gives it (gray, BGR or BGRA;
        convert RGB arrays with ``image[..., ::-1]``), or a PIL image (its
        pixels as they are, through the same gray levels as an array; see
        :func:`pil_pixels`: its EXIF orientation is not applied).
    cropper : FaceCropper, optional
        Default: the one the model records (:func:`face_cropper_for`).

    Returns
    -------
    list of dict
        One per face, largest first: ``source``, ``status="ok"``, ``face``
        (index), ``box`` (``[x, y, width, height]`` in the image's pixels,
        clipped to the image where the face reaches past its edge), ``detected`` (False
        when the image was taken as a face crop), ``how`` (``found`` by the
        detector, ``crop``: taken as a face crop without a search, ``whole
        image``: searched, nothing found, taken whole under the cropper's
        ``fallback`` rule), ``label``, ``score_kind``
        (``probability`` or ``decision``) and ``scores`` (class → value).
        Without a face: one dict ``{"source": ..., "status": "no face"}``.

    Raises
    ------
    ImageDecodeError
        If ``image`` is a file that cannot be decoded, or an array that is
        not one image.
    TypeError
        If ``image`` is none of these (a nested list, bytes): naming what is
        accepted.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> rows = predict_image(model, astronaut()[..., ::-1])  # doctest: +SKIP
    >>> rows[0]["box"], rows[0]["label"]  # doctest: +SKIP
    ([170, 62, 106, 106], 'happy')
    """
    cropper = check_cropper(model, cropper) if cropper is not None else face_cropper_for(model)
    array, source = load_image(image)
    pairs = cropper.crop_faces(array)
    why = stretched(array, pairs, model.image_shape)
    if why:
        _warn_stretched([(source, why)], stacklevel=2)
    return face_rows(model, [({"source": source}, pairs, array.shape)])


def stretched(image: np.ndarray, pairs: Sequence[tuple[Face, np.ndarray]], size: tuple[int, int]) -> str | None:
    """Why ``image``, taken whole as a face, is too tiny or elongated to hold one (as the loaders warn), or None."""
    return next((_stretch(image.shape, size) for face, _ in pairs if not face.detected), None)
