"""The lean transport of `openai/*` against the SDK path: same body on the wire, same
reply, one cache, one parser; and the transport choice is checked up front."""

from __future__ import annotations

import pytest

from mteval.cache import ResponseCache
from mteval.client import ModelClient, RetryPolicy
from mteval.conversation import Message
from mteval.models import create_model
from mteval.models.base import GenerationParams
from mteval.models.errors import ConfigurationError, MalformedResponse
from mteval.models.openai_model import parse_chat_completion
from tests.servers import FakeLLMServer

FAST = RetryPolicy(max_attempts=2, initial_wait_s=0.01, jitter_s=0.01, max_wait_s=0.05, timeout_s=5)
MESSAGES = [Message(role="system", content="be brief"), Message(role="user", content="héllo wörld")]
PARAMS = GenerationParams(temperature=0.3, max_tokens=12, seed=3, stop=("X",), top_p=0.5)


def client(server: FakeLLMServer, transport: str | None, cache: ResponseCache | None = None, **args) -> ModelClient:
    model_args = {"base_url": server.openai_base_url, "api_key": "test-key-0123456789", **args}
    if transport:
        model_args["transport"] = transport
    adapter = create_model("openai/gpt-test", model_args)
    adapter.validate()
    return ModelClient(adapter, retry=FAST, cache=cache)


async def test_both_transports_send_the_same_body_and_read_the_same_reply(fake_server):
    lean, sdk = client(fake_server, None, metadata={"k": "v"}), client(fake_server, "sdk", metadata={"k": "v"})
    try:
        a = await lean.generate(MESSAGES, PARAMS)
        b = await sdk.generate(MESSAGES, PARAMS)
    finally:
        await lean.aclose()
        await sdk.aclose()
    first, second = fake_server.bodies()
    assert first == second
    assert first["metadata"] == {"k": "v"} and "transport" not in first
    assert (a.text, a.usage, a.finish_reason) == (b.text, b.usage, b.finish_reason) == ("echo: héllo wörld", b.usage, "stop")
    assert a.usage.input_tokens == 7


async def test_a_reply_cached_by_one_transport_is_a_hit_for_the_other(fake_server, cache_dir):
    cache = ResponseCache(cache_dir)
    sdk, lean = client(fake_server, "sdk", cache), client(fake_server, "http", cache)
    try:
        await sdk.generate(MESSAGES, PARAMS)
        again = await lean.generate(MESSAGES, PARAMS)
    finally:
        await sdk.aclose()
        await lean.aclose()
        cache.close()
    assert again.cached and fake_server.count == 1


async def test_the_lean_transport_survives_a_new_event_loop(fake_server):
    """The runner and tests call asyncio.run more than once with one adapter."""
    import asyncio

    adapter = create_model("openai/gpt-test", {"base_url": fake_server.openai_base_url})
    c = ModelClient(adapter, retry=FAST)
    await c.generate(MESSAGES, PARAMS)

    def in_another_loop():
        async def go():
            out = await c.generate(MESSAGES, PARAMS)
            await c.aclose()
            return out.text

        return asyncio.run(go())

    assert await asyncio.to_thread(in_another_loop) == "echo: héllo wörld"
    assert fake_server.count == 2


def test_an_unknown_transport_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="transport='grpc'"):
        create_model("openai/gpt-test", {"base_url": "http://127.0.0.1:9/v1", "transport": "grpc"}).validate()


def test_one_parser_reads_dicts_like_sdk_objects():
    reply = {
        "choices": [{"message": {"role": "assistant", "content": "Par"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 4},
    }
    out = parse_chat_completion(reply)
    assert (out.text, out.usage.input_tokens, out.usage.output_tokens, out.finish_reason) == ("Par", 11, 4, "length")
    # content: null is malformed on both transports (retried, then an error turn), never an empty answer
    reply["choices"][0]["message"]["content"] = None
    with pytest.raises(MalformedResponse, match="content: null"):
        parse_chat_completion(reply)
    assert parse_chat_completion({"choices": [{"message": {"content": "hi"}}]}).usage.input_tokens == 0
    for bad in ({}, {"choices": []}, {"choices": [{}]}, {"choices": "x"}, {"error": {"message": "nope"}}):
        with pytest.raises(MalformedResponse, match="choices"):
            parse_chat_completion(bad)


async def test_the_lean_transport_goes_through_the_environment_proxy(fake_server, monkeypatch):
    """HTTP_PROXY applies as it does for the SDK's httpx client: the fake server plays
    the proxy and receives the absolute URL of an upstream that does not resolve."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{fake_server.port}")
    c = client(fake_server, None, base_url="http://upstream.invalid/v1")
    try:
        completion = await c.generate(MESSAGES, PARAMS)
    finally:
        await c.aclose()
    assert completion.text == "echo: héllo wörld"
    assert fake_server.requests[0][0] == "http://upstream.invalid/v1/chat/completions"


def test_no_proxy_is_honoured(monkeypatch):
    from mteval.models.openai_http import env_proxy

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert env_proxy("https://api.example/v1") == "http://proxy.example:3128"
    assert env_proxy("https://internal.example/v1") is None


async def test_an_unencodable_model_arg_is_a_bad_request_not_a_crash(fake_server):
    from mteval.models.errors import BadRequest

    c = client(fake_server, None, logit_bias={1, 2})  # a set: JSON has no such thing
    try:
        with pytest.raises(BadRequest, match="not JSON-serialisable"):
            await c.generate(MESSAGES, PARAMS)
    finally:
        await c.aclose()
    assert fake_server.count == 0
