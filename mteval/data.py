"""Reading benchmark files with errors that name the file, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from pydantic import BaseModel, ValidationError

from mteval.conversation import Conversation
from mteval.models.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)


class DataError(ConfigurationError):
    """A malformed data file. The message names file, line and field."""


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-empty line; bad JSON raises `DataError`."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
    with handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{line_no}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{line_no}: expected a JSON object, got {type(obj).__name__}")
            yield line_no, obj


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


def read_records(path: str | Path, convert: Callable[[dict[str, Any]], Any]) -> list[Any]:
    """Apply `convert` to each line; KeyError/TypeError/ValueError become `DataError`
    with the line number (converters raise `FieldError` to name the field)."""
    out = []
    for line_no, obj in iter_jsonl(path):
        try:
            out.append(convert(obj))
        except FieldError as exc:
            raise DataError(f"{path}:{line_no}: field {exc.field!r}: {exc.reason}") from exc
        except ValidationError as exc:
            raise DataError(f"{path}:{line_no}: {validation_message(exc)}") from exc
        except KeyError as exc:
            raise DataError(f"{path}:{line_no}: missing field {exc.args[0]!r}") from exc
    return out


class FieldError(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def read_conversations(path: str | Path) -> list[Conversation]:
    """mteval's own conversation JSONL: one `Conversation` (as JSON) per line."""
    return [parse_record(Conversation, obj, path, line_no) for line_no, obj in iter_jsonl(path)]
