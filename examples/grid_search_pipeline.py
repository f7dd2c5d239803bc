"""fer-classic's transformers and classifiers inside a user-built scikit-learn pipeline.

HOG and LBP features are concatenated with a FeatureUnion, scaled, and fed to
an RBF SVM behind fer-classic's checks of labels and weights; GridSearchCV
tunes the HOG cell size and the SVM's C by cross-validation on the training
split only, then the best pipeline is scored once on the test split.

Run::

    python examples/grid_search_pipeline.py                 # generated faces
    python examples/grid_search_pipeline.py --data ../shared/data/fer2013 --limit 3000
"""

import argparse
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from fer_classic import load_dataset
from fer_classic.data import DEFAULT_DATASET
from fer_classic.estimators import CanonicalOrderClassifier
from fer_classic.evaluation import classification_metrics, format_metrics
from fer_classic.exceptions import FerClassicError
from fer_classic.features import HOGFeatures, LBPFeatures
from fer_classic.labels import sort_labels
from fer_classic.workflow import split_train_test

#: Folds of the grid search's cross-validation: each class needs this many training images.
FOLDS = 3


def stratified_subset(y: np.ndarray, limit: int, minimum: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``limit`` rows of ``y``: each class in proportion, but at least ``minimum`` (or all it has).

    ``limit`` must be at least ``minimum`` times the number of classes.
    """
    classes, counts = np.unique(y, return_counts=True)
    share = limit * counts / counts.sum()
    quota = np.minimum(counts, np.maximum(minimum, np.floor(share).astype(int)))
    while quota.sum() > limit:  # the minimums taken from the classes furthest above their share
        over = quota > np.minimum(counts, minimum)
        quota[np.flatnonzero(over)[np.argmax((quota - share)[over])]] -= 1
    while quota.sum() < limit:  # the rest to the classes furthest below their share
        room = quota < counts
        quota[np.flatnonzero(room)[np.argmax((share - quota)[room])]] += 1
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n] for c, n in zip(classes, quota)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="dataset path (default: generated faces)")
    parser.add_argument("--limit", type=int, default=None,
                        help=f"use at most this many training images, stratified ({FOLDS} or more of each class for "
                             f"the {FOLDS}-fold search: {FOLDS} x the classes or more)")
    args = parser.parse_args()
    # Usage errors (exit 2, the option named) before anything is loaded.
    if args.data not in (None, DEFAULT_DATASET) and not Path(args.data).exists():
        parser.error(f"--data {args.data} does not exist; give a dataset folder or CSV, or leave --data out for "
                     "generated faces.")
    if args.limit is not None and args.limit < 1:  # -1 kept all images but one
        parser.error(f"--limit {args.limit}: give 1 or more training images, or leave --limit out for all of them.")

    try:
        train, test, _ = split_train_test(load_dataset(args.data))
    except FerClassicError as exc:  # a dataset that cannot be read: its one line
        raise SystemExit(str(exc)) from None
    classes, counts = np.unique(train.y, return_counts=True)
    n_classes = len(classes)
    if n_classes < 2 or counts.max() < FOLDS:  # else scikit-learn's traceback from inside the search
        have = ", ".join(f"{n} {c}" for c, n in zip(classes, counts))
        raise SystemExit(f"{train.name}: the {FOLDS}-fold search needs training images of 2 classes or more, "
                         f"{FOLDS} or more of one of them, but has {have}; add images.")
    if args.limit is not None and args.limit < FOLDS * n_classes:  # the classes known now
        parser.error(f"--limit {args.limit}: the {FOLDS}-fold search needs {FOLDS} training images of each of the "
                     f"{n_classes} classes; give {FOLDS * n_classes} or more.")
    if args.limit and args.limit < len(train):
        train = train.subset(stratified_subset(train.y, args.limit))

    pipeline = Pipeline([
        ("features", FeatureUnion([("hog", HOGFeatures()), ("lbp", LBPFeatures())])),
        ("scale", StandardScaler()),
        ("clf", CanonicalOrderClassifier(SVC(kernel="rbf", gamma="scale"))),
    ])
    grid = {
        "features__hog__pixels_per_cell": [(6, 6), (8, 8)],
        "clf__estimator__C": [1.0, 10.0],
    }
    search = GridSearchCV(pipeline, grid, cv=StratifiedKFold(FOLDS, shuffle=True, random_state=0), n_jobs=1)
    search.fit(train.X, train.y)

    print("cross-validated accuracy per candidate:")
    for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
        print(f"  {score:.4f}  {params}")
    print(f"best: {search.best_params_}")
    # Reported in the canonical order (angry ... neutral); classes_ are sorted, as scikit-learn sorts them.
    metrics = classification_metrics(test.y, search.predict(test.X), sort_labels(search.classes_))
    print(format_metrics(metrics))


if __name__ == "__main__":
    main()
