"""Bounded resources and hostile files: huge headers, symlink loops, unreadable files, memory."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from fer_classic import _resources
from fer_classic.data import MAX_IMAGE_PIXELS, load_dataset, load_folder, read_header, read_image
from fer_classic.data import _folder, _images
from fer_classic.exceptions import ImageDecodeError, ImageSizeError, ImageTooLargeError, SkippedFilesWarning
from fer_classic.prediction._image import load_image
from fer_classic.prediction import expand_inputs

from conftest import tree_digest, write_folder_dataset

HUGE = 60_000


def _png(width, height):
    chunk = b"IHDR" + struct.pack(">II5B", width, height, 8, 0, 0, 0, 0)
    idat = b"IDAT" + zlib.compress(b"\0" * 64)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat)))


def _jpeg(width, height):
    # A real baseline JPEG whose frame header (SOF0) declares another size: every Pillow
    # version reads it (a hand-made header without tables is refused by some).
    data = bytearray(cv2.imencode(".jpg", np.zeros((8, 8), np.uint8))[1].tobytes())
    i = data.index(b"\xff\xc0") + 5
    data[i:i + 4] = struct.pack(">HH", height, width)
    return bytes(data)


def _bmp(width, height):
    return b"BM" + struct.pack("<IHHI", 0, 0, 0, 54) + struct.pack("<IiiHH", 40, width, height, 1, 8) + b"\0" * 64


def _tiff(width, height):
    # A baseline gray TIFF directory: size, 8 bits, BlackIsZero, one strip.
    entries = (struct.pack("<HHII", 256, 4, 1, width) + struct.pack("<HHII", 257, 4, 1, height)
               + struct.pack("<HHIHH", 258, 3, 1, 8, 0) + struct.pack("<HHIHH", 262, 3, 1, 1, 0)
               + struct.pack("<HHII", 273, 4, 1, 8) + struct.pack("<HHII", 279, 4, 1, 64))
    return b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 6) + entries + b"\0\0\0\0" + b"\0" * 64


def _gif(width, height):
    # 35 bytes: a 2-colour palette and one empty frame covering the declared screen.
    return (b"GIF89a" + struct.pack("<HH", width, height) + b"\x80\x00\x00" + b"\0\0\0\xff\xff\xff"
            + b"\x2c" + struct.pack("<HHHH", 0, 0, width, height) + b"\x00\x02\x02\x44\x01\x00\x3b")


def _pgm(width, height):
    return f"P5\n{width} {height}\n255\n".encode() + b"\0" * 64


def _webp(width, height):
    # A real lossless WebP whose VP8L header is rewritten (14-bit sides, so at most 16384).
    data = bytearray(cv2.imencode(".webp", np.zeros((8, 8), np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes())
    i = data.index(b"VP8L") + 9
    bits = int.from_bytes(data[i:i + 4], "little") & ~((1 << 28) - 1)
    data[i:i + 4] = (bits | (min(width, 16384) - 1) | (min(height, 16384) - 1) << 14).to_bytes(4, "little")
    return bytes(data)


def _jp2(width, height):
    # A real JPEG 2000 file whose 'ihdr' box declares another size.
    data = bytearray(cv2.imencode(".jp2", np.zeros((40, 40), np.uint8))[1].tobytes())
    i = data.index(b"ihdr") + 4
    data[i:i + 8] = struct.pack(">II", height, width)
    return bytes(data)


HEADERS = {"png": _png, "jpg": _jpeg, "bmp": _bmp, "tif": _tiff, "gif": _gif, "pgm": _pgm, "webp": _webp,
           "jp2": _jp2}


@pytest.mark.parametrize("kind", sorted(HEADERS))
def test_header_reader_reads_the_declared_size(kind):
    header = read_header(HEADERS[kind](5000, 123))
    assert (header.height, header.width) == (123, 5000)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tif", ".webp", ".pgm", ".jp2", ".ras"])
@pytest.mark.parametrize("shape", [(48, 48), (41, 77)])
def test_header_reader_agrees_with_opencv(ext, shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    header = read_header(cv2.imencode(ext, image)[1].tobytes())
    assert (header.height, header.width) == shape


def _must_not_decode(*args, **kwargs):
    raise AssertionError("cv2.imdecode was called on a bomb")


@pytest.mark.parametrize("kind", sorted(HEADERS))
@pytest.mark.parametrize("suffix", ["same", ".png"])  # the content decides, not the name
def test_huge_declared_image_is_refused_before_decoding(tmp_path, monkeypatch, kind, suffix):
    path = tmp_path / f"bomb.{kind if suffix == 'same' else suffix[1:]}"
    path.write_bytes(HEADERS[kind](HUGE, HUGE))
    monkeypatch.setattr(_images.cv2, "imdecode", _must_not_decode)
    with pytest.raises(ImageTooLargeError, match=f"declares .* pixels, more than the {MAX_IMAGE_PIXELS:,}"):
        read_image(path)


def test_size_between_pillows_warning_and_our_cap_is_named_without_pillow_warning(recwarn):
    with pytest.raises(ImageTooLargeError, match="12000x9000 pixels, more than the 100,000,000"):
        read_header(_gif(12000, 9000))
    assert read_header(_gif(10000, 9500)).width == 10000  # 95 MP: above Pillow's 89 MP warning
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_gif_bomb_is_refused_within_a_megabyte(tmp_path):
    path = tmp_path / "bomb.gif"
    path.write_bytes(_gif(30000, 30000))
    assert path.stat().st_size == 35
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLargeError):
            load_image(path)  # predict's decoder
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_gif_bomb_process_stays_small(tmp_path):
    # The figure that matters is the process's peak RSS (decoders allocate outside Python);
    # it is compared with the peak after the imports, which other modules' imports change.
    path = tmp_path / "bomb.png"
    path.write_bytes(_gif(30000, 30000))
    code = ("import resource, sys\nfrom fer_classic.data import read_image\n"
            "from fer_classic.exceptions import ImageTooLargeError\n"
            "rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\nbefore = rss()\n"
            "try:\n    read_image(sys.argv[1])\nexcept ImageTooLargeError:\n    print(before, rss())")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    before, after = map(int, out.stdout.split())
    assert after - before < 20 * 1024, out.stdout  # KiB; decoding 30000x30000 would take 2.7 GB


@pytest.mark.parametrize("content", [b"\x00\x00\x01\x00" + b"\0" * 60, b"8BPS" + b"\0" * 60])  # ICO, PSD
def test_unsupported_format_is_refused_by_content(tmp_path, monkeypatch, content):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    monkeypatch.setattr(_images.cv2, "imdecode", _must_not_decode)
    with pytest.raises(ImageDecodeError, match="not one of the formats fer-classic reads"):
        read_image(path)


@pytest.mark.parametrize("as_bytes", [False, True], ids=["file", "bytes"])
def test_a_tiff_of_samples_pillow_cannot_read_is_named_a_tiff(tmp_path, as_bytes):
    path = tmp_path / "float.tif"  # was: "not one of the formats fer-classic reads (... TIFF ...)"
    cv2.imwrite(str(path), np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ImageDecodeError, match=r"float.tif: a TIFF whose samples .* fer-classic does not read"):
        read_header(path.read_bytes() if as_bytes else path, name=str(path))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_is_refused_by_predict_without_blocking(tmp_path):
    path = tmp_path / "face.png"
    os.mkfifo(path)  # opening it would block until a writer appears
    with pytest.raises(ImageDecodeError, match="not a regular file .*FIFO"):
        load_image(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_in_a_class_folder_is_skipped_and_named(tmp_path, tiny_faces):
    root = write_folder_dataset(tmp_path / "faces", tiny_faces)
    fifo = root / "train" / "happy" / "pipe.png"
    os.mkfifo(fifo)
    with pytest.warns(SkippedFilesWarning, match="pipe.png"):
        dataset = load_folder(root)
    assert [path for path, _ in dataset.skipped] == [str(fifo)]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_is_refused(tmp_path):
    with pytest.raises(ImageDecodeError, match="is not a regular file .*character device"):
        read_image("/dev/zero")


@pytest.mark.parametrize("size", [100_000, (48, 1025)])
def test_absurd_size_is_refused_before_reading(folder_dataset, monkeypatch, size):
    monkeypatch.setattr(_folder, "read_images", _must_not_decode)
    with pytest.raises(ImageSizeError, match="above the 1024 px a side"):
        load_folder(folder_dataset, size=size)


def test_absurd_size_is_refused_for_the_generated_dataset():
    with pytest.raises(ImageSizeError, match="size 100000 is above the 1024 px"):
        load_dataset(None, size=100_000)


def test_output_larger_than_memory_is_refused_before_allocating(folder_dataset, monkeypatch):
    monkeypatch.setattr(_resources, "available_memory", lambda: 10_000)
    monkeypatch.setattr(_images.cv2, "imdecode", _must_not_decode)
    with pytest.raises(ImageSizeError, match=r"needs .* GiB, more than the .* GiB of memory available"):
        load_folder(folder_dataset)


def test_huge_image_in_a_folder_is_skipped_and_named(tmp_path, tiny_faces):
    root = write_folder_dataset(tmp_path / "faces", tiny_faces)
    bomb = root / "train" / "happy" / "bomb.png"
    bomb.write_bytes(_png(HUGE, HUGE))
    with pytest.warns(SkippedFilesWarning):
        dataset = load_folder(root)
    assert [(path, "declares" in reason) for path, reason in dataset.skipped] == [(str(bomb), True)]


def test_unreadable_file_is_skipped_with_its_reason(tmp_path, tiny_faces, monkeypatch):
    root = write_folder_dataset(tmp_path / "faces", tiny_faces)
    locked = sorted((root / "train" / "sad").iterdir())[0]

    def opened(path, *args, **kwargs):  # as root, file modes do not stop reading: the refusal is simulated
        if os.fspath(path) == os.fspath(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(_images, "open", opened, raising=False)  # the module's `open` before the builtin
    with pytest.warns(SkippedFilesWarning):
        dataset = load_folder(root)
    assert dataset.skipped == ((str(locked), f"{locked}: cannot be read (Permission denied)."),)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlink_loop_in_a_dataset_ends_with_a_clear_error(tmp_path, tiny_faces):
    root = write_folder_dataset(tmp_path / "faces", tiny_faces)
    os.symlink(root / "train", root / "train" / "happy" / "loop")
    os.symlink("self.png", root / "train" / "happy" / "self.png")  # a link to itself
    before = tree_digest(root)
    with pytest.warns(SkippedFilesWarning, match="self.png cannot be examined"):
        dataset = load_folder(root)
    assert len(dataset) == len(tiny_faces) and tree_digest(root) == before


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_prediction_inputs_do_not_follow_symlink_loops(tmp_path, tiny_faces):
    root = write_folder_dataset(tmp_path / "faces", tiny_faces)
    os.symlink(root, root / "train" / "loop")
    assert len(expand_inputs([root])) == len(tiny_faces)


def test_random_bytes_with_image_extension_are_a_decode_error(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_bytes(os.urandom(500))
    with pytest.raises(ImageDecodeError):
        read_image(path)


def test_folder_loading_memory_is_proportional_to_the_output(tmp_path):
    n, side = 1500, 48
    folder = tmp_path / "faces" / "happy"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:05d}.png"), rng.integers(0, 256, (64, 64), dtype=np.uint8))
    tracemalloc.start()
    try:
        dataset = load_folder(tmp_path / "faces", size=side, n_jobs=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    output = dataset.images.nbytes
    # The output array, plus per-file bookkeeping (paths, labels, sources) of
    # well under 1 KB a file: no second copy of the images, no decoded backlog.
    assert peak < output + 1024 * n
