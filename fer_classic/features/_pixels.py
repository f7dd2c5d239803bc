"""Raw pixels as features."""

from __future__ import annotations

import numpy as np

from ._base import ImageTransformerMixin

__all__ = ["PixelFeatures"]


class PixelFeatures(ImageTransformerMixin):
    """Flattened pixels scaled by the fixed 0..255 range.

    The scale is a constant, not learned from data, so training and test
    images are always scaled the same way (a learned scaler can follow).

    Parameters
    ----------
    scale : {"unit", "centered", "none"}, default="unit"
        ``unit`` maps 0..255 to 0..1, ``centered`` to -1..1, ``none`` keeps values.
    image_shape : (int, int), optional
        Geometry of a row; default infers a square.
    """

    _feature_prefix = "pixel"

    def __init__(self, *, scale: str = "unit", image_shape: tuple[int, int] | None = None):
        self.scale = scale
        self.image_shape = image_shape

    def _check_params(self, image_shape):
        if self.scale not in ("unit", "centered", "none"):
            raise ValueError(f"scale must be 'unit', 'centered' or 'none'; got {self.scale!r}.")

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        flat = images.reshape(len(images), -1)
        if self.scale == "unit":
            return flat / 255.0
        if self.scale == "centered":
            return flat / 127.5 - 1.0
        return flat.copy()
