"""Property-based tests: hostile or broken input to the loaders fails cleanly.

Each loader gets at least 500 generated inputs. The property is always the
same: the call returns a well-formed result or raises one of fer-classic's
documented errors (never another exception type, never a hang), and it
writes nothing next to its input.
"""

from __future__ import annotations

import io
import itertools
import os
import pickle
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_classic import load_model, save_model
from fer_classic.data import FaceDataset, load_fer2013_csv, load_folder
from fer_classic.exceptions import FerClassicError, ModelFileError
from fer_classic.labels import FER2013_LABELS
from fer_classic.persistence import FERModel, library_versions

from conftest import tree_digest

pytestmark = [
    pytest.mark.filterwarnings("ignore::fer_classic.exceptions.SkippedFilesWarning"),
    pytest.mark.filterwarnings("ignore::fer_classic.exceptions.VersionMismatchWarning"),
]

# In CI the same 500 examples run every time (derandomize), so a failure there is
# reproducible; locally each run explores new ones.
FUZZ = settings(max_examples=500, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _fresh(workdir):
    folder = workdir / f"case{next(_counter)}"
    folder.mkdir()
    return folder


def _assert_clean_result(call, folder):
    """``call()`` returns or raises a FerClassicError, and leaves ``folder`` as it was."""
    before = tree_digest(folder)
    try:
        result = call()
    except FerClassicError:
        result = None
    assert tree_digest(folder) == before
    return result


# --- CSV loader -------------------------------------------------------------

_pixel_token = st.one_of(
    st.integers(0, 255).map(str),
    st.integers(-300, 600).map(str),
    st.sampled_from(["", "-", "1.5", "1e3", "nan", "0x10", "12a", "٣", "+7", " "]),
)
_pixels = st.one_of(
    st.lists(st.integers(0, 255), min_size=16, max_size=16).map(lambda v: " ".join(map(str, v))),
    st.lists(_pixel_token, min_size=0, max_size=30).map(" ".join),
    st.text(max_size=40),
)
_emotion = st.one_of(st.integers(-2, 9).map(str), st.sampled_from(FER2013_LABELS + ("Happiness", "", "x", "7.0")),
                     st.text(max_size=8))
_usage = st.one_of(st.sampled_from(["Training", "PublicTest", "PrivateTest", "train", "", "bogus"]),
                   st.text(max_size=8))
_row = st.one_of(
    st.tuples(_emotion, _pixels, _usage).map(lambda r: f"{r[0]},{r[1]},{r[2]}"),
    st.text(max_size=60),
    st.just(""),
)


@st.composite
def _csv_bytes(draw):
    header = draw(st.sampled_from(["emotion,pixels,Usage", "Emotion, Pixels ,usage", "emotion,pixels",
                                   "pixels,emotion,Usage", "a,b,c", ""]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join([header, *draw(st.lists(_row, max_size=8))])
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"])), errors="replace")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=20))
    return data


@FUZZ
@given(data=_csv_bytes(), gz=st.booleans())
def test_csv_loader_returns_a_dataset_or_a_clear_error(workdir, data, gz):
    import gzip

    folder = _fresh(workdir)
    path = folder / ("fer2013.csv.gz" if gz else "fer2013.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    dataset = _assert_clean_result(lambda: load_fer2013_csv(path), folder)
    if dataset is not None:
        assert isinstance(dataset, FaceDataset) and dataset.images.dtype == np.uint8
        assert len(dataset.labels) == len(dataset.images) == len(dataset.splits)


@FUZZ
@given(data=st.binary(max_size=300), name=st.sampled_from(["fer2013.csv", "fer2013.csv.gz"]))
def test_csv_loader_on_random_bytes(workdir, data, name):
    folder = _fresh(workdir)
    path = folder / name
    path.write_bytes(data)
    _assert_clean_result(lambda: load_fer2013_csv(path), folder)


@FUZZ
@given(data=_csv_bytes(), cut=st.floats(0, 1, exclude_max=True))
def test_csv_loader_on_truncated_gzip(workdir, data, cut):
    import gzip

    folder = _fresh(workdir)
    packed = gzip.compress(data)
    path = folder / "fer2013.csv.gz"
    path.write_bytes(packed[: int(len(packed) * cut)])
    _assert_clean_result(lambda: load_fer2013_csv(path), folder)


@FUZZ
@given(
    rows=st.lists(st.tuples(st.integers(0, 6), st.lists(st.integers(0, 255), min_size=16, max_size=16),
                            st.sampled_from(["Training", "PublicTest", "PrivateTest"])), min_size=1, max_size=6),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    blank_lines=st.booleans(),
)
def test_csv_loader_reads_valid_rows_exactly(workdir, rows, newline, bom, blank_lines):
    folder = _fresh(workdir)
    lines = ["emotion,pixels,Usage"]
    for emotion, pixels, usage in rows:
        lines.append(f"{emotion},{' '.join(map(str, pixels))},{usage}")
        if blank_lines:
            lines.append("")
    path = folder / "fer2013.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + newline.join(lines).encode())
    dataset = load_fer2013_csv(path)
    np.testing.assert_array_equal(dataset.images, np.array([p for _, p, _ in rows], np.uint8).reshape(-1, 4, 4))
    assert dataset.labels.tolist() == [FER2013_LABELS[e] for e, _, _ in rows]
    assert dataset.usages.tolist() == [u for _, _, u in rows]


# --- Folder loader ----------------------------------------------------------

def _png_header(width: int, height: int) -> bytes:
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + len(ihdr).to_bytes(4, "big") + chunk + zlib.crc32(chunk).to_bytes(4, "big")


def _valid_png(seed: int) -> bytes:
    image = np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


_image_bytes = st.one_of(
    st.binary(max_size=200),
    st.integers(0, 1000).map(_valid_png),
    st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1), st.binary(max_size=50))
      .map(lambda t: _png_header(t[0], t[1]) + t[2]),
    st.tuples(st.integers(0, 1000), st.integers(1, 200)).map(lambda t: _valid_png(t[0])[: t[1]]),
    st.binary(max_size=60).map(lambda b: b"\xff\xd8\xff" + b),
    st.binary(max_size=60).map(lambda b: b"BM" + b),
    st.binary(max_size=60).map(lambda b: b"II*\x00" + b),
    st.binary(max_size=60).map(lambda b: b"GIF89a" + b),
    st.binary(max_size=60).map(lambda b: b"RIFF\0\0\0\0WEBPVP8" + b),
    st.binary(max_size=60).map(lambda b: b"P5\n" + b),
    st.binary(max_size=60).map(lambda b: b"\0\0\0\x0cjP  \r\n\x87\n" + b),
)


@FUZZ
@given(files=st.lists(st.tuples(st.sampled_from(["happy", "sad"]),
                                st.sampled_from([".png", ".jpg", ".bmp", ".tif", ".gif", ".webp", ".pgm", ".jp2"]),
                                _image_bytes), min_size=1, max_size=5))
def test_folder_loader_returns_a_dataset_or_a_clear_error(workdir, files):
    folder = _fresh(workdir)
    for i, (label, ext, data) in enumerate(files):
        (folder / label).mkdir(exist_ok=True)
        (folder / label / f"{i}{ext}").write_bytes(data)
    dataset = _assert_clean_result(lambda: load_folder(folder, size=8, n_jobs=1), folder)
    if dataset is not None:
        assert dataset.images.shape[1:] == (8, 8) and len(dataset) + len(dataset.skipped) == len(files)


# --- Model loader -----------------------------------------------------------

@pytest.fixture(scope="module")
def small_model_files(tmp_path_factory, tiny_faces):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(LogisticRegression(max_iter=2000)).fit(tiny_faces.X[:, ::64] / 255, tiny_faces.y)
    model = FERModel(pipeline, {"classes": list(pipeline.classes_), "image_shape": [6, 6],
                                "versions": library_versions()})
    folder = tmp_path_factory.mktemp("models")
    return {fmt: save_model(model, folder / f"m.{fmt}").read_bytes() for fmt in ("joblib", "skops")}


_MAGIC = [b"", b"\x80\x04", b"\x80\x02", b"PK\x03\x04", b"x\x9c", b"\x1f\x8b", b"BZh", b"\xfd7zXZ"]


class _Marker:
    """Unpickling it calls ``open(path, 'w')``: code execution, visible as a new file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _assert_load_fails_cleanly(folder, data):
    path = folder / "m.joblib"
    path.write_bytes(data)
    before = tree_digest(folder)
    with pytest.raises(ModelFileError):
        load_model(path)
    assert tree_digest(folder) == before


@FUZZ
@given(magic=st.sampled_from(_MAGIC), data=st.binary(max_size=400))
def test_model_loader_on_random_bytes(workdir, magic, data):
    _assert_load_fails_cleanly(_fresh(workdir), magic + data)


@FUZZ
@given(fmt=st.sampled_from(["joblib", "skops"]), cut=st.floats(0, 1, exclude_max=True))
def test_model_loader_on_truncated_files(workdir, small_model_files, fmt, cut):
    data = small_model_files[fmt]
    _assert_load_fails_cleanly(_fresh(workdir), data[: int(len(data) * cut)])


@FUZZ
@given(fmt=st.sampled_from(["joblib", "skops"]), position=st.floats(0, 1, exclude_max=True),
       flip=st.integers(1, 255))
def test_model_loader_on_flipped_bytes(workdir, small_model_files, tiny_faces, fmt, position, flip):
    data = bytearray(small_model_files[fmt])
    data[int(len(data) * position)] ^= flip
    folder = _fresh(workdir)
    path = folder / f"m.{fmt}"
    path.write_bytes(bytes(data))
    before = tree_digest(folder)
    try:
        model = load_model(path)
    except ModelFileError:
        model = None
    assert tree_digest(folder) == before
    if model is not None:  # a flip in unchecked bytes (zip padding, header text): it must still work
        assert model.pipeline.predict(tiny_faces.X[:4, ::64]).shape == (4,)


@FUZZ
@given(protocol=st.integers(0, pickle.HIGHEST_PROTOCOL),
       wrap=st.sampled_from(["bare", "list", "v1 payload", "v2 header"]), compress=st.booleans())
def test_model_loader_never_runs_code_from_a_pickle(workdir, protocol, wrap, compress):
    folder = _fresh(workdir)
    marker = folder.parent / f"pwned{next(_counter)}"
    evil = _Marker(marker)
    payload = {"bare": evil, "list": [1, evil],
               "v1 payload": {"format": "fer-classic-model", "format_version": 1, "metadata": {}, "pipeline": evil},
               "v2 header": {"format": "fer-classic-model", "format_version": 2, "metadata": {"x": evil},
                             "payload": b"", "payload_sha256": "", "signature": ""}}[wrap]
    data = pickle.dumps(payload, protocol=protocol)
    buffer = io.BytesIO()
    if compress:
        buffer.write(zlib.compress(data))
    else:
        buffer.write(data)
    _assert_load_fails_cleanly(folder, buffer.getvalue())
    assert not marker.exists()
