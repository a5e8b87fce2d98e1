"""The pipeline pod's environment, as the chart renders it, read by the loaders' own settings.

For each values file, the run's container environment is taken from the rendered CronJob
(Secret references filled with stand-in values, $(VAR) expanded as the kubelet does, the CA
mount paths mapped to a real PEM file) and handed to `loaders.settings` and the pseudonym key
in a fresh process with no local stack to fall back on: the names the chart sets are the names
the loaders read, and a configured CA gives verified TLS on both links.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from k8s_helpers import ROOT, by_kind

TLS_DIR = "/etc/outings/tls"
PROBE = """
import json
from loaders.settings import CassandraSettings, PostgresSettings
from loaders.job.pseudonym_key import pseudonym_key
cass = CassandraSettings.from_env()
print(json.dumps({"dsn": PostgresSettings.from_env().dsn, "hosts": cass.hosts, "user": cass.username,
                  "keyspace": cass.keyspace, "local_dc": cass.local_dc, "ca": cass.ssl_ca_file,
                  "hostname_check": cass.ssl_hostname_check, "key_length": len(pseudonym_key())}))
"""


def _pod_env(container: dict[str, Any], ca_dir: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in container["env"]:
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            value = "k" * 64 if item["name"] == "PUBLISH_PSEUDONYM_KEY" else f"{ref['name']}/{ref['key']}"
        else:
            value = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), item["value"]
            )
        env[item["name"]] = value.replace(TLS_DIR, str(ca_dir))
    return env


def _settings(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    base = {
        "PATH": os.environ["PATH"],
        "LOCAL_STACK_DIR": str(tmp_path / "no-local-stack"),
        "KUBERNETES_SERVICE_HOST": "10.43.0.1",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def ca_dir(tmp_path: Path, make_test_ca: Callable[[Path, str], Path]) -> Path:
    folder = tmp_path / "tls"
    for store in ("postgresql", "cassandra"):
        make_test_ca(folder / store / "ca.crt", f"{store} test CA")
    return folder


def _pipeline_containers(manifests: str) -> list[dict[str, Any]]:
    """The container of each pipeline CronJob (the daily run and the weekly deep reconciliation)."""
    cronjobs = by_kind(manifests, "CronJob")
    assert len(cronjobs) == 2, [c["metadata"]["name"] for c in cronjobs]
    return [c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0] for c in cronjobs]


def test_defaults_are_read_as_plain_tls_and_the_loader_role(
    render: Any, ca_dir: Path, tmp_path: Path
) -> None:
    for container in _pipeline_containers(render()):
        read = _settings(_pod_env(container, ca_dir), tmp_path)
        assert read["dsn"] == (
            "host=outings-pg.projet-m1.svc port=5432 dbname=app "
            "user=loader.outings-pg.credentials.postgresql.acid.zalan.do/username sslmode=require"
        )
        assert read["hosts"] == [["outings-cassandra-dc1-service.projet-m1.svc", 9042]]
        assert (
            read["user"] == "projet-m1-outings-data-platform-cassandra-loader/username"
        )  # the loader role's Secret
        assert (read["keyspace"], read["local_dc"], read["ca"]) == ("app", "dc1", None)
        assert read["key_length"] == 64


@pytest.mark.parametrize("values_file", ["tls-monitoring.yaml", "external-databases.yaml"])
def test_a_configured_ca_is_read_as_verified_tls(
    render: Any, ca_dir: Path, tmp_path: Path, values_file: str
) -> None:
    """The one check of the pipeline pods' TLS settings as the loaders read them: verify-full
    with the mounted PostgreSQL CA, the Cassandra CA, the host-name check as the values say
    (test_k8s_chart checks the mounts, the volumes and the settings libpq reads by itself)."""
    pg_ca, cass_ca = ca_dir / "postgresql" / "ca.crt", ca_dir / "cassandra" / "ca.crt"
    for container in _pipeline_containers(render(ROOT / "k8s" / "test-values" / values_file)):
        read = _settings(_pod_env(container, ca_dir), tmp_path)
        assert "sslmode=verify-full" in read["dsn"] and f"sslrootcert={pg_ca}" in read["dsn"], read["dsn"]
        assert read["ca"] == str(cass_ca)
        assert read["hostname_check"] is (values_file == "tls-monitoring.yaml")
