"""benchmarks/bench_fit.py and its baseline naive_fit.py: failures as one line, the model file safe."""

import runpy
import sys

import pytest

from conftest import REPO, benchmark_module


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("bench_fit")


def test_a_failed_child_is_one_line_naming_the_tool_size_and_its_error(bench):
    """It was a RuntimeError holding the child's whole traceback, inside bench_fit's own traceback."""
    child = [sys.executable, "-c", "import sys; print('Traceback ...'); sys.exit('error: x.png: unreadable')"]
    with pytest.raises(SystemExit) as ended:
        bench.run_script(lambda: bench.run(child, "naive_fit.py on size 6k"))
    assert str(ended.value) == "error: naive_fit.py on size 6k failed (exit status 1): error: x.png: unreadable"


def test_fit_output_without_an_accuracy_is_one_line(bench, monkeypatch, tmp_path):
    """A TypeError on found[1] when fit's output held no accuracy line."""
    monkeypatch.setattr(bench, "run", lambda *a: {"output": "nothing"})
    with pytest.raises(bench.ScriptError, match="fer-classic fit on size 6k: its output holds no 'accuracy' line"):
        bench.fer_classic(tmp_path, tmp_path / "m.joblib", "6k")


def test_the_subsets_hold_the_images_only(bench, folder_dataset, tmp_path):
    """fit skipped a notes.txt that naive_fit then failed on, and n_train counted it."""
    (folder_dataset / "train" / "happy" / "notes.txt").write_text("hello")
    subset = bench.make_subset(folder_dataset, tmp_path / "6k", (None, None))
    assert not (subset / "train" / "happy" / "notes.txt").exists()
    images = len(list((folder_dataset / "train" / "happy").iterdir())) - 1
    assert len(list((subset / "train" / "happy").iterdir())) == images


def test_the_subsets_leave_out_the_hidden_files_fit_skips(bench, folder_dataset, tmp_path):
    """A Mac copy's ._x.jpg (and a hidden folder) was linked: fit skipped it, naive_fit failed on it."""
    happy = folder_dataset / "train" / "happy"
    images = sorted(p.name for p in happy.iterdir())
    (happy / "._0.jpg").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (folder_dataset / "train" / ".ipynb_checkpoints").mkdir()
    subset = bench.make_subset(folder_dataset, tmp_path / "6k", (None, None))
    assert sorted(p.name for p in (subset / "train" / "happy").iterdir()) == images
    assert not (subset / "train" / ".ipynb_checkpoints").exists()


def _naive_fit_command(monkeypatch, argv):
    monkeypatch.setattr(sys, "argv", ["naive_fit.py", *argv])
    with pytest.raises(SystemExit) as ended:
        runpy.run_path(str(REPO / "benchmarks" / "naive_fit.py"), run_name="__main__")
    return ended.value


def test_naive_fit_names_a_file_opencv_cannot_read(folder_dataset, tmp_path, monkeypatch):
    """cv2.resize's '!ssize.empty()' traceback, naming no file."""
    bad = folder_dataset / "train" / "angry" / "0.png"
    bad.write_text("not an image")
    ended = _naive_fit_command(monkeypatch, [str(folder_dataset), str(tmp_path / "m.joblib")])
    assert str(ended).startswith(f"error: {bad.resolve()}: OpenCV cannot read it as an image")
    assert not (tmp_path / "m.joblib").exists()


def test_naive_fit_names_the_original_of_a_linked_file(folder_dataset, tmp_path, monkeypatch):
    """bench_fit's subsets are links in a temporary folder: the error named the link, gone when bench_fit ended."""
    bad = tmp_path / "elsewhere.jpg"
    bad.write_text("not an image")
    (folder_dataset / "train" / "angry" / "zz.jpg").symlink_to(bad)
    ended = _naive_fit_command(monkeypatch, [str(folder_dataset), str(tmp_path / "m.joblib")])
    assert str(ended).startswith(f"error: {bad}: OpenCV cannot read it as an image")


def test_naive_fit_refuses_a_model_out_that_is_a_text_file(folder_dataset, tmp_path, monkeypatch, capsys):
    """A notes.txt was replaced by the pickle."""
    precious = tmp_path / "precious.txt"
    precious.write_text("precious")
    ended = _naive_fit_command(monkeypatch, [str(folder_dataset), str(precious)])
    assert ended.code == 2 and precious.read_text() == "precious"
    assert "naive_fit.py: error: MODEL_OUT " in capsys.readouterr().err


def test_naive_fit_stopped_while_saving_keeps_the_model_there_and_prints_no_traceback(folder_dataset, tmp_path,
                                                                                      monkeypatch):
    """Ctrl-C was a KeyboardInterrupt traceback, and a dump stopped half-way left half a model."""
    import joblib

    def dump(value, path):
        with open(path, "wb") as handle:
            handle.write(b"half")
        raise KeyboardInterrupt

    model = tmp_path / "m.joblib"
    model.write_bytes(b"the earlier model")
    monkeypatch.setattr(joblib, "dump", dump)
    assert _naive_fit_command(monkeypatch, [str(folder_dataset), str(model)]).code == 130
    assert model.read_bytes() == b"the earlier model"
    assert {p.name for p in tmp_path.iterdir()} == {"m.joblib", "faces"}  # no temporary left
