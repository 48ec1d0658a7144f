"""A fresh run reads its own samples.jsonl in one pass for its manifest (nothing can be
superseded); the manifest is the one the two-pass reading (latest line per conversation)
gives, and the one-pass reader keeps the line checks."""

from __future__ import annotations

import json

import pytest

import tests.test_runner_lazy as lazy
from mteval.results import ResultsError, iter_sample_dicts


def test_a_fresh_runs_manifest_is_the_two_pass_one(tmp_path, monkeypatch):
    seen: list[bool] = []
    from mteval.manifest_builder import ManifestBuilder

    build = ManifestBuilder.build

    def spying(self, *args, **kwargs):
        seen.append(kwargs.get("one_invocation", False))
        return build(self, *args, **kwargs)

    monkeypatch.setattr(ManifestBuilder, "build", spying)
    probe = lazy.Probe()
    cfg = lazy.RunConfig(tasks="lazyfam/stream", model="probe/m", output_dir=tmp_path, use_cache=False, progress=False, command=["t"], run_id="r")
    runner = lazy.Runner(cfg, model=probe)
    manifest = runner.run().manifest
    assert seen == [False, True]  # the "running" manifest, then the final one in one pass
    prepared = runner.plan.prepare()
    two_pass = runner.manifests.build(prepared.run_dir, prepared.fingerprint, prepared.task_info, 0.0, status="complete",
                                      calls=manifest["totals"]["calls"])
    for key in ("totals", "metrics", "by_turn", "groups", "judging", "tasks"):
        assert manifest[key] == two_pass[key], key
    assert manifest["totals"]["conversations"] == lazy.N


def test_a_resumed_run_reads_the_latest_line_per_conversation(tmp_path):
    lazy.STATE.update(ids=None)
    lazy.run(tmp_path, run_id="r", limit=4)
    samples = tmp_path / "r" / "samples.jsonl"
    first = samples.read_bytes().splitlines(keepends=True)[0]
    samples.write_bytes(samples.read_bytes() + first)  # a later line for the same conversation
    assert len(list(iter_sample_dicts(tmp_path / "r"))) == 4
    assert len(list(iter_sample_dicts(tmp_path / "r", one_invocation=True))) == 5  # what the flag promises away


def test_the_one_pass_reader_checks_lines_as_the_two_pass_one(tmp_path):
    path = tmp_path / "samples.jsonl"
    good = json.dumps({"task": "t", "conversation": {"id": "c", "turns": []}, "turns": []})
    path.write_text(good + "\n\n" + good.replace('"c"', '"d"') + "\n" + good[:10], encoding="utf-8")  # blank line, torn tail
    assert [s["conversation"]["id"] for s in iter_sample_dicts(tmp_path, one_invocation=True)] == ["c", "d"]
    path.write_text(good + "\n{not json\n", encoding="utf-8")
    for one in (False, True):
        with pytest.raises(ResultsError, match=r"samples.jsonl:2: invalid JSON"):
            list(iter_sample_dicts(tmp_path, one_invocation=one))
