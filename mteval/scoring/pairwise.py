"""Pairwise judging with position swap, and cascades of pairwise judges.

Every pairwise judgment is made twice, candidate first (game 1) and baseline first
(game 2), and mapped back to names. Equal verdicts give the winner; different ones
are `inconsistent` and count as a tie (MT-Bench); a game whose output cannot be read
leaves the pair unparsed (never a loss).

A cascade (registered by a judge package in `mteval.scoring.cascades`; Amulet's: dialog
acts -> maxims -> fallback judge) takes the first stage whose two orders agree; the fallback counts only if consistent, else it is a tie.
Each juror the run's jury asks plays the whole protocol; the jury (`Jury.collect`, with
its adaptive quorum, audits and statistics) combines the jurors' winners with a
registered label aggregation (majority or max voting, or the cascade). The turn's score
is 1 (candidate wins), 0.5 (tie) or 0 (baseline wins), so the mean is MT-Bench's
adjusted win rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Sequence

from mteval.errors import ConfigurationError
from mteval.models.base import RequestContext
from mteval.scoring.aggregations import AGGREGATIONS, label_aggregation_names
from mteval.scoring.base import ScoreContext, Scorer, TurnState
from mteval.scoring.judge_scorer import format_dialogue, neutralise_delimiters, standard_variables
from mteval.scoring.judge_spec import JudgeSpec, Juror, Verdict, load_spec
from mteval.scoring.jury import Jury, JuryItem, aggregate
from mteval.transcript import Score, messages_sent

FIRST = {"A", "1"}
SECOND = {"B", "2"}
WIN_VALUE = {"candidate": 1.0, "tie": 0.5, "baseline": 0.0}

Baseline = Callable[[TurnState], "str | None"]


def gold_baseline(state: TurnState) -> str | None:
    """Compare with the benchmark's gold reply for the turn."""
    return state.turn.gold


@dataclass
class PairOutcome:
    """One juror's result for one item, with both games kept."""

    winner: str | None  # "candidate" | "baseline" | "tie" | None (a game could not be read)
    consistent: bool | None
    stage: str
    games: list[Verdict] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "winner": self.winner,
            "consistent": self.consistent,
            "stage": self.stage,
            "games": [g.model_dump(mode="json") for g in self.games],
        }

    def verdict(self, judge: str) -> Verdict:
        """The outcome as the jury counts it: the winner is the label; no winner does not
        vote (an error when every game failed to reach the judge)."""
        if self.winner is not None:
            return Verdict(judge=judge, spec=self.stage, label=self.winner, value=WIN_VALUE[self.winner])
        status: Literal["error", "unparsed"] = "error" if self.games and all(g.status == "error" for g in self.games) else "unparsed"
        return Verdict(judge=judge, spec=self.stage, status=status, raw="\n\n".join(g.raw or "" for g in self.games))


def _position_winner(verdict: Verdict, candidate_first: bool) -> str | None:
    label = (verdict.label or "").strip()
    if label in FIRST:
        return "candidate" if candidate_first else "baseline"
    if label in SECOND:
        return "baseline" if candidate_first else "candidate"
    if label.lower() in ("tie", "c"):
        return "tie"
    return None


def pair_variables(state: TurnState, candidate: str, baseline: str, candidate_first: bool) -> dict[str, Any]:
    """Template variables for one game: `answer_a` is whichever reply is shown first."""
    variables = dict(standard_variables(state))
    sent = messages_sent(state.records, state.index)
    first, second = (candidate, baseline) if candidate_first else (baseline, candidate)
    variables.update(
        answer_a=neutralise_delimiters(first),
        answer_b=neutralise_delimiters(second),
        dialogue=neutralise_delimiters(format_dialogue(sent)).replace("User: ", "Human: "),
    )
    return variables


async def play_pair(juror: Juror, spec: JudgeSpec, state: TurnState, candidate: str, baseline: str, context: RequestContext) -> PairOutcome:
    """Both orders with one juror and one definition."""
    game1 = await juror.judge(spec, pair_variables(state, candidate, baseline, True), context)
    game2 = await juror.judge(spec, pair_variables(state, candidate, baseline, False), context)
    games = [game1, game2]
    if not (game1.ok and game2.ok):
        return PairOutcome(winner=None, consistent=None, stage=spec.name, games=games)
    w1, w2 = _position_winner(game1, True), _position_winner(game2, False)
    if w1 is None or w2 is None:
        return PairOutcome(winner=None, consistent=None, stage=spec.name, games=games)
    if w1 == w2:
        return PairOutcome(winner=w1, consistent=True, stage=spec.name, games=games)
    return PairOutcome(winner="tie", consistent=False, stage=spec.name, games=games)


async def play_cascade(juror: Juror, specs: Sequence[JudgeSpec], state: TurnState, candidate: str, baseline: str, context: RequestContext) -> PairOutcome:
    """First stage whose two orders agree; the last stage's inconsistency is a tie."""
    outcome = None
    stages: list[dict[str, Any]] = []
    for spec in specs:
        outcome = await play_pair(juror, spec, state, candidate, baseline, context)
        stages.append(outcome.as_dict())
        if outcome.consistent:
            break
    assert outcome is not None
    outcome.games = [Verdict.model_validate(g) for stage in stages for g in stage["games"]]
    return outcome


class PairwiseScorer(Scorer):
    """Candidate vs baseline for each scored turn, both orders, by the run's jury.

    Each juror asked plays the whole protocol (`play_cascade`); the jury collects the
    winners like any verdicts (adaptive quorum, audits, stats) and combines them with its
    own aggregation when that one votes on labels (`majority`, `max_vote`, `cascade`),
    else (a score statistic such as the default `mean`) with `vote`."""

    needs_judge = True

    def __init__(
        self,
        name: str,
        specs: JudgeSpec | str | Sequence[JudgeSpec | str] = "pairwise",
        baseline: Baseline = gold_baseline,
        vote: str = "max_vote",
    ):
        self.name = name
        raw = [specs] if isinstance(specs, (str, JudgeSpec)) else list(specs)
        self._specs = raw
        self.baseline = baseline
        if vote not in label_aggregation_names():
            raise ConfigurationError(f"vote={vote!r}: pairwise winners combine with one of {', '.join(label_aggregation_names())}")
        self.vote = vote

    @property
    def specs(self) -> list[JudgeSpec]:
        self._specs = [load_spec(s) if isinstance(s, str) else s for s in self._specs]
        return self._specs  # type: ignore[return-value]  # every entry is a JudgeSpec after the line above

    def method(self, jury: Jury) -> str:
        """The aggregation for the jurors' winners."""
        own = jury.config.aggregate
        return self.vote if AGGREGATIONS.get_entry(own).monotone_score else own

    async def score(self, state: TurnState, context: ScoreContext) -> Score:
        if context.jury is None:
            raise ConfigurationError(f"{state.task} needs a judge: pass --judge provider/model or --jury FILE")
        baseline = self.baseline(state)
        if baseline is None:
            return Score.failed(f"no baseline reply for conversation {state.conversation.id!r} turn {state.turn.id!r}")
        request = RequestContext(
            task=state.task, conversation_id=state.conversation.id, turn_id=state.turn.id, turn_index=state.index, role="judge"
        )
        outcomes: dict[int, PairOutcome] = {}

        async def ask(juror: Juror) -> Verdict:
            outcome = await play_cascade(juror, self.specs, state, state.reply, baseline, request)
            outcomes[id(juror)] = outcome
            return outcome.verdict(juror.id)

        jury, method = context.jury, self.method(context.jury)
        verdicts, extra = await jury.collect(JuryItem(ask, request, kind="pairwise", method=method))
        asked = [j for j in jury.jurors if id(j) in outcomes]  # in jury order: those heard, then any audited
        keyed = list(_juror_keys(asked, [outcomes[id(j)] for j in asked]).items())
        winner = aggregate(verdicts, method, "pairwise")[1]
        details = {"kind": "pairwise", "vote": method, "winner": winner, "jurors": dict(keyed[: len(verdicts)]), **extra}
        if len(keyed) > len(verdicts):  # the audit's outcomes, apart from the verdict's (as score audits are)
            details["adaptive"]["audit_jurors"] = dict(keyed[len(verdicts):])
        if winner is None:
            raw = "\n\n".join(v.raw or "" for v in verdicts)
            return Score(value=None, status="unparsed", raw=raw, details=details, explanation="no juror produced a readable pair of games")
        return Score(value=WIN_VALUE[winner], details=details)


def _juror_keys(jurors: Sequence[Juror], outcomes: Sequence[PairOutcome]) -> dict[str, Any]:
    """Outcomes by juror id; `#i` only tells apart a model that sits on the jury twice
    (as for score verdicts), so the judging summary names each juror by its model."""
    out: dict[str, Any] = {}
    for i, (juror, outcome) in enumerate(zip(jurors, outcomes)):
        out[juror.id if juror.id not in out else f"{juror.id}#{i}"] = outcome.as_dict()
    return out


def vote(winners: Sequence[str | None], method: str = "max_vote") -> str | None:
    """Combine jurors' winners with the registered aggregation `method`. Unreadable pairs
    (None) do not vote."""
    verdicts = [Verdict(judge="?", spec="?", label=w) if w is not None else Verdict(judge="?", spec="?", status="unparsed") for w in winners]
    return aggregate(verdicts, method, "pairwise")[1]


def __getattr__(name: str) -> Any:
    """Old path of a registered cascade's stage list: `<cascade>_cascade(fallback)` (e.g.
    `amulet_cascade`, now `mteval_judges.amulet.amulet_cascade`)."""
    from mteval.scoring.cascades import cascade_stages, is_cascade

    cascade = name.removesuffix("_cascade")
    if name.endswith("_cascade") and is_cascade(cascade):

        def stages(fallback: JudgeSpec | str | None = None) -> list[JudgeSpec | str]:
            names: list[JudgeSpec | str] = list(cascade_stages(cascade))
            return names if fallback is None else [*names[:-1], fallback]

        return stages
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def position_consistency(details: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """(consistent, decided) game pairs per juror, from a pairwise score's details."""
    out: dict[str, tuple[int, int]] = {}
    for juror, outcome in (details.get("jurors") or {}).items():
        consistent = outcome.get("consistent")
        decided = consistent is not None
        out[juror] = (int(bool(consistent)), int(decided))
    return out
