"""Building a whole pipeline from a feature spec and a classifier name."""

from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Iterable, Mapping

import numpy as np
from joblib import Memory
from sklearn.base import TransformerMixin, clone
from sklearn.pipeline import Pipeline

from ._optional import import_optional
from .estimators import make_classifier
from .features import make_features, make_scaler, parse_feature_names
from .features._registry import FEATURES, feature_widths
from .preprocessing import FlipAugmented, MirrorViews, keeps_image_size, make_preprocessing, n_mirror_views

__all__ = ["SAMPLERS", "check_block_weights", "combined_blocks", "make_pipeline", "make_sampler", "parse_block_weights",
           "pipeline_keyword"]

#: Classifier parameters that make_pipeline sets from its own arguments (``views`` from ``mirror_kernel``).
_SET_FROM = {"views": "mirror_kernel", "n_jobs": "n_jobs", "random_state": "random_state"}

#: Oversamplers of imbalanced-learn by name (``sampler=`` of :func:`make_pipeline`, ``--sampler``):
#: name → (module, class).
SAMPLERS: dict[str, tuple[str, str]] = {
    "smote": ("imblearn.over_sampling", "SMOTE"),
    "adasyn": ("imblearn.over_sampling", "ADASYN"),
    "random": ("imblearn.over_sampling", "RandomOverSampler"),
}


def make_sampler(name: str, *, random_state: int | None = 0):
    """The imbalanced-learn oversampler ``name``, seeded by ``random_state``.

    Parameters
    ----------
    name : {"smote", "adasyn", "random"}
        SMOTE, ADASYN or random oversampling (repeated minority rows), each
        raising every class to the size of the largest.
    random_state : int, optional
        Seed of the sampler.

    Returns
    -------
    imblearn sampler
        ``SMOTE``, ``ADASYN`` or ``RandomOverSampler``, unfitted.

    Raises
    ------
    ValueError
        If ``name`` is unknown.
    MissingDependencyError
        If imbalanced-learn is not installed (``pip install 'fer-classic[imbalanced]'``).
    """
    key = str(name).strip().lower()
    if key not in SAMPLERS:
        raise ValueError(f"Unknown sampler {name!r}; choose from {', '.join(SAMPLERS)}, or None.")
    module, cls = SAMPLERS[key]
    return getattr(import_optional(module, f"sampler={key!r}"), cls)(random_state=random_state)


def combined_blocks(features: str, clf: str, clf_params, image_shape, *, warn: bool = True) -> list[int] | None:
    """The ``blocks`` of a ``combined-svm`` over several extractors: one kernel per extractor.

    Parameters
    ----------
    features, clf : str
        As :func:`make_pipeline` takes them.
    clf_params : mapping
        The classifier's parameters; ``blocks`` given there are checked
        against the extractors' widths where those are known.
    image_shape : (int, int) or None
        The images' geometry; None: unknown (the widths depend on it).
    warn : bool, default=True
        Warn when the blocks are neither given nor known (every kernel then
        sees all the columns, one kernel over the whole union).

    Returns
    -------
    list of int or None
        The extractors' widths, to be set as ``blocks``, when ``clf`` is
        ``combined-svm``, ``features`` names several extractors, no
        ``blocks`` is given and every width is known; None otherwise.

    Raises
    ------
    ValueError
        If given ``blocks`` add up to other than the known width of the features.
    """
    names = parse_feature_names(features)
    if str(clf).strip().lower() != "combined-svm" or len(names) < 2:
        return None
    from .data._images import as_size

    try:
        image_shape = None if image_shape is None else as_size(image_shape)
    except ValueError:
        image_shape = None  # make_pipeline names a bad image_shape itself
    given = clf_params.get("blocks")
    widths = feature_widths(features, image_shape) if image_shape is not None else [None] * len(names)
    known = None not in widths
    if given is not None:
        whole = isinstance(given, (list, tuple)) and all(
            isinstance(w, numbers.Integral) and not isinstance(w, bool) and w >= 1 for w in given)
        if known and whole and sum(given) != sum(widths):  # bad items: the classifier's own check names them
            each = ", ".join(f"{n} {w:,}" for n, w in zip(names, widths))
            raise ValueError(f"blocks={list(given)} (--param blocks=...) add up to {sum(given):,} columns, but the "
                             f"features {features!r} give {sum(widths):,} per {image_shape[0]}x{image_shape[1]} image "
                             f"({each}); give blocks={widths}, or leave blocks out to have them set so.")
        return None
    lengths = [len(v) for v in (clf_params.get("kernels"), clf_params.get("weights"))
               if isinstance(v, (list, tuple))]
    if known and all(n == len(names) for n in lengths):
        return [int(w) for w in widths]
    if warn:
        # The SIFT codebooks' widths, which only a fit sets, follow from their (default) parameters.
        counted = [w if w is not None else _columns(name) for name, w in zip(names, widths)]
        why = ("the images' geometry is not known (give image_shape= to have them set)" if image_shape is None else
               f"the widths of {', '.join(n for n, w in zip(names, widths) if w is None)} are set only by fitting"
               if not known else "kernels or weights do not name one per extractor")
        blocks = (f"blocks={counted}, the columns of {', '.join(names)} with their default parameters"
                  if image_shape is not None and None not in counted else
                  "blocks=[the columns of each extractor, in order]")
        warnings.warn(f"combined-svm over the {len(names)} extractors of {features!r} without blocks computes every "
                      f"kernel over all their columns, one kernel for the whole union: {why}; give {blocks} "
                      "(--param blocks=[...]).", UserWarning, stacklevel=3)
    return None


def _columns(name: str) -> int | None:
    """The columns of the extractor ``name`` with its default parameters, if its parameters alone tell them."""
    transformer = FEATURES[name]()
    return int(transformer._columns()) if hasattr(transformer, "_columns") else None


def check_flag(name: str, value) -> bool:
    """``value`` of the on/off option ``name`` (flip, mirror_kernel, block_scaling), refused unless a bool.

    ``"no"`` is true to ``bool()``: it turned the option on.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def parse_block_weights(pairs: Iterable[str]) -> dict[str, float] | None:
    """``NAME=WEIGHT`` strings (``--block-weight``, repeatable) as ``{name: weight}``; None for none.

    Only the form is checked here; :func:`check_block_weights` checks the
    names against the features and the weights' values.

    Parameters
    ----------
    pairs : iterable of str
        Each ``"NAME=WEIGHT"``, e.g. ``"patchwords=1.5"``.

    Returns
    -------
    dict or None
        Lower-case name → weight as a float; None when ``pairs`` is empty.

    Raises
    ------
    ValueError
        If a pair is not ``NAME=NUMBER``, or names an extractor twice.
    """
    weights: dict[str, float] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = None
        if not sep or not key.strip() or weight is None:
            raise ValueError(f"{pair!r} is not NAME=WEIGHT, the name of an extractor of the features and a number "
                             "(e.g. patchwords=1.5).")
        if key.strip().lower() in weights:
            raise ValueError(f"{key.strip()} is given twice; give each extractor once.")
        weights[key.strip().lower()] = weight
    return weights or None


def check_block_weights(block_weights, features: str, block_scaling: bool) -> dict[str, float] | None:
    """``block_weights`` as ``{extractor: float}`` (None for none), refused unless they can weigh the blocks.

    Parameters
    ----------
    block_weights : mapping or None
        Extractor name (case and spaces ignored) → weight above 0.
    features : str
        The feature spec whose extractors they name.
    block_scaling : bool
        The weights multiply the blocks that block scaling balances: it must be on.

    Returns
    -------
    dict or None
        The weights by lower-case extractor name, as floats; None when none are given.

    Raises
    ------
    ValueError
        If ``block_weights`` is no mapping, is given without ``block_scaling``
        or with one extractor, names no extractor of ``features``, or holds
        a weight that is not a finite number above 0.
    """
    if block_weights is None:
        return None
    if not isinstance(block_weights, Mapping):
        raise ValueError(f"block_weights must map extractor names to weights, e.g. {{'patchwords': 1.5}}; "
                         f"got {block_weights!r}.")
    if not block_weights:
        return None
    names = parse_feature_names(features)
    given = ", ".join(f"{k}={v}" for k, v in block_weights.items())
    if not block_scaling or len(names) < 2:
        raise ValueError(f"block_weights {given} (--block-weight) multiply the blocks that block scaling balances; "
                         f"give block_scaling=True (--block-scaling) and several extractors (features {features!r}).")
    weights: dict[str, float] = {}
    for key, weight in block_weights.items():
        name = str(key).strip().lower()
        if name not in names:
            raise ValueError(f"block_weights (--block-weight) name {key!r}, which is no extractor of features "
                             f"{features!r}; name one of {', '.join(names)}.")
        if name in weights:
            raise ValueError(f"block_weights (--block-weight) give {name!r} twice; give each extractor once.")
        if (isinstance(weight, (bool, np.bool_)) or not isinstance(weight, numbers.Real)
                or not np.isfinite(weight) or weight <= 0):
            raise ValueError(f"block_weights (--block-weight) {key}={weight!r}: a weight is a number above 0 "
                             "(1: the block as block scaling leaves it).")
        weights[name] = float(weight)
    return weights


def pipeline_keyword(key: str) -> str | None:
    """The pipeline option that the classifier parameter ``key`` would set, or None.

    The last ``__`` part of ``key`` decides, so that a nested parameter
    (``local-svm``'s ``estimator__views``, ``estimator__n_jobs``) is caught
    as its top-level twin is: it would override the pipeline's own argument
    without the pipeline (or a model's metadata) knowing.

    Parameters
    ----------
    key : str
        A classifier parameter name, e.g. ``"C"`` or ``"estimator__views"``.

    Returns
    -------
    str or None
        The name it would set (a :func:`make_pipeline` keyword, or ``views``); None for a plain classifier parameter.
    """
    import inspect

    name = str(key).rsplit("__", 1)[-1]
    keywords = {p for p, v in inspect.signature(make_pipeline).parameters.items() if v.kind != v.VAR_KEYWORD}
    return name if name in keywords or name in _SET_FROM else None


def make_pipeline(
    features: str = "hog",
    clf: str = "svm",
    *,
    preprocess: str | TransformerMixin | None = None,
    flip: bool = False,
    mirror_kernel: bool = False,
    kernel_shift: int = 0,
    block_scaling: bool = False,
    block_weights: Mapping[str, float] | None = None,
    sampler: str | None = None,
    memory: str | os.PathLike | Memory | None = None,
    image_shape: tuple[int, int] | None = None,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    **clf_params,
) -> Pipeline | FlipAugmented:
    """Return ``[preprocess →] features → scaling [→ sampler] → classifier`` as one Pipeline.

    Every learned step (scaler, PCA, SIFT codebook, classifier) sits inside
    the pipeline, so ``fit`` learns it from training data only and
    ``predict`` applies it unchanged to new images.

    Parameters
    ----------
    features : str, default="hog"
        A name of :data:`fer_classic.features.FEATURES` (``pixels``, ``hog``,
        ``lbp``, ``gabor``, ``pca``, ``sift``, ``vlad``, ``patchwords``, ...), or several joined by ``+``.
    clf : str, default="svm"
        ``svm``, ``linear-svm``, ``logreg``, ``ridge``, ``knn``, ``rf`` or ``mlp``.
    preprocess : str or transformer, optional
        Image preprocessing before the features, as a first step named
        ``"preprocess"``: ``"equalize"``, ``"clahe"``, ``"crop"`` or several
        joined by ``+`` (``"crop+clahe"``), or a transformer (see
        :func:`fer_classic.preprocessing.make_preprocessing`). None: no step.
    flip : bool, default=False
        Train on every image and its mirror image: the pipeline is wrapped in
        :class:`~fer_classic.preprocessing.FlipAugmented` (parameters then
        start with ``estimator__``); prediction sees the images unchanged.
        With a sampler, the sampler sees the training images and their mirrors.
    mirror_kernel : bool, default=False
        The other way to use mirror images, for the kernel classifiers
        (``kernel-svm``, ``combined-svm``, ``local-svm``): every face keeps
        one row, and the kernel is averaged over both orientations of both
        faces, ``(k(x, y) + k(x, y') + k(x', y) + k(x', y')) / 4`` with
        ``x'`` the features of the mirror image, at fit and predict time. The
        features and the scaling are wrapped in
        :class:`~fer_classic.preprocessing.MirrorViews` (one step
        ``"features"``, whose parameters start with
        ``features__transformer__features__`` and
        ``features__transformer__scale__``) and the classifier gets
        ``views=2``. On FER2013 (``hog+gabor+sift``, block scaling, rbf) it
        scored 1.3 points above ``flip`` on PrivateTest with a quarter of its
        kernel matrix.
    kernel_shift : int, default=0
        With ``mirror_kernel``: four more views of every face, moved
        ``kernel_shift`` pixels right and left and the mirrors of both
        (``MirrorViews(shift=kernel_shift)``, the classifier gets
        ``views=6``), so that the kernel is also averaged over small
        horizontal misalignments, at 36 kernel products per test row and the
        work of 18 per row of the symmetric training matrix (4 and 2 with the
        mirror alone). 0: the face and its mirror only; below half the
        image width (checked when the images' size is known).
    block_scaling : bool, default=False
        For combined features (``hog+lbp``): standardise each extractor's
        block on its own and weight it by one over the square root of its
        width, so that a wide block does not dominate
        (:class:`~fer_classic.features.BlockScaledUnion`, SIFT histograms
        centred only; the ``"scale"`` step is then ``"passthrough"``). False:
        one StandardScaler over the concatenation, where each block weighs in
        proportion to its width (on 4,000 FER2013 training images, with an
        RBF SVM, that was about one point more accurate for ``hog+lbp`` and
        ``hog+lbp+sift``: equal weight gives the weaker LBP block too much
        say). Features made only of ``sift``, whose power- and L2-normalised
        histograms go to the classifier as they are, get no scaler. The
        decision depends on which extractors are named, not on their order
        (:func:`fer_classic.features.make_scaler`).
    block_weights : mapping, optional
        With ``block_scaling``: extractor name → weight multiplying its
        balanced block (``BlockScaledUnion``'s ``transformer_weights``), e.g.
        ``{"patchwords": 1.4}``; the extractors not named keep 1. In an RBF
        kernel a weight ``w`` multiplies the block's share of the squared
        distance by ``w**2``. None: every block weighs 1.
    sampler : {"smote", "adasyn", "random"}, optional
        Oversample the minority classes of the training data with
        imbalanced-learn (:data:`SAMPLERS`; ``pip install
        'fer-classic[imbalanced]'``): the result is then an
        :class:`imblearn.pipeline.Pipeline` with a step ``"sampler"`` after
        the features and the scaling and before the classifier, seeded by
        ``random_state``. It resamples only in ``fit`` (SMOTE and ADASYN
        interpolate between feature vectors of a class; ``random`` repeats
        rows); ``predict``, ``transform`` and scoring (cross-validation folds
        included) see the rows unchanged. None: no resampling. SMOTE and
        ADASYN need 6 images (``k_neighbors + 1``) of every class they
        oversample (``fit_model`` and ``search_model`` check it before the
        features); ``fit(..., clf__sample_weight=w)`` is refused once the
        sampler adds rows (imbalanced-learn passes ``w`` on without them).
    memory : str, path or joblib.Memory, optional
        Cache of the fitted transformers (``Pipeline(memory=...)``): grid-search
        candidates that differ only in classifier parameters reuse the features.
    image_shape : (int, int), optional
        Geometry ``(height, width)`` of the rows, given to every step that
        reads images (the preprocessing, the features, ``FlipAugmented``,
        ``MirrorViews``) whose own ``image_shape`` is None. Needed for images
        that are not square: without it each step reads a row whose length is
        no square number as one row of pixels (HOG refuses it; a crop, a flip
        or the pixels took it). None: each step infers a square.
    random_state : int, optional
        Seed of every randomised step.
    n_jobs : int, optional
        Workers for preprocessing, feature extraction and estimators that take
        them; the thread pools never start more than the usable CPUs.
    **clf_params
        Parameters of the classifier (e.g. ``C=10``). For ``combined-svm``
        over several extractors, ``blocks`` defaults to the extractors'
        widths where ``image_shape`` is given and each width is known
        before fitting (see :func:`combined_blocks`; a UserWarning otherwise).

    Returns
    -------
    Pipeline (imblearn's with a sampler), or FlipAugmented wrapping it when ``flip=True``.

    Raises
    ------
    ValueError
        If a feature, preprocessing, sampler or classifier name is unknown,
        ``flip``, ``mirror_kernel`` or ``block_scaling`` is not a bool, both are True,
        ``mirror_kernel`` is asked of a classifier without a kernel over views,
        ``block_weights`` are refused by :func:`check_block_weights`,
        a key of ``clf_params`` sets a pipeline option (``views``,
        ``n_jobs``, ``random_state``, at any depth: ``estimator__views``),
        or ``kernel_shift`` is not a non-negative int or is given without
        ``mirror_kernel``, or ``image_shape`` is given with a ``preprocess``
        transformer that may change the image size, or ``backend='cuml'``
        is asked where cuML finds no GPU.
    MissingDependencyError
        If ``sampler`` is given and imbalanced-learn is not installed, or
        ``backend='cuml'`` (``clf_params``) and cuML is not: checked here, not
        after the features are extracted.

    Examples
    --------
    >>> from fer_classic import load_dataset, make_pipeline
    >>> data = load_dataset()  # the generated default
    >>> train = data.select("train")
    >>> model = make_pipeline("hog", "svm").fit(train.X, train.y)
    >>> make_pipeline("hog+lbp", "linear-svm", preprocess="clahe", flip=True)  # doctest: +SKIP
    >>> make_pipeline("hog", "svm", sampler="smote").named_steps["sampler"]  # doctest: +SKIP
    SMOTE(random_state=0)
    """
    for key in clf_params:
        name = pipeline_keyword(key)
        if name is not None:
            raise ValueError(f"clf_params {key!r} sets {name}, which make_pipeline sets from its own argument "
                             f"{_SET_FROM.get(name, name)}=; give that instead.")
    for name, value in (("flip", flip), ("mirror_kernel", mirror_kernel), ("block_scaling", block_scaling)):
        check_flag(name, value)
    if flip and mirror_kernel:
        raise ValueError("flip and mirror_kernel (--flip, --mirror-kernel) are two ways to use the mirror images; "
                         "choose one.")
    if isinstance(kernel_shift, bool) or not isinstance(kernel_shift, numbers.Integral) or kernel_shift < 0:
        raise ValueError(f"kernel_shift must be a whole number of pixels, 0 or more; got {kernel_shift!r}.")
    if kernel_shift and not mirror_kernel:
        raise ValueError(f"kernel_shift={kernel_shift} (--kernel-shift) adds views to the mirror-averaged kernel; "
                         "give mirror_kernel=True (--mirror-kernel) too.")
    block_weights = check_block_weights(block_weights, features, block_scaling)  # before the warning below
    if block_scaling and len(parse_feature_names(features)) == 1:
        warnings.warn(f"block_scaling (--block-scaling) scales the blocks of several extractors against each "
                      f"other; with the one extractor {features!r} it does nothing (the features are scaled as "
                      "without it).", UserWarning, stacklevel=2)
    blocks = combined_blocks(features, clf, clf_params, image_shape)
    if blocks is not None:  # one kernel per extractor: what combining kernels is for
        clf_params = {**clf_params, "blocks": blocks}
    resampler = None if sampler is None else make_sampler(sampler, random_state=random_state)
    steps = []
    if preprocess is not None:
        step = make_preprocessing(preprocess, n_jobs=n_jobs)
        if image_shape is not None and not isinstance(preprocess, str):
            step = clone(step)  # image_shape is set on it below: the caller's transformer stays as it was
        steps.append(("preprocess", step))
    feature_steps = [("features", make_features(features, n_jobs=n_jobs, random_state=random_state,
                                                block_scaling=block_scaling, block_weights=block_weights)),
                     ("scale", make_scaler(features, block_scaling=block_scaling))]
    views = n_mirror_views(kernel_shift) if mirror_kernel else 1
    classifier = make_classifier(clf, random_state=random_state, n_jobs=n_jobs, views=views, **clf_params)
    _check_cuml(classifier)
    if mirror_kernel:
        # The scaler inside: every view is scaled by what it learned from the faces as they are.
        steps.append(("features", MirrorViews(Pipeline(feature_steps), shift=int(kernel_shift))))
    else:
        steps.extend(feature_steps)
    if resampler is not None:
        # After the scaler: SMOTE's nearest neighbours and interpolation work on scaled features.
        steps.append(("sampler", resampler))
    steps.append(("clf", classifier))
    if resampler is None:
        pipeline = Pipeline(steps, memory=memory)
    else:
        pipeline = import_optional("imblearn.pipeline", f"sampler={sampler!r}").Pipeline(steps, memory=memory)
    pipeline = FlipAugmented(pipeline) if flip else pipeline
    return pipeline if image_shape is None else _give_image_shape(pipeline, image_shape)


def _check_cuml(estimator) -> None:
    """Raise now, not after the features were extracted, when an SVM of ``estimator`` (a classifier or a whole
    pipeline, its steps searched) has ``backend='cuml'`` and it cannot run (no cuML, no GPU).

    ``SVMClassifier.fit`` resolves its backend only once the steps before it
    have run (a CNN trained, say); ``make_pipeline`` is a factory, not an
    estimator's ``__init__``, so it may check here. A ``set_params`` later is
    checked at fit, and a search's candidates before loading (``_training._check_runnable``, through
    this one rule).
    """
    from .estimators import SVMClassifier

    for step in [estimator, *estimator.get_params(deep=True).values()]:
        if isinstance(step, SVMClassifier) and step.backend == "cuml":
            step._resolve_backend()  # MissingDependencyError naming the [gpu] extra, or ValueError without a GPU


def _give_image_shape(pipeline, image_shape) -> Pipeline | FlipAugmented:
    """``pipeline`` with ``image_shape`` set on every step that reads images and has none of its own."""
    from .data._images import MAX_IMAGE_SIDE, as_size

    try:
        shape = as_size(image_shape)
    except ValueError:  # as_size names --size
        raise ValueError(f"image_shape must be a (height, width) pair of whole numbers of pixels from 4 to "
                         f"{MAX_IMAGE_SIDE}; got {image_shape!r}.") from None
    params = pipeline.get_params(deep=True)
    preprocess = [step for name, step in params.items() if name.rsplit("__", 1)[-1] == "preprocess"]
    if any(step is not None and not keeps_image_size(step) for step in preprocess):
        raise ValueError(f"image_shape={image_shape!r} is the geometry of the images given, but the preprocess step "
                         f"{preprocess[0]!r} may change their size; give each step its image_shape yourself "
                         "(set_params) instead.")
    return pipeline.set_params(**{name: shape for name, value in params.items()
                                  if name.rsplit("__", 1)[-1] == "image_shape" and value is None})
