"""Run directories: `run.json` (the manifest, replaced atomically) and `samples.jsonl`
(one line per finished conversation, appended as it finishes).

A run killed at any moment leaves a valid manifest and every finished sample; a torn
last line is cut off when the run is resumed. `load(run_dir)` gives one DataFrame row
per scored turn, for native and imported runs alike.
"""

from __future__ import annotations

import json
import os
import tempfile
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import orjson

from mteval.data import not_utf8_message
from mteval.transcript import Sample

if TYPE_CHECKING:
    from mteval.manifest import RunManifest

from mteval.manifest import SCHEMA as RUN_SCHEMA  # noqa: E402, F401  (the one schema constant, re-exported)

MANIFEST = "run.json"
SAMPLES = "samples.jsonl"


class ResultsError(Exception):
    pass


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False, sort_keys=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_manifest(run_dir: str | Path) -> "RunManifest":
    """The typed manifest of a run, migrated from older schemas (see `mteval.manifest`)."""
    from mteval.manifest import ManifestError, parse

    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise ResultsError(f"{run_dir}: not a run directory (no {MANIFEST})")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsError(not_utf8_message(path, raw, exc)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object, got a {type(data).__name__}")
    try:
        return parse(data, str(path))
    except ManifestError as exc:
        raise ResultsError(str(exc)) from None


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The manifest as a plain dict in the current schema (validated and migrated)."""
    return load_manifest(run_dir).to_json()


def planned_conversations(manifest: dict[str, Any]) -> int:
    """Conversations the run set out to do, over its tasks (0 when the manifest does not say)."""
    return sum(int((info or {}).get("conversations") or 0) for info in (manifest.get("tasks") or {}).values())


def write_manifest(run_dir: str | Path, manifest: "RunManifest | dict[str, Any]") -> None:
    """Validate and write run.json atomically (every writer goes through here)."""
    from mteval.manifest import RunManifest

    typed = manifest if isinstance(manifest, RunManifest) else RunManifest.model_validate(manifest)
    write_json_atomic(Path(run_dir) / MANIFEST, typed.to_json())


def iter_sample_dicts(run_dir: str | Path, *, repair: bool = False, one_invocation: bool = False) -> Iterator[dict[str, Any]]:
    """Every sample line; a later line for the same (task, conversation) supersedes an
    earlier one (an errored conversation that was retried on resume).

    Streams: a first pass notes where each conversation's last line starts, the second
    parses only those lines, one at a time, so memory does not grow with the run.
    `one_invocation`: the caller wrote every line in one invocation that started from no
    samples (each conversation once), so nothing is superseded: one pass, same checks."""
    return (record for _, record in _numbered_samples(Path(run_dir) / SAMPLES, repair=repair, one_invocation=one_invocation))


def _numbered_samples(path: Path, *, repair: bool = False, one_invocation: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """`iter_sample_dicts` with each sample's line number, for messages naming it."""
    if not path.is_file():
        return iter(())
    if repair:
        truncate_torn_tail(path)
    if one_invocation:
        return _each_line(path)
    offsets, line_numbers = _final_offsets(path)
    return _read_at(path, offsets, line_numbers)


READ_BUFFER = 1 << 20
"""Bytes read at a time by the sequential passes over samples.jsonl: with the default 8 KiB
a line of a multi-turn sample took several reads (10,000 turns: ~7 ms of line splitting, ~2 ms
with 1 MiB)."""


def _each_line(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb", buffering=READ_BUFFER) as handle:
        for line_no, raw in enumerate(handle, 1):
            record = _check_line(path, raw, line_no)
            if record is _TORN:
                return
            if record is not None:
                yield line_no, record


def _final_offsets(path: Path) -> tuple[Sequence[int], Sequence[int]]:
    """Byte offsets of the last line of every (task, conversation), in file order, and
    their line numbers.

    Kept per line: its offset and the hash of its key (16 bytes, not a dictionary of keys:
    that was ~300 bytes per conversation). Lines whose hashes repeat are read again and
    compared by their real keys, so a hash collision never drops a conversation."""
    offsets, hashes, line_numbers = array("q"), array("q"), array("q")
    offset = 0
    with path.open("rb", buffering=READ_BUFFER) as handle:
        for line_no, raw in enumerate(handle, 1):
            start, offset = offset, offset + len(raw)
            record = _check_line(path, raw, line_no)
            if record is _TORN:
                break
            if record is not None:
                offsets.append(start)
                hashes.append(hash(_key(record)))
                line_numbers.append(line_no)
    return _without_superseded(path, offsets, hashes, line_numbers)


_TORN = object()


def _check_line(path: Path, raw: bytes, line_no: int) -> Any:
    """The sample object of one line; None for a blank line, `_TORN` for a torn last line.

    orjson parses only valid UTF-8 and valid JSON, so a line it parses needs no other check
    than its shape (a decode and a strip per line were a tenth of reading the file); a line
    it refuses gets every check, in order, for the right verdict and message."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _check_refused_line(path, raw, line_no)
    return _sample_object(path, record, line_no)


def _check_refused_line(path: Path, raw: bytes, line_no: int) -> Any:
    """`_check_line` of a line orjson refused: bad bytes, blank, torn, invalid JSON, or
    JSON only the json module reads (lone surrogates, kept as written)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not raw.endswith(b"\n"):
            return _TORN  # torn last line of a killed run (it may end inside a character)
        raise ResultsError(not_utf8_message(path, raw, exc, first_line=line_no)) from None
    if not raw.strip():
        return None
    try:
        record = _loads(raw)
    except json.JSONDecodeError as exc:  # bytes were checked above
        if not raw.endswith(b"\n"):
            return _TORN  # torn last line of a killed run: that conversation is redone
        raise ResultsError(f"{path}:{line_no}: invalid JSON ({exc.msg})") from exc
    return _sample_object(path, record, line_no)


def _sample_object(path: Path, record: Any, line_no: int) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise ResultsError(f"{path}:{line_no}: expected a sample object, got {type(record).__name__}")
    problem = sample_shape_problem(record)
    if problem is not None:
        raise ResultsError(f"{path}:{line_no}: {problem}")
    return record


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _expected(where: str, what: str, mapping: dict[str, Any], key: str) -> str:
    """`field 'x': expected a string, got int`, or `field 'x': missing (expected a string)`."""
    if key not in mapping:
        return f"field {where!r}: missing (expected {what})"
    return f"field {where!r}: expected {what}, got {_kind(mapping[key])}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def sample_shape_problem(record: dict[str, Any]) -> str | None:
    """`field 'turns.0.index': expected an integer, got str` for the first field of a sample
    line that the readers index (resume, the summary, compare, the leaderboard) without
    finding what mteval writes, else None. Cheap isinstance checks, not the pydantic model
    (it costs more than parsing the line); field paths are built only for a message. A
    hand-edited or foreign line is named with its line, not a KeyError deep in a reader."""
    if not isinstance(record.get("task"), str):
        return _expected("task", "a string", record, "task")
    if record.get("status", "ok") not in ("ok", "error"):
        return f"field 'status': expected 'ok' or 'error', got {record['status']!r}"
    problem = _conversation_problem(record)
    if problem is not None:
        return problem
    turns = record.get("turns")
    if not isinstance(turns, list):
        return _expected("turns", "a list", record, "turns")
    for position, turn in enumerate(turns):
        problem = _record_problem(turn, position)
        if problem is not None:
            return problem
    return None


def _conversation_problem(record: dict[str, Any]) -> str | None:
    conversation = record.get("conversation")
    if not isinstance(conversation, dict):
        return _expected("conversation", "an object", record, "conversation")
    if not isinstance(conversation.get("id"), str):
        return _expected("conversation.id", "a string", conversation, "id")
    if not isinstance(conversation.get("metadata", {}), dict):
        return f"field 'conversation.metadata': expected an object, got {_kind(conversation['metadata'])}"
    turns = conversation.get("turns")
    if not isinstance(turns, list):
        return _expected("conversation.turns", "a list", conversation, "turns")
    for position, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get("id"), str):
            return f"field 'conversation.turns.{position}': expected an object with a string id"
    return None


_EMPTY: dict[str, Any] = {}


def _record_problem(record: Any, position: int) -> str | None:
    """The first problem of turn record `position`. This runs for every record read, so a
    field's path is only built for a message."""
    if not isinstance(record, dict):
        return f"field 'turns.{position}': expected a turn record object, got {_kind(record)}"
    if not _is_int(record.get("index")):
        return _expected(f"turns.{position}.index", "an integer", record, "index")
    for name in ("usage", "scores", "metadata"):
        if not isinstance(record.get(name, _EMPTY), dict):
            return f"field 'turns.{position}.{name}': expected an object, got {_kind(record[name])}"
    for name, score in record.get("scores", _EMPTY).items():
        problem = _score_problem(score, position, name)
        if problem is not None:
            return problem
    return None


def _score_problem(score: Any, position: int, name: str) -> str | None:
    if not isinstance(score, dict):
        return f"field 'turns.{position}.scores.{name}': expected a score object, got {_kind(score)}"
    value = score.get("value")
    if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        return f"field 'turns.{position}.scores.{name}.value': expected a number or null, got {_kind(value)}"
    if not isinstance(score.get("status", "ok"), str):
        return f"field 'turns.{position}.scores.{name}.status': expected a string, got {_kind(score['status'])}"
    return None


def _key(record: dict[str, Any]) -> tuple[str, str]:
    return (record.get("task", ""), str(record.get("conversation", {}).get("id", "")))


def _without_superseded(path: Path, offsets: array, hashes: array, line_numbers: array) -> tuple[Sequence[int], Sequence[int]]:
    """`offsets` (and their `line_numbers`) minus lines a later line of the same key supersedes."""
    import numpy as np

    keyed = np.frombuffer(hashes, dtype=np.int64) if hashes else np.zeros(0, dtype=np.int64)
    order = np.argsort(keyed, kind="stable")
    same = keyed[order][1:] == keyed[order][:-1]
    if not same.any():
        return offsets, line_numbers
    repeated = np.union1d(order[1:][same], order[:-1][same])
    last: dict[tuple[str, str], int] = {}
    with path.open("rb") as handle:
        for position in repeated.tolist():  # ascending: a later line of a key wins
            handle.seek(offsets[position])
            last[_key(_loads(handle.readline()))] = position
    superseded = set(repeated.tolist()) - set(last.values())
    kept = [position for position in range(len(offsets)) if position not in superseded]
    return [offsets[p] for p in kept], [line_numbers[p] for p in kept]


def _read_at(path: Path, offsets: Sequence[int], line_numbers: Sequence[int]) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as handle:
        for offset, line_no in zip(offsets, line_numbers):
            handle.seek(offset)
            yield line_no, _loads(handle.readline())


def _loads(raw: bytes) -> Any:
    """orjson where it can (several times faster on long transcripts); the json module for
    what orjson refuses but samples may hold (lone surrogates, kept as written) and for
    its error messages on invalid JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def truncate_torn_tail(path: Path) -> None:
    """Cut a partial last line (left by SIGKILL) so that appends start on a fresh line."""
    with path.open("rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        handle.seek(0)
        cut = handle.read().rfind(b"\n") + 1
        handle.truncate(cut)


class SampleWriteError(ResultsError, OSError):
    """samples.jsonl could not be written (full disk, read-only file): the run stops."""


class SampleWriter:
    """Appends sample lines, each handed to the OS whole when written (unbuffered), so a
    killed process loses at most the conversation it was writing. Lone surrogates in any
    text are kept losslessly as JSON `\\udXXX` escapes. A failed write raises
    `SampleWriteError` naming the file; the replies of that conversation are already in
    the response cache, so a re-run after the fault does not ask them again."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / SAMPLES
        run_dir.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            truncate_torn_tail(self.path)
        try:
            self._handle = self.path.open("ab", buffering=0)
        except OSError as exc:
            raise SampleWriteError(f"{self.path}: cannot open for writing ({exc.strerror})") from None

    def append(self, sample: Sample) -> None:
        try:
            line = sample.model_dump_json(by_alias=True)
        except Exception:  # pydantic refuses lone surrogates; json escapes them losslessly
            line = json.dumps(sample.model_dump(mode="json", by_alias=True), ensure_ascii=True)
        data = (line + "\n").encode("utf-8")
        try:
            view = memoryview(data)
            while view:
                written = self._handle.write(view)
                view = view[written:]
        except OSError as exc:
            raise SampleWriteError(
                f"{self.path}: cannot write a finished conversation ({exc.strerror or exc}). Its replies are in "
                "the response cache: fix the cause and run the same command again to resume."
            ) from None

    def close(self) -> None:
        try:
            self._handle.close()
        except OSError:
            pass


SCORED_COLUMNS = [
    "run_id",
    "model",
    "history",
    "task",
    "conversation_id",
    "turn_index",
    "turn_id",
    "reply",
    "cached",
    "latency_s",
    "input_tokens",
    "output_tokens",
    "error",
]


def sample_conversation_id(sample: dict[str, Any]) -> str:
    """The conversation a sample's rows belong to: a single-turn rendering's source one."""
    conversation = sample["conversation"]
    return str(conversation.get("metadata", {}).get("source_conversation", conversation["id"]))


def scored_turns(sample: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any], dict[str, Any] | None]]:
    """(index, turn, its record or None if never reached) of every scored turn of a sample:
    the turns that make rows (`sample_rows`, the manifest's summary)."""
    records = {record["index"]: record for record in sample["turns"]}
    for index, turn in enumerate(sample["conversation"]["turns"]):
        record = records.get(index)
        if not turn.get("scored", True) or (record is not None and not record.get("scored")):
            continue
        yield index, turn, record


def sample_rows(sample: dict[str, Any], run_id: str = "", model: str = "") -> list[dict[str, Any]]:
    """Scored-turn rows of one sample (dict form), with `score_<name>` and
    `status_<name>` columns per scorer.

    Scored turns that errored or were never reached (the conversation stopped) get a
    row too, with no score and status "error", so metrics count them as excluded
    instead of silently averaging over fewer turns. Single-turn renderings carry
    their source conversation id, so they pair with the multi-turn run's rows and
    bootstrap intervals resample whole source conversations.
    """
    rows = []
    metadata = sample["conversation"].get("metadata", {})
    conversation_id = sample_conversation_id(sample)
    for index, turn, record in scored_turns(sample):
        reply = record.get("reply") if record else None
        row: dict[str, Any] = {
            "run_id": run_id,
            "model": model,
            "history": sample.get("history"),
            "task": sample["task"],
            "conversation_id": conversation_id,
            "turn_index": int(metadata.get("source_turn_index", index)),
            "turn_id": turn["id"],
            "reply": reply,
            "cached": bool(record and record.get("cached")),
            "latency_s": record.get("latency_s", 0.0) if record else 0.0,
            "input_tokens": record.get("usage", {}).get("input_tokens", 0) if record else 0,
            "output_tokens": record.get("usage", {}).get("output_tokens", 0) if record else 0,
            "error": (record.get("error") if record else None) or (None if reply is not None else "not reached"),
        }
        for name, score in ((record.get("scores") or {}) if record else {}).items():
            row[f"score_{name}"] = score.get("value") if score.get("status", "ok") == "ok" else None
            row[f"status_{name}"] = score.get("status", "ok")
        rows.append(row)
    return rows


def load(run_dir: str | Path):
    """One pandas row per scored turn of a run (native or imported)."""
    import pandas as pd

    manifest = load_manifest(run_dir)
    run_id, model = manifest.run_id, manifest.model.id
    rows: list[dict[str, Any]] = []
    for sample in iter_sample_dicts(run_dir):
        rows.extend(sample_rows(sample, run_id, model))
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=SCORED_COLUMNS)
    return frame


def load_samples(run_dir: str | Path) -> list[Sample]:
    """Finished conversations as typed samples (for re-judging and the transcript view); a
    line the model refuses is a `ResultsError` naming the file, line and field."""
    from pydantic import ValidationError

    from mteval.data import validation_message

    path = Path(run_dir) / SAMPLES
    samples = []
    for line_no, record in _numbered_samples(path):
        try:
            samples.append(Sample.model_validate(record))
        except ValidationError as exc:
            raise ResultsError(f"{path}:{line_no}: {validation_message(exc)}") from None
    return samples
