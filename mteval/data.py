"""Reading benchmark files with errors that name the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, TypeVar

from pydantic import BaseModel, ValidationError

from mteval.conversation import Conversation
from mteval.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)


class DataError(ConfigurationError):
    """A malformed data file. The message names file, line and field."""


def not_utf8_message(path: str | Path, data: bytes, exc: UnicodeDecodeError, first_line: int = 1) -> str:
    """`file:line: not UTF-8 text (byte 0xff at column 3)` for bytes that failed to decode."""
    before = data[: exc.start]
    line = first_line + before.count(b"\n")
    column = exc.start - (before.rfind(b"\n") + 1) + 1
    return f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}); save the file as UTF-8"


def read_utf8(path: str | Path, *, bom: bool = False) -> str:
    """A whole text file; bad bytes raise `DataError` naming file, line and column."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(not_utf8_message(path, data, exc)) from None


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line, decoded one line at a time so that a bad byte
    is reported with its line; raises `DataError`."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a file")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        for line_no, raw in enumerate(handle, 1):
            try:
                yield line_no, raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(not_utf8_message(path, raw, exc, first_line=line_no)) from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-empty line; bad JSON or bytes raise `DataError`."""
    for line_no, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{line_no}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{line_no}: expected a JSON object, got {type(obj).__name__}")
        if "\\u" in line:  # only an escape can smuggle a lone surrogate past the UTF-8 check
            field = _lone_surrogate_field(obj)
            if field is not None:
                raise DataError(
                    f"{path}:{line_no}: field {field!r} holds a lone surrogate (a \\uD800-\\uDFFF escape without "
                    "its pair): no request or file can carry it; fix or remove the escape"
                )
        yield line_no, obj


def _lone_surrogate_field(value: Any, where: str = "") -> str | None:
    """Dotted path of the first string holding a lone surrogate, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "(record)"
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _lone_surrogate_field(key, f"{where}.{key}".lstrip(".")) if isinstance(key, str) else None
        found = found or _lone_surrogate_field(item, f"{where}.{key}".lstrip("."))
        if found is not None:
            return found
    return None


def yaml_message(path: str | Path, exc: Exception) -> str:
    """`file:line: invalid YAML (problem)` on one line, from a yaml.YAMLError."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    return f"{where}: invalid YAML ({getattr(exc, 'problem', None) or exc})"


def validation_message(exc: ValidationError) -> str:
    """'field turns.2.user: Field required' for the first problem pydantic found."""
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "(record)"
    return f"field {location!r}: {first['msg']}"


def parse_record(model: type[M], obj: Any, path: str | Path, line_no: int) -> M:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise DataError(f"{path}:{line_no}: {validation_message(exc)}") from exc


class FieldError(Exception):
    """A converter's complaint about one field; the caller adds the file and line."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def read_conversations(path: str | Path) -> list[Conversation]:
    """mteval's own conversation JSONL: one `Conversation` (as JSON) per line, turn ids unique
    within each (the format says so: a replay of the run finds a turn's reply by its id). Not
    a rule of `Conversation` itself: MT-Eval's ablation dialogues repeat source turn ids."""
    conversations = []
    for line_no, obj in iter_jsonl(path):
        conversation = parse_record(Conversation, obj, path, line_no)
        seen: set[str] = set()
        for turn in conversation.turns:
            if turn.id in seen:
                raise DataError(f"{path}:{line_no}: turns: turn ids must be unique within a conversation; {turn.id!r} is used twice")
            seen.add(turn.id)
        conversations.append(conversation)
    return conversations
