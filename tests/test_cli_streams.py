"""How ``fer-classic`` ends: closed or full output streams, interrupts, errors outside the library calls."""

import atexit
import contextlib
import gc
import os
import resource
import sys
import threading

import click
import pytest

from fer_classic import cli
from fer_classic.cli import main


class _Exited(Exception):
    """os._exit, as run() ends the process, caught in the test's process instead."""


@pytest.fixture
def run_step(monkeypatch):
    """``cli.run()`` on a one-off command ``step``: ("os._exit" or "sys.exit", the exit code)."""
    def exit_(code):
        raise _Exited(code)

    # Threads that earlier tests left (distributed 2024.1's daemon Dask-Offload_0) are not this run's: counted,
    # they turned every os._exit into sys.exit.
    earlier = set(threading.enumerate()) - {threading.current_thread()}
    monkeypatch.setattr(threading, "active_count", lambda: sum(t not in earlier for t in threading.enumerate()))

    def call(body):
        monkeypatch.setitem(main.commands, "step", click.command("step")(body))
        monkeypatch.setattr(sys, "argv", ["fer-classic", "step"])
        monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: None)  # pytest's own exit handlers
        monkeypatch.setattr(os, "_exit", exit_)
        monkeypatch.setattr(cli, "_COLLECTOR_PAUSED", False)
        try:
            cli.run()
        except _Exited as exc:
            return "os._exit", exc.args[0]
        except SystemExit as exc:
            return "sys.exit", exc.code
        finally:
            gc.enable()
            gc.unfreeze()
        raise AssertionError("run() returned")

    return call


def test_a_command_succeeds_with_stdout_and_stderr_closed(run_step, monkeypatch):
    # `fer-classic ... >&- 2>&-`: Python sets the streams to None, and run()'s flush ended in a traceback, rc 1.
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)

    def body():
        click.echo("results")
        click.echo("progress", err=True)

    assert run_step(body) == ("os._exit", 0)


def test_ctrl_c_exits_130_not_the_code_of_an_error(monkeypatch):
    # click turned KeyboardInterrupt into "Aborted!" and exit 1: scripts could not tell Ctrl-C from an error.
    from click.testing import CliRunner

    def body():
        raise KeyboardInterrupt

    monkeypatch.setitem(main.commands, "step", click.command("step")(body))
    result = CliRunner().invoke(main, ["step"])
    assert result.exit_code == 130
    assert result.stderr.strip() == "Aborted!"


@pytest.mark.parametrize("interrupt, code", [(KeyboardInterrupt, 130), (SystemExit(cli._SIGTERM_EXIT), 143)],
                         ids=["ctrl-c", "sigterm"])
def test_an_interrupted_command_skips_the_teardown_that_kills_busy_threads(run_step, interrupt, code):
    # joblib's threads were still inside OpenCV's C++ code; sys.exit's teardown killed them and glibc aborted.
    busy = threading.Event()
    worker = threading.Thread(target=busy.wait, daemon=True)
    worker.start()

    def body():
        raise interrupt

    try:
        assert run_step(body) == ("os._exit", code)
    finally:
        busy.set()
        worker.join()


_INTERRUPTED_AFTER_A_LOKY_POOL = """
import sys
import click
from joblib import Parallel, delayed
from fer_classic import cli

@click.command("step")
def step():
    Parallel(n_jobs=2, backend="loky")(delayed(abs)(i) for i in range(4))  # idle workers stay behind
    raise KeyboardInterrupt

cli.main.add_command(step)
sys.argv = ["fer-classic", "step"]
cli.run()
"""


def test_an_interrupted_command_ends_the_worker_processes_it_leaves(tmp_path):
    # The interrupted exit skipped loky's shutdown, and multiprocessing's exit handler waited for its idle
    # workers forever (a `kill PID` during a search's refit hung).
    import subprocess

    script = tmp_path / "step.py"
    script.write_text(_INTERRUPTED_AFTER_A_LOKY_POOL)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr


def test_a_worker_that_outlives_terminate_is_killed_though_loky_has_no_kill(monkeypatch):
    # loky's Popen has no kill(): a worker still alive 2 s after terminate() was an AttributeError traceback, rc 1.
    import multiprocessing
    import signal

    class Worker:
        pid = 123456789

        def terminate(self):
            pass

        def join(self, timeout=None):
            pass

        def is_alive(self):
            return True

        def kill(self):
            raise AttributeError("'Popen' object has no attribute 'kill'")

    killed = []
    monkeypatch.setattr(multiprocessing, "active_children", lambda: [Worker()])
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append((pid, sig)))
    cli._stop_worker_processes()
    assert killed == [(123456789, signal.SIGKILL)]


@pytest.mark.parametrize("error, message", [
    (MemoryError(), "Error: out of memory (MemoryError): use smaller images"),
    (ImportError("/venv/libaom.so.3: failed to map segment from shared object"),
     "Error: out of memory (/venv/libaom.so.3: failed to map segment from shared object): use smaller images"),
    (RuntimeError("odd"), "Error: unexpected RuntimeError: odd. This is a bug in fer-classic"),
], ids=["memory", "library-not-mapped", "other"])
def test_an_error_in_a_commands_own_code_is_one_line_as_in_a_library_call(monkeypatch, error, message):
    # The imports at the top of each command ran outside _run: under a low `ulimit -v` a raw traceback.
    from click.testing import CliRunner

    def body():
        raise error

    monkeypatch.delenv("FER_CLASSIC_DEBUG", raising=False)
    monkeypatch.setitem(main.commands, "step", click.command("step")(body))
    result = CliRunner().invoke(main, ["step"])
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_an_interrupt_raised_for_want_of_memory_is_no_ctrl_c(monkeypatch):
    # OpenBLAS raises SIGINT when it cannot start its threads (ulimit -v): "Aborted!", as if Ctrl-C was pressed.
    from click.testing import CliRunner

    def body():
        def no_thread(self):
            raise RuntimeError("can't start new thread")

        monkeypatch.setattr(threading.Thread, "start", no_thread)
        raise KeyboardInterrupt

    monkeypatch.setitem(main.commands, "step", click.command("step")(body))
    result = CliRunner().invoke(main, ["step"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: out of memory (no memory left to start a thread): use smaller images")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, a device that is always full")
def test_results_that_cannot_be_written_to_stdout_are_one_error_line(monkeypatch):
    # `fer-classic predict ... > out.csv` on a full disk: click.echo's OSError was a traceback.
    from click.testing import CliRunner

    full = open("/dev/full", "w")

    def body():
        runner_stdout, sys.stdout = sys.stdout, full
        try:
            click.echo("label,happy")
        finally:
            sys.stdout = runner_stdout

    monkeypatch.setitem(main.commands, "step", click.command("step")(body))
    try:
        result = CliRunner().invoke(main, ["step"])
    finally:
        with contextlib.suppress(OSError):  # what stays in its buffer cannot be written either
            full.close()
    assert result.exit_code == 1
    assert result.stderr == "Error: writing the results to standard output failed: No space left on device\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, a device that is always full")
def test_results_that_cannot_be_written_to_stdout_say_the_files_were_saved(monkeypatch, tmp_path):
    # `fit ... > /dev/full` saved the model, then said only "writing the results to standard output failed".
    from click.testing import CliRunner

    from fer_classic._fileio import atomic_write_text

    full = open("/dev/full", "w")

    def body():
        atomic_write_text(tmp_path / "m.joblib", "model")
        runner_stdout, sys.stdout = sys.stdout, full
        try:
            click.echo(f"model saved to {tmp_path / 'm.joblib'}")
        finally:
            sys.stdout = runner_stdout

    atomic_write_text(tmp_path / "earlier.txt", "an earlier command's file")
    monkeypatch.setitem(main.commands, "step", click.command("step")(body))
    try:
        result = CliRunner().invoke(main, ["step"])
    finally:
        with contextlib.suppress(OSError):
            full.close()
    assert result.exit_code == 1
    assert result.stderr == ("Error: writing the results to standard output failed: No space left on device; the "
                             f"command's work is done: it wrote {tmp_path / 'm.joblib'}\n")


def _raising(exc: Exception):
    def step():
        raise exc

    return step


def _error_of(exc: Exception) -> str:
    with pytest.raises(click.ClickException) as raised:
        cli._run(_raising(exc))
    return raised.value.message


@pytest.mark.parametrize("number, text, advice", [
    (28, "No space left on device", "free some space there or write this file to another disk."),
    (27, "File too large", "file system allows): write this file to a file system that allows larger files."),
], ids=["full-disk", "file-size-limit"])
def test_a_full_disk_or_file_size_limit_says_what_to_do(number, text, advice, monkeypatch):
    # The errno's text alone named the file, and nothing to do about it.
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    message = _error_of(OSError(number, text, "/data/out/m.joblib"))
    assert "/data/out/m.joblib" in message and text in message and message.endswith(advice)


def test_the_file_size_limit_is_given_in_the_units_of_ulimit_f(monkeypatch):
    # "the file-size limit (ulimit -f) of 3072000 bytes": `ulimit -f 3072000` (bash's 1 KiB blocks) is 3 GB.
    monkeypatch.setattr(resource, "getrlimit", lambda which: (3000 * 1024, resource.RLIM_INFINITY))
    message = _error_of(OSError(27, "File too large", "/data/out/m.joblib"))
    assert "(the file-size limit of 3072000 bytes was reached): raise the file-size limit (bash's ulimit -f, now " \
           "3000, counts 1 KiB blocks)" in message


@pytest.mark.parametrize("where, advice", [
    ("{tmp}/fer-classic-cache-0n_wd1qq/joblib/x.pkl", "set TMPDIR (or JOBLIB_TEMP_FOLDER) to a folder on a disk"),
    ("/dev/shm/joblib_memmapping_folder_1_abc/x.pkl", "set JOBLIB_TEMP_FOLDER to a folder on a disk with room."),
], ids=["search-cache", "joblib-memmapping"])
def test_a_full_temporary_folder_names_the_variable_that_moves_it(where, advice):
    # "give the option naming this file (--out, --report, ...) a path on another disk": no option names these.
    import tempfile

    message = _error_of(OSError(28, "No space left on device", where.format(tmp=tempfile.gettempdir())))
    assert advice in message and "option" not in message


def test_a_full_disk_without_a_file_name_says_no_there():
    assert _error_of(OSError(28, "No space left on device")) == (
        "[Errno 28] No space left on device: free some space on the disk being written to or write to another disk.")


def test_a_full_disk_names_the_option_that_gave_the_file(monkeypatch, tmp_path):
    # `fit --out m` writes m.joblib: the fix names --out, not "the option naming this file (--out, --report, ...)".
    from click.testing import CliRunner

    @click.command("step")
    @click.option("--out")
    def body(out):
        cli._run(_raising(OSError(28, "No space left on device", f"{out}.joblib")))

    monkeypatch.setitem(main.commands, "step", body)
    result = CliRunner().invoke(main, ["step", "--out", str(tmp_path / "m")])
    assert result.stderr.endswith("free some space there or give --out a path on another disk.\n")


@pytest.mark.parametrize("data, out, written, option", [
    (".", "m.joblib", "m.joblib", "--out"),  # the data folder holds the model too
    ("d", "d/report", "d/report/report.html", "--report"),  # evaluate --report inside the data folder
], ids=["exact", "deepest-folder"])
def test_a_full_disk_names_the_output_option_not_the_input_folder_holding_it(monkeypatch, tmp_path, data, out,
                                                                             written, option):
    # The first option whose folder held the file won: "give --data a path on another disk".
    from click.testing import CliRunner

    @click.command("step")
    @click.option("--data")
    @click.option(option)
    def body(data, **outputs):
        cli._run(_raising(OSError(28, "No space left on device", str(tmp_path / written))))

    monkeypatch.setitem(main.commands, "step", body)
    result = CliRunner().invoke(main, ["step", "--data", str(tmp_path / data), option, str(tmp_path / out)])
    assert result.stderr.endswith(f"give {option} a path on another disk.\n")


def test_too_many_open_files_names_the_limit_not_a_temporary_file(monkeypatch):
    # search under a low `ulimit -n`: "[Errno 24] Too many open files: '/tmp/fer-classic-cache-0n_wd1qq'".
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, resource.RLIM_INFINITY))
    message = _error_of(OSError(24, "Too many open files", "/tmp/fer-classic-cache-0n_wd1qq"))
    assert message == "too many open files (this shell's limit, ulimit -n, is 1024): raise it (e.g. ulimit -n 4096)."


@pytest.mark.parametrize("soft, hard, fix", [
    (20000, resource.RLIM_INFINITY, "raise it (e.g. ulimit -n 40000)"),  # it said "ulimit -n 4096": lower
    (20000, 30000, "raise it (e.g. ulimit -n 30000)"),
    (20000, 20000, "raise it"),
], ids=["no-hard-limit", "up-to-the-hard-limit", "at-the-hard-limit"])
def test_too_many_open_files_suggests_a_higher_limit(monkeypatch, soft, hard, fix):
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, hard))
    assert _error_of(OSError(24, "Too many open files")).endswith(f"is {soft}): {fix}.")


@pytest.mark.parametrize("has_n_jobs", [True, False])
def test_too_many_open_files_offers_n_jobs_only_to_a_command_that_has_it(monkeypatch, has_n_jobs):
    # predict, inspect and download-weights have no --n-jobs, and were told to use it.
    from click.testing import CliRunner

    def body(**params):
        cli._run(_raising(OSError(24, "Too many open files")))

    options = [click.Option(["--n-jobs"], type=int)] if has_n_jobs else []
    monkeypatch.setitem(main.commands, "step", click.Command("step", callback=body, params=options))
    result = CliRunner().invoke(main, ["step"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: too many open files")
    assert ("--n-jobs 1" in result.stderr) == has_n_jobs


def test_a_warning_outside_a_library_call_is_one_warning_line(run_step, monkeypatch, capsys):
    # joblib's "Failed to delete temporary folder" in the exit handlers showed Python's file:line and source line.
    import warnings

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # run() sets the CLI's for the process

    def body():
        warnings.warn("Failed to delete temporary folder: /dev/shm/joblib_memmapping_folder_1", UserWarning)

    assert run_step(body) == ("os._exit", 0)
    expected = "warning: Failed to delete temporary folder: /dev/shm/joblib_memmapping_folder_1\n"
    assert capsys.readouterr().err == expected


@pytest.mark.parametrize("columns", [30, 100])
def test_the_progress_line_fills_one_row_of_the_terminal(monkeypatch, columns):
    # It was padded to 70 columns: on a narrower terminal each redraw wrapped, and the rows piled up.
    import io

    from fer_classic import _progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(_progress, "MIN_SECONDS", 0.0)
    monkeypatch.setattr(_progress, "_REDRAW_SECONDS", 0.0)
    monkeypatch.setenv("COLUMNS", str(columns))
    stream = Terminal()
    with _progress.Progress(1000, "loading images", stream=stream) as progress:
        progress.update(400)
    drawn = stream.getvalue().rstrip("\n").split("\r")[1:]
    assert drawn and all(len(line) == columns - 1 for line in drawn)
    assert drawn[0].startswith("loading images: 400/1,000 (40%)"[:columns - 1])
