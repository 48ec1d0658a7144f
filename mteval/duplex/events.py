"""The plain event log: one JSON object per line, any number of timelines per file.

For systems that log what happened rather than write FDB folders. Every line has
`timeline` (the id) and `type`; times are seconds from stream start:

    {"timeline": "t1", "type": "info", "task": "smooth_turn_taking", "duration_s": 7.4, "meta": {}}
    {"timeline": "t1", "type": "word", "channel": "user", "text": "Is", "start": 0.0, "end": 0.54}
    {"timeline": "t1", "type": "speech", "channel": "model", "text": "Yes it is", "start": 3.36, "end": 4.2}
    {"timeline": "t1", "type": "TURN_SHIFT", "start": 2.01, "end": 2.40}
    {"timeline": "t1", "type": "BARGE_IN", "start": 5.0, "end": 6.2, "context": "...", "text": "..."}
    {"timeline": "t1", "type": "BC_REFERENCE", "window_s": 0.2, "p": [0.1, 0.9]}

`word` lines of a channel (user, model, reference) are grouped into segments at silences
of at least `ipu_min_silence_s`; `speech` lines are segments without word times (optional
`interrupted_at`); `{"type": "stop", "channel": c, "start": t}` marks the segment of c
that was cut off at t (speaker stopped for a barge-in). Any other type is an event; fields besides `timeline`, `type`, `start`
and `end` are kept on it. `end` of a word may be null. Lines of different timelines may
interleave; timelines keep the order of their first line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

from mteval.data import DataError, iter_jsonl
from mteval.duplex.timeline import CHANNELS, Event, Segment, Timeline, Word, words_to_segments


class _Draft:
    def __init__(self, timeline_id: str):
        self.id = timeline_id
        self.info: dict[str, Any] = {}
        self.words: dict[str, list[Word]] = {c: [] for c in CHANNELS}
        self.speech: dict[str, list[Segment]] = {c: [] for c in CHANNELS}
        self.events: list[Event] = []
        self.stops: list[tuple[str, float]] = []

    def build(self, min_silence: float) -> Timeline:
        channels = {c: sorted(words_to_segments(self.words[c], min_silence) + self.speech[c], key=lambda s: s.start) for c in CHANNELS}
        for channel, at in self.stops:
            segments = channels[channel]
            index = max((i for i, s in enumerate(segments) if s.start < at), default=None)
            if index is not None:
                segments[index] = segments[index].model_copy(update={"interrupted_at": at})
        return Timeline(
            id=self.id,
            task=self.info.get("task"),
            duration_s=self.info.get("duration_s"),
            events=tuple(self.events),
            meta=dict(self.info.get("meta") or {}),
            user=tuple(channels["user"]),
            model=tuple(channels["model"]),
            reference=tuple(channels["reference"]),
        )


def _time(obj: dict[str, Any]) -> tuple[float, float] | None:
    if obj.get("start") is None:
        time = obj.get("time")
        return (float(time[0]), float(time[1])) if time else None
    end = obj.get("end")
    return float(obj["start"]), float(end if end is not None else obj["start"])


def _channel(obj: dict[str, Any], where: str) -> str:
    channel = obj.get("channel")
    if channel not in CHANNELS:
        raise DataError(f"{where}: field 'channel' must be one of {CHANNELS}, got {channel!r}")
    return channel


def _info(draft: _Draft, obj: dict[str, Any], where: str) -> None:
    draft.info.update({k: v for k, v in obj.items() if k not in ("timeline", "type")})


def _word(draft: _Draft, obj: dict[str, Any], where: str) -> None:
    end = obj.get("end")
    word = Word(text=str(obj.get("text", "")), timestamp=(float(obj["start"]), None if end is None else float(end)))
    draft.words[_channel(obj, where)].append(word)


def _speech(draft: _Draft, obj: dict[str, Any], where: str) -> None:
    segment = Segment(start=float(obj["start"]), end=float(obj["end"]), text=str(obj.get("text", "")), interrupted_at=obj.get("interrupted_at"))
    draft.speech[_channel(obj, where)].append(segment)


def _stop(draft: _Draft, obj: dict[str, Any], where: str) -> None:
    draft.stops.append((_channel(obj, where), float(obj["start"])))


def _event(draft: _Draft, obj: dict[str, Any], where: str) -> None:
    extra = {k: v for k, v in obj.items() if k not in ("timeline", "type", "start", "end", "time")}
    draft.events.append(Event(type=str(obj["type"]), time=_time(obj), **extra))


_LINE_READERS: dict[str, Callable[[_Draft, dict[str, Any], str], None]] = {"info": _info, "word": _word, "speech": _speech, "stop": _stop}
"""How each line `type` adds to its timeline's draft; any other type is an event."""


def read_event_log(path: str | Path, *, ipu_min_silence_s: float = 0.2) -> list[Timeline]:
    drafts: dict[str, _Draft] = {}
    for line_no, obj in iter_jsonl(path):
        where = f"{path}:{line_no}"
        if "timeline" not in obj or "type" not in obj:
            raise DataError(f"{where}: every line needs 'timeline' and 'type'")
        draft = drafts.setdefault(str(obj["timeline"]), _Draft(str(obj["timeline"])))
        kind = obj["type"]
        read_line = _LINE_READERS.get(kind, _event) if isinstance(kind, str) else _event
        try:
            read_line(draft, obj, where)
        except KeyError as exc:
            raise DataError(f"{where}: missing field {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}: {exc}") from exc
    return [d.build(ipu_min_silence_s) for d in drafts.values()]


def timeline_events(timeline: Timeline) -> list[dict[str, Any]]:
    """The event-log lines of one timeline (word lines where words are known)."""
    tid = timeline.id
    lines: list[dict[str, Any]] = [
        {"timeline": tid, "type": "info", "task": timeline.task, "duration_s": timeline.duration_s, "meta": timeline.meta}
    ]
    for channel in CHANNELS:
        for seg in timeline.channel(channel):
            if seg.words:
                lines.extend(
                    {"timeline": tid, "type": "word", "channel": channel, "text": w.text, "start": w.timestamp[0], "end": w.timestamp[1]}
                    for w in seg.words
                )
                if seg.interrupted_at is not None:
                    lines.append({"timeline": tid, "type": "stop", "channel": channel, "start": seg.interrupted_at})
            else:
                line = {"timeline": tid, "type": "speech", "channel": channel, "text": seg.text, "start": seg.start, "end": seg.end}
                if seg.interrupted_at is not None:
                    line["interrupted_at"] = seg.interrupted_at
                lines.append(line)
    for event in timeline.events:
        data = event.model_dump(mode="json", exclude_none=True)
        time = data.pop("time", None)
        line = {"timeline": tid, **data}
        if time is not None:
            line["start"], line["end"] = time
        lines.append(line)
    return lines


def write_event_log(timelines: Iterable[Timeline], path: str | Path) -> None:
    with Path(path).open("w", encoding="utf-8") as handle:
        for timeline in timelines:
            for line in timeline_events(timeline):
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
