"""Building a whole pipeline from a feature spec and a classifier name."""

from __future__ import annotations

from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .estimators import make_classifier
from .features import make_features

__all__ = ["make_pipeline"]


def make_pipeline(
    features: str = "hog",
    clf: str = "svm",
    *,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    **clf_params,
) -> Pipeline:
    """Return ``features → StandardScaler → classifier`` as one scikit-learn Pipeline.

    Every learned step (scaler, PCA, classifier) sits inside the pipeline, so
    ``fit`` learns it from training data only and ``predict`` applies it
    unchanged to new images.

    Parameters
    ----------
    features : str, default="hog"
        ``pixels``, ``hog``, ``lbp``, ``pca``, or several joined by ``+``.
    clf : str, default="svm"
        ``svm``, ``linear-svm``, ``logreg``, ``knn``, ``rf`` or ``mlp``.
    random_state : int, optional
        Seed of every randomised step.
    n_jobs : int, optional
        Workers for feature extraction and estimators that take them.
    **clf_params
        Parameters of the classifier (e.g. ``C=10``).

    Examples
    --------
    >>> from fer_classic import load_dataset, make_pipeline
    >>> data = load_dataset()  # the generated default
    >>> train = data.select("train")
    >>> model = make_pipeline("hog", "svm").fit(train.X, train.y)
    """
    return Pipeline(
        [
            ("features", make_features(features, n_jobs=n_jobs)),
            ("scale", StandardScaler()),
            ("clf", make_classifier(clf, random_state=random_state, n_jobs=n_jobs, **clf_params)),
        ]
    )
