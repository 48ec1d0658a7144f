"""On-disk response cache (SQLite, WAL).

Every successful model reply is committed the moment it arrives, so a run killed with
SIGKILL loses nothing: re-running it replays finished turns from here and only asks the
model for what never came back. Keys hash what determines the reply (provider, model,
endpoint (base_url from args or the environment, see `mteval.client.endpoint_of`),
non-secret model args, generation parameters, messages) and nothing else: API keys,
timeouts and the request context are not part of a key.

Robustness (see SECURITY.md): a cache file that SQLite cannot read is moved aside
(named in a warning) and a fresh one is started; a page damaged inside a readable file
costs only its replies (misses, with a warning); the first write of a key wins
(`INSERT OR IGNORE`), so processes sharing a cache never store one request twice; a
write that fails (full disk, read-only file) is a `CacheWriteError` naming the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import orjson
from filelock import FileLock

from mteval.conversation import Message
from mteval.errors import ConfigurationError
from mteval.models.base import GenerationParams, ModelOutput
from mteval.transcript import Usage
from mteval.trusted import trusted

DEFAULT_CACHE_DIR = Path(os.environ.get("MTEVAL_CACHE_DIR", Path.home() / ".cache" / "mteval"))
log = logging.getLogger("mteval.cache")


_SELECT = "SELECT text, input_tokens, output_tokens, finish_reason FROM responses WHERE key = ?"
SNAPSHOT_READS = 1000
SNAPSHOT_SECONDS = 0.05


class CacheWriteError(OSError):
    """A reply could not be committed to the cache (the message names the file)."""


def cache_key(model_id: str, args: Mapping[str, Any], params: GenerationParams, messages: Sequence[Message]) -> str:
    """The reference definition of a key: sha256 of one canonical JSON array."""
    payload = json.dumps(
        [model_id, dict(args), params.model_dump(mode="json"), [[m.role, m.content] for m in messages]],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS responses ("
    " key TEXT PRIMARY KEY, model TEXT NOT NULL, text TEXT NOT NULL,"
    " input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
    " finish_reason TEXT, created REAL NOT NULL)"
)


class CacheKeys:
    """`cache_key` for one model and its args, byte for byte, without re-encoding what
    does not change per call: the model/args prefix once, each params object once, and
    per call only the messages (which are the request itself, so a key costs no more
    than the body it stands for)."""

    def __init__(self, model_id: str, args: Mapping[str, Any]):
        self._prefix = "[" + _canonical(model_id) + "," + _canonical(dict(args)) + ","
        self._params: dict[GenerationParams, tuple[str, Any]] = {}
        self._last: tuple[GenerationParams | None, tuple[str, Any]] = (None, ("", None))

    def __call__(self, params: GenerationParams, messages: Sequence[Message]) -> str:
        last_params, cached = self._last
        if params is not last_params:  # a run shares one params object per task: skip hashing it per call
            found = self._params.get(params)
            if found is None:
                head = self._prefix + _canonical(params.model_dump(mode="json")) + ","
                found = self._params[params] = (head, hashlib.sha256(head.encode("utf-8")))
            cached = found
            self._last = (params, found)
        head, hashed_head = cached
        pairs = [[m.role, m.content] for m in messages]
        try:
            # orjson writes these lists byte for byte as the json module does (compact, UTF-8,
            # the same escapes) at a fraction of the CPU; what it refuses (lone surrogates)
            # takes the json path, unchanged
            body = orjson.dumps(pairs)
        except TypeError:
            return hashlib.sha256((head + _MESSAGES(pairs) + "]").encode("utf-8")).hexdigest()
        digest = hashed_head.copy()
        digest.update(body)
        digest.update(b"]")
        return digest.hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


# lists of [role, content] strings: no dicts to sort, nothing for `default` to convert
_MESSAGES = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ResponseCache:
    """A key -> reply store shared by every model and judge of a run (and across runs)."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ConfigurationError(f"--cache-dir {self.directory}: exists and is not a directory")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"--cache-dir {self.directory}: cannot create ({exc.strerror})") from exc
        self.path = self.directory / "responses.sqlite"
        self._lock = threading.Lock()
        self._read_warned = False
        # one process at a time opens, checks and (if broken) replaces the file
        with FileLock(str(self.directory / "responses.sqlite.lock"), timeout=60):
            try:
                self._conn = self._open()
            except sqlite3.DatabaseError as exc:
                moved = self._move_aside(exc)
                log.warning("mteval: cache %s is unreadable (%s); moved it to %s and started a new one", self.path, exc, moved)
                self._conn = self._open()
        self._cursor = self._conn.cursor()
        self._last_hit = False
        self._snapshot_reads = 0
        self._snapshot_started = 0.0

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            # reads the header and the table's root: a file that is not a database fails here.
            # No integrity scan: `PRAGMA quick_check` reads every page, which cost 0.63 s per run
            # on a 581 MB cache (16 s from a cold disk); a page damaged inside a readable file is
            # met by `get` (a miss, with a warning) or `put` (a CacheWriteError), and only that
            # reply is lost, not the whole cache
            conn.execute("SELECT key FROM responses LIMIT 1").fetchall()
        except BaseException:
            conn.close()
            raise
        return conn

    def _move_aside(self, exc: Exception) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
        try:
            os.replace(self.path, target)
        except OSError as move_error:
            raise ConfigurationError(
                f"response cache {self.path} is unreadable ({exc}) and could not be moved aside "
                f"({move_error.strerror}); delete it or pass another --cache-dir (or --no-cache)"
            ) from None
        for suffix in ("-wal", "-shm"):  # stale journals belong to the broken file
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
        return target

    def get(self, key: str) -> ModelOutput | None:
        with self._lock:
            try:
                row = self._read(key)
            except sqlite3.DatabaseError as exc:  # damage the open-time check did not reach
                with contextlib.suppress(sqlite3.Error):
                    self._end_snapshot()
                if not self._read_warned:
                    self._read_warned = True
                    log.warning("mteval: cache %s is damaged (%s); asking the model instead. Delete or move the file.", self.path, exc)
                return None
        if row is None:
            return None
        # the columns are NOT NULL INTEGERs: no validation needed per cache hit
        return ModelOutput(row[0], trusted(Usage, {"input_tokens": row[1], "output_tokens": row[2]}), row[3])

    def _read(self, key: str) -> tuple[Any, ...] | None:
        """The row of `key`. After a hit the next reads share one read transaction (a
        snapshot), since SQLite's begin and end of a transaction cost more than the lookup
        itself (~3 of ~6 us per hit in WAL mode: locks on the -shm file). Rows are never
        changed once written, so a hit from a snapshot is what a fresh read would return;
        a miss is checked again outside it, so a reply another process (or this one) stored
        since is still found. A snapshot ends on a miss, a write, `close`, or when it is
        `SNAPSHOT_READS` reads or `SNAPSHOT_SECONDS` old, so other processes' checkpoints
        are not held back for long."""
        if self._snapshot_reads:
            if self._snapshot_reads >= SNAPSHOT_READS or time.monotonic() - self._snapshot_started > SNAPSHOT_SECONDS:
                self._end_snapshot()
        elif self._last_hit:
            self._cursor.execute("BEGIN")
            self._snapshot_started = time.monotonic()
        in_snapshot = self._conn.in_transaction
        row = self._cursor.execute(_SELECT, (key,)).fetchone()
        if in_snapshot:
            self._snapshot_reads += 1
            if row is None:
                self._end_snapshot()
                row = self._cursor.execute(_SELECT, (key,)).fetchone()
        self._last_hit = row is not None
        return row

    def _end_snapshot(self) -> None:
        self._snapshot_reads = 0
        if self._conn.in_transaction:
            self._cursor.execute("COMMIT")

    def put(self, key: str, model_id: str, output: ModelOutput) -> bool:
        """Commit a reply; False if another process (or request) already stored this key."""
        with self._lock:
            try:
                self._end_snapshot()  # a write inside a read transaction would have to upgrade it
                cursor = self._conn.execute(
                    "INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
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
            except (sqlite3.Error, UnicodeEncodeError) as exc:
                raise CacheWriteError(f"{self.path}: cannot store a reply ({exc})") from exc
            return cursor.rowcount > 0

    def __len__(self) -> int:
        with self._lock:
            self._end_snapshot()
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):  # a damaged file may refuse even this
                self._end_snapshot()
            self._conn.close()
