"""fer_classic._fileio: atomic writes, regular-file inputs, and outputs that never touch inputs."""

import errno
import io
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fer_classic._fileio import (
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
    check_outputs,
    csv_writer,
    file_sha256,
    require_regular_file,
)
from fer_classic.exceptions import FerClassicError, InputPathError, ModelFileError, OutputPathError

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)


# --- atomic_write -------------------------------------------------------------


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError, ValueError])
def test_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, error):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def write(tmp):
        tmp.write_bytes(b"half")
        raise error

    with pytest.raises(error):
        atomic_write(path, write)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_failed_first_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "new.bin", lambda tmp: (_ for _ in ()).throw(RuntimeError))
    assert list(tmp_path.iterdir()) == []


def _full_disk(tmp):
    raise OSError(errno.ENOSPC, "No space left on device", str(tmp))


@pytest.mark.parametrize("setup, write, error", [
    (lambda out: out.mkdir(), lambda tmp: tmp.write_bytes(b"x"), IsADirectoryError),  # a folder where the file goes
    (lambda out: None, _full_disk, OSError),
], ids=["folder", "full-disk"])
def test_a_failed_write_names_the_file_asked_for_not_its_temporary(tmp_path, setup, write, error):
    out = tmp_path / "out.bin"
    setup(out)
    with pytest.raises(error, match=r": '.*out\.bin'$") as raised:
        atomic_write(out, write)
    assert raised.value.filename == str(out)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_a_failed_write_through_an_open_file_names_the_file(tmp_path, code):
    # A full disk while a model was dumped: "[Errno 28] No space left on device", no file named.
    def write(tmp):
        with open(tmp, "wb"):
            raise OSError(code, os.strerror(code))  # what a write to a file object raises

    out = tmp_path / "model.joblib"
    with pytest.raises(OSError, match=rf"^\[Errno {code}\] .*: '.*model\.joblib'$") as raised:
        atomic_write(out, write)
    assert raised.value.filename == str(out) and list(tmp_path.iterdir()) == []


def test_an_io_error_while_writing_may_be_a_read_of_an_input_and_passes_as_it_is(tmp_path):
    # EIO comes from reads too: a failing disk under an input the write reads is not the output's fault.
    def write(tmp):
        with open(tmp, "wb"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))  # what reading an open input raises as well

    with pytest.raises(OSError) as raised:
        atomic_write(tmp_path / "out.bin", write)
    assert raised.value.errno == errno.EIO and raised.value.filename is None


@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC])
def test_a_failed_flush_of_the_temporary_names_the_file(tmp_path, monkeypatch, code):
    # The data reach the disk at fsync (delayed allocation): whatever it fails with is the output's.
    def fsync(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path / "model.joblib"
    with pytest.raises(OSError, match=rf"^\[Errno {code}\] .*: '.*model\.joblib'$") as raised:
        atomic_write_bytes(out, b"x")
    assert raised.value.filename == str(out) and list(tmp_path.iterdir()) == []


def test_an_unnamed_error_of_another_kind_passes_as_it_is(tmp_path):
    def write(tmp):
        raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")  # a scheduler, not the file

    with pytest.raises(ConnectionRefusedError) as raised:
        atomic_write(tmp_path / "out.bin", write)
    assert raised.value.filename is None


def test_an_error_about_another_file_passes_as_it_is(tmp_path):
    missing = tmp_path / "input.csv"
    with pytest.raises(FileNotFoundError) as raised:
        atomic_write(tmp_path / "out.bin", lambda tmp: missing.read_bytes())
    assert raised.value.filename == str(missing)


def test_a_file_where_a_folder_above_should_be_is_named_itself(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(FileExistsError) as raised:
        atomic_write_text(tmp_path / "a.txt" / "m.json", "{}")
    assert raised.value.filename == str(tmp_path / "a.txt")


def test_an_oserror_without_errno_passes_as_it_is(tmp_path):
    def write(tmp):
        raise OSError("cannot write mode RGBA as JPEG")  # Pillow's words

    with pytest.raises(OSError, match="^cannot write mode RGBA as JPEG$"):
        atomic_write(tmp_path / "out.jpg", write)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o444])
def test_replacing_keeps_the_permission_bits(tmp_path, mode):
    path = tmp_path / "out.txt"
    path.write_text("old")
    path.chmod(mode)
    atomic_write_text(path, "new")
    assert stat.S_IMODE(path.stat().st_mode) == mode


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_umask_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = atomic_write_bytes(tmp_path / "new.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_a_symbolic_link_is_replaced_not_written_through(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("keep")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert target.read_text() == "keep" and not link.is_symlink() and link.read_text() == "new"


def test_missing_parents_are_created_unless_asked_not_to(tmp_path):
    assert atomic_write_text(tmp_path / "a" / "b" / "c.txt", "x").read_text() == "x"
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "missing" / "c.txt", "x", make_parents=False)


def test_text_newlines_are_written_as_given(tmp_path):
    assert atomic_write_text(tmp_path / "t.csv", "a\r\nb\n").read_bytes() == b"a\r\nb\n"


@pytest.mark.parametrize("owner, removed", [
    ("dead", True), ("alive", False), ("not a pid", False), ("dead on another host", False),
])
def test_stale_temporaries_of_dead_writers_are_removed(tmp_path, owner, removed):
    from fer_classic._fileio import _HOST

    host = "elsewhere" if owner == "dead on another host" else _HOST
    pid = {"alive": str(os.getpid()), "not a pid": "x1"}.get(owner, str(_dead_pid()))
    stale = tmp_path / f".out.txt.{pid}@{host}.abc123.tmp"
    stale.write_bytes(b"partial")
    other = tmp_path / f".other.txt.{_dead_pid()}@{_HOST}.abc123.tmp"  # another file's temporary: left alone
    other.write_bytes(b"partial")
    atomic_write_text(tmp_path / "out.txt", "x")
    assert stale.exists() is not removed and other.exists()


def test_the_write_function_sees_a_temporary_in_the_same_folder(tmp_path):
    seen = []
    atomic_write(tmp_path / "out.bin", lambda tmp: (seen.append(tmp), tmp.write_bytes(b"x")))
    assert seen[0].parent == tmp_path and seen[0].name.startswith(f".out.bin.{os.getpid()}@")


@pytest.mark.parametrize("keep_suffix, ending", [(False, ".tmp"), (True, ".tmp.avi")])
def test_keep_suffix_ends_the_temporary_in_the_targets_suffix(tmp_path, keep_suffix, ending):
    seen = []
    atomic_write(tmp_path / "out.avi", lambda tmp: (seen.append(tmp), tmp.write_bytes(b"x")),
                 keep_suffix=keep_suffix)
    assert seen[0].name.endswith(ending) and not seen[0].name.endswith(".tmp.avi.tmp")
    assert [p.name for p in tmp_path.iterdir()] == ["out.avi"]


@pytest.mark.parametrize("keep_suffix", [False, True])
def test_stale_temporaries_with_the_targets_suffix_are_removed(tmp_path, keep_suffix):
    from fer_classic._fileio import _HOST

    stale = tmp_path / f".out.avi.{_dead_pid()}@{_HOST}.abc123.tmp.avi"
    stale.write_bytes(b"half a video")
    atomic_write(tmp_path / "out.avi", lambda tmp: tmp.write_bytes(b"x"), keep_suffix=keep_suffix)
    assert [p.name for p in tmp_path.iterdir()] == ["out.avi"]


@pytest.mark.parametrize("keep_suffix", [False, True])
def test_a_name_of_the_longest_legal_length_is_written(tmp_path, keep_suffix):
    # The temporary's name was built from the whole name: "File name too long" after all the work.
    from fer_classic._fileio import name_max

    path = tmp_path / ("é" * ((name_max(tmp_path) - 4) // 2) + ".avi")  # two bytes a character
    seen = []
    atomic_write(path, lambda tmp: (seen.append(tmp), tmp.write_bytes(b"x")), keep_suffix=keep_suffix)
    assert path.read_bytes() == b"x" and [p.name for p in tmp_path.iterdir()] == [path.name]
    assert seen[0].name.startswith(".éé") and seen[0].name.endswith(".tmp.avi" if keep_suffix else ".tmp")


def test_stale_temporaries_of_a_long_name_are_removed(tmp_path):
    seen = []
    path = tmp_path / ("n" * 250 + ".txt")
    atomic_write(path, lambda tmp: seen.append(tmp.name))
    stale = tmp_path / seen[0].replace(f".{os.getpid()}@", f".{_dead_pid()}@")  # as a killed writer left it
    stale.write_bytes(b"partial")
    atomic_write_text(path, "x")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


# --- require_regular_file -----------------------------------------------------


@pytest.fixture
def alarm():
    """Fail instead of hanging if something opens a FIFO."""
    if not hasattr(signal, "SIGALRM"):
        pytest.skip("needs SIGALRM")

    def fail(*_):
        raise AssertionError("blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _special(tmp_path, kind) -> Path:
    if kind == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/null")
    elif kind == "socket":
        path = tmp_path / "s.sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()
    elif kind == "folder":
        path = tmp_path / "folder"
        path.mkdir()
    elif kind == "link to fifo":
        os.mkfifo(tmp_path / "pipe")
        path = tmp_path / "link"
        path.symlink_to(tmp_path / "pipe")
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize("kind, message", [
    ("fifo", "not a regular file (it is a FIFO"),
    ("device", "not a regular file (it is a character device)"),
    ("socket", "not a regular file (it is a socket)"),
    ("folder", "is a folder, not a file"),
    ("link to fifo", "not a regular file (it is a FIFO"),
])
def test_special_files_are_refused_without_opening_them(tmp_path, alarm, kind, message):
    with pytest.raises(InputPathError, match=re.escape(message)):
        require_regular_file(_special(tmp_path, kind))


@pytest.mark.parametrize("name", ["missing.png", "missing/below.png"])
def test_a_missing_input_does_not_exist(tmp_path, name):
    with pytest.raises(InputPathError, match="does not exist"):
        require_regular_file(tmp_path / name)


@pytest.mark.parametrize("path", ["", " "])
def test_an_empty_path_is_named_empty(path):
    # Path("") is ".", the current folder: it was "Input file . is a folder".
    with pytest.raises(InputPathError, match="^Input file path is empty"):
        require_regular_file(path)


def test_require_regular_file_raises_the_given_type_and_wording(tmp_path):
    with pytest.raises(ModelFileError, match=r"^Model file .* does not exist"):
        require_regular_file(tmp_path / "m.skops", what="Model file", error=ModelFileError)


def test_a_regular_file_or_a_link_to_one_is_accepted(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "l").symlink_to(tmp_path / "f")
    assert require_regular_file(tmp_path / "l") == tmp_path / "l"


# --- check_outputs ------------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    """A dataset folder data/happy/1.png, an input file in.csv, and a free folder out/."""
    (tmp_path / "data" / "happy").mkdir(parents=True)
    (tmp_path / "data" / "happy" / "1.png").write_bytes(b"png")
    (tmp_path / "in.csv").write_text("a,b\n")
    (tmp_path / "out").mkdir()
    return tmp_path


def _collides(tree, case) -> Path:
    """An output path that is, or resolves to, an input."""
    if case == "same path":
        return tree / "in.csv"
    if case == "dot-dot":
        return tree / "out" / ".." / "in.csv"
    if case == "symlink":
        (tree / "out" / "link.csv").symlink_to(tree / "in.csv")
        return tree / "out" / "link.csv"
    if case == "symlinked folder":
        (tree / "alias").symlink_to(tree)
        return tree / "alias" / "in.csv"
    if case == "hard link":
        os.link(tree / "in.csv", tree / "out" / "hard.csv")
        return tree / "out" / "hard.csv"
    if case == "relative":
        return Path(os.path.relpath(tree / "in.csv"))
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["same path", "dot-dot", "symlink", "symlinked folder", "hard link", "relative"])
def test_an_output_that_is_an_input_file_is_refused(tree, case):
    with pytest.raises(OutputPathError, match=r"--out .* is an input of this command \(--data .*in.csv\); "
                                              "choose another file"):
        check_outputs({"--out": _collides(tree, case)}, inputs={"--data": tree / "in.csv"})


@pytest.mark.parametrize("case", ["file inside", "new file inside", "dot-dot inside", "folder itself",
                                  "symlink into", "hard link to a file inside", "link inside to the output"])
def test_an_output_inside_an_input_dataset_folder_is_refused(tree, case):
    data = tree / "data"
    if case == "file inside":
        out = data / "happy" / "1.png"
    elif case == "new file inside":
        out = data / "happy" / "new.csv"
    elif case == "dot-dot inside":
        out = tree / "out" / ".." / "data" / "x.csv"
    elif case == "folder itself":
        out = data
    elif case == "symlink into":
        (tree / "out" / "d").symlink_to(data / "happy")
        out = tree / "out" / "d" / "x.csv"
    elif case == "hard link to a file inside":
        out = tree / "out" / "hard.png"
        os.link(data / "happy" / "1.png", out)
    else:  # the dataset links to a file outside it: writing that file changes the data
        out = tree / "out" / "shared.png"
        out.write_bytes(b"png")
        (data / "happy" / "2.png").symlink_to(out)
    with pytest.raises(OutputPathError, match=r"--out .*(inside the dataset folder|same file as).*\(--data\)"):
        check_outputs({"--out": out}, input_trees={"--data": data})


def test_an_output_folder_inside_the_dataset_is_refused(tree):
    with pytest.raises(OutputPathError, match="--report .* inside the dataset folder"):
        check_outputs({"--report": tree / "data" / "report"}, input_trees={"--data": tree / "data"},
                      dirs=["--report"])


def test_a_dataset_given_as_a_file_is_an_input_file(tree):
    with pytest.raises(OutputPathError, match=r"is an input of this command \(--data"):
        check_outputs({"--out": tree / "in.csv"}, input_trees={"--data": tree / "in.csv"})


def test_the_model_file_read_is_an_input(tree):
    model = tree / "m.skops"
    model.write_bytes(b"PK")
    with pytest.raises(OutputPathError, match=r"--out .* is an input of this command \(MODEL"):
        check_outputs({"--out": model}, inputs={"MODEL": [tree / "other.skops", model]})


@pytest.mark.parametrize("second", ["same", "dot-dot", "symlink"])
def test_two_outputs_that_are_the_same_file_are_refused(tree, second):
    first = tree / "out" / "a.csv"
    other = {"same": first, "dot-dot": tree / "out" / ".." / "out" / "a.csv", "symlink": tree / "alias" / "a.csv"}
    (tree / "alias").symlink_to(tree / "out")
    with pytest.raises(OutputPathError, match="--out and --results both name"):
        check_outputs({"--out": first, "--results": other[second]})


@pytest.mark.parametrize("outputs, dirs, message", [
    ({"--out": "out"}, (), "is a folder; give the path of a file"),
    ({"--report": "in.csv"}, ("--report",), "exists and is not a folder"),
    ({"--out": "missing/x.csv"}, (), "the folder .*missing does not exist"),
    ({"--out": "in.csv/x.csv"}, (), "is not a folder"),
])
def test_outputs_of_the_wrong_kind_or_without_a_folder_are_refused(tree, outputs, dirs, message):
    with pytest.raises(OutputPathError, match=message):
        check_outputs({k: tree / v for k, v in outputs.items()}, dirs=dirs)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
def test_an_output_that_is_a_fifo_is_refused(tree, alarm):
    os.mkfifo(tree / "out" / "pipe")
    with pytest.raises(OutputPathError, match="not a regular file"):
        check_outputs({"--out": tree / "out" / "pipe"})


@pytest.mark.parametrize("make_parents, dirs, name", [
    (True, (), "a/b/x.csv"),
    (False, ("--out",), "a/b/report"),
])
def test_missing_folders_are_accepted_when_they_will_be_created(tree, make_parents, dirs, name):
    assert check_outputs({"--out": tree / "out" / name}, dirs=dirs, make_parents=make_parents)["--out"] == (
        tree / "out" / name)


@pytest.mark.parametrize("name, dirs", [("x.csv", ()), ("new/x.csv", ()), ("report", ("--out",))])
def test_a_folder_that_is_not_writable_is_refused(tree, monkeypatch, name, dirs):
    # Simulates chmod a-w (or a read-only filesystem, which os.access reports as EROFS).
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == tree / "out" else
                        real_access(p, mode, **kw))
    with pytest.raises(OutputPathError, match=r"folder .*out is not writable"):
        check_outputs({"--out": tree / "out" / name}, dirs=dirs, make_parents=True)


@pytest.mark.parametrize("name, dirs", [("x.csv", ()), ("new/x.csv", ()), ("report", ("--out",))])
def test_a_folder_that_refuses_new_files_is_refused(tree, monkeypatch, name, dirs):
    # As /proc does for root, whom os.access lets write anywhere.
    def refuse(*args, **kwargs):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputPathError, match=r"folder .*out does not accept new files \(Permission denied\)"):
        check_outputs({"--out": tree / "out" / name}, dirs=dirs, make_parents=True)


def test_the_probe_of_an_output_folder_leaves_nothing(tree):
    before = sorted(os.listdir(tree / "out"))
    check_outputs({"--out": tree / "out" / "x.csv"})
    assert sorted(os.listdir(tree / "out")) == before


@pytest.mark.skipif(AS_ROOT, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tree):
    (tree / "out").chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match="not writable"):
            check_outputs({"--out": tree / "out" / "x.csv"})
    finally:
        (tree / "out").chmod(0o755)


@pytest.mark.parametrize("outputs", [
    {"--out": "out/x.csv", "--results": "out/y.csv", "--annotate": None},
    {"--out": "out/in.csv"},  # same name as an input, another folder
    {"--report": "out"},
    {"--out": "data.csv"},  # beside the dataset folder, not in it
])
def test_outputs_that_touch_no_input_pass(tree, outputs):
    dirs = [k for k in outputs if k == "--report"]
    given = check_outputs({k: None if v is None else tree / v for k, v in outputs.items()},
                          inputs={"--grid": tree / "in.csv", "MODEL": None}, input_trees={"--data": tree / "data"},
                          dirs=dirs)
    assert set(given) == {k for k, v in outputs.items() if v is not None}


def test_an_existing_output_file_outside_the_inputs_passes(tree):
    (tree / "out" / "old.csv").write_text("x")
    assert check_outputs({"--out": tree / "out" / "old.csv"}, input_trees={"--data": tree / "data"})


def test_output_path_error_is_a_fer_classic_value_error():
    assert issubclass(OutputPathError, FerClassicError) and issubclass(OutputPathError, ValueError)


def test_dirs_must_name_outputs():
    with pytest.raises(ValueError, match="not in outputs"):
        check_outputs({"--out": "x"}, dirs=["--report"])


def test_text_with_an_undecodable_file_name_keeps_its_bytes(tmp_path):
    # os.fsdecode(b"bad\xff.jpg") == "bad\udcff.jpg": a CSV of file names names it as it is on disk.
    name = os.fsdecode(b"bad\xff.jpg")
    atomic_write_text(tmp_path / "names.csv", f"source\n{name}\n")
    assert (tmp_path / "names.csv").read_bytes() == b"source\nbad\xff.jpg\n"


def test_a_link_to_a_write_protected_file_may_be_replaced(tmp_path):
    # The atomic write replaces the link itself; the protected file it points to stays as it is.
    target = tmp_path / "locked.csv"
    target.write_text("kept")
    target.chmod(0o444)
    link = tmp_path / "out.csv"
    link.symlink_to(target)
    check_outputs({"--out": link})
    atomic_write_text(link, "new")
    assert target.read_text() == "kept" and link.read_text() == "new" and not link.is_symlink()


# --- folders a dataset links to -------------------------------------------------


def _move_and_link(folder: Path, to: Path, *, relative: bool = False) -> Path:
    """Move ``folder`` to ``to`` and leave a symbolic link to it where it was."""
    to.parent.mkdir(parents=True, exist_ok=True)
    folder.rename(to)
    folder.symlink_to(os.path.relpath(to, folder.parent) if relative else to, target_is_directory=True)
    return to


@pytest.fixture
def linked(tree):
    """data/happy is a link to elsewhere/happy (a class folder kept outside the dataset)."""
    return _move_and_link(tree / "data" / "happy", tree / "elsewhere" / "happy")


def _linked_case(tree, case) -> tuple[Path, str]:
    """An output inside a folder the dataset reaches through a link (the output and the link named)."""
    data, elsewhere = tree / "data", tree / "elsewhere"
    if case in ("class folder, existing image", "class folder, new file", "relative link"):
        target = _move_and_link(data / "happy", elsewhere / "happy", relative=case == "relative link")
        return target / ("new.png" if case == "class folder, new file" else "1.png"), "data/happy"
    if case == "deeper sub-folder":
        (elsewhere / "sub").mkdir(parents=True)
        (data / "happy" / "sub").symlink_to(elsewhere / "sub", target_is_directory=True)
        return elsewhere / "sub" / "x.png", "data/happy/sub"
    if case == "link inside a linked folder":
        target = _move_and_link(data / "happy", elsewhere / "happy")
        (tree / "further").mkdir()
        (target / "more").symlink_to(tree / "further", target_is_directory=True)
        return tree / "further" / "x.png", "data/happy/more"
    if case == "split folder":
        (data / "happy").rename(tree / "tmp")
        (data / "train").mkdir()
        (tree / "tmp").rename(data / "train" / "happy")
        _move_and_link(data / "train", elsewhere / "train")
        return elsewhere / "train" / "happy" / "1.png", "data/train"
    raise AssertionError(case)


LINKED_CASES = ["class folder, existing image", "class folder, new file", "relative link", "deeper sub-folder",
                "link inside a linked folder", "split folder"]


@pytest.mark.parametrize("case", LINKED_CASES)
def test_an_output_inside_a_folder_the_dataset_links_to_is_refused(tree, case):
    out, link = _linked_case(tree, case)
    before = out.read_bytes() if out.exists() else None
    with pytest.raises(OutputPathError, match=rf"--out {re.escape(str(out))} is inside .*, the folder that "
                                              rf".*{re.escape(link)} in the dataset folder .* \(--data\) links to"):
        check_outputs({"--out": out}, input_trees={"--data": tree / "data"})
    assert (out.read_bytes() if out.exists() else None) == before


@pytest.mark.parametrize("case", LINKED_CASES)
def test_an_output_folder_inside_a_folder_the_dataset_links_to_is_refused(tree, case):
    out, _ = _linked_case(tree, case)
    with pytest.raises(OutputPathError, match="--report .* is inside .* links to"):
        check_outputs({"--report": out.parent / "report"}, input_trees={"--data": tree / "data"},
                      dirs=["--report"])


def test_a_hard_link_to_an_image_in_a_linked_folder_is_refused(tree, linked):
    out = tree / "out" / "hard.png"
    os.link(linked / "1.png", out)
    with pytest.raises(OutputPathError, match=r"same file as .*data/happy/1\.png .*\(--data\)"):
        check_outputs({"--out": out}, input_trees={"--data": tree / "data"})


def test_outputs_beside_a_linked_folder_pass(tree, linked):
    outputs = {"--out": tree / "elsewhere" / "m.joblib", "--report": tree / "elsewhere" / "report"}
    assert check_outputs(outputs, input_trees={"--data": tree / "data"}, dirs=["--report"]) == outputs


def test_link_loops_are_walked_once(tree):
    # A link back into the dataset, and two folders outside linking to each other: the walk ends.
    (tree / "data" / "happy" / "loop").symlink_to(tree / "data", target_is_directory=True)
    (tree / "a").mkdir()
    (tree / "b").mkdir()
    (tree / "a" / "to_b").symlink_to(tree / "b", target_is_directory=True)
    (tree / "b" / "to_a").symlink_to(tree / "a", target_is_directory=True)
    (tree / "data" / "happy" / "a").symlink_to(tree / "a", target_is_directory=True)
    (tree / "out" / "old.csv").write_text("x")
    assert check_outputs({"--out": tree / "out" / "old.csv"}, input_trees={"--data": tree / "data"})
    for folder in ("a", "b"):
        with pytest.raises(OutputPathError, match="links to"):
            check_outputs({"--out": tree / folder / "x.csv"}, input_trees={"--data": tree / "data"})


# --- a NUL character in a listed path ----------------------------------------------


@pytest.mark.parametrize("listed", ["in the file name", "in a folder name"])
def test_a_listed_path_with_a_nul_character_is_no_file(tree, listed):
    # No file has such a name, so it is no output's other name; the existing output used to make
    # the check stat it and fail with a bare "embedded null byte".
    bad = tree / "data" / "bad\0name.png" if listed == "in the file name" else tree / "da\0ta" / "x.png"
    (tree / "out" / "m.joblib").write_bytes(b"old")
    for out in (tree / "out" / "m.joblib", tree / "out" / "new.joblib"):
        assert check_outputs({"--out": out}, input_trees={"--data": [tree / "in.csv", bad]})
        assert check_outputs({"--out": out}, inputs={"--data": bad})


@pytest.mark.parametrize("where", ["file", "folder above"])
def test_a_name_longer_than_the_file_system_allows_is_refused(tmp_path, where):
    long = "m" * 256 + ".joblib"
    path = tmp_path / long if where == "file" else tmp_path / long / "m.joblib"
    with pytest.raises(OutputPathError, match=r"^--out .*: the name m{40}\.\.\. is 263 bytes long; this file system "
                       r"allows 255\. Choose a shorter name\.$"):
        check_outputs({"--out": path}, make_parents=True)


@pytest.mark.parametrize("typed", ["--json", "models/--json", "--report/"])
def test_an_output_named_like_an_option_is_refused(tmp_path, monkeypatch, typed):
    # fit --out --json: the forgotten value made --json the model file's name.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputPathError, match=f"^--out {re.escape(typed)}: --(json|report) looks like an option, "
                       "not a file name; the value of --out before it is missing"):
        check_outputs({"--out": typed}, dirs=("--out",) if typed.endswith("/") else (), make_parents=True)


def test_a_file_name_with_dashes_inside_passes(tmp_path):
    assert check_outputs({"--out": tmp_path / "a--b.joblib"})


@pytest.mark.parametrize("typed, first", [("~", "~"), ("~/m.joblib", "~"), ("~root/m.joblib", "~root")])
def test_an_unexpanded_tilde_is_refused(tmp_path, monkeypatch, typed, first):
    # --out=~/m.joblib or a quoted ~: a folder named ~ was made in the current folder.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputPathError, match=f"^--out {re.escape(typed)} starts with {first}, which the shell did "
                       f"not expand .* write the full path: {re.escape(os.path.expanduser(typed))}\\.$"):
        check_outputs({"--out": typed}, make_parents=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("typed", ["~draft.joblib", "a/~/m.joblib"])
def test_a_tilde_that_names_no_home_folder_is_a_name(tmp_path, monkeypatch, typed):
    monkeypatch.chdir(tmp_path)
    assert check_outputs({"--out": typed}, make_parents=True)


def test_an_output_with_a_nul_character_is_named():
    with pytest.raises(OutputPathError, match=r"--out 'm\\x00\.joblib' holds a NUL character"):
        check_outputs({"--out": "m\0.joblib"})


@pytest.mark.parametrize("path", ["", "  "])
@pytest.mark.parametrize("dirs", [(), ("--report",)])
def test_an_empty_output_is_refused_not_read_as_the_current_folder(tmp_path, monkeypatch, path, dirs):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputPathError, match="--report is empty; give a path"):
        check_outputs({"--report": path}, dirs=dirs)


def test_a_link_up_to_a_folder_holding_the_dataset_is_refused_as_a_whole_and_never_walked(tree, monkeypatch):
    # Walking it would walk the dataset's parent (or /) whole: outputs anywhere in it are refused instead.
    (tree / "data" / "happy" / "up").symlink_to(tree, target_is_directory=True)
    listed = []
    scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path: listed.append(os.fspath(path)) or scandir(path))
    with pytest.raises(OutputPathError, match=r"--out .* is inside .*, the folder that .*data/happy/up in the "
                                              "dataset folder"):
        check_outputs({"--out": tree / "out" / "x.csv"}, input_trees={"--data": tree / "data"})
    assert listed and all(path.startswith(str((tree / "data").resolve())) for path in listed)


def test_file_sha256_reads_a_file_once_while_it_is_unchanged(tmp_path, monkeypatch):
    """A detector file is checked before every image: it was hashed once per image."""
    import hashlib

    path = tmp_path / "cascade.xml"
    path.write_bytes(b"cascade")
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda file, *a, **k: opened.append(file) or real_open(file, *a, **k))
    digests = {file_sha256(path) for _ in range(3)}
    assert digests == {hashlib.sha256(b"cascade").hexdigest()} and opened.count(os.path.realpath(path)) == 1


def test_file_sha256_sees_a_file_replaced_under_the_same_size_and_time(tmp_path):
    path = tmp_path / "cascade.xml"
    path.write_bytes(b"first")
    first, stat_before = file_sha256(path), os.stat(path)
    (tmp_path / "new").write_bytes(b"other")
    os.utime(tmp_path / "new", ns=(stat_before.st_atime_ns, stat_before.st_mtime_ns))  # cp -p keeps the time
    os.replace(tmp_path / "new", path)
    assert file_sha256(path) != first


@pytest.mark.parametrize("cell, written", [
    ('=HYPERLINK("http://x",1).png', '"\'=HYPERLINK(""http://x"",1).png"'),  # a downloaded dataset's file name
    ("@s0.png", "'@s0.png"), ("+1+2.png", "'+1+2.png"), ("-x.png", "'-x.png"), ("\tx", "'\tx"),
    ("-0.5", "-0.5"), (-1.5, "-1.5"), ("happy", "happy"), ("a=b.png", "a=b.png"),
])
def test_csv_cells_never_run_as_spreadsheet_formulas(cell, written):
    buffer = io.StringIO(newline="")
    csv_writer(buffer).writerow([cell])
    assert buffer.getvalue() == written + "\r\n"


def test_a_copy_named_after_an_input_may_start_with_dashes(tmp_path):
    # predict --annotate DIR for in/--x.png: the copy's name comes from the input, not from a forgotten value.
    source = tmp_path / "in" / "--x.png"
    copy = tmp_path / "out" / "--x.png"
    assert check_outputs({"--annotate (--x.png)": copy}, inputs={"INPUT": [source]}, make_parents=True)


def test_the_folder_of_a_copy_named_like_an_option_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputPathError, match="^--annotate \\(a.png\\) --json: --json looks like an option, not a "
                       "file name; the value of --annotate before it is missing"):
        check_outputs({"--annotate (a.png)": Path("--json") / "a.png"}, make_parents=True)


def test_write_together_renames_back_to_back_once_every_file_is_flushed_once(tmp_path, monkeypatch):
    import os

    from fer_classic._fileio import write_together

    events = []
    fsync, replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda *args: (events.append("replace"), replace(*args))[1])
    write_together([(tmp_path / "report.html", "page"), (tmp_path / "metrics.json", "{}"), (tmp_path / "p.csv", "")])
    # One flush per file, the three renames with nothing between them (the page's last), one of the folder.
    assert events == ["fsync"] * 3 + ["replace"] * 3 + ["fsync"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "p.csv", "report.html"]


def test_write_together_refuses_a_folder_in_place_of_a_file_before_replacing_any(tmp_path):
    from fer_classic._fileio import write_together

    (tmp_path / "report.html").mkdir()
    (tmp_path / "metrics.json").write_text("last run's")
    with pytest.raises(IsADirectoryError, match=re.escape(str(tmp_path / "report.html"))):
        write_together([(tmp_path / "report.html", "page"), (tmp_path / "metrics.json", "{}")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "report.html"]  # no temporary left
    assert (tmp_path / "metrics.json").read_text() == "last run's"


def test_only_the_writes_inside_recording_writes_are_kept(tmp_path):
    # A process-wide list of every file written grew without end in a long-running caller.
    from fer_classic import _fileio

    atomic_write_text(tmp_path / "before.txt", "x")
    with _fileio.recording_writes() as written:
        atomic_write_text(tmp_path / "a.txt", "x")
    atomic_write_text(tmp_path / "after.txt", "x")
    assert written == [tmp_path / "a.txt"] and _fileio._recorders == []


def test_recording_blocks_closing_out_of_order_keep_nothing_after(tmp_path):
    # Two commands in threads: the first to close put back the other's list, and every later write was kept.
    from fer_classic import _fileio

    first, second = _fileio.recording_writes(), _fileio.recording_writes()
    one, two = first.__enter__(), second.__enter__()
    atomic_write_text(tmp_path / "both.txt", "x")
    first.__exit__(None, None, None)
    atomic_write_text(tmp_path / "second.txt", "x")
    second.__exit__(None, None, None)
    atomic_write_text(tmp_path / "after.txt", "x")
    assert one == [tmp_path / "both.txt"] and two == [tmp_path / "both.txt", tmp_path / "second.txt"]
    assert _fileio._recorders == []
