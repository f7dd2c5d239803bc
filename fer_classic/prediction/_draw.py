"""Drawing face boxes and labels on images and video frames."""

from __future__ import annotations

import cv2
import numpy as np

from ..data._levels import gray_levels

__all__ = ["draw_faces"]

_BOX = (0, 200, 0)
_TEXT = (255, 255, 255)


def draw_faces(image: np.ndarray, rows: list[dict]) -> np.ndarray:
    """A BGR copy of ``image`` with each face's box and label drawn.

    The label is the track's smoothed label where the row has one (video),
    else the face's own; with probabilities its value is shown too. It is
    drawn inside the image: above the box, else below it, else at the
    image's bottom, and moved left where it would pass the right edge.

    Parameters
    ----------
    image : ndarray
        Gray, BGR or BGRA image (not changed).
    rows : list of dict
        Prediction rows of this image (``box``, ``label``, ``status``...);
        rows not ``"ok"`` are not drawn.

    Returns
    -------
    ndarray of shape (height, width, 3)
        The annotated BGR copy.
    """
    image = gray_levels(image)
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[..., :3].copy()
    for row in rows:
        if row.get("status") != "ok":
            continue
        x, y, w, h = row["box"]
        label = row.get("smoothed_label") or row["label"]
        if row.get("score_kind") == "probability":
            label += f" {row['scores'][label]:.2f}"
        thickness = max(1, round(w / 60))
        scale = max(0.4, w / 200)
        cv2.rectangle(canvas, (x, y), (x + w, y + h), _BOX, thickness)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        # The label inside the image: above the box, else below it, else at the image's bottom; shifted left
        # from the right edge (a face at an edge, or a whole-image crop, had it cut off or not drawn at all).
        rows, cols = canvas.shape[:2]
        tall = th + base + 4
        top = y - tall if y - tall >= 0 else max(0, min(y + h, rows - tall))
        left = max(0, min(x, cols - tw - 4))
        cv2.rectangle(canvas, (left, top), (left + tw + 4, top + tall), _BOX, cv2.FILLED)
        cv2.putText(canvas, label, (left + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, _TEXT, thickness,
                    cv2.LINE_AA)
    return canvas
