"""Full-Duplex-Bench per-sample folders -> timelines.

The layout is the benchmark's (v1: arXiv:2503.04721, v1.5: arXiv:2507.23159; files as
in github.com/DanielLin94144/Full-Duplex-Bench). A sample folder holds `output.json`
(time-aligned ASR of the model's audio) and the task's marker file: `pause.json`, `turn_taking.json` or `interrupt.json` (v1), or
`metadata.json` (v1.5); optionally `transcription.json` (both speakers of the source
dialogue) and the audio. Backchannel ground truth comes from `icc_gt_distribution.json`,
keyed by folder name. Times stay absolute (seconds from stream start), as upstream.
"""

from __future__ import annotations

import functools
import json
import logging
import wave
from pathlib import Path
from typing import Any, Mapping

from mteval.data import DataError
from mteval.duplex.timeline import SPEECH_KEY, UNPLACED_KEY, Event, Segment, Timeline, Word, latest_time, words_to_segments
from mteval.errors import ConfigurationError
from mteval_tasks.full_duplex import vad

MARKERS = {"interrupt.json": "user_interruption", "turn_taking.json": "smooth_turn_taking", "pause.json": "pause_handling"}
SAMPLE_FILES = ("output.json", "pause.json", "turn_taking.json", "interrupt.json", "transcription.json", "metadata.json")
GT_FILE = "icc_gt_distribution.json"
AUDIO_FILE = "output.wav"
"""The model's audio: the stream duration, and the backchannel detector's input."""

log = logging.getLogger(__name__)


def _read(path: Path) -> Any:
    try:
        from mteval.data import read_utf8

        return json.loads(read_utf8(path))  # bad bytes: DataError with file:line
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc


def _first(path: Path) -> dict[str, Any]:
    data = _read(path)
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise DataError(f"{path}: expected a non-empty JSON list of objects")
    return data[0]


def _span(path: Path, item: Mapping[str, Any], field: str = "timestamp") -> tuple[float, float]:
    value = item.get(field)
    if not isinstance(value, (list, tuple)) or len(value) != 2 or value[0] is None:
        raise DataError(f"{path}: field {field!r} must be [start, end], got {value!r}")
    start = float(value[0])
    return start, float(value[1]) if value[1] is not None else start


def read_words(path: Path, chunks: Any) -> tuple[list[Word], int]:
    """FDB word chunks `{"text", "timestamp": [s, e]}` (e may be null). Chunks without
    a start cannot be placed in time and are left out of the words; their count is
    returned (upstream's takeover rule still counts them as words)."""
    if not isinstance(chunks, list):
        raise DataError(f"{path}: expected a list of word chunks")
    words, dropped = [], 0
    for i, chunk in enumerate(chunks):
        stamp = chunk.get("timestamp") if isinstance(chunk, dict) else None
        if not isinstance(stamp, (list, tuple)) or len(stamp) != 2:
            raise DataError(f"{path}: chunk {i}: field 'timestamp' must be [start, end]")
        if stamp[0] is None:
            dropped += 1
            continue
        end = None if stamp[1] is None else float(stamp[1])
        words.append(Word(text=str(chunk.get("text", "")).strip(), timestamp=(float(stamp[0]), end)))
    return words, dropped


def infer_task(sample_dir: Path) -> str | None:
    """The v1 task named by a marker file; v1.5 samples are `v1_5/<scenario>` (no v1
    task scores them)."""
    for name, task in MARKERS.items():
        if (sample_dir / name).is_file():
            return task
    if (sample_dir / "metadata.json").is_file():
        return f"v1_5/{sample_dir.parent.name}"
    return None


def wav_duration(path: Path) -> float | None:
    """Length of a PCM WAV from its header (upstream divides samples by rate)."""
    try:
        with wave.open(str(path), "rb") as handle:
            return handle.getnframes() / float(handle.getframerate())
    except (OSError, wave.Error, EOFError, ZeroDivisionError):
        return None


def read_fdb_sample(
    sample_dir: str | Path,
    *,
    task: str | None = None,
    gt_distribution: Mapping[str, Any] | None = None,
    ipu_min_silence_s: float = 0.2,
    user_wps: float = 2.5,
    id_prefix: str = "fdb",
    sample_id: str | None = None,
    speech_activity: str = "auto",
) -> Timeline:
    """One sample folder as a timeline. `task` is used when no marker file names it;
    `sample_id` (default: the folder name) ends the timeline id. A backchannel sample
    gets the detector's speech segments of `output.wav` in `meta["model_speech"]` unless
    `speech_activity` is "words" (see `model_speech`)."""
    sample_dir = Path(sample_dir)
    name = sample_dir.name
    meta: dict[str, Any] = {"source": "Full-Duplex-Bench", "sample": name}
    model = _model_segments(sample_dir, meta, ipu_min_silence_s)
    events = _marker_events(sample_dir)
    user, reference = _user_segments(sample_dir, events, meta, ipu_min_silence_s, user_wps)

    reference_p = gt_distribution or {}
    if name in reference_p:
        events.append(Event(type="BC_REFERENCE", window_s=0.2, p=tuple(float(x) for x in reference_p[name])))

    inferred = infer_task(sample_dir) or ("backchannel" if name in reference_p else None)
    if (inferred or task) == "backchannel":
        speech = model_speech(sample_dir / AUDIO_FILE, speech_activity)
        if speech is not None:
            meta[SPEECH_KEY] = speech
    timeline = Timeline(
        id=f"{id_prefix}/{inferred or task or 'sample'}/{sample_id or name}",
        task=inferred or task,
        user=tuple(user),
        events=tuple(events),
        model=tuple(model),
        reference=tuple(reference),
        meta=meta,
    )
    return timeline.model_copy(update={"duration_s": _duration(sample_dir, timeline, meta), "meta": meta})


def _duration(sample_dir: Path, timeline: Timeline, meta: dict[str, Any]) -> float:
    """The sample's length: its WAV's, else the latest time in the files (said in `meta`)."""
    duration = next((d for d in (wav_duration(sample_dir / f) for f in (AUDIO_FILE, "input.wav")) if d), None)
    if duration is None:
        duration = latest_time(timeline)
        meta["duration"] = "latest time in the files (no WAV)"
    return duration


def _model_segments(sample_dir: Path, meta: dict[str, Any], ipu_min_silence_s: float) -> list[Segment]:
    """The model's speech from `output.json` word timestamps (none without the file); unplaced words go to `meta`."""
    output = sample_dir / "output.json"
    if not output.is_file():
        return []
    data = _read(output)
    if not isinstance(data, dict):
        raise DataError(f"{output}: expected an object with 'text' and 'chunks'")
    words, dropped = read_words(output, data.get("chunks", []))
    if dropped:
        meta[UNPLACED_KEY] = dropped
    return words_to_segments(words, ipu_min_silence_s)


def _marker_events(sample_dir: Path) -> list[Event]:
    """The events the sample's marker files declare (pause, turn taking, interruption, v1.5 overlap)."""
    events: list[Event] = []
    for file_name, event_type in (("pause.json", "TURN_HOLD"), ("turn_taking.json", "TURN_SHIFT")):
        path = sample_dir / file_name
        if path.is_file():
            item = _first(path)
            events.append(Event(type=event_type, channel="user", time=_span(path, item), text=item.get("text")))

    barge = sample_dir / "interrupt.json"
    if barge.is_file():
        item = _first(barge)
        span = _span(barge, item)
        events.append(Event(type="BARGE_IN", channel="user", time=span, context=item.get("context"), text=item.get("interrupt")))

    v15 = sample_dir / "metadata.json"
    if v15.is_file():
        item = _read(v15)
        span = _span(v15, item, "timestamps")
        events.append(
            Event(
                type="OVERLAP",
                channel="user",
                time=span,
                subtype=sample_dir.parent.name,
                context=item.get("context_text"),
                text=item.get("current_turn_text"),
            )
        )
    return events


def _user_segments(
    sample_dir: Path, events: list[Event], meta: dict[str, Any], ipu_min_silence_s: float, user_wps: float
) -> tuple[list[Segment], list[Segment]]:
    """User and reference speech from `transcription.json`, else the user's estimated from the events' text."""
    transcript = sample_dir / "transcription.json"
    if transcript.is_file():
        return _split_speakers(transcript, events, ipu_min_silence_s)
    user = _estimated_user(events, user_wps)
    if user:
        meta["user_timing"] = f"estimated: context at {user_wps:g} words/s from 0 s"
    return user, []


def model_speech(wav: Path, speech_activity: str) -> dict[str, Any] | None:
    """The benchmark's speech segments of the model's audio with their method record,
    or None when the word-based segments are to be used (`words`, or `auto` without the
    file or the `audio` extra). `vad` without either is an error."""
    if speech_activity == "words":
        return None
    if not wav.is_file():
        if speech_activity == "vad":
            raise DataError(f"{wav}: no such file; speech_activity=vad needs the model's audio")
        return None
    if not vad.vad_available():
        if speech_activity == "vad":
            raise ConfigurationError("speech_activity=vad needs the 'audio' extra: pip install 'mteval-harness[audio]'")
        _warn_no_vad(str(wav))
        return None
    segments, record = vad.speech_segments(wav)
    return {**record, "segments": [[start, end] for start, end in segments]}


@functools.lru_cache(maxsize=1)
def _warn_no_vad(example: str) -> None:
    log.warning(
        "model audio (e.g. %s) is present but the 'audio' extra is not installed: backchannel segments "
        "come from the words (recorded per score); pip install 'mteval-harness[audio]' for the benchmark's detector",
        example,
    )


def _split_speakers(path: Path, events: list[Event], min_silence: float) -> tuple[list[Segment], list[Segment]]:
    """transcription.json: the speaker whose words end closest to the turn-shift onset
    (else the pause start or the interruption end; else the speaker with most words)
    is the user; the others are the reference."""
    data = _read(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of {{'speaker', 'item'}} objects")
    by_speaker: dict[str, list[Word]] = {}
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "item" not in entry:
            raise DataError(f"{path}: entry {i}: expected {{'speaker', 'item': [...]}}")
        words, _ = read_words(path, entry["item"])
        by_speaker.setdefault(str(entry.get("speaker", 0)), []).extend(words)
    if not by_speaker:
        return [], []
    anchor = None
    for kind, index in (("TURN_SHIFT", 0), ("TURN_HOLD", 0), ("BARGE_IN", 1), ("OVERLAP", 1)):
        event = next((e for e in events if e.type == kind), None)
        if event is not None and event.time is not None:
            anchor = event.time[index]
            break

    def distance(speaker: str) -> float:
        words = by_speaker[speaker]
        if anchor is None:
            return -len(words)  # no marker: the speaker with most words
        return min(abs(w.end - anchor) for w in words) if words else float("inf")

    user_speaker = min(sorted(by_speaker), key=distance)
    user = words_to_segments(by_speaker[user_speaker], min_silence)
    reference = [s for sp in sorted(by_speaker) if sp != user_speaker for s in words_to_segments(by_speaker[sp], min_silence)]
    return user, sorted(reference, key=lambda s: s.start)


def _estimated_user(events: list[Event], user_wps: float) -> list[Segment]:
    """Without a transcript, an interruption sample still has its two user turns: the
    context (timing unknown: from 0 s at `user_wps`, ending before the interruption) and
    the interruption over its span."""
    event = next((e for e in events if e.type in ("BARGE_IN", "OVERLAP") and e.time is not None), None)
    if event is None or event.time is None:  # the second test only narrows the type
        return []
    segments = []
    start, end = event.time
    if event.context:
        n = len(event.context.split())
        segments.append(Segment(start=0.0, end=min(n / user_wps, start), text=event.context))
    if event.text:
        segments.append(Segment(start=start, end=end, text=event.text))
    return segments


def sample_dirs(root: str | Path) -> list[Path]:
    """Folders under `root` (itself included) that hold an FDB sample file."""
    root = Path(root)
    found = {p.parent for name in SAMPLE_FILES for p in root.rglob(name)}
    return sorted(found)


def load_gt_distribution(path: str | Path | None, root: str | Path | None = None) -> dict[str, Any] | None:
    """The ICC backchannel ground truth: an explicit file, else one in the tree root."""
    candidate = Path(path) if path else (Path(root) / GT_FILE if root else None)
    if candidate is None or not candidate.is_file():
        if path:
            raise DataError(f"{path}: no such file")
        return None
    data = _read(candidate)
    if not isinstance(data, dict):
        raise DataError(f"{candidate}: expected {{sample_id: [p_0, ...]}}")
    return data


def read_fdb_tree(
    root: str | Path,
    *,
    task: str | None = None,
    gt_distribution: Mapping[str, Any] | None = None,
    ipu_min_silence_s: float = 0.2,
    user_wps: float = 2.5,
    speech_activity: str = "auto",
) -> list[Timeline]:
    """Every sample folder under `root`, sorted by path."""
    root = Path(root)
    if gt_distribution is None:
        gt_distribution = load_gt_distribution(None, root)
    return [
        read_fdb_sample(
            d,
            task=task,
            gt_distribution=gt_distribution,
            ipu_min_silence_s=ipu_min_silence_s,
            user_wps=user_wps,
            sample_id=d.relative_to(root).as_posix() if d != root else d.name,
            speech_activity=speech_activity,
        )
        for d in sample_dirs(root)
    ]
