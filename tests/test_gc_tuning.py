"""A run collects garbage less often (objects from before the run frozen, a larger young
threshold) and leaves the collector as it found it."""

from __future__ import annotations

import gc

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


def test_the_program_freezes_at_exit_and_an_in_process_call_does_not(capsys) -> None:
    """`mteval` as the program (no argv: the process ends next) freezes every object so the
    interpreter's exit collections skip them; `main([...])` from a test or script must not."""
    import subprocess
    import sys
    import textwrap

    from mteval.cli import main

    code = textwrap.dedent("""
        import gc, sys
        from mteval.cli import main
        sys.argv = ["mteval", "list", "providers"]
        code = main()
        print(code, gc.get_freeze_count() > 0)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 True"

    before = gc.get_freeze_count()
    assert main(["list", "providers"]) == 0
    assert "openai" in capsys.readouterr().out
    assert gc.get_freeze_count() == before == 0
