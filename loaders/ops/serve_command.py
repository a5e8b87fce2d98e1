"""Serve the published docs, the status page and the metrics over HTTP, read-only.

  /                 the dbt docs site (PUBLISHED_DIR/docs/, followed through its symlink
                    on every request, so a new publish shows without a restart)
  /status.html      the job's status page (PUBLISHED_DIR/monitoring/status.html)
  /metrics          the last run's metrics, OpenMetrics text (PUBLISHED_DIR/monitoring/metrics;
                    an empty exposition until the first run has written it)
  /healthz          200 "ok" (a liveness probe that needs no published file)

GET and HEAD only; no directory listings. Binds 127.0.0.1 by default (LOADERS_SERVE_BIND
sets another default); inside a Kubernetes pod (KUBERNETES_SERVICE_HOST is set) 0.0.0.0, as
the pod's network is its own and the chart's NetworkPolicy decides who reaches the port.

Examples:
  loaders serve                                  # http://127.0.0.1:8080/ and /status.html
  loaders serve --dir /data/published --bind 0.0.0.0 --port 8080
"""

from __future__ import annotations

import argparse
import os
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from loaders.errors import UserError
from loaders.ops.metrics import CONTENT_TYPE
from loaders.ops.publish_monitoring import METRICS_FILE, MONITORING_DIR, STATUS_FILE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, help="the published folder (default: PUBLISHED_DIR)")
    parser.add_argument(
        "--bind",
        default=None,
        help="address to listen on (default: LOADERS_SERVE_BIND, else 0.0.0.0 in a Kubernetes pod, else 127.0.0.1)",
    )
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")


class PublishedHandler(SimpleHTTPRequestHandler):
    """Static files of the published folder; the monitoring files at fixed paths."""

    root: Path

    def __init__(self, *args: Any, root: Path, **kwargs: Any) -> None:
        self.root = root
        docs = root / "docs"
        directory = docs if docs.exists() or docs.is_symlink() else root
        super().__init__(*args, directory=str(directory), **kwargs)

    def _fixed(self) -> tuple[Path, str] | None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path in {"/metrics", "/metrics/"}:
            return self.root / MONITORING_DIR / METRICS_FILE, CONTENT_TYPE
        if path == f"/{STATUS_FILE}":
            return self.root / MONITORING_DIR / STATUS_FILE, "text/html; charset=utf-8"
        return None

    def _send_fixed(self, head_only: bool) -> bool:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            body, content_type = b"ok\n", "text/plain; charset=utf-8"
        else:
            fixed = self._fixed()
            if fixed is None:
                return False
            file, content_type = fixed
            try:
                body = file.read_bytes()
            except OSError:
                if file.name != METRICS_FILE:
                    self.send_error(
                        HTTPStatus.NOT_FOUND, f"{file.name} is not published yet: run `loaders run`"
                    )
                    return True
                body = EMPTY_METRICS  # no run yet: no metric (alert on their absence)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if not head_only:
            self.wfile.write(body)
        return True

    def do_GET(self) -> None:
        if not self._send_fixed(head_only=False):
            super().do_GET()

    def do_HEAD(self) -> None:
        if not self._send_fixed(head_only=True):
            super().do_HEAD()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(HTTPStatus.NOT_FOUND, "no directory listings")

    def _read_only(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "read-only server: GET and HEAD only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _read_only


EMPTY_METRICS = b"# EOF\n"


def default_bind() -> str:
    explicit = os.environ.get("LOADERS_SERVE_BIND")
    if explicit:
        return explicit
    return "0.0.0.0" if os.environ.get("KUBERNETES_SERVICE_HOST") else "127.0.0.1"


def make_server(root: Path, bind: str, port: int) -> ThreadingHTTPServer:
    return ThreadingHTTPServer((bind, port), partial(PublishedHandler, root=root))


def run(args: argparse.Namespace) -> int:
    from loaders.job.publish import published_dir

    root = (args.dir or published_dir()).resolve()
    if not root.is_dir():
        raise UserError(
            f"no published folder at {root}: run `loaders run` (or `make demo`) first, or pass --dir"
        )
    try:
        bind = args.bind or default_bind()
        server = make_server(root, bind, args.port)
    except OSError as exc:
        raise UserError(
            f"cannot listen on {bind}:{args.port} ({exc.strerror}): pick another --port"
        ) from None
    host, port = str(server.server_address[0]), server.server_address[1]
    print(
        f"serving {root} read-only on http://{host}:{port}/ (docs), /status.html, /metrics; Ctrl-C stops",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
