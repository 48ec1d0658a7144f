"""`anthropic/<model>`: the anthropic SDK. The system prompt goes in the top-level
`system` field, the Anthropic way, never as a message.

Anthropic API version 2026-10-21 (the default of anthropic SDK 2.x) rejects
temperature, top_p and top_k, and the Messages API has no seed. mteval therefore
sends no sampling parameters unless the user pins `api_version=2023-06-01` in
--model-args; `not_sent()` lists what was recorded but not sent, for the manifest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from mteval.conversation import Message
from mteval.errors import (
    ConnectionFailed,
    MalformedResponse,
    RequestTimeout,
    from_status,
)
from mteval.models.base import GenerationParams, KeyedAdapter, ModelOutput, RequestContext, request_extras
from mteval.transcript import Usage

if TYPE_CHECKING:
    import anthropic

CLIENT_ARGS = frozenset({"base_url", "api_key", "timeout", "default_headers", "api_version"})
BODY_ARGS = frozenset({"top_k", "metadata", "thinking", "tools", "tool_choice", "service_tier"})
LEGACY_VERSION = "2023-06-01"


class AnthropicModel(KeyedAdapter):
    provider = "anthropic"
    endpoint_env = ("ANTHROPIC_BASE_URL",)
    price_prefix = "anthropic"
    official_hosts = frozenset({"api.anthropic.com"})
    env_var = "ANTHROPIC_API_KEY"
    known_args = CLIENT_ARGS | BODY_ARGS
    number_args = {"timeout": "positive"}

    def __init__(self, model: str, args: Mapping[str, Any]):
        super().__init__(model, args)
        self._client: anthropic.AsyncAnthropic | None = None

    @property
    def sends_sampling_params(self) -> bool:
        return str(self.args.get("api_version", "")) == LEGACY_VERSION

    def not_sent(self) -> list[str]:
        """Generation parameters recorded in the manifest that this API does not take."""
        return ["seed"] if self.sends_sampling_params else ["seed", "temperature", "top_p"]

    def _get_client(self):
        if self._client is None:
            import anthropic

            headers = dict(self.args.get("default_headers") or {})
            if self.args.get("api_version"):
                headers["anthropic-version"] = str(self.args["api_version"])
            self._client = anthropic.AsyncAnthropic(
                api_key=self._api_key() or "EMPTY",
                base_url=self.args.get("base_url"),
                max_retries=0,
                timeout=float(self.args.get("timeout", 600)),
                default_headers=headers or None,
            )
        return self._client

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        return _output(await self._send(self._request(messages, params)))

    def _request(self, messages: Sequence[Message], params: GenerationParams) -> dict[str, Any]:
        """The Messages API body: system prompts joined into `system`, sampling parameters
        (in `extra_body`) only for the API version that takes them."""
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        chat = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
        request: dict[str, Any] = {"model": self.model, "messages": chat, "max_tokens": params.max_tokens}
        if system:
            request["system"] = system
        if params.stop:
            request["stop_sequences"] = list(params.stop)
        extra = request_extras(self.args, CLIENT_ARGS)
        if self.sends_sampling_params:
            extra["temperature"] = params.temperature
            if params.top_p is not None:
                extra["top_p"] = params.top_p
        if extra:
            request["extra_body"] = extra
        return request

    async def _send(self, request: dict[str, Any]) -> Any:
        """The SDK's response; its exceptions as mteval's provider-neutral errors."""
        import anthropic

        try:
            return await self._get_client().messages.create(**request)
        except anthropic.APITimeoutError as exc:
            raise RequestTimeout(str(exc)) from exc
        except anthropic.APIConnectionError as exc:
            raise ConnectionFailed(str(exc)) from exc
        except anthropic.APIStatusError as exc:
            raise from_status(exc.status_code, str(exc), exc.response.headers) from exc
        except (anthropic.AnthropicError, ValueError) as exc:
            raise MalformedResponse(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()


def _output(response: Any) -> ModelOutput:
    """The text blocks joined, with usage and stop reason; a response without them is malformed."""
    try:
        text = "".join(block.text for block in response.content if getattr(block, "type", "") == "text")
        usage = Usage(input_tokens=response.usage.input_tokens, output_tokens=response.usage.output_tokens)
    except (AttributeError, TypeError) as exc:
        raise MalformedResponse(f"response without content/usage: {str(response)[:200]}") from exc
    return ModelOutput(text=text, usage=usage, finish_reason=response.stop_reason)
