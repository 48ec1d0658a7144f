"""What the engine knows about a provider comes from its adapter class (issue #16): a
third-party provider's base-URL environment variable enters the endpoint (cache key,
fingerprint, manifest) and its price lookup follows its own declaration, with no table
in mteval to edit."""

from __future__ import annotations

from typing import Sequence

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
