"""Local binary pattern histograms over a grid of cells, computed for a whole batch at once."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ._base import ImageTransformerMixin

__all__ = ["LBPFeatures", "lbp_batch"]

_METHODS = ("default", "ror", "uniform", "nri_uniform")
_MAX_P = 16  # codes are mapped through a 2**P look-up table
# Images per vectorised step: big enough to amortise NumPy call overhead,
# small enough for the temporaries to stay in cache.
_CHUNK = 16


def _n_bins(P: int, method: str) -> int:
    if method == "uniform":
        return P + 2
    if method == "nri_uniform":
        return P * (P - 1) + 3
    return 2**P


def _neighbour_offsets(P: int, R: float) -> tuple[np.ndarray, np.ndarray]:
    """Row and column offsets of the ``P`` neighbours, as scikit-image rounds them."""
    R = float(np.float32(R))  # scikit-image's Cython takes R as a C float
    angles = 2 * np.pi * np.arange(P, dtype=np.double) / P
    return np.round(-R * np.sin(angles), 5), np.round(R * np.cos(angles), 5)


@lru_cache(maxsize=32)
def _code_table(P: int, method: str) -> np.ndarray:
    """Map every ``default`` code (bit i = neighbour i >= centre) to ``method``'s code.

    Follows scikit-image's ``_local_binary_pattern`` rules, evaluated once for
    all ``2**P`` bit patterns instead of once per pixel.
    """
    codes = np.arange(2**P, dtype=np.int64)
    if method == "default":
        return codes.astype(np.int32)
    if method == "ror":
        # Smallest of the P cyclic right shifts.
        best = rotated = codes
        for _ in range(1, P):
            rotated = (rotated >> 1) | ((rotated & 1) << (P - 1))
            best = np.minimum(best, rotated)
        return best.astype(np.int32)
    bits = (codes[:, None] >> np.arange(P)) & 1
    n_ones = bits.sum(axis=1)
    # Non-circular count of 0/1 changes, as scikit-image (<= 2 iff uniform either way).
    uniform = np.abs(np.diff(bits, axis=1)).sum(axis=1) <= 2
    if method == "uniform":
        return np.where(uniform, n_ones, P + 1).astype(np.int32)
    # nri_uniform: a uniform pattern is indexed by its number of ones and its
    # rotation from the reference pattern; constant ones and non-uniform ones
    # get fixed codes.
    first_one = np.argmax(bits == 1, axis=1)
    first_zero = np.argmax(bits == 0, axis=1)
    rotation = np.where(first_one == 0, n_ones - first_zero, P - first_one)
    code = 1 + (n_ones - 1) * P + rotation
    code = np.where(n_ones == 0, 0, np.where(n_ones == P, P * (P - 1) + 1, code))
    return np.where(uniform, code, P * (P - 1) + 2).astype(np.int32)


def _interpolation_steps(offset: float, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """floor, ceil and fractional weight of ``index + offset`` for every index < size.

    The same floating-point steps as scikit-image's ``bilinear_interpolation``.
    """
    position = np.arange(size, dtype=np.double) + offset
    low = np.floor(position)
    return low.astype(np.intp), np.ceil(position).astype(np.intp), position - low


def _default_codes_generic(images: np.ndarray, P: int, R: float) -> np.ndarray:
    """``default`` LBP codes by direct gathers: the reference for any neighbour geometry."""
    n, height, width = images.shape
    rp, cp = _neighbour_offsets(P, R)
    pad = int(np.ceil(abs(float(np.float32(R))))) + 1
    padded = np.zeros((n, height + 2 * pad, width + 2 * pad))  # the zero (cval) border
    padded[:, pad : pad + height, pad : pad + width] = images
    codes = np.zeros(images.shape, dtype=np.uint16)
    for i in range(P):
        min_r, max_r, dr = _interpolation_steps(rp[i], height)
        min_c, max_c, dc = _interpolation_steps(cp[i], width)
        dr = dr[:, None]

        def at(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
            return padded[:, (pad + rows)[:, None], (pad + cols)[None, :]]

        top = (1 - dc) * at(min_r, min_c) + dc * at(min_r, max_c)
        bottom = (1 - dc) * at(max_r, min_c) + dc * at(max_r, max_c)
        texture = (1 - dr) * top + dr * bottom
        codes += (texture - images >= 0) * np.uint16(1 << i)
    return codes


class _Plan(NamedTuple):
    """Where and with which weights every neighbour is interpolated, for one image geometry."""

    pad: int  # zero rows/columns around each image
    stride: int  # flattened padded row length
    start: int  # flat position of the first image row
    size: int  # flat length of the image rows (pad columns included)
    # Per distinct column offset: (left, right, w_left, w_right) slices of the
    # padded rows 1 .. end-1, or None for an integer offset (the pixels themselves).
    horizontal: dict
    # Per neighbour: (column offset key, upper, lower, w_upper, w_lower), the
    # horizontal result's rows to mix; lower is None for an integer row offset.
    neighbours: list


@lru_cache(maxsize=32)
def _plan(P: int, R: float, height: int, width: int) -> _Plan | None:
    """Interpolation plan of ``_default_codes``; None if a shift varies along the image."""
    rp, cp = _neighbour_offsets(P, R)
    steps_r = [_interpolation_steps(offset, height) for offset in rp]
    steps_c = [_interpolation_steps(offset, width) for offset in cp]
    for low, high, _ in steps_r + steps_c:
        shifts = np.concatenate([low - np.arange(len(low)), high - np.arange(len(high))])
        if np.any(shifts[: len(low)] != low[0]) or np.any(shifts[len(low) :] != high[0]):
            return None  # never happens with scikit-image's rounded offsets
    pad = int(np.ceil(abs(float(np.float32(R))))) + 1
    stride = width + 2 * pad
    start, size = pad * stride, height * stride
    band_start, band_rows = stride, height + 2 * pad - 2

    def frozen(a: np.ndarray) -> np.ndarray:
        a.flags.writeable = False  # shared between calls through the cache
        return a

    def by_column(values: np.ndarray) -> np.ndarray:
        line = np.zeros(stride)
        line[pad : pad + width] = values
        return frozen(np.tile(line, band_rows))

    horizontal, neighbours = {}, []
    for i in range(P):
        min_c, max_c, dc = steps_c[i]
        if cp[i] not in horizontal:
            if not np.any(dc):  # (1 - 0) * left + 0 * right == left, bit for bit
                horizontal[cp[i]] = None
            else:
                left, right = band_start + int(min_c[0]), band_start + int(max_c[0])
                horizontal[cp[i]] = (left, right, by_column(1 - dc), by_column(dc))
        # Flat position p of the horizontal result is at p - origin in its array.
        origin = band_start if horizontal[cp[i]] is not None else -int(min_c[0])
        min_r, max_r, dr = steps_r[i]
        upper = start + int(min_r[0]) * stride - origin
        if not np.any(dr):  # a zero weight times a finite value adds an exact 0
            neighbours.append((cp[i], upper, None, None, None))
        else:
            lower = start + int(max_r[0]) * stride - origin
            neighbours.append((cp[i], upper, lower, frozen(np.repeat(1 - dr, stride)),
                               frozen(np.repeat(dr, stride))))
    return _Plan(pad, stride, start, size, horizontal, neighbours)


def _default_codes(images: np.ndarray, P: int, R: float) -> np.ndarray:
    """``default`` LBP codes (n, height, width) of a float64 batch of finite images."""
    n, height, width = images.shape
    plan = _plan(P, R, height, width)
    if plan is None:
        return _default_codes_generic(images, P, R)
    pad, stride, start, size = plan.pad, plan.stride, plan.start, plan.size

    # Zero padding reproduces the constant (cval=0) border of the interpolation.
    # Images are flattened row by row with their pad columns, so a neighbour at
    # a constant (row, column) shift is a contiguous slice: long inner loops.
    padded = np.zeros((n, height + 2 * pad, stride))
    padded[:, pad : pad + height, pad : pad + width] = images
    flat = padded.reshape(n, -1)
    centre = flat[:, start : start + size]

    # scikit-image interpolates each neighbour along columns first,
    # row_value = (1 - dc) * left + dc * right on the two rows around it, then
    # (1 - dr) * upper_row_value + dr * lower_row_value. Neighbours with the same
    # column offset share the first step (same operands, same rounding), so it
    # is done once per column offset, on every row.
    horizontal = {}
    for key, spec in plan.horizontal.items():
        if spec is None:
            horizontal[key] = flat
        else:
            left, right, w_left, w_right = spec
            band = len(w_left)
            values = flat[:, left : left + band] * w_left
            values += flat[:, right : right + band] * w_right
            horizontal[key] = values

    codes = np.zeros((n, size), dtype=np.uint16)
    is_set = np.empty((n, size), dtype=bool)
    texture = np.empty((n, size))
    for i, (key, upper, lower, w_upper, w_lower) in enumerate(plan.neighbours):
        values = horizontal[key]
        if lower is None:
            np.greater_equal(values[:, upper : upper + size], centre, out=is_set)
        else:
            np.multiply(values[:, upper : upper + size], w_upper, out=texture)
            texture += values[:, lower : lower + size] * w_lower
            # scikit-image tests texture - centre >= 0: the same as >= for finite values.
            np.greater_equal(texture, centre, out=is_set)
        codes += is_set * np.uint16(1 << i)
    return codes.reshape(n, height, stride)[:, :, pad : pad + width]


def _check_lbp_params(P, R, method) -> None:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, _METHODS))}; got {method!r}.")
    if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or not 1 <= P <= _MAX_P:
        raise ValueError(f"P must be an integer in 1..{_MAX_P} (2**P histogram bins); got {P!r}.")
    if isinstance(R, bool) or not isinstance(R, (int, float, np.integer, np.floating)) or not (
        np.isfinite(R) and R > 0
    ):
        raise ValueError(f"R must be a positive finite number; got {R!r}.")


def lbp_batch(
    images: np.ndarray, P: int = 8, R: float = 1.0, method: str = "default"  # noqa: N803
) -> np.ndarray:
    """Local binary pattern codes of a batch of grayscale images, vectorised over the batch.

    Reproduces ``skimage.feature.local_binary_pattern(image, P, R, method)``
    for every image: same rounded neighbour offsets, bilinear interpolation
    with a zero border and ``>=`` comparison with the centre. The codes are
    equal to scikit-image's (exactly, not within a tolerance) for any finite
    input, 8-bit images in particular.

    Parameters
    ----------
    images : ndarray of shape (n_images, height, width)
        Grayscale images, any real dtype; they are read as float64, as
        scikit-image does.
    P : int, default=8
        Number of circularly symmetric neighbours, 1..16.
    R : float, default=1.0
        Radius of the circle, > 0.
    method : {"default", "ror", "uniform", "nri_uniform"}, default="default"
        Pattern kind, as in :func:`skimage.feature.local_binary_pattern`
        (``"var"`` is not supported).

    Returns
    -------
    ndarray of shape (n_images, height, width), int32
        The codes, in ``0 .. n_bins - 1`` (``2**P``, ``P + 2`` or
        ``P * (P - 1) + 3`` bins for default/ror, uniform, nri_uniform).

    Raises
    ------
    ValueError
        If the parameters are invalid, ``images`` is not 3-D or holds NaN or
        infinite values.
    """
    _check_lbp_params(P, R, method)
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n_images, height, width); got {images.shape}.")
    images = images.astype(np.float64, copy=False)
    if not np.isfinite(images).all():
        raise ValueError(
            "images must be finite: LBP codes of NaN or infinite pixels are undefined."
        )
    table = _code_table(int(P), method)
    out = np.empty(images.shape, dtype=np.int32)
    for start in range(0, len(images), _CHUNK):
        codes = _default_codes(images[start : start + _CHUNK], int(P), float(R))
        out[start : start + len(codes)] = codes if method == "default" else np.take(table, codes)
    return out


class LBPFeatures(ImageTransformerMixin):
    """Normalised LBP code histograms per grid cell (scikit-image's parameters).

    Codes come from :func:`lbp_batch` (equal to
    :func:`skimage.feature.local_binary_pattern`'s) and the histograms of all
    cells of a batch of images from one ``np.bincount``. Several radii can be
    combined: their histograms are concatenated.

    Parameters
    ----------
    P : int or tuple of int, default=8
        Number of circular neighbours, 1..16; a tuple gives one per radius.
    R : float or tuple of float, default=1.0
        Radius of the circle; a tuple computes one set of histograms per
        radius (with ``P[k]`` neighbours, or ``P`` if it is an int).
    method : {"uniform", "default", "ror", "nri_uniform"}, default="uniform"
        Pattern kind, as in :func:`skimage.feature.local_binary_pattern`.
    grid : (int, int), default=(6, 6)
        Cells per image (rows, columns); each gives one histogram.
    image_shape : (int, int), optional
        Geometry of a row; default infers a square.
    n_jobs : int, optional
        Parallel workers for ``transform``.

    Attributes
    ----------
    image_shape_ : (int, int)
        Geometry learned in ``fit``.
    n_features_out_ : int
        Histogram bins per image: for each (P, R) in turn, cells in row-major
        order, then bins.
    """

    _feature_prefix = "lbp"

    def __init__(
        self,
        *,
        P: int | tuple[int, ...] = 8,  # noqa: N803 - scikit-image's name
        R: float | tuple[float, ...] = 1.0,  # noqa: N803
        method: str = "uniform",
        grid: tuple[int, int] = (6, 6),
        image_shape: tuple[int, int] | None = None,
        n_jobs: int | None = None,
    ):
        self.P = P
        self.R = R
        self.method = method
        self.grid = grid
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def _scales(self) -> list[tuple[int, float]]:
        """(P, R) pairs, a scalar P or R applying to every radius or neighbour count."""
        Ps = list(self.P) if np.ndim(self.P) else [self.P]  # noqa: N806
        Rs = list(self.R) if np.ndim(self.R) else [self.R]  # noqa: N806
        if len(Ps) != len(Rs) and 1 not in (len(Ps), len(Rs)):
            raise ValueError(
                f"P and R must have the same length when both are sequences; got P={self.P!r} "
                f"and R={self.R!r}."
            )
        if not Ps or not Rs:
            raise ValueError(f"P and R must not be empty; got P={self.P!r} and R={self.R!r}.")
        n = max(len(Ps), len(Rs))
        return list(zip(Ps * n if len(Ps) == 1 else Ps, Rs * n if len(Rs) == 1 else Rs))

    def _check_params(self, image_shape):
        if self.method not in _METHODS:
            raise ValueError(
                f"method must be one of 'uniform', 'default', 'ror', 'nri_uniform'; got {self.method!r}."
            )
        for P, R in self._scales():  # noqa: N806
            _check_lbp_params(P, R, self.method)
        if any(int(g) < 1 or int(g) > s for g, s in zip(self.grid, image_shape)):
            raise ValueError(
                f"grid={tuple(self.grid)} must lie between (1, 1) and the image shape {image_shape}; "
                "pass image_shape=(height, width) if rows are not square images."
            )

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        n, height, width = images.shape
        rows = np.linspace(0, height, int(self.grid[0]) + 1).astype(int)
        cols = np.linspace(0, width, int(self.grid[1]) + 1).astype(int)
        n_cells = (len(rows) - 1) * (len(cols) - 1)
        # Cell of every pixel, and the pixel count of every cell.
        cell = (
            np.repeat(np.arange(len(rows) - 1), np.diff(rows))[:, None] * (len(cols) - 1)
            + np.repeat(np.arange(len(cols) - 1), np.diff(cols))[None, :]
        )
        cell_size = np.bincount(cell.ravel(), minlength=n_cells).astype(np.float64)
        parts = []
        for P, R in self._scales():  # noqa: N806
            n_bins = _n_bins(int(P), self.method)
            hist = np.empty((n, n_cells, n_bins))
            # Batches of images whose counts stay small (2**P bins can be many).
            step = int(np.clip(2**23 // (n_cells * n_bins), 1, 1024))
            for start in range(0, n, step):
                codes = lbp_batch(images[start : start + step], int(P), float(R), self.method)
                # One bincount over (image, cell, code) slots gives every histogram.
                slot = codes + (cell * n_bins)[None, :, :].astype(np.int64)
                slot += (np.arange(len(codes)) * (n_cells * n_bins))[:, None, None]
                counts = np.bincount(slot.ravel(), minlength=len(codes) * n_cells * n_bins)
                hist[start : start + len(codes)] = counts.reshape(len(codes), n_cells, n_bins)
            hist /= cell_size[:, None]
            parts.append(hist.reshape(n, -1))
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
