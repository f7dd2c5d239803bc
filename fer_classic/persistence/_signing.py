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
from pathlib import Path

__all__ = ["config_dir", "key_path", "sign", "verify"]

_KEY_FILE = "model-signing.key"
_KEY_BYTES = 32


def config_dir() -> Path:
    """Folder of fer-classic's per-user files.

    ``$FER_CLASSIC_HOME`` when set, else ``$XDG_CONFIG_HOME/fer-classic``,
    else ``~/.config/fer-classic``.
    """
    if os.environ.get("FER_CLASSIC_HOME"):
        return Path(os.environ["FER_CLASSIC_HOME"])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "fer-classic"


def key_path() -> Path:
    """Path of this user's signing key (created on the first save)."""
    return config_dir() / _KEY_FILE


def _read_key() -> bytes | None:
    try:
        key = key_path().read_bytes()
    except OSError:
        return None
    return key if len(key) == _KEY_BYTES else None


def _create_key() -> bytes | None:
    path = key_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes saving at once must not overwrite each other's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key()
    except OSError:
        return None
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(_KEY_BYTES))
    return _read_key()


def _message(payload_sha256: str, metadata: dict) -> bytes:
    canonical = json.dumps(metadata, sort_keys=True, separators=(",", ":"))
    return f"fer-classic-model\0{payload_sha256}\0{canonical}".encode()


def sign(payload_sha256: str, metadata: dict) -> str:
    """HMAC-SHA256 of the payload hash and metadata; ``""`` if no key can be stored."""
    key = _read_key() or _create_key()
    if key is None:
        return ""
    return hmac.new(key, _message(payload_sha256, metadata), hashlib.sha256).hexdigest()


def verify(signature: str, payload_sha256: str, metadata: dict) -> bool:
    """Whether ``signature`` was made by :func:`sign` with this user's key."""
    key = _read_key()
    if key is None or not isinstance(signature, str) or not signature:
        return False
    expected = hmac.new(key, _message(payload_sha256, metadata), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)
