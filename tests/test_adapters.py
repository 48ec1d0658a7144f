"""Model adapters and `ModelClient` with the real openai, anthropic and litellm SDK
clients (and the lean aiohttp transport of `openai/*`, kind "openai"; the SDK path is
kind "openai-sdk") talking to the local `FakeLLMServer`: what goes on the wire, what is parsed back,
retries, errors, the response cache, secrets, rate limiting, replay and scripted models.

No network and no real keys: every request goes to 127.0.0.1, the SDKs are not mocked.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from aiolimiter import AsyncLimiter

from mteval.cache import ResponseCache, cache_key
from mteval.client import ModelClient, RetryPolicy
from mteval.conversation import Conversation, Message, Turn
from mteval.models import create_model
from mteval.models.anthropic_model import LEGACY_VERSION
from mteval.models.base import GenerationParams, RequestContext, is_secret_name
from mteval.models.errors import (
    AuthenticationFailed,
    BadRequest,
    ConfigurationError,
    ConnectionFailed,
    ContextLengthExceeded,
    MalformedResponse,
    ModelError,
    RateLimited,
    ReplayMissing,
    RequestTimeout,
    ServerError,
    from_status,
    parse_retry_after,
)
from mteval.redact import Redactor
from mteval.transcript import Sample, TurnRecord, Usage
from tests.servers import FakeLLMServer, Fault

# Not shaped like a provider key, so only value-based redaction can hide it.
API_KEY = "test-key-0123456789abcdef"
FAST = RetryPolicy(max_attempts=4, initial_wait_s=0.01, jitter_s=0.01, max_wait_s=1, timeout_s=5)
KINDS = ["openai", "openai-sdk", "anthropic", "litellm-openai", "litellm-anthropic"]
# Both transports of openai/*: the lean aiohttp one (default) and the openai SDK.
OPENAI_KINDS = ["openai", "openai-sdk"]

SYSTEM = "be brief"
MESSAGES = [
    Message(role="system", content=SYSTEM),
    Message(role="user", content="first question"),
    Message(role="assistant", content="first answer"),
    Message(role="user", content="hello world"),
]
PARAMS = GenerationParams(temperature=0.5, max_tokens=33, seed=7, stop=("END",), top_p=0.9)


def spec(kind: str, server: FakeLLMServer, **extra: Any) -> tuple[str, dict[str, Any]]:
    """Model id and model args for one provider kind, pointed at the fake server."""
    specs = {
        "openai": ("openai/gpt-test", {"base_url": server.openai_base_url}),
        "openai-sdk": ("openai/gpt-test", {"base_url": server.openai_base_url, "transport": "sdk"}),
        "anthropic": ("anthropic/claude-test", {"base_url": server.anthropic_base_url}),
        "litellm-openai": ("litellm/openai/gpt-test", {"api_base": server.openai_base_url}),
        "litellm-anthropic": ("litellm/anthropic/claude-test", {"api_base": server.anthropic_base_url}),
    }
    model_id, args = specs[kind]
    return model_id, {**args, "api_key": API_KEY, **extra}


def is_anthropic(kind: str) -> bool:
    return kind.endswith("anthropic")


def text_of(content: Any) -> str:
    """Message content as text, whether a string or a list of content blocks."""
    if isinstance(content, list):
        return "".join(block.get("text", "") for block in content)
    return content


def wire_messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], text_of(m["content"])) for m in body["messages"]]


def sent_key(headers: dict[str, str]) -> str | None:
    """The credential a request carried (bearer token or x-api-key)."""
    if "x-api-key" in headers:
        return headers["x-api-key"]
    auth = headers.get("authorization", "")
    return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None


def started(server: FakeLLMServer) -> FakeLLMServer:
    """Serve with a 10 ms shutdown poll instead of serve_forever's 0.5 s, so the ~150
    tests here do not spend a minute tearing servers down. Use as `with started(...)`."""
    server._thread = threading.Thread(target=server._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    return server


@pytest.fixture
def fake_server():
    """conftest's `fake_server`, stopping faster (see `started`)."""
    with started(FakeLLMServer()) as server:
        yield server


@pytest.fixture(scope="module")
def warm_sdks():
    """Import the SDKs and send one request through each kind first, so that no test's
    timeout_s has to absorb a cold import (seconds, for litellm) and timings hold
    whichever tests run, in whatever order."""

    async def warm(server: FakeLLMServer) -> None:
        for kind in KINDS:
            model_id, args = spec(kind, server)
            adapter = create_model(model_id, args)
            await adapter.generate(MESSAGES, PARAMS, RequestContext())
            await adapter.aclose()

    with started(FakeLLMServer()) as server:
        asyncio.run(warm(server))


@pytest.fixture
async def make_client(warm_sdks):
    """Build validated ModelClients for a provider kind; closes them afterwards."""
    made: list[ModelClient] = []

    def make(kind: str, server: FakeLLMServer, *, retry: RetryPolicy = FAST, cache=None, limiter=None, **args: Any) -> ModelClient:
        model_id, model_args = spec(kind, server, **args)
        adapter = create_model(model_id, model_args)
        adapter.validate()
        client = ModelClient(adapter, retry=retry, cache=cache, limiter=limiter)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


# --- 1. the request on the wire --------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
async def test_request_body_on_the_wire(kind, fake_server, make_client):
    client = make_client(kind, fake_server)
    await client.generate(MESSAGES, PARAMS)

    assert fake_server.count == 1
    path, body, headers = fake_server.requests[0]
    assert sent_key(headers) == API_KEY
    assert API_KEY not in json.dumps(body)
    for client_arg in ("api_key", "base_url", "api_base", "api_version", "num_retries", "drop_params", "transport"):
        assert client_arg not in body
    assert body["max_tokens"] == 33

    if is_anthropic(kind):
        assert path == "/v1/messages"
        assert body["model"] == "claude-test"
        # the system prompt is the top-level field, never a message
        assert text_of(body["system"]) == SYSTEM
        assert all(m["role"] != "system" for m in body["messages"])
        assert wire_messages(body) == [(m.role, m.content) for m in MESSAGES[1:]]
        assert body["stop_sequences"] == ["END"]
        assert "stop" not in body and "seed" not in body
    else:
        assert path == "/v1/chat/completions"
        assert body["model"] == "gpt-test"
        assert "system" not in body
        assert wire_messages(body) == [(m.role, m.content) for m in MESSAGES]
        assert body["temperature"] == 0.5
        assert body["seed"] == 7
        assert body["stop"] == ["END"]
        assert body["top_p"] == 0.9

    if kind == "anthropic":
        # the SDK's current API version takes no sampling parameters: none are sent
        assert "temperature" not in body and "top_p" not in body
        assert headers["anthropic-version"] != LEGACY_VERSION
    if kind == "litellm-anthropic":
        # litellm pins the legacy API version, which does take temperature
        assert headers["anthropic-version"] == LEGACY_VERSION
        assert body["temperature"] == 0.5


async def test_anthropic_legacy_api_version_sends_sampling_params(fake_server, make_client):
    client = make_client("anthropic", fake_server, api_version=LEGACY_VERSION)
    await client.generate(MESSAGES, PARAMS)
    _, body, headers = fake_server.requests[0]
    assert headers["anthropic-version"] == LEGACY_VERSION
    assert body["temperature"] == 0.5
    assert body["top_p"] == 0.9
    assert "seed" not in body and "api_version" not in body
    assert text_of(body["system"]) == SYSTEM
    assert client.adapter.not_sent() == ["seed"]


def test_anthropic_not_sent_lists_dropped_params():
    assert create_model("anthropic/claude-test", {}).not_sent() == ["seed", "temperature", "top_p"]
    assert create_model("openai/gpt-test", {}).not_sent() == []


async def test_anthropic_other_api_version_sends_no_temperature(fake_server, make_client):
    client = make_client("anthropic", fake_server, api_version="2099-01-01")
    await client.generate(MESSAGES, PARAMS)
    _, body, headers = fake_server.requests[0]
    assert headers["anthropic-version"] == "2099-01-01"
    assert "temperature" not in body and "top_p" not in body


async def test_anthropic_joins_several_system_messages(fake_server, make_client):
    client = make_client("anthropic", fake_server)
    messages = [Message(role="system", content="rule one"), Message(role="system", content="rule two"), Message(role="user", content="hi")]
    await client.generate(messages, GenerationParams())
    _, body, _ = fake_server.requests[0]
    assert body["system"] == "rule one\n\nrule two"
    assert body["messages"] == [{"role": "user", "content": "hi"}]


async def test_anthropic_without_system_prompt_sends_no_system_field(fake_server, make_client):
    client = make_client("anthropic", fake_server)
    await client.generate([Message(role="user", content="hi")], GenerationParams())
    _, body, _ = fake_server.requests[0]
    assert "system" not in body
    assert "stop_sequences" not in body


@pytest.mark.parametrize("kind", ["openai", "openai-sdk", "anthropic"])
async def test_extra_model_args_go_in_the_body_client_args_do_not(kind, fake_server, make_client):
    client = make_client(kind, fake_server, timeout=30, metadata={"user_id": "u1"})
    await client.generate(MESSAGES, GenerationParams())
    _, body, _ = fake_server.requests[0]
    assert body["metadata"] == {"user_id": "u1"}
    assert "timeout" not in body


@pytest.mark.parametrize("kind", OPENAI_KINDS)
async def test_openai_sends_no_seed_when_none(kind, fake_server, make_client):
    client = make_client(kind, fake_server)
    await client.generate(MESSAGES, GenerationParams(seed=None))
    _, body, _ = fake_server.requests[0]
    assert "seed" not in body and "stop" not in body and "top_p" not in body


# --- 2. the reply ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
async def test_reply_usage_and_finish_reason_parsed(kind, fake_server, make_client):
    client = make_client(kind, fake_server)
    first = await client.generate(MESSAGES, PARAMS)
    assert first.text == "echo: hello world"
    assert first.usage == Usage(input_tokens=7, output_tokens=3)
    assert first.finish_reason == ("end_turn" if kind == "anthropic" else "stop")
    assert first.retries == 0 and first.cached is False
    assert first.latency_s > 0

    second = await client.generate([Message(role="user", content="one two three four")], PARAMS)
    assert second.text == "echo: one two three four"
    assert second.usage.output_tokens == 5
    assert client.stats.as_dict() == {
        "requests": 2,
        "cache_hits": 0,
        "retries": 0,
        "errors": 0,
        "input_tokens": 14,
        "output_tokens": 8,
    }


async def test_custom_responder_text_comes_back_verbatim(make_client):
    with started(FakeLLMServer(responder=lambda kind, body: f"{kind} says héllo\nline two")) as server:
        for kind in KINDS:
            completion = await make_client(kind, server).generate(MESSAGES, PARAMS)
            assert completion.text == f"{'anthropic' if is_anthropic(kind) else 'openai'} says héllo\nline two"


# --- 3. retries --------------------------------------------------------------------------
RECOVERABLE = {
    "429": Fault("429", retry_after=0.3),
    "500": Fault("500"),
    "503": Fault("503"),
    "malformed": Fault("malformed"),
    "slow": Fault("slow", delay=1.5),
}


@pytest.mark.parametrize("fault", list(RECOVERABLE))
@pytest.mark.parametrize("kind", KINDS)
async def test_transient_faults_are_retried_and_counted(kind, fault, fake_server, make_client):
    retry = RetryPolicy(max_attempts=4, initial_wait_s=0.01, jitter_s=0.01, max_wait_s=1, timeout_s=0.5)
    client = make_client(kind, fake_server, retry=retry)
    fake_server.inject(RECOVERABLE[fault])
    started = time.perf_counter()
    completion = await client.generate(MESSAGES, PARAMS)
    elapsed = time.perf_counter() - started

    assert completion.text == "echo: hello world"
    assert completion.retries == 1
    assert fake_server.count == 2
    assert client.stats.requests == 2
    assert client.stats.retries == 1
    assert client.stats.errors == 0
    # both attempts sent the same request
    assert fake_server.bodies()[0] == fake_server.bodies()[1]
    if fault == "429":
        assert elapsed >= 0.3  # honours Retry-After rather than the 10 ms backoff
    if fault == "slow":
        assert elapsed >= 0.5  # gave up on the slow attempt at timeout_s


@pytest.mark.parametrize("kind", KINDS)
async def test_sdk_timeout_is_a_retried_request_timeout(kind, fake_server, make_client):
    client = make_client(kind, fake_server, timeout=0.3)
    fake_server.inject(Fault("slow", delay=1.5))
    completion = await client.generate(MESSAGES, PARAMS)
    assert completion.text == "echo: hello world"
    assert completion.retries == 1
    assert fake_server.count == 2


async def test_backoff_doubles_from_one_retry_to_the_next():
    from mteval.models.scripted import SCRIPTS, register_script

    calls: list[float] = []

    def flaky(messages, params, context, args):
        calls.append(time.perf_counter())
        if len(calls) <= 3:
            raise ServerError("flaky", status=500)
        return "finally"

    register_script("flaky-backoff", flaky)
    try:
        retry = RetryPolicy(max_attempts=4, initial_wait_s=0.1, jitter_s=0, max_wait_s=10, timeout_s=5)
        completion = await ModelClient(create_model("scripted/flaky-backoff", {}), retry=retry).generate(MESSAGES, PARAMS)
    finally:
        SCRIPTS.pop("flaky-backoff", None)
    assert completion.text == "finally" and completion.retries == 3
    waits = [later - earlier for earlier, later in zip(calls, calls[1:])]
    assert waits[0] >= 0.1 and waits[1] >= 0.2 and waits[2] >= 0.4  # 0.1, 0.2, 0.4 s


@pytest.mark.parametrize("kind", ["openai", "openai-sdk", "anthropic"])
async def test_every_retry_after_is_honoured(kind, fake_server, make_client):
    client = make_client(kind, fake_server)
    fake_server.inject(Fault("429", retry_after=0.2), Fault("503", retry_after=0.2), Fault("429", retry_after=0.2))
    started = time.perf_counter()
    completion = await client.generate(MESSAGES, PARAMS)
    assert time.perf_counter() - started >= 0.6
    assert completion.retries == 3 and fake_server.count == 4


@pytest.mark.parametrize("kind", OPENAI_KINDS)
async def test_retry_after_is_capped_by_max_wait(kind, fake_server, make_client):
    retry = RetryPolicy(max_attempts=3, initial_wait_s=0.01, jitter_s=0.01, max_wait_s=0.2, timeout_s=5)
    client = make_client(kind, fake_server, retry=retry)
    fake_server.inject(Fault("429", retry_after=30))
    started = time.perf_counter()
    completion = await client.generate(MESSAGES, PARAMS)
    assert completion.retries == 1
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("kind", OPENAI_KINDS)
async def test_several_faults_in_a_row(kind, fake_server, make_client):
    client = make_client(kind, fake_server)
    fake_server.inject(Fault("500"), Fault("malformed"), Fault("429", retry_after=0.05))
    completion = await client.generate(MESSAGES, PARAMS)
    assert completion.retries == 3
    assert fake_server.count == 4
    assert client.stats.retries == 3


EXHAUSTING = {"500": ServerError, "503": ServerError, "429": RateLimited, "malformed": MalformedResponse}


@pytest.mark.parametrize("fault", list(EXHAUSTING))
@pytest.mark.parametrize("kind", KINDS)
async def test_exhausted_retries_raise_after_max_attempts(kind, fault, fake_server, make_client):
    retry = RetryPolicy(max_attempts=3, initial_wait_s=0.01, jitter_s=0.01, max_wait_s=0.05, timeout_s=5)
    client = make_client(kind, fake_server, retry=retry)
    fake_server.inject(*[Fault(fault, retry_after=0.01 if fault == "429" else None) for _ in range(3)])
    with pytest.raises(ModelError) as info:
        await client.generate(MESSAGES, PARAMS)
    expected = EXHAUSTING[fault]
    if kind.startswith("litellm") and fault == "malformed":
        # litellm reports an unreadable body as a 500 (openai) or a connection error (anthropic)
        expected = (MalformedResponse, ServerError, ConnectionFailed)
    assert isinstance(info.value, expected)
    assert info.value.retryable
    assert info.value.attempts == 3
    assert fake_server.count == 3
    assert client.stats.requests == 3
    assert client.stats.retries == 2
    assert client.stats.errors == 1
    # the server is fine again: the next request goes through at once
    completion = await client.generate(MESSAGES, PARAMS)
    assert completion.retries == 0 and fake_server.count == 4


@pytest.mark.parametrize("kind", KINDS)
async def test_context_length_error_is_not_retried(kind, fake_server, make_client):
    client = make_client(kind, fake_server)
    fake_server.inject(Fault("400-context"))
    with pytest.raises(ContextLengthExceeded) as info:
        await client.generate(MESSAGES, PARAMS)
    assert info.value.status == 400
    assert info.value.attempts == 1
    assert fake_server.count == 1
    assert client.stats.retries == 0 and client.stats.errors == 1


@pytest.mark.parametrize("kind", OPENAI_KINDS)
async def test_connection_refused_is_retried_then_raised(kind, make_client):
    with started(FakeLLMServer()) as server:
        pass  # started and stopped: nothing listens on its port any more
    client = make_client(kind, server, retry=RetryPolicy(max_attempts=2, initial_wait_s=0.01, jitter_s=0.01, max_wait_s=0.05, timeout_s=5))
    with pytest.raises(ModelError) as info:
        await client.generate(MESSAGES, PARAMS)
    assert info.value.retryable
    assert info.value.attempts == 2
    assert client.stats.requests == 2


def test_from_status_and_retry_after_parsing():
    assert isinstance(from_status(429, "slow down"), RateLimited)
    assert isinstance(from_status(401, "bad key"), AuthenticationFailed)
    assert isinstance(from_status(502, "gateway"), ServerError)
    assert isinstance(from_status(408, "timeout"), RequestTimeout)
    assert type(from_status(400, "bad field")) is BadRequest
    assert isinstance(from_status(400, "prompt is too long: 300000 tokens"), ContextLengthExceeded)
    assert not from_status(400, "maximum context length").retryable
    assert from_status(503, "x", {"retry-after": "2"}).retry_after == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-3"}) == 0.0
    assert parse_retry_after(None) is None
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 100))
    assert 90 <= parse_retry_after({"retry-after": http_date}) <= 101


# --- 4. credentials --------------------------------------------------------------------
@pytest.mark.parametrize(
    "model_id, env_var",
    [
        ("openai/gpt-test", "OPENAI_API_KEY"),
        ("anthropic/claude-test", "ANTHROPIC_API_KEY"),
        ("litellm/openai/gpt-test", "OPENAI_API_KEY"),
        ("litellm/anthropic/claude-test", "ANTHROPIC_API_KEY"),
    ],
)
def test_missing_api_key_is_a_configuration_error(model_id, env_var, fake_server, monkeypatch):
    adapter = create_model(model_id, {})
    with pytest.raises(ConfigurationError, match=env_var):
        adapter.validate()
    assert fake_server.count == 0
    monkeypatch.setenv(env_var, "from-the-environment-123")
    adapter.validate()  # now satisfied


@pytest.mark.parametrize("kind", ["openai", "openai-sdk", "anthropic"])
async def test_api_key_from_the_environment_is_sent(kind, fake_server, monkeypatch):
    env_var = "ANTHROPIC_API_KEY" if kind == "anthropic" else "OPENAI_API_KEY"
    monkeypatch.setenv(env_var, "env-key-abcdef123456")
    model_id, args = spec(kind, fake_server)
    del args["api_key"]
    adapter = create_model(model_id, args)
    adapter.validate()
    client = ModelClient(adapter, retry=FAST)
    try:
        await client.generate(MESSAGES, PARAMS)
    finally:
        await client.aclose()
    assert sent_key(fake_server.requests[0][2]) == "env-key-abcdef123456"


def test_local_openai_server_needs_no_key(fake_server):
    create_model("openai/local", {"base_url": fake_server.openai_base_url}).validate()


# --- 5. the response cache ------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
async def test_second_identical_request_comes_from_the_cache(kind, fake_server, make_client, cache_dir):
    cache = ResponseCache(cache_dir)
    client = make_client(kind, fake_server, cache=cache)
    first = await client.generate(MESSAGES, PARAMS)
    assert first.cached is False and fake_server.count == 1
    second = await client.generate(MESSAGES, PARAMS)
    assert fake_server.count == 1
    assert second.cached is True
    assert (second.text, second.usage, second.finish_reason) == (first.text, first.usage, first.finish_reason)
    assert second.retries == 0
    assert client.stats.cache_hits == 1 and client.stats.requests == 1
    assert len(cache) == 1
    cache.close()


@pytest.mark.parametrize("kind", OPENAI_KINDS)
async def test_different_params_or_messages_miss_the_cache(kind, fake_server, make_client, cache_dir):
    cache = ResponseCache(cache_dir)
    client = make_client(kind, fake_server, cache=cache)
    await client.generate(MESSAGES, PARAMS)
    await client.generate(MESSAGES, PARAMS.merged({"temperature": 0.7}))
    assert fake_server.count == 2
    await client.generate(MESSAGES[:-1] + [Message(role="user", content="hello there")], PARAMS)
    assert fake_server.count == 3
    await client.generate(MESSAGES[:-1] + [Message(role="assistant", content="hello world")], PARAMS)  # role counts
    assert fake_server.count == 4
    await client.generate(MESSAGES, PARAMS.merged({"seed": 8}))
    await client.generate(MESSAGES, PARAMS.merged({"max_tokens": 34}))
    assert fake_server.count == 6
    # and each of them is now cached
    await client.generate(MESSAGES, PARAMS.merged({"temperature": 0.7}))
    await client.generate(MESSAGES, PARAMS)
    assert fake_server.count == 6
    assert len(cache) == 6
    cache.close()


async def test_cache_key_separates_models_and_providers(fake_server, make_client, cache_dir):
    cache = ResponseCache(cache_dir)
    await make_client("openai", fake_server, cache=cache).generate(MESSAGES, PARAMS)
    await make_client("litellm-openai", fake_server, cache=cache).generate(MESSAGES, PARAMS)
    assert fake_server.count == 2
    other = create_model("openai/gpt-other", {"base_url": fake_server.openai_base_url, "api_key": API_KEY})
    client = ModelClient(other, cache=cache, retry=FAST)
    await client.generate(MESSAGES, PARAMS)
    await client.aclose()
    assert fake_server.count == 3
    cache.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_api_key_never_reaches_the_cache_file(kind, fake_server, make_client, cache_dir):
    cache = ResponseCache(cache_dir)
    client = make_client(kind, fake_server, cache=cache)
    await client.generate(MESSAGES, PARAMS)

    def all_bytes() -> bytes:
        return b"".join(p.read_bytes() for p in sorted(Path(cache_dir).iterdir()) if p.is_file())

    data = all_bytes()
    assert b"echo: hello world" in data  # the reply is there, so we are reading the right bytes
    assert API_KEY.encode() not in data
    cache.close()  # checkpoints the WAL into the main file
    data = (Path(cache_dir) / "responses.sqlite").read_bytes()
    assert b"echo: hello world" in data
    assert API_KEY.encode() not in data


@pytest.mark.parametrize("kind", OPENAI_KINDS)
async def test_cache_key_ignores_the_api_key(kind, fake_server, make_client, cache_dir):
    cache = ResponseCache(cache_dir)
    first = make_client(kind, fake_server, cache=cache)
    await first.generate(MESSAGES, PARAMS)
    second = make_client(kind, fake_server, cache=cache, api_key="another-key-9876543210")
    completion = await second.generate(MESSAGES, PARAMS)
    assert completion.cached is True
    assert fake_server.count == 1
    assert first._key_args == second._key_args
    assert "api_key" not in first._key_args
    cache.close()


@pytest.mark.parametrize("kind", OPENAI_KINDS)
async def test_cache_key_ignores_the_timeout(kind, fake_server, make_client, cache_dir):
    """The cache promises that timeouts are not part of a key: re-running a run with a
    longer timeout must replay what the first run already got."""
    cache = ResponseCache(cache_dir)
    await make_client(kind, fake_server, cache=cache, timeout=30).generate(MESSAGES, PARAMS)
    completion = await make_client(kind, fake_server, cache=cache, timeout=600).generate(MESSAGES, PARAMS)
    assert completion.cached is True
    assert fake_server.count == 1
    cache.close()


def test_cache_key_function_is_stable_and_sensitive():
    key = cache_key("openai/m", {"base_url": "x"}, PARAMS, MESSAGES)
    assert key == cache_key("openai/m", {"base_url": "x"}, PARAMS, list(MESSAGES))
    assert len(key) == 64
    assert key != cache_key("openai/m", {"base_url": "y"}, PARAMS, MESSAGES)
    assert key != cache_key("openai/m", {"base_url": "x"}, PARAMS.merged({"stop": "STOP"}), MESSAGES)
    assert key != cache_key("openai/n", {"base_url": "x"}, PARAMS, MESSAGES)


async def test_cache_survives_reopening(fake_server, make_client, cache_dir):
    cache = ResponseCache(cache_dir)
    await make_client("anthropic", fake_server, cache=cache).generate(MESSAGES, PARAMS)
    cache.close()
    reopened = ResponseCache(cache_dir)
    completion = await make_client("anthropic", fake_server, cache=reopened).generate(MESSAGES, PARAMS)
    assert completion.cached is True and completion.text == "echo: hello world"
    assert completion.usage == Usage(input_tokens=7, output_tokens=3)
    assert fake_server.count == 1
    reopened.close()


@pytest.mark.parametrize("kind", OPENAI_KINDS)
async def test_failures_are_not_cached(kind, fake_server, make_client, cache_dir):
    cache = ResponseCache(cache_dir)
    client = make_client(kind, fake_server, cache=cache)
    fake_server.inject(Fault("400-context"))
    with pytest.raises(ContextLengthExceeded):
        await client.generate(MESSAGES, PARAMS)
    assert len(cache) == 0
    completion = await client.generate(MESSAGES, PARAMS)
    assert completion.cached is False and fake_server.count == 2
    cache.close()


def test_context_dependent_adapters_bypass_the_cache(cache_dir):
    cache = ResponseCache(cache_dir)
    assert ModelClient(create_model("scripted/echo", {}), cache=cache).cache is None
    assert ModelClient(create_model("replay/gold", {}), cache=cache).cache is None
    cache.close()


# --- 6. secrets ------------------------------------------------------------------------------
class EchoKeyServer(FakeLLMServer):
    """Like a careless proxy: a 401 whose message repeats the credential it was sent."""

    def _handle(self, handler, body, fault):
        if fault is not None and fault.kind == "401-echo":
            sent = [handler.headers.get(name) for name in ("authorization", "x-api-key", "api-key")]
            message = "Incorrect API key provided: " + " ".join(v for v in sent if v)
            error = {"type": "authentication_error", "message": message}
            data = {"type": "error", "error": error} if handler.path.endswith("/messages") else {"error": error}
            self._send(handler, 401, json.dumps(data).encode())
            return
        super()._handle(handler, body, fault)


def test_redactor_scrubs_values_environment_and_key_shapes(monkeypatch):
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "token-from-env-42")
    redact = Redactor([API_KEY, "short", ""])
    text = f"key={API_KEY} env=token-from-env-42 shape=sk-ant-abcdefghijklmnop1234 hf=hf_abcdefghijklmnopqrstuvwx short"
    scrubbed = redact(text)
    assert API_KEY not in scrubbed
    assert "token-from-env-42" not in scrubbed
    assert "sk-ant-abcdefghijklmnop1234" not in scrubbed
    assert "hf_abcdefghijklmnopqrstuvwx" not in scrubbed
    assert scrubbed.count("***") == 4
    assert scrubbed.endswith(" short")  # values under 6 characters are not secrets
    assert redact("nothing secret here") == "nothing secret here"


def test_redactor_prefers_the_longest_secret():
    redact = Redactor(["abcdef", "abcdefghij"])
    assert redact("x abcdefghij y") == "x *** y"


def test_adapter_secrets_and_public_args():
    adapter = create_model("scripted/echo", {"api_key": API_KEY, "base_url": "http://h/v1", "max_tokens": 5, "auth_token": "tok-123456"})
    assert sorted(adapter.secrets()) == sorted([API_KEY, "tok-123456"])
    assert adapter.public_args() == {"base_url": "http://h/v1", "max_tokens": 5}


@pytest.mark.parametrize("name", ["api_key", "OPENAI_API_KEY", "hf_token", "auth_token", "access_token", "token", "x-api-key", "Authorization", "client_secret", "password", "credentials"])
def test_credential_names_are_secret(name):
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["max_tokens", "max_new_tokens", "max_gen_toks", "max_completion_tokens", "max_output_tokens", "skip_special_tokens",
     "tokenizer", "tokenizer_mode", "add_bos_token", "pad_token", "base_url", "temperature", "pretrained"],
)
def test_settings_that_mention_tokens_are_not_secret(name):
    """A tokenizer or a token budget is not a credential: it belongs in the manifest and
    the cache key, and its value must not be scrubbed from every text we write."""
    assert not is_secret_name(name)


def test_lmeval_style_args_stay_public():
    adapter = create_model("scripted/echo", {"pretrained": "org/model-7b", "tokenizer": "org/tokenizer-7b", "add_bos_token": True})
    assert adapter.public_args() == {"add_bos_token": True, "pretrained": "org/model-7b", "tokenizer": "org/tokenizer-7b"}
    assert adapter.secrets() == []
    assert Redactor(adapter.secrets())("loaded org/tokenizer-7b") == "loaded org/tokenizer-7b"


def test_bearer_header_token_is_a_secret_on_its_own():
    adapter = create_model("openai/gpt-test", {"default_headers": {"Authorization": "Bearer gw-token-abcdef"}})
    assert "gw-token-abcdef" in adapter.secrets()
    assert Redactor(adapter.secrets())("rejected token gw-token-abcdef") == "rejected token ***"
    assert adapter.public_args() == {"default_headers": {}}


@pytest.mark.parametrize("kind", KINDS)
async def test_error_messages_never_carry_the_api_key(kind, make_client):
    with started(EchoKeyServer()) as server:
        client = make_client(kind, server)
        server.inject(Fault("401-echo"))
        with pytest.raises(AuthenticationFailed) as info:
            await client.generate(MESSAGES, PARAMS)
        message = str(info.value)
        assert "Incorrect API key provided" in message
        assert API_KEY not in message
        assert "***" in message
        assert server.count == 1  # authentication failures are not retried


@pytest.mark.parametrize("kind", OPENAI_KINDS)
async def test_secret_headers_in_model_args_are_secrets(kind, make_client):
    """A gateway key passed as a default header is as secret as api_key: kept out of
    public args (manifest, cache key) and scrubbed from errors."""
    gateway_key = "gateway-secret-0123456789"
    with started(EchoKeyServer()) as server:
        client = make_client(kind, server, default_headers={"X-Api-Key": gateway_key, "X-Team": "evals"})
        assert gateway_key in client.adapter.secrets()
        assert gateway_key not in json.dumps(client.adapter.public_args())
        # every header value may be a credential (X-Custom-Sig, ...): names stay, values are masked
        assert client.adapter.public_args()["default_headers"] == {"X-Team": "***"}
        server.inject(Fault("401-echo"))
        with pytest.raises(AuthenticationFailed) as info:
            await client.generate(MESSAGES, PARAMS)
        assert server.requests[0][2]["x-api-key"] == gateway_key  # still sent
        assert gateway_key not in str(info.value)
        assert API_KEY not in str(info.value)


async def test_exhausted_retry_errors_are_redacted():
    adapter = create_model("scripted/leaky", {"api_key": API_KEY})
    from mteval.models.scripted import SCRIPTS, register_script

    def leaky(messages, params, context, args):
        raise ServerError(f"upstream rejected {args['api_key']}", status=502)

    register_script("leaky", leaky)
    try:
        client = ModelClient(adapter, retry=RetryPolicy(max_attempts=2, initial_wait_s=0.01, jitter_s=0.01, max_wait_s=0.05, timeout_s=5))
        with pytest.raises(ServerError) as info:
            await client.generate(MESSAGES, PARAMS)
    finally:
        SCRIPTS.pop("leaky", None)
    assert str(info.value) == "upstream rejected ***"
    assert info.value.attempts == 2


# --- 7. rate limiting -------------------------------------------------------------------------
async def test_rate_limiter_spaces_out_concurrent_requests(fake_server, make_client):
    client = make_client("openai", fake_server, limiter=AsyncLimiter(max_rate=5, time_period=1))
    started = time.perf_counter()
    replies = await asyncio.gather(
        *[client.generate([Message(role="user", content=f"question {i}")], PARAMS) for i in range(10)]
    )
    elapsed = time.perf_counter() - started
    assert sorted(r.text for r in replies) == sorted(f"echo: question {i}" for i in range(10))
    assert fake_server.count == 10
    assert elapsed >= 0.8  # 5 at once, then 5 more at 5 per second


# --- 8. replay ------------------------------------------------------------------------------
def write_lines(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), encoding="utf-8")
    return path


def ctx(conversation: str, turn: str, task: str = "fam/task") -> RequestContext:
    return RequestContext(task=task, conversation_id=conversation, turn_id=turn)


async def test_replay_records_file(tmp_path):
    path = write_lines(
        tmp_path / "replies.jsonl",
        [
            {"conversation_id": "c1", "turn_id": "t1", "reply": "generic reply"},
            {"conversation_id": "c1", "turn_id": "t1", "reply": "task reply", "task": "fam/task"},
            "",
            {"conversation_id": 2, "turn_id": 0, "reply": ""},
        ],
    )
    adapter = create_model(f"replay/{path}", {})
    adapter.validate()
    client = ModelClient(adapter, retry=FAST)
    assert (await client.generate(MESSAGES, PARAMS, ctx("c1", "t1"))).text == "task reply"
    assert (await client.generate(MESSAGES, PARAMS, ctx("c1", "t1", task="fam/other"))).text == "generic reply"
    empty = await client.generate(MESSAGES, PARAMS, ctx("2", "0"))  # recorded as empty: that is a reply
    assert empty.text == "" and empty.finish_reason == "replay"


async def test_replay_missing_entry_names_conversation_and_turn(tmp_path):
    path = write_lines(tmp_path / "replies.jsonl", [{"conversation_id": "c1", "turn_id": "t1", "reply": "x"}])
    client = ModelClient(create_model(f"replay/{path}", {}), retry=FAST)
    with pytest.raises(ReplayMissing) as info:
        await client.generate(MESSAGES, PARAMS, ctx("c1", "t2"))
    message = str(info.value)
    assert "'c1'" in message and "'t2'" in message and "fam/task" in message
    assert info.value.attempts == 1  # not retried
    with pytest.raises(ReplayMissing, match="'c9'"):
        await client.generate(MESSAGES, PARAMS, ctx("c9", "t1"))


async def test_replay_does_not_borrow_another_tasks_reply(tmp_path):
    """Conversation ids repeat across benchmarks ("1", "2", ...): a reply recorded for one
    task must not be served to another."""
    path = write_lines(tmp_path / "replies.jsonl", [{"conversation_id": "1", "turn_id": "a", "reply": "A's reply", "task": "fam/a"}])
    adapter = create_model(f"replay/{path}", {})
    assert (await adapter.generate(MESSAGES, PARAMS, ctx("1", "a", task="fam/a"))).text == "A's reply"
    with pytest.raises(ReplayMissing):
        await adapter.generate(MESSAGES, PARAMS, ctx("1", "a", task="fam/b"))


def _sample(task: str, conv_id: str, turns: list[TurnRecord]) -> str:
    conversation = Conversation(id=conv_id, turns=tuple(Turn(id=t.turn_id, user=f"q {t.turn_id}", gold="g") for t in turns))
    return Sample(task=task, conversation=conversation, history="own", turns=turns).model_dump_json(by_alias=True)


async def test_replay_of_an_mteval_run_directory(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_lines(
        run_dir / "samples.jsonl",
        [
            _sample("fam/a", "c1", [TurnRecord(index=0, turn_id="t1", reply="one"), TurnRecord(index=1, turn_id="t2", reply="two")]),
            _sample(
                "fam/b",
                "c1",
                [
                    TurnRecord(index=0, turn_id="t1", reply="ctx", generated=False),
                    TurnRecord(index=1, turn_id="t2", reply="b two"),
                    TurnRecord(index=2, turn_id="t3", reply=None, error="ServerError: boom"),
                ],
            ),
        ],
    )
    for target in (run_dir, run_dir / "samples.jsonl"):
        adapter = create_model(f"replay/{target}", {})
        adapter.validate()
        assert (await adapter.generate(MESSAGES, PARAMS, ctx("c1", "t1", task="fam/a"))).text == "one"
        assert (await adapter.generate(MESSAGES, PARAMS, ctx("c1", "t2", task="fam/a"))).text == "two"
        assert (await adapter.generate(MESSAGES, PARAMS, ctx("c1", "t2", task="fam/b"))).text == "b two"
        # a context-only turn was never generated and an errored turn has no reply: both missing
        with pytest.raises(ReplayMissing, match="'t3'"):
            await adapter.generate(MESSAGES, PARAMS, ctx("c1", "t3", task="fam/b"))
        with pytest.raises(ReplayMissing, match="'t1'"):
            await adapter.generate(MESSAGES, PARAMS, ctx("c1", "t1", task="fam/b"))


@pytest.mark.parametrize(
    "bad_line, expected",
    [
        ('{"conversation_id": "c", "turn_id": ', "invalid JSON"),
        ('{"conversation_id": "c", "reply": "r"}', "turn_id"),
        ('{"conversation_id": "c", "turn_id": "t", "reply": 5}', "reply"),
        ("[1, 2, 3]", ""),
        ('"just a string"', ""),
        ('{"conversation": {"id": "c"}, "turns": [{"reply": "r", "generated": true}]}', ""),
        ('{"conversation": "c", "turns": []}', ""),
    ],
)
def test_malformed_replay_line_names_file_and_line(tmp_path, bad_line, expected):
    path = write_lines(tmp_path / "replies.jsonl", [{"conversation_id": "c", "turn_id": "t", "reply": "ok"}, "", bad_line])
    adapter = create_model(f"replay/{path}", {})
    with pytest.raises(ConfigurationError) as info:
        adapter.validate()
    assert f"{path}:3" in str(info.value)
    assert expected in str(info.value)


def test_replay_of_a_missing_file_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="no such file"):
        create_model(f"replay/{tmp_path / 'nope.jsonl'}", {}).validate()
    with pytest.raises(ConfigurationError, match="samples.jsonl"):
        create_model(f"replay/{tmp_path}", {}).validate()


async def test_replay_gold():
    adapter = create_model("replay/gold", {})
    adapter.validate()
    output = await adapter.generate(MESSAGES, PARAMS, RequestContext(task="fam/t", conversation_id="c", turn_id="t", gold="the gold"))
    assert output.text == "the gold"
    with pytest.raises(ReplayMissing, match="'c'.*'t'"):
        await adapter.generate(MESSAGES, PARAMS, RequestContext(task="fam/t", conversation_id="c", turn_id="t"))


# --- 9. scripted models and model ids ------------------------------------------------------
def test_unknown_script_suggests_close_matches():
    with pytest.raises(ConfigurationError) as info:
        create_model("scripted/ecko", {}).validate()
    assert "ecko" in str(info.value) and "echo" in str(info.value)


def test_unknown_provider_suggests_close_matches():
    with pytest.raises(ConfigurationError, match="openai"):
        create_model("opneai/gpt-test", {})
    with pytest.raises(ConfigurationError, match="provider/model"):
        create_model("gpt-test", {})


async def test_scripted_models():
    echo = ModelClient(create_model("scripted/echo", {}), retry=FAST)
    completion = await echo.generate(MESSAGES, PARAMS)
    assert completion.text == "hello world" and completion.finish_reason == "stop"
    constant = create_model("scripted/constant", {"text": "fixed"})
    assert (await constant.generate(MESSAGES, PARAMS, RequestContext())).text == "fixed"
    fail = ModelClient(create_model("scripted/fail", {}), retry=RetryPolicy(max_attempts=3, initial_wait_s=0.01, jitter_s=0.01, max_wait_s=0.05, timeout_s=5))
    with pytest.raises(ServerError):
        await fail.generate(MESSAGES, PARAMS)
    assert fail.stats.requests == 3 and fail.stats.errors == 1
