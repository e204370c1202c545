"""Tracking servers that fail the way real ones do, for outage tests (all on 127.0.0.1).

- ``RestartableMlflowServer``: a real ``mlflow server`` process that a test may kill (SIGKILL,
  the whole process group) and start again on the same port with the same store.
- ``HangingServer``: accepts TCP connections and never answers, like a hung server or a
  firewall that swallows packets after the handshake.
- ``FaultProxy``: forwards HTTP to a real server, but breaks chosen requests the way a flaky
  network does: the connection drops before the request reaches the server, or after the
  server has carried it out but before its answer arrives.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from conftest import free_port, wait_healthy

PYTHON = sys.executable


class RestartableMlflowServer:
    """A real ``mlflow server`` with its own SQLite store and artifacts, killable and
    restartable on the same port."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = base / "server.log"

    def start(self, timeout: float = 180) -> None:
        mlflow_bin = shutil.which("mlflow", path=str(Path(PYTHON).parent)) or "mlflow"
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [
                    mlflow_bin,
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                    "--backend-store-uri",
                    f"sqlite:///{self.base / 'server.db'}",
                    "--artifacts-destination",
                    str(self.base / "artifacts"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.base,
                env=env,
                start_new_session=True,  # its own process group: kill() takes its workers too
            )
        try:
            wait_healthy(self.url, self.process, self.log, timeout)
        except RuntimeError:
            self.kill()
            raise

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def kill(self) -> None:
        """SIGKILL the server and its workers, as a crash or an OOM kill would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None
        deadline = time.monotonic() + 10
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


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


@dataclass
class Fault:
    """Break requests whose method is ``method`` and whose path contains ``path_part``:
    ``when="before"`` drops them unsent, ``"after"`` drops the server's answer, ``"slow"``
    holds them ``seconds`` before passing them on (a busy server)."""

    method: str
    path_part: str
    when: str
    times: int = 1
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and method == self.method and self.path_part in path


class FaultProxy:
    """An HTTP proxy in front of a real server that carries out ``faults`` on the way."""

    def __init__(self, upstream: str, *faults: Fault) -> None:
        self.upstream = urlsplit(upstream)
        self.faults = list(faults)
        self.broken: list[str] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self._body()
                fault = proxy.take_fault(self.command, self.path)
                if isinstance(fault, float):
                    time.sleep(fault)
                if fault == "before":
                    self._drop()
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
                self.send_response(answer.status)
                for key, value in answer.getheaders():
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
        """``"before"``, ``"after"``, seconds to hold the request, or None."""
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
