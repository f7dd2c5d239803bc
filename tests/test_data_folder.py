import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import tree_digest, write_folder_dataset
from fer_classic.data import decode_image, load_dataset, load_folder, read_image
from fer_classic.exceptions import (
    DatasetError,
    DegenerateImageWarning,
    EmptyClassError,
    LabelMergeWarning,
    SkippedFilesWarning,
    UnknownLabelError,
)


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


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".pbm",
                                 ".jp2", ".ras"])
def test_reads_every_supported_extension(tmp_path, tiny_faces, ext):
    subset = tiny_faces.subset(slice(0, None, 8))
    data = load_folder(write_folder_dataset(tmp_path / "d", subset, ext=ext))
    assert len(data) == len(subset)


def _save_with_pillow(path, image, **kwargs):
    Image.fromarray(image).save(path, **kwargs)


def test_reads_gif(tmp_path, tiny_faces):
    # OpenCV's GIF writer wants colour input, so Pillow writes these.
    subset = tiny_faces.subset(slice(0, None, 8))
    for i, (image, label) in enumerate(zip(subset.images, subset.labels)):
        (tmp_path / "d" / label).mkdir(parents=True, exist_ok=True)
        _save_with_pillow(tmp_path / "d" / label / f"{i}.gif", image)
    data = load_folder(tmp_path / "d")
    order = [int(Path(source).stem) for source in data.sources]
    np.testing.assert_array_equal(data.images, subset.images[order])  # gray palette: lossless


@pytest.mark.parametrize("transparency", [None, 0])
def test_gif_is_decoded_by_pillow_where_opencv_cannot(tmp_path, monkeypatch, transparency):
    """OpenCV reads GIFs from 4.12 on; before, its None made every GIF undecodable."""
    rng = np.random.default_rng(0)
    gif = Image.fromarray(rng.integers(0, 4, (6, 5), dtype=np.uint8), mode="P")
    gif.putpalette([10, 20, 30, 200, 100, 0, 0, 0, 255, 255, 255, 255])
    gif.save(tmp_path / "face.gif", **({} if transparency is None else {"transparency": transparency}))
    # BGR, or BGRA where the GIF has transparency: what OpenCV >= 4.12 gives.
    with Image.open(tmp_path / "face.gif") as saved:
        pixels = np.array(saved.convert("RGB" if transparency is None else "RGBA"))
    pixels = pixels[..., [2, 1, 0] if transparency is None else [2, 1, 0, 3]]
    by_opencv = cv2.imdecode(np.fromfile(tmp_path / "face.gif", np.uint8), cv2.IMREAD_UNCHANGED)
    if by_opencv is not None:
        np.testing.assert_array_equal(by_opencv, pixels)
    imdecode = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda buf, flags: None if bytes(buf[:3]) == b"GIF" else imdecode(buf, flags))
    np.testing.assert_array_equal(decode_image(tmp_path / "face.gif"), pixels)


@pytest.mark.parametrize("fmt, name", [("GIF", "face.png"), ("BMP", "face.jpg"), ("PNG", "face.tif")])
def test_format_comes_from_the_content_not_the_suffix(tmp_path, tiny_faces, fmt, name):
    (tmp_path / "d" / "happy").mkdir(parents=True)
    _save_with_pillow(tmp_path / "d" / "happy" / name, tiny_faces.images[0], format=fmt)
    np.testing.assert_array_equal(load_folder(tmp_path / "d").images[0], tiny_faces.images[0])


_ASYMMETRIC = np.random.default_rng(3).integers(0, 256, (48, 48), dtype=np.uint8)


@pytest.mark.parametrize("fmt", ["TIFF", "JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("orientation, turn", [(3, 2), (6, -1)])
def test_the_orientation_is_applied_once_in_every_format(tmp_path, fmt, orientation, turn):
    # OpenCV's TIFF decoder turns the image itself: turning it again rotated TIFFs twice (upside down, sideways).
    stored = np.zeros((8, 16), np.uint8)
    stored[:, :4] = 255  # a bright band on the stored left edge
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"face.{fmt.lower()}"
    _save_with_pillow(path, stored, format=fmt, exif=exif, **({"quality": 100} if fmt == "JPEG" else {}))
    upright, expected = decode_image(path), np.rot90(stored, turn)
    upright = upright if upright.ndim == 2 else upright[..., 0]  # OpenCV decodes WebP as BGR
    assert upright.shape == expected.shape
    assert np.abs(upright.astype(int) - expected).mean() < 10


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_pillow_does(tmp_path, orientation):
    (tmp_path / "d" / "happy").mkdir(parents=True)
    path = tmp_path / "d" / "happy" / "phone.png"
    exif = Image.Exif()
    exif[0x0112] = orientation
    _save_with_pillow(path, _ASYMMETRIC, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    np.testing.assert_array_equal(load_folder(tmp_path / "d").images[0], expected)


def test_sideways_phone_jpeg_is_read_upright(tmp_path):
    # Stored 64 wide and 32 high, EXIF orientation 6 (rotate 90 degrees clockwise): upright it is 32x64.
    image = np.zeros((32, 64), np.uint8)
    image[:, :8] = 255  # a bright band on the stored left edge ends up on top
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    _save_with_pillow(path, image, exif=exif, quality=95)
    upright = decode_image(path)
    assert upright.shape == (64, 32) and upright[:8].mean() > 200 and upright[-8:].mean() < 50


def test_nested_subfolders_belong_to_their_label_folder(tmp_path, tiny_faces):
    images = tiny_faces.images[:3]
    for rel, image in zip(["happy/b.png", "happy/a/z.png", "happy/a/deeper/y.png"], images):
        (tmp_path / "d" / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "d" / rel), image)
    data = load_folder(tmp_path / "d")
    assert [Path(s).relative_to(tmp_path / "d").as_posix() for s in data.sources] == [
        "happy/a/deeper/y.png", "happy/a/z.png", "happy/b.png"]
    assert set(data.labels) == {"happy"}


def test_a_label_first_tree_with_split_sub_folders_is_refused_naming_them(tmp_path, tiny_faces):
    # ROOT/<label>/{train,test}/ was one unsplit set: its test images were trained on.
    for rel, image in zip(["happy/train/a.png", "happy/test/b.png", "sad/train/c.png"], tiny_faces.images):
        (tmp_path / "d" / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "d" / rel), image)
    with pytest.raises(DatasetError, match=r"3 sub-folder\(s\) of label folders .* named as splits: .*happy/train/ "
                                           r"\(1 image\(s\)\).*Arrange the tree as .*/<split>/<label>/"):
        load_folder(tmp_path / "d")


def test_a_sub_folder_named_as_another_label_is_warned(tmp_path, tiny_faces):
    # neutral/contempt/*.png became neutral unsaid.
    for rel, image in zip(["neutral/contempt/a.png", "neutral/b.png", "happy/c.png"], tiny_faces.images):
        (tmp_path / "d" / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "d" / rel), image)
    with pytest.warns(LabelMergeWarning, match=r"neutral/contempt/ \(1 image\(s\), named contempt, read as neutral\)"):
        data = load_folder(tmp_path / "d")
    assert sorted(data.labels) == ["happy", "neutral", "neutral"]


def test_linked_folders_are_not_entered(tmp_path, tiny_faces):
    cv2.imwrite(str(tmp_path / "elsewhere.png"), tiny_faces.images[0])
    (tmp_path / "d" / "happy").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "d" / "happy" / "a.png"), tiny_faces.images[1])
    (tmp_path / "d" / "happy" / "loop").symlink_to(tmp_path / "d")
    (tmp_path / "d" / "happy" / "odd.png").symlink_to(tmp_path, target_is_directory=True)
    with pytest.warns(SkippedFilesWarning, match="odd.png"):  # a linked folder named like an image
        data = load_folder(tmp_path / "d")
    assert [Path(s).name for s in data.sources] == ["a.png"]


@pytest.mark.parametrize("target", ["happy", "happy/nested"])
def test_a_label_folder_linked_to_another_is_refused_naming_both(tmp_path, tiny_faces, target):
    # ln -s ROOT/happy ROOT/sad gave the same files the labels happy and sad, unsaid.
    for rel, image in zip(["happy/a.png", "happy/nested/b.png", "angry/c.png"], tiny_faces.images):
        (tmp_path / "d" / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "d" / rel), image)
    (tmp_path / "d" / "sad").symlink_to(tmp_path / "d" / target, target_is_directory=True)
    how = "are one folder" if target == "happy" else "lies inside label folder"
    with pytest.raises(DatasetError, match=f" {how}.*, through a link.*Remove the link") as info:
        load_folder(tmp_path / "d")
    assert str(tmp_path / "d" / "sad") in str(info.value) and str(tmp_path / "d" / "happy") in str(info.value)


def test_a_linked_folder_of_images_is_named_as_not_entered(tmp_path, tiny_faces):
    (tmp_path / "outside").mkdir()
    cv2.imwrite(str(tmp_path / "outside" / "b.png"), tiny_faces.images[0])
    (tmp_path / "d" / "happy").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "d" / "happy" / "a.png"), tiny_faces.images[1])
    (tmp_path / "d" / "happy" / "more").symlink_to(tmp_path / "outside")
    with pytest.warns(SkippedFilesWarning, match=r"1 linked folder\(s\) inside label folders .* were not entered.*"
                                                 r"happy/more"):
        data = load_folder(tmp_path / "d")
    assert [Path(s).name for s in data.sources] == ["a.png"]


def test_folders_folding_into_one_label_are_merged_with_a_warning_naming_both(tmp_path, tiny_faces):
    for name, image in zip(["Happy", "happiness", "sad"], tiny_faces.images):
        (tmp_path / "d" / name).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "d" / name / "0.png"), image)
    with pytest.warns(LabelMergeWarning, match="Happy, happiness -> happy"):
        data = load_folder(tmp_path / "d")
    assert data.class_counts() == {"happy": 2, "sad": 1}


@pytest.mark.parametrize("n_bad, shown, more", [(3, 3, None), (20, 20, None), (25, 20, "and 5 more")])
def test_every_skipped_file_is_named_up_to_twenty(folder_dataset, n_bad, shown, more):
    bad = [folder_dataset / "train" / "happy" / f"zz_bad{i:02d}.jpg" for i in range(n_bad)]
    for path in bad:
        path.write_bytes(b"junk")
    with pytest.warns(SkippedFilesWarning) as record:
        data = load_folder(folder_dataset)
    message = str(record[0].message)
    assert sum(str(path) in message for path in bad) == shown
    assert (more in message) if more else ("more" not in message)
    assert [path for path, _ in data.skipped] == [str(p) for p in bad]  # the full list


def test_files_without_an_image_suffix_are_counted_and_named(folder_dataset):
    notes = folder_dataset / "train" / "sad" / "notes.txt"
    notes.write_text("not a face")
    with pytest.warns(SkippedFilesWarning, match=f"1 file\\(s\\) .* no image suffix .*{notes.name}"):
        load_folder(folder_dataset)


def test_a_link_to_itself_is_named_not_a_crash(folder_dataset):
    (folder_dataset / "train" / "sad" / "self").symlink_to("self")  # stat fails with ELOOP
    with pytest.warns(SkippedFilesWarning, match="no image suffix .*self"):
        data = load_folder(folder_dataset)
    assert len(data) > 0


@pytest.mark.parametrize("shape", [(1, 1), (8, 8), (48, 6)])
def test_tiny_or_elongated_images_warn_naming_the_file(tmp_path, tiny_faces, shape):
    root = write_folder_dataset(tmp_path / "d", tiny_faces.subset(slice(0, 14)))
    tiny = root / "train" / "angry" / "tiny.png"
    cv2.imwrite(str(tiny), np.full(shape, 128, np.uint8))
    with pytest.warns(DegenerateImageWarning, match=f"{tiny}.*{shape[1]}x{shape[0]} stretched to 48x48"):
        load_folder(root)


def test_read_image_warns_on_a_stretched_image(tmp_path):
    path = tmp_path / "dot.png"
    cv2.imwrite(str(path), np.zeros((1, 1), np.uint8))
    with pytest.warns(DegenerateImageWarning, match="dot.png"):
        read_image(path)


def test_usual_images_do_not_warn(folder_dataset, recwarn):
    load_folder(folder_dataset, size=96)  # 48 -> 96 is 2x: fine
    assert not [w for w in recwarn if issubclass(w.category, DegenerateImageWarning)]


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


@pytest.mark.parametrize("names", [("Training", "PublicTest", "PrivateTest"),
                                   ("training", "publictest", "PRIVATETEST")])
def test_split_folders_named_as_fer2013_usages_are_splits_with_their_usages(tmp_path, tiny_faces, recwarn, names):
    # Only Training/ was read; PublicTest/ and PrivateTest/ were "not read" and to be moved into a label folder.
    for i, (name, label) in enumerate([(n, label) for n in names for label in ("happy", "sad")]):
        (tmp_path / "d" / name / label).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "d" / name / label / f"{i}.png"), tiny_faces.images[i])
    data = load_folder(tmp_path / "d")
    assert sorted(set(zip(data.splits, data.usages))) == [
        ("test", "PrivateTest"), ("test", "PublicTest"), ("train", "Training")]
    assert len(data.select("PublicTest")) == 2 and len(data.select("test")) == 4
    assert not recwarn.list  # nothing unread, and PublicTest/happy and PrivateTest/happy are not "merged"


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


def test_load_dataset_parses_a_label_map_string(tmp_path, tiny_faces):
    root = write_folder_dataset(tmp_path / "d", tiny_faces.subset(slice(0, 16)), names={"angry": "0", "disgust": "1"})
    data = load_dataset(root, label_map="0=angry,1=disgust")
    assert set(data.labels) == {"angry", "disgust"}


def test_threaded_loading_leaves_warning_filters_as_they_were(folder_dataset):
    (folder_dataset / "train" / "happy" / "zz_bad.png").write_bytes(b"junk")
    before = list(warnings.filters)
    with pytest.warns(SkippedFilesWarning, match="zz_bad.png"):
        load_folder(folder_dataset, n_jobs=4)  # 113 files: decoded by 4 threads
    assert warnings.filters == before


@pytest.mark.parametrize("unread", [["angry"], ["train/stray.png"], ["stray.png"], ["angry", "test/stray.png"]])
def test_what_a_split_tree_does_not_read_is_warned_and_named(tmp_path, folder_dataset, tiny_faces, unread):
    for name in unread:
        if name.endswith(".png"):
            cv2.imwrite(str(folder_dataset / name), tiny_faces.images[0])
        else:
            write_folder_dataset(tmp_path / "extra", tiny_faces.subset(tiny_faces.labels == name))
            (tmp_path / "extra" / "train" / name).rename(folder_dataset / name)
    with pytest.warns(SkippedFilesWarning, match=f"{len(unread)} folder\\(s\\) and image\\(s\\) under") as record:
        data = load_folder(folder_dataset)
    message = next(str(w.message) for w in record if "are not read" in str(w.message))
    assert all(str(folder_dataset / name) in message for name in unread)
    assert len(data) == len(tiny_faces)


def test_a_loose_image_beside_label_folders_is_warned(tmp_path, tiny_faces):
    root = write_folder_dataset(tmp_path / "d", tiny_faces.select("train"))
    for split_folder in list(root.iterdir()):  # train/<label> -> <label>
        for label_folder in split_folder.iterdir():
            label_folder.rename(root / label_folder.name)
        split_folder.rmdir()
    cv2.imwrite(str(root / "loose.png"), tiny_faces.images[0])
    with pytest.warns(SkippedFilesWarning, match=f"{root / 'loose.png'}"):
        load_folder(root)


@pytest.mark.parametrize("reader", ["load_folder", "describe_dataset"])
def test_a_label_map_mapping_is_checked_as_its_text_is(tmp_path, reader):
    # Only a text map was parsed here: a mapping naming one folder twice let its first key win silently.
    import fer_classic.data as data

    (tmp_path / "happy").mkdir()
    with pytest.raises(UnknownLabelError, match="'happy' is given twice"):
        getattr(data, reader)(tmp_path, label_map={"Happy": "sad", "happy": "angry"})


@pytest.mark.parametrize("split_tree", [False, True])
def test_a_macos_zip_folder_beside_the_label_folders_is_skipped(tmp_path, tiny_faces, split_tree, recwarn):
    # A zip made on a Mac ships __MACOSX/ (AppleDouble ._ files mirroring the tree) beside the label folders.
    faces = tiny_faces.select("train")
    root = write_folder_dataset(tmp_path / "d", faces)
    if not split_tree:
        root = root / "train"
    (root / "__MACOSX" / "happy").mkdir(parents=True)
    (root / "__MACOSX" / "happy" / "._0000.png").write_bytes(b"\0\5\26\7")
    data = load_dataset(root)
    assert len(data) == len(faces)
    assert not [w for w in recwarn if "__MACOSX" in str(w.message)]


def test_the_folder_above_a_class_folder_tree_is_told_to_give_the_tree_itself(tmp_path, folder_dataset):
    # archive/fer2013/train/happy/...: "Unknown emotion label 'fer2013' ... pass a label map" was wrong advice.
    folder_dataset.rename(tmp_path / "fer2013")
    (tmp_path / "archive").mkdir()
    (tmp_path / "fer2013").rename(tmp_path / "archive" / "fer2013")
    with pytest.raises(DatasetError, match=r"fer2013 holds a class-folder dataset .* give --data .*fer2013 itself"):
        load_dataset(tmp_path / "archive")


def test_a_class_folder_tree_beside_the_label_folders_is_told_to_move_not_to_be_read_alone(folder_dataset):
    # happy/, sad/, old/happy/: "give --data .../old itself" trained on the stray copy alone.
    for label in ("happy", "sad"):
        (folder_dataset / "train" / "old" / label).mkdir(parents=True)
        face = next((folder_dataset / "train" / label).iterdir())
        (folder_dataset / "train" / "old" / label / face.name).write_bytes(face.read_bytes())
    with pytest.raises(DatasetError, match=r"old holds a class-folder dataset .*; move it out of .*train, or give "
                                           r"--data .*old to read it alone\.$"):
        load_folder(folder_dataset / "train")
