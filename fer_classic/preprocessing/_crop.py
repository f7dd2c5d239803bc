"""Cropping the border of face images."""

from __future__ import annotations

import cv2
import numpy as np

from .._sklearn_compat import N_JOBS, Integral, Interval, InvalidParameterError, RealNotInt, _fit_context
from ..features._base import IMAGE_SHAPE_CONSTRAINT, ImageTransformerMixin

__all__ = ["BorderCrop"]


class BorderCrop(ImageTransformerMixin):
    """Cut a border off every image, then resize back or keep the smaller geometry.

    Face crops such as FER2013's include hair, background and image borders;
    cropping them keeps the features on the face. A fixed, per-image
    operation: nothing is learned from the data. The output rows are images
    on the 8-bit scale, as every image transformer reads its input (floats
    within 0..1 times 255, 16-bit images divided by 257). Cropped without
    resizing, integer images (8-bit faces) keep their dtype, so that the
    next step reads the very levels of the input; resized images, and
    crops of float images, are float64.

    Parameters
    ----------
    border : int or float, default=0.1
        Border removed from each side: an int is pixels, a float in [0, 0.5)
        a fraction of the height (top and bottom) and width (left and right),
        rounded to whole pixels. Rows that are not square images need
        ``image_shape`` for any border but 0.
    resize : bool, default=True
        Resize the cropped images back to the input geometry (bilinear, with
        OpenCV, each image on its own: one face gives the same output in any
        batch), so that downstream extractors see images of the usual size
        (same HOG cells, same output width). False keeps the smaller images:
        ``output_shape_`` gives their geometry. Extractors after this step
        infer a square geometry from the row length; for non-square output
        pass them ``image_shape=crop.output_shape_``.
    image_shape : (int, int), optional
        Geometry of an input row; default infers a square.
    n_jobs : int, optional
        Parallel threads for ``transform``.

    Attributes
    ----------
    image_shape_ : (int, int)
        Input geometry learned in ``fit``.
    output_shape_ : (int, int)
        Geometry of the output images.
    n_features_out_ : int
        Pixels per output row.

    Examples
    --------
    >>> import numpy as np
    >>> crop = BorderCrop(border=4, resize=False).fit(np.zeros((1, 48 * 48)))
    >>> crop.output_shape_
    (40, 40)
    """

    _feature_prefix = "pixel"
    # 8-bit rows are cropped as they are and converted a chunk at a time.
    _input_dtype = "numeric"
    _parameter_constraints: dict = {
        "border": [Interval(Integral, 0, None, closed="left"), Interval(RealNotInt, 0, 0.5, closed="left")],
        "resize": ["boolean"],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
        "n_jobs": N_JOBS,
    }

    def __init__(
        self,
        *,
        border: int | float = 0.1,
        resize: bool = True,
        image_shape: tuple[int, int] | None = None,
        n_jobs: int | None = None,
    ):
        self.border = border
        self.resize = resize
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def _validate_params(self):
        # scikit-learn's Integral takes True as 1: a bool border is a slip (resize=True meant?), not a pixel.
        if isinstance(self.border, (bool, np.bool_)):
            raise InvalidParameterError(
                f"The 'border' parameter of BorderCrop must be an int in the range [0, inf) or a float in the range "
                f"[0.0, 0.5), not a bool; got {self.border!r}. Give border=1 for a one-pixel border."
            )
        super()._validate_params()

    def _borders(self, image_shape: tuple[int, int]) -> tuple[int, int]:
        """Pixels cut from (top and bottom, left and right)."""
        if isinstance(self.border, (int, np.integer)):
            return int(self.border), int(self.border)
        return tuple(int(round(float(self.border) * side)) for side in image_shape)  # type: ignore[return-value]

    def _check_params(self, image_shape):
        border = self.border
        cut = self._borders(image_shape)
        # Rows of a non-square length, without image_shape, are one-row images (1, n): a fractional
        # border then cut columns off the end of the row and no rows, silently.
        guessed = self.image_shape is None and image_shape[0] == 1 and image_shape[1] > 1
        hint = ", or pass image_shape=(height, width) if rows are not square images" if guessed else ""
        if any(side - 2 * c < 1 for side, c in zip(image_shape, cut)):
            raise ValueError(
                f"border={border!r} cuts {cut[0]} rows and {cut[1]} columns from each side of "
                f"{image_shape[0]}x{image_shape[1]} images, leaving nothing; use a smaller border{hint}."
            )
        if guessed and any(cut):
            raise ValueError(
                f"border={border!r} on rows of {image_shape[1]} pixels, not a square image: read as "
                f"1x{image_shape[1]} images, the crop would cut {cut[1]} pixels off each end of the row; "
                "pass image_shape=(height, width) if rows are not square images."
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the input geometry and the output geometry.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened images.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        super().fit(X, y)
        rows, cols = self._borders(self.image_shape_)
        height, width = self.image_shape_
        self.output_shape_ = (height, width) if self.resize else (height - 2 * rows, width - 2 * cols)
        return self

    def _keeps_geometry(self) -> bool:
        """Whether output rows have the input geometry: a next step's ``image_shape`` is the input's (mirrors)."""
        return bool(self.resize)

    def _transform_images(self, images: np.ndarray) -> np.ndarray:
        n, height, width = images.shape
        rows, cols = self._borders((height, width))
        cropped = images[:, rows : height - rows, cols : width - cols]
        if not self.resize:
            # A slice: integer images (on the 8-bit scale, ImageTransformerMixin._images) keep their dtype. In
            # float64, a dark 8-bit face (levels 0..1) read as a 0..1 image in the next step, 255 times brighter.
            return cropped.reshape(n, -1).astype(images.dtype if images.dtype.kind in "iu" else np.float64)
        if rows == 0 and cols == 0:
            # Nothing to resize, but resized output is float64 whatever the border rounds to: a border of 0.04
            # gave uint8 on 10 x 10 faces (0 pixels) and float64 on 48 x 48 ones (2 pixels).
            return cropped.reshape(n, -1).astype(np.float64)
        out = np.empty((n, height, width), dtype=np.float64)
        # One image per OpenCV call: its linear resize of several channels at once rounds differently
        # from one channel (up to 1e-3, 8 levels after CLAHE), so a face's output depended on its batch.
        # No slower: transform of 28,709 48 x 48 faces took 1.3-2.2 s so, 1.4-2.4 s in calls of 128 channels.
        for i in range(n):
            out[i] = cv2.resize(cropped[i].astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        return out.reshape(n, -1)
