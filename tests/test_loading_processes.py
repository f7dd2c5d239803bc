"""Large folder loads decode in forked processes, with the same result as one thread."""

import multiprocessing

import cv2
import numpy as np
import pytest

from fer_classic.data import _images
from fer_classic.data._folder import load_folder

pytestmark = [
    pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                       reason="no fork on this system: large loads use threads"),
    pytest.mark.filterwarnings("ignore::fer_classic.exceptions.SkippedFilesWarning"),  # broken.png, on purpose
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    for label in ("happy", "sad"):
        (root / label).mkdir()
        for i in range(80):
            cv2.imwrite(str(root / label / f"{i:03d}.png"), rng.integers(0, 256, (60, 60), dtype=np.uint8))
    (root / "sad" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


@pytest.fixture
def in_processes(monkeypatch):
    calls = []
    real = _images._read_in_processes
    monkeypatch.setattr(_images, "_PROCESSES_FROM", 64)
    monkeypatch.setattr(_images, "_read_in_processes", lambda *a: calls.append(1) or real(*a))
    return calls


def test_processes_give_the_images_of_one_thread(folder, in_processes):
    one = load_folder(folder, size=48, n_jobs=1)
    many = load_folder(folder, size=48, n_jobs=2)
    assert in_processes
    np.testing.assert_array_equal(many.images, one.images)
    np.testing.assert_array_equal(many.y, one.y)


def test_processes_report_the_same_skipped_files(folder, in_processes):
    one = load_folder(folder, size=48, n_jobs=1)
    many = load_folder(folder, size=48, n_jobs=2)
    assert many.skipped == one.skipped and len(many.skipped) == 1


def test_the_fork_warning_of_python_3_12_is_not_shown(folder, in_processes, monkeypatch):
    # Python 3.12+ warns in os.fork when the process has threads; here os.fork warns on any version.
    import os
    import warnings

    real_fork = os.fork

    def fork():
        warnings.warn("This process (pid=1) is multi-threaded, use of fork() may lead to deadlocks in the child.",
                      DeprecationWarning, stacklevel=2)
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_folder(folder, size=48, n_jobs=2)
    assert in_processes
    assert not [w for w in caught if "fork()" in str(w.message)]


def test_work_given_to_while_decoding_runs_once_as_the_processes_decode(folder, in_processes):
    ran = []
    with _images.while_decoding(lambda: ran.append(len(in_processes))):
        load_folder(folder, size=48, n_jobs=2)
        load_folder(folder, size=48, n_jobs=2)
    assert ran == [1]  # once, during the first (forked) load


def test_warm_up_runs_the_hog_and_lbp_steps_that_fit_the_images(monkeypatch):
    from fer_classic.features import HOGFeatures, LBPFeatures
    from fer_classic.features._base import warm_up
    from fer_classic.pipeline import make_pipeline

    shapes = []
    for cls in (HOGFeatures, LBPFeatures):
        monkeypatch.setattr(cls, "_transform_images", lambda self, images: shapes.append((type(self), images.shape)))
    warm_up(make_pipeline("hog+lbp", "knn"), (48, 48))
    assert sorted(shapes, key=str) == sorted([(HOGFeatures, (1, 48, 48)), (LBPFeatures, (1, 48, 48))], key=str)
    shapes.clear()
    warm_up(make_pipeline("hog", "knn"), (16, 16))  # fewer cells than a HOG block: fit reports it, not this
    assert shapes == []
