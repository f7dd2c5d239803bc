"""benchmarks/bench_grouped.py's TFEID helpers: file-name parsing, class folders, fold summary (no real images)."""

import re

import cv2
import pytest

from conftest import REPO, benchmark_module, random_gray, usage_error
from fer_classic.labels import CANONICAL_LABELS


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("bench_grouped")


@pytest.fixture
def tfeid_folder(tmp_path):
    """A flat folder of TFEID-named placeholder files (bytes, not images) and one stranger."""
    source = tmp_path / "faces_256x256"
    source.mkdir()
    for name in ("0101a02.jpg", "0111b01.jpg", "0121d02.jpg", "0232g03.jpg", "1201002.jpg", "Readme.txt"):
        (source / name).write_bytes(b"not an image")
    return source


def test_name_gives_subject_view_and_canonical_label(bench):
    assert bench.parse_tfeid_name("0111b01.jpg") == {"subject": "01", "view": "1", "label": "happy"}


def test_every_expression_letter_maps_to_a_canonical_label(bench):
    labels = {bench.parse_tfeid_name(f"01{'0' if letter == 'a' else '1'}1{letter}01.jpg")["label"]
              for letter in "abcdefg"}
    assert labels == set(CANONICAL_LABELS) - {"contempt"}


def test_calm_image_without_its_letter_is_neutral(bench):
    assert bench.parse_tfeid_name("/some/folder/1201002.jpg") == {"subject": "12", "view": "1", "label": "neutral"}


def test_missing_letter_outside_the_calm_performance_type_is_refused(bench):
    with pytest.raises(ValueError, match="performance type 1"):
        bench.parse_tfeid_name("1211002.jpg")


def test_other_names_are_refused(bench):
    with pytest.raises(ValueError, match="not a TFEID file name"):
        bench.parse_tfeid_name("0111h01.jpg")


def test_groups_pattern_reads_the_performer_of_both_spellings(bench):
    regex = re.compile(bench.TFEID_GROUPS)
    assert [regex.search(n).group(1) for n in ("0111b01.jpg", "1201002.jpg")] == ["01", "12"]


def test_prepare_copies_front_views_into_class_folders(bench, tfeid_folder, tmp_path):
    report = bench.prepare_tfeid(tfeid_folder, tmp_path / "tfeid")
    assert sorted(p.relative_to(tmp_path / "tfeid").as_posix() for p in (tmp_path / "tfeid").rglob("*.jpg")) == [
        "angry/0121d02.jpg", "happy/0111b01.jpg", "neutral/0101a02.jpg", "neutral/1201002.jpg"]
    assert (report["other_views"], report["not_tfeid"], report["subjects"]) == (["0232g03.jpg"], ["Readme.txt"], 2)


def test_prepare_refuses_a_folder_inside_the_repository(bench, tfeid_folder):
    with pytest.raises(SystemExit, match="inside the repository"):
        bench.prepare_tfeid(tfeid_folder, REPO / "tfeid-should-not-exist")


def test_prepare_refuses_a_folder_that_is_not_empty(bench, tfeid_folder, tmp_path):
    (tmp_path / "tfeid").mkdir()
    (tmp_path / "tfeid" / "keep.txt").write_text("x")
    with pytest.raises(SystemExit, match="not empty"):
        bench.prepare_tfeid(tfeid_folder, tmp_path / "tfeid")


def test_fold_summary_uses_the_sample_standard_deviation(bench):
    assert bench.fold_summary([0.5, 0.7]) == {"mean": 0.6, "std": 0.1414, "min": 0.5, "max": 0.7}


@pytest.mark.parametrize("args, message", [
    (["--jobs", "0"], r"--jobs 0: give 1 or more folds fitted at once \(1: one fold at a time"),
    (["--jobs", "-1"], r"--jobs -1: give 1 or more folds fitted at once"),
    (["--n-jobs", "0"], "--n-jobs 0: give 1 or more decoding threads, or -1 for all cores"),
    (["--n-jobs", "-2"], "--n-jobs -2: give 1 or more decoding threads, or -1 for all cores"),
    (["--folds", "1"], "--folds must be 2 or more and --inner-cv 0 .* or 2 or more"),
    (["--groups", "no-group"], "--groups pattern 'no-group' needs a capturing group"),
], ids=["zero-jobs", "negative-jobs", "zero-n-jobs", "below-minus-one-n-jobs", "one-fold", "groups-without-group"])
def test_bad_arguments_are_usage_errors_before_loading(bench, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setattr("fer_classic.load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr("sys.argv", ["bench_grouped.py", "--data", str(tmp_path), "--out", str(tmp_path / "r.json"),
                                     *args])
    usage_error(bench.main)
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


GOOD = ["--local-svm", "none", "--folds", "3", "--inner-cv", "0", "--jobs", "1"]


@pytest.mark.parametrize("args, message", [
    (["--feature-sets", "foo"], r"--feature-sets .foo.: Unknown features foo; choose from pixels, hog"),
    (["--local-svm", "foo"], r"--local-svm 'foo': Unknown features foo; .* Or give 'best' or 'none'"),
    (["--fixed-C", "-1"], r"--fixed-C -1: give a C above 0 \(The 'C' parameter of SVMClassifier"),
    (["--inner-cv", "2", "--C", "-1", "0"], r"--C -1: give a C above 0"),
    (["--local-svm", "hog", "--inner-cv", "2", "--C", "1", "0"], r"--C 0: give a C above 0"),
    (["--size", "0"], r"--size 0: size must be an int >= 4"),
    (["--folds", "20"], r"--folds 20: the file names under --data .* name 3 subject\(s\) \(--groups\); give at most 3"),
    (["--feature-sets", ",", "--local-svm", "best"], r"--feature-sets ',' names no feature set; give one or more"),
    (["--data", "{tmp}/missing"], r"--data .*missing is not a folder; give the TFEID class folders"),
    (["--prepare", "{tmp}/missing"], r"--prepare .*missing is not a folder; give the folder of the TFEID files"),
], ids=["unknown-feature-set", "unknown-local-svm", "negative-fixed-C", "negative-C", "zero-C-local-svm", "zero-size",
        "more-folds-than-subjects", "no-feature-set-for-best", "missing-data", "missing-prepare"])
def test_bad_options_are_usage_errors_before_loading(bench, tfeid_folder, tmp_path, monkeypatch, capsys, args,
                                                     message):
    """Each failed with a traceback: after the data (every svm row, for --local-svm foo), or at once (--prepare)."""
    monkeypatch.setattr("fer_classic.load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    args = [a.format(tmp=tmp_path) for a in args]
    monkeypatch.setattr("sys.argv", ["bench_grouped.py", "--data", str(tfeid_folder), "--out",
                                     str(tmp_path / "r.json"), *GOOD, *args])
    usage_error(bench.main)
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()
    assert not (tmp_path / "missing").exists()


def test_good_options_reach_loading(bench, tfeid_folder, tmp_path, monkeypatch):
    class Loaded(Exception):
        pass

    def load_dataset(path, **kwargs):
        raise Loaded(path)

    monkeypatch.setattr("fer_classic.load_dataset", load_dataset)
    monkeypatch.setattr("sys.argv", ["bench_grouped.py", "--data", str(tfeid_folder), "--out", str(tmp_path / "r.json"),
                                     *GOOD, "--feature-sets", "hog,hog+lbp", "--local-svm", "lbp", "--inner-cv", "2"])
    with pytest.raises(Loaded):
        bench.main()


@pytest.fixture
def tfeid_classes(tmp_path):
    """Class folders of 48x48 PNGs with TFEID names: 3 subjects x 2 classes x 2 images."""
    root = tmp_path / "tfeid"
    for label, letter in (("neutral", "a"), ("happy", "b")):
        (root / label).mkdir(parents=True)
        for seed, subject in enumerate(("01", "02", "03")):
            for serial in ("01", "02"):
                cv2.imwrite(str(root / label / f"{subject}11{letter}{serial}.png"), random_gray((48, 48), seed=seed))
    return root


AFTER_LOADING = ["--folds", "3", "--inner-cv", "0", "--jobs", "1", "--n-jobs", "1", "--local-svm", "none",
                 "--crop", "none", "--feature-sets", "hog"]


def test_folds_above_the_subjects_left_after_skipped_images_are_a_usage_error_before_any_fold(
        bench, tfeid_classes, tmp_path, monkeypatch, capsys):
    for path in tfeid_classes.rglob("03*.png"):  # subject 03 named by its files, but none of them decodes
        path.write_bytes(b"not an image")
    monkeypatch.setattr(bench, "run_fold", lambda *a, **k: pytest.fail("a fold was fitted"))
    monkeypatch.setattr("sys.argv", ["bench_grouped.py", "--data", str(tfeid_classes), "--out",
                                     str(tmp_path / "r.json"), *AFTER_LOADING])
    with pytest.warns(UserWarning, match="4 of 12 files .* skipped"):
        usage_error(bench.main)
    assert re.search(r"--folds 3: the images loaded from --data .*tfeid are of 2 subject\(s\); give at most that "
                     "many folds", capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


def test_a_loaded_image_whose_name_has_no_subject_stops_before_any_fold(bench, tfeid_classes, tmp_path, monkeypatch):
    cv2.imwrite(str(tfeid_classes / "happy" / "face.png"), random_gray((48, 48)))
    monkeypatch.setattr(bench, "run_fold", lambda *a, **k: pytest.fail("a fold was fitted"))
    monkeypatch.setattr("sys.argv", ["bench_grouped.py", "--data", str(tfeid_classes), "--out",
                                     str(tmp_path / "r.json"), *AFTER_LOADING])
    with pytest.raises(SystemExit, match=r"face.png: file name does not match the groups pattern .*; fix --groups"):
        bench.main()
    assert not (tmp_path / "r.json").exists()


def test_inner_cv_above_a_training_parts_subjects_names_inner_cv_before_any_fold(
        bench, tfeid_classes, tmp_path, monkeypatch):
    # search_model refused it inside the first fold, naming its own option: "--cv 3 needs at least 3 groups".
    monkeypatch.setattr(bench, "run_fold", lambda *a, **k: pytest.fail("a fold was fitted"))
    options = [*AFTER_LOADING[:2], "--inner-cv", "3", *AFTER_LOADING[4:]]
    monkeypatch.setattr("sys.argv", ["bench_grouped.py", "--data", str(tfeid_classes), "--out",
                                     str(tmp_path / "r.json"), *options])
    with pytest.raises(SystemExit) as exit_info:
        bench.main()
    message = str(exit_info.value)
    assert re.search(r"^outer fold \d of --folds 3: --inner-cv 3 needs at least 3 groups of images, but the 8 training "
                     r"images form 2 .*; use --inner-cv 2 or fewer folds\. Or --inner-cv 0 for a fixed C\.$", message)
    assert "--cv" not in message.replace("--inner-cv", "")
    assert not (tmp_path / "r.json").exists()


def test_fixed_c_folds_warn_about_no_option_the_user_did_not_give(bench, tfeid_classes, tmp_path, monkeypatch):
    """--inner-cv 0 warned in every fold about --block-scaling (no option of this script) with one extractor, and
    told the user to leave out --groups, which makes the outer folds."""
    import json
    import warnings

    out = tmp_path / "r.json"
    options = [*AFTER_LOADING[:-1], "hog,hog+lbp"]
    monkeypatch.setattr("sys.argv", ["bench_grouped.py", "--data", str(tfeid_classes), "--out", str(out), *options])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bench.main()
    said = [str(w.message) for w in caught]
    assert not [m for m in said if "--block-scaling" in m or "--groups" in m], said
    results = json.loads(out.read_text())
    assert [row["features"] for row in results["rows"]] == ["hog", "hog+lbp"] and results["complete"]
    assert results["source"] is None  # was the TFEID repository, for these images made by the test


def test_the_source_recorded_is_where_prepare_copied_the_images_from(bench, tfeid_folder, tmp_path):
    bench.prepare_tfeid(tfeid_folder, tmp_path / "tfeid")
    assert bench.prepared_source(tmp_path / "tfeid") == str(tfeid_folder.resolve())
    assert bench.prepared_source(tfeid_folder) is None
