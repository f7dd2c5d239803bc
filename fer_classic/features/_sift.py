"""Dense SIFT bag of visual words with a spatial pyramid."""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._progress import Progress
from .._sklearn_compat import N_JOBS, Integral, Interval, Real, SequenceOf, StrOptions, _fit_context
from ._base import IMAGE_SHAPE_CONSTRAINT, ImageTransformerMixin

__all__ = ["DenseSIFTBoVW", "DenseSIFTVLAD", "dense_keypoints"]

_POSITIVE = Interval(Real, 0, None, closed="neither")
#: Largest sigma any image takes (a blur kernel of 6 sigma: a few hundred pixels); larger images their side.
_ANY_SIGMA = 64
_POSITIVE_INT = Interval(Integral, 1, None, closed="left")
#: Largest patch any image takes: SIFT's usual 16 x 16 pixels (4 x 4 cells of 4); larger images their larger side.
_ANY_PATCH = 16
# OpenCV's SIFT descriptor spans 4 x 4 cells of 1.5 * KeyPoint.size pixels each
# (SIFT_DESCR_SCL_FCTR * size / 2), so a patch of P pixels is KeyPoint.size = P / 6.
_PATCH_PER_KEYPOINT_SIZE = 6.0
# Elements of the descriptor-to-word distance matrix (and of the descriptors) per encoding
# step: 16 MB each in float32.
_BLOCK = 2**22
_EPS = 1e-12


def _grid(length: int, step: int) -> np.ndarray:
    """Centres of ``length // step`` (at least one) points ``step`` apart, centred on the axis.

    Pixel centres are at integer coordinates, so the grid is symmetric under
    mirroring: on 48 pixels with step 4 it is 1.5, 5.5, ..., 45.5.
    """
    n = max(1, length // step)
    return (length - 1 - (n - 1) * step) / 2 + step * np.arange(n)


@lru_cache(maxsize=16)
def dense_keypoints(
    image_shape: tuple[int, int], step: int, patch_sizes: tuple[float, ...]
) -> tuple[tuple[cv2.KeyPoint, ...], np.ndarray]:
    """The dense grid of upright keypoints, and each one's (row, column) centre.

    Parameters
    ----------
    image_shape : (int, int)
        Image (height, width).
    step : int
        Pixels between neighbouring centres.
    patch_sizes : tuple of float
        Side in pixels of the square each descriptor covers; one grid per size.

    Returns
    -------
    keypoints : tuple of cv2.KeyPoint
        Ordered (patch size, row, column); orientation 0, octave 0.
    centres : ndarray of shape (n_keypoints, 2)
        Row and column of every keypoint centre, in pixels.
    """
    rows, cols = _grid(image_shape[0], step), _grid(image_shape[1], step)
    keypoints, centres = [], []
    for patch in patch_sizes:
        size = float(patch) / _PATCH_PER_KEYPOINT_SIZE
        for r in rows:
            for c in cols:
                keypoints.append(cv2.KeyPoint(float(c), float(r), size, 0.0))
                centres.append((r, c))
    return tuple(keypoints), np.asarray(centres, dtype=np.float64)


def _as_uint8(images: np.ndarray) -> np.ndarray:
    """Stretch every image to the full 0..255 range (SIFT needs 8-bit input); flat images give 0."""
    low = images.min(axis=(1, 2), keepdims=True).astype(np.float64)
    span = images.max(axis=(1, 2), keepdims=True) - low
    scale = np.divide(255.0, span, out=np.zeros_like(span), where=span > 0)
    return np.rint((images - low) * scale).astype(np.uint8)


class _DenseSIFT(ImageTransformerMixin):
    """Dense SIFT descriptors on a grid and their spatial-pyramid cells: what the encodings share.

    Subclasses store ``step``, ``patch_sizes``, ``n_words``, ``levels``,
    ``root_sift``, ``sigma``, ``power``, ``max_descriptors``, ``n_jobs`` and
    ``random_state``.
    """

    # 8-bit rows stay 8-bit: each image is stretched to 0..255 by _as_uint8 anyway.
    _input_dtype = "numeric"
    # The parameters both encodings have.
    _parameter_constraints: dict = {
        "step": [_POSITIVE_INT],
        "patch_sizes": [_POSITIVE, SequenceOf(_POSITIVE)],
        "n_words": [Interval(Integral, 2, None, closed="left")],
        "levels": [_POSITIVE_INT, SequenceOf(_POSITIVE_INT)],
        "root_sift": ["boolean"],
        "sigma": [_POSITIVE],
        "power": [_POSITIVE],
        "max_descriptors": [_POSITIVE_INT],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
        "n_jobs": N_JOBS,
        "random_state": ["random_state"],
    }

    def _patches(self) -> tuple[float, ...]:
        return tuple(float(p) for p in np.atleast_1d(self.patch_sizes))

    def _check_params(self, image_shape):
        # OpenCV's blur kernel grows as 6 sigma: 1e4 took 36 s on five 24x24 images, 1e6 hung.
        most = max(_ANY_SIGMA, *image_shape)
        if float(self.sigma) > most:
            raise ValueError(
                f"sigma={self.sigma!r} blurs the {image_shape[0]}x{image_shape[1]} images far beyond their size; "
                f"give at most {most} (OpenCV's default is 1.6)."
            )
        levels = np.atleast_1d(self.levels)
        if levels.max() > min(image_shape):
            raise ValueError(
                f"levels must lie between 1 and the smaller image side {min(image_shape)} (a pyramid "
                f"level L pools over L x L cells of the image); got {self.levels!r}."
            )
        # A patch wider than the image reads mostly the border OpenCV makes up (100 on 24 x 24 faces).
        most = max(_ANY_PATCH, *image_shape)
        widest = max(self._patches())
        if widest > most:
            side = math.ceil(widest)
            anywhere = ", which any image takes" if most > max(image_shape) else ""  # 16 on 8 x 8 images: allowed
            raise ValueError(
                f"patch_sizes={self.patch_sizes!r} holds a patch of {widest:g} pixels, wider than the "
                f"{image_shape[0]}x{image_shape[1]} images; use images of at least {side}x{side} pixels (--size "
                f"{side} on the command line), or patch sizes of at most {most}{anywhere} "
                f"({self._feature_prefix}.patch_sizes in a search's --grid; the default is (12, 20) on 48 x 48 faces)."
            )

    def _check_pyramid(self, image_shape) -> None:
        """Raise ValueError if a pyramid level is finer than the keypoint grid.

        Its cells would hold no keypoint, columns always 0 (levels=(1, 2, 4) with step=16 on 48 x 48
        faces: 7 of 21 cells). The grid's points, evenly spread and centred, fill every cell of a
        level up to their count along each side.
        """
        levels = np.atleast_1d(self.levels)
        grid = [len(_grid(side, int(self.step))) for side in image_shape]
        if levels.max() > min(grid):
            raise ValueError(
                f"levels={self.levels!r} holds {int(levels.max())}, finer than the keypoint grid: step={self.step!r} "
                f"places {grid[0]}x{grid[1]} keypoints on {image_shape[0]}x{image_shape[1]} images, so some pyramid "
                f"cells would hold none (columns always 0); give levels of at most {min(grid)}, or a smaller step."
            )

    def _keypoints(self):
        return dense_keypoints(tuple(self.image_shape_), int(self.step), self._patches())

    def _descriptors(self, images: np.ndarray) -> np.ndarray:
        """Unit-norm descriptors (n_images, n_keypoints, 128), float32."""
        keypoints, _ = self._keypoints()
        sift = cv2.SIFT_create(sigma=float(self.sigma))  # one per call: threads never share it
        out = np.empty((len(images), len(keypoints), 128), dtype=np.float32)
        for i in range(len(images)):
            # One image at a time: never a float copy of the whole batch.
            found, descriptors = sift.compute(_as_uint8(images[i : i + 1])[0], keypoints)
            if descriptors is None or len(found) != len(keypoints):
                raise RuntimeError(
                    f"OpenCV SIFT returned {0 if descriptors is None else len(descriptors)} descriptors "
                    f"for {len(keypoints)} keypoints."
                )
            out[i] = descriptors
        if self.root_sift:
            out /= np.maximum(out.sum(axis=2, keepdims=True), _EPS)
            np.sqrt(out, out=out)
        else:
            out /= np.maximum(np.linalg.norm(out, axis=2, keepdims=True), _EPS)
        return out

    def _descriptor_sample(self, images: np.ndarray, rng, per_image: int) -> np.ndarray:
        """Descriptors (n, n_keypoints, 128) of enough random images for ``max_descriptors`` (``per_image`` each)."""
        n_images = min(len(images), -(-int(self.max_descriptors) // per_image))
        chosen = np.sort(rng.choice(len(images), size=n_images, replace=False))
        return self._map_images(self._descriptors, images[chosen], min_parallel=64)

    def _learn_codebook(self, descriptors: np.ndarray, rng, n_images: int) -> np.ndarray:
        """``n_words`` mini-batch k-means centres of (a sample of at most ``max_descriptors``) ``descriptors``."""
        if len(descriptors) > self.max_descriptors:
            descriptors = descriptors[rng.choice(len(descriptors), size=int(self.max_descriptors), replace=False)]
        if len(descriptors) < self.n_words:
            raise ValueError(
                f"n_words={self.n_words} needs at least as many descriptors; {n_images} image(s) give "
                f"{len(descriptors)}. Use a smaller n_words, a smaller step or more images."
            )
        # float64: scikit-learn's k-means++ upcasts float32 block by block, several times slower.
        # On FER2013 it stops early after 3-5 passes over the sample; max_iter caps tiny inputs.
        # Batches of at least two descriptors per word, so that a large vocabulary (thousands of
        # words) still moves most words at every step; time and memory stay bounded by
        # max_descriptors (k-means++ runs on 3 batches, mini-batch passes stop early).
        kmeans = MiniBatchKMeans(
            n_clusters=int(self.n_words),
            batch_size=min(len(descriptors), max(2048, 2 * int(self.n_words))),
            n_init=1,
            max_iter=20,
            random_state=rng.randint(np.iinfo(np.int32).max),
        ).fit(descriptors.astype(np.float64))
        return kmeans.cluster_centers_.astype(np.float32)

    def _n_cells(self) -> int:
        return sum(int(v) ** 2 for v in np.atleast_1d(self.levels))

    def _pooling(self) -> np.ndarray:
        """(pyramid cells, keypoints) matrix: 1 where a keypoint's centre lies in a cell, else 0.

        Cells are ordered by level, then row-major within the level.
        """
        _, centres = self._keypoints()
        height, width = self.image_shape_
        rows = []
        for level in np.atleast_1d(self.levels):
            level = int(level)
            cell_row = np.minimum(((centres[:, 0] + 0.5) * level // height).astype(int), level - 1)
            cell_col = np.minimum(((centres[:, 1] + 0.5) * level // width).astype(int), level - 1)
            rows.append(np.arange(level * level)[:, None] == (cell_row * level + cell_col)[None, :])
        return np.concatenate(rows).astype(np.float32)


class DenseSIFTBoVW(_DenseSIFT):
    """Dense SIFT bag of visual words with spatial-pyramid histograms.

    OpenCV SIFT descriptors (:func:`cv2.SIFT_create`) are computed at upright
    keypoints on a dense grid, at one or more patch sizes. ``fit`` learns a
    codebook of ``n_words`` visual words with mini-batch k-means on a random
    sample of the training descriptors. ``transform`` assigns every
    descriptor to the words (hard: nearest word; soft: kernel codebook over
    the nearest ``soft_neighbors`` words; distances by one matrix product per
    batch), pools the assignments into one histogram per cell of each pyramid
    level, and normalises: each level sums to 1, then a power (signed square
    root by default) and a global L2 norm, which suits both linear and RBF
    SVMs (the linear kernel then approximates the Hellinger kernel).

    Parameters
    ----------
    step : int, default=4
        Pixels between neighbouring keypoint centres.
    patch_sizes : float or tuple of float, default=(12, 20)
        Side in pixels of the square each descriptor covers (its 4 x 4 cells
        are ``patch / 4`` pixels wide); one keypoint grid per size. At most
        the larger image side, or 16.
    n_words : int, default=512
        Codebook size (of each codebook).
    codebooks : {"shared", "per_patch"}, default="shared"
        ``shared``: one codebook for the descriptors of every patch size.
        ``per_patch``: one codebook of ``n_words`` per patch size, each
        learned on (and encoding) its own patch size's descriptors; the
        histograms of the sizes are side by side in each pyramid cell.
    assignment : {"soft", "hard"}, default="soft"
        ``hard``: each descriptor votes for its nearest word. ``soft``: it
        spreads one vote over its ``soft_neighbors`` nearest words with
        weights ``exp(-soft_beta * squared distance)`` (kernel codebook).
    soft_beta : float, default=10.0
        Inverse width of the soft-assignment kernel; descriptors have unit L2
        norm, so squared distances lie in [0, 4]. At most 1e6.
    soft_neighbors : int, default=5
        Words each descriptor votes for in soft assignment (capped at
        ``n_words``; words tied at the k-th distance all vote).
    levels : tuple of int, default=(1, 2)
        Spatial pyramid: level ``L`` pools over an ``L x L`` grid of cells;
        at most the keypoints along the shorter side (``side // step``, at
        least 1), so that every cell holds one.
    root_sift : bool, default=True
        Use RootSIFT (square root of the L1-normalised descriptor) instead of
        the L2-normalised descriptor.
    sigma : float, default=1.6
        Gaussian blur of the image before the descriptors, OpenCV's ``sigma``;
        at most 64 or the larger image side.
    histogram : {"count", "presence", "capped"}, default="count"
        What a pyramid cell holds per word. ``count``: the votes, each level
        divided by the keypoints so that it sums to 1. ``presence``: 1 where
        the word got any vote in the cell, else 0 (with soft assignment, a
        descriptor votes for its ``soft_neighbors`` words). ``capped``: the
        votes, capped at ``cap`` (a few repeats of a word count, many do
        not outweigh the rest). Power and norm then apply as for counts.
    cap : float, default=1.0
        Largest value of a ``capped`` cell (in votes; hard assignment with
        ``cap=1`` is ``presence``).
    power : float, default=0.5
        Exponent of the power normalisation (``sign(h) * |h| ** power``);
        1 leaves the histograms as they are.
    norm : {"l2", None}, default="l2"
        Final normalisation of every row.
    max_descriptors : int, default=100_000
        Descriptors (from randomly chosen training images) the codebook is learned on.
    image_shape : (int, int), optional
        Geometry of a row; default infers a square.
    n_jobs : int, optional
        Parallel threads for computing and encoding descriptors.
    random_state : int, RandomState instance or None, default=None
        Seed of the descriptor sample and of k-means.

    Attributes
    ----------
    image_shape_ : (int, int)
        Geometry learned in ``fit``.
    codebook_ : ndarray of shape (n_codebooks * n_words, 128), float32
        The visual words (of each patch size in turn for ``per_patch``).
    n_features_out_ : int
        ``n_words`` times the number of codebooks and of pyramid cells.

    Notes
    -----
    Each image is stretched to the full 0..255 range before SIFT (OpenCV
    needs 8-bit input); SIFT descriptors are contrast-normalised anyway.
    OpenCV's SIFT costs roughly ``patch_size ** 2`` per keypoint, so large
    patches on a fine grid dominate the run time.

    Examples
    --------
    >>> from fer_classic.data import make_synthetic_faces
    >>> faces = make_synthetic_faces(4, 0, random_state=0)
    >>> bovw = DenseSIFTBoVW(n_words=16, random_state=0).fit(faces.X)
    >>> bovw.transform(faces.X).shape
    (28, 80)
    """

    _feature_prefix = "sift"
    _parameter_constraints: dict = {
        **_DenseSIFT._parameter_constraints,
        "codebooks": [StrOptions({"shared", "per_patch"})],
        "assignment": [StrOptions({"hard", "soft"})],
        # Squared distances lie in [0, 4]: far below this the vote is already hard (exp(-1e6 * 1e-5)),
        # and a beta past float32's range turned the nearest word's weight into 0 * inf = NaN.
        "soft_beta": [Interval(Real, 0, 1e6, closed="right")],
        "soft_neighbors": [_POSITIVE_INT],
        "histogram": [StrOptions({"count", "presence", "capped"})],
        "cap": [_POSITIVE],
        "norm": [StrOptions({"l2"}), None],
    }

    def __init__(
        self,
        *,
        step: int = 4,
        patch_sizes: int | tuple[int, ...] = (12, 20),
        n_words: int = 512,
        codebooks: str = "shared",
        assignment: str = "soft",
        soft_beta: float = 10.0,
        soft_neighbors: int = 5,
        levels: tuple[int, ...] = (1, 2),
        root_sift: bool = True,
        sigma: float = 1.6,
        histogram: str = "count",
        cap: float = 1.0,
        power: float = 0.5,
        norm: str | None = "l2",
        max_descriptors: int = 100_000,
        image_shape: tuple[int, int] | None = None,
        n_jobs: int | None = None,
        random_state=None,
    ):
        self.step = step
        self.patch_sizes = patch_sizes
        self.n_words = n_words
        self.codebooks = codebooks
        self.assignment = assignment
        self.soft_beta = soft_beta
        self.soft_neighbors = soft_neighbors
        self.levels = levels
        self.root_sift = root_sift
        self.sigma = sigma
        self.histogram = histogram
        self.cap = cap
        self.power = power
        self.norm = norm
        self.max_descriptors = max_descriptors
        self.image_shape = image_shape
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- fit / transform --------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the image geometry and the codebook from training images.

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
            If a parameter is invalid, or the sample holds fewer descriptors than ``n_words``.
        """
        images = self._fit_geometry(X)
        rng = check_random_state(self.random_state)
        n_groups = self._n_codebooks()
        per_image = len(self._keypoints()[0]) // n_groups  # descriptors per image and codebook
        descriptors = self._descriptor_sample(images, rng, per_image)
        codebooks = []
        # Keypoints are ordered by patch size: group g holds the descriptors of the g-th size.
        for group in np.split(descriptors, n_groups, axis=1) if n_groups > 1 else [descriptors]:
            codebooks.append(self._learn_codebook(group.reshape(-1, 128), rng, len(images)))
        self.codebook_ = np.concatenate(codebooks)
        self.n_features_out_ = self._columns()
        return self

    def _columns(self) -> int:
        """``n_features_out_`` from the parameters alone: words times codebooks times pyramid cells."""
        return self._n_codebooks() * int(self.n_words) * self._n_cells()

    def _n_codebooks(self) -> int:
        return len(self._patches()) if self.codebooks == "per_patch" else 1

    def _check_params(self, image_shape):
        super()._check_params(image_shape)
        self._check_pyramid(image_shape)

    def __setstate__(self, state):
        # Models saved before these parameters existed encoded with their defaults' behaviour.
        state = {"codebooks": "shared", "histogram": "count", "cap": 1.0, **state}
        super().__setstate__(state)

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        return self._normalise(self._histograms(images))

    def _histograms(self, images: np.ndarray) -> np.ndarray:
        """The pooled words of every pyramid cell (n_images, n_features_out_), float32, before power and norm."""
        n_keypoints = len(self._keypoints()[0])
        n_groups, n_words = self._n_codebooks(), int(self.n_words)
        per_group = n_keypoints // n_groups
        pooling = self._pooling()
        # Images per step: both the distance matrix and the descriptors stay under _BLOCK elements.
        step = max(1, _BLOCK // (n_keypoints * max(n_words, 128)))
        out = np.empty((len(images), self.n_features_out_), dtype=np.float32)
        progress = Progress(len(images), "dense SIFT words")
        for start in range(0, len(images), step):
            descriptors = self._descriptors(images[start : start + step])
            parts = []
            for g in range(n_groups):
                keypoints = slice(g * per_group, (g + 1) * per_group)
                weights = self._assign(descriptors[:, keypoints].reshape(-1, 128),
                                       self.codebook_[g * n_words : (g + 1) * n_words])
                # Votes of every pyramid cell at once: (cells, keypoints) @ (keypoints, words) per image.
                parts.append(np.matmul(pooling[:, keypoints], weights.reshape(-1, per_group, n_words)))
            hist = parts[0] if n_groups == 1 else np.concatenate(parts, axis=2)
            if self.histogram == "count":
                hist /= np.float32(per_group)  # each level of each codebook sums to 1
            elif self.histogram == "presence":
                hist = hist > 0
            else:
                np.minimum(hist, np.float32(self.cap), out=hist)
            out[start : start + len(hist)] = hist.reshape(len(hist), -1)
            progress.update(len(hist))
        progress.close()
        return out

    def _normalise(self, hist: np.ndarray) -> np.ndarray:
        """The features (float64) of :meth:`_histograms`' rows: power, then norm, each row on its own."""
        out = hist.astype(np.float64)
        if self.power != 1:
            np.power(out, float(self.power), out=out)  # histograms are >= 0: sign(h) = 1
        if self.norm == "l2":
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), _EPS)
        return out

    def encode_compact(self, X) -> dict[str, np.ndarray]:
        """Sparse float32 histograms of ``X``'s rows: what :meth:`decode_compact` rebuilds the features from.

        The features are float64 functions (power, norm) of float32 pooled
        votes, two thirds of which are 0 with the defaults on FER2013 (a
        pyramid cell holds few of the 512 words); the non-zero votes and a
        bit per column rebuild the features bit for bit in a fifth of their
        bytes (3.9 kB a row instead of 20.5 kB). Kept in models for their
        support vectors (see
        :func:`fer_classic.estimators.compact_support_vectors`); computing
        them runs SIFT on the rows again, rebuilding the features does not.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened grayscale images.

        Returns
        -------
        dict
            ``nonzero``: uint8 (n, ceil(n_features_out_ / 8)), the non-zero
            columns of each row as bits (:func:`numpy.packbits`); ``values``:
            float32, the non-zero histogram values in row-major order.
        """
        hist = self._map_images(self._histograms, self._images(X))
        nonzero = hist != 0
        return {"nonzero": np.packbits(nonzero, axis=1), "values": hist[nonzero]}

    def decode_compact(self, codes: dict[str, np.ndarray]) -> np.ndarray:
        """The features (n, n_features_out_), float64, of :meth:`encode_compact`'s codes.

        Parameters
        ----------
        codes : dict
            What :meth:`encode_compact` returned.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_)
            The features, float64, as :meth:`transform` gives them.
        """
        check_is_fitted(self)
        nonzero = np.unpackbits(codes["nonzero"], axis=1, count=self.n_features_out_).astype(bool)
        hist = np.zeros(nonzero.shape, dtype=np.float32)
        hist[nonzero] = codes["values"]
        return self._normalise(hist)

    def _assign(self, descriptors: np.ndarray, codebook: np.ndarray) -> np.ndarray:
        """Weights (n_descriptors, n_words) of the words of ``codebook``, float32, each row summing to 1."""
        # Squared distances by one matrix product: |d|^2 - 2 d.c + |c|^2.
        distances = descriptors @ codebook.T
        distances *= -2.0
        distances += np.einsum("ij,ij->i", descriptors, descriptors)[:, None]
        distances += np.einsum("ij,ij->i", codebook, codebook)[None, :]
        if self.assignment == "hard":
            weights = np.zeros_like(distances)
            weights[np.arange(len(distances)), np.argmin(distances, axis=1)] = 1.0
            return weights
        k = min(int(self.soft_neighbors), len(codebook))
        far = distances > np.partition(distances, k - 1, axis=1)[:, k - 1 : k] if k < len(codebook) else None
        # exp(-beta * (d - d_min)): the nearest word gets weight 1 before normalisation.
        distances -= distances.min(axis=1, keepdims=True)
        distances *= -float(self.soft_beta)
        weights = np.exp(distances, out=distances)
        if far is not None:
            weights[far] = 0.0
        weights /= weights.sum(axis=1, keepdims=True)
        return weights


class DenseSIFTVLAD(_DenseSIFT):
    """Dense SIFT encoded as VLAD: residuals to the nearest visual word, summed per pyramid cell.

    The same descriptors as :class:`DenseSIFTBoVW` (OpenCV SIFT on a dense
    grid, RootSIFT) are projected on their first ``n_components``
    principal axes; ``fit`` learns ``n_words`` words there with mini-batch
    k-means (PCA and k-means on a random sample of the training
    descriptors). ``transform`` assigns every descriptor to its nearest
    word and sums, per word and per cell of each pyramid level, the
    descriptors' differences to it (Jégou et al., "Aggregating local
    descriptors into a compact image representation", CVPR 2010); each
    sum gets a signed power and is L2-normalised on its own
    ("intra-normalisation", Arandjelović and Zisserman, CVPR 2013), and
    every row is L2-normalised. Where the descriptors lie around a few
    words says more than how many fall on each of many words: on 8,000
    FER2013 training faces an RBF SVM scored 0.496 on PublicTest with 16
    words × 64 dimensions × 5 cells, against 0.470 for the default bag of
    words (and 0.486 with 32 × 32, 0.468 with 64 × 64 over the whole
    image); on all 28,709, 0.592 on PrivateTest against 0.562.

    Parameters
    ----------
    step : int, default=4
        Pixels between neighbouring keypoint centres.
    patch_sizes : float or tuple of float, default=(12, 20)
        Side in pixels of the square each descriptor covers; one keypoint
        grid per size, all encoded with one codebook. At most the larger
        image side, or 16.
    n_words : int, default=16
        Codebook size.
    n_components : int, default=64
        Principal axes the descriptors are projected on (at most 128).
    levels : tuple of int, default=(1, 2)
        Spatial pyramid: level ``L`` pools over an ``L x L`` grid of cells.
    root_sift : bool, default=True
        RootSIFT descriptors (square root of the L1-normalised descriptor)
        instead of L2-normalised ones.
    sigma : float, default=1.6
        Gaussian blur of the image before the descriptors, OpenCV's ``sigma``;
        at most 64 or the larger image side.
    power : float, default=0.5
        Exponent of the signed power of every sum; 1 leaves them as they are.
    max_descriptors : int, default=100_000
        Descriptors (from randomly chosen training images) the projection
        and the codebook are learned on.
    image_shape : (int, int), optional
        Geometry of a row; default infers a square.
    n_jobs : int, optional
        Parallel threads for computing and encoding descriptors.
    random_state : int, RandomState instance or None, default=None
        Seed of the descriptor sample, the PCA and k-means.

    Attributes
    ----------
    image_shape_ : (int, int)
        Geometry learned in ``fit``.
    mean_ : ndarray of shape (128,), float32
        Mean of the sampled descriptors.
    components_ : ndarray of shape (n_components, 128), float32
        Principal axes of the sampled descriptors.
    codebook_ : ndarray of shape (n_words, n_components), float32
        The visual words, in the projected space.
    n_features_out_ : int
        ``n_words * n_components`` times the number of pyramid cells.

    See Also
    --------
    DenseSIFTBoVW : The same descriptors as histograms of visual words.

    Examples
    --------
    >>> from fer_classic.data import make_synthetic_faces
    >>> faces = make_synthetic_faces(4, 0, random_state=0)
    >>> vlad = DenseSIFTVLAD(n_words=4, n_components=8, random_state=0).fit(faces.X)
    >>> vlad.transform(faces.X).shape
    (28, 160)
    """

    _feature_prefix = "vlad"
    _parameter_constraints: dict = {
        **_DenseSIFT._parameter_constraints,
        "n_components": [Interval(Integral, 1, 128, closed="both")],
    }

    def __init__(
        self,
        *,
        step: int = 4,
        patch_sizes: int | tuple[int, ...] = (12, 20),
        n_words: int = 16,
        n_components: int = 64,
        levels: tuple[int, ...] = (1, 2),
        root_sift: bool = True,
        sigma: float = 1.6,
        power: float = 0.5,
        max_descriptors: int = 100_000,
        image_shape: tuple[int, int] | None = None,
        n_jobs: int | None = None,
        random_state=None,
    ):
        self.step = step
        self.patch_sizes = patch_sizes
        self.n_words = n_words
        self.n_components = n_components
        self.levels = levels
        self.root_sift = root_sift
        self.sigma = sigma
        self.power = power
        self.max_descriptors = max_descriptors
        self.image_shape = image_shape
        self.n_jobs = n_jobs
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the image geometry, the descriptors' principal axes and the codebook from training images.

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
            If a parameter is invalid, or the sample holds fewer descriptors
            than ``n_words`` or ``n_components``.
        """
        images = self._fit_geometry(X)
        rng = check_random_state(self.random_state)
        n_keypoints = len(self._keypoints()[0])
        descriptors = self._descriptor_sample(images, rng, n_keypoints).reshape(-1, 128)
        if len(descriptors) > self.max_descriptors:
            descriptors = descriptors[rng.choice(len(descriptors), size=int(self.max_descriptors), replace=False)]
        if len(descriptors) < self.n_components:
            raise ValueError(
                f"n_components={self.n_components} needs at least as many descriptors; {len(images)} image(s) "
                f"give {len(descriptors)}. Use a smaller n_components, a smaller step or more images."
            )
        pca = PCA(n_components=int(self.n_components), random_state=rng.randint(np.iinfo(np.int32).max))
        with np.errstate(divide="ignore", invalid="ignore"):  # explained_variance_ratio_ of flat images: unused
            projected = pca.fit_transform(descriptors.astype(np.float64))
        self.mean_ = pca.mean_.astype(np.float32)
        self.components_ = pca.components_.astype(np.float32)
        self.codebook_ = self._learn_codebook(projected, rng, len(images))
        self.n_features_out_ = self._columns()
        return self

    def _columns(self) -> int:
        """``n_features_out_`` from the parameters alone: words times projected axes times pyramid cells."""
        return int(self.n_words) * int(self.n_components) * self._n_cells()

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        return self._normalise(self._sums(images))

    def _sums(self, images: np.ndarray) -> np.ndarray:
        """Residual sums per pyramid cell and word (n_images, n_features_out_), float32, before power and norms."""
        n_keypoints, n_words, width = len(self._keypoints()[0]), int(self.n_words), int(self.n_components)
        pooling = self._pooling()
        words_sq = np.einsum("ij,ij->i", self.codebook_, self.codebook_)
        # Images per step: the descriptors stay under _BLOCK elements.
        step = max(1, _BLOCK // (n_keypoints * 128))
        out = np.empty((len(images), self.n_features_out_), dtype=np.float32)
        progress = Progress(len(images), "dense SIFT VLAD")
        for start in range(0, len(images), step):
            descriptors = self._descriptors(images[start : start + step])
            n = len(descriptors)
            projected = (descriptors.reshape(-1, 128) - self.mean_) @ self.components_.T
            # Nearest word by one matrix product: |c|^2 - 2 p.c (|p|^2 is the same for every word).
            nearest = np.argmin(words_sq[None, :] - 2 * projected @ self.codebook_.T, axis=1)
            residuals = (projected - self.codebook_[nearest]).reshape(n, n_keypoints, width)
            member = np.zeros((n * n_keypoints, n_words), dtype=np.float32)
            member[np.arange(n * n_keypoints), nearest] = 1.0
            # Sums per (cell, word) of every image: (cells, keypoints) x (keypoints, words) x (keypoints, dims).
            sums = np.einsum("ck,nkw,nkd->ncwd", pooling, member.reshape(n, n_keypoints, n_words), residuals,
                             optimize=True)
            out[start : start + n] = sums.reshape(n, -1)
            progress.update(n)
        progress.close()
        return out

    def _normalise(self, sums: np.ndarray) -> np.ndarray:
        """The features (float64) of :meth:`_sums`' rows: signed power, each sum's norm, then the row's."""
        sums = sums.astype(np.float64).reshape(len(sums), -1, int(self.n_components))
        if self.power != 1:
            sums = np.sign(sums) * np.abs(sums) ** float(self.power)
        sums /= np.maximum(np.linalg.norm(sums, axis=2, keepdims=True), _EPS)
        rows = sums.reshape(len(sums), -1)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), _EPS)

    def encode_compact(self, X) -> np.ndarray:
        """Float32 residual sums of ``X``'s rows: what :meth:`decode_compact` rebuilds the features from.

        The features are float64 functions (signed power, norms) of float32
        sums, so the sums rebuild them bit for bit in half their bytes (20.5
        kB a row instead of 41 kB with the defaults). Kept in models for
        their support vectors (see
        :func:`fer_classic.estimators.compact_support_vectors`); computing
        them runs SIFT on the rows again, rebuilding the features does not.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened grayscale images.

        Returns
        -------
        ndarray of shape (n, n_features_out_), float32
        """
        return self._map_images(self._sums, self._images(X))

    def decode_compact(self, codes: np.ndarray) -> np.ndarray:
        """The features (n, n_features_out_), float64, of :meth:`encode_compact`'s codes.

        Parameters
        ----------
        codes : ndarray of shape (n_samples, n_features_out_)
            What :meth:`encode_compact` returned.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_)
            The features, float64, as :meth:`transform` gives them.
        """
        check_is_fitted(self)
        return self._normalise(np.asarray(codes, dtype=np.float32))
