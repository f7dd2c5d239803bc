"""Shared fixtures: tiny datasets written to temporary folders."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import zipfile
from pathlib import Path

# Before anything imports Numba: each pytest-xdist worker (and the processes it starts) keeps the compiled kernels
# in a cache folder of its own. Numba writes a cache's index without a lock: two workers saving kernels of one
# module at once can leave an index naming the other's machine code (a reviewer forced "can't unbox array"),
# which lasts until the cache is deleted.
REPO = Path(__file__).resolve().parents[1]
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["NUMBA_CACHE_DIR"] = str(Path(os.environ.get("NUMBA_CACHE_DIR") or REPO / ".pytest_cache" / "numba")
                                        / os.environ["PYTEST_XDIST_WORKER"])

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from fer_classic.data import make_synthetic_faces  # noqa: E402
from fer_classic.labels import FER2013_LABELS  # noqa: E402

# One BLAS and one OpenMP thread in the tests and the processes they start (unless OPENBLAS_NUM_THREADS or
# OMP_NUM_THREADS says otherwise): their arrays are tiny, and on a busy 2-core machine the threads waiting on each
# other made a logistic regression on 84 faces' pixels take 25 s instead of 0.6 s (BLAS) and a 2-word SIFT
# codebook of 64 images 2 s instead of 0.15 s (k-means, OpenMP). The variables reach the libraries loaded later
# and the children; threadpool_limits the ones already loaded.
for _variable, _api in [("OPENBLAS_NUM_THREADS", "blas"), ("OMP_NUM_THREADS", "openmp")]:
    if _variable not in os.environ:
        os.environ[_variable] = "1"
        threadpool_limits(1, user_api=_api)

#: Most ``-n auto`` workers: each imports TensorFlow, Ray and Dask (about 1 GB) and starts processes of its own.
MAX_WORKERS = 4


def pytest_configure(config) -> None:
    """A private FER_CLASSIC_HOME (model-signing key) for the whole run, the doctests of fer_classic/ too.

    They get none of this folder's fixtures, and an xdist worker may run them
    before any test has set up :func:`fer_classic_home`.
    """
    import tempfile

    config._fer_classic_home = (os.environ.get("FER_CLASSIC_HOME"), tempfile.mkdtemp(prefix="fer_classic_home_"))
    os.environ["FER_CLASSIC_HOME"] = config._fer_classic_home[1]


def pytest_unconfigure(config) -> None:
    import shutil

    before, home = getattr(config, "_fer_classic_home", (None, None))
    if home is None:
        return
    if before is None:
        os.environ.pop("FER_CLASSIC_HOME", None)
    else:
        os.environ["FER_CLASSIC_HOME"] = before
    shutil.rmtree(home, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: a run without the plugin (-p no:xdist) still starts
def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto`` (setup.cfg): the cores this process may run on, at most :data:`MAX_WORKERS`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, MAX_WORKERS)


def benchmark_module(name: str):
    """``benchmarks/<name>.py`` imported as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def usage_error(call, *args, **kwargs) -> None:
    """Run ``call(*args, **kwargs)`` and assert that it stops with argparse's usage-error exit (code 2)."""
    with pytest.raises(SystemExit) as exit_info:
        call(*args, **kwargs)
    assert exit_info.value.code == 2


def main_reaches_loading(bench, monkeypatch, argv: list[str]) -> str:
    """What ``bench.main()`` run with ``argv`` passes to ``load_dataset`` (raised before any loading)."""
    class Loaded(Exception):
        pass

    def load_dataset(path, *args, **kwargs):
        raise Loaded(path)

    monkeypatch.setattr(bench, "load_dataset", load_dataset)
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(Loaded) as loaded:
        bench.main()
    return str(loaded.value)


SHARED_DATA = REPO.parent / "shared" / "data"
FER_FOLDER = SHARED_DATA / "fer2013"
FER_SAMPLE_CSV = SHARED_DATA / "fer2013_sample.csv"

requires_fer_folder = pytest.mark.skipif(
    not FER_FOLDER.is_dir(), reason=f"real FER2013 folder not present at {FER_FOLDER}"
)
requires_fer_csv = pytest.mark.skipif(
    not FER_SAMPLE_CSV.is_file(), reason=f"FER2013 sample CSV not present at {FER_SAMPLE_CSV}"
)


@pytest.fixture(scope="session", autouse=True)
def fer_classic_home(tmp_path_factory):
    """A private FER_CLASSIC_HOME (model-signing key): tests never touch the user's own."""
    home = tmp_path_factory.mktemp("fer_classic_home")
    patcher = pytest.MonkeyPatch()
    patcher.setenv("FER_CLASSIC_HOME", str(home))
    yield home
    patcher.undo()


@pytest.fixture(scope="session")
def tiny_faces():
    """Synthetic faces: 12 train and 4 test images per class, 48x48."""
    return make_synthetic_faces(12, 4, random_state=1)


@pytest.fixture(scope="session")
def one_large_subject():
    """16x16 faces, 98 training images of 7 classes, 35 of which (5 a class) are of one subject.

    Grouped 5-fold training parts then hold 51 to 84 images, not the 78 an even split gives each.
    """
    import dataclasses

    from fer_classic.data import make_synthetic_faces

    faces = make_synthetic_faces(14, 2, size=(16, 16), random_state=0)
    subjects = np.array([f"s{i}" for i in range(len(faces))], dtype=object)
    train = np.flatnonzero(faces.splits == "train")
    for label in np.unique(faces.labels):
        subjects[train[faces.labels[train] == label][:5]] = "one subject"
    return dataclasses.replace(faces, subjects=subjects)


def write_folder_dataset(root: Path, dataset, *, ext: str = ".png", names=None) -> Path:
    """Write ``dataset`` as ROOT/<split>/<label>/<i>.<ext> (names maps label → folder name)."""
    names = names or {}
    for i, (image, label, split) in enumerate(zip(dataset.images, dataset.labels, dataset.splits)):
        folder = root / split / names.get(label, label)
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i:04d}{ext}"), image)
    return root


def write_csv_dataset(path: Path, dataset, usage_of=None) -> Path:
    """Write ``dataset`` in fer2013.csv format (emotion id, pixels, Usage)."""
    usage_of = usage_of or {"train": "Training", "test": "PublicTest"}
    lines = ["emotion,pixels,Usage"]
    for image, label, split in zip(dataset.images, dataset.labels, dataset.splits):
        pixels = " ".join(map(str, image.ravel().tolist()))
        lines.append(f"{FER2013_LABELS.index(label)},{pixels},{usage_of[split]}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def folder_dataset(tmp_path, tiny_faces) -> Path:
    """ROOT/train|test/<label>/*.png with the tiny synthetic faces."""
    return write_folder_dataset(tmp_path / "faces", tiny_faces)


@pytest.fixture
def csv_dataset(tmp_path, tiny_faces) -> Path:
    """fer2013.csv-format file with the tiny synthetic faces."""
    return write_csv_dataset(tmp_path / "fer2013.csv", tiny_faces)


def tree_digest(root: Path) -> dict[str, str]:
    """SHA-256 and mode of every file under ``root``: to prove nothing was changed."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def fitted_model(tiny_faces):
    """A small HOG + SVM FERModel fitted on the tiny synthetic faces."""
    from fer_classic import fit_model

    return fit_model(tiny_faces, features="hog", clf="svm").model


def random_gray(shape, seed=0) -> np.ndarray:
    """Random uint8 images."""
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def reseal_skops(path: Path, edit_members) -> None:
    """Edit a skops file's members (``edit_members(members, header)``), then re-seal its header's digest.

    As anybody can: the digest is no signature.
    """
    from fer_classic.persistence._skops_format import HEADER_MEMBER, _zip_digest

    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members.pop(HEADER_MEMBER))
    edit_members(members, header)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with zipfile.ZipFile(path) as archive:
        header["payload_sha256"] = _zip_digest(archive)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(HEADER_MEMBER, json.dumps(header))
