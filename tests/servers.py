"""Real HTTP servers on 127.0.0.1 for the tests: one speaks the OpenAI chat-completions
wire format, the same one speaks the Anthropic messages format (different paths).

They count every request, record the bodies, and can inject faults in order:
429 with Retry-After, 500, a slow reply, or a malformed body. Replies come from a
`responder(kind, body) -> str` (default: echo of the last user message).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Responder = Callable[[str, dict[str, Any]], str]


@dataclass
class Fault:
    kind: str  # "429" | "500" | "503" | "slow" | "malformed" | "400-context"
    retry_after: float | None = None
    delay: float = 0.0


def echo_responder(kind: str, body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = users[-1]["content"] if users else ""
    if isinstance(content, list):  # anthropic content blocks
        content = "".join(block.get("text", "") for block in content)
    return f"echo: {content}"


class FakeLLMServer:
    def __init__(self, responder: Responder = echo_responder, delay: float = 0.0):
        self.responder = responder
        self.delay = delay
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out separately: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {}
                with server._lock:
                    server.requests.append((self.path, body, {k.lower(): v for k, v in self.headers.items()}))
                    fault = server.faults.pop(0) if server.faults else None
                server._handle(self, body, fault)

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> "FakeLLMServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def openai_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def bodies(self, path_suffix: str = "") -> list[dict[str, Any]]:
        with self._lock:
            return [body for path, body, _ in self.requests if path.endswith(path_suffix)]

    # --- request handling ------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, body: dict[str, Any], fault: Fault | None) -> None:
        kind = "anthropic" if handler.path.rstrip("/").endswith("/messages") else "openai"
        if self.delay:
            time.sleep(self.delay)
        if fault is not None:
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind in ("429", "500", "503"):
                headers = {}
                if fault.retry_after is not None:
                    headers["retry-after"] = str(fault.retry_after)
                self._send(handler, int(fault.kind), _error_body(kind, fault.kind), headers)
                return
            elif fault.kind == "400-context":
                message = "This model's maximum context length is 16 tokens"
                self._send(handler, 400, json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": "context_length_exceeded"}}).encode())
                return
            elif fault.kind == "malformed":
                self._send(handler, 200, b'{"choices": [ {"mess', {})
                return
        text = self.responder(kind, body)
        if kind == "anthropic":
            payload = {
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "test"),
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 7, "output_tokens": len(text.split())},
            }
        else:
            payload = {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "test"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 7, "completion_tokens": len(text.split()), "total_tokens": 7 + len(text.split())},
            }
        self._send(handler, 200, json.dumps(payload).encode())

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            handler.send_response(status)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(data)))
            for key, value in (headers or {}).items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # many concurrent conversations connect at once
    daemon_threads = True


def _error_body(kind: str, status: str) -> bytes:
    if kind == "anthropic":
        error_type = "rate_limit_error" if status == "429" else "api_error"
        return json.dumps({"type": "error", "error": {"type": error_type, "message": f"injected {status}"}}).encode()
    return json.dumps({"error": {"message": f"injected {status}", "type": "server_error", "code": status}}).encode()


def main() -> None:  # `python tests/servers.py` serves until Ctrl-C (for manual tries and bench)
    with FakeLLMServer() as server:
        print(f"openai base_url={server.openai_base_url}  anthropic base_url={server.anthropic_base_url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
