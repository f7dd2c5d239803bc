"""An annotated video copy is read back before it replaces an earlier one: a copy cut short is an error.

OpenCV's writer drops the errors of its writes, so a full disk or a file-size limit (``ulimit -f``) are
simulated here: a copy reading back fewer frames, a disk reporting no free space, a file-size limit reached.
"""

import resource
import shutil
from collections import namedtuple
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_classic.exceptions import OutputPathError
from fer_classic.prediction import open_video_writer, predict_video

N_FRAMES = 12
_Usage = namedtuple("_Usage", "total used free")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Twelve small gray frames, Motion-JPEG in AVI (no face: only the copy matters here)."""
    path = tmp_path_factory.mktemp("videos") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (96, 64))
    assert writer.isOpened()
    for k in range(N_FRAMES):
        writer.write(np.full((64, 96, 3), 10 * k, np.uint8))
    writer.release()
    return path


def _copies_read_back(monkeypatch, frames, declared=0):
    """Make the copy (a temporary named ".…") read back ``frames`` frames and declare ``declared``."""
    real = cv2.VideoCapture

    class Short:
        def __init__(self, path):
            self._capture, self._left = real(path), frames

        def get(self, prop):
            return declared if prop == cv2.CAP_PROP_FRAME_COUNT else self._capture.get(prop)

        def _next(self, step):
            self._left -= 1
            return step() if self._left >= 0 else ((False, None) if step == self._capture.read else False)

        def read(self):
            return self._next(self._capture.read)

        def grab(self):
            return self._next(self._capture.grab)

        def __getattr__(self, name):
            return getattr(self._capture, name)

    monkeypatch.setattr(cv2, "VideoCapture", lambda path, *a: Short(path) if Path(str(path)).name.startswith(".")
                        else real(path, *a))


def _full_disk(monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: _Usage(2 << 20, 2 << 20, 0))


def test_a_copy_cut_short_is_an_error_and_the_earlier_copy_stays(tmp_path, fitted_model, clip, monkeypatch):
    out = tmp_path / "a.avi"
    out.write_bytes(b"last run's complete copy")
    _copies_read_back(monkeypatch, frames=5)
    with pytest.raises(OutputPathError, match=r"--annotate .*a\.avi: the video was cut short: 5 of its 12 frames "
                                              r"read back \(a write error.*\); free some space or choose another"):
        predict_video(fitted_model, clip, every=6, annotate=out)
    assert out.read_bytes() == b"last run's complete copy" and [p.name for p in tmp_path.iterdir()] == ["a.avi"]


def test_a_copy_whose_header_declares_no_count_is_kept_when_every_frame_reads(tmp_path, fitted_model, clip,
                                                                              monkeypatch):
    _copies_read_back(monkeypatch, frames=N_FRAMES, declared=0)
    out = predict_video(fitted_model, clip, every=6, annotate=tmp_path / "a.avi").annotated
    assert out == tmp_path / "a.avi" and out.stat().st_size > 0


def test_a_copy_cut_short_on_a_full_disk_says_so(tmp_path, fitted_model, clip, monkeypatch):
    _copies_read_back(monkeypatch, frames=5)
    _full_disk(monkeypatch)
    with pytest.raises(OutputPathError, match=r"cut short: 5 of its 12 frames read back \(no space left on its disk: "
                                              r"0 bytes free\); free some space"):
        predict_video(fitted_model, clip, every=6, annotate=tmp_path / "a.avi")


def test_a_copy_cut_short_by_the_file_size_limit_says_so(tmp_path, fitted_model, clip, monkeypatch):
    _copies_read_back(monkeypatch, frames=5)
    # The limit was given in bytes, which `ulimit -f` (bash: 1 KiB blocks) takes as 1024 times as much.
    monkeypatch.setattr(resource, "getrlimit", lambda which: (64 * 1024, resource.RLIM_INFINITY))
    with pytest.raises(OutputPathError, match=r"cut short: 5 of its 12 frames read back \(the file-size limit "
                                              r"of 65536 bytes was reached\); raise the file-size limit \(bash's "
                                              r"ulimit -f, now 64, counts 1 KiB blocks\)\.$"):
        predict_video(fitted_model, clip, every=6, annotate=tmp_path / "a.avi")


def test_a_copy_of_no_frame_on_a_full_disk_blames_the_disk_not_the_codec(tmp_path, fitted_model, clip,
                                                                         monkeypatch):
    _copies_read_back(monkeypatch, frames=0)
    _full_disk(monkeypatch)
    with pytest.raises(OutputPathError) as raised:
        predict_video(fitted_model, clip, every=6, annotate=tmp_path / "a.avi")
    assert "the video could not be written (no space left on its disk: 0 bytes free" in str(raised.value)
    assert ".mp4" not in str(raised.value) and "codec" not in str(raised.value)


def test_a_writer_refused_on_a_full_disk_blames_the_disk_not_the_suffix(tmp_path, monkeypatch):
    class Refusing:
        def __init__(self, *args):
            pass

        def isOpened(self):  # noqa: N802 (OpenCV's name)
            return False

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoWriter", Refusing)
    _full_disk(monkeypatch)
    with pytest.raises(OutputPathError, match=r"--annotate .*a\.mp4: the video cannot be written there \(no space "
                                              r"left on its disk: 0 bytes free\); free some space there or "
                                              r"give --annotate a path on another disk\.$"):
        open_video_writer(tmp_path / "a.mp4", 10.0, (96, 64))
