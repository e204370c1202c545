"""Tracking servers that fail the way real ones do, for outage and retry tests (all on
127.0.0.1). A real server that a test kills and starts again is ``support.servers.MlflowServer``.

- ``HangingServer``: accepts TCP connections and never answers, like a hung server or a
  firewall that swallows packets after the handshake.
- ``FaultProxy``: forwards HTTP to a real server, but breaks chosen requests the way a flaky
  network does: the connection drops before the request reaches the server, or after the
  server has carried it out but before its answer arrives, or the server answers that it is
  busy (503) without carrying it out.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class HangingServer:
    """Accepts connections on 127.0.0.1 and never sends a byte back."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(connection)

    @property
    def connections(self) -> int:
        return len(self._held)

    def close(self) -> None:
        self._closed = True
        self._socket.close()
        for connection in self._held:
            connection.close()


# What the proxy does to one request: "before" drops it unsent, "after" drops the server's
# answer, "busy" answers 503 in the server's place, a number holds it that many seconds before
# passing it on, None passes it on untouched.
Action = str | float | None
Policy = Callable[[str, str], Action]

BUSY = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}'


@dataclass
class Fault:
    """Break the next ``times`` requests whose method is ``method`` and whose path contains
    ``path_part``: ``when`` is ``"before"``, ``"after"``, ``"busy"`` (see ``Action``) or
    ``"slow"``, which holds them ``seconds`` before passing them on (a busy server)."""

    method: str
    path_part: str
    when: str
    times: int = 1
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and method == self.method and self.path_part in path


class FaultProxy:
    """An HTTP proxy in front of a real server that carries out ``faults`` on the way, or
    whatever ``policy`` decides for each request (method, path) when one is given."""

    def __init__(self, upstream: str, *faults: Fault, policy: Policy | None = None) -> None:
        self.upstream = urlsplit(upstream)
        self.faults = list(faults)
        self.decide: Policy = policy or self.take_fault
        self.broken: list[str] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self._body()
                fault = proxy.decide(self.command, self.path)
                if isinstance(fault, float):
                    time.sleep(fault)
                if fault == "before":
                    self._drop()
                    return
                if fault == "busy":
                    self._answer(503, [("Content-Type", "application/json")], BUSY)
                    return
                upstream = http.client.HTTPConnection(
                    proxy.upstream.hostname, proxy.upstream.port, timeout=60
                )
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in {"host", "connection", "transfer-encoding"}
                }
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                if fault == "after":
                    self._drop()
                    return
                self._answer(answer.status, answer.getheaders(), data)

            def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        chunk = self.rfile.read(size)
                        self.rfile.readline()
                        if size == 0:
                            return b"".join(chunks)
                        chunks.append(chunk)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _drop(self) -> None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def take_fault(self, method: str, path: str) -> str | float | None:
        """What the first of ``faults`` that matches does to this request (see ``Action``)."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    self.broken.append(f"{method} {path} ({fault.when})")
                    return float(fault.seconds) if fault.when == "slow" else fault.when
        return None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
