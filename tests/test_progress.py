"""Progress lines of long steps: on a terminal only, never with --json, never for quick steps."""

import io

import pytest
from click.testing import CliRunner

import fer_classic._progress as progress_module
from fer_classic._progress import Progress, progress_enabled
from fer_classic.cli import main


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def instant(monkeypatch):
    """Every step counts as long and redraws at once."""
    monkeypatch.setattr(progress_module, "MIN_SECONDS", 0.0)
    monkeypatch.setattr(progress_module, "_REDRAW_SECONDS", 0.0)


def _run(stream, total=4, **kwargs):
    with Progress(total, "loading images", stream=stream, **kwargs) as progress:
        for _ in range(total):
            progress.update()
    return stream.getvalue()


def test_a_long_step_on_a_terminal_shows_its_count(instant):
    text = _run(Terminal())
    assert "loading images: 4/4 (100%)" in text and text.endswith("\n")


def test_no_line_when_stderr_is_not_a_terminal(instant):
    assert _run(io.StringIO()) == ""


def test_quick_steps_show_nothing():
    assert _run(Terminal()) == ""  # the default MIN_SECONDS is not reached


@pytest.mark.parametrize("enabled, stream, shown", [(False, Terminal, False), (True, io.StringIO, True)])
def test_progress_enabled_overrides_the_terminal_test(instant, enabled, stream, shown):
    with progress_enabled(enabled):
        assert bool(_run(stream())) is shown


def test_json_commands_print_no_progress(instant, monkeypatch, tmp_path, folder_dataset):
    seen = []
    real = Progress.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        seen.append(self.enabled)

    monkeypatch.setattr(Progress, "__init__", spy)
    result = CliRunner().invoke(main, ["fit", "--data", str(folder_dataset), "--clf", "svm", "--json",
                                       "--out", str(tmp_path / "m.joblib")])
    assert result.exit_code == 0, result.output
    assert len(seen) >= 2 and not any(seen)  # loading images and kernel rows, at least


def test_ticking_shows_the_seconds_of_a_step_without_items(instant, monkeypatch):
    import time

    from fer_classic._progress import ticking

    monkeypatch.setattr(progress_module, "_REDRAW_SECONDS", 0.01)
    stream = Terminal()
    with ticking("SVM solver", stream=stream):
        deadline = time.monotonic() + 10  # the ticker's thread may wait for a busy core
        while "SVM solver: 0 s" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    assert "SVM solver: 0 s" in stream.getvalue()


def test_ticking_off_the_terminal_starts_no_thread(monkeypatch):
    import threading

    from fer_classic._progress import ticking

    before = set(threading.enumerate())  # threads an earlier test left may end meanwhile: not a count
    with ticking("SVM solver", stream=io.StringIO()):
        assert set(threading.enumerate()) <= before


def test_worker_threads_follow_the_choice(instant):
    from concurrent.futures import ThreadPoolExecutor

    with progress_enabled(False), ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: Progress(1, "x", stream=Terminal()).enabled).result() is False
