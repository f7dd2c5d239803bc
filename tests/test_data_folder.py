import cv2
import numpy as np
import pytest

from conftest import tree_digest, write_folder_dataset
from fer_classic.data import load_dataset, load_folder
from fer_classic.exceptions import DatasetError, EmptyClassError, SkippedFilesWarning, UnknownLabelError


def test_loads_split_layout(folder_dataset, tiny_faces):
    data = load_folder(folder_dataset)
    assert len(data) == len(tiny_faces)
    assert data.images.dtype == np.uint8 and data.image_shape == (48, 48)
    assert data.select("train").class_counts() == tiny_faces.select("train").class_counts()


def test_loads_unsplit_layout(tmp_path, tiny_faces):
    root = tmp_path / "flat"
    for i, (image, label) in enumerate(zip(tiny_faces.images, tiny_faces.labels)):
        (root / label).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / label / f"{i}.png"), image)
    data = load_folder(root)
    assert set(data.splits) == {""} and len(data) == len(tiny_faces)


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"])
def test_reads_every_supported_extension(tmp_path, tiny_faces, ext):
    subset = tiny_faces.subset(slice(0, None, 8))
    data = load_folder(write_folder_dataset(tmp_path / "d", subset, ext=ext))
    assert len(data) == len(subset)


def test_folder_spellings_map_to_canonical_labels(tmp_path, tiny_faces):
    names = {"angry": "Anger", "happy": "happiness", "surprise": "surprised", "fear": "Fearful",
             "disgust": "disgusted", "sad": "sadness", "neutral": "NEUTRAL"}
    data = load_folder(write_folder_dataset(tmp_path / "d", tiny_faces, names=names))
    assert data.classes == tiny_faces.classes


def test_numbered_folders_need_and_use_a_label_map(tmp_path, tiny_faces):
    ids = {label: str(i) for i, label in enumerate(tiny_faces.classes)}
    root = write_folder_dataset(tmp_path / "d", tiny_faces, names=ids)
    with pytest.raises(UnknownLabelError, match="label map"):
        load_folder(root)
    data = load_folder(root, label_map={v: k for k, v in ids.items()})
    assert data.classes == tiny_faces.classes


def test_color_and_large_images_become_gray_of_the_chosen_size(tmp_path):
    folder = tmp_path / "d" / "happy"
    folder.mkdir(parents=True)
    color = np.zeros((120, 90, 3), np.uint8)
    color[..., 2] = 200
    cv2.imwrite(str(folder / "a.png"), color)
    cv2.imwrite(str(tmp_path / "d" / "happy" / "b.png"), color[..., 0])
    (tmp_path / "d" / "sad").mkdir()
    cv2.imwrite(str(tmp_path / "d" / "sad" / "c.png"), color)
    data = load_folder(tmp_path / "d", size=32)
    assert data.images.shape == (3, 32, 32)
    assert 55 <= data.images[0].mean() <= 65  # red at 200 → gray 0.299 * 200


def test_class_order_does_not_depend_on_folder_order(tmp_path, tiny_faces):
    # Folders 0..6 list the classes in reverse canonical order.
    reverse = {label: str(i) for i, label in enumerate(reversed(tiny_faces.classes))}
    root = write_folder_dataset(tmp_path / "d", tiny_faces, names=reverse)
    data = load_folder(root, label_map={v: k for k, v in reverse.items()})
    assert data.classes == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_fer2013_file_prefixes_fill_usages(tmp_path, tiny_faces):
    root = tmp_path / "fer"
    for i, image in enumerate(tiny_faces.images[:6]):
        split, prefix = ("train", "Training") if i < 2 else ("test", "PublicTest" if i < 4 else "PrivateTest")
        (root / split / "happy").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / split / "happy" / f"{prefix}_{i}.jpg"), image)
    data = load_folder(root)
    assert len(data.select("PublicTest")) == 2 and len(data.select("PrivateTest")) == 2
    assert len(data.select("test")) == 4


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no sub-folders"):
        load_folder(tmp_path / "empty")


def test_folder_without_labels_names_the_folder(tmp_path):
    (tmp_path / "d" / "holiday").mkdir(parents=True)
    with pytest.raises(UnknownLabelError, match="holiday"):
        load_folder(tmp_path / "d")


def test_class_folder_without_images_is_an_error(folder_dataset):
    (folder_dataset / "train" / "contempt").mkdir()
    with pytest.raises(EmptyClassError, match="contempt"):
        load_folder(folder_dataset)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_corrupt_images_are_skipped_counted_and_kept(folder_dataset, tiny_faces, content):
    bad = folder_dataset / "train" / "happy" / "zz_bad.jpg"
    bad.write_bytes(content)
    with pytest.warns(SkippedFilesWarning, match="1 of"):
        data = load_folder(folder_dataset)
    assert len(data) == len(tiny_faces)
    assert [s for s, _ in data.skipped] == [str(bad)]
    assert bad.read_bytes() == content


def test_loading_never_changes_input_files(folder_dataset):
    (folder_dataset / "train" / "sad" / "broken.png").write_bytes(b"junk")
    before = tree_digest(folder_dataset)
    with pytest.warns(SkippedFilesWarning):
        load_folder(folder_dataset)
    assert tree_digest(folder_dataset) == before


def test_class_whose_images_are_all_corrupt_is_an_error(tmp_path, tiny_faces):
    root = write_folder_dataset(tmp_path / "d", tiny_faces.select("train"))
    for path in (root / "train" / "fear").iterdir():
        path.write_bytes(b"junk")
    with pytest.raises(EmptyClassError, match="fear"):
        load_folder(root)
