"""A task's data hash is never the digest of nothing: changed data makes a new run
instead of silently resuming the old one. The README's "Writing a task" example is run
as written (as a plugin from --include-path) to keep it true."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mteval.conversation import Conversation, Turn
from mteval.models.errors import ConfigurationError
from mteval.task import Task

ROOT = Path(__file__).resolve().parents[1]
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _conversation(answer: str) -> dict:
    return {"id": "c1", "turns": [{"id": "1", "user": "What is 2+2? Reply with the number only.", "gold": answer, "references": {"answer": answer}}]}


class InlineTask(Task):
    name = "hash/inline"

    def __init__(self, answer: str = "4", **options):
        super().__init__(**options)
        self.answer = answer
        self.loads = 0

    def load(self) -> list[Conversation]:
        self.loads += 1
        return [Conversation.model_validate(_conversation(self.answer))]

    def scorers(self):
        return []


class Subclassed(InlineTask):
    def load(self) -> list[Conversation]:
        return super().load() + [Conversation(id="c2", turns=(Turn(id="1", user="and 3+3?"),))]


class EmptyTask(Task):
    name = "hash/empty"

    def load(self) -> list[Conversation]:
        return []

    def scorers(self):
        return []


def test_without_data_files_the_loaded_conversations_are_hashed_once():
    task = InlineTask("4")
    task.load()
    info = task.data_info()
    assert info.sha256 != EMPTY_SHA256 and task.loads == 1  # hashed what load() returned, no second load
    assert InlineTask("5").data_info().sha256 != info.sha256  # other data, other digest
    assert InlineTask("4").data_info().sha256 == info.sha256
    assert "1 conversations from InlineTask.load()" == info.source


def test_a_subclass_calling_super_load_hashes_its_own_result():
    task = Subclassed("4")
    assert len(task.load()) == 2
    assert task.data_info().sha256 != InlineTask("4").data_info().sha256


def test_nothing_to_hash_is_refused():
    with pytest.raises(ConfigurationError, match="no data to hash"):
        EmptyTask().data_info()


def readme_task_code() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Writing a task", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_readme_task_example_records_a_data_hash_and_a_data_change_starts_a_new_run(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "mytask.py").write_text(readme_task_code(), encoding="utf-8")
    data = tmp_path / "my_conversations.jsonl"

    def run() -> dict:
        result = subprocess.run(
            [sys.executable, "-m", "mteval", "run", "--tasks", "myfam", "--include-path", str(plugins), "--model", "replay/gold",
             "--no-cache", "--no-progress", "--json"],
            capture_output=True, text=True, cwd=tmp_path, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    data.write_text(json.dumps(_conversation("4")) + "\n", encoding="utf-8")
    first = run()
    info = first["tasks"]["myfam/mytask"]["data"]
    assert info["sha256"] not in ("", EMPTY_SHA256) and info["files"] == ["my_conversations.jsonl"]
    assert first["metrics"]["myfam/mytask"]["exact"]["value"] == 1.0
    data.write_text(json.dumps(_conversation("5")) + "\n", encoding="utf-8")
    second = run()
    assert second["tasks"]["myfam/mytask"]["data"]["sha256"] != info["sha256"]
    assert second["run_id"] != first["run_id"]  # a new run, not the old one resumed
