"""Writing imported runs in mteval's native format.

An imported run is built through the runner's own code: the task is constructed by a
`Runner`, each conversation goes through the task's solver (`Runner.solver_for`, given a
`SolveContext`) with a client that plays back the published answers (so
`Sample.messages_sent(i)` is what the benchmark sent, when the questions are known), the
run's identity comes from its `RunPlan`, and the manifest from `Runner.manifests` (the
public `ManifestBuilder`) with the task's
`metrics`, `by_turn`, family aggregates and judging summary. Only `imported` (and the
timestamps, taken from the source files) differ from a native run's manifest.
Re-importing the same files gives byte-identical output.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from mteval.client import Completion
from mteval.conversation import Conversation, Message
from mteval.errors import ConfigurationError, ReplayMissing
from mteval.models.base import (
    GenerationParams,
    ModelAdapter,
    ModelOutput,
    RequestContext,
)
from mteval.solver import SolveContext
from mteval.transcript import Sample, Score, Usage

if TYPE_CHECKING:
    from mteval.runner import Runner

API_ERROR_OUTPUT = "$ERROR$"
"""FastChat's (and RAD-Bench's) stand-in answer when the API call failed."""


@dataclass(frozen=True)
class Problem:
    """One bad input line (or file): reported with file and line, never fatal to the
    other models."""

    path: str
    line: int | None
    message: str
    model: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass
class ImportedConversation:
    """One conversation of one model: the published replies and the scores per turn."""

    task: str
    conversation: Conversation
    replies: list[str]
    scores: dict[int, dict[str, Score]] = field(default_factory=dict)
    """turn index -> scorer name -> score."""
    started_at: float = 0.0
    finished_at: float = 0.0


@dataclass
class ImportedRun:
    model: str
    run_dir: Path
    conversations: int
    scored_turns: int
    judged_turns: int


@dataclass
class ImportResult:
    runs: list[ImportedRun] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Models not written because their input has problems."""

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ImportedModel(ModelAdapter):
    """Stands in for the model whose published answers are imported (`imported/<name>`)."""

    provider = "imported"
    cacheable = False

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        raise ConfigurationError("an imported run has no model to call")


class RecordedClient:
    """A `mteval.solver.ChatClient` for `ChatSolver`: the published answer of each turn,
    with no latency, usage or retries (none are known)."""

    def __init__(self, replies: Mapping[tuple[str, str], str]):
        self.replies = replies

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> Completion:
        reply = self.replies.get((context.conversation_id, context.turn_id))
        if reply is None:
            raise ReplayMissing(f"no imported answer for conversation {context.conversation_id!r} turn {context.turn_id!r}")
        return Completion(reply, Usage(), None, 0.0, 0, False)


async def _solve(runner: "Runner", items: list[ImportedConversation]) -> list[Sample]:
    tasks = {task.name: task for task in runner.tasks}
    samples = []
    for item in items:
        task = tasks[item.task]
        conversation = item.conversation
        replies = {(conversation.id, turn.id): reply for turn, reply in zip(conversation.turns, item.replies)}
        params = runner.plan.params(task, conversation)
        client = RecordedClient(replies)  # a ChatClient: what solvers call
        records, error = await runner.solver_for(task).solve(SolveContext(task, conversation, "own", client, params))
        failed = []
        for record in records:
            record.scores.update(item.scores.get(record.index, {}))
            if record.reply == API_ERROR_OUTPUT:
                record.error = f"the published answer is {API_ERROR_OUTPUT} (the API call failed upstream); kept as the reply"
                failed.append(record.turn_id)
        if failed and error is None:
            error = f"turns {', '.join(failed)}: the published answer is {API_ERROR_OUTPUT}"
        samples.append(
            Sample(
                task=task.name,
                conversation=conversation,
                history="own",
                generation=params.model_dump(mode="json"),
                turns=records,
                status="error" if error else "ok",
                error=error,
                started_at=item.started_at,
                finished_at=item.finished_at,
            )
        )
    return samples


def write_run(
    *,
    output_dir: Path,
    run_id: str,
    tasks: str,
    task_options: Mapping[str, Any],
    model: str,
    conversations: list[ImportedConversation],
    imported: dict[str, Any],
    judges: Sequence[str] = (),
    command: Sequence[str] = (),
) -> tuple[Path, dict[str, Any]]:
    """Write `output_dir/run_id` (run.json + samples.jsonl) and return it with its manifest."""
    from mteval.manifest_builder import iso
    from mteval.plan import task_info as info_of
    from mteval.results import write_manifest
    from mteval.runner import RunConfig, Runner
    from mteval.scoring.jury import JuryConfig

    run_dir = Path(output_dir) / run_id
    _refuse_native_run(run_dir)
    config = RunConfig(
        tasks=tasks,
        model=f"imported/{model}",
        history="own",
        jury=JuryConfig.from_models(sorted(judges)) if judges else None,
        output_dir=Path(output_dir),
        run_id=run_id,
        use_cache=False,
        task_options=dict(task_options),
        command=list(command),
        progress=False,
    )
    runner = Runner(config, model=ImportedModel(model, {}), judges=[])
    ordered = _in_task_order(conversations, [task.name for task in runner.tasks], tasks)
    task_info: dict[str, Any] = {}
    for task in runner.tasks:
        mine = [c.conversation for c in ordered if c.task == task.name]
        task_info[task.name] = info_of(task, len(mine), sum(len(c.scored_turns) for c in mine))
    samples = asyncio.run(_solve(runner, ordered))
    identity = {"run": runner.plan.fingerprint(task_info), "imported": imported.get("files", {})}
    fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    started = min((s.started_at for s in samples), default=0.0)
    finished = max((s.finished_at for s in samples), default=started)
    _write_samples(run_dir, samples)
    manifest = runner.manifests.build(run_dir, fingerprint, task_info, started, status="complete")  # summarises samples.jsonl
    manifest["finished_at"] = iso(finished)
    manifest["imported"] = imported
    manifest["task_options"] = dict(task_options)
    write_manifest(run_dir, manifest)  # validated against mteval.manifest.RunManifest
    return run_dir, manifest


def _refuse_native_run(run_dir: Path) -> None:
    """An import may replace an earlier import, never a native run or a run.json it cannot read."""
    from mteval.results import MANIFEST, ResultsError, read_manifest

    if not (run_dir / MANIFEST).exists():
        return
    try:
        existing = read_manifest(run_dir).get("imported")
    except ResultsError as exc:  # unreadable: never overwrite what we cannot identify
        raise ConfigurationError(f"{run_dir} holds a native run or an unreadable run.json ({exc}); it is not replaced by an import") from None
    if not existing:
        raise ConfigurationError(f"{run_dir} holds a native run; it is not replaced by an import")


def _in_task_order(conversations: list[ImportedConversation], names: list[str], tasks: str) -> list[ImportedConversation]:
    """The run's task order; stable, so each task keeps the source order."""
    unknown = sorted({c.task for c in conversations} - set(names))
    if unknown:
        raise ConfigurationError(f"imported conversations name tasks {unknown} that {tasks!r} does not include")
    return sorted(conversations, key=lambda c: names.index(c.task))


def _write_samples(run_dir: Path, samples: list[Sample]) -> None:
    """samples.jsonl from scratch (a re-import replaces the earlier one)."""
    from mteval.results import SAMPLES, SampleWriter

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / SAMPLES).unlink(missing_ok=True)
    writer = SampleWriter(run_dir)
    try:
        for sample in samples:
            writer.append(sample)
    finally:
        writer.close()
