"""FaceCropper: find faces in photos and crop them the way the model's training images were cropped."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._sklearn_compat import (
    Integral, Interval, InvalidParameterError, Real, SequenceOf, StrOptions, _fit_context,
)
from ..data._images import CROP_FACTOR, as_size, resize_gray, searched, to_gray
from ..exceptions import FaceDetectorError, ImageDecodeError, NoFaceError
from ._align import eye_angle, find_eyes
from ._boxes import CROP, WHOLE_IMAGE, Face, iou, size_then_position, suppress_overlaps
from ._haar import FRONTAL_FACE_CASCADE, HaarFaceDetector
from ._yunet import YuNetFaceDetector

__all__ = ["CROP_FACTOR", "PAD_FRACTION", "PORTRAIT_ASPECT", "WHOLE_ASPECT", "WHOLE_FACTOR", "FaceCropper",
           "pil_pixels"]

# CROP_FACTOR (``detect="auto"`` searches only images with a side beyond this many
# times the output's) lives with the loaders, which apply it before scikit-learn is imported.
#: An image in which no face is found is searched again inside a border of this
#: fraction of its longer side on every side: a face filling the frame (a tight
#: crop) fits no detector window otherwise. Of 600 FER2013 test faces enlarged to
#: 150 px the search found 58 %, and with a mid-gray border of 0.35 78 %; borders
#: of 0.25 or 0.5, or repeating the edge pixels, found up to 2 points fewer.
PAD_FRACTION = 0.35
# The border's gray: neutral, so it adds no edge the cascade could read as a face.
_PAD_GRAY = 127
# The padded search looks only for faces at least this fraction of the image's
# shorter side: smaller ones fitted in the first search.
_PAD_MIN_FACE = 0.3
# The border is PAD_FRACTION of the longer side, but of at most this many times the shorter
# side: a face filling the frame is no wider than about the shorter side, and a border of the
# longer side alone made the padded area grow with its square (a 1x100000 strip asked OpenCV
# for 118 GB). Photos up to 2:1 keep their border; the padded image stays within ~4x the image.
_PAD_MAX_ASPECT = 2
#: ``fallback="whole"`` takes a searched image without a face as one face crop when
#: its aspect ratio is within this factor of the output's ...
WHOLE_ASPECT = 1.25
#: ... and neither side exceeds this many times the output side (480 px for 48x48
#: models: FER2013, RAF-DB or AffectNet crops, not a camera's frames).
WHOLE_FACTOR = 10
#: Default ``portrait_aspect``: a searched image without a face that is up to this
#: many times taller (relative to the output's shape) is taken whole too, framed as
#: a face box of its height. Tight crops of a head with hair and chin are portrait
#: shaped (1.35 to 1.7 times taller than wide among the real photos the 1.25 rule
#: lost), and the cascade often misses them even inside the border; the bound leaves
#: a margin above that and stops short of 2:1 strips.
PORTRAIT_ASPECT = 1.8


_C_INT_MAX = 2**31 - 1


class InvalidCropperParameterError(FaceDetectorError, InvalidParameterError):
    """A FaceCropper parameter is invalid: a FaceDetectorError, and scikit-learn's InvalidParameterError."""


_gray = to_gray  # the loaders convert images they do not search the same way


class FaceCropper(TransformerMixin, BaseEstimator):
    """Find faces in images and cut each out as a grayscale image of the model's geometry.

    Configure it once and use it both on the training images and at
    prediction time (:func:`fer_classic.prediction.with_face_cropper` stores its
    parameters in the model): the crops then frame faces the same way.

    Parameters
    ----------
    detect : {"auto", True, False}, default="auto"
        ``True``: always search for faces. ``False``: every image is one face
        crop already (it is only converted to gray and resized). ``"auto"``:
        an image whose sides are both at most ``CROP_FACTOR`` (2) times the
        output sides (up to 96x96 for 48x48 models, e.g. FER2013's 48x48
        crops) is taken as a face crop; larger images are searched.
        Each face returned tells how it was found (:attr:`Face.how`).
    fallback : {"whole", "none"}, default="whole"
        What a searched image without a face gives. The search runs on the
        image, then (nothing found) on the image inside a mid-gray border of
        ``PAD_FRACTION`` (0.35) of its longer side (of at most twice its
        shorter side), for faces filling the frame. ``"whole"``: if still
        nothing, an image of at most ``WHOLE_FACTOR`` (10) times the output
        sides is taken whole as a face crop (``how="whole image"``) when it has
        roughly the output's shape (aspect ratio within ``WHOLE_ASPECT``,
        1.25, of it; resized whole, as the dataset loaders resize images) or
        is a portrait up to ``portrait_aspect`` times taller than the output
        (framed as a face box of its height, see ``portrait_aspect``). Most
        such images are face crops the cascade cannot read (turned,
        half-hidden or cut faces), but a small photo of that shape whose face
        is smaller than ``min_face_size``, or that shows none, is taken whole
        too. Wider images (camera frames are 4:3 or 16:9) never are.
        ``"none"``: no face (for scene photos, when no guess is wanted;
        video and webcam frames always use it).
    detector : {"haar", "yunet"}, default="haar"
        ``haar``: OpenCV's frontal-face Haar cascade, shipped in the OpenCV
        wheel. ``yunet``: OpenCV's DNN detector (``cv2.FaceDetectorYN``), more
        accurate on turned and small faces, with the model file given as
        ``detector_model`` (never downloaded).
    detector_model : str or path, optional
        ``yunet``: the ONNX model file (required). ``haar``: another cascade
        XML file (default, None: ``haarcascade_frontalface_alt2.xml``; an
        empty string is refused).
    faces : {"all", "largest"}, default="all"
        Which faces :meth:`crop_faces` returns (:meth:`transform` always takes
        the largest, one row per image). Overlapping boxes count as one face,
        the largest: a box overlapping a larger one with an intersection over
        union above 0.3, or lying more than 60 % inside it (a second box on
        the nose and mouth), is dropped.
    margin : float, default=0.0
        Added to each side of the detector's box, as a fraction of its width
        and height, -0.4 to 2 (negative values cut into it). The Haar box already frames
        a face as FER2013 does: on 441 of 600 FER2013 training images
        (enlarged 4x and padded) the cascade's box spans a median 96 % of the
        image side, centred; so 0 reproduces FER2013's framing.
    align : bool, default=False
        Rotate each crop about the box centre so the eyes are level (eye
        centres from YuNet, or OpenCV's ``haarcascade_eye``; crops whose eyes
        are not found are left unrotated).
    output_shape : int or (int, int), default=(48, 48)
        ``(height, width)`` of the crops: the model's geometry. The box is
        widened or heightened to this aspect ratio before cropping; parts
        outside the image repeat its border.
    min_face_size : int, default=48
        Smallest face searched, in pixels of the input image (default: the
        model's usual side; smaller faces would be enlarged into the crop).
        The image is searched at the scale where a face of this size fills
        the detector's smallest window (24 px for the Haar cascade), so
        ``min_face_size=48`` searches a 640x480 frame at 320x240: 4x fewer
        pixels. Larger values search faster; crops are always cut from the
        full-resolution image.
    scale_factor : float, default=1.1
        Haar: step between the scales searched, 1.01 to 10 (smaller: slower,
        finer; OpenCV fails below 1.01 on large images).
    min_neighbors : int, default=5
        Haar: overlapping hits a face needs (0 to 2**31 - 1, a C int).
    score_threshold : float, default=0.7
        YuNet: confidence a face needs, strictly between 0 and 1.
    portrait_aspect : float or None, default=1.8
        ``fallback="whole"``: a searched image without a face whose aspect
        ratio (height / width) is more than ``WHOLE_ASPECT`` and at most this
        many times the output's, and whose height is at most ``WHOLE_FACTOR``
        times the output height, is taken whole (``how="whole image"``): a
        tight portrait crop of a head, e.g. 104 px tall and 78 wide. It is
        framed like a detected face box of the image's height (a centred
        region of the output's aspect ratio, the sides repeating the image's
        border), not stretched: where the cascade did find the face in such
        crops (587 portrait cuts of real photos), that region matched the
        detector's crop (intersection over union 0.92) and stretching the
        whole image did not (0.71). ``None``: no portrait rule, as in
        fer-classic before it; models that recorded a cropper without this
        parameter, and croppers pickled before it, load with ``None``.

    Attributes
    ----------
    output_shape_ : (int, int)
        Validated ``(height, width)`` of the crops.
    n_features_out_ : int
        Pixels per row of :meth:`transform`.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> cropper = FaceCropper().fit()
    >>> [(face.box, crop.shape) for face, crop in cropper.crop_faces(astronaut()[..., ::-1])]
    [((170, 62, 106, 106), (48, 48))]
    """

    _parameter_constraints: dict = {
        "detect": [StrOptions({"auto"}), "boolean"],
        "fallback": [StrOptions({"whole", "none"})],
        "detector": [StrOptions({"haar", "yunet"})],
        "detector_model": [str, os.PathLike, None],
        "faces": [StrOptions({"all", "largest"})],
        "margin": [Interval(Real, -0.4, 2, closed="both")],
        "align": ["boolean"],
        # as_size's own minimum, 4 pixels a side
        "output_shape": [Interval(Integral, 4, None, closed="left"),
                         SequenceOf(Interval(Integral, 4, None, closed="left"), length=2)],
        "min_face_size": [Interval(Integral, 1, None, closed="left")],
        # What OpenCV's detectMultiScale runs on: below 1.01 the scales of a large image outgrow its
        # buffers (1.001 on 3000x3000: "Insufficient memory"; 1.0000001: "s >= 0"); steps of 2.5 to 50
        # search in about 0.1 s but skip most face sizes, and 1e9 fails (bad_alloc). OpenCV's examples
        # use 1.05 to 1.3.
        "scale_factor": [Interval(Real, 1.01, 10, closed="both")],
        "min_neighbors": [Interval(Integral, 0, _C_INT_MAX, closed="both")],  # a C int in OpenCV
        "score_threshold": [Interval(Real, 0, 1, closed="neither")],
        "portrait_aspect": [Interval(Real, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        detect: str | bool = "auto",
        fallback: str = "whole",
        detector: str = "haar",
        detector_model: str | os.PathLike | None = None,
        faces: str = "all",
        margin: float = 0.0,
        align: bool = False,
        output_shape: int | tuple[int, int] = (48, 48),
        min_face_size: int = 48,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        score_threshold: float = 0.7,
        portrait_aspect: float | None = PORTRAIT_ASPECT,
    ):
        self.detect = detect
        self.fallback = fallback
        self.detector = detector
        self.detector_model = detector_model
        self.faces = faces
        self.margin = margin
        self.align = align
        self.output_shape = output_shape
        self.min_face_size = min_face_size
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.score_threshold = score_threshold
        self.portrait_aspect = portrait_aspect

    # -- fitting: parameters only ------------------------------------------------------------

    def _validate_params(self) -> None:
        # Called once by _fit_context; a bad parameter is a FaceDetectorError too (the CLI's clean error).
        try:
            super()._validate_params()
        except InvalidParameterError as exc:
            raise InvalidCropperParameterError(str(exc)) from None
        if isinstance(self.detector_model, str) and not self.detector_model.strip():
            # '' was taken as None (the default cascade): an unset variable must not pass silently.
            raise InvalidCropperParameterError(
                f"The 'detector_model' parameter of FaceCropper is an empty string ({self.detector_model!r}); pass "
                "the path of a model file (a Haar cascade XML, or the YuNet ONNX file), or None for the default "
                "Haar cascade."
            )
        if self.detector == "yunet" and self.detector_model is None:
            raise FaceDetectorError(
                "detector='yunet' needs detector_model, the path of the YuNet ONNX file "
                "(face_detection_yunet_2023mar.onnx from the OpenCV model zoo); or use detector='haar'."
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Validate the parameters and build the detector; nothing is learned from ``X``.

        Parameters
        ----------
        X : None
            Ignored.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted cropper.

        Raises
        ------
        FaceDetectorError
            If a parameter is invalid or the detector's model file is missing.
        """
        self.output_shape_ = as_size(self.output_shape)
        self.n_features_out_ = self.output_shape_[0] * self.output_shape_[1]
        self.__dict__.pop("_detector", None)
        self._face_detector()
        return self

    def _face_detector(self) -> HaarFaceDetector | YuNetFaceDetector:
        # OpenCV detectors cannot be pickled: built on first use, dropped by __getstate__.
        if "_detector" not in self.__dict__:
            if self.detector == "yunet":
                self._detector = YuNetFaceDetector(model_file=self.detector_model,
                                                   score_threshold=self.score_threshold)
            else:
                self._detector = HaarFaceDetector(
                    cascade=self.detector_model or FRONTAL_FACE_CASCADE,
                    scale_factor=self.scale_factor, min_neighbors=self.min_neighbors,
                )
        return self._detector

    def __getstate__(self):
        state = dict(super().__getstate__())  # Python 3.11+: the instance's own __dict__, not a copy
        state.pop("_detector", None)
        return state

    def __setstate__(self, state):
        # Croppers pickled before portrait_aspect existed keep the rule they were saved with.
        state = dict(state)
        state.setdefault("portrait_aspect", None)
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A sequence of images of any size (gray, BGR or BGRA), or a 3-D array of gray
        # images: not rows of features. Out come uint8 rows, whatever came in.
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    # -- detection and cropping ----------------------------------------------------------------

    def needs_detection(self, shape: tuple[int, ...]) -> bool:
        """Whether an image of ``shape`` is searched for faces (see ``detect``).

        Parameters
        ----------
        shape : tuple of int
            The image's shape, ``(rows, cols[, channels])``.

        Returns
        -------
        bool
            True if :meth:`find_faces` runs the detector on it; False if it is cropped as it is.
        """
        check_is_fitted(self)
        return self._needs_detection(shape)

    # The public methods check once that the cropper is fitted, then run these: the loaders call
    # crop_faces on every image, where four checks took a fifth of a small face's decoding.
    def _needs_detection(self, shape: tuple[int, ...]) -> bool:
        return searched(shape, self.detect, self.output_shape_)

    def takes_whole(self, shape: tuple[int, ...]) -> bool:
        """Whether a searched image of ``shape`` without a face is taken whole (see ``fallback``).

        Parameters
        ----------
        shape : tuple of int
            The image's shape, ``(rows, cols[, channels])``.

        Returns
        -------
        bool
            True if such an image becomes one face, its whole area (``how="whole image"``).
        """
        check_is_fitted(self)
        return self._takes_whole(shape)

    def _takes_whole(self, shape: tuple[int, ...]) -> bool:
        if self.fallback == "none":
            return False
        (rows, cols), (out_rows, out_cols) = shape[:2], self.output_shape_
        if min(rows, cols) < 1 or rows > WHOLE_FACTOR * out_rows or cols > WHOLE_FACTOR * out_cols:
            return False
        ratio = (rows / cols) / (out_rows / out_cols)
        return max(ratio, 1 / ratio) <= WHOLE_ASPECT or self._portrait(rows, cols)

    def _portrait(self, rows: int, cols: int) -> bool:
        """Whether a whole image of ``rows`` x ``cols`` falls under the portrait rule (see ``portrait_aspect``)."""
        if self.portrait_aspect is None or min(rows, cols) < 1:
            return False
        ratio = (rows / cols) / (self.output_shape_[0] / self.output_shape_[1])
        return WHOLE_ASPECT < ratio <= self.portrait_aspect

    def find_faces(self, image: np.ndarray) -> list[Face]:
        """Faces in ``image`` (gray, BGR or BGRA), largest first, in its pixel coordinates.

        A face at the image's edge keeps the detector's box, which may reach
        past the edge (negative ``x``/``y``, or beyond the far side), so that
        its crop is centred on the face (the crop repeats the image's border);
        prediction rows report the box clipped to the image.

        An image not searched (see :meth:`needs_detection`) is one face: its
        whole area, with ``how="crop"``. A searched one gives the faces found
        (``how="found"``; overlapping boxes merged, the largest kept), else
        those found inside a border, else possibly its whole area with
        ``how="whole image"`` (see ``fallback``). An empty list means no face.

        Parameters
        ----------
        image : ndarray
            Gray ``(rows, cols)``, BGR or BGRA ``(rows, cols, 3 or 4)``.

        Returns
        -------
        list of Face
            Largest first; empty when there is no face.
        """
        check_is_fitted(self)
        return self._find_faces(_pixels(image))

    def _find_faces(self, image: np.ndarray) -> list[Face]:
        image = np.asarray(image)
        whole = (0, 0, image.shape[1], image.shape[0])
        if not self._needs_detection(image.shape):
            return [Face(whole, how=CROP)]
        faces = self._search(image, self.min_face_size) or self._search_padded(image)
        if not faces and self._takes_whole(image.shape):
            return [Face(whole, how=WHOLE_IMAGE)]
        return self._select(faces)

    def _search_padded(self, image: np.ndarray) -> list[Face]:
        """Faces filling most of ``image``: searched inside a gray border; boxes in ``image``'s coordinates, which
        may reach past its edge (the crop repeats its border)."""
        rows, cols = image.shape[:2]
        detector = self._face_detector()
        min_size = max(self.min_face_size, round(_PAD_MIN_FACE * min(rows, cols)))
        scale = min(1.0, detector.window / min_size)
        source = image if isinstance(detector, YuNetFaceDetector) and image.ndim == 3 else _gray(image)
        if scale < 1.0:  # shrunk before the border is added: bordering a full-size photo copies it for nothing
            size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
            source = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
        longer, shorter = max(source.shape[:2]), min(source.shape[:2])
        pad = max(1, round(PAD_FRACTION * min(longer, _PAD_MAX_ASPECT * shorter)))
        padded = cv2.copyMakeBorder(source, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(_PAD_GRAY,) * 4)
        faces = []
        for face in self._search(padded, max(1, round(min_size * scale))):
            face = face.mapped(1 / scale, -pad / scale, -pad / scale)
            x, y, w, h = face.box
            # A box centred on the border is no face. One centred in the image is kept whole, as the direct
            # search keeps it: clipped, a face at the edge was cropped off-centre (prediction rows clip it).
            if 0 <= x + w / 2 < cols and 0 <= y + h / 2 < rows:
                faces.append(face)
        return faces

    def find_faces_near(self, image: np.ndarray, boxes: Iterable[tuple[int, int, int, int]]) -> list[Face]:
        """Faces close to ``boxes`` (those of the previous video frame), largest first.

        Around each box, a region 2 box sides wide is searched for faces
        0.6 to 1.6 times its size: a small fraction of a full search, for
        following faces from frame to frame. Faces found twice (overlapping
        regions) count once. New faces elsewhere are not found: search the
        whole frame with :meth:`find_faces` from time to time. There is no
        search inside a border and no ``fallback`` here: a face lost gives [].
        Regions are clipped to the image; a box of width or height 0, or
        wholly outside the image, is skipped.

        Parameters
        ----------
        image : ndarray
            Gray ``(rows, cols)``, BGR or BGRA ``(rows, cols, 3 or 4)``.
        boxes : iterable of (x, y, w, h)
            Face boxes of the previous frame, in pixels.

        Returns
        -------
        list of Face
            Largest first; ``[]`` when no face is near any box.
        """
        check_is_fitted(self)
        image = np.asarray(_pixels(image))
        if not self._needs_detection(image.shape):
            return self._find_faces(image)
        found: list[Face] = []
        rows, cols = image.shape[:2]
        for x, y, w, h in boxes:
            side = max(w, h)
            # Clipped to the frame (a negative end would slice from the far side); a box of no area or
            # wholly outside (a track leaving the frame) has no region and is skipped.
            x0, x1 = (min(max(0, round(v)), cols) for v in (x - side / 2, x + w + side / 2))
            y0, y1 = (min(max(0, round(v)), rows) for v in (y - side / 2, y + h + side / 2))
            if min(w, h) <= 0 or x1 <= x0 or y1 <= y0:
                continue
            region = image[y0:y1, x0:x1]
            # Reading order among equal boxes, as suppress_overlaps: the detector's order varies between runs.
            for face in sorted(self._search(region, max(1, round(0.6 * side)), round(1.6 * side)),
                               key=size_then_position):
                face = face.mapped(1.0, x0, y0)
                if all(iou(face.box, other.box) < 0.5 for other in found):
                    found.append(face)
        return self._select(found)

    def _search(self, image: np.ndarray, min_size: int, max_size: int | None = None) -> list[Face]:
        """Detector run on ``image`` reduced so that ``min_size`` maps to the detector's smallest window."""
        detector = self._face_detector()
        source = image if isinstance(detector, YuNetFaceDetector) and image.ndim == 3 else _gray(image)
        scale = min(1.0, detector.window / min_size)
        if scale < 1.0:
            size = (max(1, round(source.shape[1] * scale)), max(1, round(source.shape[0] * scale)))
            source = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
        largest = round(max_size * scale) if max_size else None
        return [face.mapped(1 / scale) for face in detector.detect(source, round(min_size * scale), largest)]

    def _select(self, faces: list[Face]) -> list[Face]:
        faces = suppress_overlaps(faces)  # largest first; one box per face
        return faces[:1] if self.faces == "largest" else faces

    def _region(self, face: Face) -> tuple[float, float, float, float]:
        """Centre and size (cx, cy, width, height) of the crop around a face."""
        x, y, w, h = face.box
        if not face.detected and not (face.how == WHOLE_IMAGE and self._portrait(h, w)):
            return x + w / 2, y + h / 2, float(w), float(h)  # the whole image, as the loaders resize it
        # A portrait taken whole is framed as a face box of its height (no margin: it is no detector box).
        grow = 1 + 2 * self.margin if face.detected else 1.0
        width, height = w * grow, h * grow
        aspect = self.output_shape_[0] / self.output_shape_[1]
        if height / width < aspect:
            height = width * aspect
        else:
            width = height / aspect
        return x + w / 2, y + h / 2, width, height

    def crop(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The crop of one face: uint8 gray of ``output_shape_``.

        With ``align=True`` the crop is rotated about the box centre so the
        eyes (``face.eyes``, else searched with the eye cascade) are level.

        Parameters
        ----------
        image : ndarray
            The image ``face`` was found in (gray, BGR or BGRA).
        face : Face
            From :meth:`find_faces` or :meth:`find_faces_near`.

        Returns
        -------
        ndarray of shape ``output_shape_``
            uint8 gray crop.
        """
        check_is_fitted(self)
        return self._crop(_gray(_pixels(image)), face)

    def _crop(self, gray: np.ndarray, face: Face) -> np.ndarray:
        cx, cy, width, height = self._region(face)
        size = (max(1, round(width)), max(1, round(height)))
        eyes = face.eyes
        if self.align and face.detected and eyes is None:
            eyes = find_eyes(gray, face.box)
        angle = eye_angle(eyes) if self.align and face.detected and eyes is not None else 0.0
        if abs(angle) >= 0.5:
            matrix = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
            matrix[:, 2] += (size[0] / 2 - cx, size[1] / 2 - cy)
            region = cv2.warpAffine(gray, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        else:
            x0, y0 = round(cx - size[0] / 2), round(cy - size[1] / 2)
            region = _cut(gray, x0, y0, *size)
        return resize_gray(region, self.output_shape_)

    def crop_faces(
        self, image: np.ndarray, near: Iterable[tuple[int, int, int, int]] | None = None
    ) -> list[tuple[Face, np.ndarray]]:
        """``(face, crop)`` for every face found (the largest only with ``faces="largest"``).

        Parameters
        ----------
        image : ndarray
            Gray ``(rows, cols)``, BGR or BGRA ``(rows, cols, 3 or 4)``.
        near : iterable of (x, y, w, h), optional
            Boxes of the previous video frame, to search only around them
            (:meth:`find_faces_near`); None searches the whole image.

        Returns
        -------
        list of (Face, ndarray)
            Each face and its uint8 gray crop of ``output_shape_``; empty when there is no face.
        """
        check_is_fitted(self)
        return self._crop_faces(_pixels(image), near)

    def _crop_faces(self, image: np.ndarray, near=None) -> list[tuple[Face, np.ndarray]]:
        # crop_faces without the fitted check: loaders call it once per image of a fitted copy.
        gray = _gray(image)  # converted once: the cascade and the crops both take it
        source = image if self.detector == "yunet" else gray
        try:
            faces = self._find_faces(source) if near is None else self.find_faces_near(source, near)
            return [(face, self._crop(gray, face)) for face in faces]
        except cv2.error as exc:  # resizing or bordering (the detectors name their own failures)
            raise FaceDetectorError(
                f"Cropping faces from a {gray.shape[1]}x{gray.shape[0]} image failed in OpenCV: "
                f"{str(exc).strip().splitlines()[-1]}; shrink or drop the image."
            ) from exc

    def transform(self, X: Iterable[np.ndarray]) -> np.ndarray:
        """Rows of the largest face of each image: uint8, shape (n_images, height * width).

        ``X`` is a sequence of images of any size (gray, BGR or BGRA, or
        PIL images, converted by :func:`pil_pixels` as ``predict_image``
        converts them), or a 3-D array of gray images. The rows feed a
        fer-classic pipeline.

        Parameters
        ----------
        X : sequence of images or ndarray of shape (n_images, rows, cols)
            The images to crop.

        Returns
        -------
        ndarray of shape (n_images, height * width)
            uint8 rows of the largest face of each image.

        Raises
        ------
        NoFaceError
            If any image has no face, naming which (drop them first: an empty
            :meth:`find_faces` tells which; or pass ``detect=False`` for
            images that already are face crops).
        ImageDecodeError
            If an item is not one image (empty, a batch, 2 or 5 channels),
            naming its shape, or ``X`` is one image (gray, or a colour
            array whose last axis is 3 or 4): pass ``[image]``.
        TypeError
            If ``X`` or an item is a file path (read it first), or ``X`` is
            one PIL image (pass ``[image]``).
        """
        check_is_fitted(self)
        rows, missing = [], []
        for i, image in enumerate(_image_sequence(X)):
            if isinstance(image, (str, bytes, os.PathLike)):
                raise TypeError(f"X[{i}] is a path ({image!r}); FaceCropper.transform takes image arrays: read "
                                "files with fer_classic.data.decode_image (or cv2.imread) first.")
            found = self.crop_faces(image)
            if found:
                rows.append(max(found, key=lambda pair: pair[0].area)[1].ravel())
            else:
                missing.append(i)
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            raise NoFaceError(
                f"No face found in {len(missing)} of {len(missing) + len(rows)} images (index {shown}) by the "
                f"{self.detector} detector; drop those images (FaceCropper.find_faces returns [] for them), "
                "lower min_neighbors / min_face_size, or pass detect=False for images that are face crops."
            )
        return np.stack(rows) if rows else np.empty((0, self.n_features_out_), dtype=np.uint8)

    # -- storing the configuration -----------------------------------------------------------------

    def to_metadata(self) -> dict:
        """JSON-ready parameters (paths as strings), for a model's metadata.

        Returns
        -------
        dict
            :meth:`get_params`, with ``output_shape`` a list and ``detector_model`` a string.
        """
        params = self.get_params()
        params["output_shape"] = list(as_size(params["output_shape"]))
        if params["detector_model"] is not None:
            params["detector_model"] = str(Path(params["detector_model"]))
        return params

    @classmethod
    def from_metadata(cls, params: dict) -> FaceCropper:
        """An unfitted cropper from :meth:`to_metadata`'s output.

        Parameters
        ----------
        params : dict
            What :meth:`to_metadata` returned.

        Returns
        -------
        FaceCropper
            Unfitted; call :meth:`fit` before use.

        Raises
        ------
        FaceDetectorError
            If ``params`` names a parameter FaceCropper does not have.
        """
        unknown = set(params) - set(cls().get_params())
        if unknown:
            raise FaceDetectorError(
                f"Stored face cropper parameters {sorted(unknown)} are unknown to this fer-classic; "
                "upgrade fer-classic, or store a new cropper with fer_classic.prediction.with_face_cropper."
            )
        # Models saved before the portrait rule existed keep the rule they recorded.
        params = {"portrait_aspect": None, **params}
        if "output_shape" in params:
            params["output_shape"] = tuple(params["output_shape"])
        return cls(**params)


def pil_pixels(image: Image.Image) -> np.ndarray:
    """A PIL image's pixels as OpenCV would hold them: gray levels as they are, colour as BGR or BGRA.

    Gray modes (``1``, ``L``, ``I``, ``I;16``, ``F``) keep their values for
    :func:`gray_levels` to convert, as an array's; other modes are converted
    to RGB (RGBA where there is transparency) and their channels reversed.
    The pixels are taken as they are: an EXIF orientation is not applied
    (``PIL.ImageOps.exif_transpose`` does; a file path is read upright).
    """
    if image.mode in ("1", "L", "I", "F") or image.mode.startswith("I;16"):
        return np.asarray(image)
    if image.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in image.info:
        return np.asarray(image.convert("RGBA"))[..., [2, 1, 0, 3]]
    return np.asarray(image.convert("RGB"))[..., ::-1]


def _pixels(image):
    """``image`` itself, or a PIL image's pixels as OpenCV holds them (:func:`pil_pixels`): its RGB read as BGR."""
    return pil_pixels(image) if isinstance(image, Image.Image) else image


def _image_sequence(X):
    """``X`` if it can be a sequence of images; one image, or a path, is refused with what to pass instead."""
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError(f"X is a path ({X!r}); FaceCropper.transform takes a sequence of image arrays: read the "
                        "file with fer_classic.data.decode_image (or cv2.imread) and pass transform([image]).")
    if isinstance(X, Image.Image):  # iterated, it gave its pixels one by one
        raise TypeError("X is one PIL image, not a sequence of images; pass a list of images: transform([image]).")
    shape = np.shape(X) if isinstance(X, np.ndarray) else ()
    # Iterated, one colour image gave rows of its pixel rows (48 gray "images" of 48x3), a gray one its pixels.
    if len(shape) == 2 or (len(shape) == 3 and shape[2] in (3, 4)):
        raise ImageDecodeError(
            f"X has shape {shape}: one {'gray' if len(shape) == 2 else 'colour'} image, not a sequence of images; "
            "pass a list of images: transform([image]). (A 3-D array of gray images is (n_images, height, width).)"
        )
    return X


def _cut(gray: np.ndarray, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """``gray[y0:y0+height, x0:x0+width]``, repeating the border where the region leaves the image."""
    rows, cols = gray.shape
    inside = gray[max(y0, 0) : max(min(y0 + height, rows), 0), max(x0, 0) : max(min(x0 + width, cols), 0)]
    pads = (max(-y0, 0), max(y0 + height - rows, 0), max(-x0, 0), max(x0 + width - cols, 0))
    if not any(pads):
        return inside
    if inside.size == 0:  # the region lies wholly outside: nearest border pixel everywhere
        ys = np.clip(np.arange(y0, y0 + height), 0, rows - 1)
        xs = np.clip(np.arange(x0, x0 + width), 0, cols - 1)
        return gray[np.ix_(ys, xs)]
    return cv2.copyMakeBorder(inside, *pads, borderType=cv2.BORDER_REPLICATE)
