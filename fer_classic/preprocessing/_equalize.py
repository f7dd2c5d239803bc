"""Histogram equalisation of face images: global, or contrast limited (CLAHE)."""

from __future__ import annotations

import cv2
import numpy as np

from .._sklearn_compat import N_JOBS, Integral, Interval, Real, SequenceOf, StrOptions
from ..features._base import IMAGE_SHAPE_CONSTRAINT, ImageTransformerMixin

__all__ = ["HistogramEqualizer"]


class HistogramEqualizer(ImageTransformerMixin):
    """Equalise the gray-level histogram of every image (OpenCV).

    A fixed, per-image operation: nothing is learned from the training
    images, so training and test images are always treated alike. Rows in,
    rows out: the output is the same images, flattened, with gray levels
    0..255 as floats, ready for any feature extractor.

    Parameters
    ----------
    method : {"clahe", "global"}, default="clahe"
        ``global``: :func:`cv2.equalizeHist` over the whole image.
        ``clahe``: contrast-limited adaptive equalisation
        (:func:`cv2.createCLAHE`) over a grid of tiles, which evens out
        lighting that differs across the face without amplifying noise as much.
    clip_limit : float, default=2.0
        CLAHE's contrast limit (OpenCV's ``clipLimit``); ignored for ``global``.
    tile_grid_size : (int, int), default=(6, 6)
        CLAHE tiles per (row, column) (OpenCV's ``tileGridSize`` is (columns,
        rows): this one follows image order), at most the images' (height,
        width), checked at fit; ignored for ``global``.
    image_shape : (int, int), optional
        Geometry of a row; default infers a square.
    n_jobs : int, optional
        Parallel threads for ``transform``.

    Attributes
    ----------
    image_shape_ : (int, int)
        Geometry learned in ``fit`` (also the output geometry).
    n_features_out_ : int
        Pixels per output row.

    Notes
    -----
    Pixel values are read as 8-bit gray levels, each image on the 8-bit
    scale by its own values as by every image transformer (floats within
    0..1 times 255, 16-bit images divided by 257; see the README), then
    rounded and clipped to 0..255.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(100, 116, dtype=np.uint8).reshape(1, 16)  # one 4x4 image, levels 100..115
    >>> HistogramEqualizer(method="global").fit_transform(X).reshape(4, 4)[0]
    array([ 0., 17., 34., 51.])
    """

    _feature_prefix = "pixel"
    # 8-bit rows reach the equaliser as they are, others one image at a time: no float copy of the batch.
    _input_dtype = "numeric"
    _parameter_constraints: dict = {
        "method": [StrOptions({"clahe", "global"})],
        "clip_limit": [Interval(Real, 0, None, closed="neither")],
        "tile_grid_size": [SequenceOf(Interval(Integral, 1, None, closed="left"), length=2)],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
        "n_jobs": N_JOBS,
    }

    def __init__(
        self,
        *,
        method: str = "clahe",
        clip_limit: float = 2.0,
        tile_grid_size: tuple[int, int] = (6, 6),
        image_shape: tuple[int, int] | None = None,
        n_jobs: int | None = None,
    ):
        self.method = method
        self.clip_limit = clip_limit
        self.tile_grid_size = tile_grid_size
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def _check_params(self, image_shape: tuple[int, int]) -> None:
        # OpenCV pads the image to whole tiles: a grid finer than the pixels only costs memory.
        rows, cols = (int(t) for t in self.tile_grid_size)
        if self.method == "clahe" and (rows > image_shape[0] or cols > image_shape[1]):
            raise ValueError(
                f"tile_grid_size=({rows}, {cols}) asks for more CLAHE tiles than the {image_shape[0]}x"
                f"{image_shape[1]} images have pixels; give at most ({image_shape[0]}, {image_shape[1]}) "
                "(tiles of several pixels each, such as the default (6, 6), are what CLAHE is for)."
            )

    def _keeps_geometry(self) -> bool:
        """Output rows are the input images, same geometry: a next step's ``image_shape`` is the input's (mirrors)."""
        return True

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        out = np.empty(images.shape, dtype=np.float64)
        if self.method == "global":
            equalize = cv2.equalizeHist
        else:
            rows, cols = (int(t) for t in self.tile_grid_size)
            # One CLAHE object per call: parallel threads never share one.
            equalize = cv2.createCLAHE(clipLimit=float(self.clip_limit), tileGridSize=(cols, rows)).apply
        for i in range(len(images)):
            out[i] = equalize(images[i] if images.dtype == np.uint8 else _as_levels(images[i]))
        return out.reshape(len(out), -1)


def _as_levels(image: np.ndarray) -> np.ndarray:
    """One image (on the 8-bit scale: ImageTransformerMixin._images) rounded and clipped to 8-bit levels."""
    return np.rint(np.clip(image, 0, 255)).astype(np.uint8)
