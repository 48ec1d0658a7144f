"""`CacheKeys` (what ModelClient uses per call) must give exactly `cache_key`'s keys,
or every cache written before it would silently stop hitting."""

from __future__ import annotations

from mteval.cache import CacheKeys, cache_key
from mteval.conversation import Message
from mteval.models.base import GenerationParams

ARGS = {"base_url": "http://h/v1", "metadata": {"z": 1, "a": ["é", None]}, "top_k": 5}
TEXTS = ["plain", "héllo wörld ✓", 'quote " backslash \\ slash /', "ctl \x00\x1f\t\n\r\x7f", "\u2028\u2029 emoji 🙂", ""]


def test_fast_keys_equal_the_reference_keys():
    keys = CacheKeys("openai/m", ARGS)
    for params in (GenerationParams(), GenerationParams(temperature=0.7, stop=("END", "é"), seed=None, top_p=0.5)):
        for n in range(1, len(TEXTS) + 1):
            messages = [Message(role="user" if i % 2 == 0 else "assistant", content=t) for i, t in enumerate(TEXTS[:n])]
            assert keys(params, messages) == cache_key("openai/m", ARGS, params, messages)


def test_fast_keys_separate_params_models_and_args():
    messages = [Message(role="user", content="hi")]
    a, b = GenerationParams(), GenerationParams(max_tokens=7)
    keys = CacheKeys("openai/m", ARGS)
    assert keys(a, messages) != keys(b, messages)
    assert keys(a, messages) == keys(GenerationParams(), messages)  # equal params share the cached head
    assert CacheKeys("openai/n", ARGS)(a, messages) != keys(a, messages)
    assert CacheKeys("openai/m", {**ARGS, "top_k": 6})(a, messages) != keys(a, messages)


def test_switching_params_objects_keys_each_by_its_own():
    """The last params object is remembered (one per task in a run); a different one is never keyed as it."""
    messages = [Message(role="user", content="hi")]
    a, b = GenerationParams(), GenerationParams(max_tokens=7)
    keys = CacheKeys("openai/m", ARGS)
    sequence = (a, a, b, a, b, b, GenerationParams(max_tokens=7), a)
    assert [keys(p, messages) for p in sequence] == [cache_key("openai/m", ARGS, p, messages) for p in sequence]
