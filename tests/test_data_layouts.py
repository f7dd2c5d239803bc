"""Downloaded dataset layouts, each from a tiny generated copy of its real file format."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import write_csv_dataset
from fer_classic.data import (
    detect_layout,
    load_affectnet,
    load_ckplus,
    load_dataset,
    load_ferplus,
    load_kdef,
    load_rafdb,
    make_synthetic_faces,
)
from fer_classic.exceptions import (
    DatasetError,
    DatasetFormatError,
    SkippedFilesWarning,
    SkippedRowsWarning,
    UnknownLabelError,
)


def _image(path, shape=(24, 24), value=120):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full(shape, value, np.uint8)
    image[::3] = 30  # some structure, so the encoders keep a real image
    assert cv2.imwrite(str(path), image)
    return path


def _text(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ------------------------------------------------------------------ RAF-DB


@pytest.fixture
def rafdb(tmp_path):
    root = tmp_path / "basic"
    _text(root / "EmoLabel" / "list_patition_label.txt",
          "train_00001.jpg 5\ntrain_00002.jpg 4\ntest_0001.jpg 1\ntest_0002.jpg 7\n")
    for name in ("train_00001", "train_00002", "test_0001", "test_0002"):
        _image(root / "Image" / "aligned" / f"{name}_aligned.jpg")
        _image(root / "Image" / "original" / f"{name}.jpg", shape=(40, 30))
    return tmp_path


def test_rafdb_labels_file_spelled_partition_is_read(rafdb):
    # Re-uploads correct RAF-DB's "patition": the folder was refused as the unknown emotion 'EmoLabel'.
    labels = rafdb / "basic" / "EmoLabel" / "list_patition_label.txt"
    labels = labels.rename(labels.with_name("list_partition_label.txt"))
    assert detect_layout(rafdb) == detect_layout(labels) == "rafdb"
    assert load_dataset(labels, size=12).splits.tolist() == ["train", "train", "test", "test"]


def test_rafdb_detected_labels_and_splits(rafdb):
    assert detect_layout(rafdb) == "rafdb"
    dataset = load_dataset(rafdb, size=12)
    assert dataset.labels.tolist() == ["sad", "happy", "surprise", "neutral"]
    assert dataset.splits.tolist() == ["train", "train", "test", "test"]
    assert dataset.sources[0].endswith("Image/aligned/train_00001_aligned.jpg")


def test_rafdb_with_an_empty_aligned_folder_reads_the_original_images(rafdb):
    shutil.rmtree(rafdb / "basic" / "Image" / "aligned")
    (rafdb / "basic" / "Image" / "aligned").mkdir()  # created, never unpacked
    assert load_dataset(rafdb, size=12).sources[0].endswith("Image/original/train_00001.jpg")


def test_rafdb_original_images_option(rafdb):
    dataset = load_dataset(rafdb, size=12, images="original")
    assert dataset.sources[0].endswith("Image/original/train_00001.jpg")


def test_rafdb_labels_file_path_accepted(rafdb):
    assert len(load_dataset(rafdb / "basic" / "EmoLabel" / "list_patition_label.txt", size=12)) == 4


@pytest.mark.parametrize("compound_folder", [False, True])
def test_rafdb_compound_set_is_named_as_such(rafdb, compound_folder):
    # Was "label '8' is not one of this layout's codes" at the first id above 7.
    labels = rafdb / "basic" / "EmoLabel" / "list_patition_label.txt"
    labels.write_text(labels.read_text() + "test_0003.jpg 11\n")
    root = rafdb / "basic"
    if compound_folder:  # ids 1..7 only: they would read as basic emotions without a word
        labels.write_text("train_00001.jpg 5\n")
        root = root.rename(rafdb / "compound")
    with pytest.raises(UnknownLabelError, match=r"looks like RAF-DB's compound set .* Point --data at RAF-DB's "
                                                r"basic/ folder"):
        load_rafdb(root, size=12)


def test_rafdb_compound_root_without_images_is_named_as_the_compound_set(rafdb):
    # Was "unpack Image/original.zip there": unpacking it would only lead to the compound-set refusal.
    root = (rafdb / "basic").rename(rafdb / "compound")
    shutil.rmtree(root / "Image")
    with pytest.raises(UnknownLabelError, match=r"looks like RAF-DB's compound set"):
        load_rafdb(root, size=12)


@pytest.mark.parametrize("line,match", [("train_00003.jpg", "name and id"), ("val_0001.jpg 1", "train_ or test_")])
def test_rafdb_bad_line_named(rafdb, line, match):
    labels = rafdb / "basic" / "EmoLabel" / "list_patition_label.txt"
    labels.write_text(labels.read_text() + line + "\n")
    with pytest.raises(DatasetFormatError, match=f"line 5: .*{match}"):
        load_rafdb(rafdb)


# ------------------------------------------------------------------ AffectNet

_AFFECTNET_HEADER = ("subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,"
                     "expression,valence,arousal\n")


@pytest.fixture
def affectnet(tmp_path):
    images = tmp_path / "Manually_Annotated_Images"
    for i in range(5):
        _image(images / "689" / f"{i:040x}.jpg", shape=(60, 60))
    landmarks = ";".join(["12.5"] * 136)
    rows = [(0, 1), (1, 6), (2, 8), (3, 10), (4, 7)]
    _text(tmp_path / "Manually_Annotated_file_lists" / "training.csv", _AFFECTNET_HEADER + "".join(
        f"689/{i:040x}.jpg,10,12,30,32,{landmarks},{code},0.5,-0.25\n" for i, code in rows))
    _text(tmp_path / "Manually_Annotated_file_lists" / "validation.csv",
          f"689/{0:040x}.jpg,0,0,60,60,{landmarks},0,0.1,0.1\n")  # the released file has no header row
    return tmp_path


def test_affectnet_labels_boxes_and_skipped_codes(affectnet):
    assert detect_layout(affectnet) == "affectnet"
    with pytest.warns(SkippedRowsWarning, match=r"2 row\(s\).*1 'none' \(8\).*1 'no-face' \(10\)"):
        dataset = load_dataset(affectnet, size=16)
    assert dataset.labels.tolist() == ["happy", "angry", "contempt", "neutral"]
    assert dataset.splits.tolist() == ["train", "train", "train", "test"]
    assert dataset.cropped and "#box=10,12,30,32" in dataset.sources[0]


def test_affectnet_csv_given_directly(affectnet):
    path = affectnet / "Manually_Annotated_file_lists" / "training.csv"
    assert detect_layout(path) == "affectnet"
    with pytest.warns(SkippedRowsWarning):
        assert len(load_affectnet(path, size=16)) == 3


@pytest.mark.parametrize("name,split", [("test.csv", "test"), ("val.csv", "test"), ("affectnet_test.csv", "test"),
                                        ("AffectNetValidation.csv", "test"), ("my_training_set.csv", "train"),
                                        ("labels.csv", "train"), ("validset.csv", "test"),
                                        ("affectnetvalidation.csv", "test")])
def test_affectnet_csv_split_comes_from_the_split_words_of_its_name(affectnet, name, split):
    # "valid" as a substring decided it: test.csv, val.csv and affectnet_test.csv were read as train.
    lists = affectnet / "Manually_Annotated_file_lists"
    path = (lists / "validation.csv").rename(lists / name)
    assert set(load_affectnet(path, size=16).splits.tolist()) == {split}


def test_affectnet_csv_named_as_two_splits_is_refused(affectnet):
    lists = affectnet / "Manually_Annotated_file_lists"
    path = (lists / "validation.csv").rename(lists / "train_test.csv")
    with pytest.raises(DatasetFormatError, match=r"train_test.csv.*both train and test.*rename"):
        load_affectnet(path, size=16)


def test_affectnet_csvs_beside_the_released_ones_that_are_not_read_are_named(affectnet):
    # A folder of training.csv and val.csv read training.csv alone, unsaid.
    lists = affectnet / "Manually_Annotated_file_lists"
    (lists / "validation.csv").rename(lists / "val.csv")
    (lists / "notes.csv").write_text("a,b\n1,2\n")  # not AffectNet's: not named
    with pytest.warns(SkippedFilesWarning, match=r"not read: .*val.csv.*rename") as record:
        load_dataset(affectnet, size=16)
    assert not [w for w in record if "notes.csv" in str(w.message)]


def test_affectnet_codes_written_as_floats_are_the_same_codes(affectnet):
    lists = affectnet / "Manually_Annotated_file_lists"
    text = (lists / "training.csv").read_text()
    (lists / "training.csv").write_text(text.replace(",1,0.5,", ",1.0,0.5,").replace(",8,0.5,", ",8.0,0.5,"))
    with pytest.warns(SkippedRowsWarning, match=r"1 'none' \(8\)"):  # "8.0" was refused as no code
        dataset = load_dataset(affectnet, size=16)
    assert dataset.labels.tolist()[0] == "happy"


def test_affectnet_rows_without_a_face_box_are_said_to_use_the_whole_photo(affectnet):
    path = affectnet / "Manually_Annotated_file_lists" / "training.csv"
    path.write_text(path.read_text().replace(",10,12,30,32,", ",,,,,", 1))
    with pytest.warns(UserWarning, match=r"1 row\(s\) have no face box, so their whole photos are used instead of a "
                                         r"face: training.csv row 2"):
        load_affectnet(path, size=16)


def test_affectnet_csv_with_an_index_column_is_read_by_its_header(affectnet):
    # What pandas' to_csv writes when the index is kept: an empty first header cell.
    path = affectnet / "Manually_Annotated_file_lists" / "training.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([f",{lines[0]}", *(f"{i},{line}" for i, line in enumerate(lines[1:]))]) + "\n")
    with pytest.warns(SkippedRowsWarning):
        assert load_affectnet(path, size=16).labels.tolist() == ["happy", "angry", "contempt"]


def test_affectnet_paths_with_windows_separators_are_found(affectnet):
    path = affectnet / "Manually_Annotated_file_lists" / "training.csv"
    path.write_text(path.read_text().replace("689/", "689\\"))
    with pytest.warns(SkippedRowsWarning):
        assert len(load_affectnet(path, size=16)) == 3


def test_a_class_folder_tree_with_a_training_csv_of_its_own_is_class_folders(tmp_path):
    for split in ("train", "test"):
        for label in ("happy", "sad"):
            _image(tmp_path / split / label / "0.png")
    _text(tmp_path / "training.csv", "epoch,loss,accuracy\n1,0.9,0.5\n")  # a training log, not AffectNet
    assert detect_layout(tmp_path) is None
    assert sorted(set(load_dataset(tmp_path, size=12).labels)) == ["happy", "sad"]


# ------------------------------------------------------------------ ExpW


def test_expw_several_faces_per_image(tmp_path):
    _image(tmp_path / "image" / "origin" / "afraid_african_214.jpg", shape=(50, 80))
    _image(tmp_path / "image" / "origin" / "angry_actor_104.jpg", shape=(50, 80))
    _text(tmp_path / "label" / "label.lst",
          "afraid_african_214.jpg 0 5 10 40 45 62.03 2\n"
          "afraid_african_214.jpg 1 2 45 75 35 48.5 6\n"
          "angry_actor_104.jpg 0 0 0 30 30 70.1 0\n")
    assert detect_layout(tmp_path) == "expw"
    dataset = load_dataset(tmp_path, size=10)
    assert dataset.labels.tolist() == ["fear", "neutral", "angry"]
    assert dataset.sources[1].endswith("afraid_african_214.jpg#face=1") and dataset.cropped


def test_expw_short_line_named(tmp_path):
    _text(tmp_path / "label" / "label.lst", "a.jpg 0 5 10 40 45 2\n")
    with pytest.raises(DatasetFormatError, match="line 1: expected"):
        load_dataset(tmp_path)


# ------------------------------------------------------------------ FER+

_FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"


@pytest.fixture
def ferplus(tmp_path):
    faces = make_synthetic_faces(1, 0, size=8, random_state=0).subset(np.arange(5))
    write_csv_dataset(tmp_path / "fer2013.csv", faces)
    _text(tmp_path / "fer2013new.csv", _FERPLUS_HEADER
          + "Training,fer0000000.png,4,0,0,1,4,0,1,0,0,0\n"  # tie neutral/anger
          + "Training,fer0000001.png,0,9,1,0,0,0,0,0,0,0\n"
          + "Training,,0,0,0,0,0,0,0,0,0,10\n"  # dropped by FER+
          + "Training,fer0000003.png,0,0,0,0,0,0,0,0,8,2\n"  # majority unknown
          + "Training,fer0000004.png,1,0,0,0,0,0,0,7,1,1\n")
    return tmp_path


def test_ferplus_majority_labels_aligned_with_fer2013(ferplus):
    assert detect_layout(ferplus / "fer2013new.csv") == "ferplus"
    with pytest.warns(SkippedRowsWarning, match=r"3 row\(s\).*empty Image name.*tied.*'unknown'"):
        dataset = load_dataset(ferplus / "fer2013new.csv", size=8)
    assert dataset.labels.tolist() == ["happy", "contempt"]
    assert dataset.sources.tolist()[0].endswith(":row 3") and dataset.image_shape == (8, 8)


def test_ferplus_finds_a_gzipped_fer2013_csv(ferplus):
    # Only fer2013.csv was looked for, though load_fer2013_csv reads fer2013.csv.gz (as Kaggle mirrors ship it).
    import gzip

    (ferplus / "fer2013.csv.gz").write_bytes(gzip.compress((ferplus / "fer2013.csv").read_bytes()))
    (ferplus / "fer2013.csv").unlink()
    with pytest.warns(SkippedRowsWarning):
        assert len(load_dataset(ferplus, size=8)) == 2


def test_ferplus_votes_found_by_a_relative_path_from_their_own_folder(ferplus, monkeypatch):
    # fer2013.csv one folder up: "fer2013new.csv" has no parent folder of its own to go up from.
    (ferplus / "FERPlus").mkdir()
    (ferplus / "fer2013new.csv").rename(ferplus / "FERPlus" / "fer2013new.csv")
    monkeypatch.chdir(ferplus / "FERPlus")
    with pytest.warns(SkippedRowsWarning):
        assert load_dataset("fer2013new.csv", size=8).labels.tolist() == ["happy", "contempt"]


def test_ferplus_votes_as_shares_are_read_as_counts_are(ferplus):
    new = ferplus / "fer2013new.csv"
    shares = new.read_text()
    for counts in ("4,0,0,1,4,0,1,0,0,0", "0,9,1,0,0,0,0,0,0,0", "0,0,0,0,0,0,0,0,8,2", "1,0,0,0,0,0,0,7,1,1"):
        shares = shares.replace(f",{counts}\n", "," + ",".join(str(int(c) / 10) for c in counts.split(",")) + "\n")
    new.write_text(shares)
    with pytest.warns(SkippedRowsWarning, match=r"3 row\(s\).*tied.*'unknown'"):
        assert load_dataset(new, size=8).labels.tolist() == ["happy", "contempt"]


def test_ferplus_count_row_of_one_vote_is_dropped(ferplus):
    # Shares or counts were decided per row: 0,1,0,... (one annotator's vote) read as a share of 1, so happy.
    new = ferplus / "fer2013new.csv"
    new.write_text(new.read_text().replace(",1,0,0,0,0,0,0,7,1,1\n", ",0,1,0,0,0,0,0,0,0,0\n"))
    with pytest.warns(SkippedRowsWarning, match=r"1 without votes of more than one annotator \(e\.g\. row 6\)"):
        assert load_ferplus(new, size=8).labels.tolist() == ["happy"]


@pytest.mark.parametrize("votes, label", [
    ((4, 3, 2, 1, 0, 0, 0, 0, 0, 0), None),  # a plurality: 4 of the 9 votes left is no majority (was neutral)
    ((4, 3, 1, 1, 1, 0, 0, 0, 0, 0), "neutral"),  # single votes dropped: 4 of 7
    ((5, 1, 1, 1, 1, 1, 0, 0, 0, 0), "neutral"),
    ((1, 1, 1, 1, 1, 1, 1, 1, 1, 1), None),  # only outliers
    ((0.4, 0.3, 0.2, 0.1, 0, 0, 0, 0, 0, 0), None),  # shares, as counts
    ((0.4, 0.3, 0.1, 0.1, 0.1, 0, 0, 0, 0, 0), "neutral"),
])
def test_ferplus_majority_is_the_reference_codes_rule(votes, label):
    # microsoft/FERPlus src/ferplus.py, _process_data(mode="majority"): single votes dropped, then > 50 % of the rest.
    from fer_classic.data._layouts import _ferplus_majority

    assert _ferplus_majority([float(v) for v in votes], shares=max(votes) < 1)[0] == label


def test_ferplus_rows_without_a_majority_are_skipped_and_counted(ferplus):
    new = ferplus / "fer2013new.csv"
    new.write_text(new.read_text().replace(",0,9,1,0,0,0,0,0,0,0", ",0,4,3,2,1,0,0,0,0,0"))  # happy was its plurality
    with pytest.warns(SkippedRowsWarning, match=r"4 row\(s\).*1 without an emotion holding more than half the votes "
                                                r"\(single votes dropped\) \(e\.g\. row 3\)"):
        assert load_ferplus(new, size=8).labels.tolist() == ["contempt"]


@pytest.mark.parametrize("vote", ["-1", "inf", "1e400", "nan"])
def test_ferplus_votes_that_count_nothing_are_named_before_the_pixels_are_read(ferplus, monkeypatch, vote):
    from fer_classic.data import _layouts

    monkeypatch.setattr(_layouts, "load_fer2013_csv", lambda *a, **k: pytest.fail("pixels decoded first"))
    new = ferplus / "fer2013new.csv"
    new.write_text(new.read_text().replace(",0,9,1,0,", f",0,9,{vote},0,"))
    with pytest.raises(DatasetFormatError, match=r"row 3: FER\+ votes .* must be finite and not negative"):
        load_ferplus(new)


@pytest.mark.parametrize("layout", ["ferplus", "affectnet"])
def test_a_short_row_names_the_columns_and_what_to_do(ferplus, affectnet, layout):
    path = {"ferplus": ferplus / "fer2013new.csv",
            "affectnet": affectnet / "Manually_Annotated_file_lists" / "training.csv"}[layout]
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines[:2], "Training,fer0000001.png\n", *lines[3:]]))
    with pytest.raises(DatasetFormatError, match=r"row 3: 2 fields, header has \d+ \(.*\); fill in the missing"):
        load_dataset(path, size=8)


def test_ferplus_row_count_mismatch(ferplus):
    new = ferplus / "fer2013new.csv"
    new.write_text(new.read_text() + "Training,fer0000005.png,1,0,0,0,0,0,0,0,0,0\n")
    with pytest.raises(DatasetFormatError, match="6 data rows but .* has 5"):
        load_ferplus(new)


@pytest.mark.parametrize("usage, aligned", [("training", True), ("TRAIN", True), ("PublicTest", False)])
def test_ferplus_usages_are_compared_as_parsed_splits(ferplus, usage, aligned):
    # 'training' against fer2013.csv's 'Training' was refused as "not aligned"; parse_split reads any case.
    new = ferplus / "fer2013new.csv"
    new.write_text(new.read_text().replace("Training,", f"{usage},"))
    if aligned:
        with pytest.warns(SkippedRowsWarning):
            assert load_ferplus(new, size=8).labels.tolist() == ["happy", "contempt"]
    else:
        with pytest.raises(DatasetFormatError, match="row 2: Usage 'PublicTest', but .* says 'Training'; the two "
                                                     "files are not aligned"):
            load_ferplus(new, size=8)


def test_ferplus_without_fer2013_names_places(tmp_path):
    _text(tmp_path / "fer2013new.csv", _FERPLUS_HEADER + "Training,fer0000000.png,1,0,0,0,0,0,0,0,0,0\n")
    # Its remedy was only "pass fer2013_csv=", which the CLI cannot pass.
    with pytest.raises(DatasetError, match=r"fer2013.csv.gz.*put fer2013.csv \(or .gz\) in one of those places.*"
                                           r"in Python, load_dataset\(path, fer2013_csv="):
        load_dataset(tmp_path)


def test_ferplus_image_folders(tmp_path):
    for folder, name in (("FER2013Train", "fer0000000.png"), ("FER2013Valid", "fer0028710.png"),
                         ("FER2013Test", "fer0032220.png")):
        _image(tmp_path / folder / name, shape=(48, 48))
        _text(tmp_path / folder / "label.csv", f'{name},"(0, 0, 48, 48)",0,0,0,1,4,0,1,0,0,0\n')
    assert detect_layout(tmp_path) == "ferplus"
    dataset = load_dataset(tmp_path, size=16)
    assert dataset.labels.tolist() == ["angry"] * 3
    # FER2013Valid is FER2013's PublicTest: test, as fer2013new.csv's PublicTest rows are (one test set per release).
    assert dataset.splits.tolist() == ["train", "test", "test"]
    assert dataset.usages.tolist() == ["Training", "PublicTest", "PrivateTest"]


def test_ferplus_image_folder_without_its_labels_is_named(tmp_path):
    for folder, name in (("FER2013Train", "fer0000000.png"), ("FER2013Test", "fer0032220.png")):
        _image(tmp_path / folder / name, shape=(48, 48))
    _text(tmp_path / "FER2013Train" / "label.csv", '"fer0000000.png","(0, 0, 48, 48)",0,0,0,1,4,0,1,0,0,0\n')
    with pytest.warns(SkippedFilesWarning, match=r"FER2013Test/ without its label.csv was not read"):
        assert load_dataset(tmp_path, size=16).splits.tolist() == ["train"]


# ------------------------------------------------------------------ CK+


@pytest.fixture
def ckplus(tmp_path):
    for subject, sequence, last, code in (("S005", "001", 11, "3"), ("S010", "002", 4, "7")):
        for frame in range(1, last + 1):
            _image(tmp_path / "cohn-kanade-images" / subject / sequence / f"{subject}_{sequence}_{frame:08d}.png",
                   value=10 * frame)
        _text(tmp_path / "Emotion" / subject / sequence / f"{subject}_{sequence}_{last:08d}_emotion.txt",
              f"   {float(code):.7e}\n")
    _image(tmp_path / "cohn-kanade-images" / "S011" / "001" / "S011_001_00000001.png")  # unlabelled sequence
    return tmp_path


def test_ckplus_peak_frames_with_subjects(ckplus):
    assert detect_layout(ckplus) == "ckplus"
    dataset = load_dataset(ckplus, size=12)
    assert dataset.labels.tolist() == ["disgust", "surprise"]
    assert dataset.subjects.tolist() == ["S005", "S010"]
    assert dataset.sources[0].endswith("S005_001_00000011.png")


def test_ckplus_first_frame_as_neutral(ckplus):
    dataset = load_ckplus(ckplus, size=12, neutral_first_frame=True)
    assert dataset.labels.tolist() == ["disgust", "neutral", "surprise", "neutral"]
    assert dataset.sources[1].endswith("S005_001_00000001.png")


def test_ckplus_bad_code_named(ckplus):
    (ckplus / "Emotion" / "S005" / "001" / "S005_001_00000011_emotion.txt").write_text("9.0000000e+00\n")
    with pytest.raises(Exception, match="S005_001_00000011_emotion.txt.*'9.0000000e\\+00'"):
        load_dataset(ckplus)


def test_ckplus_without_its_emotion_folder_is_named(ckplus):
    shutil.rmtree(ckplus / "Emotion")
    with pytest.raises(DatasetError, match="Emotion/ not found"):
        load_dataset(ckplus)


def test_an_emotion_folder_alone_is_not_ckplus(tmp_path):
    (tmp_path / "Emotion").mkdir()
    assert detect_layout(tmp_path) is None


def test_ckplus_labels_without_their_images_are_named(ckplus):
    shutil.rmtree(ckplus / "cohn-kanade-images")
    with pytest.raises(DatasetError, match="cohn-kanade-images/ not found"):
        load_dataset(ckplus)


def test_ckplus_copied_from_a_mac_skips_appledouble_files_and_reads_a_bom(ckplus):
    folder = ckplus / "Emotion" / "S005" / "001"
    (folder / "._S005_001_00000011_emotion.txt").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    (folder / "S005_001_00000011_emotion.txt").write_bytes("\ufeff   3.0000000e+00\n".encode("utf-8"))
    assert load_dataset(ckplus, size=12).labels.tolist() == ["disgust", "surprise"]


# ------------------------------------------------------------------ JAFFE and KDEF


def test_jaffe_names_give_labels_and_subjects(tmp_path):
    for name in ("KA.AN1.39.tiff", "KA.HA2.30.tiff", "YM.SU3.60.tiff", "NA.NE1.205.tiff"):
        _image(tmp_path / name, shape=(32, 32))
    _image(tmp_path / "readme.png")
    assert detect_layout(tmp_path) == "jaffe"
    with pytest.warns(SkippedFilesWarning, match="readme.png"):
        dataset = load_dataset(tmp_path, size=8)
    assert dataset.labels.tolist() == ["angry", "happy", "neutral", "surprise"]
    assert dataset.subjects.tolist() == ["KA", "KA", "NA", "YM"]


def test_a_stray_jaffe_named_image_beside_label_folders_leaves_a_class_folder_tree(tmp_path):
    # It made the tree JAFFE: the 3 images of the label folders were dropped unsaid.
    for label in ("angry", "happy", "sad"):
        _image(tmp_path / label / "0.png", shape=(8, 8))
    _image(tmp_path / "KA.HA1.1.png", shape=(8, 8))
    assert detect_layout(tmp_path) is None
    with pytest.warns(SkippedFilesWarning, match=r"not read: .*KA\.HA1\.1\.png"):
        dataset = load_dataset(tmp_path, size=8)
    assert dataset.labels.tolist() == ["angry", "happy", "sad"]


def test_an_empty_kdef_named_folder_beside_split_folders_is_not_kdef(tmp_path):
    # It made the tree KDEF ("holds no KDEF image at angles ['S']"); now the folder is named as no label.
    _image(tmp_path / "train" / "happy" / "0.png", shape=(8, 8))
    (tmp_path / "AM01").mkdir()
    assert detect_layout(tmp_path) is None


@pytest.fixture
def kdef(tmp_path):
    root = tmp_path / "KDEF"
    for folder, names in (("AF01", ["AF01ANS.JPG", "AF01HAS.JPG", "AF01AFHL.JPG"]),
                          ("BM02", ["BM02SUS.JPG", "BM02DIFR.JPG"])):
        for name in names:
            _image(root / folder / name, shape=(40, 30))
    return root


def test_kdef_straight_by_default(kdef):
    assert detect_layout(kdef) == "kdef"
    dataset = load_dataset(kdef, size=8)
    assert dataset.labels.tolist() == ["angry", "happy", "surprise"]
    assert dataset.subjects.tolist() == ["F01", "F01", "M02"]


def test_kdef_images_left_out_by_angle_are_counted_once(kdef):
    # The profiles were dropped unsaid: 3,920 of KDEF's 4,900 images.
    with pytest.warns(SkippedFilesWarning) as record:
        load_dataset(kdef, size=8)
    messages = [str(w.message) for w in record if "angle" in str(w.message)]
    assert len(messages) == 1
    assert "2 KDEF image(s)" in messages[0] and "FR 1, HL 1" in messages[0] and "angles='all'" in messages[0]


@pytest.mark.parametrize("angles,n", [("all", 5), (["S", "HL"], 4), ("FR", 1)])
def test_kdef_angles_option(kdef, angles, n):
    assert len(load_kdef(kdef, size=8, angles=angles)) == n


@pytest.mark.parametrize("angles", ["up", [], 5])
def test_kdef_bad_angle(kdef, angles):
    # 5 was "TypeError: 'int' object is not iterable".
    with pytest.raises(DatasetError, match="angles.*choose 'straight', 'all' or codes"):
        load_kdef(kdef, angles=angles)


def test_the_folder_above_a_download_is_told_to_give_the_download_itself(tmp_path):
    # The archive unpacks jaffe/ (or KDEF/); --data named the folder holding it.
    for name in ("KA.AN1.39.tiff", "KA.HA2.30.tiff"):
        _image(tmp_path / "jaffe" / name, shape=(32, 32))
    with pytest.raises(DatasetError, match=r"jaffe holds a dataset in the 'jaffe' layout, not the images of one "
                                           r"emotion; give --data .*jaffe itself"):
        load_dataset(tmp_path)


# ------------------------------------------------------------------ options


def test_layout_option_forces_loader(rafdb):
    assert len(load_dataset(rafdb, layout="RAF-DB", size=12)) == 4


@pytest.mark.parametrize("kwargs,match", [({"angles": "all"}, "do not apply to the rafdb"),
                                          ({"label_map": "1=angry"}, "label codes"),
                                          ({"layout": "nope"}, "Unknown layout")])
def test_layout_rejects_foreign_options(rafdb, kwargs, match):
    with pytest.raises(DatasetError, match=match):
        load_dataset(rafdb, **kwargs)


def test_class_folder_tree_not_taken_for_a_layout(tmp_path):
    _image(tmp_path / "happy" / "0001.png")
    assert detect_layout(tmp_path) is None
    assert load_dataset(tmp_path, size=8).labels.tolist() == ["happy"]


# ------------------------------------------------------------------ what outputs may not touch


def test_ferplus_inputs_hold_the_fer2013_csv_above_its_votes(tmp_path):
    # load_ferplus reads fer2013.csv from the votes file's folder or the one above: both are inputs.
    from fer_classic.data import dataset_inputs

    votes = _text(tmp_path / "FERPlus" / "fer2013new.csv", _FERPLUS_HEADER)
    for path in (votes, votes.parent):
        inputs = dataset_inputs(path)
        assert tmp_path / "fer2013.csv" in inputs and votes.parent not in inputs[1:]


def test_affectnet_folder_inputs_hold_its_sibling_images(affectnet):
    from fer_classic.data import dataset_inputs

    lists = affectnet / "Manually_Annotated_file_lists"
    assert affectnet / "Manually_Annotated_Images" in dataset_inputs(lists)


def test_rafdb_labels_file_inputs_hold_its_root(rafdb):
    from fer_classic.data import dataset_inputs

    labels = rafdb / "basic" / "EmoLabel" / "list_patition_label.txt"
    assert dataset_inputs(labels) == [labels, rafdb / "basic"]


def _outside_listed(tmp_path, layout):
    """A dataset of ``layout`` whose labels file lists outside/victim.jpg by a path through '..'."""
    victim = _image(tmp_path / "outside" / "victim.jpg")
    root = tmp_path / "ds"
    if layout == "affectnet":
        _image(root / "Manually_Annotated_Images" / "1" / "a.jpg", shape=(60, 60))
        _text(root / "Manually_Annotated_file_lists" / "training.csv", _AFFECTNET_HEADER
              + "1/a.jpg,0,0,60,60,,1,0,0\n../../outside/victim.jpg,0,0,24,24,,2,0,0\n")
    elif layout == "affectnet, no header":
        _image(root / "Manually_Annotated_Images" / "1" / "a.jpg", shape=(60, 60))
        _text(root / "Manually_Annotated_file_lists" / "validation.csv",
              f"1/a.jpg,0,0,60,60,,1,0,0\n{victim},0,0,24,24,,2,0,0\n")  # an absolute path
    elif layout == "affectnet, index column":  # as pandas writes it, the path in the second column
        _image(root / "Manually_Annotated_Images" / "1" / "a.jpg", shape=(60, 60))
        _text(root / "Manually_Annotated_file_lists" / "training.csv", "," + _AFFECTNET_HEADER
              + "0,1/a.jpg,0,0,60,60,,1,0,0\n1,../../outside/victim.jpg,0,0,24,24,,2,0,0\n")
    elif layout == "affectnet, windows separators":
        _image(root / "Manually_Annotated_Images" / "1" / "a.jpg", shape=(60, 60))
        _text(root / "Manually_Annotated_file_lists" / "training.csv", _AFFECTNET_HEADER
              + "1\\a.jpg,0,0,60,60,,1,0,0\n..\\..\\outside\\victim.jpg,0,0,24,24,,2,0,0\n")
    elif layout == "rafdb":  # the aligned image of train_x/../../../../outside/victim.jpg
        victim = _image(tmp_path / "outside" / "victim_aligned.jpg")
        _image(root / "Image" / "aligned" / "train_0001_aligned.jpg")
        (root / "Image" / "aligned" / "train_x").mkdir()
        _text(root / "EmoLabel" / "list_patition_label.txt",
              "train_0001.jpg 4\ntrain_x/../../../../outside/victim.jpg 5\n")
    elif layout == "expw":
        _image(root / "image" / "origin" / "a.jpg")
        _text(root / "label" / "label.lst",
              "a.jpg 0 0 0 20 20 50.0 3\n../../../outside/victim.jpg 0 0 0 20 20 50.0 4\n")
    elif layout == "ferplus":
        _image(root / "FER2013Train" / "a.png")
        _text(root / "FER2013Train" / "label.csv", 'a.png,"(0, 0, 24, 24)",0,9,1,0,0,0,0,0,0,0\n'
                                                   '../../outside/victim.jpg,"(0, 0, 24, 24)",0,0,9,0,0,0,0,0,0,0\n')
    else:
        raise AssertionError(layout)
    return root, victim


OUTSIDE_LAYOUTS = ["affectnet", "affectnet, no header", "affectnet, index column", "affectnet, windows separators",
                   "rafdb", "expw", "ferplus"]


@pytest.mark.parametrize("layout", OUTSIDE_LAYOUTS)
def test_an_image_listed_outside_the_layouts_root_is_an_input(tmp_path, layout):
    from fer_classic.data import dataset_inputs

    root, victim = _outside_listed(tmp_path, layout)
    assert detect_layout(root) == layout.split(",")[0]
    assert len(load_dataset(root, size=8)) == 2  # the loader reads it: an input like any other
    inputs = dataset_inputs(root)
    assert str(victim.resolve()) in [os.path.realpath(p) for p in inputs if "victim" in str(p)]
    assert not any(str(p).endswith(("a.jpg", "a.png", "0001_aligned.jpg")) for p in inputs)  # inside: the root's


@pytest.mark.parametrize("layout", OUTSIDE_LAYOUTS)
def test_an_output_that_is_an_image_listed_outside_the_root_is_refused(tmp_path, layout):
    from fer_classic._fileio import check_outputs
    from fer_classic.data import dataset_inputs
    from fer_classic.exceptions import OutputPathError

    root, victim = _outside_listed(tmp_path, layout)
    with pytest.raises(OutputPathError, match=r"--out .*victim(_aligned)?\.jpg is an input of this command \(--data"):
        check_outputs({"--out": victim}, input_trees={"--data": dataset_inputs(root)})
    victim.unlink()  # not there (yet): a new file at a listed image's place is refused all the same
    with pytest.raises(OutputPathError, match="is an input of this command"):
        check_outputs({"--out": victim}, input_trees={"--data": dataset_inputs(root)})
    assert check_outputs({"--out": victim.parent / "model.joblib"}, input_trees={"--data": dataset_inputs(root)})


def test_a_dataset_reached_through_dotdot_lists_no_image_as_outside(rafdb, monkeypatch):
    # --data ../shared/...: the ".." of the dataset's own path is not an image escaping it.
    from fer_classic.data import dataset_inputs

    (rafdb / "work").mkdir()
    monkeypatch.chdir(rafdb / "work")
    assert set(dataset_inputs(os.path.join("..", "basic"))) == {Path("..", "basic")}  # no image listed


@pytest.mark.parametrize("given", ["root", "labels file"])
def test_rafdb_images_in_a_linked_folder_are_inputs(rafdb, tmp_path_factory, given):
    from fer_classic._fileio import check_outputs
    from fer_classic.data import dataset_inputs
    from fer_classic.exceptions import OutputPathError

    aligned = rafdb / "basic" / "Image" / "aligned"
    moved = tmp_path_factory.mktemp("elsewhere") / "aligned"  # outside the dataset folder
    aligned.rename(moved)
    aligned.symlink_to(moved, target_is_directory=True)
    path = rafdb if given == "root" else rafdb / "basic" / "EmoLabel" / "list_patition_label.txt"
    assert len(load_dataset(path, size=8)) == 4
    image = moved / "train_00001_aligned.jpg"
    for out, dirs in ((image, ()), (moved / "new.joblib", ()), (moved / "report", ("--out",))):
        with pytest.raises(OutputPathError, match=r"is inside .*aligned, the folder that .*Image/aligned in the "
                                                  r"dataset folder .* links to"):
            check_outputs({"--out": out}, input_trees={"--data": dataset_inputs(path)}, dirs=dirs)
