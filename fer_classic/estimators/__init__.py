"""Classifiers: canonical class order, and estimators by name."""

from ._canonical import CanonicalOrderClassifier
from ._landmark_ridge import LandmarkRidgeClassifier
from ._precomputed_svc import PrecomputedKernelSVC
from ._registry import CLASSIFIERS, make_classifier
from ._svm import SVMClassifier, cuml_status

__all__ = [
    "CLASSIFIERS", "CanonicalOrderClassifier", "LandmarkRidgeClassifier", "PrecomputedKernelSVC", "SVMClassifier",
    "cuml_status", "make_classifier",
]
