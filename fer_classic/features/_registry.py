"""Feature extractors by name, and their combination (``"hog+lbp"``)."""

from __future__ import annotations

from collections.abc import Callable

from sklearn.base import TransformerMixin
from sklearn.decomposition import PCA
from sklearn.pipeline import FeatureUnion, Pipeline

from ._hog import HOGFeatures
from ._lbp import LBPFeatures
from ._pixels import PixelFeatures

__all__ = ["FEATURES", "make_features", "parse_feature_names"]


def _pca() -> Pipeline:
    # PCA over unit-scaled pixels ("eigenfaces"); fitted on training data in the pipeline.
    return Pipeline([("pixels", PixelFeatures()), ("pca", PCA(n_components=150, random_state=0))])


#: Name → factory of a fresh, unfitted transformer.
FEATURES: dict[str, Callable[[], TransformerMixin]] = {
    "pixels": PixelFeatures,
    "hog": HOGFeatures,
    "lbp": LBPFeatures,
    "pca": _pca,
}


def parse_feature_names(spec: str) -> list[str]:
    """Split ``"hog+lbp"`` into validated names.

    Raises
    ------
    ValueError
        If a name is unknown or repeated.
    """
    names = [part.strip().lower() for part in str(spec).split("+") if part.strip()]
    unknown = [n for n in names if n not in FEATURES]
    if not names or unknown:
        raise ValueError(
            f"Unknown features {', '.join(unknown) or repr(spec)}; choose from "
            f"{', '.join(FEATURES)}, joined with '+' (e.g. 'hog+lbp')."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"Features {spec!r} name the same extractor twice.")
    return names


def make_features(spec: str, n_jobs: int | None = None) -> TransformerMixin:
    """Return the transformer for ``spec``: one extractor, or a FeatureUnion of several.

    Parameters
    ----------
    spec : str
        ``"pixels"``, ``"hog"``, ``"lbp"``, ``"pca"`` or several joined by ``+``.
    n_jobs : int, optional
        Set on every extractor that takes it.
    """
    steps = []
    for name in parse_feature_names(spec):
        transformer = FEATURES[name]()
        if "n_jobs" in transformer.get_params():
            transformer.set_params(n_jobs=n_jobs)
        steps.append((name, transformer))
    return steps[0][1] if len(steps) == 1 else FeatureUnion(steps)
