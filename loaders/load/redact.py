"""Keep credentials out of messages and logs.

``redact`` masks the password of URLs (``scheme://user:secret@host``),
``password=...`` pairs and the literal secrets the settings hold; the log
filter applies it to every record (message and traceback) before a handler
prints it.
"""

from __future__ import annotations

import logging
import re
import traceback
from urllib.parse import unquote, urlsplit

from loaders.settings import setting

MASK = "***"
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@'\"]*:)[^@\s'\"]*@")
_KEY_VALUE = re.compile(r"(\b(?:password|passwd|pwd)\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s,;)]+)", re.IGNORECASE)
# settings that hold a DSN with a password in it
_DSN_SETTINGS = ("POSTGRES_DSN", "APP_POSTGRES_DSN")
# settings whose whole value is a secret (libpq's PGPASSWORD, the Cassandra roles' passwords, the
# key of the published warehouse's pseudonyms)
_SECRET_SETTINGS = (
    "PGPASSWORD",
    "CASSANDRA_PASSWORD",
    "APP_CASSANDRA_PASSWORD",
    "PUBLISH_PSEUDONYM_KEY",
)


def _password_of(value: str) -> str | None:
    if "://" in value:
        try:
            password = urlsplit(value).password
        except ValueError:
            return None
        return unquote(password) if password else None
    match = _KEY_VALUE.search(value)
    return match.group(2).strip("'\"") if match else None


def known_secrets() -> list[str]:
    """The secret values of the current settings (passwords), longest first."""
    secrets: set[str] = set()
    for name in (*_DSN_SETTINGS, *_SECRET_SETTINGS):
        try:
            value = setting(name)
        except Exception:
            value = None
        if not value:
            continue
        secret = value if name in _SECRET_SETTINGS else _password_of(value)
        if secret and len(secret) >= 4:
            secrets.add(secret)
    return sorted(secrets, key=len, reverse=True)


def redact(text: str, secrets: list[str] | None = None) -> str:
    text = _URL_PASSWORD.sub(r"\1" + MASK + "@", text)
    text = _KEY_VALUE.sub(r"\1" + MASK, text)
    for secret in known_secrets() if secrets is None else secrets:
        text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._secrets = known_secrets()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = redact(message, self._secrets)
        record.args = None
        if record.exc_info:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)), self._secrets)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


def install_log_redaction() -> None:
    """Mask secrets in every handler of the root and dlt loggers (idempotent)."""
    for logger in (logging.getLogger(), logging.getLogger("dlt")):
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
