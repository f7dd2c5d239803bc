"""Face preprocessing before feature extraction, and training-time augmentation.

The transformers take rows of flattened grayscale images and return rows of
images again (gray levels as floats), so any feature extractor can follow
them in a Pipeline. They learn nothing from the data but the geometry:
training and test images are always treated alike. :class:`FlipAugmented`
doubles the training set with mirror images and never touches what
``predict`` sees; :class:`MirrorViews` gives a kernel SVM the features of
each face and of its mirror image (and shifted copies) side by side.
"""

from ._augment import FlipAugmented, MirrorViews, mirror_rows, n_mirror_views, shift_rows
from ._crop import BorderCrop
from ._equalize import HistogramEqualizer
from ._registry import PREPROCESSORS, keeps_image_size, make_preprocessing

__all__ = [
    "PREPROCESSORS",
    "BorderCrop",
    "FlipAugmented",
    "HistogramEqualizer",
    "MirrorViews",
    "keeps_image_size",
    "make_preprocessing",
    "mirror_rows",
    "n_mirror_views",
    "shift_rows",
]
