"""Large folder loads decode in forked processes, with the same result as one thread, and can start ahead."""

import multiprocessing

import cv2
import numpy as np
import pytest

from fer_classic.data import _images, load_dataset
from fer_classic.data._folder import load_folder
from fer_classic.data._images import CropSpec, FaceSource
from fer_classic.data._prefetch import decoding_ahead

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
def forks(monkeypatch):
    """Counts the forked decodes started (a load's own, or one started ahead); loads of 64 files or more fork."""
    calls = []
    real = _images._start_processes
    monkeypatch.setattr(_images, "_PROCESSES_FROM", 64)
    monkeypatch.setattr(_images, "_start_processes", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_processes_give_the_images_of_one_thread(folder, forks):
    one = load_folder(folder, size=48, n_jobs=1)
    many = load_folder(folder, size=48, n_jobs=2)
    assert forks
    np.testing.assert_array_equal(many.images, one.images)
    np.testing.assert_array_equal(many.y, one.y)


def test_processes_report_the_same_skipped_files(folder, forks):
    one = load_folder(folder, size=48, n_jobs=1)
    many = load_folder(folder, size=48, n_jobs=2)
    assert many.skipped == one.skipped and len(many.skipped) == 1


def test_the_fork_warning_of_python_3_12_is_not_shown(folder, forks, monkeypatch):
    # Python 3.12+ warns in os.fork when the process has threads; here os.fork warns on any version.
    import os
    import warnings

    real_fork = os.fork

    def fork():
        warnings.warn("This process (pid=1) is multi-threaded, use of fork() may lead to deadlocks in the child.",
                      DeprecationWarning, stacklevel=2)
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    monkeypatch.setattr(_images, "_FORK_WARNS", True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_folder(folder, size=48, n_jobs=2)
    assert forks
    assert not [w for w in caught if "fork()" in str(w.message)]


def test_work_given_to_while_decoding_runs_once_as_the_processes_decode(folder, forks):
    ran = []
    with _images.while_decoding(lambda: ran.append(len(forks))):
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


# fit and search start decoding a class folder before importing scikit-learn; the load takes it over.


@pytest.fixture(scope="module")
def split_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("split_faces")
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label in ("happy", "sad"):
            (root / split / label).mkdir(parents=True)
            for i in range(40):
                side = 48 if i % 2 else 60
                cv2.imwrite(str(root / split / label / f"{i:03d}.png"), rng.integers(0, 256, (side, side), np.uint8))
    (root / "train" / "sad" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def _cropper(crop="auto"):
    from fer_classic._training import make_face_cropper

    return make_face_cropper(48, crop=crop)


def test_the_load_in_the_block_takes_the_decoding_over(split_folder, forks):
    plain = load_dataset(split_folder, n_jobs=1, cropper=_cropper())
    with decoding_ahead(split_folder, n_jobs=2) as started:
        ahead = load_dataset(split_folder, n_jobs=2, cropper=_cropper())
    assert started and len(forks) == 1  # the load forked nothing of its own
    np.testing.assert_array_equal(ahead.images, plain.images)
    np.testing.assert_array_equal(ahead.y, plain.y)
    assert ahead.skipped == plain.skipped and len(ahead.skipped) == 1


@pytest.mark.parametrize("cropper", [None, "none", "detect"])
def test_a_load_with_another_cropper_decodes_on_its_own(split_folder, forks, cropper):
    given = None if cropper is None else _cropper(cropper)
    plain = load_dataset(split_folder, n_jobs=1, cropper=given)
    with decoding_ahead(split_folder, n_jobs=2, crop="auto"):
        other = load_dataset(split_folder, n_jobs=2, cropper=given)
    assert len(forks) == 2  # the head start was dropped
    np.testing.assert_array_equal(other.images, plain.images)


@pytest.mark.parametrize("options", [{"crop": "sideways"}, {"size": 3}, {"label_map": "0=nonsense"},
                                     {"n_jobs": 1}])
def test_options_the_load_refuses_or_a_single_worker_start_nothing(split_folder, forks, options):
    with decoding_ahead(split_folder, **options) as started:
        pass
    assert not started and not forks


def test_data_that_is_not_a_class_folder_starts_nothing(tmp_path, forks):
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n0," + " ".join(["0"] * 2304) + ",Training\n")
    for data in (None, "synthetic", csv, tmp_path / "missing"):
        with decoding_ahead(data, n_jobs=2) as started:
            pass
        assert not started
    assert not forks


def test_decoding_nobody_took_over_is_dropped(split_folder, forks):
    with decoding_ahead(split_folder, n_jobs=2) as started:
        assert _images._PREFETCH is not None
    assert started and _images._PREFETCH is None


@pytest.mark.parametrize("image", [
    np.full((48, 48), 7, np.uint8),                                   # FER2013: not searched
    np.arange(60 * 70 * 3, dtype=np.uint16).reshape(60, 70, 3),       # colour, 16 bit
    np.arange(50 * 40 * 4, dtype=np.uint8).reshape(50, 40, 4),        # BGRA
    np.arange(30 * 30, dtype=np.uint8).reshape(30, 30, 1),            # one channel in three dimensions
])
def test_an_image_the_cropper_does_not_search_is_cut_as_the_cropper_cuts_it(image):
    cropper = _cropper()
    (face, crop), = cropper.crop_faces(image)
    assert not face.detected
    for source in (FaceSource((48, 48), cropper), FaceSource((48, 48), CropSpec("auto"))):
        np.testing.assert_array_equal(source.convert(image)[0], crop)


def test_a_crop_spec_searches_what_its_cropper_searches():
    blank = np.zeros((600, 600), np.uint8)  # searched (over twice 48 px), no face, too large to take whole
    assert FaceSource((48, 48), CropSpec("auto")).convert(blank)[0] is None
    assert FaceSource((48, 48), _cropper()).convert(blank)[0] is None


def test_a_crop_spec_matches_the_cropper_fit_makes():
    assert CropSpec("auto").matches(_cropper("auto"), (48, 48))
    assert not CropSpec("auto").matches(_cropper("none"), (48, 48))
    assert not CropSpec("auto", margin=0.1).matches(_cropper("auto"), (48, 48))
    assert not CropSpec("auto").matches(None, (48, 48))


@pytest.mark.parametrize("command", [["fit", "--n-jobs", "2"], ["search", "--n-jobs", "2", "--cv", "2"]])
def test_fit_and_search_take_over_the_decoding_they_started(split_folder, forks, tmp_path, command, monkeypatch):
    from click.testing import CliRunner

    from fer_classic.cli import main

    taken = []
    real = _images._take_prefetch
    monkeypatch.setattr(_images, "_take_prefetch", lambda *a: taken.append(real(*a)) or taken[-1])

    args = [*command, "--data", str(split_folder), "--features", "hog", "--clf", "linear-svm",
            "--out", str(tmp_path / "m.joblib")]
    if command[0] == "search":
        (tmp_path / "grid.json").write_text('{"clf.C": [1]}')
        args += ["--grid", str(tmp_path / "grid.json"), "--results", str(tmp_path / "cv.csv")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert len(forks) == 1 and taken and taken[0] is not None


def test_decoders_started_ahead_leave_this_process_the_cpu(split_folder):
    import os

    paths = sorted(split_folder.rglob("*.png"))
    pool, futures, _ = _images._start_processes(paths, FaceSource((48, 48)), 1, nice=5)
    with pool:
        assert pool.submit(os.nice, 0).result() == os.nice(0) + 5
        for future in futures:
            future.result()


def _sigterm_kills(start, stop):
    import signal

    return signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("nice", [0, 5], ids=["load", "ahead"])
def test_decoders_die_on_sigterm_whatever_handler_the_command_set(split_folder, monkeypatch, nice):
    # cli.run's handler (raise SystemExit) came with the fork: a worker caught its SIGTERM as a part's
    # result and went on, outliving a kill of the process group.
    import signal

    monkeypatch.setattr(_images, "_forked_part", _sigterm_kills)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        pool, futures, _ = _images._start_processes(sorted(split_folder.rglob("*.png")), FaceSource((48, 48)), 2,
                                                    nice=nice)
    finally:
        signal.signal(signal.SIGTERM, previous)
    with pool:
        assert all(future.result() for future in futures)


def test_an_interrupted_collect_drops_the_parts_not_started(monkeypatch):
    import time
    from concurrent.futures import ThreadPoolExecutor

    class Interrupted:
        def update(self, n):
            raise KeyboardInterrupt

    pool = ThreadPoolExecutor(1)  # shut down alike; one worker, so the later parts wait in the queue
    futures = [pool.submit(time.sleep, 0.01)] + [pool.submit(time.sleep, 0.3) for _ in range(5)]
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        _images._collect(pool, futures, [(0, 1)] * 6, Interrupted())
    # `with pool` waited for every queued part: 1.5 s (a wide margin: the suite runs on busy cores)
    assert time.monotonic() - start < 1.0
    assert sum(future.cancelled() for future in futures) >= 4
