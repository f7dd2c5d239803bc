"""fer-classic: facial expression recognition the scikit-learn way.

Data flows ``data`` → ``features`` → ``estimators`` → ``evaluation`` →
``persistence``; :mod:`fer_classic.workflow` ties them into the functions the
``fer-classic`` command line calls. :mod:`fer_classic.detection` finds and crops
faces in photos, and :mod:`fer_classic.prediction` predicts on photos, folders,
videos and a webcam with it.

The names below are imported on first use (PEP 562), so that ``import
fer_classic`` — and ``fer-classic --help`` — load neither NumPy nor
scikit-learn until something needs them.
"""

from __future__ import annotations

import importlib

from ._version import __version__  # noqa: F401 (public)

#: Public name -> module that defines it.
_LAZY = {
    "CANONICAL_LABELS": ".labels",
    "canonical_label": ".labels",
    "FaceDataset": ".data",
    "load_dataset": ".data",
    "make_synthetic_faces": ".data",
    "FERModel": ".persistence",
    "inspect_model": ".persistence",
    "load_model": ".persistence",
    "save_model": ".persistence",
    "make_pipeline": ".pipeline",
    "predict_image": ".prediction",
    "predict_paths": ".prediction",
    "predict_video": ".prediction",
    "evaluate_model": ".workflow",
    "fit_model": ".workflow",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
