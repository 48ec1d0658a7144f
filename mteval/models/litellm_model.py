"""`litellm/<litellm model id>`: every other provider, through litellm."""

from __future__ import annotations

import os
from typing import Sequence

from mteval.conversation import Message
from mteval.errors import ConfigurationError
from mteval.models.base import BODY_PREFIX, GenerationParams, ModelAdapter, ModelOutput, RequestContext
from mteval.models.openai_model import BODY_ARGS, chat_completion_request, parse_chat_completion, translate_openai_error


def import_litellm():
    """Import litellm without letting it reach the network: use its bundled cost map
    and no telemetry."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


class LiteLLMModel(ModelAdapter):
    provider = "litellm"
    price_prefix = ""
    official_hosts = frozenset({"api.openai.com", "api.anthropic.com"})
    known_args = frozenset(
        {"api_key", "api_base", "base_url", "api_version", "timeout", "organization", "custom_llm_provider",
         "extra_headers", "default_headers", "input_cost_per_token", "output_cost_per_token"}
    ) | BODY_ARGS
    # provider-specific settings litellm reads (aws_region_name, vertex_project, ...)
    passthrough_prefixes = (BODY_PREFIX, "aws_", "vertex_", "azure_", "watsonx_", "bedrock_")

    def validate(self) -> None:
        if self.args.get("api_key") or self.args.get("api_base") or self.args.get("base_url"):
            return
        litellm = import_litellm()
        try:
            report = litellm.validate_environment(model=self.model)
        except Exception:  # unknown provider layouts: let the request tell
            return
        missing = report.get("missing_keys") or []
        if missing:
            raise ConfigurationError(
                f"{self.model_id}: missing credentials. Set the environment variable(s) {', '.join(missing)} "
                "(or pass api_key=... in --model-args)."
            )

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        litellm = import_litellm()
        request = chat_completion_request(self.model, messages, params)
        request["num_retries"] = 0
        # providers that lack a parameter (e.g. seed) get it dropped rather than failing
        request["drop_params"] = True
        args = {str(k).removeprefix(BODY_PREFIX): v for k, v in self.args.items()}
        if "base_url" in args:
            args["api_base"] = args.pop("base_url")
        request.update(args)
        try:
            response = await litellm.acompletion(**request)
        except Exception as exc:
            raise translate_openai_error(exc) from exc
        return parse_chat_completion(response)
