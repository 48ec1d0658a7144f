"""The conversation runner: every task, every model, one code path.

Conversations run concurrently (a fixed pool of `max_concurrency` workers pulling from
a lazy queue, so memory does not grow with the dataset), turns run in order inside a
conversation, and each finished conversation is scored and appended to samples.jsonl
at once. A re-run of the same configuration resumes: finished conversations are
skipped, unfinished ones replay their finished turns from the response cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from aiolimiter import AsyncLimiter

from mteval import __version__
from mteval.cache import DEFAULT_CACHE_DIR, ResponseCache
from mteval.client import ModelClient, RetryPolicy
from mteval.conversation import Conversation
from mteval.models import create_model
from mteval.models.base import GenerationParams, ModelAdapter
from mteval.models.errors import ConfigurationError
from mteval.redact import Redactor
from mteval.registry import family_aggregates, resolve
from mteval.results import (
    MANIFEST,
    RUN_SCHEMA,
    SampleWriter,
    iter_sample_dicts,
    read_manifest,
    sample_rows,
    write_json_atomic,
)
from mteval.scoring.agreement import JudgingTally
from mteval.scoring.base import ScoreContext, TurnState
from mteval.scoring.jury import Jury, JuryConfig
from mteval.solver import ChatSolver, HistoryMode, missing_gold
from mteval.stats import by_turn, mean_metrics
from mteval.task import Task
from mteval.transcript import Sample, Score


@dataclass
class RunConfig:
    tasks: str | list[str]
    model: str
    model_args: dict[str, Any] = field(default_factory=dict)
    history: HistoryMode = "own"
    limit: int | None = None
    max_concurrency: int = 32
    generation: dict[str, Any] = field(default_factory=dict)
    """Only the values the user set explicitly; they override task defaults."""
    jury: JuryConfig | None = None
    """Who judges: one judge model (`--judge`) is a jury of one."""
    output_dir: Path = Path("results")
    run_id: str | None = None
    cache_dir: Path | None = None
    use_cache: bool = True
    rate_limits: dict[str, float] = field(default_factory=dict)
    """Requests per second per provider; key "*" applies to every provider."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    include_paths: list[Path] = field(default_factory=list)
    task_options: dict[str, Any] = field(default_factory=dict)
    command: list[str] = field(default_factory=lambda: list(sys.argv))
    progress: bool = True


@dataclass
class RunOutcome:
    run_dir: Path
    manifest: dict[str, Any]
    interrupted: bool = False


class Runner:
    def __init__(
        self,
        config: RunConfig,
        *,
        model: ModelAdapter | None = None,
        judges: list[ModelAdapter] | None = None,
        solver: Any = None,
        conversations: dict[str, list[Conversation]] | None = None,
        scorers: list[Any] | None = None,
    ):
        """`solver`, `conversations` and `scorers` replace the tasks' own: re-judging a
        finished run replays its transcripts through the same machinery this way."""
        self.config = config
        for path in config.include_paths:
            from mteval.registry import load_include_path

            load_include_path(path)
        self.tasks: list[Task] = [cls(**config.task_options) for cls in resolve(config.tasks)]
        self.model = model or create_model(config.model, config.model_args)
        jurors = config.jury.jurors if config.jury else []
        self.judge_adapters: list[ModelAdapter] = judges if judges is not None else [create_model(j.model, j.args) for j in jurors]
        self.redactor = Redactor(self.model.secrets() + [s for j in self.judge_adapters for s in j.secrets()])
        self.solver = ChatSolver()
        self.solver_override = solver
        self.conversations_override = conversations
        self.scorers_override = scorers
        self.jury: Jury | None = None
        self.judging = JudgingTally()
        self._stop = asyncio.Event()
        self._limiters: dict[str, AsyncLimiter] = {}
        self.rows: list[dict[str, Any]] = []
        self.counts = {"conversations": 0, "errored_conversations": 0, "turns": 0, "errored_turns": 0}

    # --- setup -----------------------------------------------------------------------------
    def _limiter(self, provider: str) -> AsyncLimiter | None:
        rate = self.config.rate_limits.get(provider, self.config.rate_limits.get("*"))
        if not rate:
            return None
        if provider not in self._limiters:
            self._limiters[provider] = AsyncLimiter(max_rate=rate, time_period=1.0)
        return self._limiters[provider]

    def _client(self, adapter: ModelAdapter, cache: ResponseCache | None, role: str) -> ModelClient:
        return ModelClient(
            adapter, cache=cache, limiter=self._limiter(adapter.provider), retry=self.config.retry, redactor=self.redactor, role=role
        )

    def _conversations(self, task: Task) -> list[Conversation]:
        if self.conversations_override is not None:
            return self.conversations_override.get(task.name, [])
        conversations = task.load()
        if self.config.limit is not None:
            conversations = conversations[: self.config.limit]
        if self.config.history == "single":
            conversations = task.single_turn(conversations)
        elif self.config.history == "gold":
            missing = missing_gold(conversations)
            if missing:
                raise ConfigurationError(
                    f"--history gold: task {task.name} has no gold replies for {len(missing)} turns "
                    f"(first: {missing[0]}). Use --history own or single for this task."
                )
        ids = [c.id for c in conversations]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ConfigurationError(f"task {task.name}: duplicate conversation ids {dupes[:5]}")
        return conversations

    def _fingerprint(self, data: dict[str, Any]) -> str:
        identity = {
            "tasks": {name: [info["version"], info["data"]["sha256"]] for name, info in data.items()},
            "model": self.model.model_id,
            "model_args": self.model.public_args(),
            "generation": self.config.generation,
            "history": self.config.history,
            "limit": self.config.limit,
            "task_options": self.config.task_options,
            "jury": self._jury_identity(),
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()

    def _jury_identity(self) -> dict[str, Any] | None:
        if self.config.jury is None:
            return None
        identity = self.config.jury.model_dump(mode="json")
        for juror, adapter in zip(identity["jurors"], self.judge_adapters):
            juror["args"] = adapter.public_args()
        return identity

    def _run_dir(self, fingerprint: str) -> Path:
        if self.config.run_id:
            return Path(self.config.output_dir) / self.config.run_id
        model_slug = _slug(Path(self.model.model).name if self.model.provider == "replay" else self.model.model)
        tasks_slug = _slug(self.config.tasks if isinstance(self.config.tasks, str) else ",".join(self.config.tasks))[:40]
        return Path(self.config.output_dir) / f"{self.model.provider}-{model_slug}__{tasks_slug}__{self.config.history}__{fingerprint[:8]}"

    def _params(self, task: Task, conversation: Conversation) -> GenerationParams:
        return GenerationParams().merged(dict(task.generation)).merged(conversation.generation).merged(self.config.generation)

    # --- run -------------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        return asyncio.run(self.arun())

    async def arun(self) -> RunOutcome:
        self.model.validate()
        for judge in self.judge_adapters:
            judge.validate()
        needing = [t.name for t in self.tasks if any(getattr(s, "needs_judge", False) for s in self._scorers(t))]
        if needing and not self.judge_adapters:
            raise ConfigurationError(f"{', '.join(needing)} need a judge: pass --judge provider/model or --jury FILE")
        datasets = {task.name: self._conversations(task) for task in self.tasks}
        task_info = {task.name: _task_info(task, datasets[task.name]) for task in self.tasks}
        fingerprint = self._fingerprint(task_info)
        run_dir = self._run_dir(fingerprint)
        previous_status = None
        if (run_dir / MANIFEST).exists():
            previous = read_manifest(run_dir)
            previous_status = previous.get("status")
            if previous.get("fingerprint") != fingerprint:
                raise ConfigurationError(
                    f"{run_dir} holds a run with a different configuration; choose another --run-id or --output-dir"
                )
        done = self._resume(run_dir)
        if previous_status == "complete" and all((t.name, c.id) in done for t in self.tasks for c in datasets[t.name]):
            # A finished run re-run: nothing to ask, nothing rewritten (its files stay byte for byte).
            return RunOutcome(run_dir=run_dir, manifest=read_manifest(run_dir))
        cache = None
        if self.config.use_cache:
            cache = ResponseCache(self.config.cache_dir or DEFAULT_CACHE_DIR)
        client = self._client(self.model, cache, "model")
        judge_clients = [self._client(adapter, cache, "judge") for adapter in self.judge_adapters]
        self.jury = Jury.build(self.config.jury, judge_clients) if self.config.jury else None
        started = time.time()
        manifest = self._manifest(run_dir, fingerprint, task_info, started, status="running")
        write_json_atomic(run_dir / MANIFEST, manifest)

        pending = [(task, conv) for task in self.tasks for conv in datasets[task.name] if (task.name, conv.id) not in done]
        total = sum(len(v) for v in datasets.values())
        writer = SampleWriter(run_dir)
        from mteval.progress import RunProgress

        progress = RunProgress(total=total, already_done=total - len(pending), clients=[client, *judge_clients], enabled=self.config.progress)
        interrupted = False
        loop = asyncio.get_running_loop()
        installed = _install_stop_handlers(loop, self._stop)
        try:
            with progress:
                interrupted = await self._drive(iter(pending), client, writer, progress)
        finally:
            _remove_stop_handlers(loop, installed)
            writer.close()
            await client.aclose()
            for judge_client in judge_clients:
                await judge_client.aclose()
            if cache is not None:
                cache.close()
        status = "interrupted" if interrupted else "complete"
        manifest = self._manifest(run_dir, fingerprint, task_info, started, status=status, clients=(client, judge_clients))
        write_json_atomic(run_dir / MANIFEST, manifest)
        return RunOutcome(run_dir=run_dir, manifest=manifest, interrupted=interrupted)

    def _resume(self, run_dir: Path) -> set[tuple[str, str]]:
        """Load finished samples of an earlier attempt of this run; errored ones are redone."""
        done: set[tuple[str, str]] = set()
        for sample in iter_sample_dicts(run_dir, repair=True):
            if sample.get("status") != "ok":
                continue
            done.add((sample["task"], str(sample["conversation"]["id"])))
            self._account(sample)
        return done

    def _account(self, sample: dict[str, Any]) -> None:
        self.rows.extend(sample_rows(sample))
        self.judging.add_sample(sample)
        self.counts["conversations"] += 1
        self.counts["turns"] += sum(1 for t in sample["turns"] if t.get("generated"))
        if sample.get("status") != "ok":
            self.counts["errored_conversations"] += 1
        self.counts["errored_turns"] += sum(1 for t in sample["turns"] if t.get("error"))

    async def _drive(self, pending: Iterator, client, writer: SampleWriter, progress) -> bool:
        """Run the queue; True if it stopped on a signal with conversations left undone."""
        left_undone = False

        async def worker() -> None:
            nonlocal left_undone
            for task, conversation in pending:
                if self._stop.is_set():
                    left_undone = True
                    return
                sample = await self._run_one(task, conversation, client)
                record = sample.model_dump(mode="json", by_alias=True)
                writer.append(sample)
                self._account(record)
                progress.advance(record)

        workers = [asyncio.create_task(worker()) for _ in range(self._concurrency())]
        stop_wait = asyncio.create_task(self._stop.wait())
        all_done = asyncio.gather(*workers)
        await asyncio.wait([all_done, stop_wait], return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        if self._stop.is_set() and not all_done.done():
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            return True
        await all_done  # re-raise a bug in a worker after finished samples are on disk
        return left_undone

    def _concurrency(self) -> int:
        """--max-concurrency, capped by the model's own limit (a local one-request server: 1)."""
        limit = self.model.max_concurrency
        return max(1, min(self.config.max_concurrency, limit) if limit else self.config.max_concurrency)

    async def _run_one(self, task: Task, conversation: Conversation, client: ModelClient) -> Sample:
        started = time.time()
        params = self._params(task, conversation)
        solver = self.solver_override or getattr(task, "solver", None) or self.solver
        records, error = await solver.solve(task, conversation, self.config.history, client, params)
        status = "error" if error else "ok"
        context = ScoreContext(jury=self.jury, options=self.config.task_options)
        scorers = self._scorers(task)
        for record in records:
            if not record.scored or record.reply is None:
                continue
            state = TurnState(task=task.name, conversation=conversation, records=records, index=record.index)
            for scorer in scorers:
                try:
                    score = await scorer.score(state, context)
                except Exception as exc:  # recorded and counted; the run goes on
                    score = Score.failed(self.redactor(f"{type(exc).__name__}: {exc}"))
                record.scores[scorer.name] = score
                if score.status == "error":
                    status = "error"
        return Sample(
            task=task.name,
            conversation=conversation,
            history=self.config.history,
            generation=params.model_dump(mode="json"),
            turns=records,
            status=status,
            error=error,
            started_at=started,
            finished_at=time.time(),
        )

    def _scorers(self, task: Task) -> list[Any]:
        return self.scorers_override if self.scorers_override is not None else task.scorers()

    # --- manifest --------------------------------------------------------------------------
    def _manifest(self, run_dir: Path, fingerprint: str, task_info, started: float, *, status: str, clients=None) -> dict[str, Any]:
        import pandas as pd

        frame = pd.DataFrame(self.rows)
        metrics: dict[str, Any] = {}
        turn_curves: dict[str, Any] = {}
        score_status: dict[str, int] = {"ok": 0, "unparsed": 0, "error": 0}
        for task in self.tasks:
            task_frame = frame[frame["task"] == task.name] if not frame.empty else frame
            names = [s.name for s in self._scorers(task)]
            task_metrics = mean_metrics(task_frame, names) if self.scorers_override is not None else task.metrics(task_frame)
            metrics[task.name] = {k: v.model_dump(mode="json") for k, v in task_metrics.items()}
            turn_curves[task.name] = by_turn(task_frame, names)
            for name in names:
                column = f"status_{name}"
                if not task_frame.empty and column in task_frame:
                    for key, count in task_frame[column].value_counts().items():
                        score_status[str(key)] = score_status.get(str(key), 0) + int(count)
        groups: dict[str, Any] = {}
        families = {task.family for task in self.tasks}
        for family, aggregate in family_aggregates().items():
            if family in families and not frame.empty and self.scorers_override is None:
                family_frame = frame[frame["task"].str.startswith(family + "/")]
                groups[family] = {k: v.model_dump(mode="json") for k, v in aggregate(family_frame, self.tasks).items()}
        usage_in = int(frame["input_tokens"].sum()) if not frame.empty else 0
        usage_out = int(frame["output_tokens"].sum()) if not frame.empty else 0
        calls = None
        if clients is not None:
            model_client, judge_clients = clients
            calls = {
                "model": _priced(model_client),
                "judges": {c.model_id: _priced(c) for c in judge_clients},
                "jury": self.jury.stats.as_dict() if self.jury else None,
            }
        return {
            "schema": RUN_SCHEMA,
            "run_id": run_dir.name,
            "status": status,
            "fingerprint": fingerprint,
            "mteval_version": __version__,
            "command": [self.redactor(part) for part in self.config.command],
            "started_at": _iso(started),
            "finished_at": _iso(time.time()) if status != "running" else None,
            "model": {
                "id": self.model.model_id,
                "provider": self.model.provider,
                "args": self.model.public_args(),
                "params_not_sent": self.model.not_sent(),
            },
            "generation": {"defaults": GenerationParams().model_dump(mode="json"), "explicit": self.config.generation},
            "history": self.config.history,
            "limit": self.config.limit,
            "task_options": self.config.task_options,
            "max_concurrency": self._concurrency(),
            "jury": self._jury_identity(),
            "tasks": task_info,
            "totals": {
                **self.counts,
                "scored_turns": len(self.rows),
                "scores": score_status,
                "scored_turn_tokens": {"input": usage_in, "output": usage_out},
                "calls": calls,
            },
            "metrics": metrics,
            "groups": groups,
            "by_turn": turn_curves,
            "judging": self.judging.summary(),
            "imported": None,
        }


def _priced(client: ModelClient) -> dict[str, Any]:
    """A client's call counts with the dollar cost of this invocation's tokens (None if
    the price is unknown). Cache hits cost nothing and are not counted in the tokens."""
    from mteval.cost import cost_usd

    stats = client.stats.as_dict()
    return {**stats, "cost_usd": cost_usd(client.adapter, stats["input_tokens"], stats["output_tokens"])}


def _task_info(task: Task, conversations: list[Conversation]) -> dict[str, Any]:
    data = task.data_info()
    return {
        "version": task.version,
        "family": task.family,
        "category": task.category,
        "description": task.description,
        "generation": dict(task.generation),
        "data": {"source": data.source, "sha256": data.sha256, "files": list(data.files), "version": data.version},
        "conversations": len(conversations),
        "scored_turns": sum(len(c.scored_turns) for c in conversations),
        **task.task_info(),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _install_stop_handlers(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[int]:
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            pass
    return installed


def _remove_stop_handlers(loop: asyncio.AbstractEventLoop, installed: list[int]) -> None:
    for sig in installed:
        loop.remove_signal_handler(sig)
