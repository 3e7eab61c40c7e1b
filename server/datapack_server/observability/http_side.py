"""The HTTP side port of a server (`datapack serve --metrics-port P`):

    GET /metrics   Prometheus text exposition of the server's own registry
    GET /healthz   200 while the process answers (liveness)
    GET /readyz    200 once the stores are loaded and until shutdown starts
                   (the gRPC health status "" is SERVING), else 503; the body
                   names the state, and says when writes are NOT_SERVING
                   (datapack.v1.DataPackService/write: disk full), which
                   leaves the server ready for reads

Bound to the gRPC host; plain HTTP without authentication (it tells counts
and task names, never records): firewall it like the gRPC port.
"""
from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("datapack.http")

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        # HTTPServer.server_bind resolves the bound address with getfqdn (a
        # reverse DNS lookup that can hang for seconds); the name is unused here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]


class _V6Server(_Server):
    address_family = socket.AF_INET6


class SideServer:
    """/metrics, /healthz and /readyz on (host, port); port 0 picks a free one.

    readiness() -> (ready, body): asked at each /readyz; exposition() -> bytes:
    the metrics text, asked at each /metrics."""

    def __init__(self, host: str, port: int, readiness: Callable[[], tuple[bool, str]],
                 exposition: Callable[[], bytes]):
        routes = {
            "/healthz": lambda: (200, "text/plain; charset=utf-8", b"ok\n"),
            "/readyz": self._readyz,
            "/metrics": lambda: (200, PROMETHEUS_TEXT, exposition()),
        }
        self._readiness = readiness

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                route = routes.get(self.path.split("?", 1)[0])
                if route is None:
                    status, ctype, body = 404, "text/plain; charset=utf-8", b"not found: /metrics, /healthz, /readyz\n"
                else:
                    status, ctype, body = route()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):  # scrapes every few seconds: not worth a log line each
                log.debug("%s %s", self.address_string(), fmt % args)

        cls = _V6Server if ":" in host else _Server
        self._httpd = cls((host, port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="datapack-http-side", daemon=True)

    def _readyz(self) -> tuple[int, str, bytes]:
        ready, text = self._readiness()
        return (200 if ready else 503), "text/plain; charset=utf-8", (text + "\n").encode()

    def start(self) -> SideServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()
