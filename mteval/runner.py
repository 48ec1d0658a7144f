"""The conversation runner: every task, every model, one code path.

Conversations run concurrently (a fixed pool of `max_concurrency` workers pulling from
a lazy queue, so memory does not grow with the dataset), turns run in order inside a
conversation, and each finished conversation is scored and appended to samples.jsonl
at once. A re-run of the same configuration resumes: finished conversations are
skipped, unfinished ones replay their finished turns from the response cache.

`Runner` composes three parts: the run plan (`mteval.plan`: tasks, data scan,
fingerprint, run directory), one conversation's run (`mteval.conversation_run`) and the
manifest builder (`mteval.manifest_builder`).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from mteval.cache import DEFAULT_CACHE_DIR, ResponseCache
from mteval.client import ModelClient, RetryPolicy
from mteval.conversation import Conversation
from mteval.conversation_run import ConversationRun
from mteval.errors import ConfigurationError
from mteval.manifest_builder import ManifestBuilder, run_calls
from mteval.models import create_model
from mteval.models.base import GenerationParams, ModelAdapter
from mteval.plan import PreparedRun, RunPlan
from mteval.redact import Redactor
from mteval.registry import check_task_options, resolve
from mteval.results import MANIFEST, SAMPLES, ResultsError, SampleWriteError, SampleWriter, iter_sample_dicts, read_manifest, write_json_atomic
from mteval.run_source import RunSource
from mteval.scoring.base import ScoreContext, Scorer
from mteval.scoring.jury import Jury, JuryConfig
from mteval.solver import HistoryMode, Solver
from mteval.task import Task
from mteval.transcript import Sample

if TYPE_CHECKING:
    from aiolimiter import AsyncLimiter

    from mteval.progress import RunProgress

@dataclass
class RunConfig:
    tasks: str | list[str]
    model: str
    model_args: dict[str, Any] = field(default_factory=dict)
    history: HistoryMode = "own"
    limit: int | float | None = None
    """First N conversations of each task, or a fraction 0 < x < 1 of each (rounded up)."""
    ids: list[str] | None = None
    """Only these conversation ids (applied before `limit`)."""
    max_concurrency: int = 32
    generation: dict[str, Any] = field(default_factory=dict)
    """Only the values the user set explicitly; they override task defaults."""
    jury: JuryConfig | None = None
    """Who judges: one judge model (`--judge`) is a jury of one."""
    output_dir: Path = Path("mteval-results")
    """As `mteval run --output-dir` (mteval.cli_options.DEFAULT_OUTPUT_DIR): never the committed results/."""
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


@dataclass
class _Clients:
    """The open clients and cache of one invocation."""

    model: ModelClient
    judges: list[ModelClient]
    cache: ResponseCache | None

    async def aclose(self) -> None:
        await self.model.aclose()
        for judge in self.judges:
            await judge.aclose()
        if self.cache is not None:
            self.cache.close()


def _damaged_manifest_advice(run_dir: Path) -> str:
    """What to do when a run's run.json cannot be read on resume: its finished conversations
    are in samples.jsonl (and their replies in the cache), which the refusal leaves untouched,
    and a run directory without run.json resumes from its samples (checked by tests)."""
    manifest, samples = run_dir / MANIFEST, run_dir / SAMPLES
    if samples.is_file() and samples.stat().st_size > 0:
        return (
            f"The run's finished conversations are in {samples}: delete {manifest} and re-run this command to resume "
            "from them (request counts of earlier attempts are not recovered), or re-run with another --output-dir or --run-id "
            "(cached replies are reused)"
        )
    return f"No conversation of this run was written to {samples}: delete {run_dir} and re-run this command (cached replies are reused)"


class Runner:
    def __init__(
        self,
        config: RunConfig,
        *,
        model: ModelAdapter | None = None,
        judges: list[ModelAdapter] | None = None,
        source: RunSource | None = None,
    ):
        """`source` says where conversations, their solver and scorers come from (the
        tasks' own by default; re-judging: `RunSource.from_transcripts`)."""
        self.config = config
        for path in config.include_paths:
            from mteval.registry import load_include_path

            load_include_path(path)
        task_classes = resolve(config.tasks)
        check_task_options(task_classes, config.task_options)
        self.tasks: list[Task] = [cls(**config.task_options) for cls in task_classes]
        self.model = model or create_model(config.model, config.model_args)
        jurors = config.jury.jurors if config.jury else []
        self.judge_adapters: list[ModelAdapter] = judges if judges is not None else [create_model(j.model, j.args) for j in jurors]
        from mteval.models.base import public_values, secret_values

        # task options can hold credentials too (hf_token=, a data URL with user:pass@)
        self.public_task_options = public_values(config.task_options)
        task_secrets = secret_values(config.task_options)
        self.redactor = Redactor(self.model.secrets() + [s for j in self.judge_adapters for s in j.secrets()] + task_secrets)
        self.plan = RunPlan(config, self.tasks, self.model, self.judge_adapters, self.public_task_options, source)
        self.manifests = ManifestBuilder(
            config,
            self.tasks,
            self.model,
            self.redactor,
            scorers=self.scorers,
            custom_scorers=self.plan.run_source.scorers is not None,
            public_task_options=self.public_task_options,
            jury_identity=self.plan.jury_identity(),
            max_concurrency=self.concurrency(),
        )
        self.jury: Jury | None = None
        self._stop = asyncio.Event()
        self._judge_clients: list[ModelClient] = []
        self._sample_error: Exception | None = None
        self._limiters: dict[str, AsyncLimiter] = {}
        self.previous_calls: dict[str, Any] | None = None
        """Call counts recorded by earlier invocations of a resumed run."""
        self._conversation_run: ConversationRun | None = None

    # --- public parts ----------------------------------------------------------------------
    def solver_for(self, task: Task) -> Solver:
        """The solver that drives `task`'s conversations (the plan's source says which)."""
        return self.plan.solver_for(task)

    def scorers(self, task: Task) -> list[Scorer]:
        """The scorers of `task` in this run (the plan's source says which)."""
        return self.plan.scorers(task)

    def params(self, task: Task, conversation: Conversation) -> GenerationParams:
        return self.plan.params(task, conversation)

    def concurrency(self) -> int:
        """--max-concurrency, capped by the model's own limit (a local one-request server: 1)."""
        limit = self.model.max_concurrency
        return max(1, min(self.config.max_concurrency, limit) if limit else self.config.max_concurrency)

    async def run_conversation(self, task: Task, conversation: Conversation, client: ModelClient) -> Sample:
        """One conversation solved and scored with this run's solver, scorers and jury."""
        runner = self._conversation_run
        if runner is None or runner.score_context.jury is not self.jury:  # one per run (the jury is set when clients open)
            runner = self._conversation_run = ConversationRun(
                self.config.history, ScoreContext(jury=self.jury, options=self.config.task_options), self.redactor
            )
        return await runner.run(
            task,
            conversation,
            solver=self.solver_for(task),
            client=client,
            params=self.params(task, conversation),
            scorers=self.scorers(task),
        )

    # --- setup -----------------------------------------------------------------------------
    def _limiter(self, provider: str) -> AsyncLimiter | None:
        rate = self.config.rate_limits.get(provider, self.config.rate_limits.get("*"))
        if not rate:
            return None
        if provider not in self._limiters:
            from aiolimiter import AsyncLimiter  # only where a rate limit is set

            self._limiters[provider] = AsyncLimiter(max_rate=rate, time_period=1.0)
        return self._limiters[provider]

    def _client(self, adapter: ModelAdapter, cache: ResponseCache | None, role: str) -> ModelClient:
        return ModelClient(
            adapter, cache=cache, limiter=self._limiter(adapter.provider), retry=self.config.retry, redactor=self.redactor, role=role
        )

    def _open_clients(self) -> _Clients:
        cache = ResponseCache(self.config.cache_dir or DEFAULT_CACHE_DIR) if self.config.use_cache else None
        clients = _Clients(self._client(self.model, cache, "model"), [self._client(a, cache, "judge") for a in self.judge_adapters], cache)
        self._judge_clients = clients.judges
        self.jury = Jury.build(self.config.jury, clients.judges) if self.config.jury else None
        return clients

    def _check_judges(self) -> None:
        self.model.validate()
        for judge in self.judge_adapters:
            judge.validate()
        needing = [t.name for t in self.tasks if any(s.needs_judge for s in self.scorers(t))]
        if needing and not self.judge_adapters:
            raise ConfigurationError(f"{', '.join(needing)} need a judge: pass --judge provider/model or --jury FILE")

    # --- run -------------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        return asyncio.run(self.arun())

    async def arun(self) -> RunOutcome:
        self._check_judges()
        prepared = self.plan.prepare()
        from mteval.locks import lock_run_dir

        if Path(self.config.output_dir).exists() and not Path(self.config.output_dir).is_dir():
            raise ConfigurationError(f"--output-dir {self.config.output_dir}: exists and is not a directory")
        run_lock = lock_run_dir(prepared.run_dir)  # a second process on this directory refuses here
        try:
            return await self._arun_locked(prepared)
        finally:
            run_lock.release()

    def _previous_status(self, prepared: PreparedRun) -> str | None:
        """The status of an earlier invocation of this run (None if there is none); refuses another run's directory."""
        if not (prepared.run_dir / MANIFEST).exists():
            return None
        try:
            previous = read_manifest(prepared.run_dir)
        except ResultsError as exc:
            raise ResultsError(f"{exc}. {_damaged_manifest_advice(prepared.run_dir)}") from None
        if previous.get("fingerprint") != prepared.fingerprint:
            raise ConfigurationError(
                f"{prepared.run_dir} holds a run with a different configuration; choose another --run-id or --output-dir"
            )
        self.previous_calls = (previous.get("totals") or {}).get("calls")
        status = previous.get("status")
        return str(status) if status is not None else None

    async def _arun_locked(self, prepared: PreparedRun) -> RunOutcome:
        run_dir, scans = prepared.run_dir, prepared.scans
        previous_status = self._previous_status(prepared)
        done = self._resume(run_dir)
        if previous_status == "complete" and all((t.name, i) in done for t in self.tasks for i in scans[t.name].ids):
            # A finished run re-run: nothing to ask, nothing rewritten (its files stay byte for byte).
            return RunOutcome(run_dir=run_dir, manifest=read_manifest(run_dir))
        fresh = self._starts_fresh(run_dir)
        clients = self._open_clients()
        started = time.time()
        write_json_atomic(run_dir / MANIFEST, self._manifest(prepared, started, status="running"))
        # the queue is fed lazily: conversations are read as workers free up
        pending = ((task, conv) for task in self.tasks for conv in self.plan.conversations(task) if (task.name, conv.id) not in done)
        total = sum(scan.conversations for scan in scans.values())
        already_done = sum(1 for name, conversation_id in done if name in scans and conversation_id in scans[name].ids)
        writer = SampleWriter(run_dir)
        from mteval.progress import RunProgress

        progress = RunProgress(total=total, already_done=already_done, clients=[clients.model, *clients.judges], enabled=self.config.progress)
        loop = asyncio.get_running_loop()
        installed = _install_stop_handlers(loop, self._stop)
        from mteval.gc_tuning import fewer_collections

        try:
            with progress, fewer_collections():
                interrupted = await self._drive(pending, clients.model, writer, progress)
        finally:
            _remove_stop_handlers(loop, installed)
            writer.close()
            await clients.aclose()
        write_error = self._write_failure(clients.model)
        if write_error is not None:
            raise write_error  # the samples of finished conversations are on disk; the CLI names the file
        status = "interrupted" if interrupted else "complete"
        manifest = self._manifest(prepared, started, status=status, clients=clients, one_invocation=fresh)
        write_json_atomic(run_dir / MANIFEST, manifest)
        return RunOutcome(run_dir=run_dir, manifest=manifest, interrupted=interrupted)

    def _manifest(
        self, prepared: PreparedRun, started: float, *, status: str, clients: _Clients | None = None, one_invocation: bool = False
    ) -> dict[str, Any]:
        calls = self.previous_calls
        if clients is not None:
            calls = run_calls(clients.model, clients.judges, self.jury, self.previous_calls)
        return self.manifests.build(
            prepared.run_dir, prepared.fingerprint, prepared.task_info, started, status=status, calls=calls, one_invocation=one_invocation
        )

    def _starts_fresh(self, run_dir: Path) -> bool:
        """No samples yet (and the conversations are the tasks' own, never repeated): this
        invocation writes each conversation once, so its manifest reads them in one pass."""
        samples = run_dir / SAMPLES
        return not self.plan.fixed and (not samples.is_file() or samples.stat().st_size == 0)

    def _resume(self, run_dir: Path) -> set[tuple[str, str]]:
        """Load finished samples of an earlier attempt of this run; errored ones are redone."""
        done: set[tuple[str, str]] = set()
        for sample in iter_sample_dicts(run_dir, repair=True):
            if sample.get("status") != "ok":
                continue
            done.add((sample["task"], str(sample["conversation"]["id"])))
        return done

    async def _drive(self, pending: Iterator[tuple[Task, Conversation]], client: ModelClient, writer: SampleWriter, progress: RunProgress) -> bool:
        """Run the queue; True if it stopped on a signal with conversations left undone."""
        left_undone = False

        async def worker() -> None:
            nonlocal left_undone
            for task, conversation in pending:
                if self._stop.is_set():
                    left_undone = True
                    return
                if self._write_failure(client) is not None:
                    return  # a write failed: finish the conversations in flight (their replies get cached), start none
                sample = await self.run_conversation(task, conversation, client)
                try:
                    writer.append(sample)
                except SampleWriteError as exc:
                    self._sample_error = self._sample_error or exc
                    return
                progress.advance(sample)
                # yield to the loop once per conversation: a model that never suspends (scripted,
                # all cache hits) would otherwise starve signal handlers and let cancelled timers pile up
                await asyncio.sleep(0)

        workers = [asyncio.create_task(worker()) for _ in range(self.concurrency())]
        stop_wait: asyncio.Future[Any] = asyncio.create_task(self._stop.wait())
        all_done: asyncio.Future[Any] = asyncio.gather(*workers)
        # on a stop the workers are cancelled; mark the gathered outcome as seen, or asyncio
        # prints "exception was never retrieved" with a traceback at exit
        all_done.add_done_callback(lambda f: f.cancelled() or f.exception())
        await asyncio.wait([all_done, stop_wait], return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        if self._stop.is_set() and not all_done.done():
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            return True
        await all_done  # re-raise a bug in a worker after finished samples are on disk
        return left_undone

    def _write_failure(self, client: ModelClient) -> Exception | None:
        """The first failed write of samples.jsonl or of the cache, if any."""
        return self._sample_error or next((c.write_error for c in (client, *self._judge_clients) if c.write_error), None)


def _install_stop_handlers(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[int]:
    installed: list[int] = []
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
