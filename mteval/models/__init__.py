"""Model adapters, selected by `provider/model` ids."""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint
from typing import Any, Mapping, NamedTuple

from mteval.errors import ConfigurationError
from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext
from mteval.plugins import Registry


class Provider(NamedTuple):
    """Where a provider's adapter class lives. Imported only when used: litellm and
    lm-eval are slow to import."""

    module: str
    class_name: str
    doc: str


def _provider_from_entry_point(ep: EntryPoint) -> Provider:
    """`name = package.module:AdapterClass` in the group `mteval.providers`; not imported yet."""
    if not ep.attr:
        raise ConfigurationError(f"mteval.providers entry point {ep.name!r} = {ep.value!r} must name a class (module:Class)")
    return Provider(ep.module, ep.attr, f"plugin ({ep.value})")


PROVIDERS: Registry[Provider] = Registry("providers", from_entry_point=_provider_from_entry_point)


def register_provider(name: str, module: str, class_name: str, doc: str = "") -> None:
    """Make `name/<model>` ids build `module.class_name(model, args)`."""
    PROVIDERS.register(name, Provider(module, class_name, doc))


for _name, (_module, _cls, _doc) in {
    "openai": (
        "mteval.models.openai_model", "OpenAIModel",
        "OpenAI and OpenAI-compatible servers (base_url=): lean aiohttp transport, or the openai SDK with transport=sdk",
    ),
    "anthropic": ("mteval.models.anthropic_model", "AnthropicModel", "Anthropic models via the anthropic SDK"),
    "litellm": ("mteval.models.litellm_model", "LiteLLMModel", "any provider litellm supports: litellm/<litellm model id>"),
    "lmeval": ("mteval.models.lmeval_model", "LMEvalModel", "lm-eval's local backends (hf, vllm, ...) with their chat templates"),
    "local": (
        "mteval.models.local_model", "LocalModel",
        "a GGUF model served by llama.cpp on this machine: local/smollm2 or local/<path.gguf> (extra: .[local])",
    ),
    "replay": ("mteval.models.replay", "ReplayModel", "recorded replies: replay/<file or run dir>, or replay/gold"),
    "scripted": ("mteval.models.scripted", "ScriptedModel", "deterministic scripts for tests: echo, constant, fail, ..."),
}.items():
    register_provider(_name, _module, _cls, _doc)


def split_model_id(model_id: str) -> tuple[str, str]:
    provider, sep, name = model_id.partition("/")
    if not sep or not name:
        raise ConfigurationError(f"model id {model_id!r} must look like provider/model (providers: {', '.join(PROVIDERS)})")
    return provider, name


def create_model(model_id: str, args: Mapping[str, Any] | None = None) -> ModelAdapter:
    """Build the adapter for `provider/model`. Unknown providers get close matches."""
    provider, name = split_model_id(model_id)
    module_name, class_name, _ = PROVIDERS.get_entry(provider)
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(name, dict(args or {}))


__all__ = [
    "PROVIDERS",
    "Provider",
    "ConfigurationError",
    "GenerationParams",
    "ModelAdapter",
    "ModelOutput",
    "RequestContext",
    "create_model",
    "register_provider",
    "split_model_id",
]
