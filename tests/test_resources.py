"""What the process may use: CPUs by affinity, workers for n_jobs, available memory."""

import os

import pytest

from fer_classic import _resources


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this system")
def test_usable_cpus_follow_the_affinity(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3})
    assert _resources.usable_cpus() == 2


@pytest.mark.parametrize(("n_jobs", "expected"), [(None, "all"), (-1, "all"), (3, 3), (0, 1)])
def test_workers_for_n_jobs(monkeypatch, n_jobs, expected):
    monkeypatch.setattr(_resources, "usable_cpus", lambda: 5)
    assert _resources.workers(n_jobs) == (5 if expected == "all" else expected)


@pytest.mark.parametrize(("n_jobs", "expected"), [(None, None), (-1, -1), (-2, -2), (3, 3), (100_000, 5)])
def test_a_command_s_n_jobs_is_capped_at_the_cpus_but_all_stays_all(monkeypatch, n_jobs, expected):
    monkeypatch.setattr(_resources, "usable_cpus", lambda: 5)  # -1 stays: a saved model takes its machine's CPUs
    assert _resources.capped_n_jobs(n_jobs) == expected


def test_available_memory_is_a_positive_byte_count_or_unknown():
    available = _resources.available_memory()
    assert available is None or (isinstance(available, int) and available > 0)


def _resident_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) * 1024


@pytest.mark.skipif(_resources._malloc_trim() is None or not os.path.exists("/proc/self/status")
                    or bool(os.environ.get("LD_PRELOAD")),
                    reason="no glibc malloc_trim or /proc here, or another allocator preloaded")
def test_freed_blocks_between_live_ones_are_given_back():
    # Every other 64 KB block freed: holes glibc keeps resident (only a free top of the heap goes back on its own).
    import numpy as np

    blocks = [np.ones(8192) for _ in range(4000)]  # 64 KB each: below the mmap threshold, from the heap
    del blocks[::2]
    before = _resident_bytes()
    _resources.release_freed_memory()
    assert _resident_bytes() < before - 64 * 2**20  # of the 125 MiB freed


def test_release_freed_memory_does_nothing_without_malloc_trim(monkeypatch):
    monkeypatch.setattr(_resources, "_malloc_trim", lambda: None)  # musl, macOS, Windows
    assert _resources.release_freed_memory() is None
