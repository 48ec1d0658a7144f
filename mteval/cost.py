"""Dollar cost of a run's calls, from litellm's bundled price map (no network).

Only for hosted models whose price litellm knows (an adapter's `price_prefix`); a model behind a
custom `base_url` (argument or the adapter's `endpoint_env`, e.g. OPENAI_BASE_URL) off its
`official_hosts` (vLLM, a proxy) or unknown to litellm has no cost (None), never a guessed one.
"""

from __future__ import annotations

from mteval.models.base import ModelAdapter


def _custom_endpoint(adapter: ModelAdapter) -> bool:
    """Whether requests go somewhere other than the provider's own API: a base_url argument
    or the SDK's environment variable (OPENAI_BASE_URL, ...), as the cache key sees it."""
    from urllib.parse import urlsplit

    from mteval.client import endpoint_of

    endpoint = endpoint_of(adapter)
    return endpoint is not None and urlsplit(endpoint).hostname not in adapter.official_hosts


def cost_usd(adapter: ModelAdapter, input_tokens: int, output_tokens: int) -> float | None:
    """USD for these tokens on this adapter's model, or None if unknown."""
    if adapter.price_prefix is None or _custom_endpoint(adapter):
        return None
    if input_tokens == 0 and output_tokens == 0:
        return 0.0
    from mteval.models.litellm_model import import_litellm

    litellm = import_litellm()
    prefix = adapter.price_prefix
    model = f"{prefix}/{adapter.model}" if prefix else adapter.model
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=input_tokens, completion_tokens=output_tokens
        )
    except Exception:  # not in litellm's price map
        return None
    return float(prompt_cost + completion_cost)
