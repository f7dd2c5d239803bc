"""Writing files safely: atomic replacement, and outputs that never touch inputs.

Every file fer-classic writes (models, reports, CSVs, feature caches) goes
through :func:`atomic_write`, so an interrupted write leaves the previous file
or none, never a truncated one. Commands call :func:`check_outputs` before any
long work, so an output path that is, or points to, one of the command's
inputs is refused instead of overwriting the user's data.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import errno
import functools
import glob
import hashlib
import os
import re
import socket
import stat
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: exclusive_lock keeps threads apart only
    fcntl = None

from ._display import valid_text
from .exceptions import FerClassicError, InputPathError, OutputPathError

__all__ = [
    "atomic_write", "atomic_write_bytes", "atomic_write_text", "check_outputs", "csv_writer", "file_sha256",
    "file_size_limit", "folder_outputs", "no_room", "path_items", "require_regular_file", "stat_regular_file",
]

PathLike = str | os.PathLike

# Temporaries are named ".<name>.<pid>@<host>.<random>.tmp" beside their target, so a
# later write of the same file can tell whose writer is gone; only this host's
# processes can be asked (a shared folder may hold another machine's live writer).
_TMP_SUFFIX = ".tmp"
_umask_lock = threading.Lock()
#: The lists of recording_writes() blocks now open: each gets the files written while it is (none: nothing kept).
_recorders: list[list[Path]] = []
_recorders_lock = threading.Lock()
#: The lists of the blocks open in this thread (context), innermost last: a write is theirs alone.
_OWN_RECORDERS: contextvars.ContextVar[tuple[list[Path], ...]] = contextvars.ContextVar(
    "fer_classic_recorders", default=())
#: exclusive_lock's thread lock of each lock file (by absolute path): record locks keep processes apart only.
_LOCK_FILE_LOCKS: dict[str, threading.Lock] = {}
_LOCK_FILE_LOCKS_LOCK = threading.Lock()
# Dots would end the pid@host field of the name.
_HOST = socket.gethostname().replace(".", "-") or "localhost"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to another user
        return True
    return True


def name_max(folder: PathLike) -> int:
    """The longest file name, in bytes, that the file system of the existing ``folder`` allows (255 if unknown)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # AttributeError: no pathconf (Windows)
        return 255


def _name_bytes(name: str) -> int:
    return len(os.fsencode(name))


#: The most a process id takes in a temporary's name (Linux's pid_max is at most 2**22, 7 digits).
_PID_WIDTH = 10
#: tempfile.mkstemp's random part.
_RANDOM_WIDTH = 8


def _temporary_prefixes(path: Path, limit: int) -> dict[str, str]:
    """Temporary's name ending -> its prefix (``.<name>.``), for a plain and a ``keep_suffix`` temporary.

    The name is cut (whole characters) so that the temporary's name, of any process id, fits ``limit`` bytes:
    a name of 233 to 255 bytes is legal, but ``.<name>.<pid>@<host>.<random>.tmp`` was not, and the write
    failed after all the work. The cut depends on the path and the host only, so the next write finds the
    temporaries a killed writer left.
    """
    prefixes = {}
    for ending in dict.fromkeys((_TMP_SUFFIX, _TMP_SUFFIX + path.suffix)):
        room = limit - _name_bytes(f"..{'0' * _PID_WIDTH}@{_HOST}.{'x' * _RANDOM_WIDTH}{ending}")
        name, used = [], 0
        for char in path.name:
            used += _name_bytes(char)
            if used > room:
                break
            name.append(char)
        prefixes[ending] = f".{''.join(name) or '_'}."
    return prefixes


def _remove_stale_temporaries(path: Path, prefixes: dict[str, str]) -> None:
    # A write killed outright (SIGKILL, power loss) cannot clean up; the next
    # write of the same file removes temporaries whose writing process is gone.
    # Those of atomic_write(..., keep_suffix=True) end in the target's suffix too.
    for ending, prefix in prefixes.items():
        for tmp in path.parent.glob(f"{glob.escape(prefix)}*{glob.escape(ending)}"):
            pid, _, host = tmp.name[len(prefix):].split(".", 1)[0].partition("@")
            if pid.isdigit() and host == _HOST and not _pid_alive(int(pid)):
                tmp.unlink(missing_ok=True)


def _umask() -> int:
    # Linux reports it without changing it; elsewhere the only way to read the
    # umask is to set it, so do that under a lock and put it back at once.
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform or filesystem allows it.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def recording_writes() -> Iterator[list[Path]]:
    """The paths :func:`atomic_write` and :func:`write_together` write inside the block, in order.

    A command whose files are written but whose results cannot be shown (a
    full stdout) can still say what it saved; outside the block nothing is
    kept (a long-running caller's writes do not pile up).
    """
    written: list[Path] = []
    with _recorders_lock:
        _recorders.append(written)
    token = _OWN_RECORDERS.set((*_OWN_RECORDERS.get(), written))
    try:
        yield written
    finally:
        _OWN_RECORDERS.reset(token)
        with _recorders_lock:  # by identity: blocks in other threads may close in any order
            _recorders[:] = [r for r in _recorders if r is not written]


def _record(paths: Iterable[Path]) -> None:
    """Give the :func:`recording_writes` blocks open in this thread (context) the files just written.

    A write in a thread of no block (a worker thread a command started) goes
    to every open block, as all writes did: a block in another thread (a
    command run beside it in one process) listed files it never wrote.
    """
    if _recorders:
        paths = list(paths)
        own = _OWN_RECORDERS.get()
        with _recorders_lock:
            for recorder in own or _recorders:
                recorder.extend(paths)


def atomic_write(
    path: PathLike, write: Callable[[Path], None], *, make_parents: bool = True, keep_suffix: bool = False
) -> Path:
    """Write ``path`` through a temporary file, so it is never seen half-written.

    ``write(tmp)`` writes the whole content to ``tmp``, a new file in the same
    folder as ``path``; it is then flushed to disk and renamed over ``path``
    (``os.replace``, atomic on POSIX and Windows). An interrupted or failed
    write leaves the previous file (or none) and removes the temporary; the
    temporaries of writers killed outright are removed by the next write of
    the same file. A replaced file keeps its permission bits; a new one gets
    the usual ``0o666`` less the umask. A symbolic link at ``path`` is
    replaced by the file, never written through; a path that is, or whose
    links lead to, a stream (:func:`stream_of`: ``/dev/stdout``, a FIFO) is
    refused with OutputPathError, and nothing is replaced.

    Parameters
    ----------
    path : path
        The file to write.
    write : callable
        ``write(tmp: Path) -> None``; it may open ``tmp`` by name (it exists, empty).
    make_parents : bool, default=True
        Create missing parent folders.
    keep_suffix : bool, default=False
        End the temporary's name in ``path``'s suffix too
        (``.clip.avi.<pid>@<host>.<random>.tmp.avi``), for writers that
        choose the format by the file name (OpenCV's video writer).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    _check_not_stream("", path, is_dir=False)  # the link is never replaced (check_outputs refused it already)
    prefixes: dict[str, str] = {}
    try:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        prefixes = _temporary_prefixes(path, name_max(path.parent))
        tmp = _filled_temporary(path, write, prefixes, keep_suffix=keep_suffix)
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        named = _naming_the_output(exc, path, prefixes)
        if named is exc:
            raise
        raise named from exc
    _fsync_dir(path.parent)
    _record([path])
    return path


def _filled_temporary(path: Path, write: Callable[[Path], None], prefixes: dict[str, str], *,
                      keep_suffix: bool = False) -> Path:
    """A new temporary beside ``path`` holding what ``write`` wrote, flushed, with ``path``'s permission bits.

    Removed again if anything fails. A write through an open file (a full disk while a model is dumped)
    names no file: ENOSPC, EDQUOT and EFBIG come from writes only, and ``write`` writes the temporary, so
    they are made to name ``path``; an EIO could come from a read of an input as well, and passes as it is.
    """
    tmp, mode = _new_temporary(path, prefixes, keep_suffix=keep_suffix)
    try:
        try:
            write(tmp)
        except OSError as exc:
            if exc.filename is None and exc.filename2 is None and exc.errno in _WRITE_ERRNOS:
                raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
            raise
        try:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())  # the temporary's, whatever it fails with (an EIO as well)
        except OSError as exc:
            if exc.filename is not None:  # open(): named already (the temporary's name, renamed by the caller)
                raise
            raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
        os.chmod(tmp, mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _naming_the_output(exc: OSError, path: Path, prefixes: dict[str, str]) -> OSError:
    """``exc`` naming ``path`` where it names one of ``path``'s temporaries (the user never named those:
    an existing folder at ``path``, a full disk); else ``exc`` itself (a folder above, an input read)."""
    ours = tuple(prefixes.values()) if prefixes else (f".{path.name}.",)
    if exc.errno is None or not (_temporary_of(exc.filename, ours) or _temporary_of(exc.filename2, ours)):
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


def _new_temporary(path: Path, prefixes: dict[str, str], *, keep_suffix: bool = False) -> tuple[Path, int]:
    """A new empty temporary beside ``path`` (its killed writers' ones removed), and the permission bits
    ``path`` is to get: its own if it exists, else what ``open()`` would give a new file."""
    _remove_stale_temporaries(path, prefixes)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    suffix = _TMP_SUFFIX + (path.suffix if keep_suffix else "")
    fd, name = tempfile.mkstemp(prefix=f"{prefixes[suffix]}{os.getpid()}@{_HOST}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(name), mode


def _after_fork_in_child() -> None:
    # A thread lock another thread held at the fork stays held in the child: the child starts with none.
    global _LOCK_FILE_LOCKS, _LOCK_FILE_LOCKS_LOCK
    _LOCK_FILE_LOCKS, _LOCK_FILE_LOCKS_LOCK = {}, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def exclusive_lock(path: PathLike, *, waiting: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the lock file ``path`` (created if missing, never deleted) for the block.

    Threads of this process are kept apart by a thread lock per file,
    processes by a POSIX record lock (``fcntl.lockf``), which belongs to
    the process: a forked child does not keep it, and it is released when
    its holder dies. Where the lock is held already, ``waiting()`` is
    called once (to say so), then the lock is waited for. Without ``fcntl``
    (Windows) or on a filesystem without record locks, only threads are
    kept apart. The file must be fer-classic's own: never lock a folder or
    file of the user's, which another program (``flock DIR command``) may hold.
    """
    path = os.path.abspath(path)
    told = []
    with _thread_lock(path, waiting and (lambda: told.append(waiting()))):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0),
                     0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    if exc.errno in (errno.EACCES, errno.EAGAIN):  # another process holds it
                        if waiting is not None and not told:
                            waiting()
                        fcntl.lockf(fd, fcntl.LOCK_EX)
                    # else: no record locks on this filesystem: threads only
            yield
        finally:
            os.close(fd)  # and the record lock with it


@contextlib.contextmanager
def _thread_lock(key: str, waiting: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold this process's thread lock of ``key`` (one per key, made on first use); ``waiting()`` if it is held."""
    with _LOCK_FILE_LOCKS_LOCK:
        lock = _LOCK_FILE_LOCKS.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=False):
        if waiting is not None:
            waiting()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _locks_folder() -> Path | None:
    """This user's folder of fer-classic's lock files in the temporary folder, or None where it cannot be used."""
    folder = Path(tempfile.gettempdir()) / f"fer-classic-locks-{os.getuid() if hasattr(os, 'getuid') else 0}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        return None  # a link or another user's folder: not ours to lock in
    return folder


@contextlib.contextmanager
def _renaming_together(folders: Iterable[Path]) -> Iterator[None]:
    """Hold the renames of one :func:`write_together` set apart from another writer's of the same folders.

    Two writers of one report folder at once (two ``evaluate --report``)
    interleaved their renames and left a mixed set (report.html of one,
    metrics.json of the other); now the set renamed last is whole. Each
    folder is locked through :func:`exclusive_lock` on a lock file of
    fer-classic's own, named by the folder's device and inode, in
    :func:`_locks_folder` (the user's folder itself was locked before: under
    ``flock DIR fer-classic ... DIR`` the run waited forever for its own
    parent's lock). Nothing is created in the user's folders; where no lock
    file can be made, only threads are kept apart (the processes of one user
    on one machine are kept apart, not of several users or machines).
    """
    keys = set()
    for folder in folders:
        with contextlib.suppress(OSError):
            info = os.stat(folder)
            keys.add(f"{info.st_dev:x}-{info.st_ino:x}.lock")
    locks = _locks_folder()
    with contextlib.ExitStack() as held:
        for key in sorted(keys):  # in one order: two writers of the same folders never wait on each other
            held.enter_context(exclusive_lock(locks / key) if locks is not None else _thread_lock(key))
        yield


def write_together(writes: Sequence[tuple[str | os.PathLike, str | Callable[[Path], None]]]) -> None:
    """Write several files as one set: none is replaced unless every one of them was written.

    The two-phase form of :func:`atomic_write`. Each ``(path, write)``
    (``write(tmp)`` writes the content; a str is text, written as
    :func:`atomic_write_text` writes it) is written to a temporary beside its
    file and flushed, as :func:`atomic_write` does (the temporaries of a
    killed run are removed by the next; a replaced file keeps its permission
    bits). Only once every temporary is written are they renamed, back to
    back, the first file's last, then each folder flushed once. A full disk
    or Ctrl-C before the renames leaves the previous set whole and no
    temporary, rather than new files beside an older one (metrics.json of
    this run, report.html of the last); a folder standing where a file goes
    is refused before any rename.

    Raises
    ------
    OSError
        Naming the file (never its temporary) that could not be written.
    """
    for target, _ in writes:  # before any is written: the links are never replaced
        _check_not_stream("", Path(target), is_dir=False)
    temporaries: list[tuple[Path, Path]] = []  # (temporary, file), in the order given
    path: Path | None = None
    try:
        for path, write in writes:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = _filled_temporary(path, _text_writer(write) if isinstance(write, str) else write,
                                    _temporary_prefixes(path, name_max(path.parent)))
            temporaries.append((tmp, path))
        for tmp, path in temporaries:
            # The one rename that fails for certain (a folder of that name): refused before any file is replaced.
            if os.path.isdir(path) and not os.path.islink(path):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        with _renaming_together(path.parent for _, path in temporaries):
            for tmp, path in reversed(temporaries):
                os.replace(tmp, path)
    except BaseException as exc:
        for tmp, _ in temporaries:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and path is not None:  # the file being written or renamed, as atomic_write
            named = _naming_the_output(exc, path, _temporary_prefixes(path, name_max(path.parent)))
            if named is not exc:
                raise named from exc
        raise
    for folder in dict.fromkeys(path.parent for _, path in temporaries):
        _fsync_dir(folder)
    _record(path for _, path in temporaries)


#: What only writing to an open file fails with: a full disk or quota, a file too large (not EIO: reads too).
_WRITE_ERRNOS = frozenset(code for code in (getattr(errno, name, None) for name in ("ENOSPC", "EDQUOT", "EFBIG"))
                          if code is not None)


def file_size_limit() -> int | None:
    """This process's file-size limit (``ulimit -f``) in bytes, or None where there is none (or no way to tell)."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (ImportError, OSError, ValueError):  # no resource module on Windows
        return None
    return None if limit == resource.RLIM_INFINITY else limit


def _temporary_place(path: PathLike) -> str | None:
    """The variable that moves ``path``'s folder, if ``path`` is a temporary place no option names: joblib's
    memmapping folder (/dev/shm or JOBLIB_TEMP_FOLDER) or the temp folder (a search's cache, TMPDIR)."""
    real = os.path.realpath(path)
    places = (("JOBLIB_TEMP_FOLDER", os.environ.get("JOBLIB_TEMP_FOLDER")), ("JOBLIB_TEMP_FOLDER", "/dev/shm"),
              ("TMPDIR (or JOBLIB_TEMP_FOLDER)", tempfile.gettempdir()))
    for variable, folder in places:
        if folder:
            folder = os.path.realpath(folder)
            if real == folder or real.startswith(folder.rstrip(os.sep) + os.sep):
                return variable
    return None


def no_room(code: int | None, path: PathLike | None = None, *, option: str | None = None,
            free: int | None = None) -> tuple[str, str] | None:
    """Why a write was refused for want of room, and what to do: ``(cause, fix)``, or None for another errno.

    The one wording of a full disk (ENOSPC), a used-up quota (EDQUOT) and a
    file too large (EFBIG: the file-size limit, or what the file system
    allows) for every command and file.

    Parameters
    ----------
    code : int or None
        The errno.
    path : path, optional
        The file (or folder) being written; None where it is not known.
    option : str, optional
        The option that gave ``path`` (``"--out"``): the fix names it. Without
        it, a path in a temporary place (the temp folder, /dev/shm) is moved
        by TMPDIR or JOBLIB_TEMP_FOLDER, which the fix names instead.
    free : int, optional
        Bytes free on the disk, for the cause of ENOSPC.

    Returns
    -------
    (cause, fix) : tuple of str, or None
        Two clauses, without a capital or a full stop: "no space left on its
        disk", "free some space there or give --out a path on another disk".
    """
    if code not in _WRITE_ERRNOS:
        return None
    there = " there" if path is not None else " on the disk being written to"
    variable = _temporary_place(path) if option is None and path is not None else None
    if option is not None:
        elsewhere = f"give {option} a path on another disk"
    elif variable is not None:
        elsewhere = f"set {variable} to a folder on a disk with room"
    elif path is not None:
        elsewhere = "write this file to another disk"
    else:
        elsewhere = "write to another disk"
    if code == errno.EFBIG:
        limit = file_size_limit()
        if limit is None:
            return ("the file outgrew what its file system allows",
                    elsewhere.replace("another disk", "a file system that allows larger files"))
        # bash's `ulimit -f` counts 1 KiB blocks: "3072000 bytes" was typed as `ulimit -f 3072000` (3 GB).
        # The limit is the process's on every disk: another path is no way round it.
        return (f"the file-size limit of {limit} bytes was reached",
                f"raise the file-size limit (bash's ulimit -f, now {limit // 1024}, counts 1 KiB blocks)")
    if getattr(errno, "EDQUOT", None) is not None and code == errno.EDQUOT:
        return "your disk quota is used up", f"free some of your space{there} or {elsewhere}"
    cause = "no space left on its disk" + (f": {free} bytes free" if free is not None else "")
    return cause, f"free some space{there} or {elsewhere}"


def _temporary_of(filename, prefixes: tuple[str, ...]) -> bool:
    """Whether an OSError's ``filename`` is one of :func:`atomic_write`'s temporaries (their name ``prefixes``)."""
    return filename is not None and os.path.basename(os.fspath(filename)).startswith(prefixes)


def atomic_write_bytes(path: PathLike, data: bytes, *, make_parents: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), make_parents=make_parents)


def atomic_write_text(path: PathLike, text: str, *, encoding: str = "utf-8", make_parents: bool = True) -> Path:
    """Write ``text`` to ``path`` atomically, newlines untranslated (see :func:`atomic_write`).

    Text holding surrogate escapes (a file name that is not valid in the file
    system's encoding, as ``os.fsdecode`` gives it) is written back as its
    original bytes; the CSV tables escape such names first (:func:`csv_writer`:
    ``\\xff``), so they are valid UTF-8.
    """
    return atomic_write(path, _text_writer(text, encoding), make_parents=make_parents)


def _text_writer(text: str, encoding: str = "utf-8") -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding=encoding, newline="", errors="surrogateescape") as handle:
            handle.write(text)

    return write


_KINDS = [
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
]


def file_sha256(path: PathLike) -> str:
    """The SHA-256 (hex) of the file at ``path``, read in 1 MiB blocks.

    Remembered per file (its real path, device and inode, size, and the
    modification and change times: a copy keeping the modification time
    still changes the change time), so a detector file checked before every
    image is read once. Raises OSError.
    """
    real = os.path.realpath(path)
    info = os.stat(real)
    return _sha256_of(real, (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))


@functools.lru_cache(maxsize=64)
def _sha256_of(real: str, identity: tuple) -> str:
    digest = hashlib.sha256()
    with open(real, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def require_regular_file(
    path: PathLike, *, what: str = "Input file", error: type[FerClassicError] = InputPathError
) -> Path:
    """``path`` as a Path if it is an existing regular file (or a link to one).

    Checked with ``os.stat`` only: nothing is opened, so a FIFO cannot block
    and a device is never read.

    Parameters
    ----------
    path : path
    what : str, default="Input file"
        How the message names the file (``"Model file"``).
    error : type, default=InputPathError
        The FerClassicError subclass to raise (e.g. ``ModelFileError``).

    Raises
    ------
    error
        If ``path`` does not exist, cannot be examined, or is a folder, FIFO,
        device or socket.
    """
    stat_regular_file(path, what=what, error=error)
    return Path(path)


def stat_regular_file(
    path: PathLike, *, what: str = "Input file", error: type[FerClassicError] = InputPathError
) -> os.stat_result:
    """``os.stat(path)`` of a regular file (or a link to one); raises as :func:`require_regular_file`.

    For callers that need the size too: one ``stat`` per file (a loader stats
    tens of thousands).
    """
    if not os.fspath(path).strip():  # Path("") is ".", the current folder
        raise error(f"{what} path is empty; give the path of a file.")
    try:
        result = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{what} {path} does not exist.") from None
    except OSError as exc:
        raise error(f"{what} {path} cannot be examined: {exc.strerror or exc}.") from None
    except ValueError:  # a NUL character: no file can have that name
        raise error(f"{what} {str(path)!r} holds a NUL character, which no file name can; fix the name.") from None
    mode = result.st_mode
    if stat.S_ISDIR(mode):
        raise error(f"{what} {path} is a folder, not a file; give the path of the file itself.")
    if not stat.S_ISREG(mode):
        raise error(f"{what} {path} is not a regular file (it is {_kind(mode)}); give the path of a file.")
    return result


# --- Outputs never touch inputs ---------------------------------------------


def _resolved(path: Path) -> Path:
    # Symbolic links and ".." resolved in the order the kernel resolves them
    # (realpath), also for paths that do not exist yet. No abspath first: it
    # folds "link/.." lexically, and "dir_link/../x" would escape the check.
    return Path(os.path.realpath(path))


def _resolved_text(path: str, folders: dict[str, str]) -> str:
    # realpath(path) as a string, each folder resolved once (``folders`` caches them): a labels
    # file's 28,709 images share a few folders, and realpath of each took 0.74 s here, their
    # folders' and one link test per file 0.1 s. Strings, not Paths: pathlib's parsing took
    # three quarters of the check's time.
    head, name = os.path.split(path)
    if name in ("", ".", "..") or os.path.islink(path):
        return os.path.realpath(path)
    real = folders.get(head)
    if real is None:
        real = folders[head] = os.path.realpath(head or ".")
    return os.path.join(real, name)


def _identity(path: PathLike) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL character, which no file name holds
        return None
    return st.st_dev, st.st_ino


#: A cell starting so is a formula to a spreadsheet (OWASP's CSV injection list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_cell(value):
    """``value``, with a ``'`` before a text a spreadsheet would run as a formula (not before a number)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def csv_writer(handle) -> _SpreadsheetSafeWriter:
    """``csv.writer(handle)`` whose text cells cannot run as spreadsheet formulas.

    Every CSV fer-classic writes names files, labels and models that may come
    from a downloaded dataset: a file named ``=HYPERLINK(...).png`` opened in a
    spreadsheet ran as a formula. Such a cell gets a leading ``'`` (what
    spreadsheets show as text); numbers, negative ones included, are kept.
    A file name that is not valid UTF-8 is written with its undecodable bytes
    as the four characters ``\\xNN`` (``\\xff``, :func:`fer_classic._display.valid_text`),
    as the tables, the HTML report and the JSON outputs show it, so every CSV
    is valid UTF-8 (a strict standard output too); valid names are written exactly.
    """
    return _SpreadsheetSafeWriter(csv.writer(handle))


class _SpreadsheetSafeWriter:
    def __init__(self, writer) -> None:
        self._writer = writer

    def writerow(self, row: Iterable) -> None:
        self._writer.writerow([_spreadsheet_cell(valid_text(value) if isinstance(value, str) else value)
                               for value in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def path_items(value: PathLike | Iterable[PathLike]) -> list:
    """The paths ``value`` gives: one path (a str, bytes or os.PathLike) alone, never its characters; else each item.

    For parameters taking "a path or paths": ``predict_paths(model, "photo.png")``
    is one input, not ``"p"``, ``"h"``, ... and ``"."`` (the current folder); bytes
    were iterated as their byte values.
    """
    return [value] if isinstance(value, (str, bytes, os.PathLike)) else list(value)


def _texts(value) -> list[str]:
    return [] if value is None else [os.fspath(v) for v in path_items(value) if v is not None]


def _named(mapping: Mapping[str, object] | None) -> list[tuple[str, str]]:
    """(how the message names it, path) of each input: a file a dataset lists is named with the dataset."""
    named = []
    for name, value in (mapping or {}).items():
        root = getattr(value, "listed_by", None)  # a dataset's path, whose files were listed (data_path)
        named.extend((name if root is None or path == root else f"{name} {root}, which lists", path)
                     for path in _texts(value))
    return named


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


class _TreeWalk:
    """What one walk of an input folder finds: the folders it links to, and files that are the outputs.

    ``linked`` holds (real path, link) for every symbolic link to a folder met below the tree
    (real paths inside the tree or an already walked linked folder are covered and left out):
    a class folder may be a link to a folder elsewhere, and writing there changes the data.
    Linked folders are walked too (links inside them count the same), except one holding the
    tree itself (a link back up to the dataset's parent, or to /): it is refused as a whole but
    never walked. ``files`` maps each wanted (device, inode) to a file found with it: a hard
    link (or a symbolic link from inside the tree) to an output is only found by comparing
    device and inode of every file below the folder. scandir gives the inode of plain entries
    without a system call, so a 35,000-image dataset costs a few hundredths of a second.
    """

    def __init__(self, tree: Path, real: Path, wanted: Collection[tuple[int, int]]) -> None:
        self.linked: list[tuple[str, Path]] = []
        self.files: dict[tuple[int, int], Path] = {}
        root = os.fspath(real)
        walked = [root]  # real paths whose every file is walked
        # (folder to list, the same folder as the user reaches it from ``tree``, for messages)
        pending = [(root, os.fspath(tree))]
        while pending:
            folder, shown = pending.pop()
            try:
                device = os.stat(folder).st_dev
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_symlink():
                        st = os.stat(entry.path)
                        if stat.S_ISDIR(st.st_mode):
                            target = os.path.realpath(entry.path)
                            if any(_is_within_text(target, done) for done in walked) or any(
                                    target == seen for seen, _ in self.linked):
                                continue
                            link = os.path.join(shown, entry.name)
                            self.linked.append((target, Path(link)))
                            if not _is_within_text(root, target):
                                walked.append(target)
                                pending.append((target, link))
                        elif (st.st_dev, st.st_ino) in wanted:
                            self.files.setdefault((st.st_dev, st.st_ino), Path(shown, entry.name))
                    elif entry.is_dir():
                        pending.append((entry.path, os.path.join(shown, entry.name)))
                    elif wanted and (device, entry.inode()) in wanted:
                        self.files.setdefault((device, entry.inode()), Path(shown, entry.name))
                except OSError:
                    continue

    def link_holding(self, real: Path) -> tuple[str, Path] | None:
        """The (real path, link) of a linked folder ``real`` lies in, or None."""
        text = os.fspath(real)
        return next((found for found in self.linked if _is_within_text(text, found[0])), None)


def _is_within_text(path: str, folder: str) -> bool:
    # Both real paths (realpath's output: absolute, normalised), so a string test is exact.
    return path == folder or path.startswith(folder if folder.endswith(os.sep) else folder + os.sep)


def _writable_ancestor(folder: Path) -> Path | None:
    # The nearest existing folder that would hold what is created below it.
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate
    return None


def folder_outputs(option: str, folder: PathLike | None, names: Iterable[str]) -> dict[str, Path]:
    """The files an output folder will receive, as :func:`check_outputs` entries (``"--report (metrics.json)"``).

    A folder output is checked as a whole; its fixed file names must also be
    checked, since one of them could be an input (``--data metrics.json --report .``).
    """
    return {} if folder is None else {f"{option} ({name})": Path(folder) / name for name in names}


def check_outputs(
    outputs: Mapping[str, PathLike | None],
    *,
    inputs: Mapping[str, PathLike | Iterable[PathLike] | None] | None = None,
    input_trees: Mapping[str, PathLike | Iterable[PathLike] | None] | None = None,
    dirs: Collection[str] = (),
    text: Collection[str] = (),
    models: Collection[str] = (),
    make_parents: bool = False,
) -> dict[str, Path]:
    """Check, before any long work, that every output can be written and touches no input.

    Parameters
    ----------
    outputs : mapping of str to path or None
        Option name (as the user typed it, e.g. ``"--out"``) → output path;
        None (an output not asked for) is skipped.
    inputs : mapping of str to path, paths or None, optional
        Option name → the input file(s) the command reads (``{"MODEL": path,
        "--data": "fer2013.csv"}``).
    input_trees : mapping of str to path, paths or None, optional
        Option name → dataset folder(s) whose every file is an input, the
        files of every folder a symbolic link inside them leads to included
        (a class folder kept elsewhere). A path that is a file here is treated
        as an input file; one holding a NUL character names no file and is
        passed over.
    dirs : collection of str, optional
        The names in ``outputs`` that are folders to write into (e.g.
        ``"--report"``); the others are files.
    text : collection of str, optional
        The names in ``outputs`` that are CSV tables: their paths may not end
        in an image, video or model suffix (.onnx of a face detector included:
        far more likely the user's photo, video or model, which the table would
        replace, than a table's name).
    models : collection of str, optional
        The names in ``outputs`` that are model files: their paths may not end
        in an image, video, table or .onnx suffix, for the same reason.
    make_parents : bool, default=False
        Accept a missing parent folder of a file output (it will be created)
        when the nearest existing folder above it is writable. Folder outputs
        always accept it.

    Returns
    -------
    dict of str to Path
        The outputs that were given (None dropped), as Paths.

    Raises
    ------
    OutputPathError
        Naming the option and the path, if an output is empty (``""``: an
        unset variable, which ``Path`` reads as the current folder), is, or resolves to
        (symbolic links, ``..``, hard links), an input file or a file inside
        an input folder or a folder linked from one; if an output folder is
        or lies inside those; if an output is, or its links lead to, a stream
        (:func:`stream_of`: ``/dev/stdout``, ``/proc/<pid>/fd/N``, a FIFO, a
        device, a socket), which the atomic write cannot write to and whose
        link it would replace; if an output is ``-`` (meant as standard
        output; ``./-`` names a file ``-``); if an output holds a NUL character; if two
        outputs are the same path; if a file output is an existing folder
        (or a folder output an existing file), not a regular file or a
        write-protected one; if a file output ends in a path separator (a
        folder's name) or, for ``text`` and ``models``, in another kind of
        file's suffix; if its file name starts with ``--`` (an option taken as the
        value of the option before it) or its first part is a ``~`` the shell did
        not expand (for a file inside a folder output, named ``"--opt (name)"``
        as :func:`folder_outputs` names it, whose name came from the command or
        an input: its folder only); if a name in it is longer than the file system allows; or
        if the folder it goes into is missing or not writable.
    """
    dirs = set(dirs)
    unknown = dirs - set(outputs)
    if unknown:
        raise ValueError(f"dirs names {sorted(unknown)}, which are not in outputs.")
    for name, path in outputs.items():
        # An unset variable: Path("") is ".", and a folder output would write into the current folder.
        if isinstance(path, (str, bytes)) and not path.strip():
            raise OutputPathError(f"{name} is empty; give a path, or leave the option out.")
    given = {name: Path(path) for name, path in outputs.items() if path is not None}
    if not given:
        return given
    for name, path in given.items():
        if "\0" in os.fspath(path):
            raise OutputPathError(f"{name} {str(path)!r} holds a NUL character, which no file name can; "
                                  "choose another path.")
        typed = os.fspath(outputs[name])
        if typed == "-":  # Path("-") is a file named "-" in the current folder, but "-" meant standard output
            raise OutputPathError(f"{name} -: fer-classic reads - as a file named '-', not as standard output, and "
                                  f"writes its files atomically (a temporary file renamed over the path), never to "
                                  f"a stream; give ./- for a file named '-'. {_STREAM_ADVICE}.")
        _check_not_stream(name, path, is_dir=name in dirs)
        if name not in dirs and typed.endswith(("/", os.sep)):  # Path drops it: a file was written by that name
            raise OutputPathError(f"{name} {typed} ends in {typed[-1]}, a folder's name, but this output is a file; "
                                  f"give a file path, with the file's name after the last {typed[-1]}.")
        _check_typed_path(name, typed)
        _check_name_lengths(name, path)
    # Inputs by resolved path and by (device, inode): a labels file lists tens of thousands of
    # images, and each output is looked up in them rather than compared with each.
    folders: dict[str, str] = {}
    by_real: dict[str, tuple[str, str]] = {}
    by_identity: dict[tuple[int, int], tuple[str, str]] = {}
    trees = []
    # Only an existing output can be an existing input's other name (a hard link): the inputs'
    # identities are needed then only.
    identities = any(os.path.lexists(path) for path in given.values())
    for name, path, is_tree in [*((n, p, False) for n, p in _named(inputs)),
                                *((n, p, True) for n, p in _named(input_trees))]:
        if "\0" in os.fsdecode(path):  # no file has that name, so no output is it (loading reports the row)
            continue
        if is_tree and os.path.isdir(path):
            trees.append((name, Path(path), _resolved(Path(path))))
            continue
        by_real.setdefault(_resolved_text(path, folders), (name, path))
        identity = _identity(path) if identities else None
        if identity is not None:
            by_identity.setdefault(identity, (name, path))

    resolved = {name: (_resolved(path), _identity(path)) for name, path in given.items()}
    # Each tree walked once for every output: the folders linked from inside it, and its files that
    # are an existing output file under another name.
    wanted = {identity for name, (_, identity) in resolved.items() if identity is not None and name not in dirs}
    walks: dict[Path, _TreeWalk] = {}  # each tree walked once, when an output first needs it
    seen: list[tuple[str, Path, tuple[int, int] | None]] = []
    for name, path in given.items():
        real, identity = resolved[name]
        found = by_real.get(str(real)) or (by_identity.get(identity) if identity is not None else None)
        if found is not None:
            in_name, in_path = found
            raise OutputPathError(
                f"{name} {path} is an input of this command ({in_name} {in_path}); choose another "
                f"{'folder' if name in dirs else 'file'}."
            )
        for tree_name, tree, tree_real in trees:
            if _is_within(real, tree_real):
                raise OutputPathError(
                    f"{name} {path} is inside the dataset folder {tree} ({tree_name}); writing there could "
                    "change the data. Choose a path outside it."
                )
            walk = walks.get(tree_real)
            if walk is None:
                walk = walks[tree_real] = _TreeWalk(tree, tree_real, wanted)
            holding = walk.link_holding(real)
            if holding is not None:
                target, link = holding
                raise OutputPathError(
                    f"{name} {path} is inside {target}, the folder that {link} in the dataset folder {tree} "
                    f"({tree_name}) links to; writing there could change the data. Choose a path outside it."
                )
            if identity is not None and name not in dirs and identity in walk.files:
                raise OutputPathError(
                    f"{name} {path} is the same file as {walk.files[identity]} (a hard or symbolic link) inside "
                    f"the dataset folder {tree} ({tree_name}); choose another file."
                )
        for other_name, other_real, other_identity in seen:
            if real == other_real or (identity is not None and identity == other_identity):
                raise OutputPathError(
                    f"{other_name} and {name} both name {path}; give each output its own path."
                )
        seen.append((name, real, identity))
        if name in text and path.suffix.lower() in _media_suffixes():
            raise OutputPathError(f"{name} {path}: this output is a CSV table, but the path has the suffix of an "
                                  "image, video or model file, which it would replace; give a .csv path.")
        if name in models and path.suffix.lower() in (_media_suffixes() - _MODEL_SUFFIXES) | _TABLE_SUFFIXES:
            raise OutputPathError(f"{name} {path}: this output is a model file, but the path has the suffix of an "
                                  "image, video, table or face detector model, which it would replace; give a "
                                  ".joblib or .skops path.")
        _check_writable(name, path, real, is_dir=name in dirs, make_parents=make_parents or name in dirs)
    return given


def _media_suffixes() -> frozenset[str]:
    """Suffixes of the images, videos and models a table is never written over (imported only when asked)."""
    from .data._images import IMAGE_EXTENSIONS
    from .prediction._video import VIDEO_EXTENSIONS

    return IMAGE_EXTENSIONS | VIDEO_EXTENSIONS | _MODEL_SUFFIXES | _DETECTOR_SUFFIXES


_MODEL_SUFFIXES = frozenset({".joblib", ".skops"})
#: Face detector models (``--yunet``'s ONNX file), which neither a table nor a model file is written over.
_DETECTOR_SUFFIXES = frozenset({".onnx"})
#: Suffixes of the tables, grids and reports a model file is never written over.
_TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".json", ".yaml", ".yml", ".html", ".txt"})


def _check_typed_path(name: str, typed: str) -> None:
    # Slips the shell lets through as they are, which would write a stray file or folder.
    option = name.split(" (", 1)[0]
    if name.endswith(")") and " (" in name:
        # "--annotate (a.png)", "--report (metrics.json)": a file inside a folder output, named by the command
        # or after an input (in/--x.png gets the copy DIR/--x.png); only the folder was typed.
        typed = os.path.dirname(typed)
        if not typed:
            return
    file_name = os.path.basename(typed.rstrip("/" + os.sep))
    if file_name.startswith("--"):  # fit --out --json: the model was saved as a file named --json
        raise OutputPathError(f"{name} {typed}: {file_name} looks like an option, not a file name; the value of "
                              f"{option} before it is missing. Give a path, or a name not starting with --.")
    # A quoted ~ or --out=~/m.joblib reaches us as it is: a folder named ~ was made in the current folder.
    # Refused, not expanded: the inputs (read as given) would then name other files than the outputs.
    first = typed.split("/", 1)[0].split(os.sep, 1)[0]
    if first == "~" or (first.startswith("~") and os.path.expanduser(first) != first):
        raise OutputPathError(f"{name} {typed} starts with {first}, which the shell did not expand to a home folder "
                              f"(it was quoted, or came after '='); write the full path: "
                              f"{os.path.expanduser(typed)}.")


def _check_name_lengths(name: str, path: Path) -> None:
    # A name the file system refuses failed at the end, after all the work ("File name too long").
    # The nearest existing folder (os.path.isdir: Path.exists raises for a name too long).
    folder = next((f for f in (path.parent, *path.parent.parents) if os.path.isdir(f)), ".")
    limit = name_max(folder)
    for part in path.parts:
        if part != path.anchor and _name_bytes(part) > limit:
            raise OutputPathError(f"{name} {path}: the name {part[:40]}... is {_name_bytes(part)} bytes long; this "
                                  f"file system allows {limit}. Choose a shorter name.")


def _write_protected(path: Path) -> bool:
    # os.access: another user's file; the mode bits: root, whom os.access always lets write.
    return not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222


_STREAM_ADVICE = ("Give the path of a file (a CSV: write it to a file, then read or cat that), or use the command's "
                  "own output on standard output where it has one (predict --format csv, --json)")
#: Folders whose entries are a process's open files (``/dev/stdout`` links into them).
_FD_FOLDER = re.compile(r"^/proc/[^/]+(/task/[^/]+)?/fd$")


def stream_of(path: PathLike) -> str | None:
    """What stream ``path`` is or leads to, in words (``"a character device"``), or None for a file path.

    A stream is a character or block device, a FIFO or a socket, an open file
    of a process (``/proc/<pid>/fd/N``, ``/dev/fd/N``) or an entry of ``/dev``
    itself (``/dev/stdout``, ``/dev/null``), at ``path`` or at any link of the
    chain of symbolic links from it. :func:`atomic_write` would rename its
    temporary over such a path: over the link (``/dev/stdout`` became a
    regular file), or into a folder where no file can be made.
    """
    current = os.fspath(path)
    for _ in range(40):  # the kernel's limit on links followed
        try:
            info = os.lstat(current)
        except (OSError, ValueError):  # not there (yet), or a NUL character
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            return None
        folder, name = os.path.split(current)
        folder = os.path.realpath(folder or ".")
        if folder == "/dev" and name not in ("", ".", ".."):
            return f"an entry of /dev, {os.path.join(folder, name)}"
        if _FD_FOLDER.match(folder):
            return f"an open file of a process, {os.path.join(folder, name)}"
        if info is None or stat.S_ISREG(info.st_mode):
            return None
        if not stat.S_ISLNK(info.st_mode):
            return _kind(info.st_mode)
        try:
            current = os.path.join(folder, os.readlink(current))
        except OSError:
            return None
    return None


def _check_not_stream(name: str, path: Path, *, is_dir: bool) -> None:
    """Refuse an output that is, or leads to, a stream (:func:`stream_of`), before any work."""
    what = stream_of(path)
    if what is not None:
        named = f"{name} {path}" if name else str(path)
        advice = _STREAM_ADVICE.replace("the path of a file", "the path of a folder") if is_dir else _STREAM_ADVICE
        raise OutputPathError(
            f"{named} is not a regular file but a stream (it is {what}); fer-classic writes its files atomically "
            f"(a temporary file renamed over the path), so it cannot write to a stream. {advice}."
        )


def _check_writable(name: str, path: Path, real: Path, *, is_dir: bool, make_parents: bool) -> None:
    if is_dir:
        if real.exists() and not real.is_dir():
            raise OutputPathError(f"{name} {path} exists and is not a folder; give a folder path (it is created).")
        target = real if real.exists() else real.parent
    else:
        if real.is_dir():
            raise OutputPathError(f"{name} {path} is a folder; give the path of a file to write.")
        if real.exists() and not real.is_file():
            raise OutputPathError(
                f"{name} {path} is not a regular file (it is {_kind(os.stat(real).st_mode)}); give the path "
                "of a file to write."
            )
        # Replacing a file only needs the folder's permission: a write-protected file (a photo the user
        # locked) would be replaced all the same, so its protection is honoured here, as rm asks first.
        # The path itself, not a link's target: the atomic write replaces a link, never its target.
        if path.is_file() and not path.is_symlink() and _write_protected(path):
            raise OutputPathError(f"{name} {path} exists and is write-protected; choose another file, or make it "
                                  "writable (chmod u+w) if it may be replaced.")
        target = real.parent
    if not target.exists():
        if not make_parents:
            raise OutputPathError(f"{name} {path}: the folder {target} does not exist; create it or choose "
                                  "another path.")
        target = _writable_ancestor(target) or target
    if not target.is_dir():
        raise OutputPathError(f"{name} {path}: {target} is not a folder; choose another path.")
    if not os.access(target, os.W_OK | os.X_OK):
        raise OutputPathError(f"{name} {path}: the folder {target} is not writable (permissions or a read-only "
                              "filesystem); choose another path.")
    refused = creation_error(target)
    if refused is not None:
        raise OutputPathError(f"{name} {path}: the folder {target} does not accept new files ({refused}); "
                              "choose another path.")


def creation_error(folder: PathLike) -> str | None:
    """Why no file can be created in ``folder`` (the OS's words), or None if one can.

    An empty, uniquely named file is made and removed at once. Permissions do
    not tell: root passes ``os.access`` everywhere, yet ``/proc`` or ``/sys``
    refuse new files.
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=".fer-classic-probe-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(probe)
    return None
