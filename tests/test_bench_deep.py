"""benchmarks/bench_deep.py: a missing --data is a usage error before loading; 'synthetic' still loads."""

import re

import pytest

from conftest import benchmark_module, main_reaches_loading


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("bench_deep")


@pytest.mark.parametrize("part", ["throughput", "cnn", "imagenet"])
def test_a_missing_data_is_a_usage_error_before_loading(bench, tmp_path, monkeypatch, capsys, part):
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr("sys.argv", ["bench_deep.py", part, "--data", str(tmp_path / "missing"),
                                     "--out", str(tmp_path / "r.json")])
    with pytest.raises(SystemExit) as exit_info:
        bench.main()
    assert exit_info.value.code == 2
    assert re.search(r"--data .*missing does not exist; give a dataset folder or a fer2013.csv, or 'synthetic'",
                     capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


def test_synthetic_data_is_not_refused(bench, tmp_path, monkeypatch):
    assert main_reaches_loading(bench, monkeypatch, ["bench_deep.py", "throughput", "--data", "synthetic",
                                                     "--out", str(tmp_path / "r.json")]) == "synthetic"
