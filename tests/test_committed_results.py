"""The committed results/ are in the form the current release writes (issue 12: "regenerated
with the new schema"). A field added to the manifest without regenerating results/
(scripts/regenerate_results.sh) fails here: a fresh import of the same published model
must write the same fields as the committed run.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from mteval.cli import main
from mteval.manifest import SCHEMA
from mteval.results import MANIFEST, load_manifest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
PUBLISHED = Path(__file__).parent / "fixtures" / "rad_bench_published"
RUNS = sorted(p for p in RESULTS.iterdir() if (p / MANIFEST).is_file()) + [ROOT / "docs" / "ci" / "baseline"]
"""The published runs and the CI recipe's baseline (docs/ci-gate.md)."""

DATA_KEYED = {"metrics", "groups", "tasks", "by_turn", "judging", "files", "args", "calls", "scores", "verdicts", "generation", "task_options"}
"""Sections whose keys are data (task, metric, file names), not the manifest's fields."""


def field_paths(data: Any, prefix: str = "") -> set[str]:
    if not isinstance(data, dict):
        return set()
    paths = set()
    for key, value in data.items():
        paths.add(f"{prefix}/{key}")
        if key not in DATA_KEYED:
            paths |= field_paths(value, f"{prefix}/{key}")
    return paths


@pytest.mark.parametrize("run", RUNS, ids=[p.name for p in RUNS])
def test_committed_runs_are_written_in_the_current_schema(run):
    assert json.loads((run / MANIFEST).read_text())["schema"] == SCHEMA  # not migrated on read
    assert load_manifest(run).run_id == run.name
    assert not (run / ".mteval.lock").exists()  # a run's lock file is never committed


def test_a_fresh_import_writes_the_same_fields_as_the_committed_run(tmp_path, capsys):
    for name in ("model_answer/gpt-4o.jsonl", "model_judgment/gpt-4o.jsonl"):
        target = tmp_path / "src" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.decompress((PUBLISHED / f"{name}.gz").read_bytes()))
    code = main(["import", "rad-bench", "--answers", str(tmp_path / "src" / "model_answer"), "--judgments",
                 str(tmp_path / "src" / "model_judgment" / "gpt-4o.jsonl"), "--models", "gpt-4o", "--output-dir", str(tmp_path / "out")])
    capsys.readouterr()
    assert code == 0
    fresh = json.loads((tmp_path / "out" / "imported-rad-bench-gpt-4o" / MANIFEST).read_text())
    committed = json.loads((RESULTS / "imported-rad-bench-gpt-4o" / MANIFEST).read_text())
    missing, extra = field_paths(fresh) - field_paths(committed), field_paths(committed) - field_paths(fresh)
    assert not missing and not extra, f"results/ is stale: run scripts/regenerate_results.sh (fields only in a fresh import: {sorted(missing)}; only in results/: {sorted(extra)})"
