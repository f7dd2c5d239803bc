"""Decoding image files into grayscale arrays of a fixed geometry.

Every command decodes files through :func:`decode_image_header`: the input
must be a regular file, its header is checked with Pillow (format by
content, size capped) before OpenCV decodes it, and its EXIF orientation is
applied, so training loaders, ``describe`` and ``predict`` see the same
upright pixels.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import io
import math
import multiprocessing
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .. import _resources
from .._progress import Progress
from .._fileio import stat_regular_file
from ..exceptions import DegenerateImageWarning, ImageDecodeError, ImageSizeError, ImageTooLargeError
from . import _headers
from ._levels import gray_levels

if TYPE_CHECKING:  # data/ is imported by detection/: no import at run time
    from ..detection import FaceCropper

__all__ = [
    "CROP_FACTOR",
    "CROP_POLICIES",
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_SIDE",
    "NO_FACE",
    "CropSpec",
    "FaceSource",
    "as_size",
    "check_allocation",
    "decode_image",
    "decode_image_header",
    "list_sources",
    "one_image",
    "read_image",
    "prefetch_images",
    "read_images",
    "resize_gray",
    "searched",
    "to_gray",
]

#: Suffixes the folder loaders and ``predict`` pick up. The suffix only selects
#: files; the format is then recognised from the content (a GIF named .png is
#: read as a GIF, with its header checked like any other).
IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".gif", ".webp",
    ".ppm", ".pgm", ".pbm", ".pnm", ".jp2", ".ras",
})

#: Largest side of the geometry images are converted to. FER images are 48 px;
#: 1024 px leaves room for any classical feature while a typo such as
#: ``--size 100000`` is refused before terabytes are allocated.
MAX_IMAGE_SIDE = 1024

_READ_FIRST_BYTES = 1 << 20

#: A source side enlarged more than this many times (or an aspect ratio beyond
#: it) is warned about: the result holds almost no face detail.
_STRETCH_WARN = 4


def as_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """Return ``(height, width)`` from an int (square) or a pair, validated.

    Raises
    ------
    ImageSizeError
        If a side is not an int from 4 to :data:`MAX_IMAGE_SIDE`.
    """
    pair = (size, size) if np.isscalar(size) else tuple(size)
    if len(pair) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 4 for v in pair
    ):
        raise ImageSizeError(f"size must be an int >= 4 or a (height, width) pair of them; got {size!r}.")
    if max(pair) > MAX_IMAGE_SIDE:
        raise ImageSizeError(
            f"size {size!r} is above the {MAX_IMAGE_SIDE} px a side fer-classic converts images to "
            "(fer_classic.data.MAX_IMAGE_SIDE); FER2013 faces are 48 px, so choose e.g. 48 or 96."
        )
    return int(pair[0]), int(pair[1])


def check_allocation(n: int, size: tuple[int, int], what: str) -> None:
    """Refuse an ``(n, height, width)`` uint8 array larger than the memory available, before allocating it.

    Raises
    ------
    ImageSizeError
        Naming ``what``, the bytes needed and the bytes available.
    """
    _resources.require_memory(int(n) * size[0] * size[1], f"{what}: {n:,} images of {size[1]}x{size[0]}",
                              "choose a smaller size (--size) or fewer images.", ImageSizeError)


def one_image(image: np.ndarray, where: str = "An image array") -> np.ndarray:
    """``image`` if it is one gray, BGR or BGRA image of some pixels; a single channel as a gray image.

    Raises
    ------
    ImageDecodeError
        Naming ``where`` and the shape, for an empty array, a batch or other
        channel counts (OpenCV's conversions would fail without saying why).
    """
    shape = np.shape(image)
    if not (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))) or 0 in shape:
        raise ImageDecodeError(
            f"{where} has shape {shape}; give one image: gray (height, width) or BGR / BGRA "
            "(height, width, 3 or 4), as cv2.imread returns, not empty (a batch goes to model.predict).")
    return image[..., 0] if len(shape) == 3 and shape[2] == 1 else image


def resize_gray(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Convert to 8-bit grayscale (:func:`gray_levels`) and resize to ``(height, width)``.

    INTER_AREA when shrinking (no aliasing), INTER_LINEAR when enlarging.
    """
    image = gray_levels(one_image(np.asarray(image)))
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    if image.shape[:2] != size:
        shrinking = image.shape[0] * image.shape[1] > size[0] * size[1]
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        image = cv2.resize(image, (size[1], size[0]), interpolation=interpolation)
    return image


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit grayscale of a gray, BGR or BGRA image (any dtype), unresized."""
    image = one_image(np.asarray(image))
    return resize_gray(image, image.shape[:2])


#: ``detect="auto"`` takes an image as a face crop already (no detection) when
#: neither side exceeds this many times the output side.
CROP_FACTOR = 2

#: ``crop`` (``--crop``) -> FaceCropper's ``detect``: ``auto`` searches only images
#: larger than twice the model side (FER2013's crops are unchanged), ``detect``
#: searches every image, ``none`` resizes every whole image (the loaders' old way).
CROP_POLICIES = {"auto": "auto", "detect": True, "none": False}


def searched(shape: tuple[int, ...], detect: bool | str, size: tuple[int, int]) -> bool:
    """Whether a face cropper with ``detect`` searches an image of ``shape`` for a face (output ``size``).

    ``"auto"``: only when a side exceeds :data:`CROP_FACTOR` times the output's.
    An image not searched is cut whole: ``resize_gray(to_gray(image), size)``.
    """
    if isinstance(detect, str):  # "auto"
        return any(side > CROP_FACTOR * out for side, out in zip(shape[:2], size))
    return bool(detect)


@dataclass(frozen=True)
class CropSpec:
    """A training face cropper's parameters, before scikit-learn is imported (see :func:`prefetch_images`).

    ``FaceCropper(output_shape=size, detect=detect, margin=margin, align=align)``,
    every other parameter at its default: the cropper ``fit`` and ``search``
    load images through.
    """

    detect: bool | str = "auto"
    margin: float = 0.0
    align: bool = False

    def cropper(self, size: tuple[int, int]) -> FaceCropper:
        """The fitted FaceCropper these parameters make."""
        from ..detection import FaceCropper

        cropper = FaceCropper(output_shape=size, detect=self.detect, margin=self.margin, align=self.align)
        return cropper.fit()  # validates margin and align now

    def matches(self, cropper: FaceCropper | None, size: tuple[int, int]) -> bool:
        """Whether ``cropper`` cuts images exactly as :meth:`cropper` of ``size`` does."""
        if cropper is None:
            return False
        from sklearn.base import clone

        return clone(cropper).get_params() == self.cropper(size).get_params()


#: Start of the reason ``dataset.skipped`` gives for an image in which the loader's
#: face cropper finds no face.
NO_FACE = "no face"


class FaceSource:
    """Turns a decoded image into the model's input: the whole image resized, or the largest face's crop.

    Every loader converts images through one of these, so that with a
    :class:`~fer_classic.detection.FaceCropper` the training and evaluation
    images are cut exactly as ``predict`` cuts photos.

    Parameters
    ----------
    size : (height, width)
        The model's geometry.
    cropper : FaceCropper or CropSpec, optional
        None: the whole image, converted to gray and resized (the loaders'
        behaviour without a cropper). Else each image the cropper searches
        (see :func:`searched`) goes through ``cropper.crop_faces`` and the
        largest face's crop is kept, None when it has no face; an image it
        does not search is cut whole, as the cropper cuts it. A CropSpec's
        cropper is built by the first image that needs it (a forked worker
        decoding FER2013's crops never imports scikit-learn).

    Raises
    ------
    FaceDetectorError
        If a cropper parameter is invalid or its detector model is missing
        (checked here, before any file is read).
    ImageSizeError
        If the cropper's ``output_shape`` is not ``size``.
    """

    def __init__(self, size: tuple[int, int], cropper: FaceCropper | CropSpec | None = None):
        self.size = size
        self.cropper = cropper
        self._detect = None if cropper is None else cropper.detect
        # The loaders decode in a thread pool and one CascadeClassifier shared by threads fails
        # in detectMultiScale: each thread gets its own fitted clone (built on first use),
        # whose detector holds that thread's classifier (detection.load_cascade).
        self._local = threading.local()
        if cropper is not None and not isinstance(cropper, CropSpec):
            fitted = self._fitted()
            if tuple(fitted.output_shape_) != tuple(size):
                raise ImageSizeError(
                    f"The face cropper makes {fitted.output_shape_[1]}x{fitted.output_shape_[0]} crops but the "
                    f"dataset is loaded at {size[1]}x{size[0]}; pass FaceCropper(output_shape={tuple(size)})."
                )

    def _fitted(self) -> FaceCropper:
        fitted = getattr(self._local, "cropper", None)
        if fitted is None:
            if isinstance(self.cropper, CropSpec):
                fitted = self.cropper.cropper(self.size)
            else:
                from sklearn.base import clone

                fitted = clone(self.cropper).fit()
            self._local.cropper = fitted
        return fitted

    def convert(self, image: np.ndarray) -> tuple[np.ndarray | None, str | None]:
        """``(model input, stretch warning)``; the input is None when the cropper finds no face."""
        if self._detect is None or not searched(image.shape, self._detect, self.size):
            # Cut whole, as FaceCropper cuts an image it does not search (one face box of all of it).
            return resize_gray(to_gray(image), self.size), _stretch(image.shape, self.size)
        found = self._fitted()._crop_faces(image)  # fitted here: no check per image
        if not found:
            return None, None
        face, crop = max(found, key=lambda pair: pair[0].area)
        # A found face is cut at the model's scale; only a taken-whole image can be stretched.
        return crop, (None if face.detected else _stretch(image.shape, self.size))

    def no_face(self, where: str) -> str:
        """The ``dataset.skipped`` reason for an image without a face."""
        return (
            f"{NO_FACE}: {where}: the {self._fitted().detector} face cropper found none; crop the photo to the "
            "face, remove it, or load without face search (crop='none', --crop none)."
        )


def _stretch(shape: tuple[int, ...], size: tuple[int, int]) -> str | None:
    """Why resizing ``shape`` to ``size`` leaves no usable face, or None."""
    height, width = shape[:2]
    ratio = max(height, width) / min(height, width)
    if height * _STRETCH_WARN < size[0] or width * _STRETCH_WARN < size[1] or ratio > _STRETCH_WARN:
        return f"{width}x{height} stretched to {size[1]}x{size[0]}"
    return None


def list_sources(entries: list[str], limit: int = 20) -> str:
    """``a, b, c`` for up to ``limit`` entries, then ``and N more``."""
    text = "; ".join(entries[:limit])
    return text + (f"; and {len(entries) - limit} more" if len(entries) > limit else "")


def _warn_stretched(stretched: list[tuple[str, str]], stacklevel: int) -> None:
    warnings.warn(
        f"{len(stretched)} image(s) are tiny or elongated and were stretched (more than "
        f"{_STRETCH_WARN}x a side), leaving almost no face detail; check them: "
        + list_sources([f"{path} ({what})" for path, what in stretched]),
        DegenerateImageWarning,
        stacklevel=stacklevel + 1,
    )


def read_image(path: str | os.PathLike, size: int | tuple[int, int] = 48) -> np.ndarray:
    """Read one image file as a grayscale uint8 array of shape ``size``, upright.

    The file is only read, never modified. Raises as :func:`decode_image`;
    warns (:class:`~fer_classic.exceptions.DegenerateImageWarning`) when a
    tiny or elongated image is stretched.

    Parameters
    ----------
    path : path
        The image file.
    size : int or (height, width), default=48
        Side of the square result, or ``(height, width)``.

    Returns
    -------
    ndarray of shape (height, width)
        uint8 gray levels.
    """
    size = as_size(size)
    image = decode_image(path)
    stretched = _stretch(image.shape, size)
    if stretched:
        _warn_stretched([(str(path), stretched)], stacklevel=2)
    return resize_gray(image, size)


def _orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8), as Pillow's ``ImageOps.exif_transpose`` does."""
    if orientation in (5, 6, 7, 8):
        image = image.swapaxes(0, 1)  # transpose: the other four are a transpose and a flip
    flips = {2: (1,), 3: (0, 1), 4: (0,), 5: (), 6: (1,), 7: (0, 1), 8: (0,)}.get(orientation, ())
    for axis in flips:
        image = np.flip(image, axis)
    return np.ascontiguousarray(image) if orientation != 1 else image


@functools.cache
def _decoder_orients(fmt: str) -> bool:
    """Whether OpenCV's ``IMREAD_UNCHANGED`` decoding of Pillow format ``fmt`` applies the EXIF orientation itself.

    Its TIFF decoder does (``IMREAD_IGNORE_ORIENTATION`` or not), its JPEG, PNG and WebP decoders do
    not: turning a TIFF again rotated it twice. Found once per format by decoding a 2x1 image saved with
    orientation 6 (turned: 1x2), so that an OpenCV that changes either way still turns images once.
    """
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    try:
        Image.new("L", (2, 1)).save(buffer, format="JPEG" if fmt == "MPO" else fmt, exif=exif)
    except Exception:  # a format Pillow cannot write with EXIF: none of OpenCV's decoders would read it
        return False
    image = cv2.imdecode(np.frombuffer(buffer.getvalue(), dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    return image is not None and image.shape[:2] == (2, 1)


def _decode_gif(content: bytes) -> np.ndarray | None:
    """A GIF's first frame as OpenCV (>= 4.12) decodes it: BGR, or BGRA where it has transparency; None if corrupt."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(content)) as gif:
            alpha = "transparency" in gif.info or gif.mode in ("RGBA", "LA", "PA")
            pixels = np.array(gif.convert("RGBA" if alpha else "RGB"))
    except Exception:  # noqa: BLE001 - Pillow's errors for a corrupt file vary (OSError, SyntaxError, ValueError)
        return None
    return np.ascontiguousarray(pixels[..., [2, 1, 0, 3] if alpha else [2, 1, 0]])


def decode_image_header(path: str | os.PathLike) -> tuple[np.ndarray, _headers.ImageHeader]:
    """Decode one image file, upright, with what its header declares.

    The pixels are OpenCV's (``IMREAD_UNCHANGED``: gray, BGR or BGRA, the
    stored size) in 8-bit levels (:func:`~fer_classic.data.gray_levels`: a
    16-bit or float file is converted by its depth, never stretched), turned
    by the EXIF orientation. The file is only read, never modified.

    Returns
    -------
    image : ndarray
    header : ImageHeader
        Format, stored size and mode from the header (Pillow).

    Raises
    ------
    ImageDecodeError
        If the path is not a regular file (a FIFO, device or folder is never
        opened), the file is empty or unreadable, its content is not an image
        in :data:`~fer_classic.data._headers.READABLE_FORMATS`, it is corrupt,
        or its pixels are no gray levels (NaN, negative or out of range).
    ImageTooLargeError
        If its header declares more than :data:`MAX_IMAGE_PIXELS` pixels
        (checked before decoding).
    """
    n_bytes = stat_regular_file(path, what="Image file", error=ImageDecodeError).st_size  # before Path(""): "."
    path = Path(path)
    if n_bytes == 0:
        raise ImageDecodeError(f"{path}: empty file (0 bytes); replace it or remove it from the dataset.")
    # A small file is read once and its header parsed from memory; a large one has its
    # header checked first, so a huge file is never read whole before being refused.
    header = _headers.read_header(path) if n_bytes > _READ_FIRST_BYTES else None
    try:
        # One read into bytes, which Pillow parses and OpenCV decodes without a copy
        # (np.fromfile and a tobytes() copy took a third of a small face's decoding).
        with open(path, "rb") as file:
            content = file.read()
    except OSError as exc:
        raise ImageDecodeError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    if header is None:
        header = _headers.read_header(content, name=str(path))
    image = cv2.imdecode(np.frombuffer(content, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None and header.format == "GIF":  # OpenCV reads GIFs from 4.12 on
        image = _decode_gif(content)
    if image is None:
        raise ImageDecodeError(
            f"{path}: not a decodable image (a {header.format} header over data OpenCV cannot decode: corrupt, "
            "truncated, or a pixel format it does not read, such as 32-bit integers); re-export it as an 8- or "
            "16-bit PNG or JPEG, or remove it from the dataset."
        )
    if image.shape[0] * image.shape[1] > _headers.MAX_IMAGE_PIXELS:  # a header that lied
        raise ImageTooLargeError(
            f"{path}: decodes to {image.shape[1]}x{image.shape[0]} pixels, more than the "
            f"{_headers.MAX_IMAGE_PIXELS:,} fer-classic decodes; downscale it or remove it."
        )
    # In 8-bit levels here, so that every later step (detection, drawing, the crop) sees one depth.
    image = gray_levels(image, str(path))
    # The orientation applied once: after OpenCV's TIFF decoder, which applies it itself, not again.
    if header.orientation != 1 and not _decoder_orients(header.format):
        image = _orient(image, header.orientation)
    return image, header


def decode_image(path: str | os.PathLike) -> np.ndarray:
    """Decode one image file, upright; see :func:`decode_image_header`.

    Parameters
    ----------
    path : path
        The image file.

    Returns
    -------
    ndarray
        Gray, BGR or BGRA uint8 pixels at the stored size, upright.
    """
    return decode_image_header(path)[0]


# Loads of at least this many files run in forked processes where the system has fork: the
# Python side of each file (Pillow's header check, paths, stat) holds the GIL, so threads
# decoded 8,347 FER2013 files no faster than one thread (2.8 s) and two processes took half that.
_PROCESSES_FROM = 2000
# Whether os.fork warns of a process with threads (Python 3.12+), a warning _start_processes silences.
_FORK_WARNS = sys.version_info >= (3, 12)
# A forked worker's work, ``(paths, source)``: set in each worker by its initializer (_init_worker), from the
# initargs of its own pool, inherited with the fork (nothing is pickled on the way in). Never set in the
# process that loads: a module global there was shared by loads in two threads, whose workers then decoded
# the other load's files (its pixels under this load's labels) or found it cleared.
_FORK_JOB: tuple | None = None
# What this process does while its forked processes decode (see while_decoding).
_WHILE_DECODING: contextvars.ContextVar[Callable[[], object] | None] = contextvars.ContextVar(
    "fer_classic_while_decoding", default=None)


@contextlib.contextmanager
def while_decoding(work: Callable[[], object] | None) -> Iterator[None]:
    """Have this process run ``work`` while forked processes decode the images of a load in the block.

    Otherwise it only waits for them. ``fit`` hands it the first feature
    extraction's one-off costs (importing Numba, loading the compiled HOG
    kernel: half a second), which then overlap the decoding. ``work`` runs
    once, after the processes started (so that no thread of it is forked),
    and only for a load that forks; None runs nothing.
    """
    token = _WHILE_DECODING.set(work)
    try:
        yield
    finally:
        _WHILE_DECODING.reset(token)


def _read_part(paths, source: FaceSource, indices, progress=None, out: np.ndarray | None = None):
    """Decode ``paths[i]`` for ``i`` in ``indices``: (decoded indices, faces, skipped, stretched).

    With ``out``, each face goes to ``out[i]`` as it is decoded and ``faces`` is None
    (no second copy of the images); without, ``faces`` holds them in ``indices`` order.
    """
    done, faces, skipped, stretched = [], [], [], []
    for i in indices:
        try:
            image = decode_image(paths[i])
        except ImageDecodeError as exc:
            skipped.append((str(paths[i]), str(exc)))
            continue
        finally:
            if progress is not None:
                progress.update()
        face, what = source.convert(image)
        if face is None:
            skipped.append((str(paths[i]), source.no_face(str(paths[i]))))
            continue
        if what:
            stretched.append((str(paths[i]), what))
        done.append(i)
        if out is None:
            faces.append(face)
        else:
            out[i] = face
    if out is not None:
        faces = None
    else:
        faces = np.stack(faces) if faces else np.empty((0, *source.size), dtype=np.uint8)
    return np.asarray(done, dtype=np.intp), faces, skipped, stretched


def _forked_part(start: int, stop: int):
    paths, source = _FORK_JOB
    return _read_part(paths, source, range(start, stop))


def _init_worker(nice: int, job: tuple | None = None) -> None:
    global _FORK_JOB
    _FORK_JOB = job
    # The command's SIGTERM handler (cli.run: raise SystemExit to unwind) came with the fork. In a worker it
    # raised inside a part, which the pool returned as that part's result while the worker went on: a
    # SIGTERM to the process group (Slurm, kill), or the pool's own terminate() of the others after one was
    # killed for memory, no longer ended the workers. A worker has nothing to unwind: it dies at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if nice:
        os.nice(nice)


def _start_processes(paths, source: FaceSource, workers: int, nice: int = 0):
    """Fork ``workers`` processes decoding ``paths`` in parts: ``(pool, futures, bounds)``.

    ``nice``: added to the workers' niceness (os.nice), so that they take only
    the CPU this process leaves.
    """
    step = math.ceil(len(paths) / (workers * 8))  # several parts per worker: progress, and balance
    bounds = [(i, min(i + step, len(paths))) for i in range(0, len(paths), step)]
    # The job travels with this pool's initargs: a forked worker inherits them (not pickled).
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_init_worker, initargs=(nice, (paths, source)))
    try:
        # Python 3.12+ warns at each fork of a process with threads (BLAS pools, say); the
        # workers fork at the first submit. They only decode files; the one lock of this package
        # they take (read_header's, data._headers) is made anew in each child (os.register_at_fork),
        # and the fork waits for a header read in progress. So the warning (a line per worker on the
        # user's screen) is noise here.
        # The filter is process-wide (not thread-safe before Python 3.14): set only where os.fork warns.
        with warnings.catch_warnings() if _FORK_WARNS else contextlib.nullcontext():
            if _FORK_WARNS:
                warnings.filterwarnings("ignore", message=r".*multi-threaded, use of fork\(\)",
                                        category=DeprecationWarning)
            futures = [pool.submit(_forked_part, a, b) for a, b in bounds]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return pool, futures, bounds


def _collect(pool: ProcessPoolExecutor, futures, bounds, progress):
    """The parts of :func:`_start_processes`, in order, this process doing its ``while_decoding`` work meanwhile."""
    try:
        work = _WHILE_DECODING.get()
        if work is not None:
            _WHILE_DECODING.set(None)  # once per block
            work()
        parts = []
        for future, (a, b) in zip(futures, bounds):
            parts.append(future.result())
            progress.update(b - a)
    except BaseException:
        # Ctrl-C, SIGTERM, a broken pool: the parts not started are dropped and the command unwinds at
        # once, not after every queued part (``with pool`` waited for them all).
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return parts


# Decoding started ahead of its load (prefetch_images): owner (the thread that started it), paths, size,
# CropSpec, pool, futures, bounds. One at a time, under _PREFETCH_LOCK; only its owner's loads take it over
# or cancel it (another thread's load of other files used to cancel it).
_PREFETCH: dict | None = None
_PREFETCH_LOCK = threading.Lock()
_PREFETCH_NICE = 10


def prefetch_images(paths: list[Path], size: tuple[int, int], crop: CropSpec | None,
                    n_jobs: int | None = None) -> bool:
    """Start decoding ``paths`` in forked processes and return at once; whether it started.

    :func:`read_images` of the same paths, size and an equal cropper (``crop``
    as :meth:`CropSpec.matches` says, or None for none) in the same thread
    takes the decoded images over; any other call of that thread cancels them.
    ``fit`` starts its folder this way before importing scikit-learn, so that
    the import (a second) overlaps the decoding. Only where a load would fork
    (``n_jobs`` workers above one, :data:`_PROCESSES_FROM` paths or more, a
    system with fork), and while no other thread's decoding started ahead is
    pending (one at a time).
    """
    global _PREFETCH
    cancel_prefetch()
    workers = _resources.workers(n_jobs)
    if workers == 1 or len(paths) < _PROCESSES_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if _PREFETCH is not None:  # another thread's (ours was cancelled); checked again below, under the lock
        return False
    # Niced: the imports this process runs meanwhile (its critical path) keep a whole core; on
    # two cores, equal shares made them a third slower and the command no faster.
    pool, futures, bounds = _start_processes(paths, FaceSource(size, crop), workers, nice=_PREFETCH_NICE)
    with _PREFETCH_LOCK:
        started = _PREFETCH is None
        if started:
            _PREFETCH = {"owner": threading.get_ident(), "paths": list(paths), "size": tuple(size), "crop": crop,
                         "pool": pool, "futures": futures, "bounds": bounds}
    if not started:
        pool.shutdown(wait=False, cancel_futures=True)
    return started


def _pop_prefetch() -> dict | None:
    """This thread's decoding started ahead, taken out of :data:`_PREFETCH`; None if there is none."""
    global _PREFETCH
    with _PREFETCH_LOCK:
        job = _PREFETCH
        if job is None or job["owner"] != threading.get_ident():
            return None
        _PREFETCH = None
        return job


def cancel_prefetch() -> None:
    """Drop the decoding :func:`prefetch_images` started in this thread, if no load took it over."""
    job = _pop_prefetch()
    if job is not None:
        job["pool"].shutdown(wait=False, cancel_futures=True)


def _take_prefetch(paths, size, cropper):
    """``(pool, futures, bounds)`` of this thread's prefetch of exactly this load, else None (and it cancelled)."""
    job = _pop_prefetch()
    if job is None:
        return None
    same = job["size"] == tuple(size) and job["paths"] == list(paths) and (
        cropper is None if job["crop"] is None else job["crop"].matches(cropper, size))
    if not same:
        job["pool"].shutdown(wait=False, cancel_futures=True)
        return None
    return job["pool"], job["futures"], job["bounds"]


def _read_in_processes(paths, source: FaceSource, workers: int, progress):
    return _collect(*_start_processes(paths, source, workers), progress)


def read_images(
    paths: list[Path], size: tuple[int, int], n_jobs: int | None = None, cropper: FaceCropper | None = None
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]], list[tuple[str, str]]]:
    """Decode many files into one preallocated array.

    Returns
    -------
    images : ndarray of shape (n_ok, height, width)
    ok : ndarray of bool, shape (len(paths),)
        Which paths were decoded.
    skipped : list of (path, reason)
    stretched : list of (path, what)
        Decoded images too small or elongated for ``size`` (see :func:`read_image`).

    Other Parameters
    ----------------
    cropper : FaceCropper, optional
        Keep the largest face's crop of each image (see :class:`FaceSource`);
        images without a face are skipped with a reason starting ``"no face"``.

    Raises
    ------
    ImageSizeError
        If the output array would not fit in memory (checked before allocating),
        or the cropper's ``output_shape`` is not ``size``.
    FaceDetectorError
        If a cropper parameter is invalid.
    """
    source = FaceSource(size, cropper)
    check_allocation(len(paths), size, f"Loading {len(paths):,} image files")
    out = np.empty((len(paths), *size), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    skipped: list[tuple[str, str]] = []
    stretched: list[tuple[str, str]] = []
    progress = Progress(len(paths), "loading images")
    workers = _resources.workers(n_jobs)
    prefetched = _take_prefetch(paths, size, cropper)
    if prefetched is not None:
        parts = _collect(*prefetched, progress)
    elif workers == 1 or len(paths) < 64:
        parts = [_read_part(paths, source, range(len(paths)), progress, out)]
    elif len(paths) >= _PROCESSES_FROM and "fork" in multiprocessing.get_all_start_methods():
        parts = _read_in_processes(paths, source, workers, progress)
    else:
        # OpenCV releases the GIL while decoding; Pillow's header reads take turns.
        chunk = max(1, min(256, math.ceil(len(paths) / workers)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(lambda r: _read_part(paths, source, r, progress, out),
                                  [range(i, min(i + chunk, len(paths))) for i in range(0, len(paths), chunk)]))
    for indices, faces, part_skipped, part_stretched in parts:
        if faces is not None:  # decoded in another process
            out[indices] = faces
        ok[indices] = True
        skipped += part_skipped
        stretched += part_stretched
    progress.close()
    skipped.sort()
    stretched.sort()
    return (out if ok.all() else out[ok]), ok, skipped, stretched
