"""A meta-classifier with fer-classic's checks of labels and sample weights."""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.svm import SVC
from sklearn.utils.metadata_routing import (
    MetadataRequest, MetadataRouter, MethodMapping, get_routing_for_object, process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._sklearn_compat import HasMethods, _fit_context, check_sample_weight, routing_enabled, validate_data

__all__ = ["CanonicalOrderClassifier"]


def _inner_has(method: str):
    def check(self) -> bool:
        # "is not None", not truthiness: an unfitted ensemble's len() raises (BaseEstimator.__len__ is absent).
        inner = getattr(self, "estimator_", None)
        if inner is None:
            inner = self.estimator if self.estimator is not None else SVC()
        return hasattr(inner, method)

    return check


def weighted_unless_declined(estimator):
    """``estimator`` for a wrapper's metadata router: one whose unset ``sample_weight`` request of ``fit`` is True.

    With metadata routing on, a wrapper that takes ``sample_weight`` itself
    (:class:`CanonicalOrderClassifier`, :class:`LocalSVC`) routes it to its
    estimator by the estimator's request; an explicit ``set_fit_request(sample_weight=False)``
    keeps it from the estimator. An estimator that has not said either way
    gets the weights, as without routing (scikit-learn's own wrappers do so
    for the estimator they make by default): the wrapper is the estimator the
    caller weighted. A router (a Pipeline) is left to its steps' requests.
    Returns ``estimator`` itself, or a clone requesting the weights.
    """
    if not routing_enabled():  # set_fit_request is refused then
        return estimator
    routing = get_routing_for_object(estimator)
    if (isinstance(routing, MetadataRequest) and "sample_weight" in routing.fit.requests
            and routing.fit.requests["sample_weight"] is None):
        return clone(estimator).set_fit_request(sample_weight=True)
    return estimator


def sample_weight_key(estimator, owner: str) -> str:
    """The name under which ``owner`` (a wrapper) gives its ``sample_weight`` to ``estimator.fit``.

    ``"sample_weight"`` for an estimator whose ``fit`` takes it, or takes
    ``**kwargs`` (GridSearchCV; a Pipeline with metadata routing on, where
    its steps' requests decide). Without routing a Pipeline takes weights
    for a step only: ``<last step>__sample_weight``, the weights of the
    estimator that ends it (``clf__sample_weight`` for :func:`~fer_classic.make_pipeline`).

    Raises
    ------
    ValueError
        If ``estimator.fit`` (or, for a Pipeline without routing, its last step's) takes no ``sample_weight``.
    """
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps and not routing_enabled():
        name, last = steps[-1]
        if last is not None and not isinstance(last, str) and hasattr(last, "fit"):
            try:
                return f"{name}__{sample_weight_key(last, owner)}"
            except ValueError:
                pass
        raise ValueError(f"sample_weight was given but the last step of {type(estimator).__name__}, {name!r} "
                         f"({type(last).__name__}), takes no sample_weight; {owner} gives the weights to it as "
                         f"{name}__sample_weight: end the pipeline with an estimator whose fit takes sample_weight, "
                         "or omit the weights.")
    parameters = inspect.signature(estimator.fit).parameters.values()
    if any(p.name == "sample_weight" or p.kind is p.VAR_KEYWORD for p in parameters):
        return "sample_weight"
    raise ValueError(f"sample_weight was given but {type(estimator).__name__}.fit takes no sample_weight; {owner} "
                     "passes the weights to its estimator's fit: wrap an estimator whose fit takes sample_weight "
                     "(of make_pipeline's classifiers: svm, linear-svm, logreg, ridge, rf, mlp), or omit the weights.")


def needs_weighted_classes(estimator) -> bool:
    """Whether ``estimator`` needs a sample of positive weight in every class (see :func:`check_weighted_classes`).

    True for ``SVC`` and for the estimators whose ``_needs_weighted_classes()`` says so (libsvm's).
    """
    if isinstance(estimator, SVC):
        return True
    needs = getattr(estimator, "_needs_weighted_classes", None)
    return bool(needs()) if callable(needs) else False


def check_two_classes(y: np.ndarray, sample_weight: np.ndarray | None) -> None:
    """Raise ValueError unless ``y`` holds at least 2 classes, of positive ``sample_weight`` when given.

    Raises
    ------
    ValueError
        If ``y`` holds one class, no weight is positive (all zero or
        negative: nothing to learn from), or the samples of positive weight
        are all of one class.
    """
    labels = np.unique(y)
    if len(labels) < 2:
        raise ValueError(f"The training data holds only 1 class ({labels[0]!r}); need at least 2 classes.")
    if sample_weight is None:
        return
    positive = sample_weight > 0
    if not positive.any():
        raise ValueError(f"No sample_weight is positive (all {len(sample_weight)} are zero or negative): the "
                         "classifier would learn from no sample; give the samples to learn from positive weights.")
    if len(np.unique(y[positive])) < 2:
        raise ValueError("All samples with positive sample_weight belong to one class; need at least 2 classes.")


def check_weighted_classes(y: np.ndarray, sample_weight: np.ndarray | None) -> None:
    """Raise ValueError unless every class of ``y`` has a sample of positive ``sample_weight``.

    What libsvm needs (it leaves out the samples of weight 0, and then fails
    with "all samples with positive weights belong to the same class" or an
    IndexError). Checks :func:`check_two_classes` first.

    Raises
    ------
    ValueError
        As :func:`check_two_classes`, or naming the classes whose samples all
        weigh 0 (or less).
    """
    check_two_classes(y, sample_weight)
    if sample_weight is None:
        return
    labels, codes = np.unique(y, return_inverse=True)
    weighted = np.bincount(codes[np.asarray(sample_weight) > 0], minlength=len(labels)) > 0
    if not weighted.all():
        missing = labels[~weighted].tolist()
        classes = f"class {missing[0]!r}" if len(missing) == 1 else f"classes {', '.join(map(repr, missing))}"
        raise ValueError(f"No sample of {classes} has a positive sample_weight: the SVM would learn without it; "
                         "give some of its samples a positive weight, or leave its rows out.")


def positive_weight_folds(codes: np.ndarray, sample_weight: np.ndarray | None, n_splits: int, *,
                          shuffle: bool = False, random_state=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds counted on the samples of positive weight: ``[(train, test), ...]``.

    :class:`~sklearn.model_selection.StratifiedKFold` on the samples of
    positive ``sample_weight`` (all of them without weights: then its own
    folds); the others go to the folds in turn. Each class with at least
    ``n_splits`` samples of positive weight keeps some in every training
    part, however many of its rows weigh 0.
    """
    from sklearn.model_selection import StratifiedKFold

    codes = np.asarray(codes)
    splitter = StratifiedKFold(n_splits, shuffle=shuffle, random_state=random_state)
    positive = np.ones(len(codes), bool) if sample_weight is None else np.asarray(sample_weight) > 0
    rows = np.flatnonzero(positive)
    fold = np.empty(len(codes), dtype=np.intp)
    for k, (_, test) in enumerate(splitter.split(np.zeros((len(rows), 1)), codes[rows])):
        fold[rows[test]] = k
    rest = np.flatnonzero(~positive)
    fold[rest] = np.arange(len(rest)) % n_splits
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_splits)]


def class_weight_codes(class_weight, classes: np.ndarray):
    """``class_weight`` for models that see class codes (indices into ``classes``).

    A label-keyed dict becomes code-keyed; "balanced" and None stay as they are.
    Keys that are no class are dropped when every class has a key (scikit-learn's
    rule: a seven-emotion dict serves a fold without disgust).

    Raises
    ------
    ValueError
        If a key of the dict is not one of ``classes`` while some class has no
        key (a misspelt label: ``SVC`` refuses it too).
    """
    if isinstance(class_weight, dict):
        labels = np.asarray(classes).tolist()
        index = {label: i for i, label in enumerate(labels)}
        unknown = [key for key in class_weight if key not in index]
        if unknown and any(label not in class_weight for label in labels):
            raise ValueError(f"class_weight names {', '.join(map(repr, unknown))}, not a class of the training "
                             f"data ({', '.join(map(str, labels))}); key it by those labels.")
        return {index[label]: weight for label, weight in class_weight.items() if label in index}
    return class_weight


def check_class_weight_values(class_weight) -> None:
    """Raise ValueError if a ``class_weight`` dict gives a weight that is no positive, finite number.

    Checked when the classifier is made (before any data) and again when it is fitted.
    """
    if not isinstance(class_weight, dict):
        return
    bad = [f"{key}={value!r}" for key, value in class_weight.items()
           if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf]
    if bad:  # libsvm would fail after the features with "dual coefficients ... not finite", or on a string
        raise ValueError(f"class_weight gives {', '.join(bad)}: each weight must be a positive number, "
                         'e.g. {"happy": 2}.')


def coded_class_weights(estimator, classes) -> dict:
    """``estimator``'s ``class_weight`` dicts (at any depth), keyed by the index of each label in ``classes``.

    Parameters
    ----------
    estimator : estimator
        Its ``get_params()`` names the dicts (``class_weight``,
        ``estimator__class_weight``, ...).
    classes : sequence
        The labels, in the order of their codes.

    Returns
    -------
    dict
        Parameter name → code-keyed dict, for ``set_params``.

    Raises
    ------
    ValueError
        If a key is not one of ``classes``.
    """
    labels = np.asarray(classes).tolist()
    coded = {}
    for name, weights in estimator.get_params().items():
        if name.rsplit("__", 1)[-1] != "class_weight" or not isinstance(weights, dict):
            continue
        codes = class_weight_codes(weights, labels)  # raises for a key that is not a class
        check_class_weight_values(weights)
        coded[name] = codes
    return coded


class CanonicalOrderClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Wrap a classifier with fer-classic's checks of labels and weights.

    It refuses one class, negative or misplaced ``sample_weight`` and a
    ``class_weight`` naming unknown labels before the inner classifier runs,
    and fits ``estimator`` on integer codes of the labels. ``classes_`` are
    sorted as ``np.unique`` sorts them, as in scikit-learn's own classifiers:
    its scorers and metrics (``neg_log_loss``, ``roc_auc_ovr``,
    ``top_k_accuracy``, ``log_loss``...) read the columns of
    ``predict_proba``/``decision_function`` in that order. What fer-classic
    shows follows the canonical order instead (:attr:`FERModel.classes
    <fer_classic.persistence.FERModel.classes>`, whose scores are reordered
    to it). Earlier versions ordered ``classes_`` canonically, hence the name;
    models they saved still predict and report the same.

    Parameters
    ----------
    estimator : classifier, default=None
        The classifier to fit; None means ``sklearn.svm.SVC()``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels, sorted.
    estimator_ : classifier
        The fitted clone of ``estimator``, trained on integer codes 0..n_classes-1
        (a ``class_weight`` dict of it, keyed by label, is keyed by code there).
    n_features_in_ : int
        Number of features seen in ``fit``.
    """

    _parameter_constraints: dict = {"estimator": [HasMethods(["fit", "predict"]), None]}

    def __init__(self, estimator=None):
        self.estimator = estimator

    # Nested: the inner classifier validates its own parameters.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit ``estimator`` on ``X`` and the codes of ``y`` (indices into the sorted ``classes_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), optional
            Passed to the inner ``fit`` when given (so that
            :func:`~sklearn.utils.validation.has_fit_parameter` sees it, and
            grid search can route it); the inner estimator must accept it.
            A Pipeline gets it for its last step (``<step>__sample_weight``).
            With metadata routing on, it reaches the inner estimator as that
            requests it (see :meth:`get_metadata_routing`).

        Returns
        -------
        self : object
            Fitted estimator.

        Raises
        ------
        ValueError
            If ``y`` holds one class, a sample weight is negative (naming its
            row), no sample weight is positive, every sample of positive
            weight is of one class (for an SVM, a class has none),
            ``sample_weight`` is given for a classifier whose ``fit`` takes
            none (k-nearest neighbours), or it has not one value per row (as
            after a sampler step, which adds rows but no weights).
        """
        X, y = validate_data(self, X, y, accept_sparse=("csr", "csc"))
        check_classification_targets(y)
        labels = np.unique(y)
        if len(labels) < 2:
            raise ValueError(
                f"The training data holds only 1 class ({labels[0]!r}); a classifier needs at least 2 classes."
            )
        estimator = clone(self.estimator) if self.estimator is not None else SVC()
        fit_params = {}
        if sample_weight is not None:
            key = sample_weight_key(estimator, type(self).__name__)  # raises for an estimator taking none
            try:
                sample_weight = check_sample_weight(sample_weight, X)  # refuses a negative weight, naming its row
            except ValueError:
                # Fewer weights than rows is what an oversampler before it leaves; other lengths are the
                # caller's own mismatch, for scikit-learn's message.
                if np.ndim(sample_weight) != 1 or len(sample_weight) >= len(X):
                    raise
                raise ValueError(
                    f"sample_weight has {len(sample_weight)} values for the {len(X)} rows the classifier is fit "
                    "on. If a sampler precedes it (make_pipeline(..., sampler=...)), it added rows, and "
                    "imbalanced-learn's Pipeline passes sample_weight on without weights for them: fit without "
                    "sample_weight (the classifier's class_weight weighs whole classes) or without the sampler."
                ) from None
            # Checked on the labels here: the inner classifier sees codes, which its message would name.
            if needs_weighted_classes(estimator):
                check_weighted_classes(y, sample_weight)
            else:
                check_two_classes(y, sample_weight)
            fit_params[key] = sample_weight
        if routing_enabled():  # the inner estimator's request decides (False: checked here, not passed on)
            fit_params = process_routing(self, "fit", sample_weight=sample_weight).estimator.fit
        self.classes_ = labels
        estimator.set_params(**coded_class_weights(estimator, self.classes_))
        self.estimator_ = estimator.fit(X, np.searchsorted(labels, y), **fit_params)
        return self

    def _validate(self, X):
        check_is_fitted(self)
        return validate_data(self, X, accept_sparse=("csr", "csc"), reset=False)

    def predict(self, X):
        """Predicted labels of shape (n_samples,).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted labels, of ``classes_``.
        """
        X = self._validate(X)
        return self.classes_[self.estimator_.predict(X).astype(int)]

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, columns in ``classes_`` order."""
        X = self._validate(X)
        return self.estimator_.predict_proba(X)

    @available_if(_inner_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities, columns in ``classes_`` order."""
        X = self._validate(X)
        return self.estimator_.predict_log_proba(X)

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X):
        """Decision scores, columns in ``classes_`` order (1-D for two classes)."""
        X = self._validate(X)
        return self.estimator_.decision_function(X)

    @available_if(_inner_has("decision_function"))
    def predict_and_decision(self, X):
        """Labels and decision scores in one pass where the inner classifier can (one kernel evaluation).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            As :meth:`predict`.
        decision : ndarray
            As :meth:`decision_function`.
        """
        X = self._validate(X)
        if hasattr(self.estimator_, "predict_and_decision"):
            codes, decision = self.estimator_.predict_and_decision(X)
        else:
            codes, decision = self.estimator_.predict(X), self.estimator_.decision_function(X)
        return self.classes_[np.asarray(codes).astype(int)], decision

    def get_metadata_routing(self):
        """Metadata routing of this object: its own ``sample_weight`` request, and ``fit`` routed to the estimator's.

        See scikit-learn's :ref:`User Guide <metadata_routing>`. The
        estimator's request decides whether the weights reach it; one that
        has not said either way gets them (see :func:`weighted_unless_declined`).

        Returns
        -------
        routing : MetadataRouter
            This object's request and the estimator's.
        """
        inner = self.estimator if self.estimator is not None else SVC()
        return MetadataRouter(owner=self).add_self_request(self).add(
            estimator=weighted_unless_declined(inner), method_mapping=MethodMapping().add(caller="fit", callee="fit"))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator if self.estimator is not None else SVC()
        inner_tags = inner.__sklearn_tags__()
        tags.input_tags.sparse = inner_tags.input_tags.sparse
        tags.non_deterministic = inner_tags.non_deterministic
        return tags
