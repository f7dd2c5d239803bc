import gzip

import numpy as np
import pytest

from conftest import write_csv_dataset
from fer_classic.data import load_dataset, load_fer2013_csv
from fer_classic.exceptions import DatasetError, DatasetFormatError, UnknownLabelError

HEADER = "emotion,pixels,Usage\n"
ROW = " ".join(["7"] * 16)


def test_round_trips_pixels_and_labels(csv_dataset, tiny_faces):
    data = load_fer2013_csv(csv_dataset)
    np.testing.assert_array_equal(data.images, tiny_faces.images)
    assert data.labels.tolist() == tiny_faces.labels.tolist()


def test_usage_maps_to_splits_and_keeps_halves_apart(tmp_path, tiny_faces):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"0,{ROW},Training\n3,{ROW},PublicTest\n6,{ROW},PrivateTest\n")
    data = load_fer2013_csv(path)
    assert data.splits.tolist() == ["train", "test", "test"]
    assert data.select("PrivateTest").labels.tolist() == ["neutral"]


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
        ("0,1 2 x 4,Training", "row 2: pixels must be .* found 'x'"),
        ("0," + " ".join(["300"] * 16) + ",Training", "row 2: pixel values must lie in 0..255"),
        ("0," + ROW + ",Holdout", "row 2: Usage 'Holdout'"),
    ],
)
def test_bad_rows_name_the_row(tmp_path, row, message):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + row + "\n")
    with pytest.raises(DatasetFormatError, match=message):
        load_fer2013_csv(path)


def test_row_with_other_pixel_count_than_first_names_its_row(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(HEADER + f"0,{ROW},Training\n0,{' '.join(['1'] * 25)},Training\n")
    with pytest.raises(DatasetFormatError, match="row 3: 25 pixel values, but earlier rows hold 16"):
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
