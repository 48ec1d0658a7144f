"""Issue #16: no function in mteval/ or tasks/ above cyclomatic complexity 15, counted by
radon (which, unlike ruff's McCabe check in .ci/run, also counts boolean operators)."""

from __future__ import annotations

from pathlib import Path

import pytest

radon_complexity = pytest.importorskip("radon.complexity")

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 15


def test_no_function_above_complexity_15():
    over = []
    for folder in ("mteval", "tasks", "judges"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            for block in radon_complexity.cc_visit(path.read_text(encoding="utf-8")):
                if block.complexity > LIMIT:
                    over.append(f"{name} {block.fullname} {block.complexity}")
    assert over == []
