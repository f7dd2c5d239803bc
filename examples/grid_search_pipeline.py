"""fer-classic's transformers and classifiers inside a user-built scikit-learn pipeline.

HOG and LBP features are concatenated with a FeatureUnion, scaled, and fed to
an RBF SVM whose classes follow the canonical emotion order; GridSearchCV
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
from fer_classic.features import HOGFeatures, LBPFeatures
from fer_classic.workflow import split_train_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="dataset path (default: generated faces)")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many training images (1 or more)")
    args = parser.parse_args()
    # Usage errors (exit 2, the option named) before anything is loaded.
    if args.data not in (None, DEFAULT_DATASET) and not Path(args.data).exists():
        parser.error(f"--data {args.data} does not exist; give a dataset folder or CSV, or leave --data out for "
                     "generated faces.")
    if args.limit is not None and args.limit < 1:  # -1 kept all images but one
        parser.error(f"--limit {args.limit}: give 1 or more training images, or leave --limit out for all of them.")

    train, test, _ = split_train_test(load_dataset(args.data))
    if args.limit and args.limit < len(train):
        train = train.subset(np.random.default_rng(0).permutation(len(train))[: args.limit])

    pipeline = Pipeline([
        ("features", FeatureUnion([("hog", HOGFeatures()), ("lbp", LBPFeatures())])),
        ("scale", StandardScaler()),
        ("clf", CanonicalOrderClassifier(SVC(kernel="rbf", gamma="scale"))),
    ])
    grid = {
        "features__hog__pixels_per_cell": [(6, 6), (8, 8)],
        "clf__estimator__C": [1.0, 10.0],
    }
    search = GridSearchCV(pipeline, grid, cv=StratifiedKFold(3, shuffle=True, random_state=0), n_jobs=1)
    search.fit(train.X, train.y)

    print("cross-validated accuracy per candidate:")
    for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
        print(f"  {score:.4f}  {params}")
    print(f"best: {search.best_params_}")
    metrics = classification_metrics(test.y, search.predict(test.X), search.classes_)
    print(format_metrics(metrics))


if __name__ == "__main__":
    main()
