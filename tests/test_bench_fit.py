"""benchmarks/bench_fit.py: bad options are usage errors before any subset is made or process run."""

import re

import pytest

from conftest import benchmark_module, usage_error


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("bench_fit")


@pytest.mark.parametrize("args, message", [
    (["--repeat", "0"], r"--repeat 0: give 1 or more runs of each tool per size"),
    (["--data", "{tmp}/missing"], r"--data .*missing has no train/ or test/ folder; give FER2013's class folders"),
    (["--data", "{csv}"], r"--data .*fer2013.csv has no train/ or test/ folder"),
    (["--sizes", ","], r"--sizes ',': give one or more of 6k, 12k, full"),
    (["--sizes", "bogus,6k,bogus"], r"--sizes 'bogus,6k,bogus': unknown bogus; give one or more of 6k, 12k, full"),
    (["--sizes", "6k", "--repeat-sizes", "full"], r"--repeat-sizes 'full': full not among --sizes; give one or more "
                                                  r"of the sizes run \(6k\)"),
], ids=["zero-repeat", "missing-data", "csv-data", "no-size", "unknown-size-once", "repeat-size-not-run"])
def test_bad_options_are_usage_errors_before_any_work(bench, folder_dataset, csv_dataset, tmp_path, monkeypatch,
                                                      capsys, args, message):
    """An IndexError, FileNotFoundError/NotADirectoryError tracebacks, empty rows (exit 0), a name listed twice,
    a --repeat-sizes silently ignored."""
    monkeypatch.setattr(bench, "make_subset", lambda *a, **k: pytest.fail("subset made"))
    args = [a.format(tmp=tmp_path, csv=csv_dataset) for a in args]
    monkeypatch.setattr("sys.argv", ["bench_fit.py", "--data", str(folder_dataset), "--out", str(tmp_path / "r.json"),
                                     *args])
    usage_error(bench.main)
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


def test_good_options_reach_the_subsets(bench, folder_dataset, tmp_path, monkeypatch):
    class Made(Exception):
        pass

    def make_subset(data, root, per_class):
        raise Made(root.name)

    monkeypatch.setattr(bench, "make_subset", make_subset)
    monkeypatch.setattr("sys.argv", ["bench_fit.py", "--data", str(folder_dataset), "--out", str(tmp_path / "r.json"),
                                     "--sizes", "6k,12k", "--repeat", "3", "--repeat-sizes", "12k"])
    with pytest.raises(Made, match="6k"):
        bench.main()
