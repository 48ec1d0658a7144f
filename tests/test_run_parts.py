"""The runner's public parts: the run plan names and identifies the run the runner
writes, one conversation runs through `Runner.run_conversation`, and the importers
build their runs from the same parts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mteval.client import ModelClient
from mteval.importers.common import ImportedConversation, write_run
from mteval.registry import resolve
from mteval.runner import RunConfig, Runner


def _config(tmp_path: Path, **changes) -> RunConfig:
    base = dict(tasks="example/arithmetic", model="scripted/calculator", limit=3, output_dir=tmp_path, use_cache=False, progress=False)
    return RunConfig(**{**base, **changes})


def test_the_plan_names_and_identifies_the_run_the_runner_writes(tmp_path):
    runner = Runner(_config(tmp_path))
    prepared = runner.plan.prepare()
    assert prepared.scans["example/arithmetic"].conversations == 3
    outcome = runner.run()
    assert outcome.run_dir == prepared.run_dir
    assert outcome.manifest["fingerprint"] == prepared.fingerprint
    assert outcome.manifest["tasks"] == prepared.task_info
    other = Runner(_config(tmp_path, limit=2)).plan.prepare()
    assert other.fingerprint != prepared.fingerprint and other.run_dir != prepared.run_dir


def test_one_conversation_runs_and_is_scored_through_the_public_method(tmp_path):
    runner = Runner(_config(tmp_path))
    task = runner.tasks[0]
    conversation = next(runner.plan.conversations(task))

    async def one():
        client = ModelClient(runner.model)
        try:
            return await runner.run_conversation(task, conversation, client)
        finally:
            await client.aclose()

    sample = asyncio.run(one())
    assert sample.task == "example/arithmetic" and sample.conversation.id == conversation.id
    scored = [record for record in sample.turns if record.scored]
    assert scored and all(set(record.scores) == {s.name for s in task.scorers()} for record in scored)
    assert sample.status == "ok"


def test_a_reimport_records_the_files_it_was_given_not_the_previous_import(tmp_path):
    task = resolve("example/arithmetic")[0]()
    conversation = task.load()[0]
    item = ImportedConversation(task=task.name, conversation=conversation, replies=[t.gold or "" for t in conversation.turns])

    def write(files: dict[str, str]) -> dict:
        imported = {"format": "test", "files": files}
        return write_run(output_dir=tmp_path, run_id="imp", tasks=task.name, task_options={}, model="m", conversations=[item], imported=imported)[1]

    first = write({"answers.jsonl": "a" * 64})
    second = write({"answers.jsonl": "b" * 64})
    assert second["imported"]["files"] == {"answers.jsonl": "b" * 64}
    assert second["fingerprint"] != first["fingerprint"]  # the files are part of an imported run's identity
