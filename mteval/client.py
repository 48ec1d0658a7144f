"""`ModelClient`: an adapter plus everything a request goes through on its way out.

cache -> rate limit -> timeout -> retry with backoff. The model under test and every
judge are ModelClients, so they share one policy, one cache and separate counters.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Sequence

from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from mteval.cache import ResponseCache, cache_key
from mteval.conversation import Message
from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext
from mteval.models.errors import ModelError, RequestTimeout
from mteval.redact import Redactor
from mteval.transcript import Usage


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


_HAS_TIMEOUT = hasattr(asyncio, "timeout")  # Python 3.11+


# Model args that configure the connection, not the reply: kept out of cache keys, so a
# re-run with a longer timeout still replays what the first run got.
_NOT_IN_CACHE_KEY = frozenset({"timeout"})


def _backoff(retry: RetryPolicy) -> wait_exponential_jitter:
    """Exponential backoff with jitter; tenacity renamed `initial` to `multiplier` in 9.x."""
    import inspect

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
        self._backoff = _backoff(retry)

    @property
    def model_id(self) -> str:
        return self.adapter.model_id

    def _wait(self, retry_state) -> float:  # tenacity wait callback
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, ModelError) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry.max_wait_s)
        return self._backoff(retry_state)

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, context: RequestContext = RequestContext()
    ) -> Completion:
        """One reply, from the cache if we have it. Raises `ModelError` once retries are spent."""
        key = None
        if self.cache is not None:
            key = cache_key(self.adapter.model_id, self._key_args, params, messages)
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                return Completion(hit.text, hit.usage, hit.finish_reason, 0.0, 0, True)

        started = time.perf_counter()
        try:
            output, attempts = await self._with_retries(messages, params, context)
        except ModelError as exc:
            attempts = getattr(exc, "attempts", 1)
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
        if key is not None:
            self.cache.put(key, self.adapter.model_id, output)  # type: ignore[union-attr]
        return Completion(output.text, output.usage, output.finish_reason, latency, attempts - 1, False)

    async def _with_retries(
        self, messages: Sequence[Message], params: GenerationParams, context: RequestContext
    ) -> tuple[ModelOutput, int]:
        """First attempt on the fast path; tenacity's loop only once something failed."""
        try:
            return await self._attempt(messages, params, context), 1
        except ModelError as exc:
            exc.attempts = 1  # type: ignore[attr-defined]
            if not exc.retryable or self.retry.max_attempts <= 1:
                raise
            first_error = exc
        attempts = 1
        await asyncio.sleep(self._first_wait(first_error))
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
            exc.attempts = attempts  # type: ignore[attr-defined]
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
                if _HAS_TIMEOUT:
                    async with asyncio.timeout(timeout_s):  # no extra task per call
                        return await self.adapter.generate(messages, params, context)
                return await asyncio.wait_for(self.adapter.generate(messages, params, context), timeout_s)
            except (asyncio.TimeoutError, TimeoutError) as exc:
                raise RequestTimeout(f"no reply within {timeout_s:g} s") from exc

    async def aclose(self) -> None:
        await self.adapter.aclose()
