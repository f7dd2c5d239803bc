import dataclasses

import numpy as np
import pytest

from fer_classic.data import DEFAULT_DATASET, FaceDataset, load_dataset, make_synthetic_faces
from fer_classic.exceptions import DatasetError, DatasetFormatError, UnknownLabelError


def test_synthetic_default_is_seeded_and_has_seven_classes():
    a, b = make_synthetic_faces(3, 1, random_state=4), make_synthetic_faces(3, 1, random_state=4)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.classes == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_synthetic_seeds_differ():
    assert not np.array_equal(make_synthetic_faces(2, 0, random_state=0).images,
                              make_synthetic_faces(2, 0, random_state=1).images)


def test_load_dataset_without_path_is_the_default():
    assert load_dataset(None).name == load_dataset(DEFAULT_DATASET).name


def test_select_unknown_split_lists_the_available_ones(tiny_faces):
    with pytest.raises(DatasetError, match="its splits are: test, train"):
        tiny_faces.select("val")


def test_select_unknown_split_lists_splits_apart_from_usages(tiny_faces):
    # FER2013's CSV was listed as "PrivateTest, PublicTest, Training, test, train".
    usages = np.where(tiny_faces.splits == "train", "Training", "PublicTest").astype(object)
    with pytest.raises(DatasetError, match=r"its splits are: test, train \(FER2013 usages: Training, PublicTest\)\.$"):
        dataclasses.replace(tiny_faces, usages=usages).select("val")


def test_a_usage_selects_its_images_when_no_split_is_given(tiny_faces):
    # A folder holding FER2013's Training_* files only: no split, their names' usage.
    n = len(tiny_faces)
    unsplit = FaceDataset(tiny_faces.images, tiny_faces.labels, np.full(n, "", dtype=object),
                          np.full(n, "Training", dtype=object), tiny_faces.sources)
    assert len(unsplit.select("Training")) == len(unsplit.select("train")) == n
    with pytest.raises(DatasetError, match=r"its splits are: Training\."):
        unsplit.select("test")


def test_a_training_image_named_for_a_test_usage_is_no_test_image(tiny_faces):
    # A train/ folder holding PublicTest_* files (and no test/ folder): they were selected as train and as test,
    # so fit scored the model on images it was trained on.
    n = len(tiny_faces)
    usages = np.where(np.arange(n) % 2, "PublicTest", "Training").astype(object)
    data = FaceDataset(tiny_faces.images, tiny_faces.labels, np.full(n, "train", dtype=object), usages,
                       tiny_faces.sources)
    assert len(data.select("train")) == n and not data.has_split("test")


def test_a_training_image_named_for_a_test_usage_is_not_of_that_usage(tiny_faces):
    # A stray train/happy/PrivateTest_*.png of a Kaggle layout: --cv publictest trained on it and scored it.
    n = len(tiny_faces)
    usages = np.where(tiny_faces.splits == "train", "Training", "PrivateTest").astype(object)
    usages[0] = "PrivateTest"
    assert tiny_faces.splits[0] == "train"
    data = FaceDataset(tiny_faces.images, tiny_faces.labels, tiny_faces.splits, usages, tiny_faces.sources)
    private = data.select("PrivateTest")
    assert tiny_faces.sources[0] not in set(private.sources)
    assert len(private) == len(data.select("test")) and len(data.select("train")) + len(private) == n


def test_public_test_images_in_a_val_folder_are_of_public_test(tiny_faces):
    # A common FER2013 export: train/Training_*, val/PublicTest_*, test/PrivateTest_*.
    test = tiny_faces.splits == "test"
    public = test & (np.arange(len(tiny_faces)) % 2 == 0)
    splits = np.where(public, "val", tiny_faces.splits).astype(object)
    usages = np.select([~test, public], ["Training", "PublicTest"], "PrivateTest").astype(object)
    data = FaceDataset(tiny_faces.images, tiny_faces.labels, splits, usages, tiny_faces.sources)
    assert set(data.select("PublicTest").sources) == set(data.select("val").sources)
    assert len(data.select("PublicTest")) == public.sum() and len(data.select("PrivateTest")) == (test & ~public).sum()


@pytest.mark.parametrize("train, test", [("Train", "Test"), ("TRAINING", "testing"), (" train ", "Test ")])
def test_split_spellings_are_made_canonical(tiny_faces, train, test):
    spelled = tiny_faces.with_splits(np.where(tiny_faces.splits == "train", train, test).astype(object))
    np.testing.assert_array_equal(spelled.splits, tiny_faces.splits)


def test_a_usage_given_as_the_split_fills_the_usage(tiny_faces):
    spelled = tiny_faces.with_splits(np.where(tiny_faces.splits == "train", "Training", "PrivateTest").astype(object))
    assert len(spelled.select("PrivateTest")) == len(tiny_faces.select("test"))


def test_an_unknown_split_is_refused(tiny_faces):
    with pytest.raises(DatasetFormatError, match="splits value 'holdout' is not train"):
        tiny_faces.with_splits(np.full(len(tiny_faces), "holdout", dtype=object))


@pytest.mark.parametrize("spell", [str.upper, {"happy": "happiness", "angry": "anger"}.get])
def test_label_spellings_are_made_canonical(tiny_faces, spell):
    labels = np.array([spell(label) or label for label in tiny_faces.labels], dtype=object)
    spelled = FaceDataset(tiny_faces.images, labels, tiny_faces.splits, tiny_faces.usages, tiny_faces.sources)
    np.testing.assert_array_equal(spelled.labels, tiny_faces.labels)


@pytest.mark.parametrize("labels", [[3], ["pain"]])
def test_a_label_outside_the_vocabulary_is_refused(tiny_faces, labels):
    values = np.resize(np.array(labels, dtype=object), len(tiny_faces))
    with pytest.raises(UnknownLabelError, match=f"FaceDataset labels: {labels[0]!r} is not an emotion label"):
        FaceDataset(tiny_faces.images, values, tiny_faces.splits, tiny_faces.usages, tiny_faces.sources)


def test_an_empty_dataset_path_is_refused_not_read_as_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError, match="The dataset path is empty"):
        load_dataset("")


@pytest.mark.parametrize("option, value, match", [
    ("cropper", "haar", "cropper must be a fitted fer_classic.detection.FaceCropper or None; got str"),
    ("label_map", [("0", "happy")], "label_map must be a mapping .* got list"),
])
def test_options_of_the_wrong_type_are_named(tmp_path, option, value, match):
    (tmp_path / "happy").mkdir()
    with pytest.raises(TypeError, match=match):
        load_dataset(tmp_path, **{option: value})


def test_fingerprint_changes_with_a_pixel(tiny_faces):
    images = tiny_faces.images.copy()
    images[0, 0, 0] ^= 1
    changed = FaceDataset(images, tiny_faces.labels, tiny_faces.splits, tiny_faces.usages, tiny_faces.sources)
    assert changed.fingerprint() != tiny_faces.fingerprint()


def test_rejects_non_uint8_images():
    with pytest.raises(DatasetError, match="uint8"):
        FaceDataset(np.zeros((1, 4, 4)), *(np.array(["x"], dtype=object),) * 4)


def test_unsupported_file_type_is_reported(tmp_path):
    path = tmp_path / "faces.txt"
    path.write_text("x")
    with pytest.raises(DatasetError, match="neither a folder nor a .csv"):
        load_dataset(path)
