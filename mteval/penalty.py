"""The multi-turn penalty: one definition for the report, the leaderboard and `mteval penalty`.

    penalty = single-turn score - own-history score, on the same turns
              (own - single for a score where lower is better, as declared by its task)

Positive means the dialogue costs the model score (it does worse with its own history than
with the same content in one message); negative means the dialogue helps. A task without a
single-turn rendering (`single_turn_rendering = False`, e.g. full-duplex timelines, which
run the same samples in every history mode) has no penalty: comparing a run with itself
would show a perfect 0. Turns are paired
by (task, source conversation, source turn index): a single-turn rendering records the
conversation and turn it was made from, and `mteval.results.load` already gives its rows
those keys. Only turns scored in both runs count. The 95% interval is `mteval.stats`'s
cluster bootstrap over the paired differences, resampling whole source conversations;
several tasks or categories combine as the unweighted mean of their penalties, with a
bootstrap stratified by member.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from mteval.stats import cluster_bootstrap_ci, stratified_mean_ci

SIGN = (
    "single-turn minus own-history score on the same turns, own minus single where lower is better "
    "(positive: the dialogue costs score)"
)


class PenaltyError(ValueError):
    """The penalty cannot be computed from these runs; the message says why."""


@dataclass
class Pair:
    cluster: str
    """Task and source conversation: what the bootstrap resamples."""
    own: float
    single: float
    sign: int = 1
    """-1 for a score where lower is better, so that a positive penalty always means worse in dialogue."""

    @property
    def diff(self) -> float:
        return self.sign * (self.single - self.own)


@dataclass
class Penalty:
    """The penalty of one task's metric, or the mean over several (`members`)."""

    name: str
    metric: str
    own: float | None
    """Own-history mean over the paired turns."""
    single: float | None
    """Single-turn mean over the paired turns."""
    penalty: float | None
    ci: tuple[float, float] | None
    n_pairs: int
    n_conversations: int
    members: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def relative(self) -> float | None:
        """The penalty as a share of the single-turn score."""
        if self.penalty is None or not self.single:
            return None
        return self.penalty / abs(self.single)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ci": list(self.ci) if self.ci else None, "relative": self.relative}


def check_runs(
    own_manifest: Mapping[str, Any],
    single_manifest: Mapping[str, Any],
    own: str = "RUN_OWN",
    single: str = "RUN_SINGLE",
    *,
    allow_different_models: bool = False,
) -> None:
    """Refuse pairs of runs whose penalty would mean something else (wrong order, other model)."""
    if own_manifest.get("history") == "single":
        raise PenaltyError(f"{own} is a single-turn run (history=single); pass the multi-turn (own-history) run first")
    if single_manifest.get("history") != "single":
        raise PenaltyError(f"{single} is not a single-turn run (history={single_manifest.get('history')!r}); run it with --history single")
    models = (own_manifest.get("model") or {}).get("id"), (single_manifest.get("model") or {}).get("id")
    if models[0] != models[1] and not allow_different_models:
        raise PenaltyError(f"the runs are of different models ({models[0]} and {models[1]}); the penalty compares one model with itself")


def pairs(own_frame, single_frame, task: str, metric: str) -> list[Pair]:
    """Turns of `task` scored on `metric` in both frames (from `mteval.results.load`); none
    for a task without a single-turn rendering or a descriptive score (no better direction)."""
    direction = score_direction(task, metric)
    if no_single_turn_rendering(task) or direction == "neither":
        return []
    column = f"score_{metric}"
    own = _scores(own_frame, task, column)
    single = _scores(single_frame, task, column)
    sign = -1 if direction == "lower" else 1
    return [Pair(cluster=f"{task}/{key[0]}", own=own[key], single=value, sign=sign) for key, value in single.items() if key in own]


def no_single_turn_rendering(task: str) -> bool:
    """The registered task declares that `--history single` runs the same samples."""
    from mteval.registry import get_task_spec

    spec = get_task_spec(task)
    return spec is not None and not spec.cls.single_turn_rendering


def score_direction(task: str, metric: str) -> str:
    """"higher", "lower" or "neither", as the registered task declares for this score
    (higher when the task is not installed or declares nothing)."""
    from mteval.manifest import declared_task_semantics, lookup

    declared = declared_task_semantics(task)
    return lookup(declared[2], metric).direction if declared else "higher"


def _scores(frame, task: str, column: str) -> dict[tuple[str, int], float]:
    if frame is None or frame.empty or column not in frame:
        return {}
    rows = frame[frame["task"] == task]
    out = {}
    for conversation, turn, value in zip(rows["conversation_id"], rows["turn_index"], rows[column]):
        if value is not None and value == value:
            out[(str(conversation), int(turn))] = float(value)
    return out


def penalty_of(name: str, metric: str, paired: Sequence[Pair]) -> Penalty:
    """The penalty over one set of paired turns (a task, or a category pooling its tasks' turns)."""
    if not paired:
        return Penalty(name, metric, None, None, None, None, 0, 0, note="no turn scored in both runs")
    diffs = [p.diff for p in paired]
    clusters = [p.cluster for p in paired]
    return Penalty(
        name=name,
        metric=metric,
        own=float(np.mean([p.own for p in paired])),
        single=float(np.mean([p.single for p in paired])),
        penalty=float(np.mean(diffs)),
        ci=cluster_bootstrap_ci(diffs, clusters),
        n_pairs=len(paired),
        n_conversations=len(set(clusters)),
    )


def mean_penalty(name: str, members: Mapping[str, Sequence[Pair]], metric: str = "") -> Penalty:
    """Unweighted mean of the members' penalties (each member a task or category), with a
    bootstrap that resamples source conversations within each member."""
    parts = {k: v for k, v in members.items() if v}
    if not parts:
        return Penalty(name, metric, None, None, None, None, 0, 0, members=list(members), note="no turn scored in both runs")
    each = [penalty_of(k, metric, v) for k, v in parts.items()]
    return Penalty(
        name=name,
        metric=metric or _joined_metrics(each),
        own=_mean([p.own for p in each]),
        single=_mean([p.single for p in each]),
        penalty=_mean([p.penalty for p in each]),
        ci=stratified_mean_ci([([p.diff for p in v], [p.cluster for p in v]) for v in parts.values()]),
        n_pairs=sum(p.n_pairs for p in each),
        n_conversations=sum(p.n_conversations for p in each),
        members=list(parts),
        note=_without(members, parts),
    )


def _mean(values: Sequence[float | None]) -> float:
    """The mean of members' values, all set (a member with pairs has every mean)."""
    return float(np.mean([v for v in values if v is not None]))


def _joined_metrics(each: Sequence[Penalty]) -> str:
    return "mean of " + ", ".join(sorted({p.metric for p in each if p.metric}))


def _without(members: Mapping[str, Sequence[Pair]], parts: Mapping[str, Sequence[Pair]]) -> str | None:
    """The note naming members left out of a mean for want of pairs."""
    return None if len(parts) == len(members) else "without " + ", ".join(k for k in members if k not in parts)


def run_penalties(
    own_dir: str | Path,
    single_dir: str | Path,
    *,
    metrics: Mapping[str, Iterable[str]] | None = None,
    allow_different_models: bool = False,
) -> tuple[list[Penalty], list[str]]:
    """Penalties of every task and score both runs have (or the given `metrics` per task),
    plus their mean when there are several; and one message per task that has none."""
    from mteval.results import load, read_manifest

    own_manifest, single_manifest = read_manifest(own_dir), read_manifest(single_dir)
    check_runs(own_manifest, single_manifest, str(own_dir), str(single_dir), allow_different_models=allow_different_models)
    own_tasks, single_tasks = list(own_manifest.get("tasks") or {}), set(single_manifest.get("tasks") or {})
    problems = [
        f"{t}: no single-turn run of it in {single_dir} (run it with --history single, if the task has a single-turn rendering)"
        for t in own_tasks
        if t not in single_tasks
    ]
    frames = (load(own_dir), load(single_dir))
    results: list[Penalty] = []
    paired_by_task: dict[str, list[Pair]] = {}
    for task in (t for t in own_tasks if t in single_tasks):
        found = _task_penalties(task, frames, metrics, results, problems)
        if found:
            paired_by_task[task] = found  # the task's first score speaks for it in the mean
    if len(paired_by_task) > 1:
        results.append(mean_penalty("mean over tasks", paired_by_task))
    if not results and not problems:
        problems.append("the runs share no task")
    return results, problems


def _task_penalties(task: str, frames: tuple[Any, Any], metrics: Mapping[str, Iterable[str]] | None, results: list[Penalty], problems: list[str]) -> list[Pair]:
    """Append one task's penalties (one per score) to `results` and what stands in the way
    to `problems`; return the pairs of its first score with any."""
    own_frame, single_frame = frames
    if no_single_turn_rendering(task):
        problems.append(f"{task}: no single-turn rendering (--history single runs the same samples), so no multi-turn penalty")
        return []
    names = list(metrics[task]) if metrics and task in metrics else _score_names(own_frame, single_frame, task)
    if not names:
        problems.append(f"{task}: no score recorded in both runs")
    first: list[Pair] = []
    for metric in names:
        found = pairs(own_frame, single_frame, task, metric)
        if not found:
            problems.append(f"{task}: no turn scored on {metric!r} in both runs (are they runs of the same data?)")
            continue
        results.append(penalty_of(task, metric, found))
        first = first or found
    return first


def _score_names(own_frame, single_frame, task: str) -> list[str]:
    def names(frame) -> list[str]:
        if frame is None or frame.empty:
            return []
        rows = frame[frame["task"] == task]
        return [c[len("score_"):] for c in rows.columns if c.startswith("score_") and rows[c].notna().any()]

    single = set(names(single_frame))
    return [n for n in names(own_frame) if n in single]
