"""The skops model file: a typed archive that loads without running code.

A ``.skops`` model file is a skops archive of the pipeline with one more
member, ``fer_classic_header.json``, holding the fer-classic header. It loads
without ``trusted=True`` only when every type and function it names is on
fer-classic's reviewed list (:mod:`._trust`) or skops' own defaults.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

from .. import _resources
from .._fileio import atomic_write
from ..exceptions import ModelFileError, ModelIntegrityError, UntrustedModelError
from ._header import FORMAT, check_digest, check_header, check_metadata, make_header
from ._model import FERModel
from ._signing import verify
from ._trust import trusted_names, types_needing_trust

__all__ = ["is_zip", "load_skops", "save_skops", "skops_info"]

HEADER_MEMBER = "fer_classic_header.json"


def _import_skops():
    try:
        import skops.io as sio
    except ImportError as exc:  # pragma: no cover - skops is a dependency
        raise ImportError("The skops model format needs skops: pip install skops.") from exc
    return sio


def is_zip(path: Path) -> bool:
    """Whether ``path`` starts like a zip archive (a skops file, perhaps truncated)."""
    # By the local-file signature, so a truncated archive (no central directory) is still known as one.
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _zip_digest(archive: zipfile.ZipFile) -> str:
    digest = hashlib.sha256()
    for name in sorted(archive.namelist()):
        if name != HEADER_MEMBER:
            digest.update(name.encode() + b"\0")
            with archive.open(name) as member:  # in pieces, never whole in memory; checks its CRC-32 at the end
                for piece in iter(lambda: member.read(1 << 20), b""):
                    digest.update(piece)
    return digest.hexdigest()


#: A member inflating more than this many times, beyond _INFLATED_FROM bytes, is a zip bomb: a fitted
#: model's deflated arrays inflate 1.1 to 2 times, its schema (JSON) about 20 times.
_MAX_RATIO = 200
_INFLATED_FROM = 16 << 20
#: The header member's largest size (a fitted model's is a few KB).
_MAX_HEADER_BYTES = 1 << 20


def _check_sizes(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse, from the sizes the archive declares (zipfile reads no more), what no model holds."""
    for info in archive.infolist():
        too_large = info.filename == HEADER_MEMBER and info.file_size > _MAX_HEADER_BYTES
        if too_large or (info.file_size > _INFLATED_FROM and info.file_size > _MAX_RATIO * max(info.compress_size, 1)):
            raise ModelIntegrityError(
                f"{path}: its member {info.filename!r} inflates {info.compress_size:,} bytes to {info.file_size:,}, "
                "which no fer-classic model does (a zip bomb, or damage); it is not read. Refit the model "
                "with 'fer-classic fit --format skops' or ask its source for a new copy.")


def _check_memory(path: Path) -> None:
    """Refuse to load an archive that inflates past the memory available (skops reads members whole)."""
    with zipfile.ZipFile(path) as archive:
        needed = sum(info.file_size for info in archive.infolist())
    _resources.require_memory(needed, f"{path}, inflated,", "it is not loaded. Free memory, or load it on a larger "
                              "machine.", ModelFileError)


def save_skops(pipeline, metadata: dict, path: Path) -> Path:
    """Write ``pipeline`` and its plain ``metadata`` to ``path`` atomically."""
    sio = _import_skops()

    def write(tmp: Path) -> None:
        # Deflated as joblib files are compressed (zlib level 3): HOG+SIFT 141 -> about 115 MB.
        sio.dump(pipeline, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=3)
        with zipfile.ZipFile(tmp) as archive:
            digest = _zip_digest(archive)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(HEADER_MEMBER, json.dumps(make_header(metadata, digest, "skops"), indent=1))

    return atomic_write(path, write)


def _read_header(path: Path) -> tuple[dict, str]:
    """(checked header, SHA-256 of the other members)."""
    try:
        with zipfile.ZipFile(path) as archive:
            if HEADER_MEMBER not in archive.namelist():  # from the central directory: nothing inflated
                raise ModelFileError(
                    f"{path} is a zip/skops file but not a fer-classic model (no {HEADER_MEMBER}); "
                    "save models with fer_classic.save_model(..., format='skops')."
                )
            _check_sizes(path, archive)
            header = json.loads(archive.read(HEADER_MEMBER))
            digest = _zip_digest(archive)
    except ModelFileError:
        raise
    except Exception as exc:  # zipfile raises many types on damaged archives (BadZipFile, NotImplementedError...)
        raise ModelIntegrityError(
            f"{path} is a damaged or truncated skops file ({type(exc).__name__}: {exc}); "
            "copy it again or refit it with 'fer-classic fit --format skops'."
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: {HEADER_MEMBER} does not describe a fer-classic model.")
    check_header(path, header)
    check_digest(path, header["payload_sha256"], digest)
    return header, digest


def _types(sio, path: Path, trusted_types: Iterable[str]) -> tuple[list[str], list[str]]:
    """(names beyond skops' defaults, those of them neither on fer-classic's list nor in ``trusted_types``)."""
    try:
        named = sorted(sio.get_untrusted_types(file=path))
    except Exception as exc:  # skops raises many types on a damaged schema
        raise ModelIntegrityError(f"{path}: the skops schema cannot be read ({type(exc).__name__}: {exc}).") from None
    return named, types_needing_trust(named, trusted_types)


def load_skops(path: Path, *, trusted: bool, trusted_types: Iterable[str] = ()) -> tuple[FERModel, list[str]]:
    """Load a skops model file; every type and function it names is checked first.

    Returns the model and the names it holds beyond skops' defaults.
    """
    header, _ = _read_header(path)
    check_metadata(path, header["metadata"])
    _check_memory(path)
    sio = _import_skops()
    trusted_types = trusted_names(trusted_types)
    named, refused = _types(sio, path, trusted_types)
    if refused and not trusted:
        # A misspelt --trust-type is often why: say so here, where the user reads.
        unused = sorted(trusted_types - set(named))
        raise UntrustedModelError(
            f"{path} names types or functions that are not on fer-classic's list of trusted names "
            f"(loading them could run code): {', '.join(refused)}. If you trust the file's source, check "
            "them, then pass them to load_model as trusted_types=[...] ('--trust-type NAME' once per name on the "
            "command line), or load it with trusted=True ('--trust')."
            + (f" It does not name {', '.join(unused)}, which you trusted: check the spelling." if unused else "")
        )
    try:
        pipeline = sio.load(path, trusted=named)
    except Exception as exc:  # skops raises many types on a damaged archive
        raise ModelIntegrityError(f"{path}: the skops data cannot be loaded ({type(exc).__name__}: {exc}).") from exc
    _check_trees(path, pipeline)
    return FERModel(pipeline=pipeline, metadata=header["metadata"]), named


def _trees(obj, owner=None, seen=None):
    """(tree, estimator holding it) for every scikit-learn Tree reachable from ``obj``."""
    from sklearn.tree._tree import Tree

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Tree):
        yield obj, owner
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _trees(item, owner, seen)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _trees(item, owner, seen)
    elif hasattr(obj, "__dict__") and type(obj).__module__.split(".", 1)[0] in ("sklearn", "fer_classic", "imblearn"):
        for item in vars(obj).values():
            yield from _trees(item, obj, seen)


def _check_trees(path: Path, pipeline) -> None:
    # scikit-learn indexes a tree's node arrays without bounds checks (as skops
    # notes for TreePredictor, which it does not trust): a crafted file could
    # read out of bounds or loop forever on predict. A fitted tree's children
    # always come after their parent, and its features index the input.
    import numpy as np

    for tree, owner in _trees(pipeline):
        left, right, feature = tree.children_left, tree.children_right, tree.feature
        n, nodes = tree.node_count, np.arange(tree.node_count)
        leaf = left == -1
        n_features = getattr(owner, "n_features_in_", tree.n_features)
        valid = (
            len(left) == len(right) == len(feature) == n > 0
            and tree.n_features == n_features
            and np.array_equal(leaf, right == -1)
            and np.all((left[~leaf] > nodes[~leaf]) & (left[~leaf] < n))
            and np.all((right[~leaf] > nodes[~leaf]) & (right[~leaf] < n))
            and np.all((feature[~leaf] >= 0) & (feature[~leaf] < n_features))
        )
        if not valid:
            raise ModelIntegrityError(
                f"{path} holds a decision tree whose node arrays are inconsistent (child or feature indices "
                "out of range); it was damaged or crafted. Refit the model with 'fer-classic fit'."
            )


def skops_info(path: Path, *, trusted_types: Iterable[str] = ()) -> dict:
    """Header fields and named types of a skops model file, read without loading it."""
    header, digest = _read_header(path)
    named, needing = _types(_import_skops(), path, trusted_types)
    return {
        "file_format": header.get("file_format", "skops"),
        "format_version": header["format_version"],
        "metadata": header["metadata"],
        "payload_sha256": digest,
        "integrity": "ok",
        "signed": bool(header["signature"]),
        "signed_here": verify(header["signature"], digest, header["metadata"]),
        "untrusted_types": named,
        "types_needing_trust": needing,
    }
