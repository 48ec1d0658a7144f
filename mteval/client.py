"""`ModelClient`: an adapter plus everything a request goes through on its way out.

cache -> rate limit -> timeout -> retry with backoff. The model under test and every
judge are ModelClients, so they share one policy, one cache and separate counters.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence
from urllib.parse import urlsplit, urlunsplit

from mteval.cache import CacheKeys, CacheWriteError, ResponseCache
from mteval.conversation import Message
from mteval.errors import ModelError, RequestTimeout
from mteval.models.base import ENDPOINT_ARGS, GenerationParams, ModelAdapter, ModelOutput, RequestContext
from mteval.redact import Redactor
from mteval.transcript import Usage

if TYPE_CHECKING:  # tenacity and aiolimiter are imported where a retry or a rate limit needs them
    from aiolimiter import AsyncLimiter
    from tenacity import wait_exponential_jitter

log = logging.getLogger("mteval.client")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def replace_lone_surrogates(text: str) -> tuple[str, int]:
    """A server may send JSON `"\\ud800"`: a code point no file or database can encode.
    Each one becomes U+FFFD (documented in SECURITY.md); the count is returned so the
    caller can say so. Proper pairs were already joined by the JSON decoder."""
    count = len(_LONE_SURROGATE.findall(text))
    return (_LONE_SURROGATE.sub(REPLACEMENT, text), count) if count else (text, 0)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    initial_wait_s: float = 1.0
    max_wait_s: float = 60.0
    jitter_s: float = 1.0
    timeout_s: float = 120.0


@dataclass(slots=True)
class Completion:
    text: str
    usage: Usage
    finish_reason: str | None
    latency_s: float
    retries: int
    cached: bool


@dataclass
class ClientStats:
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    errors: int = 0
    usage: Usage = field(default_factory=Usage)

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "errors": self.errors,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
        }




# Model args that configure the connection, not the reply: kept out of cache keys, so a
# re-run with a longer timeout (or the other openai transport) still replays what the first run got.
_NOT_IN_CACHE_KEY = frozenset({"timeout", "transport"})


# Environment variables the provider SDKs read for their base URL when none is given.


def endpoint_of(adapter: ModelAdapter) -> str | None:
    """Where requests of `adapter` go: its `base_url` (or `api_base`) argument, else the
    provider's base-URL environment variable, else None (the provider's default).
    Credentials (user:password@, query strings) are removed: this goes into cache keys
    and manifests."""
    raw = next((adapter.args.get(name) for name in ENDPOINT_ARGS if adapter.args.get(name)), None)
    if raw is None:
        raw = next((os.environ[v] for v in adapter.endpoint_env if os.environ.get(v)), None)
    return _without_credentials(str(raw)) if raw else None


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _backoff(retry: RetryPolicy) -> wait_exponential_jitter:
    """Exponential backoff with jitter; tenacity renamed `initial` to `multiplier` in 9.x."""
    import inspect

    from tenacity import wait_exponential_jitter

    first = "multiplier" if "multiplier" in inspect.signature(wait_exponential_jitter).parameters else "initial"
    # tenacity's loop starts at the second attempt (the fast path already waited
    # initial_wait_s before it), so its first wait is the doubled one.
    return wait_exponential_jitter(**{first: 2 * retry.initial_wait_s}, max=retry.max_wait_s, jitter=retry.jitter_s)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ModelError) and exc.retryable


class ModelClient:
    def __init__(
        self,
        adapter: ModelAdapter,
        *,
        cache: ResponseCache | None = None,
        limiter: AsyncLimiter | None = None,
        retry: RetryPolicy = RetryPolicy(),
        redactor: Redactor | None = None,
        role: str = "model",
    ):
        self.adapter = adapter
        self.cache = cache if adapter.cacheable else None
        self.limiter = limiter
        self.retry = retry
        self.redactor = redactor or Redactor(adapter.secrets())
        self.role = role
        self.stats = ClientStats()
        self._key_args = {k: v for k, v in adapter.public_args().items() if k not in _NOT_IN_CACHE_KEY}
        # the endpoint decides which server answers: a local stand-in and the real API
        # must never share cached replies (base_url from args or the environment)
        self.endpoint = endpoint_of(adapter)
        if self.endpoint is not None and not any(name in self._key_args for name in ENDPOINT_ARGS):
            # set by the environment: key it; a base_url argument is already in the key, and keys
            # of default-endpoint requests stay as they were, so existing caches remain valid
            self._key_args["__endpoint__"] = self.endpoint
        self._cache_key = CacheKeys(adapter.model_id, self._key_args)
        self._backoff: wait_exponential_jitter | None = None  # built on the first retry
        self.write_error: CacheWriteError | None = None
        """Set when a reply could not be committed to the cache; the runner stops taking new
        conversations (the reply itself is still returned and ends up in samples.jsonl)."""

    @property
    def model_id(self) -> str:
        return self.adapter.model_id

    def _wait(self, retry_state) -> float:  # tenacity wait callback
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, ModelError) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry.max_wait_s)
        if self._backoff is None:
            self._backoff = _backoff(self.retry)
        return self._backoff(retry_state)

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, context: RequestContext = RequestContext()
    ) -> Completion:
        """One reply, from the cache if we have it. Raises `ModelError` once retries are spent."""
        key = None
        if self.cache is not None:
            key = self._cache_key(params, messages)
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                return Completion(hit.text, hit.usage, hit.finish_reason, 0.0, 0, True)

        started = time.perf_counter()
        try:
            output, attempts = await self._with_retries(messages, params, context)
        except ModelError as exc:
            attempts = exc.attempts
            self.stats.errors += 1
            self.stats.retries += attempts - 1
            exc.args = (self.redactor(str(exc)),)
            # the SDK exception it came from may quote a credential: do not chain it
            exc.__cause__ = None
            exc.__suppress_context__ = True
            raise
        latency = time.perf_counter() - started
        self.stats.retries += attempts - 1
        self.stats.usage = self.stats.usage + output.usage
        text, replaced = replace_lone_surrogates(output.text)
        if replaced:
            log.warning("mteval: %s reply held %d lone surrogate(s); stored as U+FFFD", self.model_id, replaced)
            output = ModelOutput(text, output.usage, output.finish_reason)
        if key is not None and self.cache is not None and self.write_error is None:
            try:
                self.cache.put(key, self.adapter.model_id, output)
            except CacheWriteError as exc:
                self.write_error = exc
                log.warning("mteval: %s; finishing the conversations in flight, starting no new ones", exc)
        return Completion(output.text, output.usage, output.finish_reason, latency, attempts - 1, False)

    async def _with_retries(
        self, messages: Sequence[Message], params: GenerationParams, context: RequestContext
    ) -> tuple[ModelOutput, int]:
        """First attempt on the fast path; tenacity's loop only once something failed."""
        try:
            return await self._attempt(messages, params, context), 1
        except ModelError as exc:
            exc.attempts = 1
            if not exc.retryable or self.retry.max_attempts <= 1:
                raise
            first_error = exc
        attempts = 1
        await asyncio.sleep(self._first_wait(first_error))
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt  # only once something failed

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.retry.max_attempts - 1),
                wait=self._wait,
                retry=retry_if_exception(_is_retryable),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    output = await self._attempt(messages, params, context)
        except ModelError as exc:
            exc.attempts = attempts
            raise
        return output, attempts

    def _first_wait(self, exc: ModelError) -> float:
        if exc.retry_after is not None:
            return min(exc.retry_after, self.retry.max_wait_s)
        return min(self.retry.initial_wait_s + random.uniform(0, self.retry.jitter_s), self.retry.max_wait_s)

    async def _attempt(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        if self.limiter is not None:
            await self.limiter.acquire()
        async with self.adapter.request_slot():  # queueing for a busy local server is not timed
            self.stats.requests += 1
            timeout_s = self.adapter.request_timeout(self.retry.timeout_s)
            try:
                if sys.version_info >= (3, 11):  # asyncio.timeout: no extra task per call (mypy knows this check)
                    async with asyncio.timeout(timeout_s):
                        return await self.adapter.generate(messages, params, context)
                return await asyncio.wait_for(self.adapter.generate(messages, params, context), timeout_s)
            except (asyncio.TimeoutError, TimeoutError) as exc:
                raise RequestTimeout(f"no reply within {timeout_s:g} s") from exc

    async def aclose(self) -> None:
        await self.adapter.aclose()
