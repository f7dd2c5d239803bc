"""Compiled per-pixel loops of the HOG and LBP extractors (Numba).

Each kernel replays scikit-image's Cython arithmetic on one pixel at a time, in
the same order and precision, so results stay bit-identical to
``skimage.feature.hog`` cell histograms and ``local_binary_pattern`` codes,
while a whole batch runs in one call without temporaries. The kernels release
the GIL (``nogil``), so :class:`~fer_classic.features.ImageTransformerMixin`
spreads chunks of a batch over threads that share the images.

Callers pass fixed dtypes (documented per kernel) so that Numba compiles each
kernel once; ``cache=True`` keeps the machine code between processes. This
module imports Numba, so the extractors import it only when they run.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["hog_cells_from_gradients", "hog_cells_from_pixels", "lbp_codes", "lbp_histograms"]


@njit(cache=True, nogil=True)
def hog_cells_from_pixels(pixels, magnitude_table, bin_table, span, c_row, c_col, hist):
    """Add the gradient magnitudes of integer images into their cell histograms.

    Parameters
    ----------
    pixels : int32 array (n, height, width)
        Images shifted to ``0 .. span``.
    magnitude_table, bin_table : float64 and int64 arrays
        Magnitude indexed by ``|g_row| * (span + 1) + |g_col|``, orientation
        bin by ``(g_row + span) * (2 * span + 1) + g_col + span``.
    span, c_row, c_col : int
        Largest pixel value, and the cell size.
    hist : float32 array (n, n_cells_row, n_cells_col, n_slots), zeros
        Filled in place: one running float32 sum per cell and bin, taken in
        row-major pixel order, as scikit-image's ``cell_hog``.
    """
    n, height, width = pixels.shape
    for k in range(n):
        for i in range(hist.shape[1]):
            for j in range(hist.shape[2]):
                for r in range(i * c_row, (i + 1) * c_row):
                    for c in range(j * c_col, (j + 1) * c_col):
                        # Central differences, zero on the image border.
                        g_row = 0
                        if 0 < r < height - 1:
                            g_row = pixels[k, r + 1, c] - pixels[k, r - 1, c]
                        g_col = 0
                        if 0 < c < width - 1:
                            g_col = pixels[k, r, c + 1] - pixels[k, r, c - 1]
                        magnitude = magnitude_table[abs(g_row) * (span + 1) + abs(g_col)]
                        b = bin_table[(g_row + span) * (2 * span + 1) + g_col + span]
                        # C's `float total += double`: the sum in double, rounded to float.
                        hist[k, i, j, b] = np.float32(np.float64(hist[k, i, j, b]) + magnitude)


@njit(cache=True, nogil=True)
def hog_cells_from_gradients(magnitude, bins, c_row, c_col, hist):
    """Add precomputed gradient magnitudes (float64) in their bins (int64) into ``hist``.

    Same accumulation as :func:`hog_cells_from_pixels`, for images whose
    gradients are not small integers.
    """
    for k in range(magnitude.shape[0]):
        for i in range(hist.shape[1]):
            for j in range(hist.shape[2]):
                for r in range(i * c_row, (i + 1) * c_row):
                    for c in range(j * c_col, (j + 1) * c_col):
                        b = bins[k, r, c]
                        hist[k, i, j, b] = np.float32(np.float64(hist[k, i, j, b]) + magnitude[k, r, c])


@njit(cache=True, nogil=True)
def _image_codes(padded, image, shifts, w_r, w_c, codes):
    """``default`` LBP codes of one image into ``codes`` (height, width), int32.

    ``padded`` holds the image inside zero rows and columns (the constant
    border of scikit-image's interpolation). Neighbour ``i`` of pixel
    ``(r, c)`` is interpolated between padded rows ``r + shifts[i, 0]`` and
    ``r + shifts[i, 1]`` with weight ``w_r[i, r]``, and columns
    ``c + shifts[i, 2]``, ``c + shifts[i, 3]`` with weight ``w_c[i, c]``, with
    the very expressions of scikit-image's ``bilinear_interpolation``; its
    bit is set when ``texture - centre >= 0``.
    """
    height, width = image.shape
    codes[:, :] = 0
    for i in range(shifts.shape[0]):
        above, below, left, right = shifts[i, 0], shifts[i, 1], shifts[i, 2], shifts[i, 3]
        w_col = w_c[i]
        for r in range(height):
            dr = w_r[i, r]
            upper, lower, centre, code = padded[r + above], padded[r + below], image[r], codes[r]
            # Contiguous, branch-free inner loop over a row: it vectorises.
            for c in range(width):
                dc = w_col[c]
                top = (1 - dc) * upper[c + left] + dc * upper[c + right]
                bottom = (1 - dc) * lower[c + left] + dc * lower[c + right]
                code[c] |= ((1 - dr) * top + dr * bottom - centre[c] >= 0) << i


@njit(cache=True, nogil=True)
def _lbp_pass(images, pad, shifts, w_r, w_c, table, cell, hist, out, histograms):
    """Mapped codes of every image: counted per cell into ``hist`` or written to ``out``."""
    n, height, width = images.shape
    padded = np.zeros((height + 2 * pad, width + 2 * pad))
    codes = np.empty((height, width), dtype=np.int32)
    for k in range(n):
        padded[pad : pad + height, pad : pad + width] = images[k]
        _image_codes(padded, images[k], shifts, w_r, w_c, codes)
        for r in range(height):
            for c in range(width):
                if histograms:
                    hist[k, cell[r, c], table[codes[r, c]]] += 1.0
                else:
                    out[k, r, c] = table[codes[r, c]]


@njit(cache=True, nogil=True)
def lbp_codes(images, pad, shifts, w_r, w_c, table, out):
    """LBP codes of float64 images (n, height, width) mapped through ``table`` into ``out`` (int32).

    ``pad`` zero rows and columns surround each image; ``shifts`` (int64,
    P x 4), ``w_r`` (float64, P x height) and ``w_c`` (float64, P x width)
    locate and weigh the neighbours (see ``_image_codes``); ``table`` (int32)
    maps a ``default`` code to the chosen method's code.
    """
    unused_cell, unused_hist = np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1, 1))
    _lbp_pass(images, pad, shifts, w_r, w_c, table, unused_cell, unused_hist, out, False)


@njit(cache=True, nogil=True)
def lbp_histograms(images, pad, shifts, w_r, w_c, table, cell, hist):
    """Count the mapped LBP codes of every grid cell into ``hist`` (n, n_cells, n_bins), float64.

    Arguments as :func:`lbp_codes`; ``cell`` (int64, height x width) is the
    grid cell of every pixel. Counts are added to ``hist``, which starts at zero.
    """
    unused_out = np.zeros((1, 1, 1), dtype=np.int32)
    _lbp_pass(images, pad, shifts, w_r, w_c, table, cell, hist, unused_out, True)
