"""benchmarks/bench_features.py: a --data that is not a folder is a usage error before loading."""

import re

import pytest

from conftest import benchmark_module, usage_error


@pytest.mark.parametrize("data", ["missing", "faces.csv"], ids=["missing", "a-file"])
def test_a_data_that_is_not_a_folder_is_a_usage_error_before_loading(tmp_path, monkeypatch, capsys, data):
    bench = benchmark_module("bench_features")
    monkeypatch.setattr(bench, "load_folder", lambda *a, **k: pytest.fail("data loaded"))
    if data == "faces.csv":
        (tmp_path / data).write_text("emotion,pixels,Usage\n")
    usage_error(bench.main, ["--data", str(tmp_path / data), "--out", str(tmp_path / "r.json")])
    assert re.search(rf"--data .*{re.escape(data)} is not a folder; give a class-folder dataset",
                     capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("limit", ["0", "-3"])
def test_a_limit_below_one_names_its_value(tmp_path, monkeypatch, capsys, limit):
    """'--limit must be >= 1' did not say what was given."""
    bench = benchmark_module("bench_features")
    monkeypatch.setattr(bench, "load_folder", lambda *a, **k: pytest.fail("data loaded"))
    usage_error(bench.main, ["--limit", limit, "--out", str(tmp_path / "r.json")])
    assert f"--limit {limit}: give 1 or more images." in capsys.readouterr().err
