"""A run collects garbage less often (objects from before the run frozen, a larger young
threshold) and leaves the collector as it found it."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import tomllib

from mteval.gc_tuning import YOUNG_THRESHOLD, fewer_collections
from mteval.runner import RunConfig, Runner


def test_settings_hold_during_and_are_restored_after() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_run_restores_the_collector(tmp_path) -> None:
    import tests.test_runner_lazy  # noqa: F401  (registers lazyfam/stream)

    before = gc.get_threshold()
    seen: list[tuple[int, int]] = []
    config = RunConfig(tasks="lazyfam/stream", model="scripted/echo", output_dir=tmp_path, use_cache=False, progress=False,
                       command=["t"])
    runner = Runner(config)
    original = runner.run_conversation

    async def watching(task, conversation, client):
        seen.append((gc.get_threshold()[0], gc.get_freeze_count()))
        return await original(task, conversation, client)

    runner.run_conversation = watching  # type: ignore[method-assign]
    runner.run()
    assert seen and all(threshold >= YOUNG_THRESHOLD and frozen > 0 for threshold, frozen in seen)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_mteval_command_ends_with_everything_frozen_and_callers_of_main_do_not():
    """`program` (the executable, `python -m mteval`) freezes on its way out so the
    interpreter's shutdown collections scan nothing; `main`, which tests and scripts call
    in process, leaves the collector as it found it."""
    probe = (
        "import gc, sys\n"
        "from mteval.cli import {fn}\n"
        "sys.argv = ['mteval', 'list', 'providers']\n"
        "threshold = gc.get_threshold()[0]\n"
        "{fn}()\n"
        "print(gc.get_freeze_count() > 0, gc.get_threshold()[0] > threshold)\n"
    )
    for fn, expected in (("program", "True True"), ("main", "False False")):
        done = subprocess.run([sys.executable, "-c", probe.format(fn=fn)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == expected, (fn, done.stdout)
    root = Path(__file__).resolve().parents[1]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["mteval"] == "mteval.cli:program"
    assert "sys.exit(program())" in (root / "mteval" / "__main__.py").read_text()
