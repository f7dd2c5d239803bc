"""OpenCV's Haar cascade face detector, with the cascades shipped inside the OpenCV wheel."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from ..exceptions import FaceDetectorError
from ._boxes import Face

__all__ = ["FRONTAL_FACE_CASCADE", "EYE_CASCADE", "HaarFaceDetector", "load_cascade"]

#: File names (in ``cv2.data.haarcascades``) of the cascades used by default. ``alt2`` rather
#: than ``default``: on 30 textured 640x480 frames of skimage's astronaut it gave no false
#: face where ``default`` gave 8, and it found more of 300 FER2013 test faces (78 % against
#: 75 %, 60 px faces padded to 320x240) at the same speed.
FRONTAL_FACE_CASCADE = "haarcascade_frontalface_alt2.xml"
EYE_CASCADE = "haarcascade_eye.xml"


def _cascade_path(name: str | os.PathLike) -> Path:
    path = Path(name)
    if path.is_file():
        return path
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder and (Path(folder) / path.name).is_file() and path.name == str(name):
        return Path(folder) / path.name
    raise FaceDetectorError(
        f"Haar cascade {str(name)!r} not found (neither a file nor one of the cascades in "
        f"{folder or 'cv2.data.haarcascades (missing in this OpenCV)'}). The OpenCV 4.x wheels ship them: "
        "pip install 'opencv-python-headless>=4.8,<5' (5.x dropped them), or pass the path of a cascade XML file."
    )


# One classifier per file and thread: a CascadeClassifier shared by threads fails in
# detectMultiScale (OpenCV 4.14: "Assertion failed ... getScaleData", seen with the
# dataset loaders' decoding threads), and OpenCV does not document it as thread-safe.
_PER_THREAD = threading.local()


def _load(path: str) -> cv2.CascadeClassifier:
    try:
        cascade = cv2.CascadeClassifier(path)
    except (cv2.error, SystemError) as exc:  # OpenCV raises on files that are no XML at all
        raise FaceDetectorError(f"{path} is not a readable OpenCV cascade XML file; pass a Haar cascade file.") from exc
    if cascade.empty():
        raise FaceDetectorError(f"{path} is not a readable OpenCV cascade XML file; pass a Haar cascade file.")
    return cascade


def load_cascade(name: str | os.PathLike) -> cv2.CascadeClassifier:
    """Load (once per thread) a cascade: a file path, or a file name in ``cv2.data.haarcascades``.

    Each thread gets its own classifier: they are not safe to share across threads.

    Parameters
    ----------
    name : str or path
        A cascade XML file, or a file name of OpenCV's (``haarcascade_frontalface_alt2.xml``).

    Returns
    -------
    cv2.CascadeClassifier
        This thread's classifier for that file.

    Raises
    ------
    FaceDetectorError
        If the file does not exist or is not a cascade.
    """
    return _cached(str(_cascade_path(name)))


def _cached(path: str) -> cv2.CascadeClassifier:
    loaded = _PER_THREAD.__dict__.setdefault("cascades", {})
    if path not in loaded:
        loaded[path] = _load(path)
    return loaded[path]


class HaarFaceDetector:
    """Viola-Jones face detection with an OpenCV Haar cascade.

    Parameters
    ----------
    cascade : str or path, default=FRONTAL_FACE_CASCADE
        Cascade XML file, or the name of one shipped in ``cv2.data.haarcascades``.
    scale_factor : float, default=1.1
        Step between the scales searched (``detectMultiScale``'s ``scaleFactor``).
    min_neighbors : int, default=5
        Overlapping hits a face needs (higher: fewer false faces, more misses).
    """

    def __init__(self, *, cascade: str | os.PathLike = FRONTAL_FACE_CASCADE, scale_factor: float = 1.1,
                 min_neighbors: int = 5):
        self.cascade = cascade
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self._path = str(_cascade_path(cascade))
        _cached(self._path)  # a missing or broken file is refused here

    @property
    def _classifier(self) -> cv2.CascadeClassifier:
        # Looked up on every use: the calling thread's own classifier, and a fresh one after a failure.
        return _cached(self._path)

    @property
    def window(self) -> int:
        """Smallest face the cascade finds, in pixels (its training window, 20 or 24)."""
        return int(min(self._classifier.getOriginalWindowSize()))

    def detect(self, gray: np.ndarray, min_size: int, max_size: int | None = None) -> list[Face]:
        """Faces in an 8-bit grayscale image, ``min_size`` to ``max_size`` pixels wide.

        Parameters
        ----------
        gray : ndarray of shape (rows, cols)
            uint8 grayscale image.
        min_size : int
            Smallest face side searched, in pixels (at least 1).
        max_size : int, optional
            Largest face side; None or 0: no upper bound.

        Returns
        -------
        list of Face
            One per box the cascade found, in its order (no score, no eyes).

        Raises
        ------
        FaceDetectorError
            If OpenCV fails on the image.
        """
        side = max(1, int(min_size))
        largest = (int(max_size), int(max_size)) if max_size else (0, 0)  # (0, 0): no upper bound
        try:
            boxes = self._classifier.detectMultiScale(
                gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(side, side),
                maxSize=largest,
            )
        except cv2.error as exc:
            # A CascadeClassifier that failed once fails on every later image (OpenCV 4.14): dropped, so
            # the next detection, by this detector or any other of the thread, loads a fresh one.
            _PER_THREAD.cascades.pop(self._path, None)
            raise FaceDetectorError(
                f"The Haar cascade failed on a {gray.shape[1]}x{gray.shape[0]} image (scale_factor="
                f"{self.scale_factor}, min_neighbors={self.min_neighbors}): {str(exc).strip().splitlines()[-1]}. "
                "Check those parameters, or shrink or drop the image."
            ) from exc
        return [Face(tuple(int(v) for v in box)) for box in np.asarray(boxes).reshape(-1, 4)]
