"""Start-up stays lean: importing the runner and doing a run without judges must not import
what such a run never uses (every built-in task family, the duplex engine, judge
definitions and aggregations), nor build the schemas of the judging models. Each was
measured at start-up (issue #18, cached re-run); this keeps them from coming back
through an innocent top-level import."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

NOT_AT_START_UP = (
    "mteval_tasks.",  # task families: imported by name when a run asks for them
    "mteval.duplex",
    "mteval.scoring.judge_spec",
    "mteval.scoring.aggregations",
    "mteval.scoring.escalation",
    "mteval.scoring.parsers",
    "mteval_judges",
    "tenacity",  # only once a request failed and is retried
    "aiolimiter",  # only when --rate-limit is set
)
DEFERRED_MODELS = ("mteval.scoring.jury:JuryConfig", "mteval.scoring.jury:JurorConfig", "mteval.scoring.jury:AdaptiveConfig")


def _unwanted_after(code: str) -> dict[str, list[str]]:
    probe = textwrap.dedent(code) + textwrap.dedent(f"""
        import importlib, json, sys
        unwanted = sorted(m for m in sys.modules if m.startswith({NOT_AT_START_UP!r}))
        built = []
        for path in {DEFERRED_MODELS!r}:
            module, name = path.split(":")
            if getattr(importlib.import_module(module), name).__pydantic_complete__:
                built.append(path)
        print(json.dumps({{"modules": unwanted, "schemas built": built}}))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_runner_imports_no_family_judging_or_duplex_code():
    assert _unwanted_after("import mteval.runner") == {"modules": [], "schemas built": []}


def test_a_run_without_judges_imports_none_of_it_either(tmp_path):
    code = f"""
        from pathlib import Path
        from mteval.conversation import Conversation, Turn
        from mteval.registry import register_task
        from mteval.runner import RunConfig, Runner
        from mteval.scoring import rule
        from mteval.task import Task

        @rule("nonempty")
        def nonempty(reply, turn):
            return float(bool(reply))

        @register_task
        class Tiny(Task):
            name = "tiny/echo"

            def load(self):
                return [Conversation(id=f"c{{i}}", turns=(Turn(id="0", user="hi"), Turn(id="1", user="again"))) for i in range(3)]

            def scorers(self):
                return [nonempty]

        config = RunConfig(tasks="tiny/echo", model="scripted/echo", output_dir=Path({str(tmp_path / "runs")!r}),
                           cache_dir=Path({str(tmp_path / "cache")!r}), progress=False, command=["test"])
        outcome = Runner(config).run()
        assert outcome.manifest["totals"]["scored_turns"] == 6, outcome.manifest["totals"]
    """
    assert _unwanted_after(code) == {"modules": [], "schemas built": []}


def test_the_probe_sees_a_judging_import():
    """The check above can fail: a judge definition loaded by hand shows up in it."""
    found = _unwanted_after("""
        import mteval.runner
        import mteval.scoring.judge_spec
        from mteval.scoring.jury import JuryConfig
        JuryConfig.from_models(["scripted/echo"])
    """)
    assert "mteval.scoring.judge_spec" in found["modules"] and "mteval.scoring.jury:JuryConfig" in found["schemas built"]
