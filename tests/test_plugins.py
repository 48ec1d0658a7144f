"""The generic registry and third-party entry points (groups `mteval.<kind>`).

The plugin test writes a real distribution (a package plus a `*.dist-info` folder with
`entry_points.txt`) into a temp dir and runs the CLI in a fresh interpreter with that
dir on sys.path, exactly how an installed plugin is found."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mteval.plugins import DuplicateRegistration, Registry, UnknownName

PLUGIN = '''
from mteval.models.base import ModelOutput
from mteval.models.scripted import ScriptedModel, ScriptEntry
from mteval.transcript import Usage


class ShoutModel(ScriptedModel):
    """Replies with the last user message in capitals."""

    provider = "shout"

    def validate(self):
        pass

    async def generate(self, messages, params, context):
        text = messages[-1].content.upper()
        return ModelOutput(text=text, usage=Usage(input_tokens=1, output_tokens=1), finish_reason="stop")


def _loud(messages, params, context, args):
    return messages[-1].content.upper() + "!" * int(args.get("volume", 1))


LOUD = ScriptEntry(_loud, frozenset({"volume"}))


def register(subparsers):
    parser = subparsers.add_parser("hello", help="say hello from a plugin")
    parser.add_argument("who")
    parser.set_defaults(handler=lambda args: print(f"hello {args.who}") or 7)
'''


def _install_plugin(root: Path, entry_points: str) -> dict[str, str]:
    (root / "mtplug").mkdir()
    (root / "mtplug" / "__init__.py").write_text(PLUGIN)
    dist = root / "mtplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mtplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    return env


def _run(env: dict[str, str], *code_or_cli: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *code_or_cli], env=env, capture_output=True, text=True, timeout=60)


def test_entry_points_add_a_provider_and_a_command(tmp_path: Path) -> None:
    env = _install_plugin(tmp_path, """
        [mteval.providers]
        shout = mtplug:ShoutModel

        [mteval.commands]
        hello = mtplug
    """)
    code = (
        "import asyncio\n"
        "from mteval.conversation import Message\n"
        "from mteval.models import create_model, GenerationParams, RequestContext\n"
        "m = create_model('shout/any')\n"
        "out = asyncio.run(m.generate([Message(role='user', content='hi there')], GenerationParams(), RequestContext()))\n"
        "print(type(m).__name__, out.text)\n"
    )
    made = _run(env, "-c", code)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "ShoutModel HI THERE"

    listed = _run(env, "-m", "mteval", "list", "providers")
    assert listed.returncode == 0, listed.stderr
    assert "shout" in listed.stdout and "openai" in listed.stdout

    hello = _run(env, "-m", "mteval", "hello", "world")
    assert hello.stdout.strip() == "hello world"
    assert hello.returncode == 7, hello.stderr


def test_an_entry_point_script_gets_its_args_checked(tmp_path: Path) -> None:
    env = _install_plugin(tmp_path, """
        [mteval.scripts]
        loud = mtplug:LOUD
        bare = mtplug:_loud
    """)
    code = (
        "import asyncio\n"
        "from mteval.conversation import Message\n"
        "from mteval.errors import ConfigurationError\n"
        "from mteval.models import create_model, GenerationParams, RequestContext\n"
        "m = create_model('scripted/loud', {'volume': 2})\n"
        "print(asyncio.run(m.generate([Message(role='user', content='hi')], GenerationParams(), RequestContext())).text)\n"
        "try:\n"
        "    create_model('scripted/loud', {'volum': 2}).validate()\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
        "create_model('scripted/bare', {'anything': 1}).validate()  # a bare function declares no args\n"
        "print('bare ok')\n"
    )
    done = _run(env, "-c", code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "HI!!"
    assert "scripted/loud: unknown model arg 'volum'" in lines[1] and "volume" in lines[1]
    assert lines[2] == "bare ok"


def test_a_plugin_cannot_replace_a_builtin_provider(tmp_path: Path) -> None:
    env = _install_plugin(tmp_path, """
        [mteval.providers]
        openai = mtplug:ShoutModel
    """)
    done = _run(env, "-m", "mteval", "list", "providers")
    assert done.returncode != 0
    assert "provider 'openai' is registered twice" in done.stderr
    assert "mtplug:ShoutModel" in done.stderr


def test_a_broken_command_plugin_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = _install_plugin(tmp_path, """
        [mteval.commands]
        broken = mtplug.missing_module:register
    """)
    done = _run(env, "-m", "mteval", "--help")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "mtplug.missing_module" in done.stderr


def test_registry_names_duplicates_and_suggestions() -> None:
    reg: Registry[int] = Registry("widgets_for_test")
    reg.register("alpha", 1)
    reg.register("alpha", 1)  # same entry again: a re-import, not a conflict
    reg.register("beta", 2, origin="plugin b")
    assert reg.get_entry("alpha") == 1 and list(reg) == ["alpha", "beta"] and "beta" in reg
    with pytest.raises(DuplicateRegistration, match=r"widgets_for_test 'alpha' is registered twice \(builtin and plugin x\)"):
        reg.register("alpha", 3, origin="plugin x")
    with pytest.raises(UnknownName, match=r"unknown widgets_for_test 'alpah'\. Did you mean: alpha\?"):
        reg.get_entry("alpah")


def test_an_aggregation_added_in_one_place_reaches_cli_jury_files_and_escalation(tmp_path: Path) -> None:
    import math

    from mteval.cli import build_parser
    from mteval.scoring.aggregations import AGGREGATIONS, register_aggregation
    from mteval.scoring.escalation import possible_difference
    from mteval.scoring.judge_spec import Verdict
    from mteval.scoring.jury import JuryConfig, aggregate

    def lowest(usable, kind):  # monotone in every score
        return min(v.value for v in usable if v.value is not None), None

    register_aggregation("lowest_for_test", lowest, monotone_score=True)
    try:
        args = build_parser().parse_args(["run", "--tasks", "x", "--model", "scripted/echo", "--aggregate", "lowest_for_test"])
        assert args.aggregate == "lowest_for_test"
        jury = tmp_path / "jury.yaml"
        jury.write_text("aggregate: lowest_for_test\njurors:\n  - model: scripted/echo\n")
        assert JuryConfig.from_file(jury).aggregate == "lowest_for_test"
        heard = [Verdict(judge="a", spec="s", status="ok", value=6.0)]
        assert aggregate(heard, "lowest_for_test") == (6.0, None)
        # one silent juror on a 1..10 scale could pull the lowest score from 6 down to 1
        assert possible_difference(heard, [(1.0, 10.0)], "lowest_for_test", "score", aggregate) == 5.0
        assert possible_difference(heard, [None], "lowest_for_test", "score", aggregate) == math.inf
    finally:
        AGGREGATIONS.unregister("lowest_for_test")
    jury.write_text("aggregate: meen\njurors:\n  - model: scripted/echo\n")
    with pytest.raises(Exception, match=r"unknown aggregation 'meen'\. Did you mean: mean"):
        JuryConfig.from_file(jury)


def test_a_registered_importer_becomes_an_import_subcommand() -> None:
    from mteval.cli import build_parser, main
    from mteval.importers.registry import IMPORTERS, register_importer

    seen: list[argparse.Namespace] = []

    def configure(parser):
        parser.add_argument("source")
        parser.set_defaults(handler=lambda args: seen.append(args) or 0)

    register_importer("toy_for_test", "a toy format", configure)
    try:
        args = build_parser().parse_args(["import", "toy_for_test", "answers.jsonl"])
        assert (args.format, args.options) == ("toy_for_test", ["answers.jsonl"])
        assert main(["import", "toy_for_test", "answers.jsonl"]) == 0
        assert (seen[0].format, seen[0].source) == ("toy_for_test", "answers.jsonl")
    finally:
        IMPORTERS.unregister("toy_for_test")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["import", "toy_for_test", "answers.jsonl"])


def test_the_family_registers_its_importer_and_help_lists_it(capsys) -> None:
    """`mteval import rad-bench` comes from the RAD-Bench family, not from the engine, and
    building the command line imports no family (they load when `import` runs)."""
    from mteval.cli import main
    from mteval.importers.registry import get_importer

    assert get_importer("rad-bench").configure.__module__ == "mteval_tasks.rad_bench.import_command"
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    assert "fastchat, rad-bench" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["import", "rad-bench", "--help"])
    assert "--questions" in capsys.readouterr().out
    fresh = _run(dict(os.environ), "-c", "import sys; from mteval.cli import build_parser; build_parser(); "
                 "print(sorted(m for m in sys.modules if m.startswith(('mteval_tasks.', 'mteval.importers.common'))))")
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.strip() == "[]"


def test_a_cascade_plugin_that_imports_the_judge_definitions_loads(tmp_path: Path) -> None:
    """A cascade's module may import `mteval.scoring.judge_spec` (a judge package that also
    ships definitions): registering the shipped cascade must not read the entry points while
    judge_spec is half-imported (it did: "cannot import name 'JudgeSpec' from partially
    initialized module")."""
    (tmp_path / "mtcascade.py").write_text(
        "from mteval.scoring.cascades import Cascade\n"
        "from mteval.scoring.judge_spec import JudgeSpec  # noqa: F401\n"
        "strict = Cascade(('pairwise', 'rubric'))\n"
    )
    env = _install_plugin(tmp_path, """
        [mteval.cascades]
        strict = mtcascade:strict
    """)
    code = (
        "from mteval.scoring.judge_spec import load_spec\n"
        "from mteval.scoring.cascades import cascade_stages, default_cascade\n"
        "print(load_spec('rubric').name, cascade_stages('strict'), default_cascade())\n"
    )
    done = _run(env, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["rubric", "['pairwise',", "'rubric']", "amulet"]


def test_a_script_entry_checks_its_numeric_args() -> None:
    """A `ScriptEntry` as an entry point names it (not through `register_script`): its
    `number_args` count as declared args and a value of the wrong kind is refused by validate()."""
    from mteval.errors import ConfigurationError
    from mteval.models.scripted import SCRIPTS, ScriptedModel, ScriptEntry

    entry = ScriptEntry(lambda messages, params, context, args: "x", frozenset({"tone"}), {"volume": "positive integer"})
    assert entry.args == {"tone", "volume"}
    SCRIPTS.register("numeric_for_test", entry, replace=True)
    try:
        ScriptedModel("numeric_for_test", {"volume": 3, "tone": "low"}).validate()
        with pytest.raises(ConfigurationError, match=r"^scripted/numeric_for_test: model arg volume must be a positive integer, got 'loud'$"):
            ScriptedModel("numeric_for_test", {"volume": "loud"}).validate()
    finally:
        SCRIPTS.unregister("numeric_for_test")
