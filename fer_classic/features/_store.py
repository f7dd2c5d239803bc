"""Features of a dataset larger than memory: a memory-mapped array on disk, filled chunk by chunk.

A :class:`FeatureStore` is one folder per (extractor parameters, data
fingerprint) key under a root given by the user (``fit --feature-store DIR``).
Rows are image files in listing order; a chunk of rows is written, flushed,
and only then recorded as done in ``manifest.json`` (written atomically), so
an interrupted run resumes at the first chunk not recorded and never trusts a
half-written one. Nothing in the dataset is written.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from .._display import megabytes
from .._fileio import atomic_write_text, exclusive_lock, no_room
from ..exceptions import OutputPathError

__all__ = ["FeatureStore", "files_fingerprint", "store_key"]

_MANIFEST = "manifest.json"
_FEATURES = "features.npy"
_KEPT = "kept.npy"
_PIXELS = "pixels.npy"
_LOCK = ".{key}.lock"  # beside the store's folder, held by the process filling it: see FeatureStore.filling
#: 2: the decoded faces are kept (pixels.npy), for the training set's fingerprint.
_VERSION = 2
# posix_fallocate unsupported where the filesystem cannot preallocate (then free space is compared instead).
_NO_FALLOCATE = frozenset(getattr(errno, name) for name in ("EOPNOTSUPP", "ENOTSUP", "EINVAL", "ENOSYS")
                          if hasattr(errno, name))


def files_fingerprint(paths: Iterable[str | os.PathLike], labels: Iterable[str]) -> str:
    """SHA-256 of every file's path, size, modification time and label (no file is read).

    Cheap enough for 300,000 files (one ``stat`` each) and changes whenever a
    file is replaced, touched, relabelled, added or removed.
    """
    digest = hashlib.sha256()
    for path, label in zip(paths, labels):
        stat = os.stat(path)
        digest.update(f"{os.fspath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\0{label}\n".encode())
    return digest.hexdigest()


def store_key(params: Mapping, fingerprint: str) -> str:
    """Folder name of the store for extractor ``params`` (JSON-ready) and a data ``fingerprint``."""
    text = json.dumps({"params": params, "data": fingerprint, "version": _VERSION}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class FeatureStore:
    """A float64 feature matrix on disk, one row per listed image file, filled and read in chunks.

    Parameters
    ----------
    root : path
        Folder of stores; this store is ``root/<key>``, created when its first
        chunk is written (a fit refused before that leaves no folder), and its
        lock file ``root/.<key>.lock`` (see :meth:`filling`).
    key : str
        :func:`store_key` of the extractor parameters and the data fingerprint.
    n_rows : int
        Listed image files.
    chunk_size : int
        Rows per chunk (part of the layout: a store is reopened with the same).
    params : mapping, optional
        Recorded in the manifest, for people reading the folder.

    Notes
    -----
    Files: ``features.npy`` (``n_rows x n_features``, created at the first
    chunk, when the width is known), ``pixels.npy`` (the decoded uint8 faces,
    ``n_rows x height x width``), ``kept.npy`` (bool per row: the file was
    decoded and holds a face) and ``manifest.json`` (chunks done and their
    skipped files).

    Raises
    ------
    ValueError
        An existing store of another version (made by another fer-classic),
        of another chunk size, or a damaged one (its
        manifest unreadable, an array missing or cut short): the message names
        the folder and says to delete it or choose another ``--feature-store``.
    OutputPathError
        From :meth:`write`: no room on the disk for the whole store (the
        arrays are reserved when created, before the other chunks are
        computed).
    """

    def __init__(self, root: str | os.PathLike, key: str, n_rows: int, chunk_size: int,
                 params: Mapping | None = None):
        self.folder = Path(root) / key
        self.n_rows, self.chunk_size = int(n_rows), int(chunk_size)
        self._reserved = False
        self.manifest = {"version": _VERSION, "n_rows": self.n_rows, "chunk_size": self.chunk_size,
                         "n_features": None, "params": dict(params or {}), "done": {}}
        self._load()

    def _load(self) -> None:
        """Read and check the manifest and arrays on disk, if there are any (else keep the new manifest)."""
        manifest = self.folder / _MANIFEST
        if manifest.exists():
            self.manifest = self._read_manifest(manifest)
            self._check_version()
            if (self.manifest.get("n_rows"), self.manifest.get("chunk_size")) != (self.n_rows, self.chunk_size):
                raise ValueError(f"{self.folder}: feature store of {self.manifest.get('n_rows')} rows in chunks of "
                                 f"{self.manifest.get('chunk_size')}, asked for {self.n_rows} in chunks of "
                                 f"{self.chunk_size}; use the same --chunk-size or another --feature-store.")
            self._check_arrays()

    @contextlib.contextmanager
    def filling(self, log: Callable[[str], object] | None = None) -> Iterator[FeatureStore]:
        """Hold the store's lock while this process computes and writes its missing chunks.

        One process at a time fills a store: two at once re-created (truncated)
        the arrays the other had written and mapped (EOFError, a shape error,
        SIGBUS). Another process's hold is waited for (``log`` says so), then
        the manifest is read again from disk, so that :meth:`missing` leaves out
        the chunks that process wrote. The lock is :func:`~fer_classic._fileio.exclusive_lock`
        on ``.<key>.lock`` beside the store's folder, in the root (made here),
        released when the block ends or the process dies (a forked child does
        not keep it); where there is no ``fcntl`` (Windows) only threads are
        kept apart. The lock file is not in the store's folder, which is still
        made by the first chunk written: a fit refused or stopped before it
        leaves no folder.
        """
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        # Never deleted: a process waiting on a lock file removed meanwhile would hold a lock nobody else sees.
        lock = self.folder.parent / _LOCK.format(key=self.folder.name)
        waiting = None if log is None else (
            lambda: log(f"feature store {self.folder}: another fer-classic run is filling it; waiting for it"))
        with exclusive_lock(lock, waiting=waiting):
            self._load()
            yield self

    def _damaged(self, what: str) -> ValueError:
        return ValueError(f"Feature store {self.folder} is damaged ({what}); delete that folder to compute the "
                          "features anew, or choose another --feature-store.")

    def _read_manifest(self, path: Path) -> dict:
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise self._damaged(f"{_MANIFEST}: {exc}") from None
        if not (isinstance(manifest, dict) and isinstance(manifest.get("done"), dict)):
            raise self._damaged(f"{_MANIFEST} is not a feature store's manifest")
        return manifest

    def _check_version(self) -> None:
        """An existing store of another layout is refused (e.g. version 1 kept no ``pixels.npy``)."""
        version = self.manifest.get("version")
        if version == _VERSION:
            return
        if not isinstance(version, int) or isinstance(version, bool):
            raise self._damaged(f"{_MANIFEST} records no store version")
        older = version < _VERSION
        # A newer one's features still serve that newer fer-classic: not to be deleted from here.
        fix = ("delete it or choose another --feature-store" if older
               else "use that fer-classic, or choose another --feature-store")
        raise ValueError(f"Feature store {self.folder} was made by {'an older' if older else 'a newer'} fer-classic "
                         f"(store version {version}; this one reads version {_VERSION}); {fix}.")

    def _check_arrays(self) -> None:
        """Each array there is of the manifest's shape and can be mapped (a truncated file cannot)."""
        n_features = self.manifest.get("n_features")
        if not self.manifest["done"]:
            return
        if not isinstance(n_features, int):
            raise self._damaged(f"{_MANIFEST} records chunks but no feature width")
        shapes = {_FEATURES: (self.n_rows, n_features), _KEPT: (self.n_rows,), _PIXELS: None}
        for name, shape in shapes.items():
            try:
                array = self._map(name)
            except (OSError, ValueError) as exc:
                raise self._damaged(f"{name}: {exc}") from None
            if (shape is not None and array.shape != shape) or (shape is None and array.shape[:1] != (self.n_rows,)):
                raise self._damaged(f"{name} holds an array of shape {array.shape}")
            del array

    @property
    def n_chunks(self) -> int:
        """Chunks of ``chunk_size`` rows (the last may be shorter)."""
        return -(-self.n_rows // self.chunk_size)

    def bounds(self, chunk: int) -> tuple[int, int]:
        """First and one-past-last row of ``chunk``."""
        start = chunk * self.chunk_size
        return start, min(start + self.chunk_size, self.n_rows)

    def missing(self) -> list[int]:
        """Chunks not yet written (all of them in a new store)."""
        return [c for c in range(self.n_chunks) if str(c) not in self.manifest["done"]]

    def _map(self, name: str, mode: str = "r") -> np.ndarray:
        """``features.npy`` or ``kept.npy`` mapped for one access, then dropped by the caller.

        Mapped anew each time: pages of a mapping that stays open count in the
        process's resident memory as they are touched, up to the whole store.
        """
        return np.load(self.folder / name, mmap_mode=mode)

    def write(self, chunk: int, X: np.ndarray, kept: np.ndarray, skipped: Sequence, pixels: np.ndarray) -> None:
        """Store chunk ``chunk``: features ``X`` and faces ``pixels`` of its kept rows (``kept``: their positions).

        The rows are flushed to disk before the manifest records the chunk as done.
        The first write reserves the disk space of the whole store.

        Raises
        ------
        OutputPathError
            Naming ``--feature-store`` and the space needed, if the disk has no
            room for the store: a write into a memory-mapped page without disk
            space behind it would kill the process (SIGBUS), not raise.
        """
        start, stop = self.bounds(chunk)
        # Created anew while no chunk is recorded: arrays left by a run cut short before its first chunk.
        if not self.manifest["done"] or not all((self.folder / name).exists() for name in (_FEATURES, _KEPT, _PIXELS)):
            self.manifest["n_features"] = int(X.shape[1])
            self._create((_FEATURES, np.float64, (self.n_rows, int(X.shape[1]))), (_KEPT, bool, (self.n_rows,)),
                         (_PIXELS, np.uint8, (self.n_rows, *np.shape(pixels)[1:])))
        elif not self._reserved:  # a store resumed: made sparse by an older fer-classic, or its space since taken
            try:
                self._reserve()
            except OSError as exc:
                if no_room(exc.errno) is None:  # not for want of room (a full disk, a quota, ulimit -f)
                    raise
                raise self._no_room(exc) from None
        rows = start + np.asarray(kept, dtype=np.intp)
        features, kept_rows, faces = (self._map(name, "r+") for name in (_FEATURES, _KEPT, _PIXELS))
        kept_rows[start:stop] = False
        kept_rows[rows] = True
        features[rows] = X
        faces[rows] = pixels
        for array in (features, kept_rows, faces):
            array.flush()
        del features, kept_rows, faces
        self.manifest["done"][str(chunk)] = {"skipped": [list(s) for s in skipped], "n_kept": int(len(rows))}
        atomic_write_text(self.folder / _MANIFEST, json.dumps(self.manifest))

    def _create(self, *arrays: tuple[str, type, tuple]) -> None:
        """Make the ``(name, dtype, shape)`` arrays and reserve their space; on a disk without room, none is left."""
        made_folder = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            for name, dtype, shape in arrays:
                created = np.lib.format.open_memmap(self.folder / name, mode="w+", dtype=dtype, shape=shape)
                created.flush()
                del created
            self._reserve()
        except OSError as exc:
            if no_room(exc.errno) is None:
                raise
            # No chunk is recorded: the arrays hold nothing, and the space they took is given back.
            needed = sum(int(np.prod(shape)) * np.dtype(dtype).itemsize for _, dtype, shape in arrays)
            for name, _, _ in arrays:
                (self.folder / name).unlink(missing_ok=True)
            if made_folder:
                try:
                    self.folder.rmdir()
                except OSError:
                    pass
            raise self._no_room(exc, needed) from None

    def _reserve(self) -> None:
        """Allocate the disk blocks of the three arrays (created sparse by ``open_memmap``).

        A page of a mapping written where the disk has no room raises SIGBUS,
        which kills the process without a word; ``posix_fallocate`` fails
        cleanly (ENOSPC) instead, and does not change the bytes. Where the
        filesystem cannot preallocate, the free space is compared with the
        blocks still missing, of the three arrays together.
        """
        missing = 0
        for name in (_FEATURES, _KEPT, _PIXELS):
            fd = os.open(self.folder / name, os.O_RDWR | getattr(os, "O_BINARY", 0))
            try:
                stat = os.fstat(fd)
                try:
                    os.posix_fallocate(fd, 0, stat.st_size)
                    continue
                except AttributeError:  # not on macOS or Windows
                    pass
                except OSError as exc:
                    if exc.errno not in _NO_FALLOCATE:
                        raise
                missing += max(stat.st_size - getattr(stat, "st_blocks", 0) * 512, 0)
            finally:
                os.close(fd)
        # Each array alone fitted the free space while the three together did not.
        if missing and shutil.disk_usage(self.folder).free < missing:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.folder))
        self._reserved = True

    def _no_room(self, exc: OSError, needed: int | None = None) -> OutputPathError:
        if needed is None:
            needed = sum((self.folder / name).stat().st_size for name in (_FEATURES, _KEPT, _PIXELS))
        try:
            free = f", {megabytes(shutil.disk_usage(self.folder.parent).free)} free there"
        except OSError:
            free = ""
        fix = no_room(exc.errno, self.folder, option="--feature-store")[1]
        return OutputPathError(
            f"--feature-store {self.folder.parent}: no room for the feature store {self.folder.name} "
            f"({exc.strerror or exc}): it needs {megabytes(needed)}{free}; {fix}.")

    def kept(self, chunk: int) -> np.ndarray:
        """Positions, within ``chunk``, of its rows that hold features."""
        start, stop = self.bounds(chunk)
        return np.flatnonzero(self._map(_KEPT)[start:stop])

    def read(self, chunk: int) -> np.ndarray:
        """Features of the kept rows of ``chunk`` (a copy of one chunk: the rest stays on disk)."""
        start, stop = self.bounds(chunk)
        return np.array(self._map(_FEATURES)[start:stop][self.kept(chunk)])

    def pixels(self, chunk: int) -> np.ndarray:
        """Decoded faces of the kept rows of ``chunk`` (uint8, a copy of one chunk)."""
        start, stop = self.bounds(chunk)
        return np.array(self._map(_PIXELS)[start:stop][self.kept(chunk)])

    def info(self, chunk: int) -> dict:
        """The manifest's record of a written chunk: ``skipped``, ``n_kept``."""
        return self.manifest["done"][str(chunk)]
