"""Machine-readable outputs: never to a stream, valid UTF-8 and strict JSON, classes in display order."""

import os
import re
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
