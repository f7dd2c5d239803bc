"""What every image feature transformer shares: geometry of the flattened input."""

from __future__ import annotations

import math

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from .. import _resources
from .._sklearn_compat import Integral, Interval, SequenceOf, _fit_context, validate_data
from ..data._levels import read_levels

__all__ = ["IMAGE_SHAPE_CONSTRAINT", "ImageTransformerMixin", "check_real_images", "infer_image_shape"]

#: ``image_shape`` of every image transformer: (height, width), or None to infer a square.
IMAGE_SHAPE_CONSTRAINT = [SequenceOf(Interval(Integral, 1, None, closed="left"), length=2), None]


def infer_image_shape(n_features: int, image_shape: tuple[int, int] | None) -> tuple[int, int]:
    """Return the (height, width) of flattened images of ``n_features`` pixels.

    With ``image_shape=None`` a perfect square count is a square image; any
    other count is read as a one-row image ``(1, n_features)``, which
    extractors needing 2-D cells then reject with a hint to pass ``image_shape``.
    The Keras extractors (DeepFeatures, CNNFeatures) have no cell geometry to
    reject it with: they refuse rows of 64 or more values that are not a
    square (faces of another shape, flattened colour), and read smaller rows
    (no face at all; scikit-learn's estimator checks use 1 to 20 values) as
    ``1 x n`` strips.

    Parameters
    ----------
    n_features : int
        Pixels per row.
    image_shape : (int, int) or None
        The geometry given, checked against ``n_features``; None: inferred.

    Returns
    -------
    (int, int)
        ``(height, width)``.

    Raises
    ------
    ValueError
        If ``image_shape`` does not match ``n_features``.
    """
    if image_shape is not None:
        height, width = (int(v) for v in image_shape)
        if height * width != n_features:
            raise ValueError(
                f"image_shape={tuple(image_shape)} holds {height * width} pixels but X has "
                f"{n_features} features per row."
            )
        return height, width
    side = math.isqrt(n_features)
    return (side, side) if side * side == n_features else (1, n_features)


def check_width(width: int, image_shape: tuple[int, int], what: str, fix: str) -> None:
    """Refuse a descriptor of ``width`` columns per image above the most for ``image_shape``, before any allocation.

    The most is 128 columns a pixel (1 KiB of float64 a pixel), or 2**18 for small images: usual
    descriptors stay far below at any size (HOG's default about 0.6 a pixel, one-pixel cells in 3 x 3
    blocks of 9 bins 74), while parameters that went unchecked asked for 65 million (HOG: one-pixel
    cells in 24 x 24 blocks of 180 bins) or 151 million (LBP: P=16 codes on a 48 x 48 grid) columns of
    a 48 x 48 face, gigabytes an image.

    Raises
    ------
    ValueError
        ``what`` (the parameters, "make N ... columns") and ``fix`` (what to change) in the message.
    """
    height, width_px = image_shape
    most = max(2**18, 128 * height * width_px)
    if width > most:
        rule = "128 a pixel" if most > 2**18 else "the least allowed, whatever the image size"
        raise ValueError(f"{what} make {width:,} columns per image, over the {most:,} allowed for {height}x"
                         f"{width_px} images ({rule}); {fix}.")


def check_real_images(images: np.ndarray, who: str) -> None:
    """Refuse ``images`` that are not real numbers (complex, object, strings, dates); booleans pass.

    Cast to float, complex pixels lost their imaginary part with only a ComplexWarning, and object
    arrays converted element by element.

    Raises
    ------
    TypeError
        Naming ``who`` (the function) and the dtype.
    """
    if images.dtype.kind not in "biuf":
        raise TypeError(f"{who}: images of dtype {images.dtype} are not grayscale pixels; give real numbers "
                        "(uint8 levels, other integers or floats), e.g. images.real or images.astype(float).")


def _chunks(n: int, n_chunks: int) -> list[slice]:
    bounds = np.linspace(0, n, n_chunks + 1).astype(int)
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


class ImageTransformerMixin(TransformerMixin, BaseEstimator):
    """Base of transformers whose rows are flattened grayscale images.

    Subclasses declare ``_parameter_constraints`` (validated once, when
    ``fit`` starts, by scikit-learn's ``_fit_context``), implement
    ``_check_params(image_shape)`` for what depends on the image geometry
    (a HOG block larger than the image), ``_transform_images(images)`` for a 3-D float batch, and may
    override ``_feature_prefix``. ``fit`` learns only the image geometry and
    the output width; ``transform`` runs in ``n_jobs`` parallel chunks.
    Transformers that learn more (a codebook) override ``fit``, starting with
    ``_fit_geometry``, and may run per-image work through ``_map_images``.
    The same base serves image-to-image transformers
    (:mod:`fer_classic.preprocessing`), whose output rows are images again.
    Subclasses whose ``_transform_images`` converts its batch itself set
    ``_input_dtype = "numeric"`` and receive the input's own dtype (8-bit
    faces stay 8-bit instead of becoming a float64 copy of the whole input).
    """

    _feature_prefix = "feature"
    _input_dtype: object = np.float64
    _parameter_constraints: dict = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the image geometry from ``X`` of shape (n_samples, height * width)."""
        self._fit_geometry(X)
        probe = self._transform_images(np.zeros((1, *self.image_shape_)))
        self.n_features_out_ = probe.shape[1]
        return self

    def transform(self, X):
        """Compute features of shape (n_samples, n_features_out_), float64."""
        return self._map_images(self._transform_images, self._images(X))

    def _fit_geometry(self, X) -> np.ndarray:
        """Validate ``X``, learn ``image_shape_``, check the parameters; return the images.

        Subclasses that learn more than the geometry call this first in ``fit``.
        """
        X = validate_data(self, X, dtype=self._input_dtype, reset=True)
        self.image_shape_ = infer_image_shape(X.shape[1], getattr(self, "image_shape", None))
        self._check_params(self.image_shape_)
        return read_levels(X.reshape(len(X), *self.image_shape_))

    def _images(self, X) -> np.ndarray:
        """Fitted check and validation of ``X``; the images (n, height, width), in ``_input_dtype``.

        On the 8-bit scale (:func:`~fer_classic.data._levels.read_levels`): a face as floats in 0..1 or
        16-bit gives the features of its 8-bit levels, as it does through a model.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=self._input_dtype, reset=False)
        return read_levels(X.reshape(len(X), *self.image_shape_))

    def _map_images(self, func, images: np.ndarray, min_parallel: int = 256) -> np.ndarray:
        """``func`` over ``images`` in ``n_jobs`` parallel chunks, rows concatenated.

        Batches smaller than ``min_parallel`` images run in one call.
        """
        n_jobs = _resources.pool_size(getattr(self, "n_jobs", None))  # no more threads than CPUs
        # Chunks keep per-task overhead small next to the per-image work; threads share
        # the images without copying, and the batch NumPy kernels release the GIL.
        if n_jobs == 1 or len(images) < min_parallel:
            return func(images)
        parts = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(func)(images[s]) for s in _chunks(len(images), n_jobs * 4)
        )
        return np.concatenate(parts)

    def get_feature_names_out(self, input_features=None):
        """Names ``<prefix>0 .. <prefix>{n-1}`` of the output columns.

        Raises
        ------
        ValueError
            If ``input_features`` is not one name per input pixel (or not the names seen in ``fit``).
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)  # scikit-learn's rule: a wrong list was ignored
        return np.asarray([f"{self._feature_prefix}{i}" for i in range(self.n_features_out_)], dtype=object)

    def _check_params(self, image_shape: tuple[int, int]) -> None:
        """Raise ValueError if the (already validated) parameters cannot apply to ``image_shape``."""

    def _output_width(self, image_shape: tuple[int, int]) -> int | None:
        """Columns per image of ``image_shape`` known from the parameters alone; None: a blank image's tells."""
        return None

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def warm_up(estimator, image_shape: tuple[int, int]) -> None:
    """Load the compiled kernels that ``estimator``'s HOG and LBP steps run, on one blank image.

    The first call of a Numba kernel in a process imports Numba and loads the
    kernel from its cache (0.5 s for HOG); done beforehand (while the images
    decode, see :func:`fer_classic.data._images.while_decoding`), the
    extraction itself starts at once. Steps whose parameters do not fit
    ``image_shape`` are skipped: fitting reports them.
    """
    from ._hog import HOGFeatures
    from ._lbp import LBPFeatures

    for step in (estimator, *estimator.get_params(deep=True).values()):
        if isinstance(step, (HOGFeatures, LBPFeatures)):
            try:
                step._check_params(image_shape)
            except ValueError:
                continue
            step._transform_images(np.zeros((1, *image_shape), dtype=np.uint8))
