import numpy as np
import pytest

from fer_classic.data import DEFAULT_DATASET, FaceDataset, load_dataset, make_synthetic_faces
from fer_classic.exceptions import DatasetError


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


def test_a_usage_selects_its_images_when_no_split_is_given(tiny_faces):
    # A folder holding FER2013's Training_* files only: no split, their names' usage.
    n = len(tiny_faces)
    unsplit = FaceDataset(tiny_faces.images, tiny_faces.labels, np.full(n, "", dtype=object),
                          np.full(n, "Training", dtype=object), tiny_faces.sources)
    assert len(unsplit.select("Training")) == len(unsplit.select("train")) == n
    with pytest.raises(DatasetError, match=r"its splits are: Training\."):
        unsplit.select("test")


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
