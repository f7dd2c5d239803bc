"""Predicting expressions along a video: sampled frames, face tracks, smoothed labels."""

from __future__ import annotations

import errno
import itertools
import numbers
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .._fileio import atomic_write, atomic_write_text, check_outputs, creation_error, file_size_limit, no_room
from .._progress import Progress
from ..data import IMAGE_EXTENSIONS
from ..detection import FaceCropper, FaceTracker
from ..exceptions import OutputPathError, VideoDecodeError
from ..persistence import FERModel
from ._draw import draw_faces
from ._image import NO_FACE, face_rows
from ._model import check_cropper, detector_files, face_cropper_for
from ._output import rows_csv

__all__ = [
    "DEFAULT_FPS",
    "VIDEO_EXTENSIONS",
    "FrameSearch",
    "VideoPrediction",
    "check_every",
    "check_video_annotation",
    "check_video_readable",
    "drop_unconfirmed",
    "open_video_writer",
    "plausible_fps",
    "predict_video",
    "track_rows",
]

VIDEO_EXTENSIONS = frozenset({".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv"})
# Codecs tried per output suffix, in order: Motion-JPEG in AVI works with every OpenCV wheel, headless
# included. An MPEG program stream (.mpg, .mpeg) takes no Motion-JPEG (OpenCV writes a file of no frame):
# MPEG-2 first, as it keeps a rate like 29.97 (mp4v there reads back at 2997); WebM holds VP8 only.
_DEFAULT_CODECS = ("MJPG", "mp4v")
_FOURCC = {".avi": ("MJPG", "mp4v"), ".mp4": ("mp4v", "MJPG"), ".m4v": ("mp4v", "MJPG"), ".mov": ("mp4v", "MJPG"),
           ".mpg": ("MPG2", "mp4v"), ".mpeg": ("MPG2", "mp4v"), ".webm": ("VP80",)}
# Frame rates a header may declare and be believed: from a time-lapse frame every 10 s to a 1000-fps
# high-speed camera. Outside, the header is broken (an AVI's rate or scale garbled: 4.66e-10, 2.1e9 fps):
# times from it would be nonsense or all 0, and OpenCV's writer refuses such a rate or clamps it.
_PLAUSIBLE_FPS = (0.1, 1000.0)
#: Frame rate of the annotated copy of a video whose rate is unknown (none declared, or an implausible one).
DEFAULT_FPS = 25.0


@dataclass
class VideoPrediction:
    """What :func:`predict_video` found.

    Attributes
    ----------
    source : str
    fps : float or None
        Frame rate the file declares (None when it declares none, or one
        outside 0.1 to 1000, which is warned of: see :func:`plausible_fps`).
    n_frames : int
        Frames read.
    rows : list of dict
        Per sampled frame, one row per face: ``source``, ``frame``, ``time_s``,
        ``status="ok"``, ``face``, ``box``, ``detected``, ``how`` (see
        :func:`predict_image`), ``label``,
        ``score_kind``, ``scores``, ``track`` (id) and ``smoothed_label`` (the
        arg-max of the track's scores averaged over its last ``window``
        sampled frames); or one ``status="no face"`` row.
    tracks : list of dict
        Per face track: ``track``, ``first_frame``, ``last_frame``,
        ``source``, ``n_frames`` (sampled frames it was seen in), ``label`` (of its mean
        scores over the whole track) and ``mean_scores``.
    classes : list of str
    annotated : Path or None
        The annotated copy written, if asked for.
    """

    source: str
    fps: float | None
    n_frames: int
    rows: list[dict]
    tracks: list[dict]
    classes: list[str] = field(default_factory=list)
    annotated: Path | None = None

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the timeline: one line per sampled frame and face (see :func:`write_rows_csv`).

        Parameters
        ----------
        path : path
            The CSV file (written atomically).

        Returns
        -------
        Path
            The path written.
        """
        return atomic_write_text(path, rows_csv(self.rows, self.classes))

    def to_dataframe(self):
        """The rows as a pandas DataFrame, one score column per class (needs pandas).

        Returns
        -------
        pandas.DataFrame
            One row per sampled frame and face.
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("VideoPrediction.to_dataframe needs pandas: pip install pandas") from exc
        flat = [{k: v for k, v in row.items() if k != "scores"} | row.get("scores", {}) for row in self.rows]
        return pd.DataFrame(flat)


def open_video_writer(
    path: str | os.PathLike, fps: float, size: tuple[int, int], *, name: str | os.PathLike | None = None
) -> cv2.VideoWriter:
    """An OpenCV writer of ``size`` (width, height) BGR frames, in a codec its suffix's container holds.

    Motion-JPEG for .avi, mp4v for .mp4/.m4v/.mov, MPEG-2 for .mpg/.mpeg,
    VP8 for .webm (each with a second choice where one exists);
    Motion-JPEG, then mp4v, for other suffixes.

    Parameters
    ----------
    path : path
        The file to write; OpenCV chooses the container by its suffix.
    fps : float
        Frames per second of the video written.
    size : (int, int)
        Width and height of the frames.
    name : path, optional
        The path the error messages name (default ``path``): the file the
        user asked for, when ``path`` is a temporary beside it.

    Returns
    -------
    cv2.VideoWriter
        Opened; release it when done.

    Raises
    ------
    OutputPathError
        Naming ``--annotate`` and ``name``, if no file can be written there
        (a folder that cannot be made, or one that refuses new files: as
        root, ``/proc`` passes the earlier writability check), or OpenCV
        cannot write a video of that suffix.
    """
    path = Path(path)
    shown = Path(name) if name is not None else path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"--annotate {shown}: the video cannot be written there ({exc.strerror or exc}); "
                              "choose another path.") from None
    codecs = _FOURCC.get(path.suffix.lower(), _DEFAULT_CODECS)
    for codec in codecs:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), float(fps), size)
        if writer.isOpened():
            return writer
        writer.release()
    # OpenCV does not say why. The place, if no file can be made beside the path (the input is not at fault).
    refused = creation_error(path.parent)
    if refused is not None:
        raise OutputPathError(f"--annotate {shown}: the video cannot be written there ({refused}); "
                              "choose another path.")
    full = _short_write_cause(path)  # an empty file can still be made on a full disk: not the codec's fault
    if full is not None:
        raise OutputPathError(f"--annotate {shown}: the video cannot be written there ({full[0]}); {full[1]}.")
    raise _codec_error(f"--annotate {shown}: OpenCV cannot write this video (tried codecs {', '.join(codecs)}); "
                       + ("choose another path." if path.suffix.lower() == ".avi" else
                          "give an .avi name instead (Motion-JPEG, which every OpenCV build writes)."))


def _codec_error(message: str) -> OutputPathError:
    """OutputPathError for a copy the container's codecs fail at (``suffix_fault``: another suffix may work)."""
    error = OutputPathError(message)
    error.suffix_fault = True  # predict's --annotate folder names the other suffix only for this cause
    return error


def check_video_readable(path: str | os.PathLike, *, name: str | os.PathLike | None = None,
                         n_frames: int | None = None) -> None:
    """Check that OpenCV can read back the video it wrote at ``path``: a frame of it, or all ``n_frames``.

    Some OpenCV builds write a file of no readable frame for a codec their
    container cannot hold (Motion-JPEG in .mpg did). And OpenCV's writer
    drops the errors of its writes: a full disk or a file-size limit
    (``ulimit -f``) leaves a copy cut short, or one of no frame, without a
    word. With ``n_frames``, the frame count the header declares is taken
    if it is ``n_frames`` and the last frame reads; otherwise the frames
    are counted.

    Parameters
    ----------
    path : path
        The video written.
    name : path, optional
        The path the error messages name (default ``path``).
    n_frames : int, optional
        Frames written; default: one frame is read back, not the whole copy.

    Raises
    ------
    OutputPathError
        Naming ``--annotate`` and ``name``: if fewer than ``n_frames`` frames
        read back, or none, with the cause where it can be told (no space
        left on its disk, the file-size limit reached); otherwise, for a copy
        of no readable frame, suggesting .avi (.mp4 for an .avi).
    """
    path = Path(path)
    shown = Path(name) if name is not None else path
    capture = cv2.VideoCapture(str(path))
    try:
        readable = capture.isOpened() and capture.read()[0]
        read = _frames_read_back(capture, path, n_frames) if readable and n_frames else None
    finally:
        capture.release()
    cause = _short_write_cause(path) if not readable or (read is not None and read < n_frames) else None
    if cause is not None:  # not the codec's fault: another suffix would fail the same way
        what = ("could not be written" if not readable else
                f"was cut short: {read} of its {n_frames} frames read back")
        raise OutputPathError(f"--annotate {shown}: the video {what} ({cause[0]}); {cause[1]}.")
    if not readable:
        # An .avi copy (Motion-JPEG) failing leaves .mp4 (mp4v) to try, not .avi again.
        other = ("give a name ending in .mp4 instead" if path.suffix.lower() == ".avi" else
                 "give a name ending in .avi (Motion-JPEG, which every OpenCV build writes and reads) or .mp4")
        raise _codec_error(f"--annotate {shown}: OpenCV wrote a {path.suffix} video it cannot read back (this "
                           f"build has no codec that suits the container); {other}.")
    if read is not None and read < n_frames:
        raise OutputPathError(f"--annotate {shown}: the video was cut short: {read} of its {n_frames} frames read "
                              "back (a write error, which OpenCV does not report, such as a full disk); free some "
                              "space or choose another path.")


def _frames_read_back(capture: cv2.VideoCapture, path: Path, n_frames: int) -> int:
    # ``capture`` has read frame 0. The header's count is believed if its last frame reads (a copy cut short may
    # keep a count patched in place at the end); otherwise every frame is decoded and counted, as a container of
    # estimated counts needs.
    if int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) == n_frames:
        if n_frames == 1 or (capture.set(cv2.CAP_PROP_POS_FRAMES, n_frames - 1) and capture.read()[0]):
            return n_frames
    recount = cv2.VideoCapture(str(path))
    try:
        read = 0
        while read < n_frames and recount.grab():
            read += 1
    finally:
        recount.release()
    return read


# Room below which a disk counts as full when a video written there reads back short: a failed write leaves
# less than one buffered chunk (FFmpeg's 32 KiB, or one frame) free.
_FULL_DISK_BYTES = 1 << 20


def _short_write_cause(path: Path) -> tuple[str, str] | None:
    """Why the video at ``path`` may be cut short, and what to do (see no_room), where it can be told: its
    disk full, or ``ulimit -f`` reached."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    limit = file_size_limit()
    if limit is not None and size >= limit - 65536:
        return no_room(errno.EFBIG, path, option="--annotate")
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return None
    if free < _FULL_DISK_BYTES:
        return no_room(errno.ENOSPC, path, option="--annotate", free=free)
    return None


def check_video_annotation(annotate: str | os.PathLike, path: str | os.PathLike) -> Path:
    """``annotate`` as a Path if it has a video suffix, as the annotated copy of the video ``path`` needs.

    The rule of :func:`predict_video` and, for a video given alone, of
    :func:`~fer_classic.prediction.annotation_targets`: one rule, one message.

    Raises
    ------
    OutputPathError
        Naming ``--annotate`` and suggesting .avi, if its suffix is not one of
        :data:`VIDEO_EXTENSIONS`: OpenCV writes the frames of a name with an
        image suffix as images, over a photo of that name, and those of
        other suffixes not at all.
    """
    out = Path(annotate)
    if out.suffix.lower() not in VIDEO_EXTENSIONS:
        kind = "an image suffix" if out.suffix.lower() in IMAGE_EXTENSIONS else (
            f"the suffix {out.suffix!r}" if out.suffix else "no suffix")
        raise OutputPathError(
            f"--annotate {out}: the input {path} is a video, so its annotated copy needs a video file name "
            f"({', '.join(sorted(VIDEO_EXTENSIONS))}), not {kind}; give a name ending in .avi (Motion-JPEG, "
            "which every OpenCV build writes).")
    return out


def check_every(every, name: str = "every") -> int:
    """Validate a frame step (``every``, ``redetect_every``)."""
    if not isinstance(every, numbers.Integral) or isinstance(every, bool) or every < 1:
        raise ValueError(f"{name} must be an int >= 1 (every Nth frame); got {every!r}.")
    return int(every)


class FrameSearch:
    """Where to search each analysed frame: everywhere, or only around the faces of the last one.

    The whole frame is searched on the first frame, on every
    ``redetect_every``-th analysed frame after it, and whenever a followed
    face is not found near its last box (at once, on the same frame); in
    between, only around the previous faces
    (:meth:`FaceCropper.find_faces_near`), a small fraction of the cost. So
    a face found by a full search is not lost by the cheaper one, and a
    face entering the picture is found within ``redetect_every`` analysed
    frames. ``redetect_every=1`` searches every frame fully.

    Parameters
    ----------
    cropper : FaceCropper
        A fitted cropper.
    redetect_every : int
        Analysed frames between full searches, 1 or more.
    """

    def __init__(self, cropper: FaceCropper, redetect_every: int):
        self.cropper = cropper
        self.redetect_every = check_every(redetect_every, "redetect_every")
        self._boxes: list = []
        self._count = 0

    def crop_faces(self, frame: np.ndarray) -> list:
        """``(face, crop)`` pairs of the next analysed frame.

        Parameters
        ----------
        frame : ndarray
            The frame, BGR (or gray).

        Returns
        -------
        list of (Face, ndarray)
            Each face found and its crop, as :meth:`FaceCropper.crop_faces` gives them.
        """
        near = self._boxes if self._boxes and self._count % self.redetect_every else None
        self._count += 1
        pairs = self.cropper.crop_faces(frame, near=near)
        if near is not None and len(pairs) < len(near):  # a followed face was lost: search everywhere
            pairs = self.cropper.crop_faces(frame)
        self._boxes = [face.box for face, _ in pairs]
        return pairs


def predict_video(
    model: FERModel,
    path: str | os.PathLike,
    *,
    every: int = 1,
    cropper: FaceCropper | None = None,
    tracker: FaceTracker | None = None,
    redetect_every: int = 10,
    annotate: str | os.PathLike | None = None,
) -> VideoPrediction:
    """Predict the expression of every face in every ``every``-th frame of a video, and track the faces.

    Parameters
    ----------
    model : FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model``.
    path : str, bytes or os.PathLike
        A video file OpenCV can decode (.avi, .mp4, ...).
    every : int, default=1
        Frame step: frames 0, every, 2*every, ... are analysed.
    cropper : FaceCropper, optional
        Default: the one the model records (:func:`face_cropper_for`), with
        ``fallback="none"``: a frame without a face is reported as such.
    tracker : FaceTracker, optional
        Default: ``FaceTracker()`` (IoU 0.3, smoothing over 5 sampled frames).
        Faces of tracks seen in fewer than its ``min_frames`` (3) sampled
        frames, mostly false detections, are left out of the rows.
    redetect_every : int, default=10
        Search the whole frame on every Nth analysed frame (and whenever a
        face is lost); in between only around the faces of the previous
        analysed frame (see :class:`FrameSearch`), so a face entering the
        picture is found within N analysed frames. 1 searches every frame fully.
    annotate : path, optional
        Also write a copy of the video with boxes and smoothed labels drawn
        (every frame, each showing the last sampled frame's faces, as found
        then: faces of tracks later left unconfirmed are drawn too), at the
        video's frame rate (:data:`DEFAULT_FPS`, 25, when it is unknown). A video
        name (.avi: Motion-JPEG, .mp4, ...), never ``path`` itself; checked
        before any frame is read. The copy is written to a temporary file
        beside it and renamed when complete, once all its frames read back
        (see :func:`check_video_readable`): an interrupted or failed run,
        or one cut short by a full disk, leaves an existing file there
        untouched.

    Returns
    -------
    VideoPrediction
        Rows per sampled frame and face, tracks, frame rate; ``to_csv``
        writes the timeline.

    Raises
    ------
    VideoDecodeError
        If the file cannot be opened or holds no decodable frame.
    OutputPathError
        If ``annotate`` has no video suffix, is (or leads to) the input video,
        or cannot be written or read back (see :func:`check_video_annotation`,
        :func:`open_video_writer` and :func:`check_video_readable`).
    ValueError
        If ``every`` or ``redetect_every`` is not an int >= 1.
    TypeError
        If ``path`` is not a path.
    """
    if isinstance(path, bytes):  # one path, as predict_paths reads bytes
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a video file's path (str, bytes or os.PathLike); got {type(path).__name__}.")
    every = check_every(every)
    if annotate is not None:  # before any frame is read
        annotate = check_video_annotation(annotate, path)
    # A frame without a face is no face crop: video frames are never taken whole (fallback="none").
    cropper = check_cropper(model, cropper) if cropper is not None else face_cropper_for(model, fallback="none")
    if annotate is not None:  # never over the video itself, nor the file the detector reads
        check_outputs({"--annotate": annotate}, inputs={"INPUT": path, **detector_files(cropper)}, make_parents=True)
    search = FrameSearch(cropper, redetect_every)
    tracker = tracker if tracker is not None else FaceTracker()
    path = Path(path)
    capture = cv2.VideoCapture(str(path)) if path.is_file() else None
    if capture is None or not capture.isOpened():
        raise VideoDecodeError(f"{path}: cannot be opened as a video (missing, corrupt or an unsupported codec).")
    fps = plausible_fps(capture.get(cv2.CAP_PROP_FPS), path, annotate)
    rows: list[dict] = []
    declared = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)

    def analyse(out: Path | None) -> int:
        # Frames read; the annotated copy, if asked for, written to ``out``.
        writer, last, index = None, [], 0
        progress = Progress(declared, f"frames of {path.name}")
        try:
            while True:
                sampled = index % every == 0
                if sampled or out is not None:
                    ok, frame = capture.read()
                else:
                    ok, frame = capture.grab(), None
                if not ok:
                    break
                if sampled:
                    base = {"source": str(path), "frame": index,
                            "time_s": round(index / fps, 3) if fps else None}
                    last = face_rows(model, [(base, search.crop_faces(frame), frame.shape)])
                    track_rows(tracker, index, last, model.classes)
                    rows.extend(last)
                if out is not None:
                    if writer is None:
                        writer = open_video_writer(out, fps or DEFAULT_FPS, (frame.shape[1], frame.shape[0]),
                                                   name=annotate)
                    writer.write(draw_faces(frame, last))
                index += 1
                progress.update()
        finally:
            progress.close()
            capture.release()
            if writer is not None:
                writer.release()
        if index == 0:  # raised inside the annotated copy's write: no empty copy is left
            raise VideoDecodeError(f"{path}: no frame could be decoded (empty or corrupt video).")
        if out is not None:  # before it is renamed into place: never a copy cut short reported as written
            check_video_readable(out, name=annotate, n_frames=index)
        return index

    if annotate is None:
        index = analyse(None)
    else:
        # Written beside ``annotate`` under a temporary name with its suffix (OpenCV chooses the container
        # by it), renamed when complete: an interrupted run never leaves half a video over an existing file.
        counted: list[int] = []
        atomic_write(annotate, lambda tmp: counted.append(analyse(tmp)), keep_suffix=True)
        index = counted[0]
    if declared - index > max(2, declared // 20):  # some containers' counts are estimates (variable frame rates)
        warnings.warn(f"{path}: decoding stopped at frame {index} of the {declared} its header declares (a truncated "
                      "or corrupt file); the results cover those frames only.", UserWarning, stacklevel=2)
    rows = drop_unconfirmed(rows, tracker.confirmed())
    tracks = [{"source": str(path), **track} for track in tracker.summary(model.classes)]
    return VideoPrediction(str(path), fps, index, rows, tracks, model.classes, annotate)


def plausible_fps(fps: float, path: str | os.PathLike, annotate: str | os.PathLike | None = None) -> float | None:
    """The frame rate a video declares, or None when it declares none or an implausible one.

    A rate outside 0.1 to 1000 frames per second (a broken header) is
    warned of, naming the video, and taken as unknown: its frames get no
    ``time_s``, and its annotated copy is written at :data:`DEFAULT_FPS`.
    """
    if not fps:  # none declared (0): unknown, as it always was, without a word
        return None
    low, high = _PLAUSIBLE_FPS
    if low <= fps <= high:
        return float(fps)
    copy = f", and the annotated copy is written at {DEFAULT_FPS:g} fps" if annotate is not None else ""
    warnings.warn(f"{path}: its header declares {fps:.3g} frames per second, a rate no camera records (a broken "
                  f"header; {low:g} to {high:g} are believed); the frame rate is taken as unknown: time_s is left "
                  f"empty{copy}.", UserWarning, stacklevel=3)
    return None


def drop_unconfirmed(rows: list[dict], confirmed: set[int]) -> list[dict]:
    """Rows without the faces of unconfirmed tracks; a frame left with none gets a ``no face`` row."""
    kept: list[dict] = []
    for _, group in itertools.groupby(rows, key=lambda row: row["frame"]):
        group = list(group)
        faces = [row for row in group if row["status"] != "ok" or row["track"] in confirmed]
        kept += faces or [{k: group[0][k] for k in ("source", "frame", "time_s")} | {"status": NO_FACE}]
    return kept


def track_rows(tracker: FaceTracker, frame: int, rows: list[dict], classes: list[str]) -> None:
    """Give each face row of a frame its track id and smoothed label."""
    faces = [row for row in rows if row["status"] == "ok"]
    scores = np.array([[row["scores"][c] for c in classes] for row in faces]).reshape(len(faces), len(classes))
    for row, track in zip(faces, tracker.update(frame, [row["box"] for row in faces], scores)):
        row["track"] = track.id
        row["smoothed_label"] = classes[int(np.argmax(track.smoothed()))]
