"""benchmarks/bench_svm.py: bad arguments are usage errors before the data is loaded."""

import re

import pytest

from conftest import benchmark_module


@pytest.mark.parametrize("args, message", [
    (["--data", "{tmp}/no-such-data"], "--data .*no-such-data is not a folder"),
    (["--sizes", "2000", "0"], "--sizes 0: give training sizes of 1 or more images"),
    (["--n-components", "0"], "--n-components 0: give 1 or more landmarks, or leave --n-components out"),
], ids=["missing-data", "zero-size", "zero-landmarks"])
def test_bad_arguments_are_usage_errors_before_loading(folder_dataset, tmp_path, monkeypatch, capsys, args, message):
    bench = benchmark_module("bench_svm")
    monkeypatch.setattr(bench, "load_folder", lambda *a, **k: pytest.fail("data loaded"))
    given = [a.format(tmp=tmp_path) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--data", str(folder_dataset), "--out", str(tmp_path / "r.json"), *given])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
