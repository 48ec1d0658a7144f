"""A fast OpenAI-compatible chat-completions server with a fixed latency, for the benches.

aiohttp on one event loop: each request sleeps `--latency` seconds and echoes the last
user message, so the server itself costs little CPU and the ideal bound is known.
Prints `base_url=http://127.0.0.1:PORT/v1` once it listens; serves until terminated.

Usage: python bench/latency_server.py [--latency 0.05] [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time

import orjson
from aiohttp import web


def make_app(latency: float) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        await asyncio.sleep(latency)
        users = [m for m in body.get("messages", ()) if m.get("role") == "user"]
        text = "echo: " + (users[-1]["content"] if users else "")
        payload = {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "bench"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": len(text.split()), "total_tokens": 7 + len(text.split())},
        }
        return web.Response(body=orjson.dumps(payload), content_type="application/json")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", chat)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    print(f"base_url=http://127.0.0.1:{sock.getsockname()[1]}/v1", flush=True)
    web.run_app(make_app(args.latency), sock=sock, print=None, backlog=4096, access_log=None)


if __name__ == "__main__":
    main()
