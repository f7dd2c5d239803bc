"""Pixels of any depth brought to 8-bit gray levels: one rule for image files, arrays and batches.

NumPy only, so that a model (``fer_classic.persistence``) converts what it is
given without importing OpenCV.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ImageDecodeError

__all__ = ["gray_levels", "read_levels"]

#: Images converted at a time in a batch: the scratch memory stays that of 1,024 images.
_CHUNK = 1024


def gray_levels(images: np.ndarray, where: str = "the image", *, batch: bool = False) -> np.ndarray:
    """``images`` in 8-bit levels, decided for each image alone and never stretched by its own range.

    So that one face gives one prediction however it was stored (saved as 8-
    or 16-bit PNG, handed over as floats in 0..1) and whatever else is in its
    batch:

    - uint8: as it is (no copy); bool: 0 and 255;
    - integers: levels 0..255 as they are; an image holding a value above
      255 is 16-bit, divided by 257 (65,535 becomes 255; each value the
      nearest level). 12-bit data (0..4,095) thus reads dark: scale it first;
    - floats: an image within 0..1 is multiplied by 255 (scikit-image's and
      OpenCV's convention for floats); one reaching 2 or more holds levels
      0..255; one whose largest value lies above 1 and under 2 is ambiguous
      (a 0..1 image overshooting, or an almost black one) and refused.

    Parameters
    ----------
    images : ndarray
        One image (gray, BGR or BGRA), or with ``batch=True`` images along the
        first axis (each image converted by its own values); numeric.
    where : str
        What the pixels are, for the error message (a file's path).
    batch : bool, default=False
        Whether the first axis indexes images.

    Returns
    -------
    ndarray of uint8, the shape of ``images``

    Raises
    ------
    ImageDecodeError
        (a ValueError) naming ``where`` (and the image of a batch): NaN or
        infinite values, values below 0 or above 65,535 (integers) or 255
        (floats), as standardised images hold, ambiguous floats, or a
        non-numeric type.
    """
    images = np.asarray(images)
    kind = images.dtype.kind
    if kind == "u" and images.dtype.itemsize == 1:
        return images
    if kind == "b":
        return images.astype(np.uint8) * np.uint8(255)
    if kind not in "uif":
        raise ImageDecodeError(f"{where}: pixels of type {images.dtype} are not gray levels; give numbers "
                               "(uint8 0..255, 16-bit integers, or floats in 0..1).")
    if images.size == 0:
        return images.astype(np.uint8)
    n = len(images) if batch and images.ndim > 1 else 1
    flat = images.reshape(n, -1)
    out = np.empty(flat.shape, np.uint8)
    for start in range(0, n, _CHUNK):
        out[start : start + _CHUNK] = _levels(flat[start : start + _CHUNK], where, start if batch else None)
    return out.reshape(images.shape)


def _level_factors(images: np.ndarray) -> np.ndarray:
    """What each image of a batch is multiplied by to read on the 8-bit scale (see :func:`read_levels`).

    255 for floats within 0..1 or booleans, 1/257 for 16-bit images, 1 for
    the rest, values that are no levels included (nothing is refused).
    """
    kind = images.dtype.kind
    if kind == "b":
        return np.full(len(images), 255.0)
    if (kind == "u" and images.dtype.itemsize == 1) or images.size == 0 or kind not in "uif":
        return np.ones(len(images))
    flat = images.reshape(len(images), -1)
    factors = np.empty(len(flat))
    for start in range(0, len(flat), _CHUNK):
        rows = flat[start : start + _CHUNK]
        factors[start : start + _CHUNK] = _factors(rows.min(axis=1), rows.max(axis=1), rows.dtype.kind == "f")
    return factors


def _factors(low: np.ndarray, high: np.ndarray, floats: bool) -> np.ndarray:
    # At most 1, as gray_levels reads floats: a transformer after a crop re-reads its float output, and a
    # dark face peaking at 1.8 there is no 0..1 image.
    if floats:
        return np.where((low >= 0) & (high <= 1), 255.0, 1.0)
    return np.where((low >= 0) & (high > 255), 1 / 257, 1.0)


def read_levels(images: np.ndarray) -> np.ndarray:
    """``images`` (along the first axis) on the 8-bit scale, each by its own values, without rounding.

    What every image transformer reads, by :func:`gray_levels`' rule but
    refusing nothing: 8-bit and other images already on that scale come back
    as they are (no copy); floats within 0..1 times 255, 16-bit images divided
    by 257, booleans 0 or 255; values that are no levels (negative, NaN,
    floats peaking between 1 and 2) as given. Floats keep their dtype, other
    types become float64.
    """
    factors = _level_factors(images)
    if (factors == 1).all():
        return images
    dtype = images.dtype if images.dtype.kind == "f" else np.float64
    return images * factors.astype(dtype).reshape(-1, *(1,) * (images.ndim - 1))


def _checked_high(rows: np.ndarray, where: str, first: int | None) -> np.ndarray:
    """Each row's largest value, once the rows are checked to be gray levels (see :func:`gray_levels`)."""
    floats = rows.dtype.kind == "f"
    if floats:
        finite = np.isfinite(rows).all(axis=1)
        if not finite.all():
            raise ImageDecodeError(f"{_name(where, first, finite.argmin())}: holds NaN or infinite pixel values; "
                                   "give finite gray levels.")
    low, high = rows.min(axis=1), rows.max(axis=1)
    outside = (low < 0) | (high > (255 if floats else 65535))
    if outside.any():
        i = int(outside.argmax())
        raise ImageDecodeError(
            f"{_name(where, first, i)}: pixel values span {float(low[i]):g}..{float(high[i]):g}, not gray levels "
            "(0..255, 16-bit 0..65,535, floats in 0..1); give images as loaded or saved, not standardised.")
    if floats:
        unclear = (high > 1) & (high < 2)
        if unclear.any():
            i = int(unclear.argmax())
            raise ImageDecodeError(
                f"{_name(where, first, i)}: float pixels reach {float(high[i]):g}, above 1 (so not values in 0..1) "
                "but under 2 (so hardly levels 0..255); clip 0..1 images to 1, or give levels 0..255.")
    return high


def _levels(rows: np.ndarray, where: str, first: int | None) -> np.ndarray:
    """Each row (an image) in 8-bit levels; ``first``: the batch index of the first row, for the message."""
    high = _checked_high(rows, where, first)
    if rows.dtype.kind == "f":
        scale = np.where(high <= 1, 255, 1).astype(rows.dtype)[:, None]
        return np.rint(rows * scale).astype(np.uint8)
    wide = high > 255
    if not wide.any():
        return rows.astype(np.uint8)
    out = rows.astype(np.uint8)  # the narrow rows' levels; wide rows are replaced below
    # Integer rounding to the nearest level, (v + 128) // 257: no float copy of a 16-bit batch.
    out[wide] = ((rows[wide].astype(np.uint32) + 128) // 257).astype(np.uint8)
    return out


def _name(where: str, first: int | None, i: int) -> str:
    return where if first is None else f"{where} (image {first + i})"
