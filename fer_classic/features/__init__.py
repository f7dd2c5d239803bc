"""Image feature extractors as scikit-learn transformers.

Every transformer takes rows of flattened grayscale images (as
:attr:`fer_classic.data.FaceDataset.X` gives them) and returns a 2-D float array.
"""

from ._base import infer_image_shape
from ._cnn import CNNFeatures
from ._deep import BACKBONES, DeepFeatures, deep_metadata
from ._gabor import GaborFeatures
from ._hog import HOGFeatures
from ._lbp import LBPFeatures
from ._pixels import PixelFeatures
from ._registry import FEATURES, NORMALISED_FEATURES, make_features, make_scaler, parse_feature_names
from ._sift import DenseSIFTBoVW
from ._union import BlockScaledUnion

__all__ = [
    "BACKBONES",
    "CNNFeatures",
    "DeepFeatures",
    "FEATURES",
    "NORMALISED_FEATURES",
    "BlockScaledUnion",
    "DenseSIFTBoVW",
    "GaborFeatures",
    "HOGFeatures",
    "LBPFeatures",
    "PixelFeatures",
    "deep_metadata",
    "infer_image_shape",
    "make_features",
    "make_scaler",
    "parse_feature_names",
]
