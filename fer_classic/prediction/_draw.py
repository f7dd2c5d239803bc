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
    else the face's own; with probabilities its value is shown too.
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
        top = y - th - base - 4 if y - th - base - 4 >= 0 else y + h
        cv2.rectangle(canvas, (x, top), (x + tw + 4, top + th + base + 4), _BOX, cv2.FILLED)
        cv2.putText(canvas, label, (x + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, _TEXT, thickness,
                    cv2.LINE_AA)
    return canvas
