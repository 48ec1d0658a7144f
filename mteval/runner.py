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
import itertools
import json
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from aiolimiter import AsyncLimiter

from mteval import __version__
from mteval.cache import DEFAULT_CACHE_DIR, ResponseCache
from mteval.client import _ENDPOINT_ARGS, ModelClient, RetryPolicy, endpoint_of
from mteval.conversation import Conversation
from mteval.models import create_model
from mteval.models.base import GenerationParams, ModelAdapter
from mteval.models.errors import ConfigurationError
from mteval.redact import Redactor
from mteval.registry import check_task_options, family_aggregates, resolve
from mteval.results import (
    MANIFEST,
    RUN_SCHEMA,
    SampleWriteError,
    SampleWriter,
    iter_sample_dicts,
    read_manifest,
    sample_rows,
    write_json_atomic,
)
from mteval.scoring.agreement import JudgingTally
from mteval.scoring.base import ScoreContext, TurnState
from mteval.scoring.jury import Jury, JuryConfig
from mteval.selection import check_ids_found, limit_count
from mteval.solver import ChatSolver, HistoryMode, SolveContext, Solver, missing_gold
from mteval.stats import by_turn, mean_metrics
from mteval.task import Task
from mteval.transcript import Sample, Score


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


class Runner:
    def __init__(
        self,
        config: RunConfig,
        *,
        model: ModelAdapter | None = None,
        judges: list[ModelAdapter] | None = None,
        solver: Solver | None = None,
        conversations: dict[str, list[Conversation]] | None = None,
        scorers: list[Any] | None = None,
    ):
        """`solver`, `conversations` and `scorers` replace the tasks' own: re-judging a
        finished run replays its transcripts through the same machinery this way."""
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
        self.solver: Solver = ChatSolver()
        self.solver_override = solver
        self.conversations_override = conversations
        self.scorers_override = scorers
        self.jury: Jury | None = None
        self._stop = asyncio.Event()
        self._judge_clients: list[ModelClient] = []
        self._sample_error: Exception | None = None
        self._limiters: dict[str, AsyncLimiter] = {}
        self._loaded: dict[str, Sequence[Conversation]] = {}
        self._selected_counts: dict[str, int] = {}
        self.previous_calls: dict[str, Any] | None = None
        """Call counts recorded by earlier invocations of a resumed run."""

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

    def _source(self, task: Task) -> Iterable[Conversation]:
        """The task's conversations as `load` gives them. A list is kept for the second
        pass; an iterator (a generator `load`) is asked for again, so a lazy task is never
        held in memory whole: only the conversations in flight are."""
        if self.conversations_override is not None:
            return self.conversations_override.get(task.name, [])
        if task.name in self._loaded:
            return self._loaded[task.name]
        loaded = task.load()
        if isinstance(loaded, Sequence):
            self._loaded[task.name] = loaded
        return loaded

    def _selected(self, task: Task) -> Iterator[Conversation]:
        """The task's conversations named by --ids (all without it), lazily, in task order."""
        source = self._source(task)
        if self.conversations_override is not None or self.config.ids is None:
            return iter(source)
        wanted = set(self.config.ids)
        return (c for c in source if c.id in wanted)

    def _limit_for(self, task: Task) -> int | None:
        """--limit as a count for this task: a whole number, or a fraction of the selected
        conversations rounded up (counted in one extra streaming pass)."""
        if self.config.limit is None or self.conversations_override is not None:
            return None
        if task.name not in self._selected_counts and 0 < self.config.limit < 1:
            self._selected_counts[task.name] = sum(1 for _ in self._selected(task))
        return limit_count(self._selected_counts.get(task.name, 0), self.config.limit)

    def _iter_conversations(self, task: Task) -> Iterator[Conversation]:
        """The conversations to run, after --ids, --limit and --history single, one at a time."""
        conversations: Iterable[Conversation] = self._selected(task)
        limit = self._limit_for(task)
        if limit is not None:
            conversations = itertools.islice(conversations, limit)
        if self.conversations_override is None and self.config.history == "single":
            conversations = task.single_turn(list(conversations))  # task overrides may need the whole list
        return iter(conversations)

    def _check_source(self, task: Task) -> list[str]:
        """One streaming pass over everything `load` gives: refuse a task with no
        conversations (a "complete" run of nothing would look like a result); the ids, for
        checking --ids, only when --ids is given."""
        if self.conversations_override is not None:
            return []
        count, ids = 0, []
        for conversation in self._source(task):
            count += 1
            if self.config.ids is not None:
                ids.append(conversation.id)
        if not count:
            files = ", ".join(str(p) for p in task.data_files()) or "its data source"
            raise ConfigurationError(f"task {task.name}: no conversations in {files}")
        return ids

    def _scan(self, task: Task) -> tuple[int, int, set[str]]:
        """One streaming pass before any request: (conversations, scored turns, ids),
        failing on duplicate ids or on gold replies --history gold would need."""
        count = scored = 0
        ids: set[str] = set()
        dupes: set[str] = set()
        missing: list[str] = []
        check = self.conversations_override is None
        for conversation in self._iter_conversations(task):
            count += 1
            scored += len(conversation.scored_turns)
            if conversation.id in ids:
                dupes.add(conversation.id)
            ids.add(conversation.id)
            if check and self.config.history == "gold":
                missing.extend(missing_gold([conversation]))
        if missing:
            raise ConfigurationError(
                f"--history gold: task {task.name} has no gold replies for {len(missing)} turns "
                f"(first: {missing[0]}). Use --history own or single for this task."
            )
        if check and dupes:
            raise ConfigurationError(f"task {task.name}: duplicate conversation ids {sorted(dupes)[:5]}")
        return count, scored, ids

    def _fingerprint(self, data: dict[str, Any]) -> str:
        identity = {
            "tasks": {name: [info["version"], info["data"]["sha256"]] for name, info in data.items()},
            "model": self.model.model_id,
            "model_args": self.model.public_args(),
            "generation": self.config.generation,
            "history": self.config.history,
            "limit": self.config.limit,
            "task_options": self.public_task_options,
            "jury": self._jury_identity(),
        }
        if self.config.ids is not None:  # only when set, so earlier runs keep their fingerprints
            identity["ids"] = sorted(set(self.config.ids))
        if _env_endpoint(self.model) is not None:  # only when set, like ids
            identity["endpoint"] = _env_endpoint(self.model)
        return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()

    def _jury_identity(self) -> dict[str, Any] | None:
        if self.config.jury is None:
            return None
        identity = self.config.jury.model_dump(mode="json")
        for juror, adapter in zip(identity["jurors"], self.judge_adapters):
            juror["args"] = adapter.public_args()
            if _env_endpoint(adapter) is not None:
                juror["endpoint"] = _env_endpoint(adapter)
        return identity

    def _run_dir(self, fingerprint: str) -> Path:
        if self.config.run_id:
            return Path(self.config.output_dir) / check_run_id(self.config.run_id)
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
        needing = [t.name for t in self.tasks if any(s.needs_judge for s in self._scorers(t))]
        if needing and not self.judge_adapters:
            raise ConfigurationError(f"{', '.join(needing)} need a judge: pass --judge provider/model or --jury FILE")
        loaded_ids = {task.name: self._check_source(task) for task in self.tasks}
        if self.conversations_override is None:
            check_ids_found(self.config.ids, loaded_ids)
        del loaded_ids
        scans = {task.name: self._scan(task) for task in self.tasks}
        task_info = {task.name: _task_info(task, *scans[task.name][:2]) for task in self.tasks}
        fingerprint = self._fingerprint(task_info)
        run_dir = self._run_dir(fingerprint)
        from mteval.locks import lock_run_dir

        if Path(self.config.output_dir).exists() and not Path(self.config.output_dir).is_dir():
            raise ConfigurationError(f"--output-dir {self.config.output_dir}: exists and is not a directory")
        run_lock = lock_run_dir(run_dir)  # a second process on this directory refuses here
        try:
            return await self._arun_locked(run_dir, fingerprint, scans, task_info)
        finally:
            run_lock.release()

    async def _arun_locked(self, run_dir: Path, fingerprint: str, scans: dict[str, tuple[int, int, set[str]]], task_info: dict[str, Any]) -> RunOutcome:
        previous_status = None
        if (run_dir / MANIFEST).exists():
            previous = read_manifest(run_dir)
            previous_status = previous.get("status")
            if previous.get("fingerprint") != fingerprint:
                raise ConfigurationError(
                    f"{run_dir} holds a run with a different configuration; choose another --run-id or --output-dir"
                )
            self.previous_calls = (previous.get("totals") or {}).get("calls")
        done = self._resume(run_dir)
        if previous_status == "complete" and all((t.name, i) in done for t in self.tasks for i in scans[t.name][2]):
            # A finished run re-run: nothing to ask, nothing rewritten (its files stay byte for byte).
            return RunOutcome(run_dir=run_dir, manifest=read_manifest(run_dir))
        cache = None
        if self.config.use_cache:
            cache = ResponseCache(self.config.cache_dir or DEFAULT_CACHE_DIR)
        client = self._client(self.model, cache, "model")
        judge_clients = [self._client(adapter, cache, "judge") for adapter in self.judge_adapters]
        self._judge_clients = judge_clients
        self.jury = Jury.build(self.config.jury, judge_clients) if self.config.jury else None
        started = time.time()
        manifest = self._manifest(run_dir, fingerprint, task_info, started, status="running")
        write_json_atomic(run_dir / MANIFEST, manifest)

        # the queue is fed lazily: conversations are read as workers free up
        pending = (
            (task, conv) for task in self.tasks for conv in self._iter_conversations(task) if (task.name, conv.id) not in done
        )
        total = sum(count for count, _, _ in scans.values())
        already_done = sum(1 for name, conversation_id in done if conversation_id in scans.get(name, (0, 0, set()))[2])
        del scans
        writer = SampleWriter(run_dir)
        from mteval.progress import RunProgress

        progress = RunProgress(total=total, already_done=already_done, clients=[client, *judge_clients], enabled=self.config.progress)
        interrupted = False
        loop = asyncio.get_running_loop()
        installed = _install_stop_handlers(loop, self._stop)
        try:
            with progress:
                interrupted = await self._drive(pending, client, writer, progress)
        finally:
            _remove_stop_handlers(loop, installed)
            writer.close()
            await client.aclose()
            for judge_client in judge_clients:
                await judge_client.aclose()
            if cache is not None:
                cache.close()
        write_error = self._write_failure(client)
        if write_error is not None:
            raise write_error  # the samples of finished conversations are on disk; the CLI names the file
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
        return done

    async def _drive(self, pending: Iterator, client, writer: SampleWriter, progress) -> bool:
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
                sample = await self._run_one(task, conversation, client)
                record = sample.model_dump(mode="json", by_alias=True)
                try:
                    writer.append(sample)
                except SampleWriteError as exc:
                    self._sample_error = self._sample_error or exc
                    return
                progress.advance(record)

        workers = [asyncio.create_task(worker()) for _ in range(self._concurrency())]
        stop_wait = asyncio.create_task(self._stop.wait())
        all_done = asyncio.gather(*workers)
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

    def _concurrency(self) -> int:
        """--max-concurrency, capped by the model's own limit (a local one-request server: 1)."""
        limit = self.model.max_concurrency
        return max(1, min(self.config.max_concurrency, limit) if limit else self.config.max_concurrency)

    async def _run_one(self, task: Task, conversation: Conversation, client: ModelClient) -> Sample:
        started = time.time()
        params = self._params(task, conversation)
        solver = self.solver_override or task.solver or self.solver
        records, error = await solver.solve(SolveContext(task, conversation, self.config.history, client, params))
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
        """The run manifest (validated by `mteval.manifest.RunManifest`), as a JSON dict."""

        from mteval.manifest import MetricRecord, RunManifest, lookup
        from mteval.registry import family_aggregate_info

        summary = _Summary(self.redactor)
        for sample in iter_sample_dicts(run_dir):  # streamed: every invocation's samples, latest per conversation
            summary.add(sample)
        frame = summary.rows.frame()
        metrics: dict[str, Any] = {}
        turn_curves: dict[str, Any] = {}
        score_status: dict[str, int] = {"ok": 0, "unparsed": 0, "error": 0}
        for task in self.tasks:
            task_frame = frame[frame["task"] == task.name] if not frame.empty else frame
            names = [s.name for s in self._scorers(task)]
            task_metrics = mean_metrics(task_frame, names) if self.scorers_override is not None else task.metrics(task_frame)
            declared, headline = task.metric_semantics(), task_info[task.name].get("headline")
            metrics[task.name] = {
                k: MetricRecord(**v.model_dump(), semantics=lookup(declared, k, headline)) for k, v in task_metrics.items()
            }
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
                info = family_aggregate_info(family)
                group_headline, group_declared = (info.headline, info.semantics) if info else (None, {})
                groups[family] = {
                    k: MetricRecord(**v.model_dump(), semantics=lookup(group_declared, k, group_headline))
                    for k, v in aggregate(family_frame, self.tasks).items()
                }
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
            calls = _add_calls(self.previous_calls, calls)
        elif self.previous_calls is not None:
            calls = self.previous_calls
        manifest = RunManifest.model_validate(
            {
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
                    "endpoint": endpoint_of(self.model),
                },
                "generation": {"defaults": GenerationParams().model_dump(mode="json"), "explicit": self.config.generation},
                "history": self.config.history,
                "limit": self.config.limit,
                "ids": self.config.ids,
                "task_options": self.public_task_options,
                "max_concurrency": self._concurrency(),
                "jury": self._jury_identity(),
                "tasks": task_info,
                "totals": {
                    **summary.counts,
                    "scored_turns": len(summary.rows),
                    "scores": score_status,
                    "scored_turn_tokens": {"input": usage_in, "output": usage_out},
                    "calls": calls,
                    "first_errors": summary.first_errors,
                    "verdicts": summary.verdicts,
                },
                "metrics": metrics,
                "groups": groups,
                "by_turn": turn_curves,
                "judging": summary.judging.summary(),
                "imported": None,
            }
        )
        return manifest.to_json()


class _Columns:
    """Scored-turn rows stored column by column: a list per column instead of a dict per
    row, with repeated strings (task, ids, statuses) shared, so a run's summary costs
    tens of bytes per turn rather than a kilobyte (memory stays near flat with size)."""

    _SHARED = frozenset({"run_id", "model", "history", "task", "conversation_id", "turn_id", "error"})

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {}
        self._shared_keys: dict[str, bool] = {}
        self.count = 0

    def append(self, row: dict[str, Any]) -> None:
        columns, shared = self.columns, self._shared_keys
        for key, value in row.items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = [None] * self.count
                shared[key] = key in self._SHARED or key.startswith("status_")
            if shared[key] and isinstance(value, str):
                value = sys.intern(value)
            column.append(value)
        self.count += 1
        if len(row) != len(columns):  # a column this row does not have (another task's scorer)
            for column in columns.values():
                if len(column) < self.count:
                    column.append(None)

    def __len__(self) -> int:
        return self.count

    def frame(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.DataFrame(self.columns)


if TYPE_CHECKING:
    import pandas as pd


class _Summary:
    """Counts, verdict tallies and scored-turn rows of a run, accumulated one sample at a
    time while streaming samples.jsonl (rows keep no reply text: the manifest needs
    scores, not transcripts)."""

    def __init__(self, redactor: Redactor):
        self.redactor = redactor
        self.rows = _Columns()
        self.counts = {"conversations": 0, "errored_conversations": 0, "turns": 0, "errored_turns": 0}
        self.first_errors: list[str] = []
        self.verdicts: dict[str, dict[str, Any]] = {}
        self.judging = JudgingTally()

    def add(self, sample: dict[str, Any]) -> None:
        for row in sample_rows(sample):
            row.pop("reply", None)
            self.rows.append(row)
        self.judging.add_sample(sample)
        self.counts["conversations"] += 1
        self.counts["turns"] += sum(1 for t in sample["turns"] if t.get("generated"))
        if sample.get("status") != "ok":
            self.counts["errored_conversations"] += 1
            if len(self.first_errors) < MAX_FIRST_ERRORS:
                self.first_errors.append(f"{sample['task']} {sample['conversation']['id']}: {_cause(sample)}")
        self.counts["errored_turns"] += sum(1 for t in sample["turns"] if t.get("error"))
        for turn in sample["turns"]:
            for name, score in (turn.get("scores") or {}).items():
                tally = self.verdicts.setdefault(name, {"total": 0, "unparsed": 0, "example_raw": None})
                tally["total"] += 1
                if score.get("status") == "unparsed":
                    tally["unparsed"] += 1
                    if tally["example_raw"] is None:
                        tally["example_raw"] = self.redactor(str(score.get("raw") or ""))[:500]


def _add_calls(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """Call counts of earlier invocations of a resumed run plus this one's, so the
    manifest's totals cover the whole run (numbers add; an unknown cost stays unknown)."""
    if not previous:
        return current

    def add(a: Any, b: Any) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            return {k: add(a.get(k), b.get(k)) for k in {**a, **b}}
        if a is None:
            return b
        if b is None:
            return a
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            return a + b
        return b

    return add(previous, current)


def _priced(client: ModelClient) -> dict[str, Any]:
    """A client's call counts with the dollar cost of this invocation's tokens (None if
    the price is unknown). Cache hits cost nothing and are not counted in the tokens."""
    from mteval.cost import cost_usd

    stats = client.stats.as_dict()
    return {**stats, "cost_usd": cost_usd(client.adapter, stats["input_tokens"], stats["output_tokens"])}


def _task_info(task: Task, conversations: int, scored_turns: int) -> dict[str, Any]:
    data = task.data_info()
    return {
        "version": task.version,
        "family": task.family,
        "category": task.category,
        "description": task.description,
        "generation": dict(task.generation),
        "data": {"source": data.source, "sha256": data.sha256, "files": list(data.files), "version": data.version},
        "conversations": conversations,
        "scored_turns": scored_turns,
        "headline": task.headline_metric(),
        "scores": {name: sem.model_dump(mode="json") for name, sem in task.score_semantics().items()},
        **task.task_info(),
    }


MAX_FIRST_ERRORS = 5


def _cause(sample: dict[str, Any]) -> str:
    """The first error message of a sample: its own, a turn's, or a failed score's."""
    if sample.get("error"):
        return str(sample["error"])
    for turn in sample.get("turns", []):
        if turn.get("error"):
            return str(turn["error"])
        for name, score in (turn.get("scores") or {}).items():
            if score.get("status") == "error":
                return f"scorer {name}: {score.get('explanation') or score.get('error') or 'failed'}"
    return "unknown error"


def check_run_id(run_id: str) -> str:
    """--run-id names one directory inside --output-dir: no separators, no `..`, not absolute."""
    if not run_id or run_id in (".", "..") or "/" in run_id or "\\" in run_id or "\0" in run_id or Path(run_id).is_absolute():
        raise ConfigurationError(f"--run-id {run_id!r}: must be a plain directory name (no '/', '..' or absolute path)")
    return run_id


def _env_endpoint(adapter: Any) -> str | None:
    """The endpoint when the environment sets it (OPENAI_BASE_URL, ...), else None. It is part
    of a run's identity: a base_url argument already is (through the public args), and without
    it the same command against another server resumed the first server's run."""
    if any(adapter.public_args().get(name) for name in _ENDPOINT_ARGS):
        return None
    return endpoint_of(adapter)


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
