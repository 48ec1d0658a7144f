"""`openai/<model>`: OpenAI and any OpenAI-compatible server via `base_url=` (vLLM,
llama.cpp server, Ollama, LM Studio).

Two transports send the same chat-completions body and read the reply with the same
`parse_chat_completion`: the lean one (`openai_http`, aiohttp + orjson, the default)
and the openai SDK (`transport=sdk`), kept for SDK-only features and as a reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from mteval.conversation import Message
from mteval.errors import (
    ConfigurationError,
    ConnectionFailed,
    MalformedResponse,
    ModelError,
    RequestTimeout,
    from_status,
)
from mteval.models.base import GenerationParams, KeyedAdapter, ModelOutput, RequestContext, request_extras
from mteval.models.openai_http import ChatCompletionsHTTP
from mteval.transcript import Usage

if TYPE_CHECKING:
    import openai

# Arguments that configure the client; everything else goes into the request body.
CLIENT_ARGS = frozenset({"base_url", "api_key", "organization", "project", "timeout", "default_headers", "transport"})
TRANSPORTS = ("http", "sdk")
# Request-body fields of chat completions (OpenAI and the usual OpenAI-compatible servers:
# vLLM, llama.cpp, Ollama). Anything else must be written `body.<name>=` on purpose.
BODY_ARGS = frozenset({
    "frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs", "n", "response_format",
    "user", "reasoning_effort", "service_tier", "parallel_tool_calls", "tools", "tool_choice", "store", "metadata",
    "modalities", "prediction", "verbosity", "max_completion_tokens", "top_k", "min_p", "repetition_penalty",
    "length_penalty", "min_tokens", "ignore_eos", "skip_special_tokens", "spaces_between_special_tokens",
    "chat_template", "chat_template_kwargs", "add_generation_prompt", "include_stop_str_in_output",
    "guided_json", "guided_regex", "guided_choice", "guided_grammar", "truncate_prompt_tokens", "best_of",
    "typical_p", "mirostat", "num_ctx", "keep_alive", "options",
})


def translate_openai_error(exc: Exception) -> ModelError:
    """Map openai-SDK-shaped exceptions (also raised by litellm) to mteval errors."""
    import openai

    if isinstance(exc, ModelError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return RequestTimeout(str(exc))
    if isinstance(exc, openai.APIConnectionError):
        return ConnectionFailed(str(exc))
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or getattr(exc, "litellm_response_headers", None)
        return from_status(status, str(exc), headers)
    return MalformedResponse(f"{type(exc).__name__}: {exc}")


def chat_completion_request(model: str, messages: Sequence[Message], params: GenerationParams) -> dict[str, Any]:
    """The chat-completions body for these messages and parameters (openai and litellm)."""
    request: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
    }
    if params.seed is not None:
        request["seed"] = params.seed
    if params.stop:
        request["stop"] = list(params.stop)
    if params.top_p is not None:
        request["top_p"] = params.top_p
    return request


class OpenAIModel(KeyedAdapter):
    provider = "openai"
    endpoint_env = ("OPENAI_BASE_URL",)
    price_prefix = "openai"
    official_hosts = frozenset({"api.openai.com"})
    env_var = "OPENAI_API_KEY"
    known_args = CLIENT_ARGS | BODY_ARGS
    number_args = {"timeout": "positive"}

    def __init__(self, model: str, args: Mapping[str, Any]):
        super().__init__(model, args)
        self._client: openai.AsyncOpenAI | None = None
        self._http: ChatCompletionsHTTP | None = None
        self.transport = str(self.args.get("transport", "http"))
        self._extra = request_extras(self.args, CLIENT_ARGS)

    def validate(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ConfigurationError(f"{self.model_id}: transport={self.transport!r}; choose one of {', '.join(TRANSPORTS)}")
        super().validate()

    def _get_http(self) -> ChatCompletionsHTTP:
        if self._http is None:
            self._http = ChatCompletionsHTTP(
                api_key=self._api_key() or "EMPTY",
                base_url=self.args.get("base_url"),
                organization=self.args.get("organization"),
                project=self.args.get("project"),
                timeout=float(self.args.get("timeout", 600)),
                default_headers=self.args.get("default_headers"),
            )
        return self._http

    def _get_client(self):
        if self._client is None:
            import openai

            self._client = openai.AsyncOpenAI(
                api_key=self._api_key() or "EMPTY",
                base_url=self.args.get("base_url"),
                organization=self.args.get("organization"),
                project=self.args.get("project"),
                max_retries=0,  # mteval's retry policy decides, and counts
                timeout=float(self.args.get("timeout", 600)),
                default_headers=self.args.get("default_headers"),
            )
        return self._client

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        request = chat_completion_request(self.model, messages, params)
        if self.transport != "sdk":
            if self._extra:
                request.update(self._extra)  # what the SDK's extra_body does
            return parse_chat_completion(await self._get_http().create(request))
        return await self._generate_sdk(request)

    async def _generate_sdk(self, request: dict[str, Any]) -> ModelOutput:
        import openai

        if self._extra:
            request["extra_body"] = self._extra
        try:
            response = await self._get_client().chat.completions.create(**request)
        except openai.OpenAIError as exc:
            raise translate_openai_error(exc) from exc
        except ValueError as exc:  # undecodable JSON body
            raise MalformedResponse(f"unreadable response body: {exc}") from exc
        return parse_chat_completion(response)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._http is not None:
            await self._http.aclose()


def parse_chat_completion(response: Any) -> ModelOutput:
    """Read text, usage and finish reason from a chat-completions response: an SDK
    object, or the decoded JSON of the lean transport (read through the same names)."""
    if isinstance(response, dict):  # decoded JSON (not typing.Mapping: its isinstance is slow)
        fast = _parse_plain(response)
        if fast is not None:
            return fast
        response = _Fields(response)  # something is off: the general path says what
    try:
        choice = response.choices[0]
        text = choice.message.content
    except (AttributeError, IndexError, TypeError, KeyError) as exc:
        raise MalformedResponse(f"response has no choices[0].message: {str(response)[:200]}") from exc
    if text is None:
        # not an empty answer: scoring "" as wrong would hide a provider fault. Retried like
        # any malformed reply; if it persists the turn is an error with this reason.
        refusal = getattr(choice.message, "refusal", None)
        reason = f"refusal {str(refusal)[:200]!r}" if refusal else f"finish_reason {getattr(choice, 'finish_reason', None)!r}"
        raise MalformedResponse(f"reply has content: null ({reason})")
    if not isinstance(text, str):
        raise MalformedResponse(f"reply content is a {type(text).__name__}, not a string")
    usage = getattr(response, "usage", None)
    return ModelOutput(
        text=text,
        usage=Usage(
            input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        ),
        finish_reason=getattr(choice, "finish_reason", None),
    )


def _parse_plain(response: dict[str, Any]) -> ModelOutput | None:
    """`parse_chat_completion` of a well-formed decoded reply by plain indexing (a third of
    its CPU per call); None for anything unusual, which the general path then reads or
    refuses with its message."""
    try:
        choice = response["choices"][0]
        text = choice["message"]["content"]
        finish_reason = choice.get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    usage = response.get("usage")
    if not isinstance(text, str) or not (finish_reason is None or isinstance(finish_reason, str)):
        return None
    if not isinstance(usage, dict):
        if usage is not None:
            return None
        usage = {}
    return ModelOutput(
        text=text,
        usage=Usage.model_construct(  # int() already made them ints
            input_tokens=int(usage.get("prompt_tokens", 0) or 0), output_tokens=int(usage.get("completion_tokens", 0) or 0)
        ),
        finish_reason=finish_reason,
    )


class _Fields:
    """Attribute access over decoded JSON (`reply.choices[0].message.content`), so one
    parser serves SDK objects and plain dicts; a missing key is an AttributeError."""

    __slots__ = ("_data",)

    def __init__(self, data: Any):
        self._data = data

    def __getattr__(self, name: str) -> Any:
        try:
            return _fields(self._data[name])
        except (KeyError, TypeError) as exc:
            raise AttributeError(name) from exc

    def __getitem__(self, index: Any) -> Any:
        return _fields(self._data[index])

    def __repr__(self) -> str:
        return repr(self._data)


def _fields(value: Any) -> Any:
    return _Fields(value) if isinstance(value, (dict, list)) else value
