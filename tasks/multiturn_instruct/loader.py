"""Reading MultiTurnInstruct files in either published layout into mteval conversations.

Layouts (github.com/Glaciohound/Multi-Turn-Instruct; arXiv 2503.13222):
- repo `data/dataset.json`: `{category: {conversation_id: [turn, ...]}}`
- Hugging Face `test.json`: `[{"category", "conversation_id", "turns": [turn, ...]}]`

A turn is `{"role": "user"|"assistant", "text"}`; assistant turns add
`evaluation_reference` (list of strings, or null = not scored) and `evaluation_metric`.
Each user message and the assistant turn after it become one mteval `Turn`. Every
conversation is checked against the shipped `data/metadata.json` (category, id,
metric) and annotated with its subtask. Errors name the file, the line and the field.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from mteval.conversation import Conversation, Turn
from mteval.data import DataError

from .categories import CATEGORIES, LEVEL_OF
from .metrics import METRICS

METADATA = Path(__file__).parent / "data" / "metadata.json"
JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Exchange:
    """One user message and the assistant turn that follows it."""

    user: str
    reply: str
    references: tuple[str, ...] | None
    metric: str | None
    turn_id: int
    """Index of the assistant turn in the record's turn list (upstream's `turn_id`)."""


@dataclass(frozen=True)
class Record:
    category: str
    conversation_id: str
    subtask: str
    datum_id: str
    metric: str
    exchanges: tuple[Exchange, ...]
    trailing_user: bool = False
    """The record ended with a user message, which upstream never sends either."""


class _Problem(Exception):
    def __init__(self, where: JsonPath, reason: str):
        super().__init__(reason)
        self.where = where
        self.reason = reason


# --- metadata ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def load_metadata(path: Path = METADATA) -> dict[str, dict[str, dict[str, str]]]:
    """`category -> conversation_id -> {task, subtask, datum_id, evaluation_metric}`,
    checked: every id is md5("{task}-{subtask}-{datum_id}")[:8]."""
    metadata = json.loads(Path(path).read_text(encoding="utf-8"))
    for category, entries in metadata.items():
        for cid, info in entries.items():
            key = f"{info['task']}-{info['subtask']}-{info['datum_id']}"
            if info["task"] != category or hashlib.md5(key.encode()).hexdigest()[:8] != cid:
                raise DataError(f"{path}: field {category}.{cid}: id does not match md5({key!r})")
    return metadata


def subtasks(category: str) -> list[str]:
    """The category's subtasks in metadata order."""
    return list(dict.fromkeys(info["subtask"] for info in load_metadata()[category].values()))


def subtask_of(category: str) -> dict[str, str]:
    """conversation_id -> subtask for one category."""
    return {cid: info["subtask"] for cid, info in load_metadata()[category].items()}


# --- reading ----------------------------------------------------------------------------------
def read_dataset(path: str | Path) -> tuple[Record, ...]:
    """Every conversation of a file in either layout, validated (cached per file version)."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
    return _read_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_cached(path: str, size: int, mtime_ns: int) -> tuple[Record, ...]:
    from mteval.data import read_utf8

    text = read_utf8(path, bom=True)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
    metadata = load_metadata()
    records: list[Record] = []
    seen: set[tuple[str, str]] = set()
    try:
        for where, category, cid, turns in _entries(data):
            if (category, cid) in seen:
                raise _Problem(where, f"conversation {cid!r} of {category} appears twice")
            seen.add((category, cid))
            records.append(_record(where, category, cid, turns, metadata))
    except _Problem as problem:
        raise DataError(f"{path}:{line_of(text, problem.where)}: field {format_path(problem.where)!r}: {problem.reason}") from None
    return tuple(records)


def _entries(data: Any) -> Iterator[tuple[JsonPath, str, str, Any]]:
    """(JSON path of the turn list, category, conversation id, turns) in file order."""
    if isinstance(data, dict):  # repo layout
        for category, conversations in data.items():
            if not isinstance(conversations, dict):
                raise _Problem((category,), "expected an object of conversation_id -> turns (repo layout)")
            for cid, turns in conversations.items():
                yield (category, cid), category, cid, turns
    elif isinstance(data, list):  # Hugging Face layout
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                raise _Problem((index,), "expected an object with category, conversation_id, turns")
            for key in ("category", "conversation_id"):
                if not isinstance(item.get(key), str):
                    raise _Problem((index, key), "missing or not a string")
            if "turns" not in item:
                raise _Problem((index, "turns"), "missing")
            yield (index, "turns"), item["category"], item["conversation_id"], item["turns"]
    else:
        raise _Problem((), "expected a JSON object (repo dataset.json) or a list (Hugging Face test.json)")


def _record(where: JsonPath, category: str, cid: str, turns: Any, metadata: dict) -> Record:
    if category not in CATEGORIES:
        raise _Problem(where, f"unknown category {category!r} (known: {', '.join(CATEGORIES)})")
    info = metadata[category].get(cid)
    if info is None:
        raise _Problem(where, f"conversation {cid!r} of {category} is not in metadata.json")
    if not isinstance(turns, list) or len(turns) < 2:
        raise _Problem(where, "expected a list of turns with at least one user and one assistant turn")
    exchanges = []
    for index in range(0, len(turns) - 1, 2):
        user = _turn(where + (index,), turns[index], "user")
        reply = _turn(where + (index + 1,), turns[index + 1], "assistant")
        references, metric = _evaluation(where + (index + 1,), reply, info["evaluation_metric"])
        exchanges.append(Exchange(user["text"], reply["text"], references, metric, index + 1))
    trailing = len(turns) % 2 == 1
    if trailing:
        _turn(where + (len(turns) - 1,), turns[-1], "user")
    return Record(category, cid, info["subtask"], str(info["datum_id"]), info["evaluation_metric"], tuple(exchanges), trailing)


def _turn(where: JsonPath, turn: Any, role: str) -> dict[str, Any]:
    if not isinstance(turn, dict):
        raise _Problem(where, "expected a turn object")
    if turn.get("role") != role:
        raise _Problem(where + ("role",), f"expected {role!r} (turns alternate user, assistant), got {turn.get('role')!r}")
    if not isinstance(turn.get("text"), str):
        raise _Problem(where + ("text",), "missing or not a string")
    if role == "user" and not turn["text"]:
        raise _Problem(where + ("text",), "empty user message")
    return turn


def _evaluation(where: JsonPath, turn: dict[str, Any], expected_metric: str) -> tuple[tuple[str, ...] | None, str | None]:
    for key in ("evaluation_reference", "evaluation_metric"):
        if key not in turn:
            raise _Problem(where + (key,), "missing on an assistant turn")
    references, metric = turn["evaluation_reference"], turn["evaluation_metric"]
    if references is None:
        return None, metric if isinstance(metric, str) else None
    if not isinstance(references, list) or not all(isinstance(ref, str) for ref in references):
        raise _Problem(where + ("evaluation_reference",), "expected a list of strings or null")
    if metric not in METRICS:
        raise _Problem(where + ("evaluation_metric",), f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
    if metric != expected_metric:
        raise _Problem(where + ("evaluation_metric",), f"{metric!r} differs from metadata.json ({expected_metric!r})")
    if not references and metric in ("squad", "bleu"):
        raise _Problem(where + ("evaluation_reference",), f"{metric} needs at least one reference")
    return tuple(references), metric


# --- conversations ----------------------------------------------------------------------------
def build_conversation(record: Record, *, ground_truth_context: bool = False, variant: dict[str, Any] | None = None) -> Conversation:
    """One mteval conversation. Assistant turns with references are scored; the others
    are generated too (upstream default: own replies replace the dataset text later)
    unless `ground_truth_context`, where they are context-only turns holding the
    dataset text."""
    turns = []
    for number, exchange in enumerate(record.exchanges, 1):
        scored = exchange.references is not None
        references: dict[str, Any] = {"turn_id": exchange.turn_id, "metric": exchange.metric}
        if scored:
            references["references"] = list(exchange.references)
        turns.append(
            Turn(
                id=str(number),
                user=exchange.user,
                gold=exchange.reply,
                scored=scored,
                generate=scored or not ground_truth_context,
                references=references,
            )
        )
    metadata: dict[str, Any] = {
        "category": record.category,
        "level": LEVEL_OF[record.category],
        "subtask": record.subtask,
        "datum_id": record.datum_id,
        "evaluation_metric": record.metric,
        **(variant or {}),
    }
    if record.trailing_user:
        metadata["trailing_user_message_not_sent"] = True
    return Conversation(id=record.conversation_id, turns=tuple(turns), metadata=metadata)


# --- error locations --------------------------------------------------------------------------
def format_path(where: JsonPath) -> str:
    """('memorization', 'ab12cd34', 3, 'text') -> 'memorization.ab12cd34[3].text'."""
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


_DECODER = json.JSONDecoder()


def line_of(text: str, where: JsonPath) -> int:
    """1-based line of the deepest value along `where` that exists in the JSON text.

    Walks only the containers on the path; siblings are skipped with the C decoder."""
    index = _skip_ws(text, 0)
    for part in where:
        found = _child(text, index, part)
        if found is None:
            break
        index = found
    return text.count("\n", 0, index) + 1


def _skip_ws(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _child(text: str, index: int, part: str | int) -> int | None:
    """Start index of member `part` of the object/array that starts at `index`."""
    if index >= len(text) or text[index] not in "{[":
        return None
    is_object = text[index] == "{"
    if is_object != isinstance(part, str):
        return None
    close = "}" if is_object else "]"
    position, count = _skip_ws(text, index + 1), 0
    while position < len(text) and text[position] != close:
        key = None
        if is_object:
            key, position = _DECODER.raw_decode(text, position)
            position = _skip_ws(text, position) + 1  # the ':'
            position = _skip_ws(text, position)
        if (key == part) if is_object else (count == part):
            return position
        _, position = _DECODER.raw_decode(text, position)
        position = _skip_ws(text, position)
        if position < len(text) and text[position] == ",":
            position = _skip_ws(text, position + 1)
        count += 1
    return None
