"""Connection settings, read from the environment.

Every tool of the product (loaders, generator, dbt via profiles.yml, tests)
reads the same variables. When a variable is unset, the value written by the
local stack (``make up``) in ``.stack/env`` is used, so that a developer needs
no exports; secrets are never defaults in code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class PostgresSettings:
    dsn: str  # the loaders' read-only role

    @classmethod
    def from_env(cls) -> "PostgresSettings":
        return cls(dsn=setting("POSTGRES_DSN", required=True) or "")


@dataclass(frozen=True)
class CassandraSettings:
    hosts: list[tuple[str, int]]
    username: str
    password: str
    keyspace: str
    local_dc: str

    @classmethod
    def from_env(cls, *, owner: bool = False) -> "CassandraSettings":
        """The loaders' read-only role, or with ``owner`` the app's role (generator)."""
        prefix = "APP_" if owner else ""
        return cls(
            hosts=parse_hosts(setting("CASSANDRA_HOSTS", "127.0.0.1:19042") or ""),
            username=setting(f"{prefix}CASSANDRA_USERNAME", required=True) or "",
            password=setting(f"{prefix}CASSANDRA_PASSWORD", required=True) or "",
            keyspace=setting("CASSANDRA_KEYSPACE", "app") or "app",
            local_dc=setting("CASSANDRA_LOCAL_DC", "datacenter1") or "datacenter1",
        )


def app_postgres_dsn() -> str:
    """The app owner's DSN (the generator writes with it; loaders never use it)."""
    return setting("APP_POSTGRES_DSN", required=True) or ""


def warehouse_path() -> Path:
    """The DuckDB file the loaders and dbt build into."""
    return Path(setting("WAREHOUSE_PATH", str(PROJECT_DIR / "warehouse" / "warehouse.duckdb")) or "")
