"""Which model files this machine wrote: an HMAC signature with a per-user key.

A joblib/pickle file runs code when it is loaded. fer-classic only loads one
without being told to trust it when it carries a valid signature, which only
``save_model`` on this machine (same user, same key file) can make.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import warnings
from pathlib import Path

__all__ = ["config_dir", "key_path", "sign", "signing_key", "verify"]

_KEY_FILE = "model-signing.key"
_KEY_BYTES = 32


def config_dir() -> Path:
    """Folder of fer-classic's per-user files.

    ``$FER_CLASSIC_HOME`` when set, else ``$XDG_CONFIG_HOME/fer-classic``,
    else ``~/.config/fer-classic``.

    Returns
    -------
    Path
        The folder (not created here). The first save makes it: with its
        parents for ``$FER_CLASSIC_HOME``; ``$XDG_CONFIG_HOME`` and
        ``~/.config`` only where the folder above them exists (no home
        folder is made, as for ``HOME=/nonexistent`` of service accounts).
    """
    if os.environ.get("FER_CLASSIC_HOME"):
        return Path(os.environ["FER_CLASSIC_HOME"])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "fer-classic"


def key_path() -> Path:
    """Path of this user's signing key (created on the first save).

    Returns
    -------
    Path
        ``model-signing.key`` under :func:`config_dir`; it may not exist yet.
    """
    return config_dir() / _KEY_FILE


def _read_key() -> bytes | None:
    """This user's key, or None if there is none of the right length (nothing was signed with another)."""
    try:
        key = key_path().read_bytes()
    except OSError:
        return None
    return key if len(key) == _KEY_BYTES else None


def _base_folder() -> Path | None:
    """The folder :func:`config_dir` is made in, which must exist: the home folder (or the one above
    ``$XDG_CONFIG_HOME``); None for ``$FER_CLASSIC_HOME``, made whole as the user named it."""
    if os.environ.get("FER_CLASSIC_HOME"):
        return None
    if os.environ.get("XDG_CONFIG_HOME"):
        return Path(os.environ["XDG_CONFIG_HOME"]).parent
    return Path.home()


def _make_folder(folder: Path) -> None:
    """Make ``folder`` (the key's), never a missing home folder above it: that is an OSError naming the home."""
    base = _base_folder()
    if base is not None:
        try:
            folder.relative_to(base)
        except ValueError:  # a key_path() of another place (a test's): made as asked
            pass
        else:
            # An empty HOME is no home: Path.home() is then "/", and the key folder was made at /.config.
            if os.environ.get("HOME") == "" and not os.environ.get("XDG_CONFIG_HOME"):
                raise FileNotFoundError("HOME is empty (no home folder), and fer-classic makes no home folder; "
                                        "set FER_CLASSIC_HOME to a folder for the key")
            if not base.is_dir():
                raise FileNotFoundError(f"the folder {base} does not exist, and fer-classic makes no home folder")
    folder.mkdir(parents=True, exist_ok=True)


def _install_key(path: Path, *, replace: bool) -> None:
    """Put a new key at ``path`` whole: written to a temporary file beside it, then linked into place.

    ``os.link`` fails when ``path`` exists, so of concurrent first saves one
    key wins and every process reads that one (never a file still being
    written, as the O_EXCL-then-write creation let a second process do).
    ``replace``: ``path`` holds no usable key; it is replaced (``os.replace``).
    """
    _make_folder(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0o600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(_KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process was first: its key is read and used
        except OSError:  # a file system without hard links: rename, unless a key appeared meanwhile
            if not path.exists():
                os.replace(tmp, path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def signing_key() -> bytes:
    """This user's signing key, created on the first call.

    A key file of another length than a key's is replaced, with a warning
    naming it: such a file signed nothing (no key of that length is used),
    so nothing signed before is lost; it is what an interrupted first save
    of older fer-classic versions left.

    Raises
    ------
    OSError
        If no key can be read or stored (the folder is not writable, the
        file is not readable, the home folder does not exist).
    """
    path = key_path()
    for _ in range(3):  # a key file another process replaces meanwhile is read again
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            _install_key(path, replace=False)
            continue
        if len(key) == _KEY_BYTES:
            return key
        warnings.warn(f"The model-signing key {path} holds {len(key)} bytes, not a {_KEY_BYTES}-byte key (an "
                      "interrupted first save, or an edit); it signed nothing, and is replaced by a new key.",
                      UserWarning, stacklevel=2)
        _install_key(path, replace=True)
    raise OSError(f"{path} was replaced by another process during each of three reads")


def _message(payload_sha256: str, metadata: dict) -> bytes:
    canonical = json.dumps(metadata, sort_keys=True, separators=(",", ":"))
    return f"fer-classic-model\0{payload_sha256}\0{canonical}".encode()


def sign(payload_sha256: str, metadata: dict) -> str:
    """HMAC-SHA256 of the payload hash and metadata; ``""`` if no key can be had, with a warning naming it.

    Warns
    -----
    UserWarning
        If no key can be read or stored: the file is saved unsigned, so
        loading it needs ``trusted=True`` (``--trust``).
    """
    try:
        key = signing_key()
    except OSError as exc:
        warnings.warn(f"No model-signing key could be read or created at {key_path()} ({type(exc).__name__}: "
                      f"{exc}): the model is saved unsigned, so loading it will need trusted=True ('--trust'). "
                      "Make that folder writable (or set FER_CLASSIC_HOME to a writable folder) and save the "
                      "model again to sign it.", UserWarning, stacklevel=2)
        return ""
    return hmac.new(key, _message(payload_sha256, metadata), hashlib.sha256).hexdigest()


def verify(signature: str, payload_sha256: str, metadata: dict) -> bool:
    """Whether ``signature`` was made by :func:`sign` with this user's key."""
    key = _read_key()
    if key is None or not isinstance(signature, str) or not signature:
        return False
    expected = hmac.new(key, _message(payload_sha256, metadata), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)
