"""`lmeval/<name>`: lm-eval's model registry (hf, vllm, ...) for local models.

Prompts are rendered with the model's own chat template (`apply_chat_template`).
Concurrent requests from many conversations are gathered into batches for
`generate_until`, which runs in a worker thread so the event loop stays free.
A prompt that does not fit the context window is an error, never silently truncated
(lm-eval itself would cut the prompt from the left).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from mteval.conversation import Message
from mteval.errors import ConfigurationError, ContextLengthExceeded, ServerError
from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext
from mteval.transcript import Usage

ADAPTER_ARGS = {"batch_size", "batch_wait_ms"}


@dataclass
class _Pending:
    prompt: str
    gen_kwargs: dict[str, Any]
    future: asyncio.Future = field(repr=False)


class LMEvalModel(ModelAdapter):
    provider = "lmeval"
    number_args = {"batch_size": "positive integer", "batch_wait_ms": "non-negative"}

    def __init__(self, model: str, args: Mapping[str, Any]):
        super().__init__(model, args)
        self.batch_size = int(self.args.get("batch_size", 8))
        self.batch_wait_s = float(self.args.get("batch_wait_ms", 5)) / 1000.0
        self._lm: Any = None  # lm-eval's LM, loaded on first use
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._load_lock = asyncio.Lock()

    def validate(self) -> None:
        try:
            from lm_eval.api.registry import get_model

            get_model(self.model)
            if self.model in ("hf", "huggingface", "hf-auto"):
                import torch  # noqa: F401  (only the hf extra brings these)
                import transformers  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                f"lmeval/{self.model} needs packages that are not installed ({exc.name or exc}); "
                "install the extra: pip install 'mteval-harness[hf]'"
            ) from None
        except ValueError as exc:
            raise ConfigurationError(f"lmeval/{self.model}: not in lm-eval's model registry ({exc})") from exc

    def _construct(self) -> Any:
        from lm_eval.api.registry import get_model

        cls = get_model(self.model)
        model_args = {k: v for k, v in self.args.items() if k not in ADAPTER_ARGS}
        return cls.create_from_arg_obj(model_args, {"batch_size": self.batch_size})

    async def _ensure_loaded(self):
        """Load the model once; (re)start the batching worker on this event loop if it is not running.

        The worker, its queue and the lock belong to one event loop: after `aclose()` or
        in a new loop (a second `asyncio.run`, e.g. another run with the same adapter) they
        are recreated, while the loaded model is kept.
        """
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._load_lock = asyncio.Lock()
            self._queue = None
            self._worker = None
        async with self._load_lock:
            if self._lm is None:
                self._lm = await asyncio.to_thread(self._construct)
            if self._worker is None or self._worker.done():
                self._queue = asyncio.Queue()
                self._worker = asyncio.create_task(self._serve())
        return self._lm

    def render(self, messages: Sequence[Message]) -> str:
        """The exact prompt string the model sees: its chat template over the messages."""
        return self._lm.apply_chat_template([{"role": m.role, "content": m.content} for m in messages])

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        lm = await self._ensure_loaded()
        prompt = self.render(messages)
        prompt_tokens = len(lm.tok_encode(prompt))
        max_length = getattr(lm, "max_length", None)
        if isinstance(max_length, int) and prompt_tokens + params.max_tokens > max_length:
            raise ContextLengthExceeded(
                f"prompt of {prompt_tokens} tokens + {params.max_tokens} new tokens exceeds the "
                f"context window of {max_length} tokens"
            )
        gen_kwargs: dict[str, Any] = {
            "until": list(params.stop),
            "max_gen_toks": params.max_tokens,
            "do_sample": params.temperature > 0,
            "temperature": params.temperature,
        }
        if params.top_p is not None:
            gen_kwargs["top_p"] = params.top_p
        future = asyncio.get_running_loop().create_future()
        assert self._queue is not None
        await self._queue.put(_Pending(prompt, gen_kwargs, future))
        text = await future
        return ModelOutput(
            text=text,
            usage=Usage(input_tokens=prompt_tokens, output_tokens=len(lm.tok_encode(text)) if text else 0),
            finish_reason="stop",
        )

    async def _serve(self) -> None:
        from lm_eval.api.instance import Instance

        queue = self._queue  # this worker's own queue, even if a later one replaces it
        assert queue is not None
        while True:
            batch = [await queue.get()]
            await asyncio.sleep(self.batch_wait_s)
            while len(batch) < self.batch_size and not queue.empty():
                batch.append(queue.get_nowait())
            instances = [
                Instance(request_type="generate_until", doc={}, arguments=(p.prompt, p.gen_kwargs), idx=i)
                for i, p in enumerate(batch)
            ]
            try:
                outputs = await asyncio.to_thread(self._lm.generate_until, instances, True)
            except Exception as exc:  # a backend failure fails this batch, not the run
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(ServerError(f"lm-eval backend failed: {exc}"))
                continue
            for pending, text in zip(batch, outputs):
                if not pending.future.done():
                    pending.future.set_result(text)

    async def aclose(self) -> None:
        """Stop the batching worker. The model stays loaded; the next request restarts the worker."""
        if self._worker is not None:
            self._worker.cancel()
        self._worker = None
        self._queue = None
