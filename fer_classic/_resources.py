"""What this process may use of the machine: its CPUs and the memory available now.

Read at the moment of use (the callers look them up through this module), so
a container's CPU set and what other processes hold are taken into account.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache

__all__ = ["available_memory", "capped_n_jobs", "pool_size", "release_freed_memory", "require_memory", "usable_cpus",
           "workers"]


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity where the system has one, else every CPU."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def workers(n_jobs: int | None) -> int:
    """Workers for ``n_jobs`` as fer-classic's loaders read it: None or -1 is every usable CPU.

    -2 is all but one (joblib's rule), and never more than the usable CPUs:
    more only take turns, and a pool of ``n_jobs=100000`` could not start.
    """
    cpus = usable_cpus()
    if n_jobs is None:
        return cpus
    n_jobs = int(n_jobs)
    return max(1, min(cpus, n_jobs if n_jobs > 0 else cpus + 1 + n_jobs if n_jobs < 0 else 1))


def pool_size(n_jobs: int | None) -> int:
    """Threads of a pool fer-classic starts for an estimator's ``n_jobs``, at most the usable CPUs.

    scikit-learn's rule otherwise (:func:`joblib.effective_n_jobs`: None is
    one, unless joblib's ``parallel_config`` says more); scikit-learn accepts
    ``n_jobs`` above the CPUs, but joblib starts that many threads at once,
    and ``n_jobs=100000`` failed with "can't start new thread".
    """
    from joblib import effective_n_jobs

    return max(1, min(effective_n_jobs(n_jobs), usable_cpus()))


def capped_n_jobs(n_jobs: int | None) -> int | None:
    """``n_jobs`` given to a command, as it goes to the estimators it builds: at most the usable CPUs.

    A count above them becomes them (scikit-learn's forest and k-NN, joblib's pools, start that many
    threads at once: ``--n-jobs 100000`` failed with "can't start new thread"); None and negative
    counts (joblib's "all" and "all but") stay as given, so a saved model takes the CPUs of the
    machine it runs on.
    """
    return min(int(n_jobs), usable_cpus()) if n_jobs is not None and int(n_jobs) > 0 else n_jobs


def available_memory() -> int | None:
    """Bytes of memory available now (``MemAvailable``), or None where the system does not say."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None  # unknown (Windows): the allocation itself decides


def require_memory(needed: int, what: str, advice: str, error: type[Exception] = MemoryError) -> None:
    """Raise ``error`` before an allocation of ``needed`` bytes larger than the memory available now.

    Where the system does not say (None), the allocation itself decides.

    Parameters
    ----------
    needed : int
        Bytes.
    what : str
        What needs them, the subject of the message.
    advice : str
        What to do instead, the message's end.
    error : exception type, default=MemoryError
        What to raise (a loader's ImageSizeError, a model file's ModelFileError).

    Raises
    ------
    error
        Naming ``what``, the GiB needed and available, and ``advice``.
    """
    available = available_memory()
    if available is not None and needed > available:
        raise error(f"{what} needs {needed / 2**30:.1f} GiB, more than the {available / 2**30:.1f} GiB of "
                    f"memory available now; {advice}")


@cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS, Windows)."""
    try:
        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    except (OSError, TypeError):  # Windows: CDLL(None) is refused
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> None:
    """Give the memory that C code has freed back to the system (glibc's ``malloc_trim``); elsewhere nothing.

    glibc keeps small freed blocks in its heaps for reuse, and many threads' blocks leave heaps it cannot
    shrink on its own: libsvm's kernel caches (``cache_size`` MB per machine, in columns of ``4 n`` bytes) stayed
    resident after the fit, 1.0 GiB for a one-vs-rest ``KernelSVC`` on 28,709 rows in two threads, 0.008 GiB
    after this call (measured). Python has no call for it; this is the remedy dask.distributed's worker memory
    documentation gives. Thread-safe (glibc locks each heap); it costs a walk of the heaps, so it is called once
    after a large fit, not after each small one.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
