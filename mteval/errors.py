"""Provider-neutral errors, at the bottom of the import graph (this module imports nothing
from mteval). Model adapters translate their SDK's exceptions into the `ModelError` classes,
so the retry policy and the runner treat every provider the same way; `ConfigurationError`
is the user-error type every layer raises for bad ids, args, files or credentials."""

from __future__ import annotations


class ModelError(Exception):
    """Base class. `retryable` errors are retried with backoff; others fail the turn."""

    retryable: bool = False
    attempts: int = 1
    """How many requests were made before giving up; the client sets it when retries end."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RateLimited(ModelError):
    retryable = True


class ServerError(ModelError):
    retryable = True


class RequestTimeout(ModelError):
    retryable = True


class ConnectionFailed(ModelError):
    retryable = True


class MalformedResponse(ModelError):
    """The server answered, but not with something we can read. Retried: flaky proxies do this."""

    retryable = True


class BadRequest(ModelError):
    pass


class ContextLengthExceeded(BadRequest):
    """The conversation no longer fits the model's context window. Never truncated silently."""


class AuthenticationFailed(ModelError):
    pass


class ConfigurationError(Exception):
    """Bad model id, bad model args or a missing credential: raised before any request."""


class ReplayMissing(ModelError):
    """A replay file has no recorded reply for this conversation and turn."""


def parse_retry_after(headers: object) -> float | None:
    """Seconds to wait from a Retry-After (or retry-after-ms) header, if present and sane."""
    if headers is None:
        return None
    get = getattr(headers, "get", None)
    if get is None:
        return None
    millis = get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        import time
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def from_status(status: int, message: str, headers: object = None) -> ModelError:
    """Map an HTTP status to the matching error class."""
    retry_after = parse_retry_after(headers)
    lowered = message.lower()
    if status == 429:
        return RateLimited(message, status=status, retry_after=retry_after)
    if status in (401, 403):
        return AuthenticationFailed(message, status=status)
    if status == 408:
        return RequestTimeout(message, status=status, retry_after=retry_after)
    if status >= 500:
        return ServerError(message, status=status, retry_after=retry_after)
    if status in (400, 413, 422) and any(
        marker in lowered for marker in ("context length", "context_length", "maximum context", "too many tokens", "prompt is too long", "context window")
    ):
        return ContextLengthExceeded(message, status=status)
    return BadRequest(message, status=status)
