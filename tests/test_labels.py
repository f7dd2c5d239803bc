import re
import warnings

import pytest

from fer_classic import load_dataset
from fer_classic.exceptions import LabelMergeWarning, UnknownLabelError, UnusedLabelMapWarning
from fer_classic.labels import (
    CANONICAL_LABELS,
    FER2013_LABELS,
    canonical_label,
    fer2013_label,
    parse_label_map,
    sort_labels,
)

from conftest import write_csv_dataset, write_folder_dataset


@pytest.mark.parametrize(
    "spelling, expected",
    [
        ("angry", "angry"), ("Anger", "angry"), ("DISGUSTED", "disgust"), ("fearful", "fear"),
        ("happiness", "happy"), (" Sadness ", "sad"), ("surprised", "surprise"),
        ("Neutral", "neutral"), ("contempt", "contempt"),
    ],
)
def test_canonical_label_accepts_common_spellings(spelling, expected):
    assert canonical_label(spelling) == expected


def test_canonical_label_rejects_unknown_name():
    with pytest.raises(UnknownLabelError, match="Unknown emotion label 'bored'"):
        canonical_label("bored")


def test_numeric_label_without_map_suggests_label_map():
    with pytest.raises(UnknownLabelError, match="label map"):
        canonical_label("3")


def test_label_map_maps_numbered_folders():
    assert canonical_label("3", {"3": "happiness"}) == "happy"


@pytest.mark.parametrize("emotion_id, label",
                         list(enumerate(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])))
def test_fer2013_ids_follow_the_csv_convention(emotion_id, label):
    assert fer2013_label(emotion_id) == label


def test_fer2013_id_out_of_range_is_an_error():
    with pytest.raises(UnknownLabelError, match="outside 0..6"):
        fer2013_label(7)


def test_sort_labels_follows_vocabulary_not_input_order():
    assert sort_labels(["neutral", "angry", "surprise", "happy", "angry"]) == ["angry", "happy", "surprise", "neutral"]


def test_sort_labels_puts_unknown_labels_after_canonical_ones():
    assert sort_labels(["zeta", "sad", "alpha"]) == ["sad", "alpha", "zeta"]


def test_fer2013_labels_are_the_first_seven_canonical():
    assert FER2013_LABELS == CANONICAL_LABELS[:7]


def test_parse_label_map_from_text():
    assert parse_label_map("0=anger, 1=Happiness") == {"0": "angry", "1": "happy"}


def test_parse_label_map_keys_may_hold_equals_signs():
    assert parse_label_map("a=b=happy") == {"a=b": "happy"}


@pytest.mark.parametrize("text", ["0=happy;1=sad", "0=happy 1=sad", "0=happy ; 1=sad,2=fear"])
def test_parse_label_map_refuses_pairs_joined_otherwise_than_by_commas(text):
    # Was {'0=happy;1': 'sad'}: ids 0 and 1 unmapped, with only an UnusedLabelMapWarning.
    with pytest.raises(UnknownLabelError, match=r"holds several KEY=LABEL pairs; separate pairs with commas "
                                                r"\('0=happy,1=sad'\)"):
        parse_label_map(text)


def test_parse_label_map_rejects_entry_without_equals():
    with pytest.raises(UnknownLabelError, match="KEY=LABEL"):
        parse_label_map("0:angry")


@pytest.mark.parametrize("text, message", [
    ("foo", r"entry 'foo' is not KEY=LABEL.*labels from: angry, disgust"),
    ("0=", r"entry '0=' is not KEY=LABEL"),
    ("=happy", r"entry '=happy' is not KEY=LABEL"),
    ("0=cat", r"entry '0=cat': unknown label 'cat'; allowed labels are angry, disgust"),
    ("0=angry,0=happy", r"key '0' is given twice \(0=angry and 0=happy\)"),
    ("Happy=sad,happy=fear", r"key 'happy' is given twice \(Happy=sad and happy=fear\)"),
])
def test_parse_label_map_errors_name_the_entry(text, message):
    with pytest.raises(UnknownLabelError, match=message):
        parse_label_map(text)


@pytest.mark.parametrize("text", ["", " ", ",", " , ,"])
def test_parse_label_map_refuses_text_without_entries(text):
    with pytest.raises(UnknownLabelError, match="holds no KEY=LABEL entry"):
        parse_label_map(text)


def test_label_map_entries_folding_into_one_label_warn_naming_both():
    with pytest.warns(LabelMergeWarning, match="0=happy; 1=happy"):
        assert parse_label_map("0=happy,1=Happiness,2=sad") == {"0": "happy", "1": "happy", "2": "sad"}


def _labels_file(folder):
    path = folder / "labels.csv"
    rows = [f"{p.relative_to(folder)},{p.parent.name}" for p in sorted(folder.rglob("*.png"))]
    path.write_text("image,label\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(params=["folder", "fer2013", "labels"])
def dataset_and_key(request, tmp_path, tiny_faces):
    """A dataset of each format that takes a label map, and a key it holds (folder name, id, label)."""
    if request.param == "fer2013":
        return write_csv_dataset(tmp_path / "fer2013.csv", tiny_faces), "3"
    folder = write_folder_dataset(tmp_path / "faces", tiny_faces)
    return (folder if request.param == "folder" else _labels_file(folder)), "Happy"


def test_label_map_key_matching_nothing_is_warned(dataset_and_key):
    path, key = dataset_and_key
    with pytest.warns(UnusedLabelMapWarning, match=rf"'hapy' match no label in {re.escape(str(path))}"):
        load_dataset(path, label_map={key: "happy", "hapy": "happy"})


def test_label_map_whose_keys_all_match_is_not_warned(dataset_and_key):
    path, key = dataset_and_key
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnusedLabelMapWarning)
        assert "happy" in load_dataset(path, label_map={key: "happy"}).classes


@pytest.mark.parametrize("text, key", [("4.0", "4"), ("01.0", "1"), ("01", "01"), ("1e1", "1e1"), ("+3", "+3"),
                                       ("1.5", "1.5")])
def test_only_a_zero_fraction_is_dropped_from_an_id(text, key):
    from fer_classic.labels import integral_text

    assert integral_text(text) == key


def test_label_map_keys_that_differ_in_leading_zeros_stay_apart():
    assert parse_label_map("1=happy,01=sad") == {"1": "happy", "01": "sad"}


@pytest.mark.parametrize("mapping, message", [
    ({"Happy": "sad", "happy": "angry"}, r"key 'happy' is given twice \(Happy=sad and happy=angry\)"),
    ({" 3": "sad", "3": "angry"}, r"key '3' is given twice"),
    ({"0": None}, r"entry '0': None is not a label name"),
    ({"0": 3}, r"entry '0': 3 is not a label name \(FER2013's ids are keys, not labels\)"),
    ({"0": "cat"}, r"entry '0=cat': unknown label 'cat'"),
    ({}, "The label map is empty"),
])
def test_a_mapping_is_checked_as_the_text_is(mapping, message):
    # The first matching key won, None was dropped, and 3 asked for a label map although one was given.
    with pytest.raises(UnknownLabelError, match=message):
        parse_label_map(mapping)


@pytest.mark.parametrize("mapping, message", [
    ({"Happy": "sad", "happy": "angry"}, "given twice"), ({" 3": "sad", "3": "angry"}, "given twice"),
    ({"0": None}, "is not a label name"),
])
def test_loaders_check_a_mapping_before_reading(tmp_path, mapping, message):
    with pytest.raises(UnknownLabelError, match=message):
        load_dataset(tmp_path / "missing.csv", label_map=mapping)


def test_a_parsed_map_is_taken_as_it_is_and_warned_once():
    with pytest.warns(LabelMergeWarning) as record:
        parsed = parse_label_map({"0": "happy", "1": "Happiness"})
        assert parse_label_map(parsed) is parsed
    assert len(record) == 1 and parsed == {"0": "happy", "1": "happy"}


def test_parse_label_map_refuses_what_is_no_map():
    with pytest.raises(TypeError, match="got list"):
        parse_label_map([("0", "happy")])


def test_an_id_missing_from_a_given_map_is_told_to_be_added_to_it():
    # Its example "5=neutral" was copied as is.
    with pytest.raises(UnknownLabelError, match=r"add it to the label map as 5=LABEL, LABEL the emotion its images "
                                                r"show"):
        canonical_label("5", parse_label_map("0=happy"))


def test_a_numbered_folder_is_told_fer2013_s_whole_map_and_that_numberings_differ():
    # It advised "--label-map 0=neutral,1=angry", which swaps FER2013's classes if copied.
    with pytest.raises(UnknownLabelError, match=r"FER2013's is --label-map 0=angry,1=disgust,2=fear,3=happy,4=sad,"
                                                r"5=surprise,6=neutral; AffectNet's and RAF-DB's differ"):
        canonical_label("0")


def test_calm_is_not_read_as_neutral():
    # RAVDESS's calm and neutral are two classes: a calm folder was silently trained as neutral.
    with pytest.raises(UnknownLabelError, match="'calm'.*pass a label map"):
        canonical_label("calm")
