"""benchmarks/bench_loading.py: bad arguments are usage errors before any image is written.

Any --n of 1 or more runs.
"""

import pytest

from conftest import benchmark_module, usage_error


@pytest.mark.parametrize("n", ["0", "-3"])
def test_n_below_one_is_a_usage_error_before_any_image_is_written(monkeypatch, capsys, tmp_path, n):
    bench = benchmark_module("bench_loading")
    monkeypatch.setattr(bench, "write_dataset", lambda *a, **k: pytest.fail("images written"))
    usage_error(bench.main, ["--n", n, "--out", str(tmp_path / "r.json")])
    assert f"--n {n}: give 1 or more images" in capsys.readouterr().err


@pytest.mark.parametrize("side, message", [
    ("0", "--side 0: size must be an int >= 4"),
    ("-2", "--side -2: size must be an int >= 4"),
    ("3", "--side 3: size must be an int >= 4"),
    ("2000", "--side 2000: size 2000 is above the 1024 px"),
], ids=["zero", "negative", "below-four", "above-the-largest"])
def test_a_side_load_folder_refuses_is_a_usage_error_before_any_image_is_written(monkeypatch, capsys, tmp_path, side,
                                                                                 message):
    bench = benchmark_module("bench_loading")
    monkeypatch.setattr(bench, "write_dataset", lambda *a, **k: pytest.fail("images written"))
    usage_error(bench.main, ["--n", "10", "--side", side, "--out", str(tmp_path / "r.json")])
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("n", [1, 3, 6])
def test_fewer_images_than_labels_are_written_without_an_empty_label_folder(tmp_path, n):
    from fer_classic.data import load_folder

    bench = benchmark_module("bench_loading")
    bench.write_dataset(tmp_path / "faces", n, 8)
    assert len(load_folder(tmp_path / "faces", size=8)) == n  # was: "Label folder ... holds no image"


def test_a_successful_run_exits_0_with_nothing_on_stderr(tmp_path, capsys):
    """main returned its result dict into run_script's SystemExit: printed on stderr, exit status 1."""
    import json

    bench = benchmark_module("bench_loading")
    out = tmp_path / "r.json"
    with pytest.raises(SystemExit) as ended:
        benchmark_module("_results").run_script(lambda: bench.main(["--n", "3", "--side", "8", "--out", str(out)]))
    assert ended.value.code == 0
    assert capsys.readouterr().err == ""
    assert json.loads(out.read_text())["n_images"] == 3
