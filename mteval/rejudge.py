"""Re-score a finished run without calling the model under test again.

The stored transcripts are replayed through the ordinary runner (`TranscriptSolver`),
so judges get the same cache, retries, concurrency, manifest and samples as in any
run; only the scorers (and who judges) change. Optionally each turn is judged
pairwise against the same turn of another run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from mteval.client import RetryPolicy
from mteval.conversation import Conversation, Message
from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext
from mteval.models.errors import ConfigurationError
from mteval.results import load_samples, read_manifest
from mteval.scoring.base import TurnState
from mteval.scoring.judge import load_spec
from mteval.scoring.jury import JuryConfig
from mteval.solver import SolveContext
from mteval.transcript import Sample, TurnRecord

if TYPE_CHECKING:
    from mteval.runner import RunOutcome
    from mteval.scoring.base import Scorer
    from mteval.scoring.judge import JudgeSpec


class RecordedModel(ModelAdapter):
    """Stands in for the run's original model; re-judging never calls it."""

    cacheable = False

    def __init__(self, model_id: str, public_args: dict[str, Any]):
        provider, _, name = model_id.partition("/")
        self.provider = provider  # type: ignore[misc]
        super().__init__(name, public_args)

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        raise ConfigurationError("re-judging replays stored transcripts and never calls the model under test")


class TranscriptSolver:
    """Returns the stored turn records of each conversation (scores cleared)."""

    def __init__(self, samples: Sequence[Sample]):
        self.samples = {(s.task, s.conversation.id): s for s in samples}

    async def solve(self, ctx: SolveContext) -> tuple[list[TurnRecord], str | None]:
        sample = self.samples[(ctx.task.name, ctx.conversation.id)]
        records = [record.model_copy(update={"scores": {}}) for record in sample.turns]
        return records, sample.error


def baseline_lookup(run_dir: str | Path) -> Callable[[TurnState], str | None]:
    """`state -> reply` of the same task, conversation and turn in another run."""
    replies = {
        (s.task, s.conversation.id, record.turn_id): record.reply
        for s in load_samples(run_dir)
        for record in s.turns
        if record.reply is not None
    }

    def lookup(state: TurnState) -> str | None:
        return replies.get((state.task, state.conversation.id, state.turn.id))

    return lookup


def rejudge(
    run_dir: str | Path,
    jury: JuryConfig,
    *,
    output_dir: str | Path | None = None,
    judge_def: str | None = None,
    against: str | Path | None = None,
    vote: str = "max_vote",
    cache_dir: Path | None = None,
    use_cache: bool = True,
    max_concurrency: int = 32,
    rate_limits: dict[str, float] | None = None,
    retry: RetryPolicy | None = None,
    include_paths: Sequence[Path] = (),
    command: list[str] | None = None,
    progress: bool = False,
) -> "RunOutcome":
    """Score `run_dir`'s transcripts again with `jury`; returns the new run's outcome.
    `include_paths`: plugin folders, so tasks the original run found there resolve again."""
    from mteval.runner import RunConfig, Runner
    from mteval.scoring.judged import JudgeScorer
    from mteval.scoring.pairwise import PairwiseScorer, amulet_cascade

    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    samples = [s for s in load_samples(run_dir) if s.status == "ok"]
    if not samples:
        raise ConfigurationError(f"{run_dir}: no finished conversations to judge")
    conversations: dict[str, list[Conversation]] = {}
    for sample in samples:
        conversations.setdefault(sample.task, []).append(sample.conversation)
    scorers: list[Scorer] | None = None
    if judge_def is not None and (judge_def == "amulet" or load_spec(judge_def).kind == "pairwise") != (against is not None):
        # caught here, not as an error on every turn: a pairwise template needs two replies
        raise ConfigurationError(
            f"--judge-def {judge_def} is a pairwise judge: give --against RUN_DIR"
            if against is None
            else f"--against needs a pairwise judge definition (e.g. pairwise, amulet, mt_bench/pair-v2), not {judge_def}"
        )
    if against is not None:
        cascade = judge_def in (None, "amulet")  # the default: name the scorer after what judged
        specs: list[JudgeSpec | str] = amulet_cascade() if cascade or judge_def is None else [judge_def]
        scorers = [PairwiseScorer("amulet" if cascade else "pairwise", specs, baseline_lookup(against), vote=vote)]
    elif judge_def is not None:
        spec = load_spec(judge_def)
        scorers = [JudgeScorer(spec.name.replace("/", "_"), spec)]
    # everything that changes the scores names its own run directory, or a re-run would resume another's results
    identity = json.dumps([jury.model_dump(mode="json"), judge_def, str(against)] + ([vote] if against is not None else []), sort_keys=True)
    suffix = hashlib.sha256(identity.encode()).hexdigest()[:8]
    config = RunConfig(
        tasks=list(conversations),
        retry=retry if retry is not None else RetryPolicy(),
        model=manifest["model"]["id"],
        model_args=manifest["model"].get("args", {}),
        history=manifest.get("history", "own"),
        generation=manifest.get("generation", {}).get("explicit", {}),
        jury=jury,
        output_dir=Path(output_dir) if output_dir else run_dir.parent,
        run_id=f"{manifest['run_id']}__judged-{suffix}",
        cache_dir=cache_dir,
        use_cache=use_cache,
        max_concurrency=max_concurrency,
        rate_limits=dict(rate_limits or {}),
        include_paths=[Path(p) for p in include_paths],
        task_options=manifest.get("task_options", {}),
        command=command or ["mteval", "judge", str(run_dir)],
        progress=progress,
    )
    model = RecordedModel(manifest["model"]["id"], manifest["model"].get("args", {}))
    runner = Runner(config, model=model, solver=TranscriptSolver(samples), conversations=conversations, scorers=scorers)
    outcome = runner.run()
    outcome.manifest["rejudged_from"] = {
        "run_id": manifest["run_id"],
        "fingerprint": manifest.get("fingerprint"),
        "against": str(against) if against else None,
    }
    from mteval.results import write_manifest

    write_manifest(outcome.run_dir, outcome.manifest)
    return outcome
