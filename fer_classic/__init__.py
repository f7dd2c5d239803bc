"""fer-classic: facial expression recognition the scikit-learn way.

Data flows ``data`` → ``features`` → ``estimators`` → ``evaluation`` →
``persistence``; :mod:`fer_classic.workflow` ties them into the functions the
``fer-classic`` command line calls. :mod:`fer_classic.detection` finds and crops
faces in photos, and :mod:`fer_classic.prediction` predicts on photos, videos and
a webcam with it.
"""

from ._version import __version__
from .data import FaceDataset, load_dataset, make_synthetic_faces
from .labels import CANONICAL_LABELS, canonical_label
from .persistence import FERModel, inspect_model, load_model, save_model
from .pipeline import make_pipeline
from .prediction import predict_image, predict_video
from .workflow import evaluate_model, fit_model, predict_images

__all__ = [
    "CANONICAL_LABELS",
    "FERModel",
    "FaceDataset",
    "__version__",
    "canonical_label",
    "evaluate_model",
    "fit_model",
    "inspect_model",
    "load_dataset",
    "load_model",
    "make_pipeline",
    "make_synthetic_faces",
    "predict_image",
    "predict_images",
    "predict_video",
    "save_model",
]
