"""The run manifest (run.json): built from samples.jsonl, the run's configuration and
its call counts. A native run and an imported one are summarised by the same code.

The samples are streamed: the summary keeps scored-turn rows column by column, without
reply text, so a manifest of a large run costs tens of bytes per scored turn.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from mteval import __version__
from mteval.client import ModelClient, endpoint_of
from mteval.models.base import GenerationParams, ModelAdapter
from mteval.redact import Redactor
from mteval.registry import family_aggregates
from mteval.results import RUN_SCHEMA, iter_sample_dicts, sample_rows
from mteval.scoring.agreement import JudgingTally
from mteval.stats import by_turn, mean_metrics
from mteval.task import Task

if TYPE_CHECKING:
    import pandas as pd

    from mteval.runner import RunConfig
    from mteval.scoring.jury import Jury

MAX_FIRST_ERRORS = 5


class Columns:
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


class Summary:
    """Counts, verdict tallies and scored-turn rows of a run, accumulated one sample at a
    time while streaming samples.jsonl (rows keep no reply text: the manifest needs
    scores, not transcripts)."""

    def __init__(self, redactor: Redactor):
        self.redactor = redactor
        self.rows = Columns()
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
                self.first_errors.append(f"{sample['task']} {sample['conversation']['id']}: {cause(sample)}")
        self.counts["errored_turns"] += sum(1 for t in sample["turns"] if t.get("error"))
        for turn in sample["turns"]:
            for name, score in (turn.get("scores") or {}).items():
                tally = self.verdicts.setdefault(name, {"total": 0, "unparsed": 0, "example_raw": None})
                tally["total"] += 1
                if score.get("status") == "unparsed":
                    tally["unparsed"] += 1
                    if tally["example_raw"] is None:
                        tally["example_raw"] = self.redactor(str(score.get("raw") or ""))[:500]


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
        scorers: Callable[[Task], list[Any]],
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
    ) -> dict[str, Any]:
        """The manifest of `run_dir` as it is on disk now (samples.jsonl is summarised)."""
        from mteval.manifest import RunManifest

        summary = Summary(self.redactor)
        for sample in iter_sample_dicts(run_dir):  # streamed: every invocation's samples, latest per conversation
            summary.add(sample)
        frame = summary.rows.frame()
        metrics, turn_curves, score_status = self._task_metrics(frame, task_info)
        usage_in = int(frame["input_tokens"].sum()) if not frame.empty else 0
        usage_out = int(frame["output_tokens"].sum()) if not frame.empty else 0
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
                    "scored_turn_tokens": {"input": usage_in, "output": usage_out},
                    "calls": calls,
                    "first_errors": summary.first_errors,
                    "verdicts": summary.verdicts,
                },
                "metrics": metrics,
                "groups": self._groups(frame),
                "by_turn": turn_curves,
                "judging": summary.judging.summary(),
                "imported": None,
            }
        )
        return manifest.to_json()

    def _task_metrics(self, frame: "pd.DataFrame", task_info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
        """Per task: its metrics (with their semantics), its per-turn curves, and the score statuses counted."""
        from mteval.manifest import MetricRecord, lookup

        metrics: dict[str, Any] = {}
        turn_curves: dict[str, Any] = {}
        score_status: dict[str, int] = {"ok": 0, "unparsed": 0, "error": 0}
        for task in self.tasks:
            task_frame = frame[frame["task"] == task.name] if not frame.empty else frame
            names = [s.name for s in self.scorers(task)]
            task_metrics = mean_metrics(task_frame, names) if self.custom_scorers else task.metrics(task_frame)
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
        return metrics, turn_curves, score_status

    def _groups(self, frame: "pd.DataFrame") -> dict[str, Any]:
        """Family aggregates over the tasks of each family this run includes."""
        from mteval.manifest import MetricRecord, lookup
        from mteval.registry import family_aggregate_info

        groups: dict[str, Any] = {}
        if frame.empty or self.custom_scorers:
            return groups
        families = {task.family for task in self.tasks}
        for family, aggregate in family_aggregates().items():
            if family not in families:
                continue
            family_frame = frame[frame["task"].str.startswith(family + "/")]
            info = family_aggregate_info(family)
            group_headline, group_declared = (info.headline, info.semantics) if info else (None, {})
            groups[family] = {
                k: MetricRecord(**v.model_dump(), semantics=lookup(group_declared, k, group_headline))
                for k, v in aggregate(family_frame, list(self.tasks)).items()
            }
        return groups


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
