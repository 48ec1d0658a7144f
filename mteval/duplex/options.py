"""The engine's duplex options: time slicing and segmentation, read from `--task-args`.

`SimulationOptions` holds what the simulation (`mteval.duplex.simulation`) and the
timeline layout need, plus the typed reading of `--task-args` every option set shares:
unknown near-miss keys, types and ranges are errors, never silent defaults. A task
family subclasses it with its own metric and data options (Full-Duplex-Bench's are
`mteval_tasks.full_duplex.options.FullDuplexOptions`), names itself in `label` (the
prefix of every error) and extends `validate`. The resolved set goes into the run
manifest, so a number can always be traced to the rule that produced it.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar, Literal, Mapping, TypeVar, get_args, get_origin, get_type_hints

from mteval.errors import ConfigurationError

OptionsT = TypeVar("OptionsT", bound="SimulationOptions")


@dataclass(frozen=True)
class SimulationOptions:
    label: ClassVar[str] = "duplex"
    """Who owns these options, as errors name it (`duplex: option slice_s must be > 0`)."""

    # --- segmentation (Heldner & Edlund 2010, "Pauses, gaps and overlaps in conversations") ---
    ipu_min_silence_s: float = 0.2
    """A silence this long splits one speaker's words into IPUs (also the simulated model's)."""
    # --- time slicing ("Beyond the Turn-Based Game", arXiv:2406.15718) --------------------------
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
    def from_mapping(cls: type[OptionsT], options: Mapping[str, Any]) -> OptionsT:
        """Typed options from `--task-args`. Keys of other task families are ignored,
        but a near-miss of one of ours (a typo) is an error, not a silent default."""
        hints = get_type_hints(cls)
        names = [f.name for f in fields(cls)]
        values: dict[str, Any] = {}
        for key, raw in options.items():
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1, cutoff=0.8)
                if close:
                    raise cls.error(f"unknown option {key!r}. Did you mean {close[0]!r}?")
                continue
            values[key] = _coerce(cls.label, key, raw, hints[key])
        settings = cls(**values)
        settings.validate()
        return settings

    @classmethod
    def error(cls, message: str) -> ConfigurationError:
        """A configuration error prefixed with the owner's `label`."""
        return ConfigurationError(f"{cls.label}: {message}")

    def check_positive(self, *names: str) -> None:
        for name in names:
            if getattr(self, name) <= 0:
                raise self.error(f"option {name} must be > 0, got {getattr(self, name)!r}")

    def check_non_negative(self, *names: str) -> None:
        for name in names:
            if getattr(self, name) < 0:
                raise self.error(f"option {name} must be >= 0")

    def validate(self) -> None:
        """Range checks of the engine's options; a subclass calls this and adds its own."""
        self.check_positive("slice_s", "speaking_rate_wpm", "user_wps")
        for name in ("slice_words", "max_slices"):
            if getattr(self, name) < 1:
                raise self.error(f"option {name} must be >= 1")
        if self.history_slices is not None and self.history_slices < 1:
            raise self.error("option history_slices must be >= 1 (or none for all)")
        self.check_non_negative("ipu_min_silence_s")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """`name=value` for every option, for the manifest's task description."""
        return ", ".join(f"{k}={v}" for k, v in self.as_dict().items())


DuplexOptions = SimulationOptions
"""The old name, kept for plugins: the engine's part only. The Full-Duplex-Bench metric
and data options are `mteval_tasks.full_duplex.options.FullDuplexOptions`."""


def _coerce(label: str, key: str, value: Any, annotation: Any) -> Any:
    """A `--task-args` value as the option's annotation wants it (none, a Literal choice,
    bool, number, text), or an error naming the owner, the option and what it takes."""
    allowed = (annotation,) if get_origin(annotation) in (None, Literal) else get_args(annotation)
    if value is None:
        if type(None) in allowed:
            return None
        raise ConfigurationError(f"{label}: option {key} cannot be none")
    literal = next((get_args(kind) for kind in allowed if get_origin(kind) is Literal), None)
    if literal is not None:
        if str(value) in literal:
            return str(value)
        raise ConfigurationError(f"{label}: option {key} must be one of {literal}, got {value!r}")
    for kind, accepts, convert, what in _SCALARS:
        if kind in allowed:
            if accepts(value):
                return convert(value)
            raise ConfigurationError(f"{label}: option {key} must be {what}, got {value!r}")
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_SCALARS: tuple[tuple[type, Callable[[Any], bool], Callable[[Any], Any], str], ...] = (
    (bool, lambda v: isinstance(v, bool), lambda v: v, "true or false"),
    (float, _is_number, float, "a number"),  # before int: `int | float` takes any number
    (int, lambda v: isinstance(v, int) and not isinstance(v, bool), lambda v: v, "an integer"),
)
"""The first of these types an option allows decides what its value must be."""
