"""Image feature extractors as scikit-learn transformers.

Every transformer takes rows of flattened grayscale images (as
:attr:`fer_classic.data.FaceDataset.X` gives them) and returns a 2-D float array.

The names below are imported on first use (PEP 562, with scikit-image's
``lazy_loader``): a HOG model's fit, or its prediction on a photo, does not
import the SIFT codebook's clustering, the Gabor bank or the deep networks.
"""

from __future__ import annotations

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "_base": ["infer_image_shape"],
    "_cnn": ["CNNFeatures"],
    "_deep": ["BACKBONES", "DeepFeatures", "deep_metadata", "download_imagenet_weights"],
    "_gabor": ["GaborFeatures"],
    "_hog": ["HOGFeatures"],
    "_lbp": ["LBPFeatures"],
    "_patch_words": ["PatchWords"],
    "_pixels": ["PixelFeatures"],
    "_registry": ["CENTRED_BLOCKS", "FEATURES", "NORMALISED_FEATURES", "make_features", "make_scaler",
                  "parse_feature_names"],
    "_sift": ["DenseSIFTBoVW", "DenseSIFTVLAD"],
    "_union": ["BlockScaledUnion"],
})
