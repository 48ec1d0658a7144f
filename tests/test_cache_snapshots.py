"""Cache hits share a read transaction (issue 18): the begin and end of SQLite's read
transaction cost more than the lookup itself, so `ResponseCache` keeps one open across
consecutive hits. These tests pin what that must not change: a reply another process
stored is found, writes still succeed, and other processes' checkpoints are not held back
once the hits stop."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from mteval import cache as cache_module
from mteval.cache import ResponseCache
from mteval.models.base import ModelOutput


def _store_in_another_process(directory, key: str, text: str) -> None:
    code = (
        "import sys; from mteval.cache import ResponseCache; from mteval.models.base import ModelOutput; "
        "c = ResponseCache(sys.argv[1]); assert c.put(sys.argv[2], 'm', ModelOutput(sys.argv[3])); c.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(directory), key, text], check=True)


def _held_back(directory) -> int:
    """WAL frames another connection's checkpoint could not copy because a reader's
    snapshot is older than them (0 when no reader holds an old snapshot)."""
    conn = sqlite3.connect(directory / "responses.sqlite")
    try:
        _, in_log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(in_log - copied)
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def long_snapshots(monkeypatch):
    """Snapshots outlive the other process's start-up (~0.3 s), so each test meets one."""
    monkeypatch.setattr(cache_module, "SNAPSHOT_SECONDS", 60.0)


def test_a_reply_stored_by_another_process_after_a_hit_is_found(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.put("first", "m", ModelOutput("one"))
    assert cache.get("first").text == "one"  # a hit: later reads share its snapshot
    assert cache.get("first").text == "one"
    _store_in_another_process(tmp_path, "second", "two")
    found = cache.get("second")  # not in the snapshot: checked again outside it
    assert found is not None and found.text == "two"
    assert cache.get("never stored") is None


def test_writes_after_hits_succeed_when_another_process_wrote_in_between(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.put("first", "m", ModelOutput("one"))
    assert cache.get("first") is not None and cache.get("first") is not None
    _store_in_another_process(tmp_path, "theirs", "two")
    # a write inside the old snapshot would fail (SQLITE_BUSY_SNAPSHOT): it is ended first
    assert cache.put("ours", "m", ModelOutput("three")) is True
    assert cache.get("ours").text == "three" and cache.get("theirs").text == "two"


def test_a_miss_or_close_releases_the_snapshot_for_other_processes_checkpoints(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.put("first", "m", ModelOutput("one"))
    cache.get("first"), cache.get("first")
    _store_in_another_process(tmp_path, "theirs", "two")
    assert _held_back(tmp_path) > 0  # the open snapshot still reads the old state
    assert cache.get("absent") is None  # a miss ends it
    assert _held_back(tmp_path) == 0
    cache.get("first"), cache.get("first")
    _store_in_another_process(tmp_path, "more", "three")
    assert _held_back(tmp_path) > 0
    cache.close()
    assert _held_back(tmp_path) == 0


def test_a_snapshot_is_renewed_after_its_read_or_time_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "SNAPSHOT_READS", 3)
    cache = ResponseCache(tmp_path)
    cache.put("first", "m", ModelOutput("one"))
    cache.get("first"), cache.get("first")
    _store_in_another_process(tmp_path, "theirs", "two")
    assert _held_back(tmp_path) > 0
    for _ in range(3):  # the read limit ends the old snapshot; the next one starts at the newest state
        assert cache.get("first") is not None
    assert _held_back(tmp_path) == 0
    monkeypatch.setattr(cache_module, "SNAPSHOT_READS", 10**9)
    monkeypatch.setattr(cache_module, "SNAPSHOT_SECONDS", 60.0)
    cache.get("first"), cache.get("first")
    _store_in_another_process(tmp_path, "later", "three")
    assert cache.get("first") is not None and _held_back(tmp_path) > 0
    monkeypatch.setattr(cache_module, "SNAPSHOT_SECONDS", 0.001)
    time.sleep(0.002)
    assert cache.get("first") is not None  # older than the limit: ended, then read afresh
    assert _held_back(tmp_path) == 0
