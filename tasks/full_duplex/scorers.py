"""Per-sample scorers and task-level aggregation of the full-duplex tasks.

Every scorer rebuilds the sample's timeline from its turn records and scores the one
summary turn, so each sample is one results row with `score_takeover`, `score_latency`,
... columns. Aggregations that are not plain means over all samples (latency over
TO = 1 samples only, the paper's JSD over TO = 0 samples, population std) live here.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeAlias, TypeVar

import numpy as np

from mteval.duplex.sample import sample_timeline
from mteval.duplex.timeline import Timeline
from mteval.scoring.base import ScoreContext, Scorer, TurnState
from mteval.scoring.judge_scorer import JudgeScorer
from mteval.stats import Metric, metric_from_rows
from mteval.transcript import Score
from mteval_tasks.full_duplex.backchannel import BackchannelOutcome, evaluate_backchannel
from mteval_tasks.full_duplex.judge import relevance_spec
from mteval_tasks.full_duplex.metrics import Outcome, evaluate_interruption, evaluate_pause, evaluate_turn_taking
from mteval_tasks.full_duplex.options import FullDuplexOptions
from mteval_tasks.full_duplex.talkover import informed_latency, talk_over

Result = TypeVar("Result")
"""What a task evaluates a timeline to (an Outcome, a BackchannelOutcome, a TalkOver, ...)."""
Evaluate = Callable[[Timeline, FullDuplexOptions], Result]
Takeover: TypeAlias = Outcome | BackchannelOutcome
"""An evaluation that decides TO."""


def state_timeline(state: TurnState, options: FullDuplexOptions) -> Timeline:
    return sample_timeline(state.conversation, state.records, options.ipu_min_silence_s)


class TimelineScorer(Scorer, Generic[Result]):
    """Reads one value off the task's evaluation of the sample's timeline."""

    def __init__(self, name: str, evaluate: Evaluate[Result], pick: Callable[[Result], Score], options: FullDuplexOptions):
        self.name = name
        self.evaluate = evaluate
        self.pick = pick
        self.options = options

    async def score(self, state: TurnState, context: ScoreContext) -> Score:
        return self.pick(self.evaluate(state_timeline(state, self.options), self.options))


def _speech(outcome: Takeover) -> dict[str, Any]:
    """The backchannel numbers' segment method (detector or words), recorded per score."""
    speech = outcome.speech if isinstance(outcome, BackchannelOutcome) else None
    return {"speech_segments": speech} if speech else {}


def takeover_score(outcome: Takeover) -> Score:
    details: dict[str, Any] = {"model_words": len(outcome.words), **_speech(outcome)}
    unplaced = outcome.details.get("unplaced_words") if isinstance(outcome, Outcome) else None
    if unplaced:
        details["unplaced_words"] = unplaced
    return Score(value=float(outcome.takeover), details=details)


def latency_score(outcome: Outcome) -> Score:
    if outcome.takeover != 1:
        return Score(value=None, explanation="TO = 0: no latency (averaged over TO = 1 samples only)")
    return Score(value=outcome.latency, details={k: v for k, v in outcome.details.items() if k in ("raw_latency", "turn_end", "interrupt_end")})


def frequency_score(outcome: BackchannelOutcome) -> Score:
    return Score(value=outcome.frequency, details={"backchannels": [list(span) for span in outcome.backchannels], **_speech(outcome)})


def jsd_score(outcome: BackchannelOutcome) -> Score:
    if outcome.jsd is None:
        return Score.failed("no BC_REFERENCE distribution for this sample")
    return Score(value=outcome.jsd, details=_speech(outcome))


def takeover_scorer(evaluate: Evaluate[Takeover], options: FullDuplexOptions) -> TimelineScorer[Takeover]:
    return TimelineScorer("takeover", evaluate, takeover_score, options)


def latency_scorer(evaluate: Evaluate[Outcome], options: FullDuplexOptions) -> TimelineScorer[Outcome]:
    return TimelineScorer("latency", evaluate, latency_score, options)


def talk_over_scorers(options: FullDuplexOptions) -> list:
    """Talking over the user, beside the clamped latency (see talkover.py)."""
    return [
        TimelineScorer("overlap_s", talk_over, lambda t: _no_user() if t is None else Score(value=t.overlap_s), options),
        TimelineScorer("barge_ins", talk_over, lambda t: _no_user() if t is None else Score(value=float(t.barge_ins)), options),
    ]


def _no_user() -> Score:
    return Score(value=None, explanation="no user speech in this timeline: talking over it cannot be measured")


def _informed_score(value: float | None) -> Score:
    if value is None:
        return Score(value=None, explanation="recorded sample, or no reply decided after hearing the interruption")
    return Score(value=value)


def pause_scorers(options: FullDuplexOptions) -> list:
    return [takeover_scorer(evaluate_pause, options)]


def turn_taking_scorers(options: FullDuplexOptions) -> list:
    return [takeover_scorer(evaluate_turn_taking, options), latency_scorer(evaluate_turn_taking, options), *talk_over_scorers(options)]


def backchannel_scorers(options: FullDuplexOptions) -> list:
    return [
        takeover_scorer(evaluate_backchannel, options),
        TimelineScorer("bc_frequency", evaluate_backchannel, frequency_score, options),
        TimelineScorer("jsd", evaluate_backchannel, jsd_score, options),
    ]


class RelevanceScorer(JudgeScorer):
    """FDB relevance of the post-interruption response, judged for TO = 1 samples only."""

    def __init__(self, options: FullDuplexOptions):
        super().__init__("relevance", relevance_spec(options.judge_temperature), self._variables)
        self.options = options

    def _outcome(self, state: TurnState) -> Outcome:
        return evaluate_interruption(state_timeline(state, self.options), self.options)

    def _variables(self, state: TurnState) -> dict[str, str]:
        outcome = self._outcome(state)
        return {"context": outcome.details.get("context") or "", "interrupt": outcome.details.get("interrupt") or "", "output": outcome.text}

    async def score(self, state: TurnState, context: ScoreContext) -> Score:
        if self._outcome(state).takeover != 1:
            return Score(value=None, explanation="TO = 0: not judged (relevance is averaged over TO = 1 samples)")
        return await super().score(state, context)


def interruption_scorers(options: FullDuplexOptions) -> list:
    scorers: list = [
        takeover_scorer(evaluate_interruption, options),
        latency_scorer(evaluate_interruption, options),
        *talk_over_scorers(options),
        TimelineScorer("informed_latency", informed_latency, _informed_score, options),
    ]
    if options.relevance:
        scorers.append(RelevanceScorer(options))
    return scorers


# --- aggregation ------------------------------------------------------------------------------
def _values(frame, name: str) -> list[float | None]:
    column = f"score_{name}"
    if frame.empty or column not in frame:
        return []
    return [None if v is None or v != v else float(v) for v in frame[column].tolist()]


def mean_metric(frame, name: str, *, where: str | None = None, equals: float | None = None) -> Metric:
    """Mean of a score over samples, optionally only those where score `where` == `equals`."""
    values = _values(frame, name)
    if not values:
        return Metric(value=None)
    clusters = frame["conversation_id"].tolist()
    if where is not None:
        keep = [v == equals for v in _values(frame, where)] or [False] * len(values)
        values = [v for v, k in zip(values, keep) if k]
        clusters = [c for c, k in zip(clusters, keep) if k]
    return metric_from_rows(values, clusters)


def std_metric(frame, name: str, *, where: str | None = None, equals: float | None = None) -> Metric:
    """Population standard deviation (numpy's default, as upstream reports it)."""
    values = _values(frame, name)
    if where is not None:
        values = [v for v, w in zip(values, _values(frame, where)) if w == equals]
    kept = [v for v in values if v is not None]
    if not kept:
        return Metric(value=None, excluded=len(values))
    return Metric(value=float(np.std(kept)), n=len(kept), n_conversations=len(kept), excluded=len(values) - len(kept))


def talk_over_metrics(frame) -> dict[str, Metric]:
    """Mean seconds of talking over the user and mean barge-ins per sample (all samples)."""
    return {"overlap_s": mean_metric(frame, "overlap_s"), "barge_ins": mean_metric(frame, "barge_ins")}
