import gzip
import os
import tracemalloc
import warnings

import numpy as np
import pytest

from conftest import write_csv_dataset
from fer_classic.data import load_dataset, load_fer2013_csv
from fer_classic.exceptions import (
    DatasetError,
    DatasetFormatError,
    ImageSizeError,
    LabelMergeWarning,
    UnknownLabelError,
    UnmappedIdsWarning,
)

HEADER = "emotion,pixels,Usage\n"
ROW = " ".join(["7"] * 16)


def test_round_trips_pixels_and_labels(csv_dataset, tiny_faces):
    data = load_fer2013_csv(csv_dataset)
    np.testing.assert_array_equal(data.images, tiny_faces.images)
    assert data.labels.tolist() == tiny_faces.labels.tolist()


@pytest.mark.parametrize("usages", [("Training", "PublicTest", "PrivateTest"),
                                    ("training", "PUBLICTEST", "privatetest")])  # any case: the official usage
def test_usage_maps_to_splits_and_keeps_halves_apart(tmp_path, usages):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "".join(f"{emotion},{ROW},{usage}\n" for emotion, usage in zip((0, 3, 6), usages)))
    data = load_fer2013_csv(path)
    assert data.splits.tolist() == ["train", "test", "test"]
    assert data.usages.tolist() == ["Training", "PublicTest", "PrivateTest"]
    assert data.select("PrivateTest").labels.tolist() == ["neutral"]


def test_rows_with_two_spaces_between_pixels_parse(tmp_path):
    wide = "  ".join(["255"] * 48 * 48)  # 11.5 KB: over 4 characters a pixel
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"0,{wide},Training\n3,{wide},Training\n")
    assert (load_fer2013_csv(path).images == 255).all()


@pytest.mark.parametrize("load", [load_dataset, load_fer2013_csv])
def test_a_gz_file_that_is_not_gzip_is_named_as_such(tmp_path, csv_dataset, load):
    fake = tmp_path / "fer2013.csv.gz"
    fake.write_bytes(csv_dataset.read_bytes())  # plain text under a .gz name
    with pytest.raises(DatasetFormatError, match="is not gzip data, despite its .gz suffix"):
        load(fake)


def test_reads_gzip(tmp_path, csv_dataset):
    gz = tmp_path / "fer2013.csv.gz"
    gz.write_bytes(gzip.compress(csv_dataset.read_bytes()))
    assert len(load_dataset(gz)) == len(load_dataset(csv_dataset))


def test_bom_crlf_and_blank_lines_are_accepted(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(("\ufeff" + HEADER + f"1,{ROW},Training\r\n\r\n2,{ROW},Training\r\n").encode("utf-8"))
    assert load_fer2013_csv(path).labels.tolist() == ["disgust", "fear"]


def test_resizes_to_requested_size(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"1,{ROW},Training\n")
    assert load_fer2013_csv(path, size=8).image_shape == (8, 8)


@pytest.mark.parametrize(
    "row, message",
    [
        ("0," + " ".join(["1"] * 15) + ",Training", "row 2: 15 pixel values are not a square"),
        ("0,1 2 x 4,Training", "row 2: pixels must be .*; pixel 3 of 4 is 'x'"),
        ("0," + " ".join(["300"] * 16) + ",Training", "row 2: pixels must be .*0..255; pixel 1 of 16 is '300'"),
        ("0,1 999999999999999999" + " 1" * 14 + ",Training", "row 2: .*pixel 2 of 16 is '999999999999999999'"),
        # wraps around to a valid 7 in 32-bit integers
        ("0,4294967303" + " 1" * 15 + ",Training", "row 2: .*pixel 1 of 16 is '4294967303'"),
        ("0,1 -4" + " 1" * 14 + ",Training", "row 2: .*pixel 2 of 16 is '-4'"),
        ("0," + ROW + ",Holdout", "row 2: Usage 'Holdout'"),
        ("0," + ROW, r"row 2: 2 fields, header has 3 \(emotion, pixels, Usage\); fill in the missing field"),
    ],
)
def test_bad_rows_name_the_row(tmp_path, row, message):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + row + "\n")
    with pytest.raises(DatasetFormatError, match=message):
        load_fer2013_csv(path)


def test_an_empty_trailing_header_cell_is_no_column_rows_must_fill(tmp_path):
    # "emotion,pixels,Usage," (a spreadsheet export) refused every row: "3 fields, header has 4".
    path = tmp_path / "f.csv"
    path.write_text("emotion,pixels,Usage,\n" + f"3,{ROW},Training\n0,{ROW},PublicTest,\n")
    assert load_fer2013_csv(path).splits.tolist() == ["train", "test"]


def test_a_bad_usage_is_refused_at_its_row_before_later_rows_are_read(tmp_path):
    # It was found after every row's pixels were parsed (seconds on FER2013): row 3's bad pixels spoke first.
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"0,{ROW},Tarining\n0,1 x,Training\n")
    with pytest.raises(DatasetFormatError, match="row 2: Usage 'Tarining' is not train/training"):
        load_fer2013_csv(path)


def test_row_with_other_pixel_count_than_first_names_its_row(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"0,{ROW},Training\n0,{' '.join(['1'] * 25)},Training\n")
    with pytest.raises(DatasetFormatError, match="row 3: 25 pixel values, but earlier rows hold 16"):
        load_fer2013_csv(path)


@pytest.mark.parametrize("emotion", ["-0", "-0.0"])
def test_a_negative_zero_emotion_is_no_id(tmp_path, emotion):
    # int("-0") is 0: it was read as angry, while -1 is refused.
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"{emotion},{ROW},Training\n")
    with pytest.raises(UnknownLabelError, match=f"row 2: FER2013 emotion id '{emotion}' has a minus sign"):
        load_fer2013_csv(path)


def test_unknown_emotion_id_names_the_row(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"9,{ROW},Training\n")
    with pytest.raises(UnknownLabelError, match="row 2"):
        load_fer2013_csv(path)


def test_missing_column_is_reported(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("label,pixels\n0,1 2 3 4\n")
    with pytest.raises(DatasetFormatError, match="lacks column"):
        load_fer2013_csv(path)


@pytest.mark.parametrize("text", ["", HEADER])
def test_empty_file_is_reported(tmp_path, text):
    path = tmp_path / "f.csv"
    path.write_text(text)
    with pytest.raises(DatasetError, match="empty|no data rows"):
        load_fer2013_csv(path)


def test_no_usage_column_gives_one_unsplit_set(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(f"emotion,pixels\n3,{ROW}\n")
    assert load_fer2013_csv(path).splits.tolist() == [""]


def test_csv_file_is_not_modified(csv_dataset):
    before = csv_dataset.read_bytes()
    load_fer2013_csv(csv_dataset)
    assert csv_dataset.read_bytes() == before


def test_write_and_load_agree_on_label_ids(tmp_path, tiny_faces):
    data = load_fer2013_csv(write_csv_dataset(tmp_path / "x.csv", tiny_faces))
    assert data.class_counts() == tiny_faces.class_counts()


# --- bounded lines, quoting, label maps (issue 16) ------------------------------


def _long_line_file(path, n_chars, gz):
    line = "0," + "1 " * (n_chars // 2) + ",Training\n"
    data = (HEADER + f"0,{ROW},Training\n" + line).encode()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data, compresslevel=1))
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_overlong_line_is_refused_naming_it_without_reading_it_whole(tmp_path, gz):
    path = _long_line_file(tmp_path / "f.csv", 20_000_000, gz)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetFormatError, match=r"line 3: the record is longer than 1,152 characters"):
            load_fer2013_csv(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # a 20 MB line read whole would take 40+ MB as text


def test_first_row_may_be_large_but_bounded(tmp_path):
    path = _long_line_file(tmp_path / "f.csv", 3_000_000, False)
    path.write_text(HEADER + "0," + "1 " * 1_500_000 + ",Training\n")
    with pytest.raises(DatasetFormatError, match="line 2: the record is longer than 1,049,600"):
        load_fer2013_csv(path)


def test_unclosed_quote_is_reported_where_the_record_starts(tmp_path):
    lines = [f"0,{ROW},Training"] * 5 + [f'0,"{ROW},Training'] + [f"0,{ROW},Training"] * 15
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError, match="row 7: the record runs on to line 22, so a quote opened on line 7"):
        load_fer2013_csv(path)


def test_emotion_ids_written_as_floats_are_fer2013_ids(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"4.0,{ROW},Training\n3.0,{ROW},Training\n")  # pandas' floats
    assert load_fer2013_csv(path).labels.tolist() == ["sad", "happy"]


@pytest.mark.parametrize("label_map", [{"0": "neutral", "3": "angry"}, "0=neutral,3=angry"])
def test_label_map_is_honoured_on_a_csv(tmp_path, label_map):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"0,{ROW},Training\n3,{ROW},Training\n4,{ROW},Training\n")
    with pytest.warns(UnmappedIdsWarning, match=r"emotion id\(s\) 4 are not in the label map and were read as "
                                                r"FER2013's \(4=sad\)"):
        data = load_dataset(path, size=4, label_map=label_map)
    assert data.labels.tolist() == ["neutral", "angry", "sad"]  # unmapped ids keep FER2013's meaning, warned


def test_a_label_map_of_every_id_is_not_warned(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "".join(f"{i},{ROW},Training\n" for i in (0, 3, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_dataset(path, size=4, label_map="0=neutral,3=angry")
    assert data.labels.tolist() == ["neutral", "angry", "angry"]


def test_a_label_map_keeping_fer2013_ids_is_not_warned(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "".join(f"{i},{ROW},Training\n" for i in (0, 3, 7)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_fer2013_csv(path, label_map="3=happy,7=contempt")
    assert data.labels.tolist() == ["angry", "happy", "contempt"]


def test_a_partial_label_map_warns_of_the_ids_it_leaves_and_the_classes_it_merges(tmp_path):
    # 0=neutral,1=happy on FER2013's ids: angry and disgust were gone, 0/6 and 1/3 merged, without a word.
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "".join(f"{i},{ROW},Training\n" for i in range(7)))
    with pytest.warns(UnmappedIdsWarning, match=r"emotion id\(s\) 2, 3, 4, 5, 6 are not in the label map"), \
            pytest.warns(LabelMergeWarning, match=r"merged: 0, 6 -> neutral; 1, 3 -> happy"):
        load_fer2013_csv(path, label_map="0=neutral,1=happy")


def test_a_merging_label_map_warns_of_the_merge(tmp_path):
    # 1=angry folds disgust into FER2013's angry (id 0), as folder loaders warn when two folders fold into one.
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "".join(f"{i},{ROW},Training\n" for i in (0, 1, 3)))
    with pytest.warns(LabelMergeWarning, match=r"merged: 0, 1 -> angry"), pytest.warns(UnmappedIdsWarning):
        assert load_dataset(path, size=4, label_map="1=angry").labels.tolist() == ["angry", "angry", "happy"]


def test_a_merge_the_label_map_asks_for_is_warned_once(tmp_path):
    # parse_label_map warns of 0=angry,1=angry; a second warning called them "spelled differently".
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "".join(f"{i},{ROW},Training\n" for i in range(7)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_fer2013_csv(path, label_map="0=angry,1=angry,2=fear,3=happy,4=sad,5=surprise,6=neutral")
    merges = [str(w.message) for w in caught if issubclass(w.category, LabelMergeWarning)]
    assert len(merges) == 1 and "Label map entries" in merges[0]


def test_a_name_folding_into_a_label_map_merge_is_warned(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + "".join(f"{i},{ROW},Training\n" for i in ("0", "1", "angry")))
    with pytest.warns(LabelMergeWarning, match=r"spelled differently .* merged: 0, 1, angry -> angry\. "):
        load_fer2013_csv(path, label_map="0=angry,1=angry")


def test_ids_and_names_of_one_class_in_one_column_warn_of_the_merge(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"3,{ROW},Training\nhappy,{ROW},Training\nHappiness,{ROW},Training\n4.0,{ROW},Training\n"
                    f"4,{ROW},Training\n")
    with pytest.warns(LabelMergeWarning, match=r"merged: 3, Happiness, happy -> happy\. "):
        assert load_fer2013_csv(path).labels.tolist() == ["happy"] * 3 + ["sad"] * 2


@pytest.mark.parametrize("name, separator", [("f.csv", ";"), ("f.tsv", "\t"), ("f.csv", ",")])
def test_fields_separated_as_labels_files_may_be(tmp_path, name, separator):
    path = tmp_path / name
    path.write_text(separator.join(HEADER.strip().split(",")) + "\n" + f"3{separator}{ROW}{separator}Training\n")
    assert load_dataset(path, size=4).labels.tolist() == ["happy"]


@pytest.mark.parametrize("header", ["emotion,pixels,Usage,emotion", "emotion,pixels,pixels", "Emotion,pixels,EMOTION "])
def test_a_header_naming_a_column_twice_is_refused(tmp_path, header):
    path = tmp_path / "f.csv"
    path.write_text(header + "\n" + ",".join(["0", ROW, "Training", "1"][: header.count(",") + 1]) + "\n")
    with pytest.raises(DatasetFormatError, match=r"names column\(s\) \['(emotion|pixels)'\] twice"):
        load_fer2013_csv(path)


def test_label_map_may_name_classes_beyond_fer2013_ids(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"7,{ROW},Training\n")
    assert load_fer2013_csv(path, label_map="7=contempt").labels.tolist() == ["contempt"]


def test_labels_may_be_names(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"happy,{ROW},Training\nSurprised,{ROW},Training\n")
    assert load_fer2013_csv(path).labels.tolist() == ["happy", "surprise"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("name", ["fer.csv", "fer.csv.gz"])
def test_fifo_is_refused_without_opening_it(tmp_path, name):
    path = tmp_path / name
    os.mkfifo(path)  # opening it for reading would block forever
    with pytest.raises(DatasetError, match="is not a regular file .*FIFO"):
        load_dataset(path)


@pytest.mark.parametrize("size", [100_000, 0, (48, 2000)])
def test_absurd_size_is_refused_before_reading(tmp_path, size):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"0,{ROW},Training\n")
    with pytest.raises(ImageSizeError, match="size"):
        load_fer2013_csv(path, size=size)


@pytest.mark.parametrize("pixels, message", [
    ("1 2 x 4", "pixel 3 of 4 is 'x'"),
    ("1 2 3 4x", "pixel 4 of 4 is '4x'"),     # read as 1 2 3 4, then stopped at x: as many values as tokens
    ("1 2 3\x1c4", r"'1 2 3\\x1c4'"),        # a separator Python splits at and numpy does not
])
def test_rows_older_numpy_reads_in_part_are_refused(tmp_path, monkeypatch, pixels, message):
    # NumPy before 2.x returned what it read of a malformed pixel string, with a DeprecationWarning (newer ones
    # raise ValueError); the row is refused by a count of its tokens, not by turning warnings into errors.
    import re

    from fer_classic.data import _csv

    class OlderNumpy:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def fromstring(text, dtype, sep):  # the values up to the first character it cannot read, and no error
            read = re.match(r"(?:[ \t\n\r\f\v]*[+-]?[0-9]+)*", text).group()
            return np.asarray([int(token) for token in re.findall(r"[+-]?[0-9]+", read)], dtype=dtype)

    monkeypatch.setattr(_csv, "np", OlderNumpy())
    with pytest.raises(DatasetFormatError, match=f"row 2: pixels must be .*; {message}; fix or remove the row"):
        _csv._parse_pixels(pixels, "f.csv row 2")
