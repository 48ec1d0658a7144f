"""Re-score a finished run without calling the model under test again.

The stored transcripts are replayed through the ordinary runner (a `RunSource` from the
transcripts: their conversations, a `TranscriptSolver` and the chosen scorers),
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
from mteval.conversation import Message
from mteval.errors import ConfigurationError
from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext
from mteval.results import load_samples, read_manifest
from mteval.run_source import RunSource, TranscriptSolver  # noqa: F401  (TranscriptSolver re-exported)
from mteval.scoring.base import TurnState
from mteval.scoring.cascades import CASCADES, cascade_stages, default_cascade, is_cascade
from mteval.scoring.judge_spec import load_spec
from mteval.scoring.jury import JuryConfig
from mteval.transcript import Sample

if TYPE_CHECKING:
    from mteval.runner import RunOutcome
    from mteval.scoring.base import Scorer
    from mteval.scoring.judge_spec import JudgeSpec


class RecordedModel(ModelAdapter):
    """Stands in for the run's original model; re-judging never calls it."""

    cacheable = False

    def __init__(self, model_id: str, public_args: dict[str, Any]):
        provider, _, name = model_id.partition("/")
        self.provider = provider  # type: ignore[misc]  # a ClassVar on real adapters; this stand-in takes any recorded provider
        super().__init__(name, public_args)

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        raise ConfigurationError("re-judging replays stored transcripts and never calls the model under test")


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


def rejudge_scorers(judge_def: str | None, against: str | Path | None, vote: str = "max_vote") -> "list[Scorer] | None":
    """The scorers a re-judging uses: pairwise against another run (`against`; the default
    cascade unless `judge_def` names a pairwise definition or another cascade), one judge
    definition, or None (each task's own). A pairwise definition without `against`, or
    `against` with a non-pairwise one, is refused here rather than as an error on every turn."""
    from mteval.scoring.judge_scorer import JudgeScorer
    from mteval.scoring.pairwise import PairwiseScorer

    if judge_def is not None:
        _check_pairing(judge_def, against)
    if against is not None:
        cascade = default_cascade() if judge_def is None else judge_def if is_cascade(judge_def) else None
        specs: list[JudgeSpec | str] = list(cascade_stages(cascade)) if cascade else [str(judge_def)]
        return [PairwiseScorer(cascade or "pairwise", specs, baseline_lookup(against), vote=vote)]  # named after what judged
    if judge_def is not None:
        spec = load_spec(judge_def)
        return [JudgeScorer(spec.name.replace("/", "_"), spec)]
    return None


def _check_pairing(judge_def: str, against: str | Path | None) -> None:
    pairwise = is_cascade(judge_def) or load_spec(judge_def).kind == "pairwise"  # a pairwise template needs two replies
    if pairwise and against is None:
        raise ConfigurationError(f"--judge-def {judge_def} is a pairwise judge: give --against RUN_DIR")
    if not pairwise and against is not None:
        examples = ", ".join(["pairwise", *CASCADES.names()])
        raise ConfigurationError(f"--against needs a pairwise judge definition or cascade (e.g. {examples}), not {judge_def}")


def finished_samples(run_dir: Path) -> list[Sample]:
    """The run's finished conversations; a run without any has nothing to judge."""
    samples = [s for s in load_samples(run_dir) if s.status == "ok"]
    if not samples:
        raise ConfigurationError(f"{run_dir}: no finished conversations to judge")
    return samples


def rejudged_run_id(manifest: dict[str, Any], jury: JuryConfig, judge_def: str | None, against: str | Path | None, vote: str) -> str:
    """Everything that changes the scores names its own run directory, or a re-run would
    resume another's results."""
    identity = json.dumps([jury.model_dump(mode="json"), judge_def, str(against)] + ([vote] if against is not None else []), sort_keys=True)
    return f"{manifest['run_id']}__judged-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"


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
    from mteval.results import write_manifest
    from mteval.runner import RunConfig, Runner

    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    samples = finished_samples(run_dir)
    source = RunSource.from_transcripts(samples, rejudge_scorers(judge_def, against, vote))
    recorded = manifest["model"]
    config = RunConfig(
        tasks=list(source.conversations or {}),
        retry=retry or RetryPolicy(),
        model=recorded["id"],
        model_args=recorded.get("args", {}),
        history=manifest.get("history", "own"),
        generation=manifest.get("generation", {}).get("explicit", {}),
        jury=jury,
        output_dir=Path(output_dir or run_dir.parent),
        run_id=rejudged_run_id(manifest, jury, judge_def, against, vote),
        cache_dir=cache_dir,
        use_cache=use_cache,
        max_concurrency=max_concurrency,
        rate_limits=dict(rate_limits or {}),
        include_paths=[Path(p) for p in include_paths],
        task_options=manifest.get("task_options", {}),
        command=command or ["mteval", "judge", str(run_dir)],
        progress=progress,
    )
    outcome = Runner(config, model=RecordedModel(recorded["id"], recorded.get("args", {})), source=source).run()
    outcome.manifest["rejudged_from"] = {
        "run_id": manifest["run_id"],
        "fingerprint": manifest.get("fingerprint"),
        "against": str(against) if against else None,
    }
    write_manifest(outcome.run_dir, outcome.manifest)
    return outcome
