"""OpenCV's YuNet DNN face detector, from a model file the user supplies."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from .._fileio import stat_regular_file
from ..exceptions import FaceDetectorError
from ._boxes import Face

__all__ = ["YuNetFaceDetector"]


class YuNetFaceDetector:
    """Face detection with ``cv2.FaceDetectorYN`` (YuNet), which also gives the eye centres.

    fer-classic ships no model file and never downloads one: pass the ONNX
    file from the OpenCV model zoo (``face_detection_yunet_2023mar.onnx``).

    Parameters
    ----------
    model_file : str or path
        The YuNet ONNX model.
    score_threshold : float, default=0.7
        Confidence a face needs.
    nms_threshold : float, default=0.3
        Overlap above which the weaker of two boxes is dropped.

    Raises
    ------
    FaceDetectorError
        If the file is missing or not a regular file (a folder, a FIFO), or
        OpenCV cannot build a detector from it.
    """

    def __init__(self, *, model_file: str | os.PathLike, score_threshold: float = 0.7, nms_threshold: float = 0.3):
        self.model_file = model_file
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        path = Path(model_file)
        if not os.path.exists(path):
            # A dangling link too: the regular-file check below said only "does not exist", without the advice.
            missing = (f"is a symbolic link to {os.readlink(path)}, which does not exist" if os.path.islink(path)
                       else "does not exist")
            raise FaceDetectorError(
                f"YuNet model file {path} {missing}; download face_detection_yunet_2023mar.onnx from "
                "the OpenCV model zoo (github.com/opencv/opencv_zoo) and pass its path, or use detector='haar' "
                "(on the command line: leave out --yunet)."
            )
        # A folder or a FIFO exists: "does not exist" was wrong (and OpenCV must never open a FIFO).
        stat_regular_file(path, what="YuNet model file", error=FaceDetectorError)
        if not hasattr(cv2, "FaceDetectorYN"):
            raise FaceDetectorError(f"This OpenCV ({cv2.__version__}) has no FaceDetectorYN; use detector='haar' "
                                    "(on the command line: leave out --yunet).")
        self._lock = threading.Lock()
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), float(score_threshold),
                                                  float(nms_threshold), 5000)
        except cv2.error as exc:
            raise FaceDetectorError(
                f"{path} is not a YuNet model OpenCV can load ({str(exc).strip().splitlines()[-1]}); "
                "pass the ONNX file of the OpenCV model zoo's face_detection_yunet."
            ) from exc

    #: Smallest face YuNet finds reliably, in pixels.
    window = 10

    def detect(self, image: np.ndarray, min_size: int, max_size: int | None = None) -> list[Face]:
        """Faces in an image (gray or BGR), ``min_size`` to ``max_size`` pixels wide, with eye centres.

        A face at the image's edge keeps YuNet's box, which may reach past
        any side (negative ``x``/``y``): the crop stays centred on the face
        (:class:`FaceCropper` repeats the border where the box leaves the image,
        and prediction rows report the box clipped to the image).

        Parameters
        ----------
        image : ndarray
            Gray ``(rows, cols)`` or BGR(A) ``(rows, cols, 3 or 4)``, uint8.
        min_size : int
            Smallest face side kept, in pixels.
        max_size : int, optional
            Largest face side kept; None or 0: no upper bound.

        Returns
        -------
        list of Face
            With YuNet's score and eye centres.

        Raises
        ------
        FaceDetectorError
            If OpenCV fails on the image.
        """
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[..., :3]
        with self._lock:  # loaders crop in threads: the input size and the detection go together
            try:
                self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
                _, rows = self._net.detect(np.ascontiguousarray(bgr))
            except cv2.error as exc:
                raise FaceDetectorError(
                    f"YuNet ({self.model_file}) failed on a {bgr.shape[1]}x{bgr.shape[0]} image: "
                    f"{str(exc).strip().splitlines()[-1]}. Shrink or drop the image."
                ) from exc
        faces = []
        for row in np.zeros((0, 15)) if rows is None else rows:
            x, y, w, h = (int(round(v)) for v in row[:4])
            if min(w, h) < min_size or (max_size and max(w, h) > max_size):
                continue
            eyes = sorted([(float(row[4]), float(row[5])), (float(row[6]), float(row[7]))])
            # The true box, as at the right and bottom edges: max(x, 0) kept the width and slid the box off the face.
            faces.append(Face((x, y, w, h), float(row[14]), (eyes[0], eyes[1])))
        return faces
