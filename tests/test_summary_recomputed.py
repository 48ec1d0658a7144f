"""Every committed run's summary, recomputed from its samples.jsonl by the current
summary code (`ManifestBuilder`'s metrics, intervals, per-turn curves, family groups,
score statuses and token totals, turn and error counts, verdict tallies and juror
agreement), equals what its run.json says. The summary's storage
and arithmetic can change (compact arrays, numpy instead of pandas, chunked bootstrap
draws); its numbers cannot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mteval.manifest_builder import ManifestBuilder, Summary
from mteval.redact import Redactor
from mteval.registry import resolve
from mteval.results import iter_sample_dicts

RESULTS = Path(__file__).resolve().parents[1] / "results"
RUNS = sorted(p for p in RESULTS.iterdir() if (p / "run.json").is_file())


def recomputed(run: Path, manifest: dict) -> dict:
    tasks = [cls(**(manifest.get("task_options") or {})) for cls in resolve(list(manifest["tasks"]))]
    builder = object.__new__(ManifestBuilder)  # only the summary half of the builder is used
    builder.tasks, builder.scorers, builder.custom_scorers = tasks, (lambda task: task.scorers()), False
    summary = Summary(Redactor([]))
    for sample in iter_sample_dicts(run):
        summary.add(sample)
    metrics, curves, statuses = builder._task_metrics(summary, manifest["tasks"])
    groups = builder._groups(summary.rows)
    return json.loads(json.dumps({
        "metrics": {t: {k: v.model_dump(mode="json") for k, v in d.items()} for t, d in metrics.items()},
        "by_turn": curves,
        "groups": {f: {k: v.model_dump(mode="json") for k, v in d.items()} for f, d in groups.items()},
        "scores": statuses,
        "tokens": summary.tokens,
        "scored_turns": len(summary.rows),
        "counts": summary.counts,
        "first_errors": summary.first_errors,
        "verdicts": summary.verdicts,
        "judging": summary.judging.summary(),
    }))


@pytest.mark.parametrize("run", RUNS, ids=[p.name for p in RUNS])
def test_the_summary_recomputed_from_the_samples_equals_run_json(run: Path) -> None:
    manifest = json.loads((run / "run.json").read_text())
    assert recomputed(run, manifest) == {
        "metrics": manifest["metrics"],
        "by_turn": manifest["by_turn"],
        "groups": manifest["groups"],
        "scores": manifest["totals"]["scores"],
        "tokens": manifest["totals"]["scored_turn_tokens"],
        "scored_turns": manifest["totals"]["scored_turns"],
        "counts": {k: manifest["totals"][k] for k in ("conversations", "errored_conversations", "turns", "errored_turns")},
        "first_errors": manifest["totals"]["first_errors"],
        "verdicts": manifest["totals"]["verdicts"],
        "judging": manifest["judging"],
    }


def test_there_are_runs_to_check() -> None:
    assert len(RUNS) >= 10 and any(p.name.startswith("local-") for p in RUNS)
