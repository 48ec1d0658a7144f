"""What the engine knows about a provider comes from its adapter class (issue #16): a
third-party provider's base-URL environment variable enters the endpoint (cache key,
fingerprint, manifest) and its price lookup follows its own declaration, with no table
in mteval to edit."""

from __future__ import annotations

from typing import Sequence

import pytest

from mteval.client import ModelClient, endpoint_of
from mteval.conversation import Message
from mteval.cost import cost_usd
from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext


class PluginModel(ModelAdapter):
    provider = "acme"
    endpoint_env = ("ACME_BASE_URL",)
    price_prefix = "openai"  # priced like OpenAI's models of the same name
    official_hosts = frozenset({"api.acme.example"})

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        raise AssertionError("not called")


def _key(client: ModelClient) -> str:
    return client._cache_key(GenerationParams(), [Message(role="user", content="hi")])


def test_a_plugin_providers_environment_endpoint_is_keyed(monkeypatch):
    monkeypatch.delenv("ACME_BASE_URL", raising=False)
    default = ModelClient(PluginModel("m", {}))
    assert default.endpoint is None
    monkeypatch.setenv("ACME_BASE_URL", "http://user:secret@127.0.0.1:9/v1/")
    elsewhere = ModelClient(PluginModel("m", {}))
    assert elsewhere.endpoint == endpoint_of(elsewhere.adapter) == "http://127.0.0.1:9/v1"  # credentials removed
    assert _key(elsewhere) != _key(default)  # another server's replies are never served from the cache


def test_price_follows_the_adapters_declaration(monkeypatch):
    monkeypatch.delenv("ACME_BASE_URL", raising=False)
    official = PluginModel("gpt-4o-mini", {})
    assert cost_usd(official, 1000, 1000) is not None and cost_usd(official, 1000, 1000) > 0
    elsewhere = PluginModel("gpt-4o-mini", {"base_url": "http://127.0.0.1:8000/v1"})
    assert cost_usd(elsewhere, 1000, 1000) is None  # a self-hosted endpoint is never priced

    class Unpriced(PluginModel):
        price_prefix = None

    assert cost_usd(Unpriced("gpt-4o-mini", {}), 1000, 1000) is None


@pytest.mark.parametrize("provider, args, message", [
    ("lmeval", {"batch_size": 0.5}, "lmeval/m: model arg batch_size must be a positive integer, got 0.5"),
    ("lmeval", {"batch_wait_ms": -1}, "lmeval/m: model arg batch_wait_ms must be a number >= 0, got -1"),
    ("openai", {"timeout": True}, "openai/m: model arg timeout must be a positive number, got True"),
    ("anthropic", {"timeout": float("nan")}, "anthropic/m: model arg timeout must be a positive number, got nan"),
])
def test_numeric_model_args_are_checked_when_the_adapter_is_built(provider, args, message):
    """`number_args`: a value that is no number of the declared kind is a usage error naming
    the arg when the adapter is built, before any request (not a ValueError at the first)."""
    from mteval.errors import ConfigurationError
    from mteval.models import create_model

    with pytest.raises(ConfigurationError) as raised:
        create_model(f"{provider}/m", args)
    assert str(raised.value) == message
