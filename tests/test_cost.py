"""Cost comes from litellm's bundled price map, and only where the price is known."""

from __future__ import annotations

import pytest

from mteval.cost import cost_usd
from mteval.models import create_model


def test_known_hosted_model_is_priced_from_the_bundled_map():
    from mteval.models.litellm_model import import_litellm

    litellm = import_litellm()
    expected = sum(litellm.cost_per_token(model="openai/gpt-4o", prompt_tokens=1000, completion_tokens=200))
    assert expected > 0
    assert cost_usd(create_model("openai/gpt-4o", {}), 1000, 200) == pytest.approx(expected)
    assert cost_usd(create_model("anthropic/claude-haiku-4-5", {}), 1000, 200) > 0


def test_unknown_or_self_hosted_models_have_no_cost():
    assert cost_usd(create_model("openai/gpt-4o", {"base_url": "http://127.0.0.1:1/v1"}), 1000, 200) is None
    assert cost_usd(create_model("openai/no-such-model-xyz", {}), 1000, 200) is None
    assert cost_usd(create_model("scripted/echo", {}), 1000, 200) is None


def test_judge_calls_are_costed_separately_in_the_manifest(tmp_path, fake_server):
    from mteval.runner import RunConfig, Runner
    from mteval.scoring.jury import JuryConfig

    config = RunConfig(
        tasks="example/arithmetic", model="scripted/calculator", limit=1, output_dir=tmp_path, cache_dir=tmp_path / "c",
        progress=False, jury=JuryConfig.from_models(["openai/judge"], {"base_url": fake_server.openai_base_url}),
    )
    calls = Runner(config).run().manifest["totals"]["calls"]
    assert calls["model"]["cost_usd"] is None  # a scripted model has no price
    assert "openai/judge" in calls["judges"] and calls["judges"]["openai/judge"]["cost_usd"] is None  # self-hosted


def test_an_endpoint_from_the_environment_is_self_hosted(monkeypatch):
    """OPENAI_BASE_URL pointing at a local server: no price, like a base_url argument (the
    site showed OpenAI's price for replies a local stand-in gave)."""
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    assert cost_usd(create_model("openai/gpt-4o-mini", {}), 1000, 200) is None
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")  # the official API, named explicitly
    assert cost_usd(create_model("openai/gpt-4o-mini", {}), 1000, 200) > 0
