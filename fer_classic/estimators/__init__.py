"""Classifiers: fer-classic's checks of labels and weights, and estimators by name.

The names below are imported on first use (PEP 562, with scikit-image's
``lazy_loader``): fitting or loading an RBF SVM does not import the random
forest, the histogram kernels or local learning.
"""

from __future__ import annotations

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "_canonical": ["CanonicalOrderClassifier"],
    "_histogram_kernels": ["KERNELS", "chi2_distances", "intersection_kernel", "kernel_matrix", "pq_kernel"],
    "_kernel_svc": ["CombinedKernelSVC", "KernelSVC"],
    "_landmark_ridge": ["LandmarkRidgeClassifier"],
    "_local_svc": ["LocalSVC"],
    "_precomputed_svc": ["PrecomputedKernelSVC", "compact_support_vectors", "kernel_cache"],
    "_registry": ["CLASSIFIERS", "make_classifier"],
    "_svm": ["SVMClassifier", "cuml_status"],
})
