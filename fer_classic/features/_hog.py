"""Histogram of oriented gradients, computed for a whole batch of images at once."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.utils.validation import check_is_fitted

from .._sklearn_compat import N_JOBS, Integral, Interval, SequenceOf, StrOptions, validate_params
from ._base import IMAGE_SHAPE_CONSTRAINT, ImageTransformerMixin, check_real_images, check_width

__all__ = ["HOGFeatures", "hog_batch"]

_BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
_EPS = 1e-5  # scikit-image's block normalisation epsilon
# Images per block-normalisation step: big enough to amortise NumPy call
# overhead, small enough for the temporaries to stay in cache.
_CHUNK = 64
# Integer images whose values span at most this use gradient look-up tables.
_LUT_SPAN = 255


def _bin_edges(orientations: int) -> np.ndarray:
    """Orientation bin edges in degrees, computed as scikit-image's Cython does."""
    per_bin = 180.0 / orientations
    return np.array([per_bin * i for i in range(orientations + 1)], dtype=np.float64)


def _normalize_blocks(blocks: np.ndarray, block_norm: str) -> np.ndarray:
    """Normalise every row of ``blocks`` (..., cells_per_block * orientations) in place."""
    if block_norm in ("L1", "L1-sqrt"):
        blocks /= np.sum(np.abs(blocks), axis=-1, keepdims=True) + _EPS
        return np.sqrt(blocks, out=blocks) if block_norm == "L1-sqrt" else blocks
    blocks /= np.sqrt(np.sum(blocks**2, axis=-1, keepdims=True) + _EPS**2)
    if block_norm == "L2-Hys":
        np.minimum(blocks, 0.2, out=blocks)
        blocks /= np.sqrt(np.sum(blocks**2, axis=-1, keepdims=True) + _EPS**2)
    return blocks


@lru_cache(maxsize=8)
def _gradient_tables(orientations: int) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude and orientation bin of integer gradients in [-255, 255].

    The magnitude table is indexed by ``|g_row| * 256 + |g_col|`` (hypot
    ignores signs) and the bin table by ``(g_row + 255) * 511 + (g_col + 255)``.
    The values come from the very expressions of :func:`_gradient_bins`, so a
    look-up is bit-identical to computing them, at a fraction of the cost;
    small tables (0.5 MB, and 0.25 MB up to 255 orientations) keep the
    look-ups in cache.
    """
    values = np.arange(-_LUT_SPAN, _LUT_SPAN + 1, dtype=np.float64)
    g_row, g_col = np.meshgrid(values, values, indexing="ij")
    magnitude, bins = _gradient_bins(g_row, g_col, orientations)
    magnitude = np.ascontiguousarray(magnitude[_LUT_SPAN:, _LUT_SPAN:]).ravel()
    return magnitude, bins.astype(np.min_scalar_type(orientations)).ravel()


def _gradient_bins(
    g_row: np.ndarray, g_col: np.ndarray, orientations: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient magnitude and orientation bin, as scikit-image's ``hog_histograms``.

    Bin ``i`` holds angles in ``[180 / orientations * i, 180 / orientations * (i + 1))``
    degrees; an angle matching no bin (one that rounds to 180) gets the spare
    bin ``orientations``, dropped later, as scikit-image skips it.
    """
    # Same expressions on contiguous arrays as scikit-image, so that the SIMD
    # arctan2 gives bit-identical angles (an ulp can move a pixel across a bin edge).
    magnitude = np.hypot(g_col, g_row)
    orientation = np.rad2deg(np.arctan2(g_row, g_col)) % 180
    bins = np.searchsorted(_bin_edges(orientations), orientation, side="right") - 1
    bins[bins >= orientations] = orientations
    return magnitude, bins


def _cell_histograms(
    images: np.ndarray, orientations: int, pixels_per_cell: tuple[int, int], float_dtype: type
) -> np.ndarray:
    """Orientation histograms (n, n_cells_row, n_cells_col, orientations), float64."""
    from ._kernels import hog_cells_from_gradients, hog_cells_from_pixels

    n, s_row, s_col = images.shape
    c_row, c_col = pixels_per_cell
    # scikit-image sums each cell in a C float (float32) in row-major pixel
    # order, then divides by the cell area in float32; the kernels replay those
    # sums, so the histograms are bit-identical. The spare bin `orientations`
    # collects angles scikit-image skips, and is dropped.
    hist = np.zeros((n, s_row // c_row, s_col // c_col, orientations + 1), dtype=np.float32)
    lo, hi = (float(images.min()), float(images.max())) if images.size else (0.0, 0.0)
    if hi - lo <= _LUT_SPAN and np.array_equal(images, np.rint(images)):
        # Integer images (8-bit faces): gradients are small integers, so table
        # look-ups replace hypot, arctan2 and the bin search.
        magnitude_table, bin_table = _gradient_tables(orientations)
        pixels = (images - lo).astype(np.int32)
        hog_cells_from_pixels(pixels, magnitude_table, bin_table, _LUT_SPAN, c_row, c_col, hist)
    else:
        # Central differences, zero on the image border (_hog_channel_gradient).
        g_row = np.zeros(images.shape, dtype=float_dtype)
        g_col = np.zeros(images.shape, dtype=float_dtype)
        g_row[:, 1:-1, :] = images[:, 2:, :] - images[:, :-2, :]
        g_col[:, :, 1:-1] = images[:, :, 2:] - images[:, :, :-2]
        magnitude, bins = _gradient_bins(
            g_row.astype(np.float64, copy=False), g_col.astype(np.float64, copy=False), orientations
        )
        hog_cells_from_gradients(magnitude, bins.astype(np.int64, copy=False), c_row, c_col, hist)
    hist /= np.float32(c_row * c_col)
    return hist[..., :orientations].astype(np.float64)


_POSITIVE_INT = Interval(Integral, 1, None, closed="left")
_PAIR = SequenceOf(_POSITIVE_INT, length=2)
#: Bins over [0, 180) degrees: one a degree at most, as GaborFeatures' orientations. Each bin is a column of
#: every cell and block (10**6 orientations asked 10.7 GiB for 10 faces).
_ORIENTATIONS = Interval(Integral, 1, 180, closed="both")


@validate_params(
    {
        "images": ["array-like"],
        "orientations": [_ORIENTATIONS],
        "pixels_per_cell": [_PAIR],
        "cells_per_block": [_PAIR],
        "block_norm": [StrOptions(set(_BLOCK_NORMS))],
    },
    prefer_skip_nested_validation=True,
)
def hog_batch(
    images: np.ndarray,
    orientations: int = 9,
    pixels_per_cell: tuple[int, int] = (8, 8),
    cells_per_block: tuple[int, int] = (3, 3),
    block_norm: str = "L2-Hys",
) -> np.ndarray:
    """HOG descriptors of a batch of grayscale images, in one call for the whole batch.

    Reproduces ``skimage.feature.hog(image, orientations, pixels_per_cell,
    cells_per_block, block_norm, feature_vector=True)`` (scikit-image 0.26)
    for every image: same border gradients, orientation bins, float32 cell
    sums divided by the cell area, and ``eps=1e-5`` block normalisation. Cell
    histograms are bit-identical to scikit-image's; descriptors agree within
    ``atol=1e-12`` (tested; in practice they are bit-identical too, only the
    order of the block sums could differ).

    Parameters
    ----------
    images : ndarray of shape (n_images, height, width)
        Finite grayscale images, any real dtype (complex and object arrays
        are refused). Integer-valued images (8-bit
        faces) whose values span at most 255 take a faster table-driven path
        with the same results.
    orientations : int, default=9
        Number of orientation bins over [0, 180) degrees, 1..180.
    pixels_per_cell : (int, int), default=(8, 8)
        Cell size in pixels.
    cells_per_block : (int, int), default=(3, 3)
        Block size in cells.
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}, default="L2-Hys"
        Block normalisation.

    Returns
    -------
    ndarray of shape (n_images, n_features)
        One flattened descriptor per row, ordered (block row, block column,
        cell row, cell column, orientation); float32 for float16/float32
        input, as scikit-image, float64 otherwise.

    Raises
    ------
    ValueError
        If a parameter is invalid, ``images`` is not 3-D or holds NaN or
        infinite values, the images hold less than one block, or the
        descriptor would be wider than 128 columns a pixel (262,144 for smaller images).
    TypeError
        If ``images`` are not real numbers (complex, object, strings); booleans are 0 and 1.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n_images, height, width); got {images.shape}.")
    # scikit-image keeps float16/32 images in float32, everything else in float64;
    # the conversion happens a chunk at a time (no float copy of the whole input).
    check_real_images(images, "hog_batch")
    float_dtype = np.float32 if images.dtype in (np.float16, np.float32) else np.float64
    if images.dtype.kind == "b":
        images = images.astype(float_dtype)
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        raise ValueError("images must be finite: HOG of NaN or infinite pixels is undefined.")
    orientations = int(orientations)
    c_row, c_col = (int(v) for v in pixels_per_cell)
    b_row, b_col = (int(v) for v in cells_per_block)
    n_blocks_row = images.shape[1] // c_row - b_row + 1
    n_blocks_col = images.shape[2] // c_col - b_col + 1
    if n_blocks_row <= 0 or n_blocks_col <= 0:
        raise ValueError(
            "The input image is too small given the values of pixels_per_cell and "
            f"cells_per_block. It should have at least: {b_row * c_row} rows and "
            f"{b_col * c_col} cols."
        )
    n_features = n_blocks_row * n_blocks_col * b_row * b_col * orientations
    check_width(n_features, images.shape[1:],
                f"orientations={orientations}, pixels_per_cell={(c_row, c_col)} and cells_per_block={(b_row, b_col)}",
                "use larger cells, smaller blocks or fewer orientations")
    out = np.empty((len(images), n_features), dtype=float_dtype)
    for start in range(0, len(images), _CHUNK):
        part = images[start : start + _CHUNK].astype(float_dtype)
        hist = _cell_histograms(part, orientations, (c_row, c_col), float_dtype)
        out[start : start + len(part)] = _descriptors(hist, (b_row, b_col), block_norm)
    return out


def _descriptors(hist: np.ndarray, cells_per_block: tuple[int, int], block_norm: str) -> np.ndarray:
    """Flattened, normalised blocks (n, n_features) of cell histograms (n, n_cells_row, n_cells_col, orient)."""
    # (n, nbr, nbc, orient, b_row, b_col) windows -> scikit-image's block layout
    # (n, nbr, nbc, b_row, b_col, orient), one contiguous row per block.
    blocks = sliding_window_view(hist, cells_per_block, axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)
    blocks = blocks.copy().reshape(len(hist), -1, np.prod(cells_per_block) * hist.shape[-1])
    return _normalize_blocks(blocks, block_norm).reshape(len(hist), -1)


class HOGFeatures(ImageTransformerMixin):
    """HOG descriptors of flattened grayscale images (scikit-image's parameters).

    Cell histograms of the whole batch come from one compiled loop and blocks
    are normalised with NumPy (:func:`hog_batch`); descriptors match
    :func:`skimage.feature.hog`'s within ``atol=1e-12``.

    Parameters
    ----------
    orientations : int, default=9
        Number of orientation bins over [0, 180) degrees, 1..180.
    pixels_per_cell : (int, int), default=(8, 8)
        Cell size in pixels.
    cells_per_block : (int, int), default=(3, 3)
        Block size in cells. The descriptor (blocks x cells per block x
        orientations) may have at most 128 columns a pixel (262,144 for
        smaller images).
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}, default="L2-Hys"
        Block normalisation.
    image_shape : (int, int), optional
        Geometry of a row; default infers a square.
    n_jobs : int, optional
        Parallel workers for ``transform`` (joblib semantics).

    Attributes
    ----------
    image_shape_ : (int, int)
        Geometry learned in ``fit``.
    n_features_out_ : int
        Length of one descriptor.
    """

    _feature_prefix = "hog"
    _input_dtype = "numeric"  # converted a chunk at a time by hog_batch
    _parameter_constraints: dict = {
        "orientations": [_ORIENTATIONS],
        "pixels_per_cell": [_PAIR],
        "cells_per_block": [_PAIR],
        "block_norm": [StrOptions(set(_BLOCK_NORMS))],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
        "n_jobs": N_JOBS,
    }

    def __init__(
        self,
        *,
        orientations: int = 9,
        pixels_per_cell: tuple[int, int] = (8, 8),
        cells_per_block: tuple[int, int] = (3, 3),
        block_norm: str = "L2-Hys",
        image_shape: tuple[int, int] | None = None,
        n_jobs: int | None = None,
    ):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def _check_params(self, image_shape):
        cells = [s // int(p) for s, p in zip(image_shape, self.pixels_per_cell)]
        if any(c < int(b) for c, b in zip(cells, self.cells_per_block)):
            least = [int(p) * int(b) for p, b in zip(self.pixels_per_cell, self.cells_per_block)]
            raise ValueError(
                f"Images of shape {image_shape} hold {cells[0]}x{cells[1]} cells of "
                f"{tuple(self.pixels_per_cell)} pixels, fewer than one block of "
                f"{tuple(self.cells_per_block)} cells; use images of at least {least[0]}x{least[1]} pixels "
                "(--size on the command line), smaller pixels_per_cell or cells_per_block, "
                "or pass image_shape=(height, width) if rows are not square images."
            )
        # The width, from the parameters alone: fit's probe image allocates a row of it.
        blocks = [c - int(b) + 1 for c, b in zip(cells, self.cells_per_block)]
        width = blocks[0] * blocks[1] * int(self.cells_per_block[0]) * int(self.cells_per_block[1]) * int(
            self.orientations)
        check_width(width, image_shape,
                    f"orientations={int(self.orientations)}, pixels_per_cell={tuple(self.pixels_per_cell)} and "
                    f"cells_per_block={tuple(self.cells_per_block)} (blocks x cells per block x orientations)",
                    "use larger cells, smaller blocks or fewer orientations (the default, (8, 8) cells in (3, 3) "
                    "blocks with 9 orientations, has 1,296 on 48 x 48 faces)")

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        if images.dtype.kind == "f" and images.dtype != np.float64:
            images = images.astype(np.float64)  # float64 arithmetic whatever the input, as before
        # The parameters were validated when fit began: skip hog_batch's own validation.
        return hog_batch.__wrapped__(
            images,
            orientations=int(self.orientations),
            pixels_per_cell=tuple(self.pixels_per_cell),
            cells_per_block=tuple(self.cells_per_block),
            block_norm=self.block_norm,
        ).astype(np.float64, copy=False)

    def encode_compact(self, X) -> np.ndarray:
        """Cell histograms of ``X``'s rows, float32: what :meth:`decode_compact` rebuilds the descriptors from.

        A descriptor holds every cell up to ``cells_per_block`` times, in
        float64 (1,296 values for a 48 x 48 face); its 324 cell histograms are
        float32 values and rebuild it bit for bit, in an eighth of the bytes.
        Kept in models for their support vectors (see
        :func:`fer_classic.estimators.compact_support_vectors`).

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened grayscale images.

        Returns
        -------
        ndarray of shape (n_samples, cell rows, cell columns, orientations)
            float32 cell histograms.
        """
        images = self._images(X)
        # As transform: float64 arithmetic whatever the input (hog_batch's chunks).
        cells = [_cell_histograms(images[s : s + _CHUNK].astype(np.float64), int(self.orientations),
                                  tuple(int(v) for v in self.pixels_per_cell), np.float64)
                 for s in range(0, len(images), _CHUNK)]
        return np.concatenate(cells).astype(np.float32) if cells else np.empty((0,), np.float32)

    def decode_compact(self, codes: np.ndarray) -> np.ndarray:
        """The descriptors (n, n_features_out_), float64, of :meth:`encode_compact`'s cell histograms.

        Parameters
        ----------
        codes : ndarray of shape (n_samples, cell rows, cell columns, orientations)
            What :meth:`encode_compact` returned.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_)
            The descriptors, float64, as :meth:`transform` gives them.

        Raises
        ------
        ValueError
            If ``codes`` are not cell histograms of this model's grid, (n, cell rows, cell columns, orientations).
        """
        check_is_fitted(self)
        hist = np.asarray(codes, dtype=np.float64)
        cells = tuple(s // int(p) for s, p in zip(self.image_shape_, self.pixels_per_cell))
        expected = (*cells, int(self.orientations))
        # Histograms of another grid made descriptors of another width (729 columns for a model of 1,296).
        if len(hist) and hist.shape[1:] != expected:
            raise ValueError(
                f"codes of shape {hist.shape} are not the cell histograms of this HOGFeatures: its "
                f"{self.image_shape_[0]}x{self.image_shape_[1]} images hold {cells[0]}x{cells[1]} cells of "
                f"{int(self.orientations)} orientations, shape (n, {', '.join(map(str, expected))}); give what "
                "encode_compact of this model returns."
            )
        return np.concatenate([
            _descriptors(hist[s : s + _CHUNK], tuple(int(v) for v in self.cells_per_block), self.block_norm)
            for s in range(0, len(hist), _CHUNK)
        ]) if len(hist) else np.empty((0, self.n_features_out_))
