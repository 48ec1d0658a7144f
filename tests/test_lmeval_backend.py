"""The `lmeval/hf` adapter end to end, on a tiny model built here (no network, no download).

A byte-level BPE tokenizer is trained locally with `tokenizers`, wrapped as a
`PreTrainedTokenizerFast` with a Jinja chat template whose role markers are its own
special tokens, and saved next to a randomly initialised two-layer Llama. lm-eval's
HFLM loads that directory through mteval, so these tests check what a real local model
goes through: the chat template, greedy determinism, micro-batching of concurrent
requests, the context-window check and a whole `Runner` run.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

# The hf extra (torch, transformers, tokenizers) is optional: the README's test command does
# not install it, so these tests are skipped, with this reason, unless it is there (CI installs it).
HF_MISSING = "the hf extra is not installed: pip install -e '.[hf]' (CPU torch: see README, 'Local models')"
pytest.importorskip("torch", reason=HF_MISSING)
pytest.importorskip("transformers", reason=HF_MISSING)
pytest.importorskip("tokenizers", reason=HF_MISSING)
pytest.importorskip("lm_eval.models.huggingface", reason=HF_MISSING)

from mteval.client import ModelClient, RetryPolicy  # noqa: E402
from mteval.conversation import Message  # noqa: E402
from mteval.models import create_model  # noqa: E402
from mteval.models.base import GenerationParams  # noqa: E402
from mteval.models.errors import ContextLengthExceeded  # noqa: E402
from mteval.results import SAMPLES, read_manifest  # noqa: E402
from mteval.runner import RunConfig, Runner  # noqa: E402

pytestmark = pytest.mark.slow

ARITHMETIC_DATA = Path(__file__).resolve().parents[1] / "tasks" / "example" / "data" / "arithmetic.jsonl"
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
CONTEXT = 512
# No retries and a short timeout: a hung batching worker fails a test instead of stalling it.
FAST_FAIL = RetryPolicy(max_attempts=1, timeout_s=60)

CONVERSATION = [
    Message(role="system", content="You are a careful calculator."),
    Message(role="user", content="Start with the number 11. Add 8 to it. What is the result?"),
    Message(role="assistant", content="19"),
    Message(role="user", content="Multiply it by 2. What is the result? Reply with the number only."),
]


def _corpus() -> list[str]:
    rng = random.Random(0)
    words = (
        "the a number result add subtract multiply it by to from what is reply with only you are "
        "careful calculator start then final hello world model test turn one two three"
    ).split()
    lines = [" ".join(rng.choice(words) for _ in range(12)) + f" {rng.randint(-100, 1000)}." for _ in range(300)]
    return lines + ARITHMETIC_DATA.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A local HF model directory: trained tokenizer + chat template + random tiny Llama."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny-chat-llama")
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=SPECIAL_TOKENS[4:],
        model_max_length=CONTEXT,
        chat_template=CHAT_TEMPLATE,
    )
    tokenizer.save_pretrained(path)

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=0.3,  # well-separated logits: greedy picks are not near-ties
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def hf_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def model_args(path: Path, **overrides: Any) -> dict[str, Any]:
    # float64: batched (left-padded) and single greedy decoding agree to the last bit that matters.
    args: dict[str, Any] = {"pretrained": str(path), "device": "cpu", "batch_size": 2, "dtype": "float64"}
    args.update(overrides)
    return args


def as_dicts(messages: list[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


async def test_generates_through_the_chat_template(tiny_model_dir, hf_tokenizer):
    adapter = create_model("lmeval/hf", model_args(tiny_model_dir))
    adapter.validate()
    client = ModelClient(adapter, retry=FAST_FAIL)
    params = GenerationParams(temperature=0.0, max_tokens=12)
    try:
        first = await client.generate(CONVERSATION, params)
        second = await client.generate(CONVERSATION, params)
    finally:
        await client.aclose()

    assert isinstance(first.text, str)
    assert first.text == second.text, "greedy decoding must be deterministic"
    assert not first.cached and not second.cached

    rendered = adapter.render(CONVERSATION)
    expected = hf_tokenizer.apply_chat_template(as_dicts(CONVERSATION), add_generation_prompt=True, tokenize=False)
    assert rendered == expected
    assert rendered.startswith("<s><|system|>\nYou are a careful calculator.<|end|>\n<|user|>\nStart with")
    assert "<|assistant|>\n19<|end|>\n" in rendered
    assert rendered.endswith("<|user|>\nMultiply it by 2. What is the result? Reply with the number only.<|end|>\n<|assistant|>\n")

    prompt_ids = hf_tokenizer(rendered, add_special_tokens=False)["input_ids"]
    assert prompt_ids[0] == hf_tokenizer.bos_token_id
    assert hf_tokenizer.convert_tokens_to_ids("<|assistant|>") in prompt_ids  # role markers are single tokens
    assert first.usage.input_tokens == len(prompt_ids)
    assert client.stats.requests == 2 and client.stats.errors == 0


async def test_concurrent_requests_are_batched_and_match_single_requests(tiny_model_dir):
    adapter = create_model("lmeval/hf", model_args(tiny_model_dir, batch_size=2))
    client = ModelClient(adapter, retry=FAST_FAIL)
    params = GenerationParams(max_tokens=10)
    conversations = [
        [CONVERSATION[0], Message(role="user", content=f"Start with the number {n}." + " Add 3 to it." * n)]
        for n in range(1, 6)
    ]  # different lengths, so batches are left-padded
    try:
        singles = [(await client.generate(c, params)).text for c in conversations]

        lm = adapter._lm
        batch_sizes: list[int] = []
        generate_until = lm.generate_until

        def recording_generate_until(requests, *args, **kwargs):
            batch_sizes.append(len(requests))
            return generate_until(requests, *args, **kwargs)

        lm.generate_until = recording_generate_until
        together = await asyncio.gather(*(client.generate(c, params) for c in conversations))
    finally:
        await client.aclose()

    assert [c.text for c in together] == singles
    assert all(isinstance(t, str) for t in singles)
    assert sum(batch_sizes) == len(conversations)
    assert max(batch_sizes) == 2, f"concurrent requests were not micro-batched: {batch_sizes}"
    assert all(size <= 2 for size in batch_sizes)


async def test_prompt_longer_than_context_window_is_an_error(tiny_model_dir, hf_tokenizer):
    adapter = create_model("lmeval/hf", model_args(tiny_model_dir, max_length=64))
    client = ModelClient(adapter, retry=RetryPolicy(max_attempts=3, initial_wait_s=0.01, max_wait_s=0.01, timeout_s=60))
    short = [Message(role="user", content="Add 2 to 3.")]
    short_tokens = len(
        hf_tokenizer(hf_tokenizer.apply_chat_template(as_dicts(short), add_generation_prompt=True, tokenize=False), add_special_tokens=False)["input_ids"]
    )
    assert short_tokens < 32
    try:
        # Exactly at the limit: prompt + new tokens == 64 is fine.
        fits = await client.generate(short, GenerationParams(max_tokens=64 - short_tokens))
        assert isinstance(fits.text, str) and fits.usage.input_tokens == short_tokens

        # One token more must fail, not be cut from the left as lm-eval would do.
        with pytest.raises(ContextLengthExceeded) as over_by_one:
            await client.generate(short, GenerationParams(max_tokens=65 - short_tokens))
        assert f"prompt of {short_tokens} tokens + {65 - short_tokens} new tokens" in str(over_by_one.value)

        long = [CONVERSATION[0], Message(role="user", content="Start with the number 7. " + "Add 3 to it. " * 40)]
        with pytest.raises(ContextLengthExceeded) as too_long:
            await client.generate(long, GenerationParams(max_tokens=8))
    finally:
        await client.aclose()
    message = str(too_long.value)
    assert "exceeds the context window of 64 tokens" in message
    assert "+ 8 new tokens" in message
    assert getattr(too_long.value, "attempts", None) == 1, "a context overflow is not retried"
    assert client.stats.errors == 2 and client.stats.requests == 3


def test_adapter_survives_aclose_and_a_new_event_loop(tiny_model_dir):
    """The Runner closes its client at the end of a run; the same adapter (already loaded)
    must still answer in a later run, i.e. in a later `asyncio.run`."""
    adapter = create_model("lmeval/hf", model_args(tiny_model_dir))
    params = GenerationParams(max_tokens=6)

    async def ask() -> str:
        client = ModelClient(adapter, retry=FAST_FAIL)
        try:
            replies = await asyncio.gather(*(client.generate(CONVERSATION, params) for _ in range(3)))
        finally:
            await client.aclose()
        return replies[0].text

    first = asyncio.run(ask())
    lm = adapter._lm
    assert asyncio.run(ask()) == first
    assert adapter._lm is lm, "the model is loaded once"


def test_runner_end_to_end(tiny_model_dir, tmp_path):
    config = RunConfig(
        tasks="example/arithmetic",
        model="lmeval/hf",
        model_args=model_args(tiny_model_dir, max_length=CONTEXT),
        limit=2,
        generation={"max_tokens": 8},
        output_dir=tmp_path / "runs",
        cache_dir=tmp_path / "cache",
        retry=FAST_FAIL,
        command=["pytest"],
        progress=False,
    )
    outcome = Runner(config).run()

    manifest = read_manifest(outcome.run_dir)
    assert manifest["status"] == "complete" and not outcome.interrupted
    assert manifest["model"]["id"] == "lmeval/hf"
    assert manifest["totals"]["conversations"] == 2
    assert manifest["totals"]["errored_turns"] == 0
    assert manifest["totals"]["calls"]["model"]["errors"] == 0

    samples = [json.loads(line) for line in (outcome.run_dir / SAMPLES).read_text(encoding="utf-8").splitlines()]
    assert len(samples) == 2
    scored = [turn for sample in samples for turn in sample["turns"] if turn["scored"]]
    assert len(scored) == manifest["totals"]["scored_turns"] > 0
    for sample in samples:
        assert sample["status"] == "ok", sample.get("error")
        assert sample["generation"]["max_tokens"] == 8
    for turn in scored:
        assert isinstance(turn["reply"], str)
        assert turn["error"] is None
        assert turn["usage"]["input_tokens"] > 0
        assert turn["scores"]["exact"]["status"] == "ok"

    exact = manifest["metrics"]["example/arithmetic"]["exact"]
    assert exact["value"] is not None and 0.0 <= exact["value"] <= 1.0
    assert exact["n"] == len(scored)
