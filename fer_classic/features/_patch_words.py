"""Words of whitened pixel patches (a single-layer k-means encoding), pooled on a grid."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.cluster import MiniBatchKMeans
from sklearn.utils import check_random_state

from .._progress import Progress
from .._sklearn_compat import N_JOBS, Integral, Interval, Real, SequenceOf, _fit_context
from ._base import IMAGE_SHAPE_CONSTRAINT, ImageTransformerMixin, check_width

__all__ = ["PatchWords"]

_SIDE = Interval(Integral, 1, None, closed="left")
# Elements of a step's (patch positions x words) distances: 16 MB of float32, about two 48 x 48 faces with the
# defaults. Measured on the 2-core EPYC: one or a few images per step took 12-15 ms a face and 29-102 MB, batches
# of 64 31-34 ms and 1.2-1.5 GB (temporaries of the whole batch fall out of the caches), per thread.
_BLOCK = 2**22
#: Most training patches sampled in fit (float64 copies: 10 million 6 x 6 patches are 2.9 GB).
MAX_PATCHES = 10_000_000
#: Most words: each costs a column of distances per patch position.
MAX_WORDS = 65_536


def _patch_rows(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Every ``size`` patch of ``images`` (n, height, width), as (n, positions, size[0] * size[1])."""
    windows = sliding_window_view(images, size, axis=(1, 2))
    return windows.reshape(len(images), -1, size[0] * size[1])


def _contrast_normalised(patches: np.ndarray, contrast: float) -> np.ndarray:
    """Each patch (last axis) less its mean, over its standard deviation (``contrast`` keeps flat patches flat)."""
    patches = patches - patches.mean(axis=-1, keepdims=True)
    return patches / np.sqrt(patches.var(axis=-1, keepdims=True) + contrast)


class PatchWords(ImageTransformerMixin):
    """Bag of visual words over whitened pixel patches, pooled on a grid.

    Coates, Lee and Ng's single-layer encoding ("An analysis of single-layer
    networks in unsupervised feature learning", AISTATS 2011), the dense
    SIFT words' recipe with the patch itself as the descriptor: every
    ``patch_size`` patch (stride 1) is contrast-normalised and ZCA
    whitened; ``fit`` learns the whitening and ``n_words`` k-means centres
    from ``n_patches`` random training patches (no label is used); each
    patch then votes for the words nearer to it than its mean distance to
    all words (the "triangle" code, ``max(0, mean(z) - z_k)`` for distances
    ``z``); the votes are summed over a ``grid`` of cells and raised to
    ``power``. The descriptor is ordered (cell row, cell column, word).

    Parameters
    ----------
    patch_size : int or (int, int), default=6
        Side of the square patches, or their (rows, columns), in pixels.
    n_words : int, default=800
        Words of the vocabulary (k-means centres).
    grid : (int, int), default=(3, 3)
        Cells of the pooling grid (rows, columns), over the patch positions.
    n_patches : int, default=200_000
        Random training patches the whitening and the words are learned on.
    contrast : float, default=10.0
        Added to each patch's variance (on the 0..255 scale) before dividing
        by its square root: flat patches are not blown up into noise.
    whitening : float, default=0.1
        Added to the eigenvalues of the patches' covariance before the ZCA
        whitening divides by their square root.
    power : float, default=0.5
        Exponent of the pooled votes; 1 leaves the sums as they are.
    image_shape : (int, int), optional
        Geometry of a row; default infers a square.
    n_jobs : int, optional
        Parallel threads for ``transform``.
    random_state : int, RandomState instance or None, default=None
        Seed of the patch sample and of k-means. An int seeds NumPy's
        ``default_rng`` and k-means directly; a RandomState (or None) first
        draws such an int, so ``0`` and ``RandomState(0)`` give different
        words.

    Attributes
    ----------
    image_shape_ : (int, int)
        Geometry learned in ``fit``.
    mean_ : ndarray of shape (patch_pixels,), float32
        Mean of the contrast-normalised training patches (``patch_pixels``
        pixels each).
    whitening_ : ndarray of shape (patch_pixels, patch_pixels), float32
        The ZCA whitening matrix.
    codebook_ : ndarray of shape (n_words, patch_pixels), float32
        The words, in whitened patch space.
    n_features_out_ : int
        ``n_words * grid[0] * grid[1]``.

    Notes
    -----
    The cost is ``n_words * patch_pixels`` multiply-adds per patch
    position (about 13-15 ms per 48 x 48 face with the defaults on one core
    of the 2-core AMD EPYC this was measured on, a face or two a step):
    several times HOG's or Gabor's. On FER2013, with SIFT words, HOG and Gabor and the
    mirror-averaged kernel, it adds 1.1 points on PublicTest and 0.9 on
    PrivateTest (see the README's ablation).

    Examples
    --------
    >>> from fer_classic.data import make_synthetic_faces
    >>> faces = make_synthetic_faces(4, 0, random_state=0)
    >>> words = PatchWords(n_words=16, grid=(2, 2), n_patches=2_000, random_state=0).fit(faces.X)
    >>> words.transform(faces.X).shape
    (28, 64)
    """

    _feature_prefix = "patchword"
    _input_dtype = "numeric"  # converted to float32 a batch at a time
    _parameter_constraints: dict = {
        "patch_size": [_SIDE, SequenceOf(_SIDE, length=2)],
        "n_words": [Interval(Integral, 2, MAX_WORDS, closed="both")],
        "grid": [SequenceOf(Interval(Integral, 1, None, closed="left"), length=2)],
        "n_patches": [Interval(Integral, 1, MAX_PATCHES, closed="both")],
        "contrast": [Interval(Real, 0, None, closed="neither")],
        "whitening": [Interval(Real, 0, None, closed="neither")],
        "power": [Interval(Real, 0, None, closed="neither")],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
        "n_jobs": N_JOBS,
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        patch_size: int = 6,
        n_words: int = 800,
        grid: tuple[int, int] = (3, 3),
        n_patches: int = 200_000,
        contrast: float = 10.0,
        whitening: float = 0.1,
        power: float = 0.5,
        image_shape: tuple[int, int] | None = None,
        n_jobs: int | None = None,
        random_state=None,
    ):
        self.patch_size = patch_size
        self.n_words = n_words
        self.grid = grid
        self.n_patches = n_patches
        self.contrast = contrast
        self.whitening = whitening
        self.power = power
        self.image_shape = image_shape
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _size(self) -> tuple[int, int]:
        size = np.atleast_1d(self.patch_size).astype(int)
        return (int(size[0]), int(size[-1]))

    def _check_params(self, image_shape):
        positions = [side - patch + 1 for side, patch in zip(image_shape, self._size())]
        if np.prod(self._size()) < 2:  # one pixel less its mean is always 0
            raise ValueError(f"patch_size={self.patch_size!r} holds a single pixel, which contrast normalisation "
                             "turns into 0; give patches of 2 pixels or more (the default is 6).")
        if min(positions) < 1:
            raise ValueError(
                f"patch_size={self.patch_size!r} is larger than the {image_shape[0]}x{image_shape[1]} images "
                f"({image_shape[0] * image_shape[1]} feature(s) per row); give patches within them (the default is "
                "6 on 48 x 48 faces)."
            )
        if any(int(g) > p for g, p in zip(self.grid, positions)):
            raise ValueError(
                f"grid={tuple(self.grid)} has more cells along a side than the {positions[0]}x{positions[1]} patch "
                f"positions of {image_shape[0]}x{image_shape[1]} images (patch_size={self.patch_size!r}); give a "
                "coarser grid or smaller patches."
            )
        check_width(self._output_width(image_shape), image_shape,
                    f"n_words={self.n_words} and grid={tuple(self.grid)}", "give fewer words or a coarser grid")

    def _output_width(self, image_shape):
        return int(self.n_words) * int(self.grid[0]) * int(self.grid[1])

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the image geometry, the whitening and the words from training images.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened grayscale images.
        y : None
            Ignored.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If a parameter is invalid, or ``n_patches`` is below ``n_words``.
        """
        images = self._fit_geometry(X)
        if int(self.n_patches) < int(self.n_words):
            raise ValueError(f"n_patches={self.n_patches} must be at least n_words={self.n_words}: k-means "
                             "needs a patch per word; give more patches or fewer words.")
        # An int seeds NumPy's Generator itself, so a seed names one sample whatever the RandomState stream.
        seed = (self.random_state if isinstance(self.random_state, Integral)
                else check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        rng = np.random.default_rng(seed)
        patches = _patch_rows(images, self._size())  # a view: only the sample is copied
        picked = (rng.integers(0, patches.shape[0], int(self.n_patches)),
                  rng.integers(0, patches.shape[1], int(self.n_patches)))
        # The float32 pixels transform reads, in float64 for the covariance.
        sample = _contrast_normalised(patches[picked].astype(np.float32).astype(np.float64), float(self.contrast))
        mean = sample.mean(axis=0)
        eigenvalues, eigenvectors = np.linalg.eigh(np.cov(sample - mean, rowvar=False))
        eigenvalues = np.maximum(eigenvalues, 0)  # rounding leaves the null directions of flat patches at -1e-17
        whitening = (eigenvectors * (1.0 / np.sqrt(eigenvalues + float(self.whitening)))) @ eigenvectors.T
        kmeans = MiniBatchKMeans(int(self.n_words), batch_size=8192, n_init=3, max_iter=50, random_state=seed)
        kmeans.fit(((sample - mean) @ whitening).astype(np.float32))
        self.mean_ = mean.astype(np.float32)
        self.whitening_ = whitening.astype(np.float32)
        self.codebook_ = kmeans.cluster_centers_.astype(np.float32)
        self.n_features_out_ = self._output_width(self.image_shape_)
        return self

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        size, n_words = self._size(), int(self.n_words)
        rows, cols = (side - patch + 1 for side, patch in zip(images.shape[1:], size))
        row_edges = np.linspace(0, rows, int(self.grid[0]) + 1).round().astype(int)
        col_edges = np.linspace(0, cols, int(self.grid[1]) + 1).round().astype(int)
        squared_words = (self.codebook_ ** 2).sum(axis=1)
        out = np.empty((len(images), self.n_features_out_), dtype=np.float32)
        progress = Progress(len(images), "patch words")
        # At most 64 images a step: tiny images would otherwise make one step of the whole batch.
        step = max(1, min(64, _BLOCK // (rows * cols * n_words)))
        for start in range(0, len(images), step):
            patches = _patch_rows(images[start : start + step].astype(np.float32), size)
            n = len(patches)
            z = (_contrast_normalised(patches.reshape(-1, size[0] * size[1]), float(self.contrast)) - self.mean_)
            z = z @ self.whitening_
            distances = z @ self.codebook_.T
            distances *= -2
            distances += (z ** 2).sum(axis=1, keepdims=True)
            distances += squared_words
            np.maximum(distances, 0, out=distances)
            np.sqrt(distances, out=distances)
            # The triangle code in place: mean distance less each distance, negatives to 0.
            np.subtract(distances.mean(axis=1, keepdims=True), distances, out=distances)
            votes = np.maximum(distances, 0, out=distances).reshape(n, rows, cols, n_words)
            out[start : start + n] = np.concatenate(
                [votes[:, row_edges[i] : row_edges[i + 1], col_edges[j] : col_edges[j + 1]].sum(axis=(1, 2))
                 for i in range(len(row_edges) - 1) for j in range(len(col_edges) - 1)], axis=1)
            progress.update(n)
        progress.close()
        if self.power == 0.5:  # sqrt is correctly rounded, power(x, 0.5) not always
            np.sqrt(out, out=out)
        elif self.power != 1:
            np.power(out, np.float32(self.power), out=out)
        return out.astype(np.float64)
