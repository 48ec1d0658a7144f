"""On-disk response cache (SQLite, WAL).

Every successful model reply is committed the moment it arrives, so a run killed with
SIGKILL loses nothing: re-running it replays finished turns from here and only asks the
model for what never came back. Keys hash what determines the reply (provider, model,
non-secret model args, generation parameters, messages) and nothing else: API keys,
timeouts and the request context are not part of a key.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from mteval.conversation import Message
from mteval.models.base import GenerationParams, ModelOutput
from mteval.transcript import Usage

DEFAULT_CACHE_DIR = Path(os.environ.get("MTEVAL_CACHE_DIR", Path.home() / ".cache" / "mteval"))


def cache_key(model_id: str, args: Mapping[str, Any], params: GenerationParams, messages: Sequence[Message]) -> str:
    """The reference definition of a key: sha256 of one canonical JSON array."""
    payload = json.dumps(
        [model_id, dict(args), params.model_dump(mode="json"), [[m.role, m.content] for m in messages]],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CacheKeys:
    """`cache_key` for one model and its args, byte for byte, without re-encoding what
    does not change per call: the model/args prefix once, each params object once, and
    per call only the messages (which are the request itself, so a key costs no more
    than the body it stands for)."""

    def __init__(self, model_id: str, args: Mapping[str, Any]):
        self._prefix = "[" + _canonical(model_id) + "," + _canonical(dict(args)) + ","
        self._params: dict[GenerationParams, str] = {}

    def __call__(self, params: GenerationParams, messages: Sequence[Message]) -> str:
        head = self._params.get(params)
        if head is None:
            head = self._params[params] = self._prefix + _canonical(params.model_dump(mode="json")) + ","
        body = _MESSAGES([[m.role, m.content] for m in messages])
        return hashlib.sha256((head + body + "]").encode("utf-8")).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


# lists of [role, content] strings: no dicts to sort, nothing for `default` to convert
_MESSAGES = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ResponseCache:
    """A key -> reply store shared by every model and judge of a run (and across runs)."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "responses.sqlite"
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS responses ("
            " key TEXT PRIMARY KEY, model TEXT NOT NULL, text TEXT NOT NULL,"
            " input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
            " finish_reason TEXT, created REAL NOT NULL)"
        )

    def get(self, key: str) -> ModelOutput | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT text, input_tokens, output_tokens, finish_reason FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return ModelOutput(text=row[0], usage=Usage(input_tokens=row[1], output_tokens=row[2]), finish_reason=row[3])

    def put(self, key: str, model_id: str, output: ModelOutput) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    model_id,
                    output.text,
                    output.usage.input_tokens,
                    output.usage.output_tokens,
                    output.finish_reason,
                    time.time(),
                ),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
