"""Ctrl-C while a benchmark script imports: ``stopped`` and exit 130, not a KeyboardInterrupt traceback.

Each script, run as a command, calls :func:`install` before its imports (numpy, scikit-learn, OpenCV: seconds).
This module imports only :mod:`signal` and :mod:`sys`, so it costs nothing before them. The script's folder is
``sys.path[0]`` when it runs as ``python benchmarks/NAME.py``, from any working folder.
:func:`_results.run_script` gives ``main`` KeyboardInterrupt back (where :func:`install` set its handler).
"""

import signal
import sys

__all__ = ["install"]


def _stopped(signum, frame):
    print("stopped", file=sys.stderr)
    raise SystemExit(130)


#: run_script recognises this handler by it (it does not import this module) and replaces only it.
_stopped.benchmark_prelude = True


def install() -> None:
    """Ctrl-C prints ``stopped`` and exits 130, when Python's own handler is in place.

    A SIGINT the caller ignores stays ignored (Python keeps an inherited ``SIG_IGN``): a benchmark started in
    the background of a shell script (``bench_x.py &``) must outlive a Ctrl-C aimed at the foreground job.
    """
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _stopped)
