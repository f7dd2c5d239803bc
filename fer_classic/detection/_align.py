"""Eye-based alignment: find the eyes in a face box, and the rotation that levels them."""

from __future__ import annotations

import math

import cv2
import numpy as np

from ._boxes import Point
from ._haar import EYE_CASCADE, load_cascade

__all__ = ["MAX_TILT", "eye_angle", "find_eyes"]

#: Tilts (degrees) beyond this are taken as a wrong eye pair, and not corrected.
MAX_TILT = 30.0
# The upper part of a face box searched for eyes, and the width it is scaled to.
_EYE_BAND = 0.6
_SEARCH_WIDTH = 120


def eye_angle(eyes: tuple[Point, Point]) -> float:
    """Angle in degrees of the line from the left to the right eye (positive: right eye lower).

    Rotating the image by this angle about any point (``cv2.getRotationMatrix2D``
    turns counter-clockwise on screen for positive angles) levels the eyes.

    Parameters
    ----------
    eyes : ((float, float), (float, float))
        The two eye centres ``(x, y)``, in either order.

    Returns
    -------
    float
        Degrees, between -90 and 90.
    """
    (x1, y1), (x2, y2) = sorted(eyes)
    return math.degrees(math.atan2(y2 - y1, x2 - x1))


def find_eyes(gray: np.ndarray, box: tuple[int, int, int, int]) -> tuple[Point, Point] | None:
    """Centres of the two eyes inside a face box, image's left eye first, or None.

    The upper 60 % of the box, scaled to 120 pixels wide, is searched with
    OpenCV's ``haarcascade_eye``; the largest hit in each half of the box is
    taken. None when either half has no hit, or when the pair is tilted by
    more than :data:`MAX_TILT` degrees (more likely a nostril or an eyebrow).

    Parameters
    ----------
    gray : ndarray of shape (rows, cols)
        uint8 grayscale image.
    box : (int, int, int, int)
        The face's ``(x, y, w, h)`` box in ``gray``.

    Returns
    -------
    ((float, float), (float, float)) or None
        The eye centres in ``gray``'s pixels, the image's left one first; None when not found.
    """
    x, y, w, h = box
    x0, y0 = max(x, 0), max(y, 0)
    band = gray[y0 : y + int(h * _EYE_BAND), x0 : x + w]
    if band.size == 0 or band.shape[1] < 8:
        return None
    scale = _SEARCH_WIDTH / band.shape[1]
    small = cv2.resize(band, (_SEARCH_WIDTH, max(1, round(band.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    hits = load_cascade(EYE_CASCADE).detectMultiScale(small, 1.1, 3, minSize=(12, 12), maxSize=(60, 60))
    halves: list[list] = [[], []]
    for ex, ey, ew, eh in np.asarray(hits).reshape(-1, 4):
        centre = (ex + ew / 2, ey + eh / 2)
        halves[int(centre[0] >= _SEARCH_WIDTH / 2)].append((ew * eh, centre))
    if not all(halves):
        return None
    left, right = (max(half)[1] for half in halves)
    eyes = tuple((float(x0 + cx / scale), float(y0 + cy / scale)) for cx, cy in (left, right))
    return eyes if abs(eye_angle(eyes)) <= MAX_TILT else None  # type: ignore[return-value]
