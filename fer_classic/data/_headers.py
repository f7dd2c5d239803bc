"""Image sizes read from file headers, so huge images are refused before decoding."""

from __future__ import annotations

import struct

__all__ = ["MAX_IMAGE_PIXELS", "declared_size"]

#: Largest image (height x width) fer-classic decodes: 100 megapixels, above any
#: phone camera's output. A header declaring more is refused before decoding,
#: since decoding it would allocate gigabytes (a decompression bomb).
MAX_IMAGE_PIXELS = 100_000_000

_PNG = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD9)})


def _png(data: bytes) -> tuple[int, int] | None:
    if len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return height, width
    return None


def _bmp(data: bytes) -> tuple[int, int] | None:
    if len(data) < 26:
        return None
    (dib,) = struct.unpack("<I", data[14:18])
    if dib == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        width, height = struct.unpack("<HH", data[18:22])
    else:
        width, height = struct.unpack("<ii", data[18:26])
    return abs(height), abs(width)


def _jpeg(data: memoryview) -> tuple[int, int] | None:
    i = 2
    # Walk the marker segments up to the frame header; entropy-coded data only
    # follows the frame header, so this never scans image data.
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _JPEG_NO_LENGTH:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return height, width
        if length < 2:
            return None
        i += 2 + length
    return None


def _tiff(data: memoryview) -> tuple[int, int] | None:
    order = "<" if bytes(data[:2]) == b"II" else ">"
    if len(data) < 8 or struct.unpack(order + "H", data[2:4])[0] != 42:
        return None  # BigTIFF and others: left to the decoder's own limit
    (offset,) = struct.unpack(order + "I", data[4:8])
    if offset + 2 > len(data):
        return None
    (count,) = struct.unpack(order + "H", data[offset:offset + 2])
    sizes = {}
    for entry in range(min(count, 512)):
        start = offset + 2 + 12 * entry
        if start + 12 > len(data):
            break
        tag, kind = struct.unpack(order + "HH", data[start:start + 4])
        if tag in (256, 257):
            fmt = "H" if kind == 3 else "I"
            (sizes[tag],) = struct.unpack(order + fmt, data[start + 8:start + 8 + struct.calcsize(fmt)])
    if 256 in sizes and 257 in sizes:
        return sizes[257], sizes[256]
    return None


def declared_size(data: bytes | memoryview) -> tuple[int, int] | None:
    """``(height, width)`` a PNG, JPEG, BMP or TIFF header declares; None if unknown.

    Only the header is parsed (a few dozen bytes for PNG and BMP, the marker
    segments before the frame header for JPEG, the first directory for TIFF),
    without copying the file.
    """
    view = memoryview(data).cast("B")
    head = bytes(view[:65536])
    try:
        if head.startswith(_PNG):
            return _png(head)
        if head.startswith(b"\xff\xd8"):
            return _jpeg(view)  # EXIF segments may be long: walk the whole file's markers
        if head.startswith(b"BM"):
            return _bmp(head)
        if head[:2] in (b"II", b"MM"):
            return _tiff(view)  # the first directory may follow the image data
    except struct.error:  # a header cut short: the decoder will reject the file
        return None
    return None
