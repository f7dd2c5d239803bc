"""Every benchmark script refuses, before any work, an --out that would replace an input or is a folder."""

import shutil
import sys

import pytest

from conftest import benchmark_module

#: Script -> the arguments it needs besides --data and --out.
SCRIPTS = {
    "bench_features": [], "bench_predict": ["--models", "hog:linear-svm", "--frames", "10", "--images", "10"],
    "bench_svm": [], "bench_grouped": [], "bench_samplers": [], "bench_fit": [], "bench_deep": ["throughput"],
}


@pytest.fixture
def dataset(folder_dataset):
    """The tiny class folders with a .jpg among the test images (bench_predict times .jpg files)."""
    png = next((folder_dataset / "test" / "happy").glob("*.png"))
    shutil.copy(png, png.with_suffix(".jpg"))
    return folder_dataset


def _run(name: str, argv: list[str], monkeypatch):
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *argv])  # some mains read sys.argv, the others take None
    bench = benchmark_module(name)
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("loaded"), raising=False)
    monkeypatch.setattr(bench, "load_folder", lambda *a, **k: pytest.fail("loaded"), raising=False)
    return bench.main()


@pytest.mark.parametrize("name", SCRIPTS)
def test_an_out_onto_a_dataset_image_is_refused_before_any_work(dataset, monkeypatch, name):
    """Six scripts wrote their JSON over the image (or the dataset's CSV) and exited 0."""
    image = next((dataset / "test" / "happy").glob("*.jpg"))
    before = image.read_bytes()
    with pytest.raises(SystemExit, match="--out .* is inside the dataset folder"):
        _run(name, [*SCRIPTS[name], "--data", str(dataset), "--out", str(image)], monkeypatch)
    assert image.read_bytes() == before


@pytest.mark.parametrize("name", [*SCRIPTS, "bench_loading"])
def test_an_out_that_is_a_folder_is_refused_before_any_work(dataset, tmp_path, monkeypatch, name):
    """It failed after all the work with an IsADirectoryError traceback (bench_loading: 100,000 images later)."""
    data = [] if name == "bench_loading" else ["--data", str(dataset)]
    with pytest.raises(SystemExit, match="--out .*folder"):
        _run(name, [*SCRIPTS.get(name, []), *data, "--out", str(tmp_path)], monkeypatch)


def test_bench_svm_refuses_a_png_out(dataset, tmp_path, monkeypatch, capsys):
    """The plot, written beside the JSON as .png, replaced the results."""
    with pytest.raises(SystemExit):
        _run("bench_svm", ["--data", str(dataset), "--out", str(tmp_path / "svm.png")], monkeypatch)
    assert "name the JSON results (the plot is written beside them as .png)" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["bench_features", "bench_grouped"])
@pytest.mark.parametrize("target", ["photo.jpg", "README.md"])
def test_an_out_that_is_no_json_path_is_refused_before_any_work(dataset, tmp_path, monkeypatch, name, target):
    """The results replaced any existing file (a photo, the README) with JSON and said 'Results written'."""
    out = tmp_path / target
    out.write_bytes(b"the user's")
    with pytest.raises(SystemExit, match=r"--out .*: the results are JSON, .* give a \.json path"):
        _run(name, [*SCRIPTS[name], "--data", str(dataset), "--out", str(out)], monkeypatch)
    assert out.read_bytes() == b"the user's"


def test_results_json_writes_a_score_that_could_not_be_computed_as_null(tmp_path):
    import json

    from conftest import benchmark_module

    path = tmp_path / "r.json"  # bench_svm wrote NaN, which strict JSON parsers refuse
    benchmark_module("_results").write_json(path, {"rows": [{"private_accuracy": float("nan"), "n": 3}]})
    assert json.loads(path.read_text(), parse_constant=pytest.fail) == {"rows": [{"private_accuracy": None, "n": 3}]}


def _no_test_split():
    from fer_classic.exceptions import DatasetError

    raise DatasetError("no test split")


def _ctrl_c():
    raise KeyboardInterrupt


@pytest.mark.parametrize("main, code", [(_no_test_split, "error: no test split"), (_ctrl_c, 130), (lambda: 3, 3)],
                         ids=["package-error", "ctrl-c", "exit-code"])
def test_a_script_run_ends_without_a_traceback(main, code):
    """A split the data lacks, a missing extra, Ctrl-C: Python's traceback after the run's work."""
    with pytest.raises(SystemExit) as ended:
        benchmark_module("_results").run_script(main)
    assert ended.value.code == code


def test_a_main_returning_no_int_ends_with_exit_status_0():
    """A main that returned a dict exited 1 with the dict printed on stderr as if it were an error."""
    with pytest.raises(SystemExit) as ended:
        benchmark_module("_results").run_script(lambda: {"rows": []})
    assert ended.value.code == 0


@pytest.mark.parametrize("name", ["bench_features", "bench_grouped"])
def test_a_refused_out_is_a_usage_error_as_argparse_gives_them(dataset, tmp_path, monkeypatch, capsys, name):
    """A refused --out was a bare message with exit status 1, beside argparse's 'PROG: error:' ones with 2."""
    bench = benchmark_module(name)
    out = tmp_path / "notes.txt"
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *SCRIPTS[name], "--data", str(dataset), "--out", str(out)])
    with pytest.raises(SystemExit) as ended:
        bench.run_script(lambda: bench.main([*SCRIPTS[name], "--data", str(dataset), "--out", str(out)])
                         if name == "bench_features" else bench.main())
    assert ended.value.code == 2
    assert capsys.readouterr().err.startswith(f"{name}.py: error: --out {out}: the results are JSON")


def test_every_error_kind_has_its_exit_status(capsys):
    """Usage errors 2 (PROG: error:), failures 1 (error:), Ctrl-C 130: one road for every script."""
    results = benchmark_module("_results")

    def usage():
        raise results.UsageExit("--x 3: give 2")

    def failure():
        raise results.ScriptError("the child failed")

    with pytest.raises(SystemExit) as ended:
        results.run_script(usage)
    assert ended.value.code == 2 and capsys.readouterr().err.endswith(": error: --x 3: give 2\n")
    with pytest.raises(SystemExit) as ended:
        results.run_script(failure)
    assert ended.value.code == "error: the child failed"  # printed by Python, exit status 1


def _default_ctrl_c():
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("name", ["bench_loading", "bench_fit", "naive_fit", "bench_accuracy"])
def test_ctrl_c_while_a_script_imports_is_no_traceback(tmp_path, name):
    """run_script only wraps main: a Ctrl-C in the seconds of imports before it was a KeyboardInterrupt traceback."""
    import os
    import subprocess

    from conftest import REPO

    # A numpy that is Ctrl-C: every script imports it (or cv2 does) first thing.
    (tmp_path / "numpy.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGINT)\n")
    # Started as a terminal's foreground job is: a suite run in the background (`pytest &`) hands its children
    # an ignored SIGINT, which the scripts rightly keep ignored.
    ended = subprocess.run([sys.executable, str(REPO / "benchmarks" / f"{name}.py"), "--help"], capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=120,
                           preexec_fn=_default_ctrl_c)
    assert (ended.returncode, ended.stderr) == (130, "stopped\n")
