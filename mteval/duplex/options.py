"""Every threshold and rule variant of the duplex tasks, as one named, recorded set.

Defaults reproduce the Full-Duplex-Bench evaluation code; the paper's definitions and
mteval's own choices are options (`--task-args name=value,...`). The resolved set goes
into the run manifest, so a number can always be traced to the rule that produced it.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, fields
from typing import Any, Callable, Literal, Mapping, get_args, get_origin, get_type_hints

from mteval.models.errors import ConfigurationError


@dataclass(frozen=True)
class DuplexOptions:
    # --- takeover (Full-Duplex-Bench v1) ------------------------------------------------------
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
    # --- backchannel (6.5) ------------------------------------------------------------------------
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
    # --- segmentation and turn-taking statistics (6.7) --------------------------------------------
    ipu_min_silence_s: float = 0.2
    # --- interruption relevance judge (6.4) --------------------------------------------------------
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
    # --- simulation (6.9) -------------------------------------------------------------------------
    slice_s: float = 2.0
    slice_by: Literal["time", "words"] = "time"
    slice_words: int = 5
    speaking_rate_wpm: float = 140.0
    user_wps: float = 2.5
    """User speaking rate for text-only scenario scripts (2.5 words/s = 150 wpm)."""
    idle_token: str = "<idle>"
    silence_token: str = "<silence>"
    history_slices: int | None = None
    """Keep only the last N (slice, reply) exchanges in the prompt; default: all."""
    max_slices: int = 400

    # ------------------------------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> "DuplexOptions":
        """Typed options from `--task-args`. Keys of other task families are ignored,
        but a near-miss of one of ours (a typo) is an error, not a silent default."""
        hints = get_type_hints(cls)
        names = [f.name for f in fields(cls)]
        values: dict[str, Any] = {}
        for key, raw in options.items():
            if key not in hints:
                close = difflib.get_close_matches(key, names, n=1, cutoff=0.8)
                if close:
                    raise ConfigurationError(f"full_duplex: unknown option {key!r}. Did you mean {close[0]!r}?")
                continue
            values[key] = _coerce(key, raw, hints[key])
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        positive = ["to_max_duration_s", "bc_window_s", "slice_s", "speaking_rate_wpm", "user_wps", "bc_long_segment_s"]
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"full_duplex: option {name} must be > 0, got {getattr(self, name)!r}")
        for name in ("slice_words", "max_slices"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"full_duplex: option {name} must be >= 1")
        if self.history_slices is not None and self.history_slices < 1:
            raise ConfigurationError("full_duplex: option history_slices must be >= 1 (or none for all)")
        for name in ("ipu_min_silence_s", "bc_min_silence_s"):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"full_duplex: option {name} must be >= 0")
        if self.speech_activity == "vad" and not self.recorded:
            raise ConfigurationError("full_duplex: speech_activity=vad needs recorded= outputs with the model's audio (output.wav)")
        if self.recorded and self.scenarios:
            raise ConfigurationError("full_duplex: give either recorded= (score outputs) or scenarios= (simulate), not both")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """`name=value` for every option, for the manifest's task description."""
        return ", ".join(f"{k}={v}" for k, v in self.as_dict().items())


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """A `--task-args` value as the option's annotation wants it (none, a Literal choice,
    bool, number, text), or an error naming the option and what it takes."""
    allowed = (annotation,) if get_origin(annotation) in (None, Literal) else get_args(annotation)
    if value is None:
        if type(None) in allowed:
            return None
        raise ConfigurationError(f"full_duplex: option {key} cannot be none")
    literal = next((get_args(kind) for kind in allowed if get_origin(kind) is Literal), None)
    if literal is not None:
        if str(value) in literal:
            return str(value)
        raise ConfigurationError(f"full_duplex: option {key} must be one of {literal}, got {value!r}")
    for kind, accepts, convert, what in _SCALARS:
        if kind in allowed:
            if accepts(value):
                return convert(value)
            raise ConfigurationError(f"full_duplex: option {key} must be {what}, got {value!r}")
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_SCALARS: tuple[tuple[type, Callable[[Any], bool], Callable[[Any], Any], str], ...] = (
    (bool, lambda v: isinstance(v, bool), lambda v: v, "true or false"),
    (float, _is_number, float, "a number"),  # before int: `int | float` takes any number
    (int, lambda v: isinstance(v, int) and not isinstance(v, bool), lambda v: v, "an integer"),
)
"""The first of these types an option allows decides what its value must be."""
