"""The docs Deployment's own command and probes, run here on a published folder.

The rendered container's command (`loaders serve …`) is started with the pod's paths mapped
to a temporary published folder and a free port on 127.0.0.1; its probes' paths must answer
200 before anything is published (a pod that cannot become ready would hold
`helm install --wait`) and after; the docs and the status page appear once published.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from k8s_helpers import one

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def test_docs_server_command_answers_its_probes_and_serves_what_is_published(
    render: Any, tmp_path: Path
) -> None:
    done = subprocess.run([str(BIN / "loaders"), "serve", "--help"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("`loaders serve` does not exist yet")
    container = one(render(), "Deployment", "-docs")["spec"]["template"]["spec"]["containers"][0]
    (mount,) = container["volumeMounts"]
    published = tmp_path / mount["subPath"]
    published.mkdir()
    port = _free_port()
    command = [str(BIN / container["command"][0])]
    for arg in container["command"][1:]:
        command.append(
            {
                mount["mountPath"]: str(published),
                str(container["ports"][0]["containerPort"]): str(port),
                "0.0.0.0": "127.0.0.1",
            }.get(arg, arg)
        )
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                time.sleep(0.1)
        probes = [container[name]["httpGet"]["path"] for name in ("readinessProbe", "livenessProbe")]
        for path in probes:  # nothing published yet
            assert _get(port, path)[0] == 200, path
        # a publish: the docs behind their symlink, the status page and the metrics beside them
        version = published / "docs-1"
        version.mkdir()
        (version / "index.html").write_text("<html>docs</html>")
        (published / "docs").symlink_to(version.name)
        from loaders.ops.publish_monitoring import METRICS_FILE, MONITORING_DIR, STATUS_FILE

        (published / MONITORING_DIR).mkdir()
        (published / MONITORING_DIR / STATUS_FILE).write_text("<html>status</html>")
        (published / MONITORING_DIR / METRICS_FILE).write_text("outings_job_last_run_success 1\n# EOF\n")
        assert _get(port, "/") == (200, b"<html>docs</html>")
        assert _get(port, f"/{STATUS_FILE}") == (200, b"<html>status</html>")
        assert _get(port, "/metrics")[1].startswith(b"outings_job_last_run_success 1")
        for path in probes:
            assert _get(port, path)[0] == 200, path
    finally:
        server.terminate()
        server.wait(timeout=10)
