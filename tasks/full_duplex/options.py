"""Every threshold and rule variant of the Full-Duplex-Bench tasks, as one named, recorded set.

Defaults reproduce the benchmark's evaluation code (github.com/DanielLin94144/Full-Duplex-Bench);
the paper's definitions (Full-Duplex-Bench v1, arXiv:2503.04721) and mteval's own choices
are options (`--task-args name=value,...`). The engine's simulation and segmentation
options (`mteval.duplex.options.SimulationOptions`) come with them, so one `--task-args`
set configures a full_duplex task; the resolved set goes into the run manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from mteval.duplex.options import SimulationOptions


@dataclass(frozen=True)
class FullDuplexOptions(SimulationOptions):
    label: ClassVar[str] = "full_duplex"

    # --- takeover (FDB v1 paper, arXiv:2503.04721; the repository's evaluation code) -----------
    takeover_rule: Literal["code", "paper"] = "code"
    """code: all words W, TO = 0 iff dur < to_max_duration_s and len(W) <= to_max_words.
    paper: TO = 0 iff the model is silent or every segment is a backchannel."""
    to_max_duration_s: float = 1.0
    to_max_words: int = 3
    paper_bc_max_duration_s: float = 1.0
    """paper rule: a backchannel segment lasts less than this ..."""
    paper_bc_max_words: int = 1
    """... and has at most this many words ("fewer than two")."""
    clamp_negative_latency: bool = True
    """Latencies below 0 (model started before the user finished) count as 0."""
    # --- backchannel (the repository's v1 backchannel evaluation; the paper's JSD as an option) --
    bc_long_segment_s: float = 3.0
    bc_max_words: int = 3
    bc_short_s: float = 1.0
    bc_short_max_words: int = 2
    bc_window_s: float = 0.2
    bc_epsilon: float = 1e-10
    jsd: Literal["code", "paper"] = "code"
    """code: JS distance (natural log), empty list -> 1.0, all samples.
    paper: JS divergence base 2, silent model -> uniform P, TO = 0 samples only."""
    speech_activity: Literal["auto", "vad", "words"] = "auto"
    """Backchannel speech segments. vad: Silero VAD on the FDB sample's output.wav with the
    benchmark's parameters (needs the `audio` extra); words: the model's words grouped at
    `bc_min_silence_s`; auto: vad where output.wav exists and the extra is installed, else
    words. Each backchannel score records the method that produced it."""
    bc_min_silence_s: float = 0.1
    """words method: a silence this long splits the model's words into backchannel segments.
    0.1 s tracks the detector best (bench/vad_silence_threshold.py; tasks/full_duplex/README.md)."""
    # --- interruption relevance judge (FDB v1 paper, arXiv:2503.04721; the repository's prompt) --
    relevance: bool = True
    """Judge TO = 1 interruption samples (needs --judge/--jury); false skips it."""
    judge_temperature: float = 1.0
    """Upstream sends no temperature (OpenAI default 1.0) and seed 0."""
    # --- data ------------------------------------------------------------------------------------
    scenarios: str | None = None
    """Stimuli to simulate on (scenario script JSONL, timelines, event JSONL or an FDB tree);
    default: the synthetic set shipped with the task."""
    recorded: str | None = None
    """Pre-recorded model output to score instead of simulating (FDB sample tree, timeline
    JSON/JSONL files or event JSONL): no model calls."""
    gt_distribution: str | None = None
    """icc_gt_distribution.json for FDB backchannel samples (default: one in the tree root)."""

    def validate(self) -> None:
        self.check_positive("to_max_duration_s", "bc_window_s", "bc_long_segment_s")
        super().validate()
        self.check_non_negative("bc_min_silence_s")
        if self.speech_activity == "vad" and not self.recorded:
            raise self.error("speech_activity=vad needs recorded= outputs with the model's audio (output.wav)")
        if self.recorded and self.scenarios:
            raise self.error("give either recorded= (score outputs) or scenarios= (simulate), not both")
