"""The scripts in examples/ run end to end on small data."""

import re
import runpy
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, write_csv_dataset
from fer_classic.data import make_synthetic_faces


@pytest.mark.parametrize("script, args", [
    ("library_workflow.py", []),
    ("grid_search_pipeline.py", ["--limit", "280"]),
])
def test_example_runs(script, args):
    result = subprocess.run([sys.executable, str(REPO / "examples" / script), *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout


@pytest.mark.parametrize("script, args, message", [
    ("grid_search_pipeline.py", ["--limit", "-1"], "--limit -1: give 1 or more training images"),
    ("grid_search_pipeline.py", ["--limit", "0"], "--limit 0: give 1 or more training images"),
    ("grid_search_pipeline.py", ["--data", "{tmp}/missing"], "--data .*missing does not exist"),
    ("library_workflow.py", ["--data", "{tmp}/missing"], "--data .*missing does not exist"),
    ("library_workflow.py", ["--features", "hogg"], "--features hogg: Unknown features hogg; choose from .*hog, lbp"),
    ("library_workflow.py", ["--features", "hog+"], r"--features hog\+: Features 'hog\+' hold an empty name"),
    ("library_workflow.py", ["--clf", "nope"], "--clf nope: unknown classifier; choose from svm, linear-svm"),
    ("grid_search_pipeline.py", ["--limit", "1"], "--limit 1: the 3-fold search needs 3 training images of each of "
                                                  "the 7 classes; give 21 or more"),
    ("grid_search_pipeline.py", ["--limit", "10"], "--limit 10: the 3-fold search needs 3 training images"),
], ids=["negative-limit", "zero-limit", "grid-missing-data", "workflow-missing-data", "workflow-unknown-features",
        "workflow-empty-feature-name", "workflow-unknown-clf", "limit-one", "limit-below-the-folds"])
def test_bad_arguments_are_usage_errors_without_a_traceback(tmp_path, monkeypatch, capsys, script, args, message):
    # Run in this process (argparse's exit 2 is a SystemExit): a subprocess per case took 2.5 s of imports.
    monkeypatch.setattr(sys, "argv", [script, *(a.format(tmp=tmp_path) for a in args)])
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    with pytest.raises(SystemExit) as ended:
        runpy.run_path(str(REPO / "examples" / script), run_name="__main__")
    assert ended.value.code == 2
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize("script", ["grid_search_pipeline.py", "library_workflow.py"])
def test_a_dataset_that_cannot_be_read_is_its_one_line_without_a_traceback(tmp_path, script):
    """A --data folder without class folders was a DatasetError traceback."""
    (tmp_path / "photos").mkdir()
    result = subprocess.run([sys.executable, str(REPO / "examples" / script), "--data", str(tmp_path / "photos")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Dataset folder {tmp_path / 'photos'} has no sub-folders; expected {tmp_path / 'photos'}/<label>/*.jpg or "
        f"{tmp_path / 'photos'}/<split>/<label>/*.jpg."]


def test_the_grid_search_limit_is_a_stratified_subset_with_every_class_for_the_folds():
    """It was the first LIMIT of a permutation: classes missing or below the 3 folds (warnings, a crash at 1)."""
    sys.path.insert(0, str(REPO / "examples"))
    try:
        from grid_search_pipeline import stratified_subset
    finally:
        sys.path.remove(str(REPO / "examples"))
    y = np.array(["happy"] * 1000 + ["disgust"] * 10 + ["sad"] * 40)
    counts = {limit: dict(zip(*np.unique(y[stratified_subset(y, limit)], return_counts=True)))
              for limit in (9, 100, 500)}
    assert counts == {9: {"disgust": 3, "happy": 3, "sad": 3}, 100: {"disgust": 3, "happy": 94, "sad": 3},
                      500: {"disgust": 5, "happy": 476, "sad": 19}}


def test_hog_sift_grid_file_names_the_svm_parameters():
    from fer_classic.model_selection import load_grid
    grid = load_grid(REPO / "examples" / "grid_hog_sift.json", "hog+sift")
    assert set(grid) == {"clf__estimator__C", "clf__estimator__gamma"}


def _ended(monkeypatch, script, args):
    """What ``script`` exits with, run in this process with ``args``."""
    monkeypatch.setattr(sys, "argv", [script, *args])
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    with pytest.raises(SystemExit) as ended:
        runpy.run_path(str(REPO / "examples" / script), run_name="__main__")
    return ended.value.code


def test_grid_search_on_too_few_images_for_its_folds_is_one_line(tmp_path, monkeypatch):
    """2 training images a class were scikit-learn's 'n_splits=3 cannot be greater than ...' traceback."""
    data = write_csv_dataset(tmp_path / "fer2013.csv", make_synthetic_faces(2, 1, random_state=0))
    assert _ended(monkeypatch, "grid_search_pipeline.py", ["--data", str(data)]) == (
        f"{data}: the 3-fold search needs training images of 2 classes or more, 3 or more of one of them, but has "
        "2 angry, 2 disgust, 2 fear, 2 happy, 2 neutral, 2 sad, 2 surprise; add images.")


@pytest.mark.parametrize("features, clf, classes, message", [
    ("pca", "svm", None, r"--features pca --clf svm cannot be fit on the 14 training images of .*fer2013\.csv "
                         r"\(n_components=150 must be between 0 and min\(n_samples, n_features\)=14"),
    ("hog", "knn", ["happy", "sad"], r"--features hog --clf knn cannot be fit on the 4 training images of "
                                     r".*fer2013\.csv \(Expected n_neighbors <= n_samples_fit"),
], ids=["pca-components-above-the-images", "knn-neighbours-above-the-images"])
def test_the_workflow_on_too_few_images_for_its_features_or_classifier_is_one_line(tmp_path, monkeypatch, features,
                                                                                   clf, classes, message):
    """Too few images for PCA's 150 components (in fit) or k-NN's 7 neighbours (in predict) were tracebacks."""
    faces = make_synthetic_faces(2, 1, random_state=0)
    if classes:
        faces = faces.subset(np.flatnonzero(np.isin(faces.labels, classes)))
    data = write_csv_dataset(tmp_path / "fer2013.csv", faces)
    ended = _ended(monkeypatch, "library_workflow.py", ["--data", str(data), "--features", features, "--clf", clf])
    assert re.fullmatch(message + r".*\); give more images, or other --features / --clf\.", ended)


def test_the_workflow_refuses_test_classes_without_training_images(tmp_path, monkeypatch):
    """They were scored as errors the model could never avoid, where `fer-classic fit` refuses them."""
    faces = make_synthetic_faces(2, 1, random_state=0)
    faces = faces.subset(np.flatnonzero((faces.labels != "angry") | (faces.splits == "test")))
    data = write_csv_dataset(tmp_path / "fer2013.csv", faces)
    assert _ended(monkeypatch, "library_workflow.py", ["--data", str(data)]) == (
        f"{data}: test images of class(es) angry have no training images; add training images or remove those "
        "classes.")
