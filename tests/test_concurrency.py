"""Library calls made from several threads (or processes) at once do not mix their work or leak process state.

Each test forces the interleaving that went wrong (barriers, events), so it fails every time on the code
before the fix rather than now and then.
"""

import contextlib
import multiprocessing
import os
import queue
import threading

import cv2
import numpy as np
import pytest

from fer_classic.data import _images

fork_only = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                               reason="no fork on this system: large loads use threads")


def _run_threads(*targets, timeout=60):
    """Run each target in its own thread; the first exception any raised is raised here."""
    errors = []

    def wrap(target):
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]


class _Contended:
    """A lock that sets ``event`` when a thread finds it held, then waits for it as the lock does.

    A test's thread A waits for B to reach its step (the old code) or to block on the lock (the fixed one):
    an event either way, never "a moment" that a loaded machine may not give B.
    """

    def __init__(self, event, lock=None):
        self._lock, self._event = lock or threading.Lock(), event

    def __enter__(self):
        if not self._lock.acquire(blocking=False):
            self._event.set()
            self._lock.acquire()
        return self

    def __exit__(self, *exc):
        self._lock.release()


def _write_pngs(folder, n, seed):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    return sorted(folder.glob("*.png"))


@pytest.fixture(scope="module")
def two_image_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    return _write_pngs(root / "a", 64, 1), _write_pngs(root / "b", 64, 2)


# -- F1: forked image loads in two threads --------------------------------------------------------------------

@fork_only
def test_two_threads_loading_in_processes_each_get_their_own_images(two_image_sets, monkeypatch):
    # Both loads set up their pools before either forks (the barrier): with the job in a module global, the
    # first load's workers decoded the second load's files (or found the job cleared: TypeError).
    monkeypatch.setattr(_images, "_PROCESSES_FROM", 64)
    barrier = threading.Barrier(2, timeout=30)
    real_pool = _images.ProcessPoolExecutor

    class Pool(real_pool):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            barrier.wait()

    monkeypatch.setattr(_images, "ProcessPoolExecutor", Pool)
    expected = [_images.read_images(paths, (48, 48), n_jobs=1)[0] for paths in two_image_sets]
    got = {}

    def load(i):
        return lambda: got.__setitem__(i, _images.read_images(two_image_sets[i], (48, 48), n_jobs=2)[0])

    _run_threads(load(0), load(1))
    for i in (0, 1):
        np.testing.assert_array_equal(got[i], expected[i])


@fork_only
def test_a_forked_load_while_another_thread_reads_a_header_does_not_hang(two_image_sets):
    # A forked worker copied read_header's lock as another thread held it at the fork: the worker's first
    # read_header waited forever, and so did the load (a server predicting in one thread, fitting in another).
    import time
    from concurrent.futures import TimeoutError as FutureTimeout

    from fer_classic.data import _headers

    held, done = threading.Event(), threading.Event()

    def reader():  # holds the lock as a header read does, a moment past the fork below
        with _headers._WARNINGS_LOCK:
            held.set()
            time.sleep(0.5)
        done.set()

    thread = threading.Thread(target=reader)
    thread.start()
    assert held.wait(30)
    pool, futures, _ = _images._start_processes(two_image_sets[0][:4], _images.FaceSource((48, 48)), 1)
    try:
        for future in futures:
            future.result(timeout=20)
    except FutureTimeout:
        for process in pool._processes.values():
            process.kill()
        pytest.fail("the forked worker waits for a lock held by a thread of its parent")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        thread.join(30)
    assert done.is_set()


@fork_only
def test_another_threads_load_leaves_a_decoding_started_ahead_alone(two_image_sets, monkeypatch):
    # Thread A starts decoding its files ahead; thread B loads other files meanwhile. B's load cancelled A's
    # decoding (one module global), so A's load decoded everything again.
    monkeypatch.setattr(_images, "_PROCESSES_FROM", 64)
    a_started, b_done = threading.Event(), threading.Event()
    taken = []
    real_take = _images._take_prefetch

    def take(*args):
        taken.append(real_take(*args))
        return taken[-1]

    monkeypatch.setattr(_images, "_take_prefetch", take)
    paths_a, paths_b = two_image_sets
    expected = _images.read_images(paths_a, (48, 48), n_jobs=1)[0]
    got = {}

    def a():
        assert _images.prefetch_images(paths_a, (48, 48), None, n_jobs=2)
        a_started.set()
        assert b_done.wait(30)
        got["a"] = _images.read_images(paths_a, (48, 48), n_jobs=2)[0]
        got["taken"] = taken[-1]  # B's load ended before this one

    def b():
        assert a_started.wait(30)
        try:
            _images.read_images(paths_b, (48, 48), n_jobs=2)
        finally:
            b_done.set()

    _run_threads(a, b)
    np.testing.assert_array_equal(got["a"], expected)
    assert got["taken"] is not None and _images._PREFETCH is None


# -- F2: a CSV load leaves other threads' warnings alone ------------------------------------------------------

def test_loading_a_csv_leaves_other_threads_deprecation_warnings_alone(tmp_path, monkeypatch):
    # The load paused inside its first row's parse while another thread warns: the per-row catch_warnings +
    # simplefilter("error", DeprecationWarning) made that thread's (ignored) DeprecationWarning raise.
    import warnings

    from fer_classic.data import _csv

    path = tmp_path / "f.csv"
    path.write_text("emotion,pixels,Usage\n" + "".join(f"{i % 7}," + " ".join(["9"] * 16) + ",Training\n"
                                                       for i in range(3)))
    parsing, warned = threading.Event(), threading.Event()

    class Numpy:  # numpy, its fromstring pausing once
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def fromstring(*args, **kwargs):
            if not parsing.is_set():
                parsing.set()
                assert warned.wait(30)
            return np.fromstring(*args, **kwargs)

    monkeypatch.setattr(_csv, "np", Numpy())
    raised = []

    def other_code():
        assert parsing.wait(30)
        try:
            warnings.warn("some library's deprecation", DeprecationWarning, stacklevel=1)
        except DeprecationWarning as exc:
            raised.append(exc)
        finally:
            warned.set()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the host ignores them
        before = list(warnings.filters)
        got = {}
        _run_threads(lambda: got.setdefault("data", _csv.load_fer2013_csv(path)), other_code)
        assert list(warnings.filters) == before
    assert not raised
    assert len(got["data"].labels) == 3


# -- F6: two processes filling one feature store --------------------------------------------------------------

@fork_only
def test_a_second_process_filling_a_feature_store_waits_and_reuses_the_first_ones_chunks(tmp_path, monkeypatch):
    # A computes chunk 0, writes it, and is computing chunk 1 when B opens the store and fills it. B used to
    # compute (and re-create: truncate) what A had written; now it waits for A's lock, reads A's manifest
    # again and has nothing left to compute.
    from fer_classic import _distributed
    from fer_classic.features._store import FeatureStore

    context = multiprocessing.get_context("fork")
    a_filling, b_opened = context.Event(), context.Event()
    computed = context.Queue()
    n_rows, chunk = 6, 3

    def extract(paths, size, cropper, head):
        start = int(paths[0])
        computed.put((multiprocessing.current_process().name, start))
        if start == chunk and multiprocessing.current_process().name == "A":
            a_filling.set()
            assert b_opened.wait(30)
        rows = np.arange(start, start + len(paths), dtype=np.float64)
        return _distributed._Chunk(np.tile(rows[:, None], (1, 4)), np.arange(len(paths)), [],
                                   np.full((len(paths), 2, 2), start, np.uint8))

    monkeypatch.setattr(_distributed, "_extract", extract)
    images = type("Images", (), {"paths": np.array([str(i) for i in range(n_rows)])})()

    def fill(wait_for=None, opened=None):
        if wait_for is not None:
            assert wait_for.wait(30)
        store = FeatureStore(tmp_path, "k", n_rows, chunk)
        if opened is not None:
            opened.set()
        chunks = _distributed._StoreChunks(store, images, (2, 2), None, None, lambda message: None)
        assert [chunks.store.read(c)[:, 0].tolist() for c in range(2)] == [[0, 1, 2], [3, 4, 5]]

    a = context.Process(target=fill, name="A")
    b = context.Process(target=fill, name="B", args=(a_filling, b_opened))
    a.start()
    b.start()
    for process in (a, b):
        process.join(60)
    assert (a.exitcode, b.exitcode) == (0, 0)
    done = []
    with contextlib.suppress(queue.Empty):
        while True:
            done.append(computed.get(timeout=0.5))
    assert sorted(done) == [("A", 0), ("A", 3)]


# -- F3 and alike: library code leaves the process-wide warnings filters alone --------------------------------

def _filters_seen_inside(monkeypatch, owner, name, call):
    """``warnings.filters`` as another thread would see them while ``owner.name`` runs inside ``call()``."""
    import warnings

    seen = []
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        seen.append(list(warnings.filters))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        before = list(warnings.filters)
        call()
        assert list(warnings.filters) == before
    assert seen
    return before, seen


def test_the_check_prediction_of_a_loaded_model_leaves_the_warnings_filters_alone(monkeypatch):
    # load_model's check (skops files) predicted under catch_warnings + simplefilter("ignore"): every thread's
    # warnings were dropped meanwhile, and concurrent loads could leave "ignore" installed for good.
    from types import SimpleNamespace

    from fer_classic.persistence import _header

    model = SimpleNamespace(pipeline=[], metadata={"image_shape": [4, 4]}, predict_scores=lambda images: None)
    before, seen = _filters_seen_inside(monkeypatch, model, "predict_scores",
                                        lambda: _header._fitted_problem(model))
    assert seen == [before]


def test_comparing_versions_leaves_the_warnings_filters_alone(monkeypatch):
    import sklearn.utils.fixes

    from fer_classic.persistence import _header

    before, seen = _filters_seen_inside(monkeypatch, sklearn.utils.fixes, "parse_version",
                                        lambda: _header._newer("not a version", "1.0"))
    assert all(filters == before for filters in seen)
    assert _header._newer("2.0", "1.0") and not _header._newer("1.0", "2.0")
    assert not _header._newer("not a version", "1.0") and not _header._newer(None, "1.0")


def test_curve_statistics_leave_the_warnings_filters_alone(monkeypatch):
    from fer_classic.evaluation import _curves

    scores = np.array([[0.5, np.nan, 0.7], [np.nan, np.nan, np.nan], [0.1, 0.2, 0.3]])
    curve = _curves.CurveResult("learning", [1, 2, 3], "n", scores, scores, "accuracy")

    class Numpy:  # numpy, its isnan seen
        def __getattr__(self, name):
            return getattr(np, name)

    spy = Numpy()
    spy.isnan = np.isnan
    monkeypatch.setattr(_curves, "np", spy)
    got = {}
    before, seen = _filters_seen_inside(monkeypatch, spy, "isnan",
                                        lambda: got.setdefault("stats", curve.fold_statistics("test")))
    assert all(filters == before for filters in seen)
    mean, std, failed = got["stats"]
    np.testing.assert_allclose(mean, [0.6, np.nan, 0.2])
    np.testing.assert_allclose(std, [0.1, np.nan, np.std([0.1, 0.2, 0.3])])
    assert failed.tolist() == [1, 3, 0]


@pytest.fixture
def tiny_tree(tmp_path):
    for label in ("happy", "sad"):
        _write_pngs(tmp_path / "data" / label, 2, len(label))
    return tmp_path / "data"


def test_the_chunked_ridge_check_leaves_the_warnings_filters_alone(tiny_tree, monkeypatch):
    from sklearn.linear_model import RidgeClassifier

    from fer_classic._distributed import check_chunked
    from fer_classic.pipeline import make_pipeline

    pipeline = make_pipeline("hog", "ridge", solver="saga", max_iter=1)
    before, seen = _filters_seen_inside(
        monkeypatch, RidgeClassifier, "fit",
        lambda: check_chunked(pipeline, features="hog", clf="ridge", options={}, data=tiny_tree))
    assert all(filters == before for filters in seen)


def test_the_chunked_ridge_check_takes_the_sag_solver_and_warns_nothing(tiny_tree):
    # Two zero rows made solver="sag" divide by zero (an unexpected ZeroDivisionError); max_iter=1 warned.
    import warnings

    from fer_classic._distributed import check_chunked
    from fer_classic.pipeline import make_pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for solver in ("sag", "saga"):
            check_chunked(make_pipeline("hog", "ridge", solver=solver, max_iter=1), features="hog", clf="ridge",
                          options={}, data=tiny_tree)
    with pytest.raises(ValueError, match="--clf ridge: .*max_iter"):
        check_chunked(make_pipeline("hog", "ridge", max_iter=-1), features="hog", clf="ridge", options={},
                      data=tiny_tree)


@fork_only
@pytest.mark.skipif(_images._FORK_WARNS if hasattr(_images, "_FORK_WARNS") else False,
                    reason="Python 3.12+: os.fork warns, and that warning is filtered")
def test_a_forked_load_leaves_the_warnings_filters_alone_where_fork_does_not_warn(two_image_sets, monkeypatch):
    monkeypatch.setattr(_images, "_PROCESSES_FROM", 64)
    before, seen = _filters_seen_inside(monkeypatch, _images.ProcessPoolExecutor, "submit",
                                        lambda: _images.read_images(two_image_sets[0], (48, 48), n_jobs=2))
    assert all(filters == before for filters in seen)


# -- F5: FER_CLASSIC_PROGRESS after progress_enabled blocks in two threads ------------------------------------

def test_progress_blocks_ending_out_of_order_in_threads_leave_no_variable(monkeypatch):
    # A begins (saw it unset), B begins (saw "0"), A ends (removed it), B ends (put its "0" back): every later
    # command and child process had its progress off.
    import os

    from fer_classic._progress import progress_enabled

    monkeypatch.delenv("FER_CLASSIC_PROGRESS", raising=False)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with progress_enabled(False):
            a_in.set()
            assert b_in.wait(30)
        a_out.set()

    def b():
        assert a_in.wait(30)
        with progress_enabled(False):
            b_in.set()
            assert a_out.wait(30)
            seen["inside"] = os.environ.get("FER_CLASSIC_PROGRESS")

    _run_threads(a, b)
    assert seen["inside"] == "0"  # still set for B's workers while B's block runs
    assert "FER_CLASSIC_PROGRESS" not in os.environ


def test_progress_blocks_restore_a_value_set_before_them(monkeypatch):
    import os

    from fer_classic._progress import progress_enabled

    monkeypatch.setenv("FER_CLASSIC_PROGRESS", "1")
    with progress_enabled(False):
        assert os.environ["FER_CLASSIC_PROGRESS"] == "0"
        with progress_enabled(None):
            assert os.environ["FER_CLASSIC_PROGRESS"] == "0"
    assert os.environ["FER_CLASSIC_PROGRESS"] == "1"


# -- F8: LandmarkRidgeClassifier solves in threads leave the BLAS threads as they were ------------------------

def test_overlapping_solves_in_threads_leave_the_blas_threads_as_they_were(monkeypatch):
    # threadpool_limits saves the process's BLAS threads on entry and restores them on exit. A's block (saved 2,
    # set 1) and B's (saved A's 1) overlapped; A ended first and B put back its 1. The BLAS state is emulated
    # (one process-wide number, as OpenBLAS's): what is checked is the order of the saves and restores.
    import contextlib

    import scipy.linalg

    from fer_classic.estimators import _landmark_ridge

    blas = {"threads": 2}

    @contextlib.contextmanager
    def limits(n, user_api=None):
        saved, blas["threads"] = blas["threads"], n
        try:
            yield
        finally:
            blas["threads"] = saved

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    real = scipy.linalg.solve

    def solve(*args, **kwargs):
        if not a_in.is_set():  # A's solve: waits for B's to begin, or to wait for A's (one at a time)
            a_in.set()
            assert b_in.wait(30)
        else:  # B's
            b_in.set()
            assert a_out.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(_landmark_ridge, "threadpool_limits", limits)
    monkeypatch.setattr(_landmark_ridge, "_SOLVE_LOCK", _Contended(b_in), raising=False)
    monkeypatch.setattr(scipy.linalg, "solve", solve)
    gram, cross = np.eye(3) * 2, np.ones((3, 2))

    def a():
        _landmark_ridge.solve_normal_equations(gram, cross)
        a_out.set()

    def b():
        assert a_in.wait(30)
        _landmark_ridge.solve_normal_equations(gram, cross)

    _run_threads(a, b)
    assert blas["threads"] == 2


# -- F7: two writers of one report folder ---------------------------------------------------------------------

def test_two_writers_of_one_set_of_files_leave_one_whole_set(tmp_path, monkeypatch):
    # A renamed its first file, then B renamed its whole set, then A the rest: report.html of one writer,
    # metrics.json of the other. Now B's renames wait for A's (A waits for B's renames or for B to wait).
    from fer_classic import _fileio

    names = ("predictions.csv", "metrics.json", "report.html")
    a_renaming, b_there = threading.Event(), threading.Event()
    real, real_lock = os.replace, getattr(_fileio, "_thread_lock", None)
    renames, tags = {"A": 0, "B": 0}, {}

    def replace(src, dst):
        who = tags[threading.get_ident()]
        real(src, dst)
        renames[who] += 1
        if who == "A" and renames["A"] == 1:
            a_renaming.set()
            assert b_there.wait(30)
        if who == "B" and renames["B"] == len(names):
            b_there.set()

    def thread_lock(key, waiting=None):  # B finds A's lock held: B is there
        return real_lock(key, lambda: (b_there.set(), waiting and waiting()))

    monkeypatch.setattr(_fileio.os, "replace", replace)
    monkeypatch.setattr(_fileio, "_thread_lock", thread_lock, raising=False)

    def writer(tag):
        def write():
            tags[threading.get_ident()] = tag
            if tag == "B":
                assert a_renaming.wait(30)
            _fileio.write_together([(tmp_path / name, tag * 100) for name in names])
        return write

    _run_threads(writer("A"), writer("B"))
    contents = {(tmp_path / name).read_text() for name in names}
    assert len(contents) == 1, contents
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)  # no temporary left


@fork_only
def test_two_writer_processes_of_one_set_of_files_leave_one_whole_set(tmp_path, monkeypatch):
    # As above, between processes: a lock file's record lock keeps the renames of the two sets apart.
    import fcntl

    from fer_classic import _fileio

    names = ("predictions.csv", "metrics.json", "report.html")
    context = multiprocessing.get_context("fork")
    a_renaming, b_renamed = context.Event(), context.Event()

    class Fcntl:  # B finds A's record lock held: B is there
        def __getattr__(self, name):
            return getattr(fcntl, name)

        @staticmethod
        def lockf(fd, operation):
            try:
                return fcntl.lockf(fd, operation)
            except OSError:
                b_renamed.set()
                raise

    monkeypatch.setattr(_fileio, "fcntl", Fcntl(), raising=False)
    real = os.replace
    renames = []

    def replace(src, dst):
        who = multiprocessing.current_process().name
        real(src, dst)
        renames.append(dst)
        if who == "A" and len(renames) == 1:
            a_renaming.set()
            assert b_renamed.wait(30)
        if who == "B" and len(renames) == len(names):
            b_renamed.set()

    monkeypatch.setattr(_fileio.os, "replace", replace)

    def write(tag):
        if tag == "B":
            assert a_renaming.wait(30)
        _fileio.write_together([(tmp_path / name, tag * 100) for name in names])

    processes = [context.Process(target=write, args=(tag,), name=tag) for tag in "AB"]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    assert [process.exitcode for process in processes] == [0, 0]
    contents = {(tmp_path / name).read_text() for name in names}
    assert len(contents) == 1, contents


@pytest.mark.skipif(os.name != "posix", reason="flock is POSIX")
def test_writing_a_set_of_files_does_not_wait_for_a_lock_on_the_users_folder(tmp_path):
    # `flock reports/ fer-classic evaluate --report reports/`: write_together flocked the user's folder and waited
    # forever, without a word, for the lock its own parent held. It locks a file of fer-classic's own now.
    import fcntl

    from fer_classic import _fileio

    names = ("report.html", "metrics.json")
    fd = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as flock(1) holds it for its command
    writer = threading.Thread(target=_fileio.write_together, args=([(tmp_path / name, name) for name in names],))
    try:
        writer.start()
        writer.join(20)
        hung = writer.is_alive()
    finally:
        os.close(fd)  # lets the old code's writer go on
        writer.join(30)
    assert not hung, "write_together waits for a lock on the user's folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    assert [(tmp_path / name).read_text() for name in names] == list(names)


def test_one_lock_file_keeps_threads_apart_and_says_that_one_waits(tmp_path):
    from fer_classic import _fileio

    lock, said = tmp_path / "x.lock", []
    inside, release = threading.Event(), threading.Event()

    def holder():
        with _fileio.exclusive_lock(lock):
            inside.set()
            assert release.wait(30)

    def waiter():
        assert inside.wait(30)
        with _fileio.exclusive_lock(lock, waiting=lambda: said.append("waiting") or release.set()):
            said.append("in")

    _run_threads(holder, waiter)
    assert said == ["waiting", "in"]


# -- F9: recording_writes in two threads ------------------------------------------------------------------------

def test_a_recording_block_lists_only_the_files_its_own_thread_wrote(tmp_path):
    from fer_classic import _fileio

    a_open, b_open, a_wrote = threading.Event(), threading.Event(), threading.Event()
    lists = {}

    def a():
        with _fileio.recording_writes() as written:
            a_open.set()
            assert b_open.wait(30)
            _fileio.atomic_write_text(tmp_path / "a_model.txt", "a")
            a_wrote.set()
            lists["a"] = list(written)

    def b():
        assert a_open.wait(30)
        with _fileio.recording_writes() as written:
            b_open.set()
            assert a_wrote.wait(30)
            lists["b"] = list(written)

    _run_threads(a, b)
    assert lists == {"a": [tmp_path / "a_model.txt"], "b": []}


def test_a_write_in_a_worker_thread_of_no_block_is_still_recorded(tmp_path):
    from fer_classic import _fileio

    with _fileio.recording_writes() as outer:
        with _fileio.recording_writes() as inner:
            worker = threading.Thread(target=_fileio.atomic_write_text, args=(tmp_path / "w.txt", "w"))
            worker.start()
            worker.join()
            _fileio.atomic_write_text(tmp_path / "own.txt", "o")
    assert inner == [tmp_path / "w.txt", tmp_path / "own.txt"] and outer == inner


def test_two_threads_trying_suffixes_leave_opencvs_log_level_as_it_was(monkeypatch):
    # A's try (saved WARNING, set SILENT) and B's (saved A's SILENT) overlapped; B ended last and put SILENT back.
    from fer_classic.prediction import _run

    logging = getattr(cv2.utils, "logging", None)
    get_level = logging.getLogLevel if logging else cv2.getLogLevel
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    real = cv2.imencode

    def imencode(*args, **kwargs):
        if not a_in.is_set():  # A's: waits for B's to begin, or to wait for A's (one at a time)
            a_in.set()
            assert b_in.wait(30)
        else:
            b_in.set()
            assert a_out.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(cv2, "imencode", imencode)
    monkeypatch.setattr(_run, "_LOG_LEVEL_LOCK", _Contended(b_in), raising=False)
    before = get_level()

    def a():
        _run.writes_in_colour.__wrapped__(".png")
        a_out.set()

    def b():
        assert a_in.wait(30)
        _run.writes_in_colour.__wrapped__(".jpg")

    _run_threads(a, b)
    assert get_level() == before


# -- F4: CLI commands called in threads leave the host's warnings state alone --------------------------------

def test_commands_ending_out_of_order_in_threads_leave_the_warnings_state_alone():
    # A began (saved the host's state), B began (saved A's printer and "always" filter), A ended (put the host's
    # back), B ended (put A's back): a dead command's printer and filter stayed installed.
    import warnings

    from fer_classic import cli

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a_command():
        a_in.set()
        assert b_in.wait(30)

    def b_command():
        b_in.set()
        assert a_out.wait(30)

    def a():
        cli._run(a_command)
        a_out.set()

    def b():
        assert a_in.wait(30)
        cli._run(b_command)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        filters, show = list(warnings.filters), warnings.showwarning
        _run_threads(a, b)
        assert list(warnings.filters) == filters and warnings.showwarning is show


def test_a_label_map_parsed_while_another_command_ends_leaves_the_warnings_state_alone(monkeypatch):
    # --label-map's callback runs before _run, and caught its warnings alone: it saved A's state (A's printer and
    # "always" filter), A ended and put the host's back, then the callback put A's back, for good.
    import warnings

    from fer_classic import cli, labels

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    real = labels.parse_label_map

    def parse(value):
        b_in.set()
        assert a_out.wait(30)
        return real(value)

    monkeypatch.setattr(labels, "parse_label_map", parse)

    def a():
        cli._run(lambda: a_in.set() or b_in.wait(30))
        a_out.set()

    def b():
        assert a_in.wait(30)
        cli._label_map_option(None, None, "happy=joy")

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        filters, show = list(warnings.filters), warnings.showwarning
        _run_threads(a, b)
        assert list(warnings.filters) == filters and warnings.showwarning is show


def test_a_folder_scanned_ahead_leaves_the_warnings_filters_alone(tmp_path, monkeypatch):
    # decoding_ahead's scan (fit, search: before _run) set "ignore" in a catch_warnings of its own: ending after
    # another thread's command had, it put that dead command's state back; fit and search now hold the CLI's.
    from fer_classic.data import _prefetch

    _write_pngs(tmp_path / "happy", 2, 0)
    monkeypatch.setattr(_prefetch, "prefetch_images", lambda *args: False)

    def call():
        with _prefetch.decoding_ahead(tmp_path):
            pass

    before, seen = _filters_seen_inside(monkeypatch, _prefetch, "scan_folder", call)
    assert all(filters == before for filters in seen)


@fork_only
def test_a_child_forked_while_a_store_is_filled_does_not_keep_it_locked(tmp_path):
    # The store's flock belonged to the open file, which a forked child shares: a child still running after
    # its filler ended (or was killed) kept the store locked, and the next fit waited for it for good.
    from fer_classic.features._store import FeatureStore

    context = multiprocessing.get_context("fork")
    release = context.Event()
    store = FeatureStore(tmp_path, "k", 6, 3)
    with store.filling():
        child = context.Process(target=release.wait, args=(30,))  # a worker forked by the filler
        child.start()

    def fill_again():
        def refuse_to_wait(message):
            raise SystemExit(f"waited: {message}")

        with FeatureStore(tmp_path, "k", 6, 3).filling(refuse_to_wait):
            pass

    other = context.Process(target=fill_again)
    try:
        other.start()
        other.join(30)
    finally:
        release.set()
        child.join(30)
    assert other.exitcode == 0, "the store was still locked by the filler's child"
