"""The test suite's own set-up: how many pytest-xdist workers ``-n auto`` starts."""

import os

import pytest

import conftest


@pytest.mark.parametrize("cores, workers", [(1, 1), (2, 2), (64, conftest.MAX_WORKERS)])
def test_auto_workers_follow_the_cores_up_to_the_cap(monkeypatch, cores, workers):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert conftest.pytest_xdist_auto_num_workers(None) == workers


@pytest.mark.skipif(not os.environ.get("PYTEST_XDIST_WORKER"), reason="runs in a pytest-xdist worker only (-n 0)")
def test_each_worker_compiles_numba_kernels_into_a_cache_of_its_own():
    import numba

    assert os.path.basename(os.path.normpath(numba.config.CACHE_DIR)) == os.environ["PYTEST_XDIST_WORKER"]


def test_the_run_has_a_private_signing_home_before_any_fixture(request):
    """The doctests of fer_classic/ get no fixture: pytest_configure set FER_CLASSIC_HOME for the whole run."""
    home = request.config._fer_classic_home[1]
    assert os.path.isdir(home) and os.path.basename(home).startswith("fer_classic_home_")
