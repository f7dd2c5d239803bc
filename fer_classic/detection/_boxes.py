"""Face boxes: what a detector returns, and how boxes compare and grow."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CROP", "FOUND", "HOW", "WHOLE_IMAGE", "Face", "clip_box", "iou", "suppress_overlaps"]

Point = tuple[float, float]

#: ``Face.how`` of a box the detector found (in the image, or in its copy padded with a border).
FOUND = "found"
#: ``Face.how`` of an image taken as a face crop without a search (``detect=False``, or ``"auto"``'s size rule).
CROP = "crop"
#: ``Face.how`` of an image searched in vain and then taken whole (``FaceCropper``'s ``fallback="whole"``).
WHOLE_IMAGE = "whole image"
#: Every value of ``Face.how``.
HOW = (FOUND, CROP, WHOLE_IMAGE)


@dataclass(frozen=True)
class Face:
    """One face in an image.

    Parameters
    ----------
    box : (int, int, int, int)
        ``(x, y, width, height)`` in pixels of the image it was found in.
    score : float, optional
        Detector confidence (YuNet), or None (Haar cascades give none).
    eyes : ((float, float), (float, float)), optional
        Centres of the eyes, the one on the image's left first, when known.
    detected : bool, default=True
        False when the whole image was taken as the face (``how`` is not ``"found"``).
    how : {"found", "crop", "whole image"}, optional
        The rule that gave the box: ``"found"`` by the detector, ``"crop"``
        the image taken as a face crop without a search, ``"whole image"``
        the image taken whole after a search found nothing. Default:
        ``"found"`` if ``detected`` else ``"crop"``; when given, it sets
        ``detected`` (True only for ``"found"``).
    """

    box: tuple[int, int, int, int]
    score: float | None = None
    eyes: tuple[Point, Point] | None = None
    detected: bool = True
    how: str | None = None

    def __post_init__(self):
        # One source of truth: how decides detected, or is derived from it (older callers pass detected only).
        if self.how is None:
            object.__setattr__(self, "how", FOUND if self.detected else CROP)
        elif self.how not in HOW:
            raise ValueError(f"Face.how must be one of {', '.join(map(repr, HOW))}; got {self.how!r}.")
        else:
            object.__setattr__(self, "detected", self.how == FOUND)

    @property
    def area(self) -> int:
        """Pixels in the box."""
        return self.box[2] * self.box[3]

    def mapped(self, factor: float, dx: float = 0.0, dy: float = 0.0) -> Face:
        """The same face in coordinates ``factor`` times as large, then shifted by ``(dx, dy)``.

        Parameters
        ----------
        factor : float
            Scale of the new coordinates (2: an image twice as large).
        dx : float, default=0.0
            Added to x after scaling.
        dy : float, default=0.0
            Added to y after scaling.

        Returns
        -------
        Face
            The box (rounded to pixels) and eyes mapped; score, ``detected`` and ``how`` kept.
        """
        x, y, w, h = self.box
        box = (round(x * factor + dx), round(y * factor + dy), round(w * factor), round(h * factor))
        eyes = None if self.eyes is None else tuple((ex * factor + dx, ey * factor + dy) for ex, ey in self.eyes)
        return Face(box, self.score, eyes, self.detected, self.how)  # type: ignore[arg-type]

    def to_dict(self) -> dict:
        """JSON-ready ``box`` (list), ``score``, ``eyes``, ``detected`` and ``how``.

        Returns
        -------
        dict
            Those five keys; eyes rounded to 0.1 pixel (or None).
        """
        eyes = None if self.eyes is None else [[round(x, 1), round(y, 1)] for x, y in self.eyes]
        return {"box": list(self.box), "score": self.score, "eyes": eyes, "detected": self.detected, "how": self.how}


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x, y, width, height)`` boxes (0 when disjoint).

    Parameters
    ----------
    a, b : (float, float, float, float)
        The boxes.

    Returns
    -------
    float
        Between 0 and 1.

    Examples
    --------
    >>> iou((0, 0, 10, 10), (5, 0, 10, 10))
    0.3333333333333333
    """
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def clip_box(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """The part of an ``(x, y, width, height)`` box inside a ``width`` x ``height`` image (may be empty).

    Parameters
    ----------
    box : (int, int, int, int)
        ``(x, y, width, height)``; may reach past the image.
    width : int
        Image width in pixels.
    height : int
        Image height in pixels.

    Returns
    -------
    (int, int, int, int)
        The clipped box; its width or height is 0 when it lies outside the image.

    Examples
    --------
    >>> clip_box((-10, 5, 50, 50), 30, 40)
    (0, 5, 30, 35)
    """
    x0, y0 = min(max(box[0], 0), width), min(max(box[1], 0), height)
    x1, y1 = min(max(box[0] + box[2], 0), width), min(max(box[1] + box[3], 0), height)
    return x0, y0, x1 - x0, y1 - y0


def size_then_position(face: Face) -> tuple[int, int, int, int]:
    """Sort key of faces: largest first, then top to bottom, then left to right."""
    return -face.area, face.box[1], face.box[0], face.box[2]


def suppress_overlaps(faces: Iterable[Face], iou_threshold: float = 0.3, inside: float = 0.6) -> list[Face]:
    """Faces largest first, without those overlapping a larger one (non-maximum suppression by area).

    Faces of equal area come top to bottom, then left to right, whatever
    order the detector gave them in. A face is dropped when its intersection
    over union with a larger face kept exceeds ``iou_threshold``, or when
    more than ``inside`` of its own area lies inside one: a second box on the
    nose and mouth of a face found whole. The larger box wins, not the higher
    score: Haar boxes have none, and a part of a face scores no lower than the
    face.

    Parameters
    ----------
    faces : iterable of Face
        The candidates.
    iou_threshold : float, default=0.3
        Largest intersection over union with a kept face.
    inside : float, default=0.6
        Largest share of a face's area inside a kept face.

    Returns
    -------
    list of Face
        The faces kept, largest first.

    Examples
    --------
    >>> [f.box for f in suppress_overlaps([Face((30, 40, 40, 40)), Face((0, 0, 100, 100))])]
    [(0, 0, 100, 100)]
    """
    kept: list[Face] = []
    # Ties by position: OpenCV's multi-threaded detectMultiScale returns equal boxes in a varying order, so
    # two runs on one video gave its faces (and their tracks) in different orders.
    for face in sorted(faces, key=size_then_position):
        if all(iou(face.box, other.box) <= iou_threshold and _inside(face.box, other.box) <= inside
               for other in kept):
            kept.append(face)
    return kept


def _inside(small: tuple[int, int, int, int], big: tuple[int, int, int, int]) -> float:
    """Share of ``small``'s area inside ``big``."""
    width = min(small[0] + small[2], big[0] + big[2]) - max(small[0], big[0])
    height = min(small[1] + small[3], big[1] + big[3]) - max(small[1], big[1])
    area = small[2] * small[3]
    return width * height / area if width > 0 and height > 0 and area > 0 else 0.0
