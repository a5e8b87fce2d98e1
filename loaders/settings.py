"""Connection settings, read from the environment.

Every tool of the product (loaders, generator, dbt via profiles.yml, tests)
reads the same variables. When a variable is unset, the value written by the
local stack (``make up``) in ``.stack/env`` is used, so that a developer needs
no exports; secrets are never defaults in code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from loaders.errors import UserError

PROJECT_DIR = Path(os.environ.get("PROJECT_DIR", Path(__file__).resolve().parents[1]))
STACK_DIR = Path(os.environ.get("LOCAL_STACK_DIR", PROJECT_DIR / ".stack"))
STACK_ENV_FILE = STACK_DIR / "env"

DEFAULT_CASSANDRA_PORT = 9042


class SettingsError(UserError):
    """A required setting is missing or malformed; the message names the fix."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse ``export KEY=VALUE`` / ``KEY=VALUE`` lines (values may be single-quoted)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw_line in path.read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def setting(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    """The environment's value, else the local stack's, else ``default``."""
    value = os.environ.get(name)
    if value is None:
        value = read_env_file(STACK_ENV_FILE).get(name)
    if value is None:
        value = default
    if required and not value:
        raise SettingsError(
            f"{name} is not set: export it (see README 'Configuration') or start the local stack with `make up`"
        )
    return value


def parse_hosts(hosts: str, default_port: int = DEFAULT_CASSANDRA_PORT) -> list[tuple[str, int]]:
    """Parse ``host[:port],host[:port]`` into (host, port) pairs."""
    parsed: list[tuple[str, int]] = []
    for item in hosts.split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, str(default_port)
        if not port.isdigit():
            raise SettingsError(f"CASSANDRA_HOSTS entry {item!r} has a bad port: use host[:port],host[:port]")
        parsed.append((host, int(port)))
    if not parsed:
        raise SettingsError("CASSANDRA_HOSTS is empty: use host[:port],host[:port]")
    return parsed


VERIFYING_SSLMODES = ("verify-full", "verify-ca")


def _dsn_params(dsn: str) -> dict[str, str]:
    from psycopg2.extensions import parse_dsn

    try:
        return parse_dsn(dsn)
    except Exception:
        return {}


def _add_dsn_params(dsn: str, extra: dict[str, str]) -> str:
    """``dsn`` with ``extra`` libpq parameters appended, in the DSN's own form (URL or key=value)."""
    if not extra:
        return dsn
    if "://" in dsn:
        separator = "&" if urlsplit(dsn).query else "?"
        return dsn + separator + urlencode(extra, quote_via=quote)
    quoted = (
        f"{key}='" + value.replace("\\", "\\\\").replace("'", "\\'") + "'" for key, value in extra.items()
    )
    return " ".join([dsn.strip(), *quoted])


def verified_tls_dsn(dsn: str, name: str) -> str:
    """``dsn`` verifying the server's certificate whenever a CA is configured.

    A CA is configured by ``sslrootcert`` in the DSN or by PGSSLROOTCERT (environment or the
    local stack's .stack/env). Then the DSN gets ``sslmode=verify-full`` when it names no mode,
    the CA when it names none, and a mode that would not check the certificate is refused: libpq
    (psycopg2 and DuckDB's postgres_scanner alike) then verifies the chain and the host name."""
    params = _dsn_params(dsn)
    root_cert = params.get("sslrootcert") or setting("PGSSLROOTCERT")
    if not root_cert or root_cert == "system":
        return dsn
    extra: dict[str, str] = {}
    if "sslrootcert" not in params:
        extra["sslrootcert"] = root_cert
    mode = params.get("sslmode") or os.environ.get("PGSSLMODE")
    if not mode:
        extra["sslmode"] = "verify-full"
    elif mode not in VERIFYING_SSLMODES:
        raise SettingsError(
            f"{name} uses sslmode={mode} although a CA is configured ({root_cert}), so the server's certificate "
            f"would not be checked: set sslmode=verify-full in {name} (or drop sslrootcert / PGSSLROOTCERT)"
        )
    if not Path(root_cert).is_file():
        raise SettingsError(
            f"the PostgreSQL CA file {root_cert} (sslrootcert / PGSSLROOTCERT) does not exist: "
            "point it at the PEM file of the CA that signed the server's certificate"
        )
    return _add_dsn_params(dsn, extra)


@dataclass(frozen=True)
class PostgresSettings:
    dsn: str  # the loaders' read-only role; verify-full TLS whenever a CA is configured

    @classmethod
    def from_env(cls) -> PostgresSettings:
        return cls(dsn=verified_tls_dsn(setting("POSTGRES_DSN", required=True) or "", "POSTGRES_DSN"))


def parse_bool(name: str, default: bool) -> bool:
    value = setting(name)
    if value is None or not value.strip():
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={value!r} is not a boolean: use true or false")


def whole_number(name: str, default: int, minimum: int = 0) -> int:
    """An integer setting of at least ``minimum``: the one parser of the loaders' numeric settings."""
    raw = (setting(name) or "").strip() or str(default)
    try:
        value: int | None = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise SettingsError(
            f"{name}={raw!r} is not a whole number of at least {minimum}: set it to {minimum} or more, or unset it"
        )
    return value


CURSOR_LAG_ENV = "LOADERS_CURSOR_LAG_SECONDS"
DEFAULT_CURSOR_LAG_SECONDS = 600


def cursor_lag() -> timedelta:
    """How far before its cursor each source reads again (both sources; default 600 s)."""
    return timedelta(seconds=whole_number(CURSOR_LAG_ENV, DEFAULT_CURSOR_LAG_SECONDS))


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, e.g. a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class CassandraSettings:
    hosts: list[tuple[str, int]]
    username: str
    password: str
    keyspace: str
    local_dc: str
    # TLS: the PEM CA that signed the nodes' certificates; None = no TLS
    ssl_ca_file: str | None = None
    # with a CA: check that the certificate names the host connected to (CASSANDRA_SSL_HOSTNAME_CHECK)
    ssl_hostname_check: bool = True

    @classmethod
    def from_env(cls, *, owner: bool = False) -> CassandraSettings:
        """The loaders' read-only role, or with ``owner`` the app's role (generator)."""
        prefix = "APP_" if owner else ""
        return cls(
            hosts=parse_hosts(setting("CASSANDRA_HOSTS", "127.0.0.1:19042") or ""),
            username=setting(f"{prefix}CASSANDRA_USERNAME", required=True) or "",
            password=setting(f"{prefix}CASSANDRA_PASSWORD", required=True) or "",
            keyspace=setting("CASSANDRA_KEYSPACE", "app") or "app",
            local_dc=setting("CASSANDRA_LOCAL_DC", "datacenter1") or "datacenter1",
            ssl_ca_file=setting("CASSANDRA_SSL_CA_FILE") or None,
            ssl_hostname_check=parse_bool("CASSANDRA_SSL_HOSTNAME_CHECK", True),
        )


def app_postgres_dsn() -> str:
    """The app owner's DSN (the generator writes with it; loaders never use it)."""
    return verified_tls_dsn(setting("APP_POSTGRES_DSN", required=True) or "", "APP_POSTGRES_DSN")


def warehouse_path() -> Path:
    """The DuckDB file the loaders and dbt build into."""
    return Path(setting("WAREHOUSE_PATH", str(PROJECT_DIR / "warehouse" / "warehouse.duckdb")) or "")
