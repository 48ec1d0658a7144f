"""Model adapters, selected by `provider/model` ids."""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext
from mteval.errors import ConfigurationError

# provider -> (module, class). Imported lazily: litellm and lm-eval are slow to import.
PROVIDERS: dict[str, tuple[str, str, str]] = {
    "openai": ("mteval.models.openai_model", "OpenAIModel", "OpenAI and OpenAI-compatible servers (base_url=): lean aiohttp transport, or the openai SDK with transport=sdk"),
    "anthropic": ("mteval.models.anthropic_model", "AnthropicModel", "Anthropic models via the anthropic SDK"),
    "litellm": ("mteval.models.litellm_model", "LiteLLMModel", "any provider litellm supports: litellm/<litellm model id>"),
    "lmeval": ("mteval.models.lmeval_model", "LMEvalModel", "lm-eval's local backends (hf, vllm, ...) with their chat templates"),
    "local": ("mteval.models.local_model", "LocalModel", "a GGUF model served by llama.cpp on this machine: local/smollm2 or local/<path.gguf> (extra: .[local])"),
    "replay": ("mteval.models.replay", "ReplayModel", "recorded replies: replay/<file or run dir>, or replay/gold"),
    "scripted": ("mteval.models.scripted", "ScriptedModel", "deterministic scripts for tests: echo, constant, fail, ..."),
}


def split_model_id(model_id: str) -> tuple[str, str]:
    provider, sep, name = model_id.partition("/")
    if not sep or not name:
        raise ConfigurationError(f"model id {model_id!r} must look like provider/model (providers: {', '.join(PROVIDERS)})")
    return provider, name


def create_model(model_id: str, args: Mapping[str, Any] | None = None) -> ModelAdapter:
    """Build the adapter for `provider/model`. Unknown providers get close matches."""
    from mteval.suggest import close_matches_message

    provider, name = split_model_id(model_id)
    if provider not in PROVIDERS:
        raise ConfigurationError(f"unknown provider {provider!r}. {close_matches_message(provider, PROVIDERS)}")
    module_name, class_name, _ = PROVIDERS[provider]
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(name, dict(args or {}))


__all__ = [
    "PROVIDERS",
    "ConfigurationError",
    "GenerationParams",
    "ModelAdapter",
    "ModelOutput",
    "RequestContext",
    "create_model",
    "split_model_id",
]
