"""A generated default dataset: cartoon faces with the seven FER2013 expressions.

Drawn procedurally with OpenCV from a seed, so the main command runs on a
machine with no data and no network, and the result is reproducible.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..labels import FER2013_LABELS
from ._dataset import FaceDataset
from ._images import as_size

__all__ = ["make_synthetic_faces"]

_SCALE = 4  # draw at 4x, then downsample with INTER_AREA for smooth edges
_CANVAS = 48 * _SCALE

# Per expression: brow tilt (inner end down > 0), brow lift, eye openness,
# mouth (kind, width, curvature/opening).
_EXPRESSIONS = {
    "angry": dict(brow_tilt=0.35, brow_lift=-2, eye=0.55, mouth=("line", 0.30, 0.0)),
    "disgust": dict(brow_tilt=0.2, brow_lift=-1, eye=0.5, mouth=("skew", 0.34, 0.35)),
    "fear": dict(brow_tilt=-0.3, brow_lift=5, eye=1.25, mouth=("open", 0.38, 0.18)),
    "happy": dict(brow_tilt=0.0, brow_lift=1, eye=0.7, mouth=("arc", 0.44, 0.45)),
    "sad": dict(brow_tilt=-0.35, brow_lift=1, eye=0.8, mouth=("arc", 0.36, -0.35)),
    "surprise": dict(brow_tilt=0.0, brow_lift=7, eye=1.35, mouth=("open", 0.24, 0.38)),
    "neutral": dict(brow_tilt=0.0, brow_lift=0, eye=1.0, mouth=("line", 0.34, 0.0)),
}


def _draw_face(label: str, rng: np.random.Generator) -> np.ndarray:
    spec = _EXPRESSIONS[label]
    s = _SCALE
    background = int(rng.integers(10, 90))
    img = np.full((_CANVAS, _CANVAS), background, dtype=np.uint8)
    skin = int(rng.integers(140, 220))
    dark = max(0, skin - int(rng.integers(110, 140)))
    cx = _CANVAS / 2 + rng.normal(0, 1.5 * s)
    cy = _CANVAS / 2 + rng.normal(0, 1.5 * s)
    r = rng.uniform(17, 21) * s

    def pt(x: float, y: float) -> tuple[int, int]:
        return int(round(cx + x * r)), int(round(cy + y * r))

    cv2.ellipse(img, pt(0, 0), (int(r * 0.85), int(r)), 0, 0, 360, skin, -1, cv2.LINE_AA)
    thick = max(1, int(round(rng.uniform(1.6, 2.4) * s)))
    eye_w = r * rng.uniform(0.15, 0.19)
    eye_h = eye_w * spec["eye"] * rng.uniform(0.85, 1.15)
    for side in (-1, 1):
        ex, ey = 0.36 * side, -0.22
        cv2.ellipse(img, pt(ex, ey), (int(eye_w), max(1, int(eye_h))), 0, 0, 360, dark, -1, cv2.LINE_AA)
        # Brows: the inner end (near the nose) moves by the tilt, the whole brow by the lift.
        lift = (spec["brow_lift"] + rng.normal(0, 0.7)) * s / r
        tilt = spec["brow_tilt"] + rng.normal(0, 0.05)
        inner = (0.14 * side, -0.45 - lift + tilt * 0.35)
        outer = (0.56 * side, -0.45 - lift - tilt * 0.15)
        cv2.line(img, pt(*inner), pt(*outer), dark, thick, cv2.LINE_AA)
    kind, width, amount = spec["mouth"]
    width *= rng.uniform(0.9, 1.1)
    amount *= rng.uniform(0.8, 1.2)
    my = 0.45 + rng.normal(0, 0.02)
    half = int(width * r)
    if kind == "line":
        cv2.line(img, pt(-width, my), pt(width, my), dark, thick, cv2.LINE_AA)
    elif kind == "arc":
        # Smile (amount > 0) is the lower half of an ellipse, a frown the upper half.
        depth = max(1, int(abs(amount) * r * 0.6))
        centre = pt(0, my - amount * 0.3)
        start, end = (0, 180) if amount > 0 else (180, 360)
        cv2.ellipse(img, centre, (half, depth), 0, start, end, dark, thick, cv2.LINE_AA)
    elif kind == "open":
        cv2.ellipse(img, pt(0, my), (half, max(1, int(amount * r))), 0, 0, 360, dark, -1, cv2.LINE_AA)
    else:  # "skew": one corner raised, upper lip curled
        pts = np.array([pt(-width, my + 0.05), pt(-width / 3, my - 0.05),
                        pt(width / 3, my - amount * 0.25), pt(width, my - amount * 0.35)], np.int32)
        cv2.polylines(img, [pts], False, dark, thick, cv2.LINE_AA)
        cv2.line(img, pt(-0.12, 0.12), pt(-0.05, 0.22), dark, max(1, thick // 2), cv2.LINE_AA)
    angle = rng.normal(0, 6)
    rot = cv2.getRotationMatrix2D((_CANVAS / 2, _CANVAS / 2), angle, rng.uniform(0.92, 1.08))
    img = cv2.warpAffine(img, rot, (_CANVAS, _CANVAS), borderValue=background)
    small = cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA).astype(np.float32)
    small += rng.normal(0, rng.uniform(4, 12), small.shape)
    return np.clip(small, 0, 255).astype(np.uint8)


def make_synthetic_faces(
    n_train_per_class: int = 120,
    n_test_per_class: int = 40,
    *,
    size: int | tuple[int, int] = 48,
    random_state: int = 0,
) -> FaceDataset:
    """Generate the embedded default dataset of cartoon faces.

    Parameters
    ----------
    n_train_per_class, n_test_per_class : int
        Images per expression in the ``train`` and ``test`` splits.
    size : int or (height, width), default=48
        Output geometry.
    random_state : int, default=0
        Seed; the same seed gives the same pixels.

    Returns
    -------
    FaceDataset
        Seven classes (FER2013's), with pose, size, lighting and noise varied.
    """
    size = as_size(size)
    rng = np.random.default_rng(random_state)
    images, labels, splits = [], [], []
    for split, n in (("train", n_train_per_class), ("test", n_test_per_class)):
        for label in FER2013_LABELS:
            for _ in range(n):
                face = _draw_face(label, rng)
                if size != (48, 48):
                    face = cv2.resize(face, (size[1], size[0]), interpolation=cv2.INTER_AREA)
                images.append(face)
                labels.append(label)
                splits.append(split)
    n = len(images)
    return FaceDataset(
        images=np.stack(images),
        labels=np.asarray(labels, dtype=object),
        splits=np.asarray(splits, dtype=object),
        usages=np.full(n, "", dtype=object),
        sources=np.asarray([f"synthetic:{i}" for i in range(n)], dtype=object),
        name=f"synthetic(seed={random_state})",
    )
