"""Horizontal-flip augmentation: mirrored training rows, or the mirror image (and shifted copies) as more views."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, TransformerMixin, clone
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_feature_names_in, check_array, check_consistent_length, check_is_fitted,
)

from .._sklearn_compat import HasMethods, Interval, _fit_context, check_sample_weight, routing_enabled, validate_data
from ..estimators._canonical import sample_weight_key
from ..features._base import IMAGE_SHAPE_CONSTRAINT, infer_image_shape

__all__ = ["FlipAugmented", "MirrorViews", "mirror_rows", "n_mirror_views", "shift_rows"]

# MirrorViews transforms an eighth of the rows at a time (at least this many), so its
# temporaries stay a quarter of its output. Small blocks cost the extractors' per-call
# overhead: both views of 6,000 FER2013 faces (sift+hog+gabor) took 69-72 s whole, 71-73 s
# in eighths, 70-98 s in blocks of 256 rows.
_VIEW_ROWS = 256
_VIEW_PARTS = 8


def _declared_shape(estimator):
    """``estimator``'s own ``image_shape`` when it is a geometry (two positive ints), else None."""
    try:
        shape = estimator.get_params(deep=False).get("image_shape")
    except (AttributeError, TypeError):
        shape = getattr(estimator, "image_shape", None)
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    if isinstance(shape, (tuple, list)) and len(shape) == 2 and all(
            isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in shape):
        return tuple(int(v) for v in shape)
    return None  # None, or not a geometry (an unrelated attribute of that name)


def _find_shapes(estimator, path: str, as_given: bool, found: list, later: list, depth: int = 0) -> bool:
    """Collect the ``image_shape`` every step of ``estimator`` declares; whether its output rows are its input images.

    A step reached only through steps that keep the images as they are (image-to-image steps of
    the same geometry: ``_keeps_geometry``) sees the rows as given: its geometry goes to ``found``
    as ``(path, shape)``; one past any other step (a feature extractor, ``BorderCrop(resize=False)``,
    a scaler) goes to ``later``, where it may describe other images.
    """
    if estimator is None or isinstance(estimator, str) or depth > 16:  # "passthrough", "drop"
        return True
    shape = _declared_shape(estimator)
    if shape is not None:
        (found if as_given else later).append((path or type(estimator).__name__, shape))
    prefix = f"{path}__" if path else ""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list):  # a Pipeline: each step sees what the steps before it give
        for name, step in steps:
            as_given = _find_shapes(step, prefix + name, as_given, found, later, depth + 1) and as_given
        return as_given
    branches = getattr(estimator, "transformer_list", None)
    if isinstance(branches, list):  # a FeatureUnion: every transformer sees the rows it is given
        for name, branch, *_ in branches:
            _find_shapes(branch, prefix + name, as_given, found, later, depth + 1)
        return False
    for name in ("estimator", "transformer"):  # wrappers (MirrorViews, FlipAugmented, GridSearchCV, ...)
        inner = getattr(estimator, name, None)
        if inner is not None and hasattr(inner, "fit"):
            _find_shapes(inner, prefix + name, as_given, found, later, depth + 1)
    keeps = getattr(estimator, "_keeps_geometry", None)
    return bool(keeps()) if callable(keeps) else False


def _wrapped_image_shape(wrapper, estimator, image_shape, n_features: int) -> tuple[int, int]:
    """The geometry to mirror rows of ``n_features`` pixels by: ``image_shape``, else what ``estimator`` declares.

    Without ``image_shape``, every step of ``estimator`` that sees the rows as given (a Pipeline's
    steps up to the first that changes the images, each transformer of a FeatureUnion, wrapped
    estimators) and declares an ``image_shape`` must declare the same one; none: a square, else
    ``(1, n)`` as the steps read such rows. Searching only a Pipeline's first step missed the
    geometry inside a FeatureUnion or past a step without one, and mirrored 24 x 32 faces as
    rows of 768 pixels (a 180-degree turn of the image).

    Raises
    ------
    ValueError
        If two steps declare different geometries, or the rows are not square and the only
        geometry declared lies past a step that may change the images.
    """
    if image_shape is not None:
        return infer_image_shape(n_features, image_shape)
    found, later = [], []
    _find_shapes(estimator, "", True, found, later)
    owner = type(wrapper).__name__
    fix = f"pass image_shape=(height, width) to {owner}"
    for path, shape in found[1:]:
        if shape != found[0][1]:
            raise ValueError(
                f"{owner}: the steps of {type(estimator).__name__} declare different image geometries, "
                f"{found[0][0]!r} image_shape={found[0][1]} and {path!r} image_shape={shape}; give them the "
                f"geometry of the rows, or {fix}.")
    if found:
        return infer_image_shape(n_features, found[0][1])
    shape = infer_image_shape(n_features, None)
    if shape[0] == 1 and n_features > 1 and later:
        path, declared = later[0]
        raise ValueError(
            f"{owner}: rows of {n_features} pixels are not square images, and the only geometry declared, "
            f"{path!r} image_shape={declared}, comes after a step that may change the images; {fix}.")
    return shape


def mirror_rows(X: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """Mirror every flattened image left to right.

    Parameters
    ----------
    X : ndarray of shape (n_samples, height * width)
        Flattened images.
    image_shape : (int, int)
        (height, width) of every row.

    Returns
    -------
    ndarray of the same shape and dtype
    """
    X = np.asarray(X)
    return np.ascontiguousarray(X.reshape(len(X), *image_shape)[:, :, ::-1]).reshape(X.shape)


def shift_rows(X: np.ndarray, image_shape: tuple[int, int], dx: int) -> np.ndarray:
    """Move every flattened image ``dx`` pixels right (left if negative), repeating the border column.

    Parameters
    ----------
    X : ndarray of shape (n_samples, height * width)
        Flattened images.
    image_shape : (int, int)
        (height, width) of every row.
    dx : int
        Pixels to the right; ``|dx|`` below the width.

    Returns
    -------
    ndarray of the same shape and dtype
    """
    X = np.asarray(X)
    images = X.reshape(len(X), *image_shape)
    out = np.empty_like(images)
    if dx >= 0:
        out[:, :, dx:] = images[:, :, : images.shape[2] - dx]
        out[:, :, :dx] = images[:, :, :1]
    else:
        out[:, :, :dx] = images[:, :, -dx:]
        out[:, :, dx:] = images[:, :, -1:]
    return out.reshape(X.shape)


def n_mirror_views(shift: int = 0) -> int:
    """Views per face that ``MirrorViews(shift=shift)`` writes: 2, or 6 with a shift.

    The ``views`` a kernel classifier needs for those features, known before
    any data is seen (``MirrorViews.n_views_`` is the same number after ``fit``).

    Parameters
    ----------
    shift : int, default=0
        ``MirrorViews``' ``shift``.

    Returns
    -------
    int
    """
    return 6 if shift else 2


def _delegate(method: str):
    """available_if check: the fitted (or else the given) estimator has ``method``."""

    def check(self) -> bool:
        inner = self.estimator_ if hasattr(self, "estimator_") else self.estimator
        return hasattr(inner, method)

    return check


class FlipAugmented(MetaEstimatorMixin, BaseEstimator):
    """Fit ``estimator`` on the training images and their mirror images.

    ``fit`` stacks ``X`` and every image flipped left to right, repeats
    ``y`` (and any per-sample fit parameter such as ``sample_weight``), and
    fits a clone of ``estimator`` on the ``2 * n_samples`` rows: faces are
    (nearly) symmetric, so the mirror image of a training face is another
    plausible face with the same expression. Every other method
    (``predict``, ``predict_proba``, ``decision_function``, ``transform``,
    ``score``) hands its input to the fitted estimator unchanged: test
    images are never flipped or duplicated.

    Wrap the whole image pipeline (preprocessing, features, classifier), so
    that features are extracted from the mirrored images too; it then works
    as a step of a :class:`~sklearn.pipeline.Pipeline` and in
    :class:`~sklearn.model_selection.GridSearchCV` (parameters
    ``estimator__<step>__<name>``), where the validation folds stay
    unflipped as well.

    Parameters
    ----------
    estimator : estimator
        A classifier, regressor, transformer or Pipeline taking flattened images.
    image_shape : (int, int), optional
        Geometry of a row; default: the ``image_shape`` declared by the steps
        of ``estimator`` that see the rows as given (a Pipeline's steps up to
        the first that changes the images, each transformer of a
        FeatureUnion), which must agree; else a square (``(1, n)``
        otherwise, a mirror of the feature order, as such steps read the
        rows). Non-square rows whose only declared geometry lies past a step
        that may change the images are refused.

    Attributes
    ----------
    estimator_ : estimator
        The clone of ``estimator`` fitted on the augmented training set.
    image_shape_ : (int, int)
        Geometry used for mirroring.
    classes_ : ndarray
        The fitted estimator's classes, when it has them.
    n_features_in_ : int
        Pixels per row seen in ``fit``.

    Examples
    --------
    >>> from fer_classic import make_pipeline
    >>> from fer_classic.data import make_synthetic_faces
    >>> train = make_synthetic_faces(6, 0, random_state=0)
    >>> model = FlipAugmented(make_pipeline("hog", "linear-svm")).fit(train.X, train.y)
    >>> model.predict(train.X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
    }

    def __init__(self, estimator, *, image_shape: tuple[int, int] | None = None):
        self.estimator = estimator
        self.image_shape = image_shape

    # Nested: the wrapped estimator validates its own parameters.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None, **fit_params):
        """Fit a clone of ``estimator`` on ``X`` and its mirror images.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened grayscale images.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
            Targets, repeated for the mirrored rows.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the images, each repeated for its mirror image; passed
            to ``estimator.fit`` when given (to a Pipeline as
            ``<last step>__sample_weight``, or as its steps request them with
            metadata routing on; an estimator whose ``fit`` takes neither
            ``sample_weight`` nor ``**kwargs`` is refused).
        **fit_params : dict
            Passed to ``estimator.fit`` as its ``fit`` takes them
            (``clf__sample_weight`` for a pipeline, without ``estimator__``);
            values with one entry per sample are repeated for the mirrored
            rows (``<step>__sample_weight`` must have one per image).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If a sample weight (``sample_weight`` or ``<step>__sample_weight``)
            is negative (naming its row) or there is not one per image.
        """
        prefixed = sorted(key for key in fit_params if key.startswith("estimator__"))
        if prefixed:  # a Pipeline's KeyError: 'estimator' otherwise
            raise ValueError(f"fit parameters go to the wrapped estimator as its own fit takes them: "
                             f"{prefixed[0].removeprefix('estimator__')}, not {prefixed[0]} ('estimator__' names "
                             "its parameters in set_params and grids only).")
        allow_nan = self.estimator.__sklearn_tags__().input_tags.allow_nan
        X = validate_data(self, X, reset=True, ensure_all_finite="allow-nan" if allow_nan else True)
        self.image_shape_ = _wrapped_image_shape(self, self.estimator, self.image_shape, X.shape[1])
        n = len(X)
        augmented = np.concatenate([X, mirror_rows(X, self.image_shape_)])
        if y is not None:
            check_consistent_length(X, y)
            y = np.asarray(y)
            y = np.concatenate([y, y])
        if sample_weight is not None:
            key = sample_weight_key(self.estimator, type(self).__name__)  # one rule with CanonicalOrderClassifier
            if key in fit_params:
                raise ValueError(f"sample_weight and {key} were both given: they are the same weights; give one.")
            fit_params = {**fit_params, key: sample_weight}
        params = {}
        for key, value in fit_params.items():
            if value is not None and (key == "sample_weight" or key.endswith("__sample_weight")):
                # One per image, none negative: 2n would pass on unchecked, misaligned.
                value = check_sample_weight(value, X)
            per_sample = value is not None and not isinstance(value, str) and np.ndim(value) >= 1
            if per_sample and len(value) == n:
                value = np.concatenate([np.asarray(value)] * 2)
            params[key] = value
        self.estimator_ = clone(self.estimator).fit(augmented, y, **params)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        return self

    def _unchanged(self, X):
        # Checks the fit, the shape and the number of features only: X reaches the
        # estimator as it was given (the validated copy is discarded), but for its column
        # names: checked here against fit's, then dropped, as fit gave the estimator an array
        # ("X has feature names, but ... was fitted without feature names" on every call otherwise).
        check_is_fitted(self)
        check_array(X, dtype=None, accept_sparse=True, ensure_all_finite=False)
        validate_data(self, X, reset=False, skip_check_array=True)
        return np.asarray(X) if hasattr(X, "columns") else X

    @available_if(_delegate("set_output"))
    def set_output(self, *, transform=None):
        """Set the output container of the wrapped estimator (and of the fitted one), as a Pipeline does its steps'.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            The container ``transform`` and ``fit_transform`` return; None: unchanged.

        Returns
        -------
        self
        """
        if transform is None:
            return self
        for inner in (self.estimator, getattr(self, "estimator_", None)):
            if inner is not None and hasattr(inner, "set_output"):
                inner.set_output(transform=transform)
        return self

    @available_if(_delegate("transform"))
    def fit_transform(self, X, y=None, **fit_params):
        """Fit on ``X`` and its mirror images, then transform the unflipped ``X`` (n_samples rows)."""
        return self.fit(X, y, **fit_params).transform(X)

    @available_if(_delegate("predict"))
    def predict(self, X):
        """``estimator_.predict`` of the unflipped ``X``."""
        X = self._unchanged(X)
        return self.estimator_.predict(X)

    @available_if(_delegate("predict_proba"))
    def predict_proba(self, X):
        """``estimator_.predict_proba`` of the unflipped ``X``."""
        X = self._unchanged(X)
        return self.estimator_.predict_proba(X)

    @available_if(_delegate("predict_log_proba"))
    def predict_log_proba(self, X):
        """``estimator_.predict_log_proba`` of the unflipped ``X``."""
        X = self._unchanged(X)
        return self.estimator_.predict_log_proba(X)

    @available_if(_delegate("decision_function"))
    def decision_function(self, X):
        """``estimator_.decision_function`` of the unflipped ``X``."""
        X = self._unchanged(X)
        return self.estimator_.decision_function(X)

    @available_if(_delegate("transform"))
    def transform(self, X):
        """``estimator_.transform`` of the unflipped ``X`` (one output row per input row)."""
        X = self._unchanged(X)
        return self.estimator_.transform(X)

    @available_if(_delegate("get_feature_names_out"))
    def get_feature_names_out(self, input_features=None):
        """The fitted estimator's output feature names."""
        check_is_fitted(self)
        return self.estimator_.get_feature_names_out(input_features)

    @available_if(_delegate("score"))
    def score(self, X, y, **kwargs):
        """``estimator_.score`` on the unflipped ``X``."""
        X = self._unchanged(X)
        return self.estimator_.score(X, y, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.transformer_tags = inner.transformer_tags
        tags.target_tags.required = inner.target_tags.required
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.non_deterministic = inner.non_deterministic
        return tags


class MirrorViews(TransformerMixin, MetaEstimatorMixin, BaseEstimator):
    """Features of every image and of its mirror image (and shifted copies), side by side.

    ``fit`` fits a clone of ``transformer`` on the images as they are;
    ``transform`` returns ``[transformer_.transform(X) | transformer_.transform(mirror(X))]``
    in float32, the same fitted features of each face and of its left-right
    mirror, at fit and predict time alike. A kernel SVM with ``views=2``
    (:class:`~fer_classic.estimators.KernelSVC`,
    :class:`~fer_classic.estimators.CombinedKernelSVC`, inside
    :class:`~fer_classic.estimators.LocalSVC`) then averages its kernel over
    both orientations of both faces: every face keeps one row, where
    :class:`FlipAugmented` doubles the training rows (and the kernel matrix
    fourfold) and sees test faces one way only. With ``shift``, four more
    views follow: the image moved ``shift`` pixels right and left (the
    border column repeated), and the mirrors of both, for ``views=6``.

    Parameters
    ----------
    transformer : transformer
        Turns flattened images into features (a feature extractor, or a
        Pipeline of extractors and scalers).
    image_shape : (int, int), optional
        Geometry of a row; default: the ``image_shape`` declared by the steps
        of ``transformer`` that see the rows as given (as for
        :class:`FlipAugmented`), which must agree; else a square.
    shift : int, default=0
        Pixels by which the extra views move the image left and right, below
        half the image width; 0: the image and its mirror only. Six views
        cost a kernel over views 36 products per pair of faces instead of 4.

    Attributes
    ----------
    transformer_ : transformer
        The clone of ``transformer`` fitted on ``X``.
    image_shape_ : (int, int)
        Geometry used for mirroring.
    n_views_ : int
        Views per face in the output: 2, or 6 with ``shift``.
    n_features_in_ : int
        Pixels per row seen in ``fit``.

    See Also
    --------
    shift_rows : The shifted views' images.

    Examples
    --------
    >>> from fer_classic.data import make_synthetic_faces
    >>> from fer_classic.features import HOGFeatures
    >>> train = make_synthetic_faces(6, 0, random_state=0)
    >>> views = MirrorViews(HOGFeatures()).fit(train.X)
    >>> views.transform(train.X[:2]).shape[1] == 2 * views.transformer_.transform(train.X[:2]).shape[1]
    True
    >>> MirrorViews(HOGFeatures(), shift=3).fit(train.X).n_views_
    6
    """

    _parameter_constraints: dict = {
        "transformer": [HasMethods(["fit", "transform"])],
        "image_shape": IMAGE_SHAPE_CONSTRAINT,
        "shift": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, transformer, *, image_shape: tuple[int, int] | None = None, shift: int = 0):
        self.transformer = transformer
        self.image_shape = image_shape
        self.shift = shift

    def _check(self, X, reset: bool):
        allow_nan = self.transformer.__sklearn_tags__().input_tags.allow_nan
        # The default dtype="numeric": 8-bit images stay 8-bit (the extractors convert them by chunks).
        return validate_data(self, X, reset=reset, ensure_all_finite="allow-nan" if allow_nan else True)

    # Nested: the wrapped transformer validates its own parameters.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **fit_params):
        """Fit a clone of ``transformer`` on ``X`` (the images as they are, not their mirrors).

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened grayscale images.
        y : array-like of shape (n_samples,), optional
            Passed to ``transformer.fit``.
        **fit_params : dict
            Passed to ``transformer.fit``; with metadata routing enabled
            (``sklearn.set_config(enable_metadata_routing=True)``), those its
            steps request (``set_fit_request``).

        Returns
        -------
        self
        """
        X = self._start_fit(X)
        self.transformer_.fit(X, y, **self._routed("fit", fit_params))
        return self

    def _routed(self, method: str, fit_params: dict) -> dict:
        """The parameters of ``transformer_.<method>``: routed by their requests when routing is on, else all."""
        if not routing_enabled():
            return fit_params
        return process_routing(self, method, **fit_params).transformer[method]

    def get_metadata_routing(self):
        """Metadata routing of this object: ``fit`` and ``fit_transform`` route to the transformer's.

        See scikit-learn's :ref:`User Guide <metadata_routing>`.

        Returns
        -------
        routing : MetadataRouter
            The transformer's requests, for ``fit`` and ``fit_transform``.
        """
        return MetadataRouter(owner=self).add(
            transformer=self.transformer,
            method_mapping=MethodMapping().add(caller="fit", callee="fit").add(
                caller="fit_transform", callee="fit_transform"),
        )

    def _check_params(self, image_shape: tuple[int, int]) -> None:
        """Raise ValueError if ``shift`` cannot apply to images of ``image_shape`` (also before any image is read)."""
        # From half the width on, a shifted view holds more repeated border column than face.
        width = image_shape[1]
        if 2 * self.shift >= width:
            raise ValueError(f"shift={self.shift} (--kernel-shift) moves the {width}-pixel-wide images by half their "
                             f"width or more: the shifted views would be mostly repeated border columns; give at most "
                             f"{(width - 1) // 2} pixels.")

    def _start_fit(self, X) -> np.ndarray:
        X = self._check(X, reset=True)
        self.image_shape_ = _wrapped_image_shape(self, self.transformer, self.image_shape, X.shape[1])
        self._check_params(self.image_shape_)
        self.n_views_ = n_mirror_views(self.shift)
        self.transformer_ = clone(self.transformer)
        return X

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None, **fit_params):
        """Fit on ``X``, then the features of every view of ``X`` (``X`` as it is transformed once).

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened images.
        y : array-like of shape (n_samples,), optional
            Labels, passed to the transformer's ``fit_transform``.
        **fit_params : dict
            Passed to the transformer's ``fit_transform`` (routed as in :meth:`fit`).

        Returns
        -------
        ndarray of shape (n_samples, n_views_ * n_features)
            float32, as :meth:`transform`.
        """
        X = self._start_fit(X)
        return self._all_views(X, self.transformer_.fit_transform(X, y, **self._routed("fit_transform", fit_params)))

    def transform(self, X):
        """``[features of X | of its mirror images | ...]``, float32, shape (n_samples, n_views_ * n_features).

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Flattened images.

        Returns
        -------
        ndarray of shape (n_samples, n_views_ * n_features)
            float32 features of every view, side by side.
        """
        check_is_fitted(self)
        return self._all_views(self._check(X, reset=False))

    def _view_images(self, rows: np.ndarray) -> list:
        """The images of every view after the first, in output order."""
        mirror = mirror_rows(rows, self.image_shape_)
        if not self.shift:
            return [mirror]
        moved = [shift_rows(rows, self.image_shape_, dx) for dx in (self.shift, -self.shift)]
        return [mirror, *moved, *(mirror_rows(m, self.image_shape_) for m in moved)]

    def _all_views(self, X: np.ndarray, own=None) -> np.ndarray:
        """Every view written into one array, by blocks of rows: no full-size temporary beside it."""
        out = None
        step = max(_VIEW_ROWS, -(-len(X) // _VIEW_PARTS))
        for start in range(0, len(X), step):
            rows = X[start : start + step]
            first = self.transformer_.transform(rows) if own is None else own[start : start + step]
            others = [np.asarray(self.transformer_.transform(images)) for images in self._view_images(rows)]
            if out is None:
                width = others[0].shape[1]
                # float32: the kernels over views take their products in float32, and six views of
                # FER2013's training faces (sift+hog+gabor) are 3.6 GB so, 7.3 GB in float64.
                out = np.empty((len(X), self.n_views_ * width), dtype=np.float32)
            for v, features in enumerate([first, *others]):
                out[start : start + len(rows), v * width : (v + 1) * width] = features
            del first, others, features  # before the next block's are made
        if out is None:  # no rows: the transformer says what width an empty batch has
            out = np.hstack([np.asarray(self.transformer_.transform(X), dtype=np.float32)] * self.n_views_)
        return out

    def get_feature_names_out(self, input_features=None):
        """The transformer's names, then the same names prefixed by each view's (``mirror__``, ``shift+2__``...).

        Parameters
        ----------
        input_features : array-like of str, optional
            One name per input pixel; None: the names seen in ``fit``, if any.

        Returns
        -------
        ndarray of str
            ``n_views_`` times the transformer's output names.

        Raises
        ------
        ValueError
            If ``input_features`` is not one name per input pixel (or not the names seen in ``fit``).
        """
        check_is_fitted(self)
        # Checked as scikit-learn's transformers do (a wrong-length list was ignored), then named by the transformer.
        input_features = _check_feature_names_in(self, input_features, generate_names=False)
        names = np.asarray(self.transformer_.get_feature_names_out(input_features), dtype=object)
        prefixes = ["", "mirror__"]
        if self.shift:
            moved = [f"shift{dx:+d}__" for dx in (self.shift, -self.shift)]
            prefixes += moved + [f"mirror__{m}" for m in moved]
        return np.concatenate([np.array([f"{p}{name}" for name in names], dtype=object) for p in prefixes])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.transformer.__sklearn_tags__()
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.non_deterministic = inner.non_deterministic
        tags.target_tags.required = inner.target_tags.required
        tags.transformer_tags.preserves_dtype = ["float32"]  # every view is written in float32
        return tags
