"""Which names a ``.skops`` model file may hold without ``trusted=True``.

skops rebuilds only the types and functions a file names, and only when
each name is trusted. Trusting a whole package is not safe: any function
under ``numpy.`` would do, and three of them chained in
``FunctionTransformer`` steps run arbitrary code on ``predict``. So trust
goes by exact name: skops' own defaults (scikit-learn estimators, NumPy and
SciPy ufuncs and dtypes, builtins), plus :data:`TRUSTED_TYPES`, the reviewed
list of what fer-classic's own pipelines need. ``tests/test_skops_trust.py``
rebuilds every kind of model ``make_pipeline`` makes and fails when one needs
a name not listed here: adding a name is a reviewed change. Never add a
function that takes or returns arbitrary objects, or a class whose
``__setstate__``/``__init__`` calls what it is given.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

__all__ = ["DEFAULT_TRUSTED_MODULES", "TRUSTED_TYPES", "is_trusted", "trusted_names", "types_needing_trust",
           "warn_unused_trust"]

#: The packages :data:`TRUSTED_TYPES` draws from. For information only:
#: trust is never granted by package or module prefix.
DEFAULT_TRUSTED_MODULES = ("sklearn", "numpy", "fer_classic", "imblearn")

#: Exact type and function names, beyond skops' defaults, that fer-classic's
#: own model files hold (sorted; one per line, so a diff shows each change).
TRUSTED_TYPES: tuple[str, ...] = (
    "fer_classic.estimators._canonical.CanonicalOrderClassifier",
    "fer_classic.estimators._kernel_svc.CombinedKernelSVC",
    "fer_classic.estimators._kernel_svc.KernelSVC",
    "fer_classic.estimators._kernel_svc._OneVsRestSVC",
    "fer_classic.estimators._landmark_ridge.LandmarkRidgeClassifier",
    "fer_classic.estimators._local_svc.LocalSVC",
    "fer_classic.estimators._precomputed_svc.PrecomputedKernelSVC",
    "fer_classic.estimators._svm.SVMClassifier",
    "fer_classic.features._cnn.CNNFeatures",  # weights as arrays, network rebuilt from code
    "fer_classic.features._deep.DeepFeatures",  # frozen ImageNet backbone, weights as arrays
    "fer_classic.features._gabor.GaborFeatures",
    "fer_classic.features._hog.HOGFeatures",
    "fer_classic.features._lbp.LBPFeatures",
    "fer_classic.features._patch_words.PatchWords",
    "fer_classic.features._pixels.PixelFeatures",
    "fer_classic.features._sift.DenseSIFTBoVW",
    "fer_classic.features._sift.DenseSIFTVLAD",
    "fer_classic.features._union.BlockScaledUnion",
    "fer_classic.preprocessing._augment.FlipAugmented",
    "fer_classic.preprocessing._augment.MirrorViews",
    "fer_classic.preprocessing._crop.BorderCrop",
    "fer_classic.preprocessing._equalize.HistogramEqualizer",
    "imblearn.over_sampling._adasyn.ADASYN",
    "imblearn.over_sampling._random_over_sampler.RandomOverSampler",
    "imblearn.over_sampling._smote.base.SMOTE",
    "imblearn.pipeline.Pipeline",  # make_pipeline(..., sampler=...); the samplers act in fit only
    "sklearn.calibration._CalibratedClassifier",  # SVMClassifier(probability=True)
    "sklearn.calibration._SigmoidCalibration",  # SVMClassifier(probability=True)
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",  # mlp
    "sklearn.tree._tree.Tree",  # rf; node indices are not bounds-checked on load, see load_skops
)

_TRUSTED = frozenset(TRUSTED_TYPES)


def is_trusted(name: str) -> bool:
    """Whether a skops file may name ``name`` (``module.qualname``) without ``trusted=True``.

    Only an exact entry of :data:`TRUSTED_TYPES` is; skops itself accepts its
    own defaults before asking.

    Parameters
    ----------
    name : str
        A type or function name, e.g. ``"fer_classic.features._hog.HOGFeatures"``.

    Returns
    -------
    bool
        True if ``name`` is on :data:`TRUSTED_TYPES`.
    """
    return name in _TRUSTED


def types_needing_trust(names: Iterable[str], trusted_types: Iterable[str] = ()) -> list[str]:
    """The sorted ``names`` that are neither on the list nor in the caller's ``trusted_types``.

    One string in ``trusted_types`` is one name (not its characters).
    """
    extra = trusted_names(trusted_types)
    return sorted(name for name in set(names) if not (is_trusted(name) or name in extra))


def trusted_names(trusted_types: Iterable[str]) -> frozenset[str]:
    """The names in ``trusted_types``, read once (an iterator is used up by one reading); one string is one name."""
    return frozenset([trusted_types] if isinstance(trusted_types, str) else trusted_types)


def warn_unused_trust(named: Mapping, trusted_types: Iterable[str], *, stacklevel: int = 2) -> None:
    """Warn about the ``trusted_types`` that loading the files of ``named`` did not use.

    ``named`` maps each model file loaded to the names it holds beyond skops'
    defaults, None for a joblib file (trust by name does not apply to it: its
    signature does). A name is unused when no file names it: one command
    loading several files (``compare``) warns once, for the names none of them
    needed, rather than for every file that does not.
    """
    given = sorted(trusted_names(trusted_types))
    if not given:
        return
    skops = [set(names) for names in named.values() if names is not None]
    files = ", ".join(str(path) for path in named)
    if not skops:
        warnings.warn(f"--trust-type (trusted_types) applies to .skops files only; {files} "
                      f"{'is a joblib file' if len(named) == 1 else 'are joblib files'}, so {', '.join(given)} did "
                      "nothing: leave --trust-type out.", UserWarning, stacklevel=stacklevel + 1)
        return
    unused = [name for name in given if not any(name in names for names in skops)]
    if unused:
        warnings.warn(f"{files} {'does' if len(named) == 1 else 'do'} not name {', '.join(unused)} beyond skops' "
                      f"defaults, so trusting {'it' if len(unused) == 1 else 'them'} (--trust-type, trusted_types) "
                      "did nothing; check the spelling against 'fer-classic inspect' ('skops types').",
                      UserWarning, stacklevel=stacklevel + 1)
