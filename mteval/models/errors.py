"""Compatibility re-export: the errors live in `mteval.errors` (the bottom layer) so that
modules outside `models` can raise them without importing the model package."""

from mteval.errors import (
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

__all__ = [
    "AuthenticationFailed",
    "BadRequest",
    "ConfigurationError",
    "ConnectionFailed",
    "ContextLengthExceeded",
    "MalformedResponse",
    "ModelError",
    "RateLimited",
    "ReplayMissing",
    "RequestTimeout",
    "ServerError",
    "from_status",
    "parse_retry_after",
]
