"""`full_duplex/*`: Full-Duplex-Bench v1's four dimensions on time-stamped timelines.

By default every task simulates the model under test as a duplex agent (time slicing,
`mteval.duplex.simulation`) on the synthetic text-only scenarios in
`data/scenarios.jsonl`; `--task-args scenarios=PATH` simulates on other stimuli, and
`--task-args recorded=PATH` scores existing outputs (an FDB sample tree, timeline files
or an event log) without calling a model. Thresholds and rule variants are
`mteval_tasks.full_duplex.options.FullDuplexOptions`; see README.md.
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any, ClassVar

from mteval.conversation import Conversation
from mteval.duplex.sample import RecordedSolver, timeline_conversation
from mteval.duplex.simulation import DuplexSolver
from mteval.manifest import descriptive, higher, lower
from mteval.registry import register_task
from mteval.stats import Metric
from mteval.task import DataInfo, Task
from mteval_tasks.full_duplex import scorers as S
from mteval_tasks.full_duplex.options import FullDuplexOptions
from mteval_tasks.full_duplex.sources import load_timelines, source_files

SCENARIOS = Path(__file__).parent / "data" / "scenarios.jsonl"
TALK_OVER = {"overlap_s": lower(0, None, "seconds"), "barge_ins": lower(0, None, "per sample")}
"""Talking over the user (scorers.talk_over_metrics): less is better."""


class FullDuplexTask(Task):
    """Shared loading, solver choice and option handling of the four tasks."""
    option_names = frozenset(f.name for f in dataclass_fields(FullDuplexOptions))

    kind: ClassVar[str] = ""
    version = "1"
    category = "full-duplex"
    generation = {"temperature": 0.0, "max_tokens": 15}
    """Per slice: the paper's server lets the model emit up to 15 tokens per 2 s slice."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.settings = FullDuplexOptions.from_mapping(options)

    @property
    def mode(self) -> str:
        return "recorded" if self.settings.recorded else "simulated"

    @property
    def solver(self) -> DuplexSolver | RecordedSolver:
        """Picked up by the runner instead of the chat solver."""
        return RecordedSolver() if self.settings.recorded else DuplexSolver(self.settings)

    def task_info(self) -> dict[str, Any]:
        """What the manifest should hold besides the data: mode and every option."""
        return {"mode": self.mode, "options": self.settings.as_dict()}

    # --- data --------------------------------------------------------------------------------
    def source(self) -> Path:
        return Path(self.settings.recorded or self.settings.scenarios or SCENARIOS)

    def data_files(self) -> list[Path]:
        return source_files(self.source(), self.settings.gt_distribution)

    def data_info(self) -> DataInfo:
        info = super().data_info()
        return DataInfo(source=str(self.source()), sha256=info.sha256, files=info.files, version=f"{self.mode}/{self.version}")

    def load(self) -> list[Conversation]:
        timelines = load_timelines(
            self.source(),
            task=self.kind,
            gt_distribution=self.settings.gt_distribution,
            user_wps=self.settings.user_wps,
            ipu_min_silence_s=self.settings.ipu_min_silence_s,
            speech_activity=self.settings.speech_activity,
        )
        recorded = bool(self.settings.recorded)
        return [timeline_conversation(t, keep_model=recorded) for t in timelines if t.task in (self.kind, None)]

    single_turn_rendering = False
    """`mteval penalty` and the leaderboard compute no multi-turn penalty for these tasks."""

    def single_turn(self, conversations: list[Conversation]) -> list[Conversation]:
        """History modes do not apply to timelines: the same samples run in every mode."""
        return conversations


@register_task
class PauseHandling(FullDuplexTask):
    name = "full_duplex/pause_handling"
    kind = "pause_handling"
    headline = "tor"
    semantics = {"tor": lower(0, 1, "rate"), "takeover": lower(0, 1, "rate")}
    description = "FDB v1 pause handling: the model should not take the turn during a user's mid-turn pause (TOR, lower is better)."

    def scorers(self) -> list:
        return S.pause_scorers(self.settings)

    def metrics(self, frame) -> dict[str, Metric]:
        return {"tor": S.mean_metric(frame, "takeover")}


@register_task
class Backchannel(FullDuplexTask):
    name = "full_duplex/backchannel"
    kind = "backchannel"
    headline = "tor"
    semantics = {
        "tor": lower(0, 1, "rate"),
        "takeover": lower(0, 1, "rate"),
        "tor_std": descriptive("rate"),
        "bc_frequency": higher(unit="per second"),
        "bc_frequency_std": descriptive("per second"),
        "jsd": lower(0, 1, "JSD"),
        "jsd_std": descriptive("JSD"),
    }
    description = (
        "FDB v1 backchannel: while the user keeps talking the model should backchannel, not take over "
        "(TOR lower, frequency higher, JSD of backchannel timing lower are better)."
    )

    def scorers(self) -> list:
        return S.backchannel_scorers(self.settings)

    def metrics(self, frame) -> dict[str, Metric]:
        only_to0 = {"where": "takeover", "equals": 0.0} if self.settings.jsd == "paper" else {}
        return {
            "tor": S.mean_metric(frame, "takeover"),
            "tor_std": S.std_metric(frame, "takeover"),
            "bc_frequency": S.mean_metric(frame, "bc_frequency"),
            "bc_frequency_std": S.std_metric(frame, "bc_frequency"),
            "jsd": S.mean_metric(frame, "jsd", **only_to0),
            "jsd_std": S.std_metric(frame, "jsd", **only_to0),
        }


@register_task
class SmoothTurnTaking(FullDuplexTask):
    name = "full_duplex/smooth_turn_taking"
    kind = "smooth_turn_taking"
    headline = "tor"
    semantics = {
        "tor": higher(0, 1, "rate"),
        "takeover": higher(0, 1, "rate"),
        "latency": lower(0, None, "seconds"),
        **TALK_OVER,
    }
    description = "FDB v1 smooth turn-taking: the model should take the turn when the user ends it, quickly (TOR higher, latency lower)."

    def scorers(self) -> list:
        return S.turn_taking_scorers(self.settings)

    def metrics(self, frame) -> dict[str, Metric]:
        return {
            "tor": S.mean_metric(frame, "takeover"),
            "latency": S.mean_metric(frame, "latency", where="takeover", equals=1.0),
            **S.talk_over_metrics(frame),
        }


@register_task
class UserInterruption(FullDuplexTask):
    name = "full_duplex/user_interruption"
    kind = "user_interruption"
    headline = "tor"
    semantics = {
        "tor": higher(0, 1, "rate"),
        "takeover": higher(0, 1, "rate"),
        "latency": lower(0, None, "seconds"),
        "relevance": higher(0, 5, "judge points"),
        "informed_latency": lower(0, None, "seconds"),
        **TALK_OVER,
    }
    description = (
        "FDB v1 user interruption: after the user interrupts, the model should respond to the interruption "
        "(TOR higher, relevance 0-5 higher, latency lower)."
    )

    def scorers(self) -> list:
        return S.interruption_scorers(self.settings)

    def metrics(self, frame) -> dict[str, Metric]:
        metrics = {
            "tor": S.mean_metric(frame, "takeover"),
            "latency": S.mean_metric(frame, "latency", where="takeover", equals=1.0),
            **S.talk_over_metrics(frame),
            "informed_latency": S.mean_metric(frame, "informed_latency"),
        }
        if self.settings.relevance:
            metrics["relevance"] = S.mean_metric(frame, "relevance", where="takeover", equals=1.0)
        return metrics
