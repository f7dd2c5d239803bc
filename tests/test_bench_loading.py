"""benchmarks/bench_loading.py: bad arguments are usage errors before any image is written."""

import pytest

from conftest import benchmark_module


@pytest.mark.parametrize("n", ["0", "-3"])
def test_n_below_one_is_a_usage_error_before_any_image_is_written(monkeypatch, capsys, tmp_path, n):
    bench = benchmark_module("bench_loading")
    monkeypatch.setattr(bench, "write_dataset", lambda *a, **k: pytest.fail("images written"))
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--n", n, "--out", str(tmp_path / "r.json")])
    assert exit_info.value.code == 2
    assert f"--n {n}: give 1 or more images" in capsys.readouterr().err
