"""Checks on the real FER2013 under ../shared/data (skipped when it is absent)."""

import numpy as np
import pytest

from conftest import FER_FOLDER, FER_SAMPLE_CSV, requires_fer_csv, requires_fer_folder
from fer_classic import evaluate_model, fit_model, load_dataset

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def fer_folder():
    """The whole FER2013 folder, read once for the module (the tests only select from it)."""
    return load_dataset(FER_FOLDER)


@pytest.fixture(scope="module")
def fer_test(fer_folder):
    return fer_folder.select("test")


@requires_fer_folder
def test_fer_folder_counts(fer_test):
    assert len(fer_test) == 7178
    assert len(fer_test.select("PublicTest")) == 3589 and len(fer_test.select("PrivateTest")) == 3589
    assert fer_test.class_counts()["disgust"] == 111


@requires_fer_csv
def test_fer_sample_csv_usage_counts():
    data = load_dataset(FER_SAMPLE_CSV)
    sizes = len(data.select("train")), len(data.select("PublicTest")), len(data.select("PrivateTest"))
    assert sizes == (1600, 200, 200)


@requires_fer_folder
@requires_fer_csv
def test_csv_and_folder_give_the_same_label_to_the_same_picture(fer_test):
    csv_test = load_dataset(FER_SAMPLE_CSV).select("test")
    by_pixels = {image.tobytes(): label for image, label in zip(fer_test.images, fer_test.labels)}
    matched = [(by_pixels[im.tobytes()], lab) for im, lab in zip(csv_test.images, csv_test.labels)
               if im.tobytes() in by_pixels]
    assert len(matched) >= 380  # (near) every sample row is one of the folder's test pictures
    assert all(folder == csv for folder, csv in matched)


@requires_fer_folder
@requires_fer_csv
@pytest.mark.slow
def test_model_scores_the_same_pictures_alike_from_csv_and_folder(fer_folder, fer_test):
    train = fer_folder.select("train")
    model = fit_model(train.subset(slice(0, None, 10)), features="hog", clf="svm").model
    csv_test = load_dataset(FER_SAMPLE_CSV).select("test")
    in_csv = {image.tobytes() for image in csv_test.images}
    same_pictures = fer_test.subset(np.array([im.tobytes() in in_csv for im in fer_test.images]))
    csv_acc = evaluate_model(model, csv_test, split=None).metrics["accuracy"]
    folder_acc = evaluate_model(model, same_pictures, split=None).metrics["accuracy"]
    assert csv_acc == pytest.approx(folder_acc, abs=0.01)
    assert csv_acc > 1 / 7 + 0.1  # well above chance: labels mean the same thing in both formats


@requires_fer_folder
def test_a_reloaded_compact_hog_svm_gives_the_fitted_labels_on_fer2013_test(tmp_path, fer_folder, fer_test):
    from fer_classic import load_model
    from fer_classic.estimators._precomputed_svc import _exact_svm

    train = fer_folder.select("train")
    keep = np.concatenate([np.flatnonzero(train.labels == c)[:250] for c in train.classes])
    result = fit_model(train.subset(keep), features="hog", clf="svm", out=tmp_path / "m.joblib")
    assert hasattr(_exact_svm(result.model.pipeline[-1]), "support_codes_")
    fitted = result.model.pipeline.predict(fer_test.X)
    np.testing.assert_array_equal(load_model(result.path).pipeline.predict(fer_test.X), fitted)  # 0 of 7,178 differ
