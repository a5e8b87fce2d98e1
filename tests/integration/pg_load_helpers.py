"""Helpers of the PostgreSQL loader tests: a private source schema, CLI runs, raw vs source.

Each test module gets its own PostgreSQL schema (the app's DDL, filled by SQL,
written with the app owner's role), its own warehouse file and dlt directory;
the loader reads that schema through POSTGRES_SCHEMA with its read-only role.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg2

from loaders.settings import PROJECT_DIR, app_postgres_dsn
from loaders.table_stats import DELETED_AT_COLUMN as DELETED_AT

sys.path.insert(0, str(PROJECT_DIR / "bench"))
from pg_synthetic import fill  # type: ignore[import-not-found]  # bench/, on sys.path above

LOADERS = [sys.executable, "-m", "loaders.cli"]

KEYS = {
    "users": ("id",),
    "groups": ("id",),
    "group_members": ("group_id", "user_id"),
    "outings": ("id",),
    "outing_participants": ("outing_id", "user_id"),
    "payments": ("id",),
    "notifications": ("id",),
}

# rows with the awkward values real data has, added to the synthetic ones
SPECIAL_ROWS = """
INSERT INTO users VALUES
  ('00000000-0000-0000-0000-000000000001', E'quote''s "double" \\\\ back', 'a@b.c', NULL,
   '2024-01-01 00:00:00.000001+00', '2024-01-01 00:00:00.000001+00', NULL),
  ('ffffffff-ffff-ffff-ffff-ffffffffffff', E'emoji 🎉 accents éàü\\nnewline', 'x@y.z', E'Zürich\\t',
   '2024-02-29 23:59:59.999999+00', now() - interval '1 day', now() - interval '1 hour');
INSERT INTO payments VALUES
  ('00000000-0000-0000-0000-0000000000aa', '00000000-0000-0000-0000-000000000001', NULL, 9999999999.99, 'CHF',
   'succeeded', '1999-12-31 23:59:59+00', '1999-12-31 23:00:00+00', now() - interval '2 days'),
  ('00000000-0000-0000-0000-0000000000ab', 'ffffffff-ffff-ffff-ffff-ffffffffffff', NULL, 0.01, 'EUR',
   'pending', NULL, '2030-01-01 00:00:00+00', now() - interval '2 days');
"""


@dataclass
class LoaderEnv:
    schema: str
    root: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "wh.duckdb"

    def environ(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOADERS_TEST_")}
        env.update(
            {
                "POSTGRES_SCHEMA": self.schema,
                "WAREHOUSE_PATH": str(self.warehouse),
                "DLT_DATA_DIR": str(self.root / "dlt"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra)
        env.update(overrides)
        return env

    def load(
        self, *args: str, check: bool = True, verbose: bool = False, timeout: float = 300, **env: str
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*LOADERS, *(["-v"] if verbose else []), "load", "--source", "postgres", *args],
            env=self.environ(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=PROJECT_DIR,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"loaders load failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def run_command(self, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
        """Any `loaders` subcommand in this environment; fails the test on a non-zero exit."""
        proc = subprocess.run(
            [*LOADERS, *args],
            env=self.environ(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=PROJECT_DIR,
        )
        if proc.returncode != 0:
            raise AssertionError(
                f"loaders {args[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def start(self, *args: str, verbose: bool = False, **env: str) -> subprocess.Popen[str]:
        """``loaders load --source postgres ARGS`` started in its own session (stdout, stderr piped).

        verbose: debug logging (-v); read stderr to its end or kill the run, or the pipe fills."""
        return subprocess.Popen(
            [*LOADERS, *(["-v"] if verbose else []), "load", "--source", "postgres", *args],
            env=self.environ(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT_DIR,
            start_new_session=True,
        )


def wait_for_line(proc: subprocess.Popen[str], marker: str, timeout: float = 240) -> list[str]:
    """Read stderr until a line containing ``marker``; the lines read."""
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        if marker in line:
            return lines
    out = proc.stdout.read() if proc.stdout and proc.poll() is not None else ""
    raise AssertionError(f"{marker!r} not seen; exit {proc.poll()}:\n{''.join(lines)}\n{out}")


def kill(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def owner_execute(sql: str, params: Any = None, schema: str | None = None) -> None:
    conn = psycopg2.connect(app_postgres_dsn())
    try:
        with conn, conn.cursor() as cur:
            if schema:
                cur.execute(f'SET search_path = "{schema}"')
            cur.execute(sql, params)
    finally:
        conn.close()


def make_schema(payments: int = 3000, special: bool = True) -> str:
    schema = f"lt_{uuid.uuid4().hex[:10]}"
    fill(app_postgres_dsn(), schema, payments)
    if special:
        owner_execute(SPECIAL_ROWS, schema=schema)
    return schema


def drop_schema(schema: str) -> None:
    owner_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _norm(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        return value.astimezone(UTC)
    if isinstance(value, Decimal):
        return value
    return value


def source_rows(schema: str, table: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    conn = psycopg2.connect(app_postgres_dsn())
    try:
        with conn.cursor() as cur:
            cur.execute(f'SELECT * FROM "{schema}".{table}')
            assert cur.description is not None  # a SELECT describes its columns
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
    finally:
        conn.close()
    key_idx = [names.index(k) for k in KEYS[table]]
    return {tuple(_norm(r[i]) for i in key_idx): tuple(_norm(v) for v in r) for r in rows}


def raw_rows(
    warehouse: Path, table: str, columns: list[str] | None = None, tombstones: bool = False
) -> list[tuple[Any, ...]]:
    """Rows of a raw table; live ones only unless ``tombstones`` (deleted keys' rows) are asked for."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        where = "" if tombstones else f' WHERE "{DELETED_AT}" IS NULL'
        return [
            tuple(_norm(v) for v in row)
            for row in conn.execute(f"SELECT {cols} FROM raw_postgres.{table}{where}").fetchall()
        ]


def raw_columns(warehouse: Path, table: str) -> list[tuple[str, str]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return [
            (r[0], r[1])
            for r in conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'raw_postgres' AND table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]


def source_columns(schema: str, table: str) -> list[str]:
    conn = psycopg2.connect(app_postgres_dsn())
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                "ORDER BY ordinal_position",
                (schema, table),
            )
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def assert_raw_matches_source(env: LoaderEnv, tables: list[str] | None = None) -> None:
    """Raw holds exactly the source rows: same keys, no duplicate, same values."""
    for table in tables or list(KEYS):
        columns = source_columns(env.schema, table)
        source = source_rows(env.schema, table)
        raw = raw_rows(env.warehouse, table, columns)
        key_idx = [columns.index(k) for k in KEYS[table]]
        keys = [tuple(r[i] for i in key_idx) for r in raw]
        assert len(keys) == len(set(keys)), f"{table}: duplicate keys in raw"
        raw_by_key = dict(zip(keys, raw, strict=False))
        missing = set(source) - set(raw_by_key)
        extra = set(raw_by_key) - set(source)
        assert not missing and not extra, f"{table}: {len(missing)} rows missing, {len(extra)} extra"
        different = [k for k in source if source[k] != raw_by_key[k]]
        assert not different, (
            f"{table}: {len(different)} rows differ, e.g. {source[different[0]]} vs {raw_by_key[different[0]]}"
        )


def summary(stdout: str) -> dict[str, tuple[str, int, int]]:
    """table -> (mode, rows extracted, rows in raw) from the printed summary."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 7 and parts[0] == "postgres":
            rows[parts[1]] = (parts[2], int(parts[3].replace(",", "")), int(parts[4].replace(",", "")))
    return rows
