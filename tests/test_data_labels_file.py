"""Labels files: a CSV/TSV listing image paths, labels, splits, subjects and face boxes."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from fer_classic.data import FaceDataset, load_dataset, load_labels_file, make_synthetic_faces
from fer_classic.exceptions import (
    DatasetError,
    DatasetFormatError,
    DuplicateRowsWarning,
    LabelMergeWarning,
    SkippedFilesWarning,
    UnknownLabelError,
)
from fer_classic.labels import canonical_label

from conftest import tree_digest


def _image(path, value=100, shape=(20, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full(shape, value, np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


@pytest.fixture
def images(tmp_path):
    """Three tiny grayscale PNGs under tmp/imgs."""
    return [_image(tmp_path / "imgs" / f"a{i}.png", value=40 * (i + 1)) for i in range(3)]


def _write(tmp_path, text, name="labels.csv"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "header",
    ["image,emotion", "path,label", "file,expression", "filename,class", "img,Emotion", "Image Path,LABEL"],
)
def test_columns_recognised_from_common_spellings(tmp_path, images, header):
    path = _write(tmp_path, f"{header}\nimgs/a0.png,anger\nimgs/a1.png,HAPPINESS\n")
    dataset = load_labels_file(path, size=8)
    assert dataset.labels.tolist() == ["angry", "happy"]
    assert dataset.sources.tolist() == [str(images[0]), str(images[1])]


@pytest.mark.parametrize("name,delimiter", [("labels.tsv", "\t"), ("labels.csv", "\t"), ("labels.csv", ";")])
def test_delimiter_taken_from_header(tmp_path, images, name, delimiter):
    path = _write(tmp_path, f"image{delimiter}label\nimgs/a0.png{delimiter}sad\n", name)
    assert load_labels_file(path, size=8).labels.tolist() == ["sad"]


def test_load_dataset_reads_labels_csv_not_as_fer2013(tmp_path, images):
    path = _write(tmp_path, "image,emotion\nimgs/a0.png,anger\n")
    assert load_dataset(path, size=8).labels.tolist() == ["angry"]


def test_columns_option_overrides_names(tmp_path, images):
    path = _write(tmp_path, "pic,emo,grp\nimgs/a0.png,fear,P1\n")
    dataset = load_dataset(path, size=8, columns={"image": "pic", "label": "emo", "subject": "grp"})
    assert dataset.labels.tolist() == ["fear"] and dataset.subjects.tolist() == ["P1"]


def test_missing_label_column_names_header_and_spellings(tmp_path, images):
    path = _write(tmp_path, "image,mood\nimgs/a0.png,sad\n")
    # The remedy was "pass columns={...}", which the CLI cannot pass (nor the --columns once named).
    with pytest.raises(DatasetFormatError, match=r"no label column; rename the header cell.*emotion.*"
                                                 r"in Python, load_dataset\(path, columns="):
        load_labels_file(path)


def test_ambiguous_columns_are_an_error(tmp_path, images):
    path = _write(tmp_path, "image,file,label\nimgs/a0.png,imgs/a0.png,sad\n")
    with pytest.raises(DatasetFormatError, match=r"could each be the image column; rename all but one in the "
                                                 r"header, or in Python, load_dataset\(path, columns="):
        load_labels_file(path)


@pytest.mark.parametrize(
    "cell,split,usage",
    [("train", "train", ""), ("Validation", "val", ""), ("PublicTest", "test", "PublicTest"), ("", "", "")],
)
def test_split_column(tmp_path, images, cell, split, usage):
    path = _write(tmp_path, f"image,label,usage\nimgs/a0.png,sad,{cell}\n")
    dataset = load_labels_file(path, size=8)
    assert (dataset.splits[0], dataset.usages[0]) == (split, usage)


def test_unknown_split_names_row(tmp_path, images):
    path = _write(tmp_path, "image,label,split\nimgs/a0.png,sad,holdout\n")
    with pytest.raises(DatasetFormatError, match=r"row 2: split 'holdout'"):
        load_labels_file(path)


def test_paths_relative_to_labels_file(tmp_path, images):
    sub = tmp_path / "lists"
    sub.mkdir()
    path = _write(sub, "image,label\n../imgs/a0.png,sad\n")
    assert len(load_labels_file(path, size=8)) == 1


@pytest.mark.parametrize(
    "header,cells",
    [("x,y,w,h", "2,3,10,5"), ("face_x,face_y,face_width,face_height", "2,3,10,5"),
     ("x1,y1,x2,y2", "2,3,12,8"), ("left,top,right,bottom", "2,3,12,8")],
)
def test_face_box_is_cropped(tmp_path, header, cells):
    image = np.zeros((20, 30), np.uint8)
    image[3:8, 2:12] = 200  # the box region, 10 wide and 5 high
    _image(tmp_path / "face.png")
    cv2.imwrite(str(tmp_path / "face.png"), image)
    path = _write(tmp_path, f"image,label,{header}\nface.png,sad,{cells}\n")
    dataset = load_labels_file(path, size=(5, 10))
    assert dataset.cropped
    assert (dataset.images[0] == 200).all()


def test_box_beyond_border_repeats_edge(tmp_path):
    image = np.zeros((10, 10), np.uint8)
    image[:, 0] = 255  # left column white
    cv2.imwrite(str(tmp_path / "face.png"), image)
    path = _write(tmp_path, "image,label,x,y,w,h\nface.png,sad,-4,0,8,10\n")
    out = load_labels_file(path, size=(10, 8)).images[0]
    assert (out[:, :5] == 255).all() and (out[:, 5:] == 0).all()


def test_rows_without_box_use_whole_image(tmp_path, images):
    path = _write(tmp_path, "image,label,x,y,w,h\nimgs/a0.png,sad,,,,\n")
    dataset = load_labels_file(path, size=8)
    assert not dataset.cropped and dataset.sources[0] == str(images[0])


@pytest.mark.parametrize("cells,match", [("1,2,0,5", "positive"), ("a,b,c,d", "not four numbers")])
def test_bad_box_names_row(tmp_path, images, cells, match):
    path = _write(tmp_path, f"image,label,x,y,w,h\nimgs/a0.png,sad,{cells}\n")
    with pytest.raises(DatasetFormatError, match=f"row 2.*{match}"):
        load_labels_file(path)


@pytest.mark.parametrize("box", ["100,100,5,5", "0,0,100000,100000", "-50,0,60,20"])
def test_box_outside_or_far_beyond_the_image_is_skipped(tmp_path, images, box):
    # The image is 30x20: the second and third boxes overlap it but would be mostly repeated border
    # (the second one a 100000x100000 copy).
    path = _write(tmp_path, f"image,label,x,y,w,h\nimgs/a0.png,sad,{box}\nimgs/a1.png,sad,,,,\n")
    with pytest.warns(SkippedFilesWarning, match=r"1 of the 2 images listed by .* were skipped \(a file missing or "
                                                 r"undecodable, a face box outside its image.*outside"):
        dataset = load_labels_file(path, size=8)
    assert len(dataset) == 1 and len(dataset.skipped) == 1


def test_missing_file_skipped_and_named(tmp_path, images):
    path = _write(tmp_path, "image,label\nimgs/a0.png,sad\nimgs/gone.png,sad\n")
    with pytest.warns(SkippedFilesWarning, match=r"gone.png.*row 3"):
        dataset = load_labels_file(path, size=8)
    assert len(dataset) == 1 and "gone.png" in dataset.skipped[0][0]


@pytest.mark.parametrize("again", ["imgs/a0.png", "imgs/../imgs/a0.png", "{tmp}/imgs/a0.png"])
def test_same_image_two_labels_names_both_rows(tmp_path, images, again):
    again = again.format(tmp=tmp_path)  # the same file, however it is spelled
    path = _write(tmp_path, f"image,label\nimgs/a0.png,sad\nimgs/a1.png,sad\n{again},happy\n")
    with pytest.raises(DatasetError, match=r"row 2 and .*row 4.*'sad' vs 'happy'"):
        load_labels_file(path)


def test_exact_duplicate_row_warned_and_kept_once(tmp_path, images):
    path = _write(tmp_path, "image,label\nimgs/a0.png,sad\nimgs/a0.png,sad\n")
    with pytest.warns(DuplicateRowsWarning, match="row 2 and .*row 3"):
        dataset = load_labels_file(path, size=8)
    assert len(dataset) == 1


def test_spellings_folding_into_one_label_warned(tmp_path, images):
    path = _write(tmp_path, "image,label\nimgs/a0.png,anger\nimgs/a1.png,ANGRY\nimgs/a2.png,Anger\n")
    with pytest.warns(LabelMergeWarning, match="anger, ANGRY -> angry"):
        load_labels_file(path, size=8)


def test_case_only_difference_is_not_a_merge(tmp_path, images):
    path = _write(tmp_path, "image,label\nimgs/a0.png,anger\nimgs/a1.png,ANGER\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelMergeWarning)
        load_labels_file(path, size=8)


@pytest.mark.parametrize(
    "spelling,label",
    [("anger", "angry"), ("ANGER", "angry"), ("Happiness", "happy"), ("sadness", "sad"), ("afraid", "fear"),
     ("disgusted", "disgust"), ("surprised", "surprise"), ("Neutral", "neutral"), ("contemptuous", "contempt")],
)
def test_canonical_label_spellings(spelling, label):
    assert canonical_label(spelling) == label


def test_numeric_labels_need_label_map(tmp_path, images):
    path = _write(tmp_path, "image,label\nimgs/a0.png,3\n")
    with pytest.raises(UnknownLabelError, match="row 2.*label map"):
        load_labels_file(path)
    assert load_labels_file(path, size=8, label_map="3=happy").labels.tolist() == ["happy"]


def test_numeric_labels_written_as_floats_find_their_label_map_key(tmp_path, images):
    path = _write(tmp_path, "image,label\nimgs/a0.png,3.0\n")  # as pandas writes an id column read as floats
    assert load_labels_file(path, size=8, label_map="3=happy").labels.tolist() == ["happy"]


def test_short_row_names_row(tmp_path, images):
    path = _write(tmp_path, "image,label,split\nimgs/a0.png,sad,train\nimgs/a1.png\n")
    with pytest.raises(DatasetFormatError, match="row 3"):
        load_labels_file(path)


def test_header_only_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="no data rows"):
        load_labels_file(_write(tmp_path, "image,label\n"))


def test_overlong_line_refused(tmp_path):
    path = _write(tmp_path, "image,label\n" + "x" * 70000 + ",sad\n")
    with pytest.raises(DatasetFormatError, match="line 2: longer than"):
        load_labels_file(path)


def test_labels_file_left_untouched(tmp_path, images):
    _write(tmp_path, "image,label\nimgs/a0.png,sad\nimgs/gone.png,sad\n")
    before = tree_digest(tmp_path)
    with pytest.warns(SkippedFilesWarning):
        load_labels_file(tmp_path / "labels.csv", size=8)
    assert tree_digest(tmp_path) == before


@pytest.mark.parametrize("option", [{"angles": "all"}, {"columns": {"image": "x"}}])
def test_options_foreign_to_format_rejected(tmp_path, images, option):
    (tmp_path / "faces" / "sad").mkdir(parents=True)
    _image(tmp_path / "faces" / "sad" / "a.png")
    with pytest.raises(DatasetError, match="do not apply"):
        load_dataset(tmp_path / "faces", **option)


# ------------------------------------------------------------------ FaceDataset.subjects


@pytest.fixture
def with_subjects():
    base = make_synthetic_faces(2, 1, random_state=0)
    subjects = np.asarray([f"S{i % 3}" for i in range(len(base))], dtype=object)
    return FaceDataset(base.images, base.labels, base.splits, base.usages, base.sources, base.name,
                       subjects=subjects, cropped=True)


def test_subjects_default_to_empty():
    assert set(make_synthetic_faces(2, 1).subjects.tolist()) == {""}


@pytest.mark.parametrize(
    "operation",
    [lambda d: d.select("train"), lambda d: d.subset(np.arange(len(d)) % 2 == 0),
     lambda d: d.subset(np.arange(3)), lambda d: d.with_splits(np.full(len(d), "test", dtype=object)),
     lambda d: FaceDataset.concatenate([d, d.select("test")])],
)
def test_subjects_and_cropped_survive_operations(with_subjects, operation):
    result = operation(with_subjects)
    assert result.cropped
    assert all(s.startswith("S") for s in result.subjects) and len(result.subjects) == len(result)


_OPERATIONS = [lambda d: d.select("train"), lambda d: d.subset(np.arange(3)),
               lambda d: d.with_splits(np.full(len(d), "test", dtype=object)),
               lambda d: FaceDataset.concatenate([d, d.select("test")])]


@pytest.mark.parametrize("operation", _OPERATIONS, ids=["select", "subset", "with_splits", "concatenate"])
def test_the_face_cropper_survives_operations(operation):
    from dataclasses import replace

    from fer_classic.detection import FaceCropper

    cropper = FaceCropper(detect=True, margin=0.1)
    assert operation(replace(make_synthetic_faces(2, 1), face_cropper=cropper)).face_cropper is cropper


def test_concatenate_keeps_the_cropper_of_its_cut_parts_beside_face_crops():
    # Photos cut by a cropper joined with face-crop files (no cropper) lost the record: the model then took
    # photos whole.
    from dataclasses import replace

    from fer_classic.detection import FaceCropper

    cropper = FaceCropper(detect=True, margin=0.1)
    cut = replace(make_synthetic_faces(2, 1), face_cropper=cropper)
    assert FaceDataset.concatenate([make_synthetic_faces(2, 1), cut]).face_cropper is cropper


def test_concatenate_of_parts_cut_by_different_croppers_keeps_none_and_says_so():
    from dataclasses import replace

    from fer_classic.detection import FaceCropper

    parts = [replace(make_synthetic_faces(2, 1), face_cropper=FaceCropper(margin=m)) for m in (0.1, 0.2)]
    with pytest.warns(UserWarning, match=r"cut by 2 different face croppers .*FERModel.from_fitted\(\.\.\., "
                                         r"face_cropper=\.\.\.\)"):
        assert FaceDataset.concatenate(parts).face_cropper is None


def test_concatenate_refuses_different_geometries():
    with pytest.raises(DatasetError, match="geometries"):
        FaceDataset.concatenate([make_synthetic_faces(1, 1, size=16), make_synthetic_faces(1, 1, size=20)])


def test_subjects_length_checked(with_subjects):
    with pytest.raises(DatasetError, match="subjects"):
        FaceDataset(with_subjects.images, with_subjects.labels, with_subjects.splits, with_subjects.usages,
                    with_subjects.sources, subjects=with_subjects.subjects[:2])


def test_layout_option_on_labels_file_rejected(tmp_path, images):
    path = _write(tmp_path, "image,label\nimgs/a0.png,sad\n")
    with pytest.raises(DatasetError, match=r"\['angles'\] do not apply to a labels file"):
        load_dataset(path, angles="all")


def test_image_root_option(tmp_path, images):
    (tmp_path / "lists").mkdir()
    path = _write(tmp_path / "lists", "image,label\na0.png,sad\n")
    assert len(load_dataset(path, size=8, image_root=tmp_path / "imgs")) == 1


def test_cli_fit_reads_labels_file(tmp_path):
    from click.testing import CliRunner

    from fer_classic.cli import main

    faces = make_synthetic_faces(4, 2, size=16, random_state=0)
    lines = ["image,emotion,usage,person"]
    for i, (image, label, split) in enumerate(zip(faces.images, faces.labels, faces.splits)):
        cv2.imwrite(str(tmp_path / f"{i}.png"), image)
        lines.append(f"{i}.png,{label.upper()},{split},P{i % 3}")
    labels = _write(tmp_path, "\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["fit", "--data", str(labels), "--features", "pixels", "--clf", "knn",
                                       "--size", "16", "--out", str(tmp_path / "m.joblib")])
    assert result.exit_code == 0, result.output
    assert "lacks column" not in result.output


def test_listed_images_resolve_relative_paths_once_each(tmp_path):
    from fer_classic.data._labels_file import listed_images

    path = _write(tmp_path / "lists", "image,label\n../imgs/a.png,sad\n../imgs/deep/b.png,sad\n"
                  f"{tmp_path}/other/c.png,happy\n../imgs/a.png,sad\n")
    lists = tmp_path / "lists"
    assert listed_images(path) == [f"{lists}/../imgs/a.png", f"{lists}/../imgs/deep/b.png", f"{tmp_path}/other/c.png"]


@pytest.mark.parametrize("kind", ["labels", "fer2013", "folder", "synthetic", "unreadable"])
def test_dataset_inputs(tmp_path, images, kind):
    from fer_classic.data import dataset_inputs

    path = {"labels": _write(tmp_path / "lists", "image,label\n../imgs/a0.png,sad\n"),
            "fer2013": _write(tmp_path, "emotion,pixels,Usage\n0,1 2 3 4,Training\n", "fer2013.csv"),
            "folder": tmp_path / "imgs", "synthetic": None,
            "unreadable": _write(tmp_path, "x", "notes.txt")}[kind]
    expected = {"labels": [path, f"{tmp_path}/lists/../imgs/a0.png"], "synthetic": []}.get(kind, [path])
    assert dataset_inputs(path) == expected


@pytest.mark.parametrize("bad_line", [1, 2, 12])
def test_text_that_is_not_utf8_names_its_line(tmp_path, images, bad_line):
    lines = ["image,label"] + ["imgs/a0.png,sad"] * 12
    lines[bad_line - 1] += ",caf\xe9"  # Latin-1
    path = tmp_path / "labels.csv"
    path.write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    with pytest.raises(DatasetFormatError, match=rf"labels.csv near line {bad_line}: not UTF-8 text"):
        load_labels_file(path)
