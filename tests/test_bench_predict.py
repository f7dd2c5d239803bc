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
