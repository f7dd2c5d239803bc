"""Classifiers: canonical class order, and estimators by name."""

from ._canonical import CanonicalOrderClassifier
from ._histogram_kernels import KERNELS, chi2_distances, intersection_kernel, kernel_matrix, pq_kernel
from ._kernel_svc import CombinedKernelSVC, KernelSVC
from ._landmark_ridge import LandmarkRidgeClassifier
from ._local_svc import LocalSVC
from ._precomputed_svc import PrecomputedKernelSVC, compact_support_vectors, kernel_cache
from ._registry import CLASSIFIERS, make_classifier
from ._svm import SVMClassifier, cuml_status

__all__ = [
    "CLASSIFIERS", "CanonicalOrderClassifier", "LandmarkRidgeClassifier", "PrecomputedKernelSVC", "SVMClassifier",
    "compact_support_vectors", "cuml_status", "kernel_cache", "make_classifier",
    "KERNELS", "CombinedKernelSVC", "KernelSVC", "LocalSVC", "chi2_distances", "intersection_kernel", "kernel_matrix",
    "pq_kernel",
]
