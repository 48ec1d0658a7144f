"""Text-only scenario scripts -> timelines, so duplex behaviour can be simulated offline.

A script is what the user says and how long they are silent, in order; the clock
comes from a speaking rate (`user_wps`, words per second), so no audio and no word
timestamps are needed. One script per JSONL line:

    {"id": "pause/01", "task": "pause_handling", "script": [
        {"say": "So I was thinking that we could"},
        {"silence": 1.6, "event": "TURN_HOLD"},
        {"say": "go to the beach tomorrow"},
        {"silence": 3.0}]}

`event` on an item marks its span: `TURN_HOLD` (a pause to sit through), `TURN_SHIFT`
(the user's turn is over), `BC` (a backchannel opportunity), or on a `say` item
`BARGE_IN` (an interruption; `context` defaults to everything said before). BC spans
also give the `BC_REFERENCE` distribution (uniform mass over their 0.2 s windows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mteval.data import iter_jsonl, parse_record
from mteval.duplex.timeline import Event, Segment, Timeline, Word

BC_WINDOW_S = 0.2


class ScriptItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    say: str | None = None
    silence: float | None = Field(default=None, ge=0)
    event: str | None = None
    context: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "ScriptItem":
        if (self.say is None) == (self.silence is None):
            raise ValueError("each script item needs exactly one of 'say' or 'silence'")
        if self.say is not None and not self.say.split():
            raise ValueError("'say' must contain words")
        return self


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    task: str | None = None
    script: tuple[ScriptItem, ...]
    meta: dict[str, Any] = Field(default_factory=dict)


def scenario_timeline(scenario: Scenario, user_wps: float = 2.5) -> Timeline:
    """Lay the script out on the clock: each word lasts 1 / user_wps seconds."""
    clock = 0.0
    said: list[str] = []
    user: list[Segment] = []
    events: list[Event] = []
    step = 1.0 / user_wps
    for item in scenario.script:
        start = clock
        if item.say is not None:
            tokens = item.say.split()
            words = tuple(Word(text=t, timestamp=(start + i * step, start + (i + 1) * step)) for i, t in enumerate(tokens))
            clock = start + len(tokens) * step  # the last word's end
            user.append(Segment(start=start, end=clock, text=item.say, words=words))
        else:
            clock = start + float(item.silence or 0.0)
        if item.event:
            extra: dict[str, Any] = {}
            if item.event == "BARGE_IN":
                extra = {"context": item.context if item.context is not None else " ".join(said), "text": item.say}
            events.append(Event(type=item.event, channel="user", time=(start, clock), **extra))
        if item.say is not None:
            said.append(item.say)
    bc = [e.time for e in events if e.type == "BC" and e.time is not None]
    if bc:
        events.append(Event(type="BC_REFERENCE", window_s=BC_WINDOW_S, p=tuple(_window_mass(bc, clock))))
    return Timeline(
        id=scenario.id,
        task=scenario.task,
        duration_s=clock,
        user=tuple(user),
        events=tuple(events),
        meta={**scenario.meta, "source": "scenario script", "user_wps": user_wps},
    )


def _window_mass(spans: list[tuple[float, float]], duration: float) -> list[float]:
    counts = [0.0] * (int(duration / BC_WINDOW_S) + 1)
    for start, end in spans:
        for i in range(int(start / BC_WINDOW_S), int(end / BC_WINDOW_S) + 1):
            if i < len(counts):
                counts[i] += 1.0
    total = sum(counts)
    return [c / total for c in counts]


def read_scenarios(path: str | Path, user_wps: float = 2.5) -> list[Timeline]:
    return [scenario_timeline(parse_record(Scenario, obj, path, n), user_wps) for n, obj in iter_jsonl(path)]


def is_scenario_line(obj: dict[str, Any]) -> bool:
    return "script" in obj
