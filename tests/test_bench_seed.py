"""Every benchmark script that takes --seed refuses one numpy and scikit-learn refuse, naming --seed, before work."""

import sys

import pytest

from conftest import benchmark_module, usage_error

#: Script -> the arguments it needs besides --data, --out and --seed.
SCRIPTS = {"bench_accuracy": ["--feature-sets", "hog", "--clfs", "logreg"], "bench_samplers": [],
           "bench_grouped": [], "bench_deep": ["cnn"]}


@pytest.mark.parametrize("value", ["-1", "4294967296", "abc"])
@pytest.mark.parametrize("name", SCRIPTS)
def test_a_seed_out_of_range_is_a_usage_error_naming_seed(folder_dataset, tmp_path, monkeypatch, capsys, name, value):
    """bench_samplers, bench_grouped and bench_deep ended in a traceback (bench_samplers' after HOG, bench_deep's
    after TensorFlow's import and the data), bench_accuracy blamed a --clf-param that was never given."""
    bench = benchmark_module(name)
    for loader in ("load_dataset", "load_folder"):
        monkeypatch.setattr(bench, loader, lambda *a, **k: pytest.fail("loaded"), raising=False)
    monkeypatch.setattr(bench, "import_keras", lambda *a: pytest.fail("TensorFlow imported"), raising=False)
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *SCRIPTS[name], "--data", str(folder_dataset),
                                      "--out", str(tmp_path / "r.json"), "--seed", value])
    usage_error(bench.main)
    error = capsys.readouterr().err.splitlines()[-1]
    assert "error: argument --seed:" in error and "4294967295" in error and "--clf-param" not in error
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("value, expected", [("0", 0), ("4294967295", 4294967295)])
def test_the_seed_range_ends_are_taken(value, expected):
    assert benchmark_module("_results").seed(value) == expected
