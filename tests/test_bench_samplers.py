"""benchmarks/bench_samplers.py: a missing --data is a usage error before loading; 'synthetic' still loads."""

import re

import pytest

from conftest import benchmark_module, main_reaches_loading, usage_error


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("bench_samplers")


@pytest.mark.parametrize("data", ["missing", "missing/fer2013.csv"], ids=["folder", "csv"])
def test_a_missing_data_is_a_usage_error_before_loading(bench, tmp_path, monkeypatch, capsys, data):
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr("sys.argv", ["bench_samplers.py", "--data", str(tmp_path / data),
                                     "--out", str(tmp_path / "r.json")])
    usage_error(bench.main)
    assert re.search(rf"--data .*{re.escape(data)} does not exist; give a dataset folder or a fer2013.csv, or "
                     "'synthetic'", capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


def test_synthetic_data_is_not_refused(bench, tmp_path, monkeypatch):
    assert main_reaches_loading(bench, monkeypatch, ["bench_samplers.py", "--data", "synthetic",
                                                     "--out", str(tmp_path / "r.json")]) == "synthetic"


@pytest.mark.parametrize("args, message", [
    (["--per-class", "-150"], r"--per-class -150: give 1 or more training images per class"),
    (["--per-class", "0"], r"--per-class 0: give 1 or more training images per class"),
    (["--settings", "bogus"], r"--settings 'bogus': unknown bogus; give one or more of subset, full"),
    (["--settings", ","], r"--settings ',': give one or more of subset, full"),
    (["--samplers", "none,bogus,bogus"], r"--samplers 'none,bogus,bogus': unknown bogus; give one or more of none, "),
], ids=["negative-per-class", "zero-per-class", "unknown-setting", "no-setting", "unknown-sampler"])
def test_bad_options_are_usage_errors_before_loading(bench, tmp_path, monkeypatch, capsys, args, message):
    """A TypeError or ValueError after the features, a KeyError, a ValueError after HOG."""
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr("sys.argv", ["bench_samplers.py", "--data", "synthetic", "--out", str(tmp_path / "r.json"),
                                     *args])
    usage_error(bench.main)
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


def test_a_dataset_without_disgust_prints_its_row(bench, tiny_faces, capsys):
    import numpy as np

    # Its recall of disgust is None, which the row's print formatted as a number: TypeError after the fit.
    two = tiny_faces.subset(np.isin(tiny_faces.labels, ["happy", "sad"]))
    rows = bench.run_setting("subset", two, ["none"], per_class=5, seed=0)
    assert rows[0]["test"]["recall_disgust"] is None and "disgust recall -  " in capsys.readouterr().out
