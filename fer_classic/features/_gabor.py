"""Gabor filter bank magnitudes pooled on a grid, computed with FFTs of a whole batch."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
from skimage.filters import gabor_kernel

from .._sklearn_compat import N_JOBS, Integral, Interval, Real, SequenceOf, StrOptions
from ._base import IMAGE_SHAPE_CONSTRAINT, ImageTransformerMixin

__all__ = ["GaborFeatures"]

# Images filtered per FFT step: big enough to amortise call overhead, small enough that a
# chunk's spectra (about 32 x 100 x 100 complex values) stay in cache.
_CHUNK = 32
_EPS = 1e-12
# Wavelengths of 4, 4*sqrt(2), 8, 8*sqrt(2) and 16 pixels: the usual five scales for faces of ~48 px.
_DEFAULT_FREQUENCIES = (0.25, 0.1768, 0.125, 0.0884, 0.0625)


#: Largest kernel radius, in image sides: a wider kernel sees the mirrored image repeated (defaults:
#: radius 27 for 48 x 48 faces). Any image may take _ANY_RADIUS (a few megabytes of spectra at most).
_MAX_RADIUS = 4
_ANY_RADIUS = 64
#: Most filters in a bank: 8 frequencies x 128 orientations. Each keeps a spectrum of the padded
#: image and costs a pass over every image (5,000 orientations x 5 frequencies took 2.1 GB on two
#: 48 x 48 rows).
_MAX_FILTERS = 1024


@lru_cache(maxsize=8)
def _bank(
    frequencies: tuple[float, ...], orientations: int, bandwidth: float, n_stds: float
) -> tuple[np.ndarray, ...]:
    """Complex spatial kernels of every (frequency, orientation), frequency-major; scikit-image's."""
    return tuple(
        gabor_kernel(f, theta=np.pi * o / orientations, bandwidth=bandwidth, n_stds=n_stds)
        for f in frequencies for o in range(orientations)
    )


@lru_cache(maxsize=8)
def _bank_spectra(
    image_shape: tuple[int, int], frequencies: tuple[float, ...], orientations: int, bandwidth: float,
    n_stds: float,
) -> tuple[tuple[int, tuple[int, int], np.ndarray], ...]:
    """Per frequency: padding, FFT shape and complex64 spectra (orientations, *fft_shape) of its kernels.

    Images are padded by the kernel radius (mirrored borders, as
    ``skimage.filters.gabor``'s ``mode="reflect"``), so the circular
    convolution of the FFT never wraps into the central image. Each
    frequency gets its own FFT size: the small kernels of high frequencies
    need less padding (on 48 x 48 faces, 64 x 64 instead of 104 x 104).
    """
    kernels = _bank(frequencies, orientations, bandwidth, n_stds)
    out = []
    for f in range(len(frequencies)):
        group = kernels[f * orientations : (f + 1) * orientations]
        pad = max(max(k.shape) // 2 for k in group)
        shape = tuple(scipy.fft.next_fast_len(s + 2 * pad) for s in image_shape)
        spectra = np.empty((len(group), *shape), dtype=np.complex64)
        for i, kernel in enumerate(group):
            grid = np.zeros(shape, dtype=np.complex128)
            grid[: kernel.shape[0], : kernel.shape[1]] = kernel
            # Kernel centre on the origin: the FFT product is a zero-phase convolution.
            spectra[i] = scipy.fft.fft2(np.roll(grid, (-(kernel.shape[0] // 2), -(kernel.shape[1] // 2)), axis=(0, 1)))
        spectra.setflags(write=False)
        out.append((pad, shape, spectra))
    return tuple(out)


class GaborFeatures(ImageTransformerMixin):
    """Magnitudes of a Gabor filter bank, pooled over a grid of cells.

    Every image (mean removed, borders mirrored) is convolved with complex
    Gabor kernels (:func:`skimage.filters.gabor_kernel`) at every
    ``frequency`` and ``orientations`` angles in [0, 180) degrees, by one FFT
    of a chunk of images per frequency and one inverse FFT per filter, in
    single precision (magnitudes match ``skimage.filters.gabor``'s within
    about 1e-6 of their largest value); the magnitude of
    each response is averaged (or max-pooled) over a ``grid`` of cells. The
    descriptor is ordered (frequency, orientation, cell row, cell column).

    Parameters
    ----------
    frequencies : float or tuple of float, default=(0.25, 0.1768, 0.125, 0.0884, 0.0625)
        Spatial frequencies in cycles per pixel (wavelengths 4 to 16 pixels).
    orientations : int, default=8
        Number of orientations, at most 180 (and at most 1,024 filters in
        all, frequencies times orientations).
    bandwidth : float, default=1.0
        Frequency bandwidth in octaves, which sets each kernel's width (scikit-image's); at most 64.
    n_stds : float, default=3
        Kernel half-size in standard deviations of its Gaussian envelope.
    grid : (int, int), default=(6, 6)
        Cells of the pooling grid (rows, columns).
    pooling : {"mean", "max"}, default="mean"
        How the magnitude is pooled in a cell.
    norm : {"l2", None}, default="l2"
        Normalisation of every descriptor: ``l2`` removes the image contrast.
    image_shape : (int, int), optional
        Geometry of a row; default infers a square.
    n_jobs : int, optional
        Parallel threads for ``transform`` (the FFTs release the GIL).

    Attributes
    ----------
    image_shape_ : (int, int)
        Geometry learned in ``fit``.
    n_features_out_ : int
        ``len(frequencies) * orientations * grid[0] * grid[1]``.

    Examples
    --------
    >>> from fer_classic.data import make_synthetic_faces
    >>> faces = make_synthetic_faces(2, 0, random_state=0)
    >>> gabor = GaborFeatures(frequencies=(0.25, 0.125), orientations=4, grid=(4, 4)).fit(faces.X)
    >>> gabor.transform(faces.X).shape
    (14, 128)
    """

    _feature_prefix = "gabor"
    _input_dtype = "numeric"  # converted to float64 a chunk at a time
    _parameter_constraints: dict = {
        "frequencies": [Interval(Real, 0, 0.5, closed="right"), SequenceOf(Interval(Real, 0, 0.5, closed="right"))],
        "orientations": [Interval(Integral, 1, 180, closed="both")],  # one a degree at most: pi is half a turn
        "bandwidth": [Interval(Real, 0, 64, closed="right")],  # octaves; scikit-image's 2**b overflows past 1023
        "n_stds": [Interval(Real, 0, None, closed="neither")],
        "grid": [SequenceOf(Interval(Integral, 1, None, closed="left"), length=2)],
        "pooling": [StrOptions({"mean", "max"})],
        "norm": [StrOptions({"l2"}), None],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
        "n_jobs": N_JOBS,
    }

    def __init__(
        self,
        *,
        frequencies: float | tuple[float, ...] = _DEFAULT_FREQUENCIES,
        orientations: int = 8,
        bandwidth: float = 1.0,
        n_stds: float = 3,
        grid: tuple[int, int] = (6, 6),
        pooling: str = "mean",
        norm: str | None = "l2",
        image_shape: tuple[int, int] | None = None,
        n_jobs: int | None = None,
    ):
        self.frequencies = frequencies
        self.orientations = orientations
        self.bandwidth = bandwidth
        self.n_stds = n_stds
        self.grid = grid
        self.pooling = pooling
        self.norm = norm
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def _check_params(self, image_shape):
        n_filters = np.atleast_1d(self.frequencies).size * int(self.orientations)
        if n_filters > _MAX_FILTERS:  # each filter is a spectrum of the padded image, and a pass over every image
            raise ValueError(
                f"frequencies ({np.atleast_1d(self.frequencies).size}) x orientations ({int(self.orientations)}) "
                f"make {n_filters:,} Gabor filters, over the {_MAX_FILTERS:,} allowed; give fewer of either "
                "(the default bank has 5 x 8 = 40)."
            )
        if any(int(g) > s for g, s in zip(self.grid, image_shape)):
            raise ValueError(
                f"grid={tuple(self.grid)} must lie between (1, 1) and the image shape {image_shape}; "
                "use a coarser grid, or pass image_shape=(height, width) if rows are not square images."
            )
        # The kernel radius scikit-image's gabor_kernel takes (n_stds of its Gaussian envelope), checked
        # before any kernel is built: a tiny frequency or bandwidth asks for kernels of gigabytes.
        # (2**b + 1) / (2**b - 1), written so that neither a tiny nor a huge bandwidth overflows
        spread = 1 + 2 / np.expm1(float(self.bandwidth) * np.log(2))
        sigma = np.sqrt(np.log(2) / 2) * spread / (np.pi * min(np.atleast_1d(self.frequencies)))
        radius, most = np.ceil(float(self.n_stds) * sigma), max(_MAX_RADIUS * max(image_shape), _ANY_RADIUS)
        if not radius <= most:
            shown = f"{radius:,.0f}" if radius < 1e12 else f"{radius:.3g}"
            raise ValueError(
                f"frequencies={self.frequencies!r}, bandwidth={self.bandwidth!r} and n_stds={self.n_stds!r} give "
                f"Gabor kernels of radius {shown} pixels, over the {most} allowed for {image_shape[0]}x"
                f"{image_shape[1]} images ({_MAX_RADIUS} image sides, at least {_ANY_RADIUS}); raise the lowest "
                "frequency or the bandwidth, or lower n_stds.")

    def _output_width(self, image_shape):
        # A blank 1024 x 1024 image took 7 s through the filter bank.
        return np.atleast_1d(self.frequencies).size * int(self.orientations) * int(self.grid[0]) * int(self.grid[1])

    def _spectra(self):
        frequencies = tuple(float(f) for f in np.atleast_1d(self.frequencies))
        return _bank_spectra(tuple(self.image_shape_), frequencies, int(self.orientations), float(self.bandwidth),
                             float(self.n_stds))

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        bank = self._spectra()
        height, width = images.shape[1:]
        rows = np.linspace(0, height, int(self.grid[0]) + 1).astype(int)
        cols = np.linspace(0, width, int(self.grid[1]) + 1).astype(int)
        area = np.diff(rows)[:, None] * np.diff(cols)[None, :]
        n_cells = area.size
        n_filters = sum(len(spectra) for _, _, spectra in bank)
        out = np.empty((len(images), n_filters * n_cells))
        for start in range(0, len(images), _CHUNK):
            # Single precision FFTs: twice as fast, and far more precise than the features need.
            part = images[start : start + _CHUNK].astype(np.float32)
            part -= part.mean(axis=(1, 2), keepdims=True)  # no response to the mean brightness
            block = out[start : start + len(part)].reshape(len(part), n_filters, n_cells)
            f = 0
            for pad, shape, spectra in bank:
                padded = np.pad(part, ((0, 0), (pad, pad), (pad, pad)), mode="symmetric")
                spectrum = scipy.fft.fft2(padded, s=shape, axes=(1, 2))
                for kernel_spectrum in spectra:
                    response = scipy.fft.ifft2(spectrum * kernel_spectrum, axes=(1, 2))
                    magnitude = np.abs(response[:, pad : pad + height, pad : pad + width])
                    block[:, f] = self._pool(magnitude, rows, cols, area).reshape(len(part), n_cells)
                    f += 1
        if self.norm == "l2":
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), _EPS)
        return out

    def _pool(self, magnitude: np.ndarray, rows: np.ndarray, cols: np.ndarray, area: np.ndarray) -> np.ndarray:
        """(n, grid rows, grid columns) mean or max of ``magnitude`` over each cell."""
        if self.pooling == "max":
            return np.maximum.reduceat(np.maximum.reduceat(magnitude, rows[:-1], axis=1), cols[:-1], axis=2)
        sums = np.add.reduceat(np.add.reduceat(magnitude, rows[:-1], axis=1), cols[:-1], axis=2)
        return sums / area
