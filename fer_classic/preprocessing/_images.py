"""Helpers shared by the image-to-image transformers."""

from __future__ import annotations

import numpy as np

__all__ = ["to_uint8"]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Round pixel values to 8-bit gray levels, clipping to 0..255 (what OpenCV's 8-bit functions take)."""
    return np.rint(np.clip(images, 0, 255)).astype(np.uint8)
