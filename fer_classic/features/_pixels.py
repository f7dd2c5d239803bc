"""Raw pixels as features."""

from __future__ import annotations

import numpy as np

from .._sklearn_compat import StrOptions
from ._base import IMAGE_SHAPE_CONSTRAINT, ImageTransformerMixin

__all__ = ["PixelFeatures"]


class PixelFeatures(ImageTransformerMixin):
    """Flattened pixels scaled by the fixed 0..255 range.

    The scale is a constant, not learned from data, so training and test
    images are always scaled the same way (a learned scaler can follow).
    Each image is read on the 8-bit scale by its own values, as by every
    image transformer (floats within 0..1 times 255, 16-bit images divided
    by 257, without rounding; see the README), so the same face stored
    either way gives the same features.

    Parameters
    ----------
    scale : {"unit", "centered", "none"}, default="unit"
        ``unit`` maps levels 0..255 to 0..1, ``centered`` to -1..1, ``none``
        keeps the levels 0..255.
    image_shape : (int, int), optional
        Geometry of a row; default infers a square.
    """

    _feature_prefix = "pixel"
    # 8-bit rows stay 8-bit until they are scaled: the output is the only float64 copy.
    _input_dtype = "numeric"
    _parameter_constraints: dict = {
        "scale": [StrOptions({"unit", "centered", "none"})],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
    }

    def __init__(self, *, scale: str = "unit", image_shape: tuple[int, int] | None = None):
        self.scale = scale
        self.image_shape = image_shape

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        flat = images.reshape(len(images), -1)
        if self.scale == "none":
            return flat.astype(np.float64)
        # One float64 result, computed in place: no float copy of 8-bit input before it.
        out = np.divide(flat, 255.0 if self.scale == "unit" else 127.5, dtype=np.float64)
        if self.scale == "centered":
            out -= 1.0
        return out
