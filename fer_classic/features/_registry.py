"""Feature extractors by name, and their combination (``"hog+lbp"``)."""

from __future__ import annotations

from collections.abc import Callable

from sklearn.base import TransformerMixin
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler

from ._hog import HOGFeatures
from ._lbp import LBPFeatures
from ._pixels import PixelFeatures
from ._union import BlockScaledUnion

__all__ = ["CENTRED_BLOCKS", "FEATURES", "NESTED_FEATURE_STEPS", "NORMALISED_FEATURES", "feature_widths",
           "make_features", "make_scaler", "parse_feature_names"]

# The other extractors are imported when one is made: a HOG model's fit or prediction does not
# load the SIFT codebook's clustering, the Gabor bank or the deep networks' modules.


def _pca() -> Pipeline:
    from sklearn.decomposition import PCA

    # PCA over unit-scaled pixels ("eigenfaces"); fitted on training data in the pipeline. Exact components:
    # "auto" chose the randomized solver, whose last components changed with the training rows' order and the
    # seed (8 % of the 2,000-row sample's test labels flipped when its rows were shuffled), and the scaler
    # after it weighs them as the first. The covariance's eigenvectors are exact and order-free, and cheap at
    # pixel widths (2,304 at 48x48): 2.4 s on the sample's 1,600 rows against 2.8 s randomized and 20.8 s
    # for "full"'s SVD; 7.2 s on 28,709 random rows against 11.4 s and 92 s (this 2-core CPU, one run).
    return Pipeline([("pixels", PixelFeatures()),
                     ("pca", PCA(n_components=150, svd_solver="covariance_eigh", random_state=0))])


def _sift() -> TransformerMixin:
    from ._sift import DenseSIFTBoVW

    return DenseSIFTBoVW()


def _vlad() -> TransformerMixin:
    from ._sift import DenseSIFTVLAD

    return DenseSIFTVLAD()


def _patchwords() -> TransformerMixin:
    from ._patch_words import PatchWords

    return PatchWords()


def _gabor() -> TransformerMixin:
    from ._gabor import GaborFeatures

    return GaborFeatures()


def _vgg16() -> TransformerMixin:
    from ._deep import DeepFeatures

    return DeepFeatures(backbone="vgg16")


def _vgg19() -> TransformerMixin:
    from ._deep import DeepFeatures

    return DeepFeatures(backbone="vgg19")


def _cnn() -> TransformerMixin:
    from ._cnn import CNNFeatures

    return CNNFeatures()


#: Name → factory of a fresh, unfitted transformer. The deep ones (``vgg16``,
#: ``vgg19``: frozen ImageNet networks; ``cnn``: trained in ``fit``) need
#: ``pip install 'fer-classic[deep]'`` when fitted, not when listed.
FEATURES: dict[str, Callable[[], TransformerMixin]] = {
    "pixels": PixelFeatures,
    "hog": HOGFeatures,
    "lbp": LBPFeatures,
    "pca": _pca,
    "sift": _sift,
    "vlad": _vlad,
    "gabor": _gabor,
    "patchwords": _patchwords,
    "vgg16": _vgg16,
    "vgg19": _vgg19,
    "cnn": _cnn,
}

#: Extractors built as a Pipeline of their own: the step whose parameters a short name reaches (``pca.n_components``
#: is ``features__pca__n_components``, the PCA's, not the Pipeline's own parameters).
NESTED_FEATURE_STEPS: dict[str, str] = {"pca": "pca"}

#: Extractors whose output is already normalised (power + L2 histograms or VLAD sums): used alone, they go
#: to the classifier unscaled. Standardising their many rare visual words did not help an RBF
#: SVM and made liblinear's LinearSVC take minutes instead of seconds. How combinations that
#: hold them are scaled is decided by :func:`make_scaler` alone.
NORMALISED_FEATURES: frozenset[str] = frozenset({"sift", "vlad"})

#: Blocks that block scaling centres and divides by the square root of their total variance, without
#: standardising each column: the normalised ones, and ``patchwords``' square-rooted votes (rare words, as
#: sift's; not L2-normalised rows, so alone they are standardised like any other block).
CENTRED_BLOCKS: frozenset[str] = NORMALISED_FEATURES | {"patchwords"}


def parse_feature_names(spec: str) -> list[str]:
    """Split ``"hog+lbp"`` into validated names.

    Parameters
    ----------
    spec : str
        Names of :data:`FEATURES` joined by ``+`` (case and spaces ignored).

    Returns
    -------
    list of str
        The names, lower-case, in the order given.

    Raises
    ------
    ValueError
        If a name is empty (``"hog+"``, ``"hog++lbp"``), unknown or repeated.
    """
    parts = [part.strip().lower() for part in str(spec).split("+")]
    if len(parts) > 1 and not all(parts):
        raise ValueError(
            f"Features {spec!r} hold an empty name (a '+' with nothing on one side); join names with "
            f"single '+' signs, e.g. 'hog+lbp'."
        )
    names = [part for part in parts if part]
    unknown = [n for n in names if n not in FEATURES]
    if not names or unknown:
        raise ValueError(
            f"Unknown features {', '.join(unknown) or repr(spec)}; choose from "
            f"{', '.join(FEATURES)}, joined with '+' (e.g. 'hog+lbp')."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"Features {spec!r} name the same extractor twice.")
    return names


def make_scaler(spec: str, *, block_scaling: bool = False) -> StandardScaler | str:
    """The scaling step after the features of ``spec``: the one place this is decided.

    The decision depends on the set of extractors, never on their order
    (``"hog+sift"`` and ``"sift+hog"`` are scaled alike):

    - ``block_scaling=True`` with several extractors: ``"passthrough"``, as
      :class:`BlockScaledUnion` scales each block itself (SIFT histograms
      centred, not standardised).
    - only already normalised extractors (:data:`NORMALISED_FEATURES`:
      ``sift``): ``"passthrough"``; their power- and L2-normalised
      histograms go to the classifier as they are.
    - any other extractor among them: one :class:`StandardScaler` over the
      whole concatenation. With ``hog+sift`` that standardises the SIFT
      words too; on FER2013 with an RBF SVM it scored 0.597 against 0.607
      for block scaling, which keeps them unstandardised (``--block-scaling``).

    Parameters
    ----------
    spec : str
        Feature names joined by ``+``.
    block_scaling : bool, default=False
        Whether :func:`make_features` builds a :class:`BlockScaledUnion`.

    Returns
    -------
    StandardScaler or "passthrough"

    Examples
    --------
    >>> make_scaler("sift+hog"), make_scaler("hog+sift")
    (StandardScaler(), StandardScaler())
    >>> make_scaler("sift")
    'passthrough'
    """
    names = parse_feature_names(spec)
    if (block_scaling and len(names) > 1) or set(names) <= NORMALISED_FEATURES:
        return "passthrough"
    return StandardScaler()


def make_features(
    spec: str, n_jobs: int | None = None, *, random_state: int | None = 0, block_scaling: bool = False,
    block_weights: dict[str, float] | None = None,
) -> TransformerMixin:
    """Return the transformer for ``spec``: one extractor, or a FeatureUnion of several.

    Parameters
    ----------
    spec : str
        ``"pixels"``, ``"hog"``, ``"lbp"``, ``"pca"``, ``"sift"``, ``"gabor"``, ``"vgg16"``, ``"vgg19"``,
        ``"cnn"`` or several joined by ``+``.
    n_jobs : int, optional
        Set on every extractor that takes it.
    random_state : int or None, default=0
        Seed of every extractor that takes one (the SIFT codebook, the
        ``cnn``'s training, ``weights=None`` VGG weights), as
        :func:`~fer_classic.make_pipeline` gives it; None draws a new seed at
        each fit (the CNN records it in ``random_seed_``).
    block_scaling : bool, default=False
        For several extractors, a :class:`BlockScaledUnion` (each block
        scaled to a total variance of 1: standardised and weighted by one
        over the square root of its width, or, for the blocks of
        :data:`CENTRED_BLOCKS` (the already normalised ``sift`` and ``vlad``
        histograms, ``patchwords``' votes), centred and divided by the square
        root of their total variance) instead of a plain FeatureUnion.
    block_weights : dict, optional
        With ``block_scaling``: extractor name → weight multiplying its
        scaled block (``BlockScaledUnion``'s ``transformer_weights``; those
        not named keep 1). :func:`~fer_classic.make_pipeline` checks the
        names and weights.

    Returns
    -------
    transformer
        The unfitted extractor; for several, a FeatureUnion (or
        :class:`BlockScaledUnion`) of them named by their names.

    Examples
    --------
    >>> make_features("hog+lbp", block_scaling=True).transformer_list
    [('hog', HOGFeatures()), ('lbp', LBPFeatures())]
    """
    steps = []
    for name in parse_feature_names(spec):
        transformer = FEATURES[name]()
        params = transformer.get_params()
        if "n_jobs" in params:
            transformer.set_params(n_jobs=n_jobs)
        if "random_state" in params:
            transformer.set_params(random_state=random_state)
        steps.append((name, transformer))
    if len(steps) == 1:
        return steps[0][1]
    if not block_scaling:
        return FeatureUnion(steps)
    return BlockScaledUnion(steps, normalised_blocks=tuple(n for n, _ in steps if n in CENTRED_BLOCKS),
                            transformer_weights=dict(block_weights) if block_weights else None)


def feature_widths(spec: str, image_shape: tuple[int, int]) -> list[int | None]:
    """Columns each extractor of ``spec`` (default parameters) gives an image of ``image_shape``, before any data.

    An extractor that learns only the geometry (``pixels``, ``hog``, ``lbp``,
    ``gabor``) is fitted on one blank image; ``pca`` gives its
    ``n_components``, ``patchwords`` its words times its cells. None where
    only a fit on the data can tell (the SIFT codebooks, the deep networks),
    or where the parameters do not fit the geometry (the geometry check
    reports that).
    """
    import numpy as np

    from ._base import ImageTransformerMixin

    widths: list[int | None] = []
    for name in parse_feature_names(spec):
        transformer = FEATURES[name]()
        width = None
        if isinstance(transformer, Pipeline):  # pca: pixels then PCA
            n = transformer.steps[-1][1].get_params().get("n_components")
            width = int(n) if isinstance(n, int) and not isinstance(n, bool) else None
        elif isinstance(transformer, ImageTransformerMixin):
            transformer.set_params(image_shape=tuple(image_shape))
            try:
                transformer._check_params(tuple(image_shape))
                width = transformer._output_width(tuple(image_shape))  # patchwords: from its parameters
                if width is None and type(transformer).fit is ImageTransformerMixin.fit:
                    blank = np.zeros((1, int(np.prod(image_shape))), dtype=np.uint8)
                    width = int(transformer.fit(blank).n_features_out_)
            except ValueError:
                width = None
        widths.append(width)
    return widths
