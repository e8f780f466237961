"""A real MLServer process for tests: started on free localhost ports, ready when the server and
every named model say so (polled with a deadline), stopped with SIGTERM and waited for."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Sequence


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (held open together while picking, so no repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one HTTP request; an HTTP error status is returned, not raised."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class MLServerProcess:
    """``mlserver start FOLDER`` (or any command that runs one) as a child process."""

    def __init__(self, command: Sequence[str], http_port: int, log_path: Path, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.command = list(command)
        self.http_port = http_port
        self.log_path = log_path
        self.cwd = cwd
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> MLServerProcess:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.cwd,
                                     env={**os.environ, **(self.env or {})})
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, models: Sequence[str], timeout: float = 120.0) -> None:
        """Until /v2/health/ready and each model's ready endpoint answer 200 (the server alone is
        "ready" with no model loaded at all), or fail with the server's log."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        paths = ["/v2/health/ready"] + [f"/v2/models/{m}/ready" for m in models]
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"MLServer exited with {self.proc.returncode} before it was ready:\n"
                                     f"{self.log()[-4000:]}")
            try:
                if all(http("GET", self.url + p, timeout=2)[0] == 200 for p in paths):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"MLServer not ready after {timeout:.0f} s:\n{self.log()[-4000:]}")
            time.sleep(0.2)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then the exit status (killed after ``timeout``: that is a failure to stop)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                raise AssertionError(f"MLServer did not stop within {timeout:.0f} s of SIGTERM")
        self._log.close()
        return self.proc.returncode

    def children(self) -> list[int]:
        """PIDs of the server's child processes (Linux), e.g. its inference workers."""
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []


def mlserver_command(folder: Path) -> list[str]:
    return [sys.executable, "-c", "import sys; from mlserver.cli import main; sys.argv[0] = 'mlserver'; main()",
            "start", str(folder)]


def infer_json(image: bytes | None = None, *, name: str = "image", datatype: str = "BYTES",
               shape: list[int] | None = None, data: Any = None, parameters: dict[str, Any] | None = None) -> bytes:
    """A V2 REST inference request body with one input (an image's bytes as base64 by default)."""
    import base64

    if data is None:
        data = [base64.b64encode(image or b"").decode()]
    body: dict[str, Any] = {"inputs": [{"name": name, "datatype": datatype, "shape": shape or [len(data)],
                                        "data": data}]}
    if parameters:
        body["parameters"] = parameters
    return json.dumps(body).encode()
