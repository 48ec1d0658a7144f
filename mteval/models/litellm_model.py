"""`litellm/<litellm model id>`: every other provider, through litellm."""

from __future__ import annotations

import os
from typing import Sequence

from mteval.conversation import Message
from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext
from mteval.models.errors import ConfigurationError
from mteval.models.openai_model import chat_completion_request, parse_chat_completion, translate_openai_error


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
        args = dict(self.args)
        if "base_url" in args:
            args["api_base"] = args.pop("base_url")
        request.update(args)
        try:
            response = await litellm.acompletion(**request)
        except Exception as exc:
            raise translate_openai_error(exc) from exc
        return parse_chat_completion(response)
