"""The CronJob's own command and environment, run here against the local stack.

The Kubernetes part is configuration; the job itself is the `loaders` CLI. This test
renders the chart for databases outside the release (the local PostgreSQL and
Cassandra), takes the pod's steps (command, environment) from the rendered CronJob,
and runs them as the container would, in the image's layout:
  /app   a copy of the files the image gets (.dockerignore), never written to
  /data  a fresh folder (the claim)          /tmp  a fresh folder (the emptyDir)
The environment is the image's ENV overlaid with the pod's env: secretKeyRef values
come from "Secrets" filled with the local stack's credentials, $(VAR) references are
expanded as the kubelet does, and the local stack's .stack/env is out of reach (as in
the pod), so every setting comes from what the chart renders. When the local stack runs
with TLS (its private CA), the chart is given CA Secrets and the pod's CA paths map to that
CA; without TLS there is one deviation: sslmode=require becomes sslmode=disable.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb
import pytest
import yaml
from k8s_helpers import ROOT, dockerfile_stages, image_app_dir, image_env, one

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _loaders_run_exists() -> bool:
    done = subprocess.run([str(BIN / "loaders"), "run", "--help"], capture_output=True, text=True)
    return done.returncode == 0


def _local_settings() -> dict[str, str]:
    from loaders.settings import STACK_ENV_FILE, read_env_file

    values = {**read_env_file(STACK_ENV_FILE), **os.environ}
    needed = ("POSTGRES_DSN", "CASSANDRA_HOSTS", "CASSANDRA_USERNAME", "CASSANDRA_PASSWORD")
    missing = [name for name in needed if not values.get(name)]
    if missing:
        pytest.skip(f"no local stack settings ({', '.join(missing)}): run `make up`")
    return values


def _ensure_source_data(local: dict[str, str]) -> None:
    """The job needs rows to load: generate a small dataset when the stores are empty."""
    import psycopg2

    with psycopg2.connect(local["POSTGRES_DSN"]) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('public.users') is not null")
        has_table = cur.fetchone()[0]
        rows = 0
        if has_table:
            cur.execute("select count(*) from public.users")
            rows = cur.fetchone()[0]
    if not rows:
        done = subprocess.run(
            [str(BIN / "datagen"), "--scale", "0.01", "--seed", "42", "--reset", "-q"],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr[-3000:]


def _expand(value: str, defined: dict[str, str]) -> str:
    """The kubelet's $(VAR) expansion: earlier variables of the container; $$ is a literal $."""
    return re.sub(
        r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
        lambda m: "$" if m.group(0) == "$$" else defined.get(m.group(1), m.group(0)),
        value,
    )


def _map_paths(value: str, layout: dict[str, Path]) -> str:
    for inside, outside in layout.items():
        if value == inside or value.startswith((inside + "/", inside + ":")):
            return str(outside) + value[len(inside) :]
    return value


def container_env(
    container: dict[str, Any], secrets: dict[str, dict[str, str]], layout: dict[str, Path]
) -> dict[str, str]:
    base = image_env(dockerfile_stages()[-1])
    env: dict[str, str] = {}
    for name, value in base.items():
        env[name] = _map_paths(value.replace("$PATH", os.environ.get("PATH", "")), layout)
    for item in container["env"]:
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            value = secrets[ref["name"]][ref["key"]]
        else:
            value = _expand(item["value"], env)
        env[item["name"]] = _map_paths(value, layout)
    return env


def test_the_cronjob_command_does_the_whole_job(render: Any, tmp_path: Path) -> None:
    if not _loaders_run_exists():
        pytest.skip("`loaders run` does not exist yet: nothing to run")
    local = _local_settings()
    _ensure_source_data(local)

    pg = urlsplit(local["POSTGRES_DSN"])
    cass_hosts = local["CASSANDRA_HOSTS"]
    pg_ca = (parse_qs(pg.query).get("sslrootcert") or [local.get("PGSSLROOTCERT", "")])[0]
    cass_ca = local.get("CASSANDRA_SSL_CA_FILE", "")
    values = {
        "publish": {"pseudonymKeySecret": {"name": "local-pseudonym-key", "key": "key"}},
        "postgresql": {
            "enabled": False,
            "external": {
                "host": pg.hostname,
                "port": pg.port or 5432,
                "database": pg.path.lstrip("/"),
                "credentialsSecret": {
                    "name": "local-pg-loader",
                    "usernameKey": "username",
                    "passwordKey": "password",
                },
                "cidrs": ["127.0.0.1/32"],
            },
        },
        "cassandra": {
            "enabled": False,
            "keyspace": local.get("CASSANDRA_KEYSPACE", "app"),
            "external": {
                "hosts": cass_hosts,
                "localDc": local.get("CASSANDRA_LOCAL_DC", "datacenter1"),
                "credentialsSecret": {
                    "name": "local-cassandra-loader",
                    "usernameKey": "username",
                    "passwordKey": "password",
                },
                "cidrs": ["127.0.0.1/32"],
                "port": int(cass_hosts.split(",")[0].rpartition(":")[2] or 9042),
            },
        },
    }
    if pg_ca:
        values["postgresql"]["tls"] = {"serverSecret": "", "caSecret": {"name": "local-ca", "key": "ca.crt"}}
    if cass_ca:
        values["cassandra"]["tls"] = {"enabled": True, "caSecret": {"name": "local-ca", "key": "ca.crt"}}
    values_file = tmp_path / "local-stack.yaml"
    values_file.write_text(yaml.safe_dump(values))
    cronjob = one(render(values_file), "CronJob", "-outings-data-platform")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    steps = pod.get("initContainers", []) + pod["containers"]

    secrets = {
        "local-pg-loader": {"username": unquote(pg.username or ""), "password": unquote(pg.password or "")},
        "local-cassandra-loader": {
            "username": local["CASSANDRA_USERNAME"],
            "password": local["CASSANDRA_PASSWORD"],
        },
        "local-pseudonym-key": {"key": "k" * 64},
    }
    app = image_app_dir(tmp_path / "app")
    data, scratch = tmp_path / "data", tmp_path / "tmp"
    data.mkdir()
    scratch.mkdir()
    layout = {"/app": app, "/data": data, "/tmp": scratch, "/opt/venv/bin": BIN}
    # the CA Secrets' volumes (read-only) hold the local stack's CA
    layout.update(
        {
            f"/etc/outings/tls/{store}/ca.crt": Path(ca)
            for store, ca in (("postgresql", pg_ca), ("cassandra", cass_ca))
            if ca
        }
    )
    before = sorted((p.relative_to(app).as_posix(), p.stat().st_mtime_ns) for p in app.rglob("*"))

    for step in steps:
        env = container_env(step, secrets, layout)
        env["LOCAL_STACK_DIR"] = str(
            tmp_path / "no-local-stack"
        )  # as in the pod: no .stack/env to fall back on
        env["PYTHONPATH"] = str(app)  # the image's /app, not the checkout
        env["LANG"] = os.environ.get("LANG", "C.UTF-8")
        if pg_ca:
            assert "sslmode=verify-full" in env["POSTGRES_DSN"] and env["PGSSLROOTCERT"] == pg_ca
            env["POSTGRES_DSN"] = env["POSTGRES_DSN"].replace("/etc/outings/tls/postgresql/ca.crt", pg_ca)
        else:
            for name in ("POSTGRES_DSN", "PGSSLMODE"):
                assert "sslmode=require" in env[name] or env[name] == "require"
                env[name] = env[name].replace("require", "disable")  # the local stack has no TLS
        if cass_ca:
            assert env["CASSANDRA_SSL_CA_FILE"] == cass_ca
        command = [_map_paths(arg, layout) for arg in step["command"]]
        command[0] = str(BIN / command[0])
        done = subprocess.run(command, env=env, cwd=app, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, (
            f"step {step['name']} ({' '.join(step['command'])}) exited {done.returncode}:\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )

    # The whole job: loaded (dlt state on the claim), built, documented, published, reported.
    assert "job done" in done.stdout, done.stdout[-2000:]
    assert any((data / "dlt").rglob("state.json")) or any((data / "dlt").iterdir())
    assert (data / "warehouse" / "warehouse.duckdb").is_file()
    published = data / "published" / "warehouse.duckdb"
    with duckdb.connect(str(data / "warehouse" / "warehouse.duckdb"), read_only=True) as conn:
        schemas = {
            row[0]
            for row in conn.execute("select distinct table_schema from information_schema.tables").fetchall()
        }
        assert {
            "raw_postgres",
            "raw_cassandra",
        } <= schemas  # the raw schemas stay in the job's private warehouse
    with duckdb.connect(str(published), read_only=True) as conn:
        schemas = {
            row[0]
            for row in conn.execute("select distinct table_schema from information_schema.tables").fetchall()
        }
        assert not any(schema.startswith("raw_") for schema in schemas), schemas
        assert any(schema.endswith("gold") for schema in schemas), schemas
    assert (data / "published" / "docs" / "index.html").is_file()
    # dbt wrote its target to the claim (partial_parse.msgpack serves the next run), not to /app
    assert (data / "dbt" / "target" / "manifest.json").is_file()
    assert (data / "dbt" / "target" / "partial_parse.msgpack").is_file()
    # /app is read-only in the pod: the run wrote nothing there.
    after = sorted((p.relative_to(app).as_posix(), p.stat().st_mtime_ns) for p in app.rglob("*"))
    assert after == before, sorted(set(after) ^ set(before))[:20]
