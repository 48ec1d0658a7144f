"""The one async interface every model (and every judge) is reached through."""

from __future__ import annotations

import abc
import contextlib
import re
from dataclasses import dataclass, field
from typing import Any, AsyncContextManager, ClassVar, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from mteval.conversation import Message
from mteval.transcript import Usage

BODY_PREFIX = "body."


def request_extras(args: Mapping[str, Any], client_args: frozenset[str] | set[str]) -> dict[str, Any]:
    """Model args that go into the request body: everything but the client's own settings,
    with the `body.` escape prefix removed."""
    return {str(k).removeprefix(BODY_PREFIX): v for k, v in args.items() if k not in client_args}


class GenerationParams(BaseModel):
    """Explicit sampling parameters. Recorded in the manifest and part of the cache key."""

    model_config = ConfigDict(frozen=True)

    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int | None = 0
    stop: tuple[str, ...] = ()
    top_p: float | None = None

    def merged(self, overrides: Mapping[str, Any]) -> "GenerationParams":
        if not overrides:
            return self
        data = self.model_dump()
        data.update({k: v for k, v in overrides.items() if k in data})
        if isinstance(data.get("stop"), str):
            data["stop"] = (data["stop"],)
        return GenerationParams(**data)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Where a request comes from. Only replay and scripted models look at it;
    it is never part of the cache key."""

    task: str = ""
    conversation_id: str = ""
    turn_id: str = ""
    turn_index: int = 0
    gold: str | None = None
    role: str = "model"


@dataclass(slots=True)
class ModelOutput:
    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None


ENDPOINT_ARGS = ("base_url", "api_base", "endpoint")
"""Model args that name where requests go (recorded, keyed and checked as one)."""


class ModelAdapter(abc.ABC):
    """A provider client. Subclasses translate SDK errors into `mteval.errors`.

    `cacheable` is False for models whose reply depends on the request context rather
    than the messages (replay, scripted): caching them would be wrong, and free anyway.
    """

    provider: ClassVar[str]
    cacheable: ClassVar[bool] = True
    known_args: ClassVar[frozenset[str] | None] = None
    """Model-arg names this adapter reads; others are rejected with a did-you-mean (`base_ur=`
    must not send the run to the provider's public endpoint). None: not checked."""
    number_args: ClassVar[Mapping[str, str]] = {}
    """Model args that must be numbers: name -> "positive", "positive integer", "non-negative" or "integer".
    Checked when the adapter is built, so `timeout=abc` is a usage error naming the arg, not a
    ValueError traceback at the first request (or, for a juror, after the model's replies)."""
    passthrough_prefixes: ClassVar[tuple[str, ...]] = (BODY_PREFIX,)
    """Args starting with these are passed on unchecked (`body.top_k=40` sends `top_k`)."""
    endpoint_env: ClassVar[tuple[str, ...]] = ()
    """Environment variables the provider's SDK reads for its base URL (OPENAI_BASE_URL): where
    requests go when no base_url argument is given, so they enter the cache key and fingerprint."""
    price_prefix: ClassVar[str | None] = None
    """How litellm's price map names this provider's models: "openai" prices `openai/<model>`,
    "" prices the model id as it is (litellm's own), None: no price is looked up."""
    official_hosts: ClassVar[frozenset[str]] = frozenset()
    """Hosts of the provider's own API: an endpoint elsewhere (vLLM, a proxy) is priced at None."""

    def __init__(self, model: str, args: Mapping[str, Any]):
        self.model = model
        self.args = dict(args)
        self._check_args()
        check_number_args(self.model_id, self.args, self.number_args)

    def _check_args(self) -> None:
        if self.known_args is None:
            return
        for name in self.args:
            if name in self.known_args or str(name).startswith(self.passthrough_prefixes):
                continue
            from mteval.errors import ConfigurationError
            from mteval.suggest import close_matches_message

            raise ConfigurationError(
                f"{self.model_id}: unknown model arg {name!r}. {close_matches_message(str(name), self.known_args)} "
                f"(to send a provider-specific request field anyway, write {BODY_PREFIX}{name}=...)"
            )

    @property
    def model_id(self) -> str:
        return f"{self.provider}/{self.model}"

    def validate(self) -> None:
        """Raise `ConfigurationError` (naming the environment variable) if a credential
        or argument is missing. Called before the first request."""

    @abc.abstractmethod
    async def generate(
        self, messages: Sequence[Message], params: GenerationParams, context: RequestContext
    ) -> ModelOutput:
        """Return one reply. Raise a `ModelError` subclass on failure."""

    async def aclose(self) -> None:
        """Release connections."""

    @property
    def max_concurrency(self) -> int | None:
        """Requests the backend works on at once (None: no limit). The runner runs at most this
        many conversations; a local single-request server says 1 (a property, so that an
        adapter can derive it from its arguments)."""
        return None

    def request_slot(self) -> AsyncContextManager[Any]:
        """Entered before each request, outside its timeout: an adapter whose server works on
        one request at a time queues here, so waiting is never counted as timing out."""
        return contextlib.nullcontext()

    def request_timeout(self, policy_timeout_s: float) -> float:
        """Seconds one request may take once admitted (default: the retry policy's)."""
        return policy_timeout_s

    def not_sent(self) -> list[str]:
        """Generation parameters this provider does not accept (recorded, not sent)."""
        return []

    def secrets(self) -> list[str]:
        """Secret values this adapter holds (also inside dict args such as default_headers),
        so they can be scrubbed from any text we store."""
        return _secret_values(self.args)

    def public_args(self) -> dict[str, Any]:
        """Model args with secrets removed (also inside dict args such as default_headers):
        what goes in manifests and cache keys."""
        return _without_secrets(self.args)


def check_number_args(model_id: str, args: Mapping[str, Any], kinds: Mapping[str, str]) -> None:
    """`check_number_arg` of each arg given that `kinds` names (adapters' and scripts' `number_args`)."""
    for name, kind in kinds.items():
        if name in args:
            check_number_arg(model_id, name, args[name], kind)


def check_number_arg(model_id: str, name: str, value: Any, kind: str) -> None:
    """Raise `ConfigurationError` unless `value` is a number of `kind` (see `number_args`)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # NaN is no number
    whole = isinstance(value, int) or kind not in ("positive integer", "integer")
    if not (number and whole and (kind == "integer" or (value >= 0 if kind == "non-negative" else value > 0))):
        from mteval.errors import ConfigurationError

        what = {"positive": "a positive number", "positive integer": "a positive integer", "non-negative": "a number >= 0", "integer": "an integer"}[kind]
        raise ConfigurationError(f"{model_id}: model arg {name} must be {what}, got {value!r}")


class KeyedAdapter(ModelAdapter):
    """An adapter whose API key comes from `api_key=` or the environment variable
    `env_var`; a local server given with `base_url=` may need none."""

    env_var: ClassVar[str] = ""

    def _api_key(self) -> str | None:
        import os

        return self.args.get("api_key") or os.environ.get(self.env_var)

    def validate(self) -> None:
        if not self._api_key() and not self.args.get("base_url"):
            from mteval.errors import ConfigurationError

            raise ConfigurationError(
                f"{self.model_id}: no API key. Set the environment variable {self.env_var} "
                "(or pass api_key=... in --model-args; a local server given with base_url= needs none)."
            )


_SECRET_MARKERS = ("key", "token", "secret", "password", "passwd", "auth", "credential", "signature", "cookie")
# Names with a marker that hold token counts or tokenizer settings, not credentials.
_NOT_SECRET = re.compile(r"tokens|tokenizer|(?:bos|eos|pad|unk|sep|cls|mask)_token")


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS) and not _NOT_SECRET.search(lowered)


def _secret_values(args: Mapping[str, Any], *, all_values: bool = False) -> list[str]:
    from mteval.redact import is_header_name, url_secrets

    values: list[str] = []
    for name, value in args.items():
        if isinstance(value, Mapping):
            values.extend(_secret_values(value, all_values=all_values or is_header_name(str(name))))
        elif all_values or is_secret_name(str(name)):
            if value:
                values.append(str(value))
                _scheme, _, credential = str(value).partition(" ")  # "Bearer <token>"
                if credential:
                    values.append(credential)
        else:
            values.extend(url_secrets(value))
    return values


def _without_secrets(args: Mapping[str, Any], *, mask_values: bool = False) -> dict[str, Any]:
    """Secret-named args dropped, header values masked (their names stay, so a reader sees
    which headers were set), URL userinfo removed."""
    from mteval.redact import MASK, is_header_name, scrub_url_userinfo

    public: dict[str, Any] = {}
    for name, value in sorted(args.items()):
        if isinstance(value, Mapping):
            public[name] = _without_secrets(value, mask_values=mask_values or is_header_name(str(name)))
        elif is_secret_name(str(name)):
            continue
        elif mask_values:
            public[name] = MASK
        elif isinstance(value, str):
            public[name] = scrub_url_userinfo(value)
        else:
            public[name] = value
    return public


def public_values(args: Mapping[str, Any]) -> dict[str, Any]:
    """Any user-given key=value options (model args, task options) as they may be recorded."""
    return _without_secrets(args)


def secret_values(args: Mapping[str, Any]) -> list[str]:
    """The credential values inside user-given options, for the `Redactor`."""
    return _secret_values(args)
