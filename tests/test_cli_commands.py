"""Every subcommand, `run`, `list` and `show` included, is a module in `mteval.commands`
registered in `COMMANDS` with `register(subparsers)` and a `handler`; `mteval.cli` only
parses, dispatches and maps user errors to exit codes, and `mteval --help` stays light."""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mteval
from mteval import cli, cli_options
from mteval.cli import build_parser, main
from mteval.commands import COMMANDS

PACKAGE = Path(mteval.__file__).parent


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_help_lists_the_commands_in_registry_order_run_list_show_first():
    names = list(_subparsers(build_parser()))
    assert names[:3] == ["run", "list", "show"]
    assert names == ["run", "list", "show", "judge", "compare", "import", "leaderboard", "penalty", "view"]
    assert COMMANDS["list"] == "mteval.commands.listing" and COMMANDS["run"] in COMMANDS.values()


@pytest.mark.parametrize(
    ("argv", "module", "function"),
    [
        (["run", "--tasks", "example", "--model", "scripted/echo"], "mteval.commands.run", "cmd_run"),
        (["list", "tasks"], "mteval.commands.listing", "cmd_list"),
        (["show", "some/run"], "mteval.commands.show", "cmd_show"),
    ],
)
def test_run_list_and_show_dispatch_through_their_handler(argv, module, function):
    handler = build_parser().parse_args(argv).handler
    assert (handler.__module__, handler.__name__) == (module, function)


def test_cli_has_no_command_special_cases_and_commands_do_not_import_cli():
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not {"run", "list", "show"} & literals  # no `if args.command == "run"`
    importers = []
    for path in sorted((PACKAGE / "commands").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "mteval.cli":
                importers.append(path.name)
    assert importers == []


def test_old_names_still_import_from_mteval_cli():
    assert cli.parse_kv is cli_options.parse_kv
    assert (cli.EXIT_USAGE, cli.EXIT_RUN_ERRORS, cli.EXIT_INTERRUPTED) == (2, 3, 130)
    assert cli.parse_kv('a=1,b=x,c=TRUE,d=null,e=1.5,h={"X-A": "1,2"}') == {
        "a": 1, "b": "x", "c": True, "d": None, "e": 1.5, "h": {"X-A": "1,2"}
    }


def test_help_imports_no_heavy_module():
    """`mteval --help` builds every command's parser; none may import pydantic (through the
    model or scoring packages), pandas, numpy, litellm or openai to do it."""
    code = textwrap.dedent(
        """
        import contextlib, io, json, sys
        from mteval.cli import main
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(["--help"])
        heavy = ("pydantic", "pandas", "numpy", "litellm", "openai", "anthropic", "rich", "mteval.models", "mteval.scoring")
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m in heavy)))
        """
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(loaded) == []


def test_run_and_judge_share_one_definition_of_the_judge_options():
    parsers = _subparsers(build_parser())

    def judge_options(command: str) -> list[tuple]:
        actions = [a for a in parsers[command]._actions if a.dest in ("judge", "judge_args", "jury", "aggregate")]
        return [(a.option_strings, a.default, a.help, list(a.choices or [])) for a in actions]

    assert len(judge_options("run")) == 4 and judge_options("run") == judge_options("judge")


def test_aggregate_choices_are_read_from_the_registry_when_parsing(capsys):
    from mteval.scoring.aggregations import AGGREGATIONS, register_aggregation

    parser = build_parser()  # before the aggregation exists
    register_aggregation("late_for_test", lambda usable, kind: (None, None))
    try:
        assert parser.parse_args(["judge", "r", "--judge", "scripted/echo", "--aggregate", "late_for_test"]).aggregate == "late_for_test"
    finally:
        AGGREGATIONS.unregister("late_for_test")
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["run", "--tasks", "x", "--model", "y", "--aggregate", "late_for_test"])
    assert exc.value.code == 2
    assert "invalid choice: 'late_for_test' (choose from 'mean', 'median'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "how --judge models are combined: mean, median," in capsys.readouterr().out


def test_a_plugin_command_without_a_handler_is_a_usage_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "mteval_nohandler_cmd.py").write_text(
        "def register(sub):\n    sub.add_parser('nohandler', help='a plugin that forgot set_defaults')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    COMMANDS.register("nohandler", "mteval_nohandler_cmd", origin="test plugin")
    try:
        assert main(["nohandler"]) == 2
    finally:
        COMMANDS.unregister("nohandler")
    assert "command 'nohandler' defines no handler" in capsys.readouterr().err


def test_a_missing_module_names_the_extra_that_installs_it():
    from mteval.cli import user_error

    code, message = user_error(ModuleNotFoundError("No module named 'llama_cpp'", name="llama_cpp.server"))
    assert code == 1 and "pip install 'mteval-harness[local]'" in message  # PyPI's "mteval" is another project
    code, message = user_error(ModuleNotFoundError("No module named 'zzz'", name="zzz"))
    assert code == 1 and "[" not in message  # no extra brings it: no extra is named
