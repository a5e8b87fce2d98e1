"""`loaders serve`: docs, status page and metrics from a published folder, read-only."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from loaders.ops.metrics import CONTENT_TYPE
from loaders.ops.serve_command import make_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    version = tmp_path / "docs-1"
    version.mkdir()
    (version / "index.html").write_text("<html>dbt docs</html>")
    (tmp_path / "docs").symlink_to("docs-1")
    (tmp_path / "warehouse.duckdb").write_bytes(b"not served")
    monitoring = tmp_path / "monitoring"
    monitoring.mkdir()
    (monitoring / "status.html").write_text("<html>status</html>")
    (monitoring / "metrics").write_text("outings_job_last_run_success 1.0\n# EOF\n")
    server = make_server(tmp_path, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str, method: str = "GET") -> tuple[int, str, str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), ""


def test_docs_status_and_metrics_are_served(served: tuple[str, Path]) -> None:
    base, root = served
    assert _get(f"{base}/")[2] == "<html>dbt docs</html>"
    assert _get(f"{base}/status.html")[1:] == ("text/html; charset=utf-8", "<html>status</html>")
    status, content_type, body = _get(f"{base}/metrics")
    assert (
        status == 200
        and content_type == CONTENT_TYPE
        and content_type.startswith("application/openmetrics-text")
    )
    assert body.startswith("outings_job_last_run_success")
    assert _get(f"{base}/healthz")[2] == "ok\n"
    # a new docs version behind the swapped symlink shows without a restart
    (root / "docs-2").mkdir()
    (root / "docs-2" / "index.html").write_text("<html>new docs</html>")
    (root / "docs.tmp").symlink_to("docs-2")
    (root / "docs.tmp").replace(root / "docs")
    assert _get(f"{base}/index.html")[2] == "<html>new docs</html>"


def test_read_only_no_listing_no_escape(served: tuple[str, Path]) -> None:
    base, _ = served
    assert _get(f"{base}/metrics", method="POST")[0] == 405
    assert _get(f"{base}/index.html", method="DELETE")[0] == 405
    assert _get(f"{base}/../warehouse.duckdb")[0] == 404
    assert _get(f"{base}/%2e%2e/warehouse.duckdb")[0] == 404
    (served[1] / "docs-1" / "sub").mkdir()
    assert _get(f"{base}/sub/")[0] == 404


def test_before_the_first_run_metrics_are_empty_and_the_page_is_a_404(served: tuple[str, Path]) -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    base, root = served
    (root / "monitoring" / "metrics").unlink()
    (root / "monitoring" / "status.html").unlink()
    status, content_type, body = _get(f"{base}/metrics")
    assert status == 200 and content_type == CONTENT_TYPE and list(text_string_to_metric_families(body)) == []
    assert _get(f"{base}/status.html")[0] == 404


def test_the_default_bind_is_local_except_in_a_kubernetes_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    from loaders.ops.serve_command import default_bind

    monkeypatch.delenv("LOADERS_SERVE_BIND", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert default_bind() == "127.0.0.1"
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert default_bind() == "0.0.0.0"
    monkeypatch.setenv("LOADERS_SERVE_BIND", "::1")
    assert default_bind() == "::1"
