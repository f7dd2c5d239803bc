"""The joblib model file: a signed, checksummed header around the pickled pipeline.

The file is a pickle of a plain dictionary (the header fields of
:mod:`._header` plus ``payload``, the joblib bytes of the fitted pipeline).
The outer dictionary is read with an unpickler that refuses every class, so
the metadata, the checksum and the signature are checked before any code in
the payload can run. ``joblib.load`` still opens the file.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tempfile
import weakref
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib

from .._fileio import atomic_write
from ..exceptions import ModelFileError, ModelIntegrityError, UntrustedModelError
from ._header import FORMAT, check_digest, check_header, check_metadata, check_version, make_header
from ._model import FERModel
from ._signing import key_path, verify

__all__ = ["encode_joblib", "joblib_info", "load_joblib", "save_joblib"]

# First bytes of the streams joblib compresses with (zlib, gzip, bz2, xz, lzma):
# such a file is an older fer-classic model or another joblib file.
_JOBLIB_COMPRESSED = (b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00")

UNSIGNED_NOTE = ("an older fer-classic model or a pickle from elsewhere: its metadata is inside the pickle; "
                 "load it with trusted=True ('--trust') only if you trust its source.")


# Compressed and written this much at a time: the compressed bytes are never whole in memory beside the raw ones.
_CHUNK = 64 * 2**20


def _compress_into(raw: memoryview, spool) -> None:
    """zlib level 3 of ``raw`` written to the open file ``spool`` by chunks: the bytes of ``zlib.compress(raw, 3)``."""
    compressor = zlib.compressobj(3)
    for start in range(0, len(raw), _CHUNK):
        spool.write(compressor.compress(raw[start : start + _CHUNK]))
    spool.write(compressor.flush())


class _Payload:
    """Joblib bytes being compressed in a thread into a temporary file; :meth:`result` reads them back.

    ``zlib.compress`` held the raw pickle, the compressed bytes and, as it
    trimmed them at its end, a second copy of them: the command of record's
    model (2.68 GiB raw, 2.49 compressed) raised ``fit``'s peak from 12.6 to
    15.5 GiB while the test images were scored. The file lies in ``folder``
    (the model's, whose disk takes the file anyway), else the system's
    temporary folder; it is deleted when closed: by :meth:`result`, or when an
    abandoned payload is collected (on Linux it never has a name; on Windows a
    ``tmp...`` name until then). The bytes are kept: ``result`` may be asked again.
    """

    def __init__(self, raw: memoryview, folder: Path | None = None):
        self._bytes = None
        self._spool = tempfile.TemporaryFile(dir=folder if folder is not None and folder.is_dir() else None)
        self._closer = weakref.finalize(self, self._spool.close)  # a save never finished (the scoring failed)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="fer-classic-save")
        self._future = self._executor.submit(_compress_into, raw, self._spool)

    def result(self) -> bytes:
        if self._bytes is not None:  # a finish() retried after a failed write
            return self._bytes
        try:
            self._future.result()
            # The thread ends here (the command line exits without Python's teardown only when no other thread is
            # left, cli.run), and with it the raw pickle, before the compressed bytes are read.
            self._executor.shutdown(wait=True)
            self._spool.seek(0)
            self._bytes = self._spool.read()
            return self._bytes
        finally:
            self._executor.shutdown(wait=True)
            self._closer()


def encode_joblib(pipeline, folder: Path | None = None) -> _Payload:
    """The joblib bytes of ``pipeline``, compressed (zlib level 3) in a thread: ``.result()`` gives them.

    The pipeline is pickled now, uncompressed (milliseconds), so nothing done to
    it afterwards (the caches its first prediction fills) reaches the file;
    only the compression (a quarter of a second for a 6k-image HOG model, with
    the GIL released) runs on while the caller goes on, e.g. predicting the
    test images. The bytes are what ``joblib.dump(pipeline, compress=3)``
    writes, the same size, read by ``joblib.load``. ``folder``: where the
    compressed bytes wait (see :class:`_Payload`), the model's folder.
    """
    raw = io.BytesIO()
    joblib.dump(pipeline, raw, compress=0)
    return _Payload(raw.getbuffer(), folder)


def save_joblib(pipeline, metadata: dict, path: Path, payload: _Payload | None = None) -> Path:
    """Write ``pipeline`` and its plain ``metadata`` to ``path`` atomically.

    ``payload``: :func:`encode_joblib` of ``pipeline``, when it was started earlier.
    """
    payload = (payload or encode_joblib(pipeline, path.parent)).result()
    header = {**make_header(metadata, hashlib.sha256(payload).hexdigest(), "joblib"), "payload": payload}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            pickle.dump(header, handle, protocol=4)

    return atomic_write(path, write)


class _ClassRefused(Exception):
    """The pickle names a class or function: it is not a plain header."""


class _HeaderUnpickler(pickle.Unpickler):
    # Plain dicts, strings, bytes and numbers need no class lookup; anything
    # else could run code, so it is refused before it is resolved.
    def find_class(self, module: str, name: str):
        raise _ClassRefused(f"{module}.{name}")


def read_header(path: Path) -> dict | None:
    """The checked header of a version-2 joblib model; None for other joblib/pickle files."""
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
            message = str(exc).rstrip(".")  # "invalid load key, '{'." ends in its own full stop
            if isinstance(exc, MemoryError):  # raised with no message: a size declared in the bytes
                message = "it declares a value larger than the memory available, which no model file does"
            kind = "truncated" if "truncated" in message else "damaged, truncated or another file type"
            raise ModelIntegrityError(
                f"{path} is not a readable fer-classic model ({kind}): {type(exc).__name__}: "
                f"{message}. Copy it again or refit it with 'fer-classic fit'."
            ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(
            f"{path} is not a fer-classic model (no '{FORMAT}' header: another pickle, or another kind of file); "
            "save models with fer_classic.save_model or 'fer-classic fit'."
        )
    check_header(path, header, ("payload", bytes))
    return header


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
    check_version(path, payload)
    metadata = payload.get("metadata", {})
    check_metadata(path, metadata)
    return FERModel(pipeline=payload["pipeline"], metadata=metadata)


def load_joblib(path: Path, *, trusted: bool) -> FERModel:
    """Load a joblib model file, after its header, checksum, metadata and signature are checked."""
    header = read_header(path)
    if header is None:
        return _load_legacy(path, trusted)
    payload = header["payload"]
    check_digest(path, header["payload_sha256"], hashlib.sha256(payload).hexdigest())
    check_metadata(path, header["metadata"])
    if not trusted and not verify(header["signature"], header["payload_sha256"], header["metadata"]):
        if not header["signature"]:  # save_model could not store a key (it warned): not a stranger's file
            raise _untrusted_pickle(path, "carries no signature (it was saved where no model-signing key could be "
                                          f"read or created, as at {key_path()}, or written unsigned elsewhere); "
                                          "if it is your own model, load it trusted and save it again to sign it")
        raise _untrusted_pickle(path, "was not written by fer-classic on this machine (its "
                                      "signature does not match this user's key)")
    try:
        pipeline = joblib.load(io.BytesIO(payload))
    except Exception as exc:  # unpickling errors of a file that passed its checksum
        raise ModelFileError(f"{path}: the model data cannot be unpickled ({type(exc).__name__}: {exc}); "
                             "refit the model with the installed versions.") from exc
    return FERModel(pipeline=pipeline, metadata=header["metadata"])


def joblib_info(path: Path) -> dict:
    """Header fields of a joblib model file, read without unpickling any class."""
    header = read_header(path)
    if header is None:
        return {"file_format": "joblib-unsigned", "format_version": None, "metadata": None,
                "payload_sha256": None, "integrity": "unknown", "signed_here": False, "note": UNSIGNED_NOTE}
    digest = hashlib.sha256(header["payload"]).hexdigest()
    check_digest(path, header["payload_sha256"], digest)
    return {
        "file_format": header.get("file_format", "joblib"),
        "format_version": header["format_version"],
        "metadata": header["metadata"],
        "payload_sha256": digest,
        "integrity": "ok",
        "signed": bool(header["signature"]),
        "signed_here": verify(header["signature"], digest, header["metadata"]),
    }
