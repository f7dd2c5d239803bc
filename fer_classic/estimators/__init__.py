"""Classifiers: canonical class order, and estimators by name."""

from ._canonical import CanonicalOrderClassifier
from ._registry import CLASSIFIERS, make_classifier

__all__ = ["CLASSIFIERS", "CanonicalOrderClassifier", "make_classifier"]
