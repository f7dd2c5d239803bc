"""Face boxes: what a detector returns, and how boxes compare and grow."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Face", "iou"]

Point = tuple[float, float]


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
        False when the whole image was taken as the face (detection skipped).
    """

    box: tuple[int, int, int, int]
    score: float | None = None
    eyes: tuple[Point, Point] | None = None
    detected: bool = True

    @property
    def area(self) -> int:
        """Pixels in the box."""
        return self.box[2] * self.box[3]

    def mapped(self, factor: float, dx: float = 0.0, dy: float = 0.0) -> Face:
        """The same face in coordinates ``factor`` times as large, then shifted by ``(dx, dy)``."""
        x, y, w, h = self.box
        box = (round(x * factor + dx), round(y * factor + dy), round(w * factor), round(h * factor))
        eyes = None if self.eyes is None else tuple((ex * factor + dx, ey * factor + dy) for ex, ey in self.eyes)
        return Face(box, self.score, eyes, self.detected)  # type: ignore[arg-type]

    def to_dict(self) -> dict:
        """JSON-ready ``box`` (list), ``score``, ``eyes`` and ``detected``."""
        eyes = None if self.eyes is None else [[round(x, 1), round(y, 1)] for x, y in self.eyes]
        return {"box": list(self.box), "score": self.score, "eyes": eyes, "detected": self.detected}


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x, y, width, height)`` boxes (0 when disjoint).

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
