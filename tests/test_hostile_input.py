"""Bounded resources and hostile files: huge headers, symlink loops, unreadable files, memory."""

from __future__ import annotations

import os
import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest

from fer_classic.data import MAX_IMAGE_PIXELS, load_folder, read_image
from fer_classic.data import _images
from fer_classic.data._headers import declared_size
from fer_classic.exceptions import ImageDecodeError, ImageTooLargeError, SkippedFilesWarning
from fer_classic.workflow import _expand

from conftest import tree_digest, write_folder_dataset

HUGE = 60_000


def _png(width, height):
    chunk = b"IHDR" + struct.pack(">II5B", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + b"\0" * 64


def _jpeg(width, height):
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\0" * 64


def _bmp(width, height):
    return b"BM" + struct.pack("<IHHI", 0, 0, 0, 54) + struct.pack("<IiiHH", 40, width, height, 1, 8) + b"\0" * 64


def _tiff(width, height):
    entries = struct.pack("<HHII", 256, 4, 1, width) + struct.pack("<HHII", 257, 4, 1, height)
    return b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 2) + entries + b"\0\0\0\0" + b"\0" * 64


HEADERS = {"png": _png, "jpg": _jpeg, "bmp": _bmp, "tif": _tiff}


@pytest.mark.parametrize("kind", sorted(HEADERS))
def test_header_parser_reads_the_declared_size(kind):
    assert declared_size(HEADERS[kind](HUGE - 1, 123)) == (123, HUGE - 1)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tif"])
@pytest.mark.parametrize("shape", [(48, 48), (31, 77)])
def test_header_parser_agrees_with_opencv(ext, shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert declared_size(cv2.imencode(ext, image)[1].tobytes()) == shape


@pytest.mark.parametrize("kind", sorted(HEADERS))
def test_huge_declared_image_is_refused_before_decoding(tmp_path, monkeypatch, kind):
    path = tmp_path / f"bomb.{kind}"
    path.write_bytes(HEADERS[kind](HUGE, HUGE))

    def must_not_decode(*args, **kwargs):
        raise AssertionError("cv2.imdecode was called on a 60000x60000 image")

    monkeypatch.setattr(_images.cv2, "imdecode", must_not_decode)
    with pytest.raises(ImageTooLargeError, match=f"{HUGE}x{HUGE} pixels, more than the {MAX_IMAGE_PIXELS:,}"):
        read_image(path)


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
    real_fromfile = np.fromfile

    def fromfile(path, *args, **kwargs):
        if os.fspath(path) == os.fspath(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_fromfile(path, *args, **kwargs)

    monkeypatch.setattr(_images.np, "fromfile", fromfile)
    with pytest.warns(SkippedFilesWarning):
        dataset = load_folder(root)
    assert dataset.skipped == ((str(locked), f"{locked}: cannot be read (Permission denied)."),)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlink_loop_in_a_dataset_ends_with_a_clear_error(tmp_path, tiny_faces):
    root = write_folder_dataset(tmp_path / "faces", tiny_faces)
    os.symlink(root / "train", root / "train" / "happy" / "loop")
    os.symlink("self.png", root / "train" / "happy" / "self.png")  # a link to itself
    before = tree_digest(root)
    dataset = load_folder(root)
    assert len(dataset) == len(tiny_faces) and tree_digest(root) == before


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_prediction_inputs_do_not_follow_symlink_loops(tmp_path, tiny_faces):
    root = write_folder_dataset(tmp_path / "faces", tiny_faces)
    os.symlink(root, root / "train" / "loop")
    assert len(_expand([root])) == len(tiny_faces)


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
