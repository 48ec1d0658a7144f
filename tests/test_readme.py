"""The README's first two commands are what a newcomer types: one line each, the second
is exactly what .ci/run runs, and the first one's run works as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def top_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme.split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", head, re.DOTALL)]


def test_two_one_line_commands_near_the_top():
    commands = top_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands), commands
    assert commands[0].startswith("pip install ") and " && mteval run " in commands[0]
    assert commands[1] == 'pip install -e ".[dev]" && python -m pytest -q'


def test_ci_runs_the_readme_test_command_verbatim():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip() and not line.strip().startswith("#")]
    assert lines[-1] == top_commands()[1]


def test_the_first_command_runs_as_written(tmp_path):
    """The part after the install (the install itself is tests/test_wheel_install.py's): every
    step parses, and the penalty step reads exactly the two runs the run steps write. A scripted
    or replay model is run here end to end; a real model's steps are run by its own tests
    (tests/test_local_model.py), since the README's run takes minutes."""
    import shlex

    import pytest

    from mteval.cli import build_parser

    steps = [shlex.split(part) for part in top_commands()[0].split(" && ")[1:]]
    assert steps and all(step[0] == "mteval" for step in steps)
    parsed = [build_parser().parse_args(step[1:]) for step in steps]  # every step parses
    runs = [(args, step) for args, step in zip(parsed, steps) if step[1] == "run"]
    written = {str(Path(args.output_dir) / args.run_id) for args, _ in runs if args.run_id}
    for args, step in zip(parsed, steps):
        if step[1] == "penalty":  # reads the runs written above: own history first, then single
            assert [a for a in step[2:] if not a.startswith("-")] == [
                str(Path(a.output_dir) / a.run_id) for a, _ in sorted(runs, key=lambda r: r[0].history != "own")
            ]
            assert set(step[2:4]) <= written
    model = runs[0][0].model
    if not model.startswith(("scripted/", "replay/")):
        pytest.skip(f"{model} is a real model: tests/test_local_model.py runs it")
    for _, step in runs:
        result = subprocess.run(
            [sys.executable, "-m", "mteval", *step[1:], "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
            env={**os.environ, "MTEVAL_CACHE_DIR": str(tmp_path / "cache")},
        )
        assert result.returncode == 0, result.stderr
        manifest = json.loads(result.stdout)
        assert manifest["status"] == "complete" and manifest["tasks"]
