"""The run manifest (run.json): built from samples.jsonl, the run's configuration and
its call counts. A native run and an imported one are summarised by the same code.

The samples are streamed: totals are summed as they arrive and the scored-turn rows keep
only what metrics read, in compact arrays (`mteval.score_rows`), so a manifest of a large
run costs about 20 bytes per scored turn. Tasks with the default metrics are summarised
from those arrays without pandas; an overridden `Task.metrics` or a family aggregate gets
a pandas frame of its own rows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from mteval import __version__
from mteval.client import ModelClient, endpoint_of
from mteval.models.base import GenerationParams, ModelAdapter
from mteval.redact import Redactor
from mteval.results import RUN_SCHEMA, iter_sample_dicts, sample_conversation_id
from mteval.score_rows import ScoreRows
from mteval.scoring.agreement import JudgingTally, is_juried
from mteval.stats import Metric, by_turn, metric_from_ranks, turn_curve
from mteval.task import Task

if TYPE_CHECKING:
    from mteval.runner import RunConfig
    from mteval.scoring.base import Scorer
    from mteval.scoring.jury import Jury

MAX_FIRST_ERRORS = 5




class Summary:
    """Counts, verdict tallies, token totals and the scored-turn rows of a
    run, accumulated one sample at a time while streaming samples.jsonl. The rows keep only
    what metrics read (`ScoreRows`: tens of bytes per scored turn, no reply text)."""

    def __init__(self, redactor: Redactor):
        self.redactor = redactor
        self.rows = ScoreRows()
        self.counts = {"conversations": 0, "errored_conversations": 0, "turns": 0, "errored_turns": 0}
        self.tokens = {"input": 0, "output": 0}
        self.first_errors: list[str] = []
        self.verdicts: dict[str, dict[str, Any]] = {}
        self.judging = JudgingTally()

    def add(self, sample: dict[str, Any]) -> None:
        """One sample, in one loop over its turn records: turn counts, verdict tallies, juror
        verdicts and, when record i is turn i's (as a run writes them), its scored-turn rows
        and tokens; otherwise the rows are read turn by turn (`_rows_by_index`). Five loops
        before: the summary was a fifth of a cached re-run."""
        conversation = sample["conversation"]
        records, turns = sample["turns"], conversation["turns"]
        generated = errored = 0
        tally = self._tally
        tokens_in, tokens_out = self.tokens["input"], self.tokens["output"]  # summed turn by turn, as before
        indexes: list[int] = []
        turn_scores: list[dict[str, Any]] = []
        aligned = len(records) == len(turns)
        for position, record in enumerate(records):
            if record.get("generated"):
                generated += 1
            if record.get("error"):
                errored += 1
            scores = record.get("scores") or {}
            for name, score in scores.items():
                tally(name, score, record, turns)
            if not aligned:
                continue
            if record["index"] != position:
                aligned = False
            elif turns[position].get("scored", True) and record.get("scored"):
                usage = record.get("usage", {})
                tokens_in += usage.get("input_tokens", 0)
                tokens_out += usage.get("output_tokens", 0)
                indexes.append(position)
                turn_scores.append(scores)
        if aligned:
            self.tokens["input"], self.tokens["output"] = tokens_in, tokens_out
        else:
            indexes, turn_scores = self._rows_by_index(sample)
        self._add_rows(sample, indexes, turn_scores)
        self._count(sample, generated, errored)

    def _tally(self, name: str, score: dict[str, Any], record: dict[str, Any], turns: list[dict[str, Any]]) -> None:
        """One score of any turn record: its scorer's verdict tally and, if juried, its juror verdicts."""
        tally = self.verdicts.get(name)
        if tally is None:
            tally = self.verdicts[name] = {"total": 0, "unparsed": 0, "example_raw": None}
        tally["total"] += 1
        if score.get("status") == "unparsed":
            tally["unparsed"] += 1
            if tally["example_raw"] is None:
                tally["example_raw"] = self.redactor(str(score.get("raw") or ""))[:500]
        if is_juried(score):
            self.judging.add_score(name, score, record, turns)

    def _count(self, sample: dict[str, Any], generated: int, errored: int) -> None:
        counts = self.counts
        counts["conversations"] += 1
        counts["turns"] += generated
        if sample.get("status") != "ok":
            counts["errored_conversations"] += 1
            if len(self.first_errors) < MAX_FIRST_ERRORS:
                self.first_errors.append(f"{sample['task']} {sample['conversation']['id']}: {cause(sample)}")
        counts["errored_turns"] += errored

    def _rows_by_index(self, sample: dict[str, Any]) -> tuple[list[int], list[dict[str, Any]]]:
        """The turn indexes and scores of the sample's scored turns (those
        `mteval.results.scored_turns` gives: a turn never reached has no scores), its tokens
        counted: the reading for records that are missing, repeated or out of order."""
        by_index = {record["index"]: record for record in sample["turns"]}  # a later record of an index wins
        indexes: list[int] = []
        turn_scores: list[dict[str, Any]] = []
        for index, turn in enumerate(sample["conversation"]["turns"]):
            record = by_index.get(index)
            if not turn.get("scored", True) or (record is not None and not record.get("scored")):
                continue
            if record is not None:
                usage = record.get("usage", {})
                self.tokens["input"] += usage.get("input_tokens", 0)
                self.tokens["output"] += usage.get("output_tokens", 0)
            indexes.append(index)
            turn_scores.append((record.get("scores") or {}) if record is not None else {})
        return indexes, turn_scores

    def _add_rows(self, sample: dict[str, Any], indexes: list[int], turn_scores: list[dict[str, Any]]) -> None:
        """The rows `mteval.results.sample_rows` would make of these scored turns."""
        metadata = sample["conversation"].get("metadata", {})
        if "source_turn_index" in metadata and indexes:  # a single-turn rendering: its source turn
            indexes = [int(metadata["source_turn_index"])] * len(indexes)
        self.rows.add_turns(sample["task"], sample_conversation_id(sample), indexes, turn_scores)

    def score_status(self, task: str, names: Sequence[str]) -> dict[str, int]:
        """Scored turns per score status of these scorers of `task`, counted from the rows'
        status columns (statuses in the order they first appear)."""
        selected = self.rows.rows_of([task]) if len(self.rows) else None
        out: dict[str, int] = {}
        for name in names:
            for status, count in self.rows.status_counts(name, selected).items():
                out[status] = out.get(status, 0) + count
        return out


class ManifestBuilder:
    """Builds the manifest dict (validated by `mteval.manifest.RunManifest`) of one run.
    `custom_scorers`: the scorers are not the tasks' own (re-judging with another judge
    definition), so metrics are plain means and no family aggregate applies."""

    def __init__(
        self,
        config: "RunConfig",
        tasks: Sequence[Task],
        model: ModelAdapter,
        redactor: Redactor,
        *,
        scorers: Callable[[Task], list[Scorer]],
        custom_scorers: bool,
        public_task_options: dict[str, Any],
        jury_identity: dict[str, Any] | None,
        max_concurrency: int,
    ):
        self.config = config
        self.tasks = tasks
        self.model = model
        self.redactor = redactor
        self.scorers = scorers
        self.custom_scorers = custom_scorers
        self.public_task_options = public_task_options
        self.jury_identity = jury_identity
        self.max_concurrency = max_concurrency

    def build(
        self,
        run_dir: Path,
        fingerprint: str,
        task_info: dict[str, Any],
        started: float,
        *,
        status: str,
        calls: dict[str, Any] | None = None,
        one_invocation: bool = False,
    ) -> dict[str, Any]:
        """The manifest of `run_dir` as it is on disk now (samples.jsonl is summarised;
        `one_invocation`: as `mteval.results.iter_sample_dicts` reads it)."""
        from mteval.manifest import RunManifest

        summary = Summary(self.redactor)
        # streamed: every invocation's samples, latest per conversation
        for sample in iter_sample_dicts(run_dir, one_invocation=one_invocation):
            summary.add(sample)
        metrics, turn_curves, score_status = self._task_metrics(summary, task_info)
        manifest = RunManifest.model_validate(
            {
                "schema": RUN_SCHEMA,
                "run_id": run_dir.name,
                "status": status,
                "fingerprint": fingerprint,
                "mteval_version": __version__,
                "command": [self.redactor(part) for part in self.config.command],
                "started_at": iso(started),
                "finished_at": iso(time.time()) if status != "running" else None,
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
                "max_concurrency": self.max_concurrency,
                "jury": self.jury_identity,
                "tasks": task_info,
                "totals": {
                    **summary.counts,
                    "scored_turns": len(summary.rows),
                    "scores": score_status,
                    "scored_turn_tokens": dict(summary.tokens),
                    "calls": calls,
                    "first_errors": summary.first_errors,
                    "verdicts": summary.verdicts,
                },
                "metrics": metrics,
                "groups": self._groups(summary.rows),
                "by_turn": turn_curves,
                "judging": summary.judging.summary(),
                "imported": None,
            }
        )
        return manifest.to_json()

    def _task_metrics(self, summary: Summary, task_info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
        """Per task: its metrics (with their semantics), its per-turn curves, and the score statuses counted."""
        from mteval.manifest import MetricRecord, lookup

        metrics: dict[str, Any] = {}
        turn_curves: dict[str, Any] = {}
        score_status: dict[str, int] = {"ok": 0, "unparsed": 0, "error": 0}
        for task in self.tasks:
            names = [s.name for s in self.scorers(task)]
            task_metrics, turn_curves[task.name] = self._metrics_of(task, names, summary.rows)
            declared, headline = task.metric_semantics(), task_info[task.name].get("headline")
            metrics[task.name] = {
                k: MetricRecord(**v.model_dump(), semantics=lookup(declared, k, headline)) for k, v in task_metrics.items()
            }
            for key, count in summary.score_status(task.name, names).items():
                score_status[key] = score_status.get(key, 0) + count
        return metrics, turn_curves, score_status

    def _metrics_of(self, task: Task, names: list[str], rows: ScoreRows) -> tuple[dict[str, Metric], dict[str, Any]]:
        """A task's metrics and per-turn curves: from the arrays when it keeps the default
        metrics (no pandas), else through its own `metrics(frame)`."""
        selected = rows.rows_of([task.name]) if len(rows) else None
        if self.custom_scorers or type(task).metrics is Task.metrics:
            return default_metrics(rows, selected, names), default_turn_curves(rows, selected, names)
        frame = rows.frame(selected)
        return task.metrics(frame), by_turn(frame, names)

    def _groups(self, rows: ScoreRows) -> dict[str, Any]:
        """Family aggregates over the tasks of each family this run includes."""
        from mteval.manifest import MetricRecord, lookup
        from mteval.registry import family_aggregate_info

        groups: dict[str, Any] = {}
        if not len(rows) or self.custom_scorers:
            return groups
        for family in sorted({task.family for task in self.tasks if task.family}):  # sorted: one order however they loaded
            info = family_aggregate_info(family)
            if info is None:
                continue
            members = [name for name in rows.task_names() if name.startswith(family + "/")]
            family_frame = rows.frame(rows.rows_of(members))
            group_headline, group_declared = info.headline, info.semantics
            groups[family] = {
                k: MetricRecord(**v.model_dump(), semantics=lookup(group_declared, k, group_headline))
                for k, v in info.aggregate(family_frame, list(self.tasks)).items()
            }
        return groups


def default_metrics(rows: ScoreRows, selected: Any, names: Sequence[str]) -> dict[str, Metric]:
    """`mteval.stats.mean_metrics` of the selected rows, computed from the arrays."""
    count = len(rows) if selected is None else len(selected)
    out: dict[str, Metric] = {}
    ranks = None
    for name in names:
        values = rows.score_values(name, selected) if len(rows) else None
        if values is None:
            out[name] = Metric(value=None, excluded=count)
            continue
        ranks = rows.cluster_ranks(selected) if ranks is None else ranks
        out[name] = metric_from_ranks(values, ranks)
    return out


def default_turn_curves(rows: ScoreRows, selected: Any, names: Sequence[str]) -> dict[str, Any]:
    """`mteval.stats.by_turn` of the selected rows, computed from the arrays."""
    if not len(rows) or (selected is not None and not len(selected)):
        return {}
    turns = rows.turn_indexes(selected)
    curves = {}
    for name in names:
        values = rows.score_values(name, selected)
        if values is not None:
            curves[name] = turn_curve(values, turns)
    return curves


def run_calls(
    model_client: ModelClient, judge_clients: Sequence[ModelClient], jury: "Jury | None", previous: dict[str, Any] | None
) -> dict[str, Any]:
    """The manifest's call counts: this invocation's added to earlier ones of a resumed run."""
    calls = {
        "model": priced(model_client),
        "judges": {c.model_id: priced(c) for c in judge_clients},
        "jury": jury.stats.as_dict() if jury else None,
    }
    return add_calls(previous, calls)


def add_calls(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
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

    result: dict[str, Any] = add(previous, current)
    return result


def priced(client: ModelClient) -> dict[str, Any]:
    """A client's call counts with the dollar cost of this invocation's tokens (None if
    the price is unknown). Cache hits cost nothing and are not counted in the tokens."""
    from mteval.cost import cost_usd

    stats = client.stats.as_dict()
    return {**stats, "cost_usd": cost_usd(client.adapter, stats["input_tokens"], stats["output_tokens"])}


def cause(sample: dict[str, Any]) -> str:
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


def iso(timestamp: float) -> str:
    """A UNIX timestamp as the manifest writes it (UTC, seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
