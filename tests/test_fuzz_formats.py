"""Property-based tests: every image format the loaders accept, and hostile CSV lines.

Images: GIF, WebP, PGM/PPM, JPEG 2000, Sun raster, PNG, JPEG, BMP and TIFF
files, whole, truncated, with flipped bytes or with a header that lies
about the size, under any suffix. The decoder returns an upright grayscale
array or raises ImageDecodeError, and OpenCV never decodes more pixels
than the cap allows.

CSV: over-long lines, unbalanced quotes and huge numbers give a dataset
or a DatasetFormatError naming where the bad record starts.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import os
import struct

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fer_classic.data import _headers, _images, load_fer2013_csv, read_image
from fer_classic.exceptions import DatasetFormatError, FerClassicError, ImageDecodeError

pytestmark = [
    pytest.mark.filterwarnings("ignore::fer_classic.exceptions.DegenerateImageWarning"),
]

FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

CAP = 64 * 64  # the pixel cap under test: files of up to 96 x 96 are generated
_counter = itertools.count()


def _encode(fmt: str, image: np.ndarray) -> bytes:
    if fmt in ("GIF", "WEBP", "PPM", "JPEG2000", "TIFF", "PNG", "BMP"):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        return buffer.getvalue()
    ext = {"JPEG": ".jpg", "SUN": ".ras"}[fmt]
    return cv2.imencode(ext, image)[1].tobytes()


def _lie(data: bytes, fmt: str, width: int, height: int) -> bytes:
    """The same file with the size fields of its main header rewritten."""
    out = bytearray(data)
    if fmt == "GIF":
        out[6:10] = struct.pack("<HH", width, height)
    elif fmt == "PNG":
        out[16:24] = struct.pack(">II", width, height)  # the CRC no longer matches
    elif fmt == "BMP":
        out[18:26] = struct.pack("<ii", width, height)
    elif fmt == "PPM":
        head, _, rest = bytes(out).partition(b"\n")
        _, _, rest = rest.partition(b"\n")
        return head + f"\n{width} {height}\n".encode() + rest
    elif fmt == "JPEG2000" and b"ihdr" in out:
        i = out.index(b"ihdr") + 4
        out[i:i + 8] = struct.pack(">II", height, width)
    elif fmt == "JPEG" and b"\xff\xc0" in out:
        i = out.index(b"\xff\xc0") + 5
        out[i:i + 4] = struct.pack(">HH", height, width)
    return bytes(out)


@contextlib.contextmanager
def _watch_decoder():
    """Cap MAX_IMAGE_PIXELS at CAP and record the largest image OpenCV decodes."""
    seen = [0]
    real = cv2.imdecode

    def imdecode(data, flags):
        image = real(data, flags)
        if image is not None:
            seen[0] = max(seen[0], image.shape[0] * image.shape[1])
        return image

    patch = pytest.MonkeyPatch()
    patch.setattr(_headers, "MAX_IMAGE_PIXELS", CAP)
    patch.setattr(_images.cv2, "imdecode", imdecode)
    try:
        yield seen
    finally:
        patch.undo()


FORMATS = ["GIF", "WEBP", "PPM", "JPEG2000", "SUN", "PNG", "JPEG", "BMP", "TIFF"]


@st.composite
def _image_files(draw):
    fmt = draw(st.sampled_from(FORMATS))
    height, width = draw(st.integers(33, 96)), draw(st.integers(33, 96))  # JPEG 2000 wants > 32
    seed = draw(st.integers(0, 2**16))
    image = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    data = _encode(fmt, image)
    damage = draw(st.sampled_from(["none", "truncate", "flip", "lie"]))
    if damage == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "flip":
        position = draw(st.integers(0, len(data) - 1))
        data = data[:position] + bytes([data[position] ^ draw(st.integers(1, 255))]) + data[position + 1:]
    elif damage == "lie":
        data = _lie(data, fmt, draw(st.integers(1, 40_000)), draw(st.integers(1, 40_000)))
    suffix = draw(st.sampled_from([".png", ".jpg", ".gif", ".webp", ".pgm", ".jp2", ".ras", ".bmp", ".tif"]))
    return data, suffix


@FUZZ
@given(case=_image_files())
def test_any_accepted_format_decodes_within_the_cap_or_fails_cleanly(tmp_path, case):
    data, suffix = case
    path = tmp_path / f"case{next(_counter)}{suffix}"
    path.write_bytes(data)
    with _watch_decoder() as seen:
        try:
            image = read_image(path, 48)
        except ImageDecodeError:
            image = None
    assert seen[0] <= CAP
    if image is not None:
        assert image.shape == (48, 48) and image.dtype == np.uint8
    assert path.read_bytes() == data


@FUZZ
@given(fmt=st.sampled_from(FORMATS), width=st.integers(65, 30_000), height=st.integers(65, 30_000))
def test_declared_size_above_the_cap_is_never_decoded(tmp_path, fmt, width, height):
    data = _lie(_encode(fmt, np.zeros((40, 40), np.uint8)), fmt, width, height)
    path = tmp_path / f"case{next(_counter)}.png"
    path.write_bytes(data)
    with _watch_decoder() as seen:
        with contextlib.suppress(ImageDecodeError):
            read_image(path, 48)
    assert seen[0] <= CAP


# --- CSV lines ----------------------------------------------------------------

_HEADER = "emotion,pixels,Usage\n"
_GOOD = "0," + " ".join(["7"] * 16) + ",Training\n"


@st.composite
def _bad_line(draw):
    kind = draw(st.sampled_from(["long", "quote", "big", "ok"]))
    if kind == "long":
        return kind, "0," + "1 " * draw(st.integers(600, 20_000)) + ",Training\n"
    if kind == "quote":
        where = draw(st.sampled_from(["start", "pixels", "usage"]))
        return kind, {"start": '"0,', "pixels": '0,"', "usage": "0,"}[where] + " ".join(["7"] * 16) + (
            ',"Training\n' if where == "usage" else ",Training\n")
    if kind == "big":
        value = draw(st.integers(256, 10**30))
        position = draw(st.integers(0, 15))
        tokens = ["7"] * 16
        tokens[position] = str(value)
        return kind, "0," + " ".join(tokens) + ",Training\n"
    return kind, _GOOD


@FUZZ
@given(before=st.integers(0, 8), after=st.integers(0, 8), bad=_bad_line(), gz=st.booleans())
def test_csv_bad_line_is_reported_where_it_starts(tmp_path, before, after, bad, gz):
    kind, line = bad
    if kind == "long":
        before = max(before, 1)  # as the first row a long line is only a big image
    text = _HEADER + _GOOD * before + line + _GOOD * after
    path = tmp_path / f"case{next(_counter)}.csv"
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(text.encode(), compresslevel=1))
    else:
        path.write_text(text)
    bad_line = before + 2  # the header is line 1
    try:
        data = load_fer2013_csv(path)
    except DatasetFormatError as exc:
        assert kind != "ok"
        assert f"line {bad_line}" in str(exc) or f"row {bad_line}" in str(exc)
        if kind == "big":
            value = line.split(",")[1].split()[[len(t) > 1 for t in line.split(",")[1].split()].index(True)]
            assert f"'{value[:21]}" in str(exc)  # longer values are cut short in the message
        return
    except FerClassicError:
        assert kind == "quote"
        return
    assert kind in ("ok", "quote")  # a quote closed at the line's end still parses
    assert len(data) == before + after + 1
