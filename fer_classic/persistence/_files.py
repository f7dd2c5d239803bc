"""Model files: joblib (signed, checksummed) or skops (typed, no code run on load).

A ``.joblib`` model file is a pickle of a plain dictionary (``format``,
``format_version``, ``metadata``, ``payload_sha256``, ``signature``,
``payload``) where ``payload`` holds the joblib bytes of the fitted pipeline.
The outer dictionary is read with an unpickler that refuses every class, so
the metadata, the checksum and the signature are checked before any code in
the payload can run. ``joblib.load`` still opens the file.

A ``.skops`` model file is a skops archive of the pipeline with one more
member, ``fer_classic_header.json``, holding the same header fields.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import pickle
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import joblib

from .._version import __version__
from ..exceptions import (
    IncompatibleModelError,
    ModelFileError,
    ModelIntegrityError,
    UntrustedModelError,
    VersionMismatchWarning,
)
from ._model import FERModel, library_versions, plain_metadata
from ._signing import sign, verify

__all__ = [
    "DEFAULT_TRUSTED_MODULES",
    "FORMAT",
    "FORMAT_VERSION",
    "MODEL_FORMATS",
    "format_model_info",
    "inspect_model",
    "load_model",
    "model_format",
    "save_model",
]

FORMAT = "fer-classic-model"
#: Bumped when the layout of the saved file changes incompatibly.
#: 1: joblib pickle of {format, format_version, metadata, pipeline} (read with trusted=True).
#: 2: signed, checksummed header around the payload; skops files.
FORMAT_VERSION = 2
MODEL_FORMATS = ("joblib", "skops")
#: skops files may hold types from these packages without trusted=True.
DEFAULT_TRUSTED_MODULES = ("sklearn", "numpy", "fer_classic")

_SKOPS_HEADER = "fer_classic_header.json"
# First bytes of the streams joblib compresses with (zlib, gzip, bz2, xz, lzma):
# such a file is an older fer-classic model or another joblib file.
_JOBLIB_COMPRESSED = (b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00")


def model_format(path: str | os.PathLike, format: str | None = None) -> str:
    """The file format to write: ``format`` if given, else by suffix (``.skops`` or joblib)."""
    if format is None:
        return "skops" if Path(path).suffix.lower() == ".skops" else "joblib"
    if format not in MODEL_FORMATS:
        raise ValueError(f"format must be one of {MODEL_FORMATS}; got {format!r}.")
    return format


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to another user
        return True
    return True


def _remove_stale_temporaries(path: Path) -> None:
    # A save killed outright (SIGKILL, power loss) cannot clean up; the next
    # save of the same file removes temporaries whose writing process is gone.
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    # Write a temporary file in the same folder, flush it to disk, rename it over
    # ``path``: an interrupted save leaves the previous file (or none), never a
    # truncated one.
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _header(metadata: dict, digest: str, file_format: str) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "file_format": file_format,
        "metadata": metadata,
        "payload_sha256": digest,
        "signature": sign(digest, metadata),
    }


def _zip_digest(archive: zipfile.ZipFile) -> str:
    digest = hashlib.sha256()
    for name in sorted(archive.namelist()):
        if name != _SKOPS_HEADER:
            digest.update(name.encode() + b"\0")
            digest.update(archive.read(name))  # also checks each member's CRC-32
    return digest.hexdigest()


def save_model(model: FERModel, path: str | os.PathLike, *, format: str | None = None) -> Path:
    """Write ``model`` to ``path`` atomically.

    Parameters
    ----------
    model : FERModel
    path : path
        Destination; a ``.skops`` suffix selects the skops format.
    format : {"joblib", "skops"}, optional
        ``joblib`` (default): the pipeline pickled by joblib, wrapped in a header
        with its SHA-256 and a signature by this user's key, so this machine
        loads it without ``trusted=True`` and detects corruption. ``skops``: a
        file that loads without running code, given the list of types to trust.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    file_format = model_format(path, format)
    metadata = plain_metadata(model.metadata)
    if file_format == "joblib":
        buffer = io.BytesIO()
        joblib.dump(model.pipeline, buffer, compress=3)
        payload = buffer.getvalue()
        header = {**_header(metadata, hashlib.sha256(payload).hexdigest(), "joblib"), "payload": payload}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                pickle.dump(header, handle, protocol=4)
    else:
        sio = _import_skops()

        def write(tmp: Path) -> None:
            sio.dump(model.pipeline, tmp)
            with zipfile.ZipFile(tmp) as archive:
                digest = _zip_digest(archive)
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(_SKOPS_HEADER, json.dumps(_header(metadata, digest, "skops"), indent=1))
    return _atomic_write(path, write)


def _import_skops():
    try:
        import skops.io as sio
    except ImportError as exc:  # pragma: no cover - skops is a dependency
        raise ImportError("The skops model format needs skops: pip install skops.") from exc
    return sio


class _ClassRefused(Exception):
    """The pickle names a class or function: it is not a plain header."""


class _HeaderUnpickler(pickle.Unpickler):
    # Plain dicts, strings, bytes and numbers need no class lookup; anything
    # else could run code, so it is refused before it is resolved.
    def find_class(self, module: str, name: str):
        raise _ClassRefused(f"{module}.{name}")


def _read_joblib_header(path: Path) -> dict | None:
    """The plain header of a version-2 joblib model; None for other joblib/pickle files."""
    with open(path, "rb") as handle:
        start = handle.read(5)
        if start.startswith(_JOBLIB_COMPRESSED):
            return None
        handle.seek(0)
        try:
            header = _HeaderUnpickler(handle).load()
        except _ClassRefused:
            return None
        except EOFError as exc:
            raise ModelIntegrityError(
                f"{path} is truncated or empty (the data ends early: {exc or 'no data'}); "
                "copy it again or refit it with 'fer-classic fit'."
            ) from None
        except Exception as exc:  # the unpickler raises many types on foreign or damaged bytes
            message = str(exc)
            kind = "truncated" if "truncated" in message else "damaged, truncated or another file type"
            raise ModelIntegrityError(
                f"{path} is not a readable fer-classic model ({kind}): {type(exc).__name__}: "
                f"{message}. Copy it again or refit it with 'fer-classic fit'."
            ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(
            f"{path} is a pickle but not a fer-classic model (no '{FORMAT}' header); "
            "save models with fer_classic.save_model or 'fer-classic fit'."
        )
    return header


def _read_skops_header(path: Path) -> tuple[dict, str]:
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                header = json.loads(archive.read(_SKOPS_HEADER))
            except KeyError:
                raise ModelFileError(
                    f"{path} is a zip/skops file but not a fer-classic model (no {_SKOPS_HEADER}); "
                    "save models with fer_classic.save_model(..., format='skops')."
                ) from None
            digest = _zip_digest(archive)
    except ModelFileError:
        raise
    except Exception as exc:  # zipfile raises many types on damaged archives (BadZipFile, NotImplementedError...)
        raise ModelIntegrityError(
            f"{path} is a damaged or truncated skops file ({type(exc).__name__}: {exc}); "
            "copy it again or refit it with 'fer-classic fit --format skops'."
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: {_SKOPS_HEADER} does not describe a fer-classic model.")
    return header, digest


def _check_version(path: Path, header: dict) -> None:
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{path} uses model format version {version!r}; this fer-classic ({__version__}) reads "
            f"versions up to {FORMAT_VERSION}. Upgrade fer-classic or refit the model."
        )


_HEADER_FIELDS = {"metadata": dict, "payload_sha256": str, "signature": str}


def _check_header(path: Path, header: dict, *extra: tuple[str, type]) -> None:
    """Version first (a newer layout may differ), then every field the loader reads."""
    _check_version(path, header)
    for name, kind in (*_HEADER_FIELDS.items(), *extra):
        if not isinstance(header.get(name), kind):
            raise ModelIntegrityError(
                f"{path} is damaged: its fer-classic header lacks a valid '{name}' field. "
                "Copy it again from its source or refit it."
            )
    try:  # metadata is saved as plain JSON types; anything else is damage
        json.dumps(header["metadata"], sort_keys=True, allow_nan=True)
    except (TypeError, ValueError):
        raise ModelIntegrityError(
            f"{path} is damaged: its metadata is not plain JSON data. Copy it again or refit it."
        ) from None


def _check_digest(path: Path, recorded, actual: str) -> None:
    if recorded != actual:
        raise ModelIntegrityError(
            f"{path} is corrupted: its model data has SHA-256 {actual[:16]}..., but the file's header "
            f"records {str(recorded)[:16]}.... Copy it again from its source or refit it."
        )


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"Model file {path} does not exist.")
    return path


def _is_zip(path: Path) -> bool:
    # By the local-file signature, so a truncated archive (no central directory) is still known as one.
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _is_default_trusted(type_name: str) -> bool:
    return type_name.split(".", 1)[0] in DEFAULT_TRUSTED_MODULES


def _skops_types(sio, path: Path, trusted_types: Iterable[str]) -> tuple[list[str], list[str]]:
    """(types beyond skops' defaults, those of them not trusted by default or by the caller)."""
    try:
        untrusted = sorted(sio.get_untrusted_types(file=path))
    except Exception as exc:  # skops raises many types on a damaged schema
        raise ModelIntegrityError(f"{path}: the skops schema cannot be read ({type(exc).__name__}: {exc}).") from None
    extra = set(trusted_types)
    return untrusted, [t for t in untrusted if not (_is_default_trusted(t) or t in extra)]


def _warn_versions(path: Path, metadata: dict) -> None:
    saved = metadata.get("versions")
    saved = saved if isinstance(saved, dict) else {}
    installed = library_versions()
    differing = [
        f"{lib} {saved.get(lib)} (installed {installed[lib]})"
        for lib in ("fer_classic", "scikit-learn")
        if saved.get(lib) != installed[lib]
    ]
    if differing:
        warnings.warn(
            f"{path} was written with {', '.join(differing)}; predictions may differ. "
            "Refit the model with the installed versions to be sure.",
            VersionMismatchWarning,
            stacklevel=3,
        )


def _untrusted_pickle(path: Path, why: str) -> UntrustedModelError:
    return UntrustedModelError(
        f"{path} {why}. Loading a joblib/pickle file runs any code it contains. If you trust its "
        "source, load it with trusted=True ('--trust' on the command line); otherwise ask for a "
        ".skops file ('fer-classic fit --format skops'), which loads without running code."
    )


def _load_legacy(path: Path, trusted: bool) -> FERModel:
    if not trusted:
        raise _untrusted_pickle(path, "is not signed by fer-classic on this machine (an older "
                                      "fer-classic model, or a joblib/pickle file from elsewhere)")
    try:
        payload = joblib.load(path)
    except Exception as exc:  # joblib/pickle raise many types on foreign or damaged files
        raise ModelFileError(
            f"{path} is not a readable fer-classic model (damaged, truncated or another file type): "
            f"{type(exc).__name__}: {exc}. Refit it with 'fer-classic fit --out {path.name}'."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "pipeline" not in payload:
        raise ModelFileError(
            f"{path} is a joblib file but not a fer-classic model (no '{FORMAT}' header); "
            "save models with fer_classic.save_model or 'fer-classic fit'."
        )
    _check_version(path, payload)
    return FERModel(pipeline=payload["pipeline"], metadata=payload.get("metadata", {}))


def load_model(
    path: str | os.PathLike,
    *,
    trusted: bool = False,
    trusted_types: Iterable[str] = (),
) -> FERModel:
    """Load a model written by :func:`save_model`.

    Parameters
    ----------
    path : path
        A ``.joblib`` or ``.skops`` model file (the format is read from the file).
    trusted : bool, default=False
        Load files that could run code: joblib files not signed on this machine
        (older fer-classic files, files from elsewhere), and skops files holding
        types outside scikit-learn, NumPy and fer-classic. Only for files from
        a source you trust.
    trusted_types : iterable of str
        skops only: more type names to trust (as listed by ``fer-classic inspect``).

    Raises
    ------
    ModelFileError
        If the file is missing or not a fer-classic model.
    ModelIntegrityError
        If it is truncated or corrupted (checksum mismatch).
    UntrustedModelError
        If loading it could run code and ``trusted`` is False.
    IncompatibleModelError
        If it was written in a newer, unknown format version.

    Warns
    -----
    VersionMismatchWarning
        If it was written with other versions of fer-classic or scikit-learn;
        predictions may differ; refit the model with the installed versions.
    """
    path = _existing(path)
    if _is_zip(path):
        header, digest = _read_skops_header(path)
        _check_header(path, header)
        _check_digest(path, header["payload_sha256"], digest)
        sio = _import_skops()
        untrusted, refused = _skops_types(sio, path, trusted_types)
        if refused and not trusted:
            raise UntrustedModelError(
                f"{path} holds types outside scikit-learn, NumPy and fer-classic: {', '.join(refused)}. "
                "Check them, then pass them as trusted_types=[...] (or trusted=True; '--trust' on the "
                "command line) to load the file."
            )
        try:
            pipeline = sio.load(path, trusted=untrusted)
        except Exception as exc:  # skops raises many types on a damaged archive
            raise ModelIntegrityError(f"{path}: the skops data cannot be loaded ({type(exc).__name__}: {exc}).") from exc
        model = FERModel(pipeline=pipeline, metadata=header["metadata"])
    else:
        header = _read_joblib_header(path)
        if header is None:
            model = _load_legacy(path, trusted)
        else:
            _check_header(path, header, ("payload", bytes))
            payload = header["payload"]
            _check_digest(path, header["payload_sha256"], hashlib.sha256(payload).hexdigest())
            if not trusted and not verify(header["signature"], header["payload_sha256"], header["metadata"]):
                raise _untrusted_pickle(path, "was not written by fer-classic on this machine (its "
                                              "signature does not match this user's key)")
            try:
                pipeline = joblib.load(io.BytesIO(payload))
            except Exception as exc:  # unpickling errors of a file that passed its checksum
                raise ModelFileError(f"{path}: the model data cannot be unpickled ({type(exc).__name__}: {exc}); "
                                     "refit the model with the installed versions.") from exc
            model = FERModel(pipeline=pipeline, metadata=header["metadata"])
    _warn_versions(path, model.metadata)
    return model


def inspect_model(path: str | os.PathLike, *, trusted_types: Iterable[str] = ()) -> dict:
    """What a model file holds, read without running any code from it.

    Returns
    -------
    dict
        ``path``, ``file_format`` (joblib, skops, or joblib-unsigned for older or
        foreign pickles), ``format_version``, ``metadata`` (None when it is
        inside a pickle), ``payload_sha256``, ``integrity`` (``ok``),
        ``signed_here`` (written by this user on this machine), and for skops
        files ``untrusted_types`` (beyond skops' defaults) and
        ``types_needing_trust`` (beyond scikit-learn, NumPy, fer-classic and
        ``trusted_types``).

    Raises
    ------
    ModelFileError, ModelIntegrityError, IncompatibleModelError
        As :func:`load_model`.
    """
    path = _existing(path)
    if _is_zip(path):
        header, digest = _read_skops_header(path)
        _check_header(path, header)
        untrusted, needing = _skops_types(_import_skops(), path, trusted_types)
        extra = {"untrusted_types": untrusted, "types_needing_trust": needing}
    else:
        header = _read_joblib_header(path)
        if header is None:
            return {"path": str(path), "file_format": "joblib-unsigned", "format_version": None,
                    "metadata": None, "payload_sha256": None, "integrity": "unknown", "signed_here": False,
                    "note": "an older fer-classic model or a pickle from elsewhere: its metadata is inside "
                            "the pickle; load it with trusted=True ('--trust') only if you trust its source."}
        _check_header(path, header, ("payload", bytes))
        digest = hashlib.sha256(header["payload"]).hexdigest()
        extra = {}
    _check_digest(path, header["payload_sha256"], digest)
    return {
        "path": str(path),
        "file_format": header.get("file_format", "joblib"),
        "format_version": header["format_version"],
        "metadata": header["metadata"],
        "payload_sha256": digest,
        "integrity": "ok",
        "signed_here": verify(header["signature"], digest, header["metadata"]),
        **extra,
    }


def format_model_info(info: dict) -> str:
    """Text of :func:`inspect_model`'s result, for the ``inspect`` command."""
    lines = [
        f"file           {info['path']}",
        f"format         {info['file_format']} (fer-classic format version {info['format_version']})",
        f"integrity      {info['integrity']}" + (f" (sha256 {info['payload_sha256']})" if info["payload_sha256"] else ""),
        "origin         " + ("written by fer-classic for this user on this machine" if info["signed_here"]
                             else "not signed here: from elsewhere or older"),
    ]
    if "note" in info:
        lines.append(f"note           {info['note']}")
    metadata = info.get("metadata") or {}
    training = metadata.get("training", {})
    metrics = metadata.get("metrics", {})
    rows = [
        ("classes", ", ".join(metadata.get("classes", []))),
        ("image shape", "x".join(map(str, metadata.get("image_shape", [])))),
        ("features", metadata.get("features")),
        ("classifier", metadata.get("classifier")),
        ("backend", metadata.get("backend")),
        ("trained on", f"{training.get('source')} ({training.get('n_train')} images, "
                       f"fingerprint {training.get('fingerprint')})" if training else None),
        ("metrics", ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())),
        ("versions", ", ".join(f"{k} {v}" for k, v in metadata.get("versions", {}).items())),
        ("created", metadata.get("created")),
    ]
    lines += [f"{name:<15}{value}" for name, value in rows if value]
    if "untrusted_types" in info:
        lines.append(f"{'skops types':<15}{len(info['untrusted_types'])} beyond skops' defaults: "
                     + (", ".join(info["untrusted_types"]) or "none"))
        needing = info["types_needing_trust"]
        lines.append(f"{'needs trust':<15}" + (", ".join(needing) + " (load with --trust, or trusted_types=[...])"
                                                if needing else "nothing: loads with the default trusted types "
                                                "(scikit-learn, NumPy, fer-classic)"))
    return "\n".join(lines)
