"""fer-classic: facial expression recognition the scikit-learn way.

Data flows ``data`` → ``features`` → ``estimators`` → ``evaluation`` →
``persistence``; :mod:`fer_classic.workflow` ties them into the functions the
``fer-classic`` command line calls. :mod:`fer_classic.detection` finds and crops
faces in photos, and :mod:`fer_classic.prediction` predicts on photos, folders,
videos and a webcam with it.

The names below are imported on first use (PEP 562, with scikit-image's
``lazy_loader``), so that ``import fer_classic`` — and ``fer-classic --help`` —
load neither NumPy nor scikit-learn until something needs them.
"""

from __future__ import annotations

import lazy_loader

from ._version import __version__  # noqa: F401 (public)

__getattr__, __dir__, _names = lazy_loader.attach(__name__, submod_attrs={
    "labels": ["CANONICAL_LABELS", "canonical_label"],
    "data": ["FaceDataset", "load_dataset", "make_synthetic_faces"],
    "persistence": ["FERModel", "inspect_model", "load_model", "save_model"],
    "pipeline": ["make_pipeline"],
    "prediction": ["predict_image", "predict_paths", "predict_video"],
    "workflow": ["evaluate_model", "fit_model"],
})
__all__ = sorted([*_names, "__version__"])
