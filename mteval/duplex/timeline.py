"""The timeline: mteval's second conversation shape (`mteval.fullduplex.timeline/1`).

Speech of the user and the model is placed on one clock (seconds from stream start), so
both can talk at once. Segments are inter-pausal units (IPUs) with optional word
timestamps; events mark what a benchmark item tests (a pause to sit through, the end
of the user's turn, an interruption, where humans backchannel). Every duplex metric
reads a `Timeline`, whether it came from Full-Duplex-Bench files, an event log, a
text-only scenario script or a time-sliced simulation of a chat model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

TIMELINE_SCHEMA = "mteval.fullduplex.timeline/1"
TIME_EPS = 1e-9
"""Times closer than this are equal (1.0 - 0.8 must count as a 0.2 s silence)."""

UNPLACED_KEY = "unplaced_model_words"
"""`meta` key: how many model ASR chunks had no start time (counted, never placed)."""
SPEECH_KEY = "model_speech"
"""`meta` key: the detector's speech segments of the model's audio and how they were found."""
MODEL_META_KEYS: tuple[str, ...] = (UNPLACED_KEY, SPEECH_KEY)
"""`meta` keys that describe the recorded model output, not the stimulus."""

Channel = Literal["user", "model", "reference"]
CHANNELS: tuple[str, ...] = ("user", "model", "reference")

EVENT_TYPES: tuple[str, ...] = (
    "TURN_SHIFT",  # the user's turn ends at time[0]: the model should take the floor
    "TURN_HOLD",  # a pause inside the user's turn: the model should keep listening
    "SHORTPAUSE",
    "BC",  # a backchannel opportunity (or a backchannel)
    "BARGE_IN",  # the user interrupts: time = interruption span, context + text
    "OVERLAP",  # FDB v1.5 overlap event; `subtype` = scenario
    "BC_REFERENCE",  # human backchannel probability per `window_s` window (`p`)
    "EXPECTED_RESPONSE",
)


class Word(BaseModel):
    """One word with `[start, end]`; `end` may be null (as in FDB ASR output)."""

    model_config = ConfigDict(frozen=True)

    text: str
    timestamp: tuple[float, float | None]

    @property
    def start(self) -> float:
        return self.timestamp[0]

    @property
    def end(self) -> float:
        """The end, or the start when the end is unknown."""
        return self.timestamp[1] if self.timestamp[1] is not None else self.timestamp[0]


class Segment(BaseModel):
    """An inter-pausal unit of one channel. `interrupted_at`: when the speaker stopped
    because the other party talked over it (simulation), else null."""

    model_config = ConfigDict(frozen=True)

    start: float
    end: float
    text: str = ""
    words: tuple[Word, ...] = ()
    interrupted_at: float | None = None

    def timed_words(self) -> list[Word]:
        """The words, or `text.split()` spread evenly over [start, end] when the
        segment has no word timestamps."""
        if self.words:
            return list(self.words)
        tokens = self.text.split()
        if not tokens:
            return []
        step = (self.end - self.start) / len(tokens)
        return [
            Word(text=tok, timestamp=(self.start + i * step, self.start + (i + 1) * step)) for i, tok in enumerate(tokens)
        ]


class Event(BaseModel):
    """A task marker. Unknown extra fields are kept (importers copy events by name)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str
    channel: str | None = None
    time: tuple[float, float] | None = None
    subtype: str | None = None
    context: str | None = None
    text: str | None = None
    window_s: float | None = None
    p: tuple[float, ...] | None = None


class Timeline(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    schema_: str = Field(default=TIMELINE_SCHEMA, alias="schema")
    id: str
    task: str | None = None
    duration_s: float | None = None
    user: tuple[Segment, ...] = ()
    events: tuple[Event, ...] = ()
    model: tuple[Segment, ...] = ()
    reference: tuple[Segment, ...] = ()
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("schema_")
    @classmethod
    def _known_schema(cls, value: str) -> str:
        if value != TIMELINE_SCHEMA:
            raise ValueError(f"expected {TIMELINE_SCHEMA!r}, got {value!r}")
        return value

    # --- access -----------------------------------------------------------------------------
    def channel(self, name: str) -> tuple[Segment, ...]:
        if name not in CHANNELS:
            raise KeyError(f"unknown channel {name!r}; expected one of {CHANNELS}")
        return getattr(self, name)

    def words(self, channel: str) -> list[Word]:
        """All words of a channel in time order (synthesised where segments lack them)."""
        words = [w for seg in self.channel(channel) for w in seg.timed_words()]
        return sorted(words, key=lambda w: w.start)

    def text(self, channel: str) -> str:
        return " ".join(seg.text for seg in self.channel(channel) if seg.text).strip()

    def event(self, type_: str) -> Event | None:
        """The first event of a type (FDB files are lists, the code reads item [0])."""
        return next((e for e in self.events if e.type == type_), None)

    def end_time(self) -> float:
        """`duration_s`, else the latest time anything happens."""
        if self.duration_s is not None:
            return self.duration_s
        return latest_time(self)

    # --- io -----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Timeline":
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


def latest_time(timeline: Timeline) -> float:
    times = [0.0]
    for name in CHANNELS:
        for seg in timeline.channel(name):
            times.append(seg.end)
            times.extend(w.end for w in seg.words)
    for event in timeline.events:
        if event.time is not None:
            times.append(event.time[1])
    return max(times)


def words_to_segments(words: Iterable[Word], min_silence_s: float) -> list[Segment]:
    """Group time-ordered words into IPUs: a new segment starts after a silence of at
    least `min_silence_s` (a null end counts as the word's start)."""
    ordered = sorted(words, key=lambda w: w.start)
    groups: list[list[Word]] = []
    for word in ordered:
        if groups and word.start - max(w.end for w in groups[-1]) < min_silence_s - TIME_EPS:
            groups[-1].append(word)
        else:
            groups.append([word])
    return [
        Segment(start=g[0].start, end=max(w.end for w in g), text=" ".join(w.text for w in g), words=tuple(g)) for g in groups
    ]


def speech_intervals(segments: Sequence[Segment]) -> list[tuple[float, float]]:
    """Where a channel is audible: word spans where known (so pauses inside a segment
    count), else whole segments; sorted and merged where they touch."""
    spans: list[tuple[float, float]] = []
    for seg in segments:
        if seg.words:
            spans.extend((w.start, w.end) for w in seg.words)
        else:
            spans.append((seg.start, seg.end))
    spans.sort()
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
