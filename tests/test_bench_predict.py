"""benchmarks/bench_predict.py: a --data without test/<class>/*.jpg images is a usage error before loading."""

import re

import pytest

from conftest import benchmark_module, usage_error, write_folder_dataset


@pytest.mark.parametrize("case, message", [
    ("missing", "--data .*missing is not a folder; give FER2013's class folders"),
    ("csv", "--data .*fer2013.csv is not a folder; give FER2013's class folders"),
    ("png folders", "--data .*faces has no test/<class>/\\*.jpg images to time"),
], ids=["missing", "csv", "no-jpg-test-images"])
def test_a_data_without_test_images_to_time_is_a_usage_error_before_loading(tmp_path, monkeypatch, capsys,
                                                                            tiny_faces, csv_dataset, case, message):
    bench = benchmark_module("bench_predict")
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    data = {"missing": tmp_path / "missing", "csv": csv_dataset,
            "png folders": write_folder_dataset(tmp_path / "faces", tiny_faces)}[case]
    usage_error(bench.main, ["--data", str(data), "--out", str(tmp_path / "r.json")])
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


def test_fer2013_jpg_folders_are_not_refused(tmp_path, monkeypatch, tiny_faces):
    bench = benchmark_module("bench_predict")

    class Loaded(Exception):
        pass

    def load_dataset(path):
        raise Loaded(path)

    monkeypatch.setattr(bench, "load_dataset", load_dataset)
    data = write_folder_dataset(tmp_path / "faces", tiny_faces, ext=".jpg")
    with pytest.raises(Loaded):
        bench.main(["--data", str(data), "--out", str(tmp_path / "r.json")])


@pytest.mark.parametrize("limit", ["0", "-5"])
def test_a_train_limit_below_one_is_a_usage_error_before_loading(tmp_path, monkeypatch, capsys, tiny_faces, limit):
    """-5 trained on all but 5 images and 0 on all of them (exit 0)."""
    bench = benchmark_module("bench_predict")
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    data = write_folder_dataset(tmp_path / "faces", tiny_faces, ext=".jpg")
    usage_error(bench.main, ["--data", str(data), "--train-limit", limit, "--out", str(tmp_path / "r.json")])
    assert f"--train-limit {limit}: give 1 or more training images" in capsys.readouterr().err
    with pytest.raises(ValueError, match="train_limit must be 1 or more"):
        bench.run(data, ["hog:logreg"], int(limit), 10, 10)


def test_a_train_limit_below_the_classes_is_a_usage_error_before_loading(tmp_path, monkeypatch, capsys, tiny_faces):
    """It failed after loading, blaming the dataset: 'Test images of class(es) ... have no training images in'."""
    bench = benchmark_module("bench_predict")
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    data = write_folder_dataset(tmp_path / "faces", tiny_faces, ext=".jpg")
    n_classes = len(list((data / "train").iterdir()))
    usage_error(bench.main, ["--data", str(data), "--train-limit", "5", "--out", str(tmp_path / "r.json")])
    assert (f"--train-limit 5: fewer training images than the {n_classes} classes of --data; give {n_classes} or "
            "more (they are drawn at random, not per class)") in capsys.readouterr().err


def test_a_train_limit_that_draws_no_image_of_a_class_names_train_limit(tmp_path, monkeypatch, tiny_faces):
    bench = benchmark_module("bench_predict")
    monkeypatch.setattr(bench, "fit_model", lambda *a, **k: pytest.fail("fitted"))
    data = write_folder_dataset(tmp_path / "faces", tiny_faces, ext=".jpg")
    for path in sorted((data / "train" / "angry").iterdir())[1:]:  # one angry training image left
        path.unlink()
    n_classes = len(list((data / "train").iterdir()))
    with pytest.raises(bench.ScriptError, match=rf"^--train-limit {n_classes}: the {n_classes} training images drawn "
                                                r"at random \(not per class\) hold no image of angry; give a larger"):
        bench.run(data, ["hog:logreg"], n_classes, 10, 10)


@pytest.mark.parametrize("args, message", [
    (["--models", ""], "--models '': names no model; give one or more of hog:linear-svm, "),
    (["--models", "hog:bogus"], "--models 'hog:bogus': unknown hog:bogus; give one or more of hog:linear-svm, "),
    (["--frames", "5"], "--frames 5: give 10 or more."),
    (["--images", "3"], "--images 3: give 10 or more."),
], ids=["no-model", "unknown-model", "few-frames", "few-images"])
def test_bad_options_name_the_option_and_value(tmp_path, monkeypatch, capsys, tiny_faces, args, message):
    """'unknown model(s) []' for an empty --models; '--frames and --images must be >= 10' for either."""
    bench = benchmark_module("bench_predict")
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    data = write_folder_dataset(tmp_path / "faces", tiny_faces, ext=".jpg")
    usage_error(bench.main, ["--data", str(data), *args, "--out", str(tmp_path / "r.json")])
    assert message in capsys.readouterr().err
