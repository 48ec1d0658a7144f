"""A fast OpenAI-compatible chat-completions server with a fixed latency, for the benches.

A bare asyncio protocol (HTTP/1.1 keep-alive, POST with content-length only) so the
server costs a few tens of microseconds per request and the client under test, not the
server, decides the figures. Each reply is sent `--latency` seconds after its request
arrived (`call_later`, no task per request) and echoes the last user message, with
usage counts. Prints `base_url=http://127.0.0.1:PORT/v1` once it listens.

Usage: python bench/latency_server.py [--latency 0.05] [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


def reply_for(body: bytes) -> bytes:
    request = orjson.loads(body)
    text = "echo: "
    for message in reversed(request.get("messages", ())):
        if message.get("role") == "user":
            text += message.get("content") or ""
            break
    words = len(text.split())
    return orjson.dumps({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "bench"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": words, "total_tokens": 7 + words},
    })


class ChatProtocol(asyncio.Protocol):
    def __init__(self, latency: float):
        self.latency = latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            try:
                payload, head = reply_for(body), HEAD
            except (ValueError, AttributeError) as exc:
                payload, head = orjson.dumps({"error": {"message": f"bad request: {exc}"}}), BAD
            asyncio.get_running_loop().call_later(self.latency, self._send, head % len(payload) + payload)

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(latency: float, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ChatProtocol(latency), "127.0.0.1", port, backlog=4096)
    print(f"base_url=http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.latency, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
