"""Raw pixels as features."""

from __future__ import annotations

import numpy as np

from .._sklearn_compat import StrOptions
from ..data._levels import level_factors
from ._base import IMAGE_SHAPE_CONSTRAINT, ImageTransformerMixin

__all__ = ["PixelFeatures"]


class PixelFeatures(ImageTransformerMixin):
    """Flattened pixels scaled by the fixed 0..255 range.

    The scale is a constant, not learned from data, so training and test
    images are always scaled the same way (a learned scaler can follow).
    Each image is read as 8-bit levels by its own values, as images reach a
    model (:func:`fer_classic.data.gray_levels`' rule, without rounding):
    floats within 0..1 count as 0..255 times 1/255 (scikit-image's
    convention), 16-bit images as levels times 257; so the same face stored
    either way gives the same features. Other values (negative ones, say) are
    scaled as they are.

    Parameters
    ----------
    scale : {"unit", "centered", "none"}, default="unit"
        ``unit`` maps levels 0..255 to 0..1, ``centered`` to -1..1, ``none``
        keeps the values as given (no reading as levels).
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
        # 0..1 floats gave features up to 1/255, 16-bit ones up to 257. Values that are no levels (standardised
        # rows, scikit-learn's checks' data) are scaled as given, as before.
        factors = level_factors(flat, check=False)
        if (factors != 1).any():
            flat = flat * factors[:, None]
        # One float64 result, computed in place: no float copy of 8-bit input before it.
        out = np.divide(flat, 255.0 if self.scale == "unit" else 127.5, dtype=np.float64)
        if self.scale == "centered":
            out -= 1.0
        return out
