"""How ``fer-classic`` ends: closed or full output streams, interrupts, errors outside the library calls."""

import atexit
import gc
import os
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
