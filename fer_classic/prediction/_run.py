"""``fer-classic predict``: images, folders and videos in one call, with annotation and a timeline."""

from __future__ import annotations

import errno
import functools
import json
import os
import stat
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from sklearn.base import clone

from .._fileio import atomic_write_bytes, atomic_write_text, check_outputs, path_items
from .._progress import Progress
from ..data import IMAGE_EXTENSIONS
from ..data._folder import list_files
from ..data._images import _warn_stretched, list_sources
from ..detection import FaceCropper
from ..exceptions import (
    DatasetError, FaceDetectorError, ImageDecodeError, InputPathError, OutputPathError, ReportError,
    SkippedFilesWarning,
)
from ..persistence import FERModel
from ._draw import draw_faces
from ._image import face_rows, load_image, stretched
from ._model import check_cropper, detector_files, face_cropper_for
from ._output import rows_csv
from ._video import VIDEO_EXTENSIONS, check_every, check_video_annotation, predict_video

__all__ = [
    "PredictionRun", "annotates_one_file", "annotation_outputs", "annotation_targets", "expand_inputs", "predict_paths",
]

_BATCH = 256  # face crops classified per call


@dataclass
class PredictionRun:
    """What :func:`predict_paths` did.

    Attributes
    ----------
    rows : list of dict
        In input order: per image one row per face (or ``status="no face"``),
        per video one row per sampled frame and face (see
        :class:`VideoPrediction`), per unreadable file one
        ``status="error"`` row with the ``error`` message.
    tracks : list of dict
        Face tracks of every video (with their ``source``).
    classes : list of str
    n_inputs, failed : int
        Files given (folders expanded), and those that could not be read
        or searched for faces (an error row each).
    annotated : list of Path
        Annotated copies written.
    timeline : Path or None
    not_annotated : list of Path
        Annotated copies that could not be written (images), or of videos in
        an ``annotate`` folder, written or read back; each such input has a
        ``status="error"`` row saying why (an image's after its results,
        which are kept), and is not counted in ``failed`` (it was read).
    """

    rows: list[dict]
    tracks: list[dict]
    classes: list[str]
    n_inputs: int
    failed: int
    annotated: list[Path] = field(default_factory=list)
    timeline: Path | None = None
    not_annotated: list[Path] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-ready: ``results`` (the rows), ``tracks``, counts and files written (or not).

        Returns
        -------
        dict
            ``results``, ``tracks``, ``classes``, ``n_inputs``, ``failed``, ``annotated``, ``timeline`` and
            ``not_annotated``.
        """
        return {
            "results": self.rows, "tracks": self.tracks, "classes": self.classes, "n_inputs": self.n_inputs,
            "failed": self.failed, "annotated": [str(p) for p in self.annotated],
            "timeline": str(self.timeline) if self.timeline else None,
            "not_annotated": [str(p) for p in self.not_annotated],
        }


def expand_inputs(inputs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders searched recursively for images and videos (sorted), each file once.

    ``inputs`` is one path (a str, bytes or os.PathLike: one input, never
    its characters) or an iterable of paths. Folders are listed as the
    dataset loaders list them: hidden files and folders (``.``, macOS's
    ``._`` companions) and ``__MACOSX`` are left out, and linked folders are
    not entered (a loop cannot repeat files); :func:`predict_paths` warns of
    them (a SkippedFilesWarning).

    Parameters
    ----------
    inputs : path or iterable of path
        Files and folders.

    Returns
    -------
    list of Path
        The image and video files, each once.

    Raises
    ------
    InputPathError
        If an input is the empty string (``Path("")`` is the current folder,
        searched whole: an unset ``"$DIR"``).
    DatasetError
        If nothing is left to predict.
    """
    return input_files(inputs)[0]


def input_files(inputs) -> tuple[list[Path], list[Path]]:
    """:func:`expand_inputs`' files, and the linked folders inside the input folders it did not enter."""
    media = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    paths: list[Path] = []
    linked: list[Path] = []
    for item in _input_paths(inputs):
        if item.is_dir():
            found, _, links, _ = list_files(item, media)
            paths += found
            linked += links
        else:
            paths.append(item)
    if not paths:
        raise DatasetError(f"No image or video files given (folders are searched for {', '.join(sorted(media))}).")
    # A file given twice (or named beside its folder) is predicted once: its two annotated copies were one
    # (the second's name, both inputs' boxes drawn on it) and its rows came twice. predict_paths warns.
    return list(dict.fromkeys(paths)), linked


def warn_repeated(inputs, paths: list[Path], linked: list[Path]) -> None:
    """Warn, naming them, when files of ``inputs`` were given more than once (``paths`` keeps each once),
    and of the ``linked`` folders :func:`input_files` did not enter, as the dataset loaders warn of them."""
    if linked:
        warnings.warn(f"{len(linked)} linked folder(s) inside the input folders were not entered (links to folders "
                      "are not followed, so that a loop cannot repeat files); give them as inputs to predict their "
                      "files: " + list_sources([str(p) for p in linked]), SkippedFilesWarning, stacklevel=3)
    items = _input_paths(inputs)
    folders = Counter(item for item in items if item.is_dir())
    files = Counter(item for item in items if not item.is_dir())
    # How many inputs name each file: itself, and each folder given above it (a walk up its parents,
    # not a scan of every file per folder: 21 folders of 50,000 files took 11 s).
    repeated = [str(p) for p in paths if files[p] + sum(folders[parent] for parent in p.parents) > 1]
    if repeated:
        warnings.warn(f"{len(repeated)} input file(s) given more than once are predicted once: "
                      f"{list_sources(repeated)}.", UserWarning, stacklevel=3)


def _input_paths(inputs) -> list[Path]:
    """:func:`path_items` as Paths (bytes too: one path, as ``os.fsdecode`` reads it), an empty input refused
    rather than taken as the current folder."""
    items = [os.fsdecode(item) if isinstance(item, bytes) else item for item in path_items(inputs)]
    for item in items:
        if isinstance(item, (str, os.PathLike)) and os.fspath(item) == "":
            raise InputPathError("INPUT '' is empty; give a file or folder (an unset variable, as in \"$DIR\"?).")
    return [Path(item) for item in items]


def write_timeline(timeline: str | os.PathLike, rows: list[dict], classes: list[str]) -> Path | None:
    """Write the video rows' timeline CSV; None, with a warning, when it cannot be written.

    It is written after all the work (a full disk, a folder gone): the rows
    are still returned, and the command prints them, rather than lost with
    an error naming a temporary file.
    """
    try:
        return atomic_write_text(timeline, rows_csv([r for r in rows if "frame" in r], classes))
    except OSError as exc:
        warnings.warn(f"--timeline {timeline} could not be written ({exc.strerror or exc}); the results are given "
                      "without it.", UserWarning, stacklevel=3)
        return None


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def annotates_one_file(annotate: str | os.PathLike) -> bool:
    """Whether ``--annotate`` names one file (an image or video suffix) rather than a folder.

    Parameters
    ----------
    annotate : path
        The ``--annotate`` value.

    Returns
    -------
    bool
        True for one file, False for a folder.
    """
    return Path(annotate).suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS


def annotation_outputs(targets: Mapping[Path, Path], folder: str | os.PathLike | None = None) -> dict[str, Path]:
    """The annotated copies as :func:`fer_classic._fileio.check_outputs` entries, one per input.

    Each copy is checked, not only its folder: ``--annotate photos`` for
    ``photos/a.jpg`` would otherwise replace the photo itself. With
    ``folder`` (the ``--annotate`` folder), its :data:`COPIES_MANIFEST` is
    one of them too: predict rewrites it, so it is no input nor another output
    (``--timeline out/.fer-classic-copies.jsonl``).

    Parameters
    ----------
    targets : mapping of Path to Path
        Input → annotated copy, from :func:`annotation_targets`.
    folder : path, optional
        The ``--annotate`` folder; None for a single file.

    Returns
    -------
    dict
        Option label → path, for :func:`~fer_classic._fileio.check_outputs`.
    """
    outputs = {f"--annotate ({source.name})": target for source, target in targets.items()}
    if folder is not None:
        outputs[f"--annotate ({COPIES_MANIFEST})"] = Path(folder) / COPIES_MANIFEST
    return outputs


def check_timeline(timeline: str | os.PathLike | None, paths: list[Path] | None = None) -> None:
    """Warn when none of ``paths`` is a video (a ``--timeline`` path ending in ``.jpg`` or ``.mp4`` is
    refused by :func:`~fer_classic._fileio.check_outputs`, as every table's is).
    """
    if timeline is None:
        return
    if paths is not None and not any(_is_video(p) for p in paths):
        warnings.warn(f"--timeline {timeline}: no input is a video, so the timeline holds its header only.",
                      UserWarning, stacklevel=3)


def check_every_used(every: int, paths: list[Path]) -> None:
    """Warn when ``every`` skips frames but none of ``paths`` is a video (it did nothing without a word)."""
    if every != 1 and not any(_is_video(p) for p in paths):
        warnings.warn(f"--every {every} (every={every}): no input is a video, so no frame is skipped; it applies to "
                      "videos only.", UserWarning, stacklevel=3)


# OpenCV's log level is process-wide: two threads' first tries (lru_cache does not keep them apart) each saved
# and restored it, the later one restoring the other's "silent" for good. One try at a time keeps them in order.
_LOG_LEVEL_LOCK = threading.Lock()


@functools.lru_cache(maxsize=None)
def writes_in_colour(suffix: str) -> bool:
    """Whether OpenCV can write an annotated (colour) image copy with this suffix.

    Not .pgm or .pbm (grey levels only), nor a suffix this build has no
    encoder for: tried once on a small colour image, OpenCV's own error
    lines silenced.
    """
    # cv2.utils.logging is new in OpenCV 4.13; older builds have cv2.getLogLevel/setLogLevel (0: silent).
    logging = getattr(cv2.utils, "logging", None)
    get_level, set_level = (logging.getLogLevel, logging.setLogLevel) if logging else (cv2.getLogLevel, cv2.setLogLevel)
    with _LOG_LEVEL_LOCK:
        level = get_level()
        set_level(logging.LOG_LEVEL_SILENT if logging else 0)
        try:
            return bool(cv2.imencode(suffix, np.zeros((64, 64, 3), np.uint8))[0])
        except cv2.error:
            return False
        finally:
            set_level(level)


def _copy_name(path: Path) -> Path:
    # A copy's name in an --annotate folder: a video's stem with .avi; an image's own name, or its stem with .png
    # where OpenCV cannot write its suffix in colour (b.pgm -> b.png).
    if _is_video(path):
        return Path(path.stem + ".avi")
    return Path(path.name if writes_in_colour(path.suffix.lower()) else path.stem + ".png")


#: In an ``--annotate`` folder: one JSON line per copy predict wrote there (its name, size, modification
#: time, inode and change time), so that a rerun replaces its own copies, and only them, unasked.
COPIES_MANIFEST = ".fer-classic-copies.jsonl"


def _stamp(path: Path) -> list | None:
    """Size, modification time (ns), inode and change time (ns) of the regular file at ``path`` (a link is
    never one), else None.

    The inode and change time too: a file moved in with ``mv`` or copied with ``cp -p`` keeps the size and
    modification time of the copy it displaces, never its inode, and ``mv`` sets the change time. A line of
    the older two-number form matches no file, so its copy is refused rather than trusted.
    """
    try:
        found = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    return [found.st_size, found.st_mtime_ns, found.st_ino, found.st_ctime_ns]


def _open_manifest(folder: Path, flags: int) -> int:
    """A descriptor of ``folder``'s manifest, opened with ``flags``; never through a link (ELOOP) nor
    blocking on a FIFO; OSError when it is not a regular file."""
    # 0o666 & ~umask, as every file fer-classic writes (os.open's default 0o777 made it executable).
    fd = os.open(folder / COPIES_MANIFEST, flags | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0),
                 0o666)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(folder / COPIES_MANIFEST))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _recorded_copies(folder: Path) -> dict[str, list]:
    """The copies the manifest of ``folder`` lists: name → stamp (the latest line of a name wins).

    A manifest that is a link (to a user's file, whose lines would be trusted) or not a regular file lists none.
    """
    try:
        with open(_open_manifest(folder, os.O_RDONLY), encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except (OSError, ValueError):
        return {}
    copies = {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            name, stamp = entry["name"], entry["stamp"]
        except (ValueError, TypeError, KeyError):  # the last line of a run cut short, a line edited by hand
            continue
        if isinstance(name, str) and name == os.path.basename(name) and isinstance(stamp, list):  # in the folder
            copies[name] = stamp
    return copies


class _CopyRecord:
    """Appends each copy written in an ``--annotate`` folder to its manifest; :meth:`close` keeps the live ones.

    A line per copy as soon as it is written, so a run cut short still lets its rerun replace the copies
    it made. Not recorded (the folder unwritable, a full disk, a manifest that is a link or not a regular
    file): that copy is then refused by a rerun, as any other file there, and the run itself goes on, with
    one warning. The manifest is never written through a link: a link to a user's file would get lines
    appended to it.

    Two predicts writing into the same folder at once may lose each other's lines in :meth:`close`'s
    rewrite: those copies are then refused by a rerun (as the user's own files are), never replaced unasked.
    """

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.warned = False

    def add(self, copy: Path) -> None:
        stamp = _stamp(copy)
        if self.folder is None or stamp is None:
            return
        line = (json.dumps({"name": copy.name, "stamp": stamp}) + "\n").encode("ascii")  # json escapes the rest
        try:
            fd = _open_manifest(self.folder, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, line)  # one write of a short line: whole, with O_APPEND, even beside another writer
            finally:
                os.close(fd)
        except OSError as exc:
            if not self.warned:
                self.warned = True
                warnings.warn(f"--annotate {self.folder}: the copies written there could not be listed in its "
                              f"{COPIES_MANIFEST} ({exc.strerror or exc}), so a rerun will refuse to replace them.",
                              UserWarning, stacklevel=4)

    def close(self) -> None:
        # One line per copy still there and unchanged: reruns do not grow it, and a name whose file was
        # replaced by the user's own since is forgotten. A manifest that is a link or not a regular file is
        # left as it is (nothing was recorded in it).
        if self.folder is None or _stamp(self.folder / COPIES_MANIFEST) is None:
            return
        live = [json.dumps({"name": name, "stamp": stamp}) + "\n" for name, stamp in
                _recorded_copies(self.folder).items() if _stamp(self.folder / name) == stamp]
        try:
            atomic_write_text(self.folder / COPIES_MANIFEST, "".join(live))
        except OSError:
            pass


def annotation_targets(
    paths: str | os.PathLike | Iterable[str | os.PathLike], annotate: str | os.PathLike | None
) -> dict[Path, Path]:
    """Where the annotated copy of each input goes; checked before any work.

    ``paths`` are the inputs as :func:`expand_inputs` gives them (one path
    alone is one input).

    ``annotate`` with an image or video suffix is one file (one input only,
    of the same kind); anything else is a folder receiving ``<name>`` per
    image and ``<stem>.avi`` per video (``-2``, ``-3`` ... on repeated names).
    An image whose suffix OpenCV cannot write in colour (.pgm, .pbm: see
    :func:`writes_in_colour`) gets ``<stem>.png``; copies keeping their
    input's own name take it first, so ``b.png`` is the copy of ``b.png``
    and ``b-2.png`` that of ``b.pgm`` beside it. A folder's file of a
    copy's name is replaced only when it is a copy that predict wrote there
    before, unchanged since (listed in the folder's
    :data:`COPIES_MANIFEST`, with its size, modification time, inode and
    change time): a rerun of the same command, or of one cut short,
    replaces its own copies.

    Parameters
    ----------
    paths : path or iterable of path
        The inputs.
    annotate : path or None
        The ``--annotate`` file or folder; None: no copies.

    Returns
    -------
    dict of Path to Path
        Input → its annotated copy; empty without ``annotate``.

    Raises
    ------
    ReportError
        If a single target is given for several inputs or, for an image, is a
        video name or one OpenCV cannot write in colour (.pgm, .pbm), or a
        folder already holds a file of a copy's name that is not such a copy.
    OutputPathError
        If the single target of a video is an image name (see
        :func:`~fer_classic.prediction._video.check_video_annotation`).
        (That no target is an input is checked with every other output, by
        :func:`fer_classic._fileio.check_outputs`.)
    """
    if annotate is None:
        return {}
    paths = _input_paths(paths)
    out = Path(annotate)
    suffix = out.suffix.lower()
    if annotates_one_file(out):
        if len(paths) != 1:
            raise ReportError(f"--annotate {out} is one file but {len(paths)} inputs were given; "
                              "give a folder to annotate several.")
        if _is_video(paths[0]):
            check_video_annotation(out, paths[0])  # predict_video's rule and message
        elif suffix not in IMAGE_EXTENSIONS:
            images = ", ".join(sorted(IMAGE_EXTENSIONS))
            raise ReportError(f"--annotate {out}: the input {paths[0]} needs an image ({images}) file name.")
        elif not writes_in_colour(suffix):
            raise ReportError(f"--annotate {out}: OpenCV cannot write an annotated (colour) image as "
                              f"{out.suffix!r}; give a name ending in .png or .jpg.")
        targets = {paths[0]: out}
    else:
        names = {path: _copy_name(path) for path in paths}
        # Copies named as their inputs first: a renamed copy (b.pgm -> b.png) never takes b.png's name.
        order = sorted(range(len(paths)), key=lambda i: names[paths[i]].name != paths[i].name)
        chosen, used = {}, set()
        for i in order:
            name = names[paths[i]]
            candidate, k = out / name, 1
            while candidate in used:
                k += 1
                candidate = out / f"{name.stem}-{k}{name.suffix}"
            used.add(candidate)
            chosen[i] = candidate
        targets = {path: chosen[i] for i, path in enumerate(paths)}
        # The copies' names come from the inputs, not from the user: a file already there (a video's
        # own clip.avi beside clip.mp4) is never replaced unasked, unless it is a copy predict made there
        # and nobody changed since. (A copy onto an input itself is left to check_outputs, which names the input.)
        inputs = {os.path.realpath(path) for path in paths}
        made = _recorded_copies(out)
        there = [str(target) for target in targets.values()
                 if os.path.lexists(target) and os.path.realpath(target) not in inputs
                 and (target.name not in made or _stamp(target) != made[target.name])]
        if there:
            raise ReportError(f"--annotate {out}: {len(there)} file(s) there would be replaced by annotated copies: "
                              f"{list_sources(there)}; move them away or give an empty or new folder (copies an "
                              f"earlier predict wrote there, listed in its {COPIES_MANIFEST}, are replaced).")
    return targets


def _write_image(path: Path, image: np.ndarray) -> None:
    ok, encoded = cv2.imencode(path.suffix, image)
    if not ok:
        raise ReportError(f"OpenCV cannot encode an image as {path.suffix!r} for {path}; use .png or .jpg.")
    atomic_write_bytes(path, encoded.tobytes())


def predict_paths(
    model: FERModel,
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    every: int = 1,
    annotate: str | os.PathLike | None = None,
    timeline: str | os.PathLike | None = None,
    cropper: FaceCropper | None = None,
    cropper_params: Mapping | None = None,
) -> PredictionRun:
    """Predict the expression of every face in image files, folders and videos.

    Parameters
    ----------
    model : FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model``.
    inputs : path or iterable of path
        Image files, video files (by suffix: .avi, .mp4, .mov, .mkv, ...) and
        folders (searched recursively for both). One path (a str, bytes or
        os.PathLike) is one input.
    every : int, default=1
        Videos: analyse every Nth frame.
    annotate : path, optional
        Write copies with boxes and labels drawn: a file name for a single
        input, else a folder (see :func:`annotation_targets`).
    timeline : path, optional
        CSV of the videos' rows: per sampled frame and face, its scores,
        label, track and smoothed label (:func:`write_rows_csv` columns).
    cropper : FaceCropper, optional
        Default: the one the model records (:func:`face_cropper_for`).
    cropper_params : mapping, optional
        Without ``cropper``: parameters changed on the model's cropper
        (``detect``, ``faces``, ``fallback``, ``detector``, ``detector_model``).

    Returns
    -------
    PredictionRun
        Unreadable files, and files on which face detection fails in
        OpenCV, are reported in its rows (``status="error"``) and counted in
        ``failed``, never raised; an image without a face gives a
        ``status="no face"`` row. A video whose annotated copy in an
        ``annotate`` folder cannot be written or read back gets a
        ``status="error"`` row too (listed in ``not_annotated``, not counted
        in ``failed``): the other inputs' results are kept. So does an
        image whose annotated copy cannot be written (its name too long for
        the copy's temporary, a full disk), after its own result rows.

    Raises
    ------
    DatasetError
        If no file is given (empty folders).
    InputPathError
        If an input is the empty string (see :func:`expand_inputs`).
    ReportError
        If ``annotate`` does not fit the inputs.
    OutputPathError
        If ``annotate`` is one video file name and that copy cannot be
        written or read back (see :func:`predict_video`).
    ValueError
        If ``every`` is not an int >= 1.
    """
    every = check_every(every)
    paths, linked = input_files(inputs)
    warn_repeated(inputs, paths, linked)
    targets = annotation_targets(paths, annotate)
    check_timeline(timeline, paths)
    check_every_used(every, paths)
    # Checked before any work: a cropper of other crops failed only at the first batch (after up to 256 crops).
    cropper = check_cropper(model, cropper) if cropper is not None else face_cropper_for(
        model, **dict(cropper_params or {}))
    # The detector's model file is read for every image: no output may replace it.
    folder = annotate is not None and not annotates_one_file(annotate)
    check_outputs({"--timeline": timeline, **annotation_outputs(targets, annotate if folder else None)},
                  inputs={"INPUT": paths, **detector_files(cropper)}, text=("--timeline",), make_parents=True)
    # A video frame without a face is no face crop: frames are never taken whole.
    frame_cropper = clone(cropper).set_params(fallback="none").fit()
    images_out = {str(p): t for p, t in targets.items() if not _is_video(p)}
    record = _CopyRecord(Path(annotate) if folder else None)
    not_annotated: list[Path] = []
    rows: list[dict] = []
    tracks: list[dict] = []
    # Images awaiting one batched classification: base row, (face, crop) pairs, shape, the image when annotated.
    pending: list[tuple[dict, list, tuple, np.ndarray | None]] = []
    failed = 0

    def flush() -> None:
        new = face_rows(model, [(base, pairs, shape) for base, pairs, shape, _ in pending])
        start = 0
        for base, pairs, _, image in pending:
            own = new[start:start + max(1, len(pairs))]  # its faces' rows, or its no-face row
            start += len(own)
            rows.extend(own)
            if image is not None:
                copy = images_out[base["source"]]
                try:
                    _write_image(copy, draw_faces(image, own))
                    record.add(copy)
                except (OSError, ReportError) as exc:
                    # One copy that cannot be written (a name too long for its temporary, a full disk): that
                    # image's error row, after its results; nothing is left there, and the other inputs go on.
                    not_annotated.append(copy)
                    why = f"{exc.strerror} ({copy})" if isinstance(exc, OSError) and exc.strerror else str(exc)
                    rows.append({"source": base["source"], "status": "error",
                                 "error": f"{base['source']}: its annotated copy was not written: {why}"})
        pending.clear()

    degenerate: list[tuple[str, str]] = []
    progress = Progress(len(paths), "predicting files")
    for path in paths:
        progress.update()
        try:
            if _is_video(path):
                flush()
                video = predict_video(model, path, every=every, cropper=frame_cropper, annotate=targets.get(path))
                if path in targets:
                    record.add(targets[path])
                rows += video.rows
                tracks += video.tracks
                continue
            image, source = load_image(path)
            pairs = cropper.crop_faces(image)
        except ImageDecodeError as exc:  # VideoDecodeError too
            flush()  # rows stay in input order
            failed += 1
            rows.append({"source": str(path), "status": "error", "error": str(exc)})
            continue
        except FaceDetectorError as exc:
            # OpenCV failing on one image or frame (a huge or extreme one): that file's row, not the run's end.
            flush()
            failed += 1
            rows.append({"source": str(path), "status": "error", "error": f"{path}: face detection failed: {exc}"})
            continue
        except OutputPathError as exc:
            if not folder or not _is_video(path):  # one input, one copy asked for by name: the command's error
                raise
            # One video's copy in a folder (OpenCV writing a .avi it cannot read back): reported on its row,
            # as an unreadable file is, so the other inputs' results are not lost; nothing was renamed there.
            not_annotated.append(targets[path])
            # Another suffix helps only where the codec failed, not a full disk.
            advice = (f" (Copies in an --annotate folder are named <stem>.avi; to name this one, annotate the video "
                      f"alone: --annotate {path.stem}.mp4.)" if getattr(exc, "suffix_fault", False) else "")
            rows.append({"source": str(path), "status": "error",
                         "error": f"{path}: its annotated copy was not written: {exc}{advice}"})
            continue
        why = stretched(image, pairs, model.image_shape)
        if why:
            degenerate.append((source, why))
        pending.append(({"source": source}, pairs, image.shape, image if source in images_out else None))
        if sum(max(1, len(pairs)) for _, pairs, _, _ in pending) >= _BATCH:
            flush()
    flush()
    progress.close()
    record.close()
    if degenerate:
        _warn_stretched(degenerate, stacklevel=2)
    if timeline is not None:
        timeline = write_timeline(timeline, rows, model.classes)
    errors = {r["source"] for r in rows if r["status"] == "error"}
    annotated = [t for p, t in targets.items() if str(p) not in errors]
    return PredictionRun(rows, tracks, model.classes, len(paths), failed, annotated, timeline, not_annotated)
