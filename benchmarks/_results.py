"""A benchmark's results file: checked before any work, written whole.

Shared by the scripts in this folder (each puts the folder on ``sys.path``).

The rule for ``--out``, the same in every script: a run replaces the file (bench_deep: its own section of
it). Scripts that write their rows as they go (bench_accuracy, bench_samplers, bench_grouped: :class:`RowsFile`)
write the rows so far (``"complete": false``) to ``--out`` itself only when it holds no complete run; over
complete results they go to ``<name>.partial.json`` beside it, and ``--out`` is replaced only by a run that
completes. A stopped run says where its rows are.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from fer_classic._fileio import atomic_write_text, check_outputs
from fer_classic._json import finite_json
from fer_classic.exceptions import FerClassicError

__all__ = ["OUT_HELP", "ROWS_OUT_HELP", "SEED_MAX", "RowsFile", "ScriptError", "UsageExit", "check_results",
           "json_text", "run_script", "seed", "write_json"]

#: ``--out``'s help in the scripts that write their results once, at the end.
OUT_HELP = "results JSON, replaced when the run ends (a stopped run leaves it as it was; default: %(default)s)"
#: ``--out``'s help in the scripts of :class:`RowsFile`.
ROWS_OUT_HELP = ("results JSON, replaced by a run; the rows so far are written to it as they are measured, or to "
                 "NAME.partial.json beside it while it holds a complete run (default: %(default)s)")
#: [partial path, number of rows, the complete ``--out`` beside it or False] of the last rows the running
#: ``run_script`` call wrote before its run completed: what it says a stopped run kept. Each call starts and ends
#: with it empty, so one run's rows are never named by the next in the same process.
_kept: list = []

#: The largest ``--seed``: numpy's and scikit-learn's ``random_state`` take 0 to 2**32 - 1.
SEED_MAX = 2**32 - 1


class UsageExit(SystemExit):
    """A usage error a script's own checks find (an --out that would replace an input, saved features of other
    options): exit status 2, as argparse's, and :func:`run_script` prints ``PROG: error: MESSAGE`` as argparse does.

    They were bare messages with exit status 1, beside argparse's prefixed ones with 2. ``str()`` is the message.
    """

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ScriptError(Exception):
    """A failure only a run finds (a child process that failed, an unreadable image): :func:`run_script` prints
    it as one ``error:`` line and exits 1, without Python's traceback."""


def seed(text: str) -> int:
    """The ``type`` of every script's ``--seed``: 0 to :data:`SEED_MAX`, refused by argparse before any work.

    A seed outside it was a traceback from numpy or scikit-learn (some after the data was loaded and its
    features computed), or was blamed on ``--clf-param``.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number from 0 to {SEED_MAX}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{value}: give 0 to {SEED_MAX}")
    return value


def check_results(outputs: dict[str, str | os.PathLike | None], **checks) -> None:
    """:func:`fer_classic._fileio.check_outputs` before any work, a refusal as the script's one-line exit.

    ``outputs`` maps options (``--out``) to paths; ``checks`` are check_outputs'
    ``inputs``, ``input_trees`` (``{"--data": dataset_inputs(args.data)}``) and
    ``dirs``. A folder, an unwritable place, or a path among the inputs (an image
    of the dataset, its CSV) is refused, so the results never replace user data.
    """
    try:
        check_outputs(outputs, make_parents=True, **checks)
    except FerClassicError as exc:
        raise UsageExit(str(exc)) from None
    out = outputs.get("--out")
    # The results are JSON: any other suffix is likelier a user's file (a photo, README.md) than a results name.
    if out is not None and Path(out).suffix.lower() != ".json":
        raise UsageExit(f"--out {out}: the results are JSON, written over what the path holds; give a .json path.")


def write_json(path: str | os.PathLike, payload) -> None:
    """``payload`` as indented JSON at ``path``, replaced whole (a stopped run never leaves half a file).

    NaN and infinities (a score a run could not compute) are written as null: strict JSON has neither.
    """
    atomic_write_text(path, json_text(payload))


def json_text(payload) -> str:
    """``payload`` as the indented, strict JSON text :func:`write_json` writes (NaN and infinities as null)."""
    return json.dumps(finite_json(payload, lambda number: None), indent=1, allow_nan=False) + "\n"


def holds_complete_results(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a results file of a run that completed (``"complete": true``)."""
    try:
        results = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(results, dict) and results.get("complete") is True


class RowsFile:
    """Where a script that writes its rows as they are measured puts them (see the module's rule).

    A Ctrl-C after the first row turned an earlier complete results file into a one-row ``"complete": false``
    one, without a word. Create it after :func:`check_results` and before any work: the partial file is
    checked too.
    """

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out)
        self.partial = self.out
        if holds_complete_results(self.out):
            self.partial = self.out.with_name(f"{self.out.stem}.partial.json")
            check_results({"--out's partial rows": self.partial})
        _kept.clear()

    def write(self, payload: dict, done: bool) -> None:
        """``payload`` (its ``"complete"`` set to ``done``) to ``--out`` when ``done``, else where rows go."""
        payload = {**payload, "complete": done}
        if done:
            write_json(self.out, payload)
            _kept.clear()
            if self.partial != self.out:
                self.partial.unlink(missing_ok=True)
            return
        write_json(self.partial, payload)
        _kept[:] = [self.partial, len(payload.get("rows", ())), self.partial != self.out and self.out]


def _kept_line() -> str:
    """Where a stopped run's rows are, or '' when it wrote none."""
    if not _kept:
        return ""
    path, n, earlier = _kept
    line = f"{n} row{'' if n == 1 else 's'} kept in {path} (complete: false)"
    return line + (f"; {earlier} keeps the earlier complete results" if earlier else "")


def run_script(main) -> None:
    """Run a script's ``main`` as a command: every error one line, no traceback.

    Exit status 2 for usage errors (argparse's and :class:`UsageExit`, ``PROG: error: ...``), 1 for failures
    only a run finds (fer-classic's errors and :class:`ScriptError`, ``error: ...``), 130 for Ctrl-C.

    An error only a run finds (a split the data lacks, a missing extra named with its pip install) printed
    Python's traceback; Ctrl-C too (exit 130, as a shell reports it). Finished rows are whatever ``main``
    wrote before. ``main`` returns its exit status (an int) or None (0): anything else (a result dict) was
    printed on stderr as the status and exited 1 after a successful run.
    """
    # Ctrl-C as KeyboardInterrupt again where _interrupt.install set its import-time handler (exit 130 before
    # run_script); any other handler, an inherited SIG_IGN above all (a background job), is left as it is.
    if getattr(signal.getsignal(signal.SIGINT), "benchmark_prelude", False):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    _kept.clear()
    try:
        code = main()
    except UsageExit as exc:
        print(f"{os.path.basename(sys.argv[0])}: error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    except (FerClassicError, ScriptError) as exc:
        kept = _kept_line()
        raise SystemExit(f"error: {exc}" + (f"\n{kept}" if kept else "")) from None
    except KeyboardInterrupt:
        kept = _kept_line()
        print(f"stopped: {kept}" if kept else "stopped", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        _kept.clear()
    raise SystemExit(code if isinstance(code, int) else 0)
