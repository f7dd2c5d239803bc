"""Image headers read with Pillow, so huge or unsupported images are refused before decoding.

:func:`read_header` is the one check every loader, ``describe`` and
``predict`` run before a decoder sees a file: the format is recognised from
the file's content (never its suffix), the declared size is capped, and the
EXIF orientation is read so that every command turns photos upright alike.
"""

from __future__ import annotations

import functools
import io
import os
import re
import threading
import warnings
from dataclasses import dataclass

from PIL import Image

from ..exceptions import ImageDecodeError, ImageTooLargeError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "READABLE_FORMATS",
    "ImageHeader",
    "read_header",
]

#: Largest image (height x width) fer-classic decodes: 100 megapixels, above any
#: phone camera's output. A header declaring more is refused before decoding,
#: since decoding it would allocate gigabytes (a decompression bomb).
MAX_IMAGE_PIXELS = 100_000_000

#: Formats (Pillow's names) whose header Pillow parses and that fer-classic
#: decodes; anything else is refused before decoding. MPO is the multi-picture
#: JPEG of many phone cameras, PPM covers PBM/PGM/PPM/PNM/PFM, SUN is Sun raster.
READABLE_FORMATS: tuple[str, ...] = (
    "PNG", "JPEG", "MPO", "BMP", "DIB", "TIFF", "GIF", "WEBP", "PPM", "JPEG2000", "SUN",
)

_ORIENTATION = 0x0112  # EXIF/TIFF tag 274
_WARNINGS_LOCK = threading.Lock()


def _before_fork() -> None:
    # A forked child (the processes of a large load, which read headers) copies this lock as it is: taken by
    # another thread at that moment, it stayed taken in the child, whose first read_header waited forever.
    # The fork waits for a header read in progress (a short one), so the child also gets the warnings
    # filters of no catch_warnings half-way; the child takes a new lock (the pattern of logging's locks).
    _WARNINGS_LOCK.acquire()


def _after_fork_in_parent() -> None:
    _WARNINGS_LOCK.release()


def _after_fork_in_child() -> None:
    global _WARNINGS_LOCK
    _WARNINGS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


@functools.cache
def _open_formats() -> tuple[str, ...]:
    # The plugins Image.open may try: MPO files are opened by the JPEG plugin.
    Image.init()
    return tuple(name for name in READABLE_FORMATS if name in Image.OPEN)


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header declares.

    Attributes
    ----------
    format : str
        Pillow's format name (one of :data:`READABLE_FORMATS`).
    height, width : int
        Stored size, before the EXIF orientation is applied.
    mode : str
        Pillow's mode (``L`` gray, ``RGB``, ``RGBA``, ``I;16``...).
    orientation : int
        EXIF orientation 1..8 (1: stored upright).
    """

    format: str
    height: int
    width: int
    mode: str
    orientation: int = 1

    @property
    def upright_size(self) -> tuple[int, int]:
        """``(width, height)`` once the orientation is applied: swapped by the quarter turns (5..8)."""
        return (self.height, self.width) if self.orientation in (5, 6, 7, 8) else (self.width, self.height)


def _orientation(image: Image.Image) -> int:
    # Only the header: Image.getexif() would decode a whole PNG to look for a late eXIf chunk.
    value = None
    if hasattr(image, "tag_v2"):  # TIFF keeps the tag in its first directory
        value = image.tag_v2.get(_ORIENTATION)
    elif image.info.get("exif"):
        exif = Image.Exif()
        try:
            exif.load(image.info["exif"])
        except Exception:  # a damaged EXIF block only loses the orientation, as in other viewers
            return 1
        value = exif.get(_ORIENTATION)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _starts_as_tiff(fp) -> bool:
    """Whether the file or buffer ``fp`` begins with a TIFF signature (either byte order, classic or BigTIFF)."""
    try:
        if isinstance(fp, io.BytesIO):
            start = fp.getvalue()[:4]
        else:
            with open(fp, "rb") as file:
                start = file.read(4)
    except OSError:
        return False
    return start in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")


def read_header(source: str | os.PathLike | bytes | memoryview, name: str | None = None) -> ImageHeader:
    """Read an image's header (never its pixels) and check it can be decoded safely.

    Parameters
    ----------
    source : path or bytes
        The file, or its content.
    name : str, optional
        How messages name the file (default: the path).

    Returns
    -------
    ImageHeader

    Raises
    ------
    ImageDecodeError
        If the content is not an image in one of :data:`READABLE_FORMATS`
        (whatever its suffix), or its header is damaged.
    ImageTooLargeError
        If the header declares more than :data:`MAX_IMAGE_PIXELS` pixels.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        fp, label = io.BytesIO(source), name or "<bytes>"
    else:
        fp, label = source, name or os.fspath(source)
    limit = MAX_IMAGE_PIXELS
    try:
        # Pillow's own bomb check warns above Image.MAX_IMAGE_PIXELS (89 MP) and raises at
        # twice that; our cap (checked below) decides, so only its error is kept. Its other
        # warnings ("Corrupt EXIF data") are noise here: a damaged file fails to decode.
        # catch_warnings swaps process-wide state, so decoding threads take turns (a header
        # read is short; the decoding itself runs outside the lock).
        with _WARNINGS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(fp, formats=_open_formats()) as image:
                width, height = image.size
                header = ImageHeader(image.format or "?", int(height), int(width), image.mode, _orientation(image))
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow's message holds the declared count
        declared = f"{int(found[1]):,} pixels" if found else "more pixels"
        raise ImageTooLargeError(
            f"{label}: its header declares {declared}, more than the {limit:,} fer-classic decodes "
            "(fer_classic.data.MAX_IMAGE_PIXELS); downscale the image or remove it from the dataset."
        ) from None
    except Image.UnidentifiedImageError:
        if _starts_as_tiff(fp):  # Pillow identifies TIFF by content, so its samples are what it cannot read
            raise ImageDecodeError(
                f"{label}: a TIFF whose samples (such as 32-bit float colour) fer-classic does not read; "
                "re-export it as an 8- or 16-bit PNG or TIFF, or remove it from the dataset."
            ) from None
        raise ImageDecodeError(
            f"{label}: not a decodable image: its content is not one of the formats fer-classic reads "
            f"({', '.join(READABLE_FORMATS)}; the content decides, not the suffix), or its header is "
            "damaged; re-export it as PNG or JPEG "
            "or remove it from the dataset."
        ) from None
    except OSError as exc:
        raise ImageDecodeError(f"{label}: cannot be read ({exc.strerror or exc}).") from None
    except Exception as exc:  # Pillow's plugins raise many types on damaged headers
        raise ImageDecodeError(
            f"{label}: damaged {type(exc).__name__} in its header ({exc}); re-export it or remove it."
        ) from None
    if header.height * header.width > limit:
        raise ImageTooLargeError(
            f"{label}: its header declares {header.width}x{header.height} pixels, more than the "
            f"{limit:,} fer-classic decodes (fer_classic.data.MAX_IMAGE_PIXELS); "
            "downscale the image or remove it from the dataset."
        )
    if header.height < 1 or header.width < 1:
        raise ImageDecodeError(f"{label}: its header declares an empty {header.width}x{header.height} image.")
    return header
