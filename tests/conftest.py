"""What every test folder shares: a test CA."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest


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
