"""Local binary pattern histograms over a grid of cells, computed for a whole batch at once."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .._sklearn_compat import N_JOBS, Integral, Interval, Real, SequenceOf, StrOptions
from ._base import IMAGE_SHAPE_CONSTRAINT, ImageTransformerMixin, check_real_images, check_width

__all__ = ["LBPFeatures", "lbp_batch"]

# Images converted to float64 at a time by ``transform``.
_CHUNK = 256

_METHODS = ("default", "ror", "uniform", "nri_uniform")
_MAX_P = 16  # codes are mapped through a 2**P look-up table


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


@lru_cache(maxsize=32)
def _geometry(P: int, R: float, height: int, width: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Where and with which weights the kernels interpolate each neighbour.

    Returns ``(pad, shifts, w_r, w_c)``: the zero border around each image;
    per neighbour, the padded row offsets of the rows above and below and the
    column offsets left and right of a pixel (P x 4); and the row (P x height)
    and column (P x width) weights, from the same floating-point steps as
    scikit-image's ``bilinear_interpolation``.
    """
    rp, cp = _neighbour_offsets(P, R)
    # Zero padding reproduces the constant (cval=0) border of the interpolation.
    pad = int(np.ceil(abs(float(np.float32(R))))) + 1
    shifts = np.empty((P, 4), dtype=np.int64)
    w_r, w_c = np.empty((P, height)), np.empty((P, width))
    for i in range(P):
        for offset, size, weights, columns in ((rp[i], height, w_r, slice(0, 2)), (cp[i], width, w_c, slice(2, 4))):
            low, high, weights[i] = _interpolation_steps(offset, size)
            # floor(index + offset) - index is one number for all indices: the offsets are
            # rounded to 5 decimals, far coarser than the rounding of index + offset.
            steps = np.stack([low, high]) - np.arange(size)
            if steps.size and np.any(steps != steps[:, :1]):
                raise ValueError(f"Images of {size} pixels are too large for LBP with R={R}.")
            shifts[i, columns] = (steps[:, 0] if steps.size else 0) + pad
    for a in (shifts, w_r, w_c):
        a.flags.writeable = False  # shared between calls through the cache
    return pad, shifts, w_r, w_c


def _largest_radius(image_shape) -> float:
    """Largest LBP radius for images of ``image_shape``: half the smaller side less half a pixel, at least 1.

    Up to ``(side - 1) / 2`` the circle around the image's central pixel lies inside the image; on a wider
    circle every pixel has neighbours past the border, read from the zero padding (R=60 on 48 x 48 faces
    gave 6 distinct codes), while the padding of R pixels a side grows without bound (R=10,000 took
    3.3 GB for three faces). Radius 1, the usual 3 x 3 neighbourhood, is allowed on any image, so that
    rows of 1 to 3 pixels (scikit-learn's estimator checks) still transform.
    """
    return max((min(image_shape) - 1) / 2, 1.0)


def _check_radius(R, image_shape, hint: str = "") -> None:  # noqa: N803
    """Raise ValueError naming the first radius of ``R`` (a number or sequence) too wide for ``image_shape``."""
    most = _largest_radius(image_shape)
    for r in np.atleast_1d(R).tolist():
        if not r <= most:
            shown = f"{r:g}" if np.ndim(R) == 0 else f"{R!r} holds {r:g}, which"
            raise ValueError(
                f"R={shown} is over the largest LBP radius for {image_shape[0]}x{image_shape[1]} images, "
                f"{most:g} pixels (half the smaller side less half a pixel): on a wider circle every pixel compares "
                f"neighbours with the zero border. Give R of at most {most:g} (LBP radii are usually 1 to 3){hint}."
            )


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
    """Local binary pattern codes of a batch of grayscale images, in one compiled pass.

    Reproduces ``skimage.feature.local_binary_pattern(image, P, R, method)``
    for every image: same rounded neighbour offsets, bilinear interpolation
    with a zero border and ``>=`` comparison with the centre. The codes are
    equal to scikit-image's (exactly, not within a tolerance) for any finite
    input, 8-bit images in particular.

    Parameters
    ----------
    images : ndarray of shape (n_images, height, width)
        Grayscale images, any real dtype (complex and object arrays are
        refused); they are read as float64, as scikit-image does.
    P : int, default=8
        Number of circularly symmetric neighbours, 1..16.
    R : float, default=1.0
        Radius of the circle, > 0 and at most ``(min(height, width) - 1) / 2``
        (or 1).
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
        If the parameters are invalid, ``R`` is too wide for the images,
        ``images`` is not 3-D or holds NaN or infinite values.
    TypeError
        If ``images`` are not real numbers (complex, object, strings); booleans are 0 and 1.
    """
    _check_lbp_params(P, R, method)
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n_images, height, width); got {images.shape}.")
    _check_radius(R, images.shape[1:])  # before the padding of R pixels a side is allocated
    check_real_images(images, "lbp_batch")
    images = images.astype(np.float64, copy=False)
    if not np.isfinite(images).all():
        raise ValueError(
            "images must be finite: LBP codes of NaN or infinite pixels are undefined."
        )
    from ._kernels import lbp_codes

    out = np.empty(images.shape, dtype=np.int32)
    geometry = _geometry(int(P), float(R), *images.shape[1:])
    lbp_codes(np.ascontiguousarray(images), *geometry, _code_table(int(P), method), out)
    return out


class LBPFeatures(ImageTransformerMixin):
    """Normalised LBP code histograms per grid cell (scikit-image's parameters).

    Codes are those of :func:`lbp_batch` (equal to
    :func:`skimage.feature.local_binary_pattern`'s); one compiled pass per
    radius computes them and counts them per cell for a whole batch. Several radii can be
    combined: their histograms are concatenated.

    Parameters
    ----------
    P : int or tuple of int, default=8
        Number of circular neighbours, 1..16; a tuple gives one per radius.
    R : float or tuple of float, default=1.0
        Radius of the circle; a tuple computes one set of histograms per
        radius (with ``P[k]`` neighbours, or ``P`` if it is an int). At most
        ``(min(height, width) - 1) / 2`` (23.5 for 48 x 48 faces), or 1.
    method : {"uniform", "default", "ror", "nri_uniform"}, default="uniform"
        Pattern kind, as in :func:`skimage.feature.local_binary_pattern`.
    grid : (int, int), default=(6, 6)
        Cells per image (rows, columns); each gives one histogram. The
        descriptor (cells times bins, over all radii) may have at most 128
        columns a pixel (262,144 for smaller images).
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
    _input_dtype = "numeric"  # converted to float64 a chunk at a time
    _parameter_constraints: dict = {
        "P": [Interval(Integral, 1, _MAX_P, closed="both"),
              SequenceOf(Interval(Integral, 1, _MAX_P, closed="both"))],
        "R": [Interval(Real, 0, None, closed="neither"), SequenceOf(Interval(Real, 0, None, closed="neither"))],
        "method": [StrOptions(set(_METHODS))],
        "grid": [SequenceOf(Interval(Integral, 1, None, closed="left"), length=2)],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
        "n_jobs": N_JOBS,
    }

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
        n = max(len(Ps), len(Rs))
        return list(zip(Ps * n if len(Ps) == 1 else Ps, Rs * n if len(Rs) == 1 else Rs))

    def _check_params(self, image_shape):
        self._scales()  # P and R of the same length
        if any(int(g) < 1 or int(g) > s for g, s in zip(self.grid, image_shape)):
            raise ValueError(
                f"grid={tuple(self.grid)} must lie between (1, 1) and the image shape {image_shape}; "
                "pass image_shape=(height, width) if rows are not square images."
            )
        hint = ", or pass image_shape=(height, width) if rows are not square images"
        _check_radius(self.R, image_shape, hint=hint)
        # The width, from the parameters alone: fit's probe image allocates a row of it.
        n_cells = int(self.grid[0]) * int(self.grid[1])
        width = sum(n_cells * _n_bins(int(P), self.method) for P, _ in self._scales())
        check_width(width, image_shape,
                    f"P={self.P!r}, method={self.method!r} and grid={tuple(self.grid)} (cells x bins, summed over "
                    "the radii)",
                    'use a coarser grid, fewer neighbours P or method="uniform" (P + 2 bins; the default, 6 x 6 '
                    "cells of P=8, has 360)")

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        from ._kernels import lbp_histograms

        n, height, width = images.shape
        rows = np.linspace(0, height, int(self.grid[0]) + 1).astype(int)
        cols = np.linspace(0, width, int(self.grid[1]) + 1).astype(int)
        n_cells = (len(rows) - 1) * (len(cols) - 1)
        # Cell of every pixel, and the pixel count of every cell.
        cell = (
            np.repeat(np.arange(len(rows) - 1), np.diff(rows))[:, None] * (len(cols) - 1)
            + np.repeat(np.arange(len(cols) - 1), np.diff(cols))[None, :]
        ).astype(np.int64)
        cell_size = np.bincount(cell.ravel(), minlength=n_cells).astype(np.float64)
        parts = []
        for P, R in self._scales():  # noqa: N806
            hist = np.zeros((n, n_cells, _n_bins(int(P), self.method)))
            geometry = _geometry(int(P), float(R), height, width)
            table = _code_table(int(P), self.method)
            # Float64 a chunk at a time: 8-bit input is never copied whole.
            for start in range(0, n, _CHUNK):
                chunk = slice(start, start + _CHUNK)
                part = np.ascontiguousarray(images[chunk], dtype=np.float64)
                lbp_histograms(part, *geometry, table, cell, hist[chunk])
            hist /= cell_size[:, None]
            parts.append(hist.reshape(n, -1))
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
