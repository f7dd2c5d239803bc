"""The library equivalent of the CLI: load, fit, evaluate, save, load, predict.

Run::

    python examples/library_workflow.py                      # generated faces
    python examples/library_workflow.py --data ../shared/data/fer2013_sample.csv
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from fer_classic import load_dataset, load_model, make_pipeline, save_model
from fer_classic.data import DEFAULT_DATASET
from fer_classic.estimators import CLASSIFIERS
from fer_classic.exceptions import FerClassicError
from fer_classic.evaluation import classification_metrics, format_confusion_matrix, format_metrics
from fer_classic.features import parse_feature_names
from fer_classic.labels import sort_labels
from fer_classic.persistence import FERModel
from fer_classic.workflow import split_train_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="dataset path (default: generated faces)")
    parser.add_argument("--features", default="hog", help="feature names joined with '+' (default: %(default)s)")
    parser.add_argument("--clf", default="svm", help=f"one of {', '.join(CLASSIFIERS)} (default: %(default)s)")
    args = parser.parse_args()
    # Usage errors (exit 2, the option named) before loading.
    if args.data not in (None, DEFAULT_DATASET) and not Path(args.data).exists():
        parser.error(f"--data {args.data} does not exist; give a dataset folder or CSV, or leave --data out for "
                     "generated faces.")
    try:
        parse_feature_names(args.features)
    except ValueError as exc:
        parser.error(f"--features {args.features}: {exc}")
    if args.clf not in CLASSIFIERS:
        parser.error(f"--clf {args.clf}: unknown classifier; choose from {', '.join(CLASSIFIERS)}.")

    try:
        data = load_dataset(args.data)
        train, test, held_out = split_train_test(data)
    except FerClassicError as exc:  # a dataset that cannot be read: its one line
        raise SystemExit(str(exc)) from None
    print(data, "(test held out from train)" if held_out else "")
    unseen = sorted(set(test.classes) - set(train.classes))
    if unseen:  # as `fer-classic fit` refuses: the model could never predict them
        raise SystemExit(f"{data.name}: test images of class(es) {', '.join(unseen)} have no training images; "
                         "add training images or remove those classes.")

    try:
        pipeline = make_pipeline(args.features, args.clf).fit(train.X, train.y)
        predicted = pipeline.predict(test.X)  # k-NN finds too few neighbours only here
    except FerClassicError as exc:  # e.g. deep features whose weights are missing: its one line
        raise SystemExit(str(exc)) from None
    except ValueError as exc:  # scikit-learn's, e.g. more PCA components or k-NN neighbours than images
        raise SystemExit(f"--features {args.features} --clf {args.clf} cannot be fit on the {len(train)} training "
                         f"images of {data.name} ({exc}); give more images, or other --features / --clf.") from None
    # Reported in the canonical order (angry ... neutral); classes_ are sorted, as scikit-learn sorts them.
    metrics = classification_metrics(test.y, predicted, sort_labels(pipeline.classes_))
    print(format_metrics(metrics))
    print(format_confusion_matrix(metrics))

    model = FERModel.from_fitted(pipeline, train, features=args.features, clf=args.clf,
                                 metrics={"accuracy": metrics["accuracy"]})
    with tempfile.TemporaryDirectory() as folder:
        path = save_model(model, Path(folder) / "model.joblib")
        reloaded = load_model(path)
    assert np.array_equal(reloaded.predict(test.images), model.predict(test.images))
    kind, scores = reloaded.scores(test.images[:3])
    for label, row in zip(reloaded.predict(test.images[:3]), scores):
        print(f"{label:<9} {kind}:", {c: round(float(v), 3) for c, v in zip(reloaded.classes, row)})


if __name__ == "__main__":
    main()
