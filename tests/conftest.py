"""What every test folder shares: the dbt tests' helpers on the import path, and a test CA."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# tests/dbt's helpers (dbt_raw_fixture, dbt_expected, dbt_runner) are imported by name from any test
# folder, as one module each (the registry agreement reads the raw fixture, the end-to-end job the expected answers)
DBT_TEST_HELPERS = str(Path(__file__).resolve().parent / "dbt")
if DBT_TEST_HELPERS not in sys.path:
    sys.path.append(DBT_TEST_HELPERS)


@pytest.fixture(scope="session")
def make_test_ca(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path, str], Path]:
    """``make(certificate, name)``: a self-signed CA (PEM, subject CN=name) written to ``certificate``,
    its key in a folder of its own; returns ``certificate``. For TLS tests: a CA to verify against,
    or one that signed nothing a server presents."""

    def make(certificate: Path, name: str) -> Path:
        key = tmp_path_factory.mktemp("ca-key") / "ca.key"
        certificate.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                f"/CN={name}",
                "-keyout",
                str(key),
                "-out",
                str(certificate),
            ],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        return certificate

    return make
