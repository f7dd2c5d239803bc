"""Decoding image files into grayscale arrays of a fixed geometry."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from ..exceptions import ImageDecodeError, ImageTooLargeError
from . import _headers

__all__ = ["IMAGE_EXTENSIONS", "as_size", "decode_image", "read_image", "read_images", "resize_gray"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})


def as_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """Return ``(height, width)`` from an int (square) or a pair, validated."""
    pair = (size, size) if np.isscalar(size) else tuple(size)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= 4 for v in pair):
        raise ValueError(f"size must be an int >= 4 or a (height, width) pair of them; got {size!r}.")
    return int(pair[0]), int(pair[1])


def resize_gray(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Convert to 8-bit grayscale and resize to ``(height, width)``.

    INTER_AREA when shrinking (no aliasing), INTER_LINEAR when enlarging.
    """
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    if image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.shape[:2] != size:
        shrinking = image.shape[0] * image.shape[1] > size[0] * size[1]
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        image = cv2.resize(image, (size[1], size[0]), interpolation=interpolation)
    return image


def read_image(path: str | os.PathLike, size: int | tuple[int, int] = 48) -> np.ndarray:
    """Read one image file as a grayscale uint8 array of shape ``size``.

    The file is only read, never modified. Raises as :func:`decode_image`.
    """
    size = as_size(size)
    return resize_gray(decode_image(path), size)


def decode_image(path: str | os.PathLike) -> np.ndarray:
    """Decode one image file as OpenCV does (``IMREAD_UNCHANGED``: gray, BGR or BGRA, its own size).

    The file is only read, never modified.

    Raises
    ------
    ImageDecodeError
        If the file is empty, unreadable or not a decodable image.
    ImageTooLargeError
        If its header declares more than :data:`MAX_IMAGE_PIXELS` pixels
        (checked before decoding).
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageDecodeError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    if data.size == 0:
        raise ImageDecodeError(f"{path}: empty file (0 bytes); replace it or remove it from the dataset.")
    declared = _headers.declared_size(data)
    if declared is not None and declared[0] * declared[1] > _headers.MAX_IMAGE_PIXELS:
        raise ImageTooLargeError(
            f"{path}: its header declares {declared[1]}x{declared[0]} pixels, more than the "
            f"{_headers.MAX_IMAGE_PIXELS:,} fer-classic decodes (fer_classic.data.MAX_IMAGE_PIXELS); "
            "downscale the image or remove it from the dataset."
        )
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageDecodeError(
            f"{path}: not a decodable image (corrupt or wrong extension); "
            "re-export it or remove it from the dataset."
        )
    return image


def read_images(
    paths: list[Path], size: tuple[int, int], n_jobs: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Decode many files into one preallocated array.

    Returns
    -------
    images : ndarray of shape (n_ok, height, width)
    ok : ndarray of bool, shape (len(paths),)
        Which paths were decoded.
    skipped : list of (path, reason)
    """
    out = np.empty((len(paths), *size), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    skipped: list[tuple[str, str]] = []

    def work(i: int) -> None:
        try:
            out[i] = read_image(paths[i], size)
            ok[i] = True
        except ImageDecodeError as exc:
            skipped.append((str(paths[i]), str(exc)))

    # OpenCV releases the GIL while decoding, so threads scale without copying data.
    workers = (os.cpu_count() or 1) if n_jobs in (None, -1) else max(1, int(n_jobs))
    if workers == 1 or len(paths) < 64:
        for i in range(len(paths)):
            work(i)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, range(len(paths)), chunksize=256))
    skipped.sort()
    return (out if ok.all() else out[ok]), ok, skipped
