"""A feature store reserves its disk space: a disk without room is a clean error, never a SIGBUS.

Writing a page of a memory-mapped file where the disk has no room kills the process ("Bus error"); a full
disk is simulated here by a ``posix_fallocate`` that fails with ENOSPC.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
from collections import namedtuple

import numpy as np
import pytest

from fer_classic.exceptions import OutputPathError
from fer_classic.features._store import FeatureStore
from fer_classic.workflow import fit_model

needs_fallocate = pytest.mark.skipif(not hasattr(os, "posix_fallocate"), reason="no os.posix_fallocate here")
_Usage = namedtuple("_Usage", "total used free")
N_ROWS, WIDTH = 600, 128  # features.npy of 600 KB: sparse blocks a reservation must fill


def _chunk(store, chunk, value=1.0):
    start, stop = store.bounds(chunk)
    n = stop - start
    store.write(chunk, np.full((n, WIDTH), value), np.arange(n), [], np.full((n, 4, 4), 7, np.uint8))


def _fallocate_fails(monkeypatch, code):
    def fallocate(fd, offset, length):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "posix_fallocate", fallocate, raising=False)


@needs_fallocate
def test_a_new_store_reserves_the_space_of_every_chunk(tmp_path):
    store = FeatureStore(tmp_path, "k", N_ROWS, 200)
    _chunk(store, 0)
    stat = (store.folder / "features.npy").stat()
    assert stat.st_blocks * 512 >= stat.st_size  # not sparse: the later chunks have their room


def test_a_store_without_room_is_an_error_naming_feature_store_and_leaves_nothing(tmp_path, monkeypatch):
    _fallocate_fails(monkeypatch, errno.ENOSPC)
    store = FeatureStore(tmp_path / "root", "k", N_ROWS, 200)
    with pytest.raises(OutputPathError, match=r"^--feature-store .*root: no room for the feature store k \(No space "
                                              r"left on device\): it needs 0\.6 MB, .* free there; free some space "
                                              r"there or give --feature-store a path on another disk\.$"):
        _chunk(store, 0)
    assert not store.folder.exists()


def test_a_store_over_the_file_size_limit_says_to_raise_it(tmp_path, monkeypatch):
    _fallocate_fails(monkeypatch, errno.EFBIG)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (3000 * 1024, resource.RLIM_INFINITY))
    with pytest.raises(OutputPathError, match=r"\(File too large\).*; raise the file-size limit \(bash's ulimit -f, "
                                              r"now 3000, counts 1 KiB blocks\)\.$"):
        _chunk(FeatureStore(tmp_path, "k", N_ROWS, 200), 0)


@pytest.mark.parametrize("free, refused", [(0, True), (1 << 40, False)])
def test_where_the_filesystem_cannot_preallocate_the_free_space_decides(tmp_path, monkeypatch, free, refused):
    _fallocate_fails(monkeypatch, errno.EOPNOTSUPP)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: _Usage(1 << 41, 0, free))
    store = FeatureStore(tmp_path, "k", N_ROWS, 200)
    if refused:
        with pytest.raises(OutputPathError, match="no room for the feature store k"):
            _chunk(store, 0)
    else:
        _chunk(store, 0)
        assert store.missing() == [1, 2]


def test_where_the_filesystem_cannot_preallocate_the_three_arrays_must_fit_together(tmp_path, monkeypatch):
    # Each array was compared with the free space alone: room for the largest one passed, short of the others'.
    _fallocate_fails(monkeypatch, errno.EOPNOTSUPP)
    store = FeatureStore(tmp_path, "k", N_ROWS, 200)

    def room_for_the_largest(path):
        missing = sorted(max(f.stat().st_size - f.stat().st_blocks * 512, 0) for f in store.folder.glob("*.npy"))
        if not missing:  # the error's own look, the arrays removed
            return _Usage(1 << 41, 0, 0)
        assert missing[-2] > 0  # pixels.npy is missing blocks too: the sum is larger
        return _Usage(1 << 41, 0, missing[-1] + 1)

    monkeypatch.setattr(shutil, "disk_usage", room_for_the_largest)
    with pytest.raises(OutputPathError, match="no room for the feature store k"):
        _chunk(store, 0)


def test_a_resumed_store_without_room_keeps_its_chunks(tmp_path, monkeypatch):
    _chunk(FeatureStore(tmp_path, "k", N_ROWS, 200), 0, value=3.0)
    _fallocate_fails(monkeypatch, errno.ENOSPC)  # e.g. a store made sparse by an older fer-classic, disk since full
    resumed = FeatureStore(tmp_path, "k", N_ROWS, 200)
    with pytest.raises(OutputPathError, match="no room for the feature store k"):
        _chunk(resumed, 1)
    again = FeatureStore(tmp_path, "k", N_ROWS, 200)
    assert again.missing() == [1, 2] and (again.read(0) == 3.0).all()


def test_a_fit_on_a_disk_without_room_for_its_store_names_feature_store(folder_dataset, tmp_path, monkeypatch):
    _fallocate_fails(monkeypatch, errno.ENOSPC)
    with pytest.raises(OutputPathError, match=r"--feature-store .*store: no room for the feature store"):
        fit_model(folder_dataset, features="hog", clf="svm", clf_params={"backend": "approx", "n_components": 20},
                  feature_store=tmp_path / "store", chunk_size=16, out=tmp_path / "m.joblib")
    assert not (tmp_path / "m.joblib").exists()


def _fill(store, monkeypatch, extract):
    """Fill ``store`` as a chunked fit does (_StoreChunks: under its lock), ``extract`` computing each chunk."""
    from fer_classic import _distributed

    monkeypatch.setattr(_distributed, "_extract", extract)
    images = namedtuple("_Images", "paths")(np.array([str(i) for i in range(store.n_rows)]))
    _distributed._StoreChunks(store, images, (4, 4), None, None, lambda message: None)


def _extracted(paths, size, cropper, head):
    from fer_classic import _distributed

    n = len(paths)
    return _distributed._Chunk(np.ones((n, WIDTH)), np.arange(n), [], np.zeros((n, 4, 4), np.uint8))


def test_a_fit_refused_for_want_of_room_leaves_no_store_folder(tmp_path, monkeypatch):
    # The lock file, made in the store's folder before the first chunk, kept the folder (and the clean-up of a
    # store without room never ran): "a fit refused before that leaves no folder" was untrue.
    _fallocate_fails(monkeypatch, errno.ENOSPC)
    store = FeatureStore(tmp_path / "root", "k", N_ROWS, 200)
    with pytest.raises(OutputPathError, match="no room for the feature store k"):
        _fill(store, monkeypatch, _extracted)
    assert not store.folder.exists()


def test_a_fit_stopped_before_its_first_chunk_leaves_no_store_folder(tmp_path, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt

    store = FeatureStore(tmp_path / "root", "k", N_ROWS, 200)
    with pytest.raises(KeyboardInterrupt):
        _fill(store, monkeypatch, interrupted)
    assert not store.folder.exists()


def test_a_filled_store_holds_only_its_own_files(tmp_path, monkeypatch):
    store = FeatureStore(tmp_path, "k", N_ROWS, 200)
    _fill(store, monkeypatch, _extracted)
    assert sorted(p.name for p in store.folder.iterdir()) == ["features.npy", "kept.npy", "manifest.json",
                                                              "pixels.npy"]
    assert FeatureStore(tmp_path, "k", N_ROWS, 200).missing() == []
