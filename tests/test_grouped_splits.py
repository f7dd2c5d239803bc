"""Unsplit data from a labels file through every command, and splits that never put related images on both sides."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from fer_classic.cli import main
from fer_classic.data import load_dataset

_SPELLINGS = {"angry": "ANGER", "happy": "Happiness", "sad": "sadness", "surprise": "Surprise"}


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    """Per subject and expression a short sequence of near-identical frames, listed in a labels CSV.

    Frames of one sequence differ by a little noise: near duplicates that a
    random fold split would put on both sides.
    """
    root = tmp_path_factory.mktemp("sequences")
    rng = np.random.default_rng(0)
    lines = ["image,emotion"]
    yy, xx = np.mgrid[:48, :48]
    for subject in range(8):
        for k, (label, spelling) in enumerate(_SPELLINGS.items()):
            base = rng.integers(40, 215, size=(48, 48)).astype(float)
            base += 60 * np.sin((xx * (k + 1) + yy * (subject + 1)) / 7.0)
            for frame in range(4):
                image = np.clip(base + rng.normal(0, 2, size=base.shape), 0, 255).astype(np.uint8)
                name = f"S{subject:02d}_{k}_{frame}.png"
                cv2.imwrite(str(root / name), image)
                lines.append(f"{name},{spelling}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root / "labels.csv"


@pytest.mark.parametrize("command", [
    ["describe", "--data", "{csv}"],
    ["fit", "--data", "{csv}", "--clf", "knn", "--out", "{tmp}/m.joblib"],
    ["search", "--data", "{csv}", "--clf", "knn", "--cv", "5", "--out", "{tmp}/s.joblib",
     "--results", "{tmp}/r.csv"],
])
def test_labels_file_without_splits_works_for_every_command(sequences, tmp_path, command):
    args = [a.format(csv=sequences, tmp=tmp_path) for a in command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_evaluate_split_all_on_a_labels_file(sequences, tmp_path):
    runner = CliRunner()
    model = tmp_path / "m.joblib"
    assert runner.invoke(main, ["fit", "--data", str(sequences), "--clf", "knn", "--out", str(model)]).exit_code == 0
    result = runner.invoke(main, ["evaluate", str(model), "--data", str(sequences), "--split", "all", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_test"] == 8 * 4 * 4


def test_evaluate_default_split_on_unsplit_data_names_the_fix(sequences, tmp_path):
    runner = CliRunner()
    model = tmp_path / "m.joblib"
    runner.invoke(main, ["fit", "--data", str(sequences), "--clf", "knn", "--out", str(model)])
    result = runner.invoke(main, ["evaluate", str(model), "--data", str(sequences)])
    assert result.exit_code != 0 and "with --split held-out (--split all would also score its" in result.output


def test_near_duplicate_frames_share_a_group(sequences):
    from fer_classic._training import image_groups

    data = load_dataset(sequences)
    groups, grouping = image_groups(data)
    sequence = np.array([s.rsplit("_", 1)[0] for s in data.sources])
    assert "near-duplicate" in grouping
    for name in np.unique(sequence):
        assert len(np.unique(groups[sequence == name])) == 1  # a sequence's frames stay together


@pytest.mark.parametrize("pattern", [None, r"S(\d+)_"])
def test_search_folds_keep_groups_on_one_side(sequences, monkeypatch, pattern):
    import fer_classic.model_selection as ms

    seen = []
    real = ms.GridSearchCV

    class Recording(real):
        def fit(self, X, y=None, *, groups=None, **params):
            seen.append([(train, test) for train, test in self.cv.split(X, y, groups)])
            seen.append(groups)
            return super().fit(X, y, groups=groups, **params)

    monkeypatch.setattr(ms, "GridSearchCV", Recording)
    ms.search_model(sequences, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1]}, cv=3,
                    groups=pattern)
    folds, groups = seen
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    if pattern:
        assert len(np.unique(groups)) <= 8  # subjects, not images


def test_search_reports_worst_fold(sequences):
    from fer_classic.model_selection import search_model

    result = search_model(sequences, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1, 3]},
                          cv=3)
    for row in result.summary()["ranking"]:
        assert row["worst"] <= row["score"] and row["std"] >= 0


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """Each of 24 faces saved twice (two files), listed by ``ids.csv`` (``id,image,label``, id = row number)
    and by ``subjects.csv`` (``subject,image,label``, 6 persons of 8 images each); ``crossed.csv`` as
    ``subjects.csv`` but the second copy of the first face filed under the second person."""
    from fer_classic.data import make_synthetic_faces

    root = tmp_path_factory.mktemp("copies")
    faces = make_synthetic_faces(6, 0, random_state=5)
    faces = faces.subset(np.isin(faces.labels, list(_SPELLINGS)))
    ids, subjects = ["id,image,label"], ["subject,image,label"]
    for i, (image, label) in enumerate(zip(faces.images, faces.labels)):
        for copy in range(2):
            name = f"face{i:02d}_{copy}.png"
            cv2.imwrite(str(root / name), image)
            ids.append(f"{len(ids) - 1},{name},{label}")
            subjects.append(f"P{i % 6},{name},{label}")
    (root / "ids.csv").write_text("\n".join(ids) + "\n")
    (root / "subjects.csv").write_text("\n".join(subjects) + "\n")
    subjects[2] = subjects[2].replace("P0,", "P1,", 1)
    (root / "crossed.csv").write_text("\n".join(subjects) + "\n")
    return root


def test_an_id_column_naming_each_image_is_not_taken_for_subjects(copies):
    from fer_classic._training import image_groups
    from fer_classic.workflow import split_train_test

    data = load_dataset(copies / "ids.csv")
    assert len(np.unique(data.subjects)) == len(data)  # read as subjects, one per image
    with pytest.warns(UserWarning, match=rf"{copies / 'ids.csv'}: its column 'id' gives each of its {len(data)} "
                                         r"images a subject of its own \('0', '1', '2', \.\.\.\), "
                                         r"which groups nothing"):
        groups, grouping = image_groups(data)
    assert "near-duplicate" in grouping
    face = np.array([s.rsplit("_", 1)[0] for s in data.sources])
    for name in np.unique(face):
        assert len(np.unique(groups[face == name])) == 1  # both copies of a face in one group
    with pytest.warns(UserWarning, match="its column 'id'"):
        train, test, held_out = split_train_test(data)
    assert held_out
    in_train = {image.tobytes() for image in train.images}
    assert not any(image.tobytes() in in_train for image in test.images)  # no held-out image copied in train


def test_a_subject_column_that_repeats_still_groups_by_subject(copies):
    import warnings

    from fer_classic._training import image_groups

    data = load_dataset(copies / "subjects.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        groups, grouping = image_groups(data)
    assert grouping == "the dataset's subjects (6 subjects)" and len(np.unique(groups)) == 6


def test_a_copy_filed_under_two_subjects_joins_them(copies):
    """Subjects kept a person on one side, not a copy filed under two: it was in train and test (10 of 121)."""
    from fer_classic._training import image_groups

    groups, grouping = image_groups(load_dataset(copies / "crossed.csv"))
    assert groups[0] == groups[1] and len(np.unique(groups)) == 5
    assert grouping == "the dataset's subjects (6 subjects; 1 joined to another by a pixel-identical image in both)"


def test_copies_whose_file_names_name_two_subjects_share_a_group(copies):
    from fer_classic._training import image_groups

    groups, _ = image_groups(load_dataset(copies / "subjects.csv"), r"(face\d+_\d)")  # a subject per file
    assert len(np.unique(groups)) == 24  # the two copies of each of the 24 faces together


@pytest.mark.parametrize("groups, pixels, expected", [
    # the subject's name, not that of an image without one ('#' sorts first)
    (["#image0", "P1", "P1"], [0, 0, 1], ["P1", "P1", "P1"]),
    (["A", "B", "B", "C"], [0, 0, 1, 1], ["B", "B", "B", "B"]),  # a chain of copies across three subjects
    (["A", "B"], [0, 1], ["A", "B"]),  # no copy: unchanged
])
def test_joined_groups_take_their_largest_members_name(groups, pixels, expected):
    from fer_classic.data._duplicates import join_exact_copies

    images = [np.full((4, 4), value, np.uint8) for value in pixels]
    joined, n = join_exact_copies(images, np.array(groups))
    assert joined.tolist() == expected and n == len(set(groups)) - len(set(expected))
