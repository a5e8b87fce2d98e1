"""The secret key of the pseudonyms (HMAC-SHA256) that replace personal data for readers.

The key comes from ``PUBLISH_PSEUDONYM_KEY`` (in Kubernetes: the chart's Secret
``publish.pseudonymKeySecret``, generated once by the chart unless you name your own; k8s/README.md).
Outside Kubernetes, when the variable is unset, the job generates a key once and keeps it
beside the build warehouse (``<WAREHOUSE_PATH folder>/.publish_pseudonym_key``, mode 0600):
the key is as private as the warehouse it protects, and the same key gives readers the same
pseudonyms from one publish to the next. Inside a pod (``KUBERNETES_SERVICE_HOST`` is set) an
unset key is an error: a key generated on the claim would sit beside the published folder.
The key is never printed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from loaders.settings import SettingsError, setting, warehouse_path

KEY_ENV = "PUBLISH_PSEUDONYM_KEY"
LOCAL_KEY_FILE = ".publish_pseudonym_key"
MIN_KEY_CHARS = 32


def in_kubernetes() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def local_key_path() -> Path:
    return warehouse_path().parent / LOCAL_KEY_FILE


def pseudonym_key() -> bytes:
    """The key (UTF-8 bytes of the variable or of the local key file); one-line errors name the fix."""
    value = setting(KEY_ENV)
    if value is not None:
        return _checked(value, f"{KEY_ENV}")
    if in_kubernetes():
        raise SettingsError(
            f"{KEY_ENV} is not set: the job's pod needs the pseudonym key from its Secret (chart value "
            "publish.pseudonymKeySecret, k8s/README.md)"
        )
    return _checked(_local_key(local_key_path()), str(local_key_path()))


def key_fingerprint(key: bytes) -> str:
    """Names the key without revealing it (readers see it in ops.publication: a new one means new pseudonyms)."""
    return hmac.new(key, b"outings publish pseudonym key fingerprint", hashlib.sha256).hexdigest()[:16]


def _checked(value: str, origin: str) -> bytes:
    value = value.strip()
    if len(value) < MIN_KEY_CHARS:
        raise SettingsError(
            f"the pseudonym key from {origin} has {len(value)} characters: use at least {MIN_KEY_CHARS} random "
            "characters (e.g. `openssl rand -hex 32`)"
        )
    return value.encode("utf-8")


def _local_key(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SettingsError(
                f"the pseudonym key file {path} is readable by others (mode {mode:o}): `chmod 600 {path}`"
            ) from None
        return path.read_text(encoding="utf-8")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32))
        handle.flush()
        os.fsync(handle.fileno())
    return path.read_text(encoding="utf-8")
