"""Machine-readable outputs: never to a stream, valid UTF-8 and strict JSON, classes in display order."""

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fer_classic import _fileio
from fer_classic._fileio import atomic_write_text, check_outputs, write_together
from fer_classic.cli import main
from fer_classic.exceptions import OutputPathError

posix_only = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")


# --- F1: an output that is, or leads to, a stream is refused; the link is never replaced -------------------


def _fake_stdout(tmp_path) -> Path:
    """A link like /dev/stdout, in tmp_path (never the real /dev path: replacing it breaks every process)."""
    link = tmp_path / "fakedev" / "stdout"
    link.parent.mkdir()
    link.symlink_to("/proc/self/fd/1")
    return link


def _is_intact(link: Path) -> bool:
    return link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


@posix_only
def test_check_outputs_refuses_a_link_to_standard_output(tmp_path):
    link = _fake_stdout(tmp_path)
    with pytest.raises(OutputPathError, match=r"^--out .*stdout is not a regular file but a stream \(it is an open "
                                              r"file of a process.*atomically \(a temporary file renamed over the "
                                              r"path\).*predict --format csv"):
        check_outputs({"--out": link})
    assert _is_intact(link)


@posix_only
@pytest.mark.parametrize("chain", ["direct", "two links", "dev fd"])
def test_every_path_into_a_process_s_open_files_is_a_stream(tmp_path, chain):
    if chain == "direct":
        path = Path("/proc/self/fd/1")
    elif chain == "two links":
        first = _fake_stdout(tmp_path)
        path = tmp_path / "again.csv"
        path.symlink_to(first)
    else:
        path = Path("/dev/fd/1")
    assert "open file of a process" in _fileio.stream_of(path)


@posix_only
@pytest.mark.parametrize("write", ["atomic_write_text", "write_together"])
def test_writers_never_replace_a_link_to_a_stream(tmp_path, write):
    link = _fake_stdout(tmp_path)
    with pytest.raises(OutputPathError, match="stream"):
        if write == "atomic_write_text":
            atomic_write_text(link, "a,b\n")
        else:
            write_together([(tmp_path / "other.csv", "x\n"), (link, "a,b\n")])
    assert _is_intact(link)
    assert not (tmp_path / "other.csv").exists()  # refused before any file is written


def test_files_folders_and_links_to_files_are_no_streams(tmp_path):
    (tmp_path / "f.csv").write_text("x")
    (tmp_path / "link.csv").symlink_to(tmp_path / "f.csv")
    (tmp_path / "dangling.csv").symlink_to(tmp_path / "missing.csv")
    for path in ("f.csv", "link.csv", "dangling.csv", "new.csv", "."):
        assert _fileio.stream_of(tmp_path / path) is None
    assert check_outputs({"--out": tmp_path / "link.csv"}) == {"--out": tmp_path / "link.csv"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes")
def test_a_fifo_output_is_named_a_stream_and_still_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OutputPathError, match=r"not a regular file but a stream \(it is a FIFO"):
        check_outputs({"--out": tmp_path / "pipe"})
    with pytest.raises(OutputPathError, match="stream"):
        atomic_write_text(tmp_path / "pipe", "x")
    assert stat_is_fifo(tmp_path / "pipe")


def stat_is_fifo(path):
    import stat

    return stat.S_ISFIFO(os.lstat(path).st_mode)


def test_an_output_named_dash_is_refused_with_advice(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputPathError, match=r"^--timeline -: .*not as standard output.*give \./- for a file"):
        check_outputs({"--timeline": "-"}, text=("--timeline",))
    assert check_outputs({"--timeline": "./-"}, text=("--timeline",)) == {"--timeline": Path("-")}
    assert not Path("-").exists()


@posix_only
def test_cli_refuses_a_link_to_stdout_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    link = _fake_stdout(tmp_path)
    result = CliRunner().invoke(main, ["describe", "--data", str(tmp_path / "nothing"), "--duplicates-csv", str(link)])
    assert result.exit_code == 1
    assert re.search(r"--duplicates-csv \S+ is not a regular file but a stream", result.output)
    assert _is_intact(link)


# --- F2 and F6: names that are not UTF-8, and non-finite numbers, in CSV and JSON outputs ------------------

_BAD = os.fsdecode(b"\xffx.png")  # a name that is not UTF-8, as Python gets it (surrogate escapes)


@pytest.fixture(scope="module")
def bad_name_data(tmp_path_factory, tiny_faces):
    """A model file, and a folder dataset whose test/happy folder holds a non-UTF-8 name (a copy of a file)."""
    import shutil

    from conftest import write_folder_dataset
    from fer_classic import fit_model

    root = tmp_path_factory.mktemp("badnames")
    data = write_folder_dataset(root / "faces", tiny_faces)
    happy = data / "test" / "happy"
    shutil.copy(sorted(happy.iterdir())[0], happy / _BAD)
    model = root / "m.joblib"
    fit_model(tiny_faces, features="pixels", clf="knn", out=model)
    return model, data


def _strict_text(data: bytes) -> str:
    text = data.decode("utf-8")  # strict: raises on the raw byte 0xff
    assert "\\xffx.png" in text
    return text


def _strict_json(text: str):
    """json.loads refusing NaN and Infinity; no lone surrogate (\\udcff) anywhere."""
    assert "\\udc" not in text.lower()
    return json.loads(text, parse_constant=lambda word: pytest.fail(f"{word} is not JSON"))


@pytest.mark.skipif(os.name != "posix", reason="a non-UTF-8 file name")
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_predict_on_a_strict_utf8_stdout_writes_a_non_utf8_name_escaped(bad_name_data, fmt):
    model, data = bad_name_data
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    result = subprocess.run([sys.executable, "-c", "from fer_classic.cli import main; main()", "predict", str(model),
                             str(data / "test" / "happy"), "--format", fmt], capture_output=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    text = _strict_text(result.stdout)
    if fmt == "json":
        rows = _strict_json(text)["results"]
        assert any(row["source"].endswith("happy/\\xffx.png") for row in rows)
    else:
        sources = [row["source"] for row in csv.DictReader(io.StringIO(text))]
        assert any(source.endswith("happy/\\xffx.png") for source in sources)
        assert all(source.isprintable() for source in sources)


@pytest.mark.skipif(os.name != "posix", reason="a non-UTF-8 file name")
def test_written_csvs_and_json_name_a_non_utf8_file_escaped(bad_name_data, tmp_path):
    model, data = bad_name_data
    runner = CliRunner()
    report, compared, duplicates = tmp_path / "rep", tmp_path / "cmp.csv", tmp_path / "dup.csv"
    result = runner.invoke(main, ["evaluate", str(model), "--data", str(data), "--report", str(report), "--json"])
    assert result.exit_code == 0, result.output
    _strict_text((report / "predictions.csv").read_bytes())
    _strict_json((report / "metrics.json").read_text(encoding="utf-8"))
    result = runner.invoke(main, ["compare", str(model), "--data", str(data), "--out", str(compared)])
    assert result.exit_code == 0, result.output
    compared.read_bytes().decode("utf-8")  # model names only; valid UTF-8 all the same
    result = runner.invoke(main, ["describe", "--data", str(data), "--duplicates-csv", str(duplicates), "--json"])
    assert result.exit_code == 0, result.output
    _strict_text(duplicates.read_bytes())
    _strict_json(result.stdout)


def test_a_valid_utf8_name_is_written_exactly():
    from fer_classic._json import output_json

    buffer = io.StringIO()
    _fileio.csv_writer(buffer).writerow(["émoji😀 a\\xffb.png", 1.5])
    assert buffer.getvalue() == "émoji😀 a\\xffb.png,1.5\r\n"
    assert json.loads(output_json({"émoji😀.png": ["é"]})) == {"émoji😀.png": ["é"]}


def test_json_outputs_write_non_finite_numbers_as_null(monkeypatch):
    import fer_classic.workflow

    class Described:
        def summary(self):
            return {"n_images": 3, "ratio": float("nan"), "largest": [float("inf"), -float("inf")]}

    monkeypatch.setattr(fer_classic.workflow, "describe_data", lambda *args, **kwargs: Described())
    result = CliRunner().invoke(main, ["describe", "--json"])
    assert result.exit_code == 0, result.output
    assert _strict_json(result.stdout) == {"n_images": 3, "ratio": None, "largest": [None, None]}


def test_metrics_json_writes_non_finite_numbers_as_null(bad_name_data, tmp_path, monkeypatch):
    from fer_classic.evaluation import _report

    scored = _report.classification_metrics

    def with_nan(*args, **kwargs):
        return {**scored(*args, **kwargs), "extra": float("nan")}

    monkeypatch.setattr(_report, "classification_metrics", with_nan)
    model, data = bad_name_data
    result = CliRunner().invoke(main, ["evaluate", str(model), "--data", str(data), "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert _strict_json((tmp_path / "r" / "metrics.json").read_text(encoding="utf-8"))["metrics"]["extra"] is None


# --- F4: classes in display order in metrics.json and inspect --json ----------------------------------------


def test_metrics_json_and_inspect_json_give_the_classes_in_display_order(bad_name_data, tmp_path):
    from fer_classic import load_model

    model, data = bad_name_data
    shown = load_model(model).classes
    assert shown != sorted(shown)  # neutral is shown last, sorted between happy and sad
    runner = CliRunner()
    result = runner.invoke(main, ["evaluate", str(model), "--data", str(data), "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    written = _strict_json((tmp_path / "r" / "metrics.json").read_text(encoding="utf-8"))
    assert written["model"]["classes"] == written["metrics"]["classes"] == shown
    result = runner.invoke(main, ["inspect", str(model), "--json"])
    assert result.exit_code == 0, result.output
    info = _strict_json(result.stdout)
    assert info["classes"] == shown
    assert info["metadata"]["classes"] == sorted(shown)  # the file's own, scikit-learn's sorted classes_


@pytest.mark.skipif(os.name != "posix", reason="a non-UTF-8 file name")
def test_the_closing_line_naming_a_non_utf8_output_does_not_fail_the_run(bad_name_data, tmp_path):
    # "duplicates listed in d\udcff.csv" on a strict stdout failed with exit 1 after the file was written.
    _, data = bad_name_data
    out = os.fsdecode(os.fsencode(str(tmp_path)) + b"/d\xff.csv")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    result = subprocess.run([sys.executable, "-c", "from fer_classic.cli import main; main()", "describe", "--data",
                             str(data), "--duplicates-csv", out], capture_output=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8").rstrip().endswith("d\\xff.csv")
    assert os.path.exists(out)
