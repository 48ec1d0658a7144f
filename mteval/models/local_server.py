"""A llama.cpp OpenAI-compatible server (`llama_cpp.server`) as a child process.

One job: start it on 127.0.0.1 on a free port, wait until it answers, stop it. It is
stopped by `stop()` (end of a run, errors, Ctrl-C: the adapter's `aclose` runs in the
runner's `finally`), by an atexit hook, and by the child's own watchdog if this process
dies without cleaning up (SIGKILL; see `_llama_child`).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from mteval.errors import ConfigurationError

STARTUP_TIMEOUT_S = 120.0
_RUNNING: set["LlamaServer"] = set()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """`python -m llama_cpp.server --model GGUF ...` bound to 127.0.0.1."""

    def __init__(self, gguf: Path, server_args: Sequence[str] = (), *, alias: str = "local"):
        self.gguf = Path(gguf)
        self.server_args = list(server_args)
        self.alias = alias
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "mteval.models._llama_child", str(os.getpid()), "--",
            "--model", str(self.gguf), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(port), *self.server_args,
        ]  # fmt: skip

    def start(self) -> None:
        """Spawn the process (non-blocking); `wait_ready` waits for its first answer."""
        if self.process is not None:
            return
        self.port = free_port()
        fd, log = tempfile.mkstemp(prefix="mteval-llama-", suffix=".log")
        self._log_path = Path(log)
        with os.fdopen(fd, "wb") as log_file:
            # Own session: a terminal's Ctrl-C reaches mteval, which stops the server after
            # in-flight requests are cancelled, instead of killing it under them.
            self.process = subprocess.Popen(
                self.command(self.port), stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        _RUNNING.add(self)

    async def wait_ready(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Poll `GET /v1/models` until it answers 200; fail with the server's log tail if it exits."""
        import httpx

        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                if self.process is None or self.process.poll() is not None:
                    code = None if self.process is None else self.process.returncode
                    self.stop()
                    raise ConfigurationError(f"the llama.cpp server for {self.gguf.name} exited (code {code}) before answering:\n{self.log_tail()}")
                try:
                    response = await http.get(f"{self.base_url}/models")
                    if response.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    tail = self.log_tail()
                    self.stop()
                    raise ConfigurationError(f"the llama.cpp server for {self.gguf.name} did not answer within {timeout_s:g} s:\n{tail}")
                await asyncio.sleep(0.2)

    def log_tail(self, lines: int = 20) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `grace_s`; reaps the process and removes its log."""
        process, self.process = self.process, None
        _RUNNING.discard(self)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop(grace_s=2.0)
