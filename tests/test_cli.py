"""The `mteval` command line, in process: bad input gives exit code 2 and a message that
says what to fix; plugins from --include-path are listed and run; `show` prints a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mteval.cli import EXIT_USAGE, main
from mteval.conversation import Conversation, Turn
from mteval.registry import register_task
from mteval.results import SAMPLES, load, read_manifest
from mteval.scoring import rule
from mteval.task import Task

SECRET = "sk-secret-value-123"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: no wrapped task names


def dirs(tmp_path: Path) -> list[str]:
    return ["--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- 7. bad input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tasks, bad, suggestion",
    [("example/arithmetc", "example/arithmetic", "example/arithmetic"), ("exampel", "exampel", "example")],
)
def test_unknown_task_lists_close_matches(capsys, tmp_path, tasks, bad, suggestion):
    code, out, err = run_cli(capsys, "run", "--tasks", tasks, "--model", "replay/gold", *dirs(tmp_path))
    assert code == EXIT_USAGE
    assert f"unknown task {tasks!r}" in err and "Did you mean:" in err and suggestion in err.split("Did you mean:")[1]
    assert out == ""
    assert not (tmp_path / "out").exists()


def test_unknown_provider_lists_close_matches(capsys, tmp_path):
    code, out, err = run_cli(capsys, "run", "--tasks", "example/arithmetic", "--model", "opnai/gpt-4o", *dirs(tmp_path))
    assert code == EXIT_USAGE
    assert "unknown provider 'opnai'" in err and "Did you mean: openai?" in err
    assert not (tmp_path / "out").exists()


def test_bad_key_value_argument(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "--tasks", "example/arithmetic", "--model", "replay/gold", "--model-args", "memory", *dirs(tmp_path))
    assert code == EXIT_USAGE
    assert "--model-args: expected key=value, got 'memory'" in err


GOOD_LINE = {"id": "ok-1", "turns": [{"id": "1", "user": "Start with the number 1. Add 1 to it.", "gold": "2", "references": {"answer": 2}}]}


@pytest.mark.parametrize(
    "bad_record, expected",
    [
        ({"id": "x"}, "field 'turns': Field required"),
        ({"id": "x", "turns": [{"id": 7, "user": "hi"}]}, "field 'turns.0.id': Input should be a valid string"),
        ({"id": "x", "turns": "not a list"}, "field 'turns'"),
        ({"id": "x", "turns": [{"id": "1", "user": ""}]}, "field 'turns.0.user'"),
        ({"id": "x", "turns": []}, "at least one turn"),
    ],
    ids=["missing-field", "wrong-type", "wrong-container", "empty-user", "no-turns"],
)
def test_malformed_conversation_file_names_file_line_and_field(capsys, tmp_path, fake_server, bad_record, expected):
    data = tmp_path / "convs.jsonl"
    data.write_text(json.dumps(GOOD_LINE) + "\n\n" + json.dumps(bad_record) + "\n")
    code, _, err = run_cli(
        capsys, "run", "--tasks", "example/arithmetic", "--task-args", f"data_path={data}",
        "--model", "openai/m", "--model-args", f"base_url={fake_server.openai_base_url}", *dirs(tmp_path),
    )  # fmt: skip
    assert code == EXIT_USAGE
    assert f"{data}:3: " in err, err  # line 3: blank lines count
    assert expected in err
    if "user" in expected:
        assert "non-empty user message" in err
    assert fake_server.count == 0


def test_invalid_json_line_is_named(capsys, tmp_path):
    data = tmp_path / "convs.jsonl"
    data.write_text(json.dumps(GOOD_LINE) + "\n" + '{"id": "x", "turns": [\n')
    code, _, err = run_cli(capsys, "run", "--tasks", "example/arithmetic", "--task-args", f"data_path={data}", "--model", "replay/gold", *dirs(tmp_path))
    assert code == EXIT_USAGE
    assert f"{data}:2: invalid JSON" in err


def test_missing_data_file_is_named(capsys, tmp_path):
    missing = tmp_path / "nope.jsonl"
    code, _, err = run_cli(capsys, "run", "--tasks", "example/arithmetic", "--task-args", f"data_path={missing}", "--model", "replay/gold", *dirs(tmp_path))
    assert code == EXIT_USAGE
    assert f"{missing}: cannot read" in err


def test_valid_custom_data_path_runs(capsys, tmp_path):
    data = tmp_path / "convs.jsonl"
    data.write_text(json.dumps(GOOD_LINE) + "\n")
    code, out, _ = run_cli(capsys, "run", "--tasks", "example/arithmetic", "--task-args", f"data_path={data}", "--model", "replay/gold", "--run-id", "r", "--json", *dirs(tmp_path))
    assert code == 0
    manifest = json.loads(out)
    assert manifest["tasks"]["example/arithmetic"]["conversations"] == 1
    assert manifest["tasks"]["example/arithmetic"]["data"]["source"] == str(data)
    assert manifest["metrics"]["example/arithmetic"]["exact"]["value"] == 1.0


@rule("nonempty")
def _nonempty(reply: str, turn) -> float:
    return float(bool(reply))


@register_task
class CliNoGold(Task):
    name = "testcli/no_gold"

    def load(self) -> list[Conversation]:
        return [Conversation(id="g1", turns=(Turn(id="t1", user="hello"), Turn(id="t2", user="and?")))]

    def scorers(self):
        return [_nonempty]


def test_gold_history_on_a_task_without_gold_fails_before_any_request(capsys, tmp_path, fake_server):
    argv = ["run", "--tasks", "testcli/no_gold", "--model", "openai/m", "--model-args", f"base_url={fake_server.openai_base_url}", *dirs(tmp_path)]
    code, _, err = run_cli(capsys, *argv, "--history", "gold")
    assert code == EXIT_USAGE
    assert "--history gold" in err and "testcli/no_gold" in err and "g1/t1" in err
    assert fake_server.count == 0
    assert not (tmp_path / "out").exists()
    # The same task runs in own-history mode.
    assert run_cli(capsys, *argv)[0] == 0
    assert fake_server.count == 2


# --- 8. secrets stay out of everything written --------------------------------------------
def test_api_key_in_model_args_is_never_stored_or_printed(capsys, tmp_path, fake_server):
    code, out, err = run_cli(
        capsys, "run", "--tasks", "example/arithmetic", "--limit", "2", "--run-id", "s",
        "--model", "openai/m", "--model-args", f"api_key={SECRET},base_url={fake_server.openai_base_url}", *dirs(tmp_path),
    )  # fmt: skip
    assert code == 0
    assert fake_server.count == 11
    assert fake_server.requests[0][2]["authorization"] == f"Bearer {SECRET}"
    assert "secret-value" not in out + err
    manifest = read_manifest(tmp_path / "out" / "s")
    assert manifest["model"]["args"] == {"base_url": fake_server.openai_base_url}
    assert any("base_url=" in part for part in manifest["command"])
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()] + [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert len(files) >= 3
    for path in files:
        assert b"secret-value-123" not in path.read_bytes(), path


# --- 9. plugins, families, show ----------------------------------------------------------
PLUGIN = '''
from mteval.conversation import Conversation, Turn
from mteval.registry import register_task
from mteval.scoring import rule
from mteval.task import Task


@rule("said_hi")
def said_hi(reply, turn):
    return 1.0 if reply == turn.gold else 0.0


class _Base(Task):
    description = "plugin task for the CLI tests"

    def load(self):
        return [Conversation(id=self.name + "-1", turns=(Turn(id="1", user="Say hi", gold="hi"), Turn(id="2", user="Again", gold="hi")))]

    def scorers(self):
        return [said_hi]


@register_task
class Alpha(_Base):
    name = "testplug/alpha"


@register_task
class Beta(_Base):
    name = "testplug/beta"
    version = "2"


@register_task
class Extra(_Base):
    name = "testplug/extra"
    main = False
'''


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    root = tmp_path / "plugins"
    (root / "testplug_family").mkdir(parents=True)
    (root / "testplug_family" / "__init__.py").write_text(PLUGIN)
    return root


def test_include_path_tasks_are_listed_and_the_family_runs_its_main_tasks(capsys, tmp_path, plugin_dir):
    code, out, _ = run_cli(capsys, "list", "tasks")
    assert code == 0 and "example/arithmetic" in out
    assert "testplug/" not in out  # only known once the folder is included

    code, out, _ = run_cli(capsys, "list", "tasks", "--include-path", str(plugin_dir))
    assert code == 0
    for name in ("testplug/alpha", "testplug/beta", "testplug/extra", "example/arithmetic"):
        assert name in out
    assert "include path" in out

    code, out, _ = run_cli(capsys, "run", "--tasks", "testplug", "--include-path", str(plugin_dir), "--model", "replay/gold", "--run-id", "fam", "--json", *dirs(tmp_path))
    assert code == 0
    manifest = json.loads(out)
    assert sorted(manifest["tasks"]) == ["testplug/alpha", "testplug/beta"]  # not the main=False one
    assert manifest["tasks"]["testplug/beta"]["version"] == "2"
    assert {t: m["said_hi"]["value"] for t, m in manifest["metrics"].items()} == {"testplug/alpha": 1.0, "testplug/beta": 1.0}
    frame = load(tmp_path / "out" / "fam")
    assert sorted(frame["task"].unique()) == ["testplug/alpha", "testplug/beta"] and len(frame) == 4

    code, out, _ = run_cli(capsys, "run", "--tasks", "testplug/extra", "--include-path", str(plugin_dir), "--model", "replay/gold", "--run-id", "extra", "--json", *dirs(tmp_path))
    assert code == 0 and list(json.loads(out)["tasks"]) == ["testplug/extra"]


def test_family_without_main_tasks_is_an_error_not_an_empty_run(capsys, tmp_path, plugin_dir):
    extra_only = tmp_path / "extra_only"
    (extra_only / "testplug2_family").mkdir(parents=True)
    (extra_only / "testplug2_family" / "__init__.py").write_text(
        PLUGIN.replace("testplug/", "testplug2/").replace('name = "testplug2/alpha"', 'name = "testplug2/alpha"\n    main = False')
        .replace('name = "testplug2/beta"', 'name = "testplug2/beta"\n    main = False')
    )
    code, out, err = run_cli(capsys, "run", "--tasks", "testplug2", "--include-path", str(extra_only), "--model", "replay/gold", *dirs(tmp_path))
    assert code == EXIT_USAGE
    assert "family 'testplug2' has no main tasks" in err and "testplug2/extra" in err
    assert not (tmp_path / "out").exists()


def test_show_prints_the_metrics_table_and_the_manifest(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "run", "--tasks", "example", "--model", "scripted/calculator", "--model-args", "memory=2", "--run-id", "shown", *dirs(tmp_path))
    assert code == 0
    run_dir = tmp_path / "out" / "shown"
    manifest = read_manifest(run_dir)
    metric = manifest["metrics"]["example/arithmetic"]["exact"]
    value = f"{metric['value']:.3f}"
    assert value in out and str(run_dir) in out

    code, out, _ = run_cli(capsys, "show", str(run_dir))
    assert code == 0
    assert "example/arithmetic" in out and "exact" in out and "[complete]" in out
    assert value in out and f"[{metric['ci'][0]:.3f}, {metric['ci'][1]:.3f}]" in out
    assert str(metric["n"]) in out and "scripted/calculator" in out

    code, out, _ = run_cli(capsys, "show", str(run_dir), "--json")
    assert code == 0
    assert json.loads(out) == json.loads((run_dir / "run.json").read_text())


def test_the_metrics_table_says_which_way_is_better_the_scale_and_the_headline(capsys, tmp_path):
    """Every number in the table carries its meaning: direction, scale, and the headline marked."""
    from mteval.report import print_report
    from mteval.progress import output_console

    manifest = {
        "model": {"id": "m"}, "history": "own", "status": "complete",
        "metrics": {"t/a": {
            "acc": {"value": 0.5, "ci": [0.4, 0.6], "n": 10, "semantics": {"direction": "higher", "scale": {"low": 0, "high": 1, "unit": "accuracy"}, "headline": True}},
            "latency": {"value": 1.2, "n": 10, "semantics": {"direction": "lower", "scale": {"low": 0, "unit": "s"}, "headline": False}},
            "spread": {"value": 3.0, "n": 10, "semantics": {"direction": "neither"}},
            "legacy": {"value": 0.1, "n": 10},
        }},
    }
    print_report(manifest, console=output_console())
    rows = {line.split("│")[2].strip(): [c.strip() for c in line.split("│")[1:-1]] for line in capsys.readouterr().out.splitlines() if line.startswith("│")}
    assert rows["acc *"][-2:] == ["higher", "0-1 accuracy"]
    assert rows["latency ↓"][-2:] == ["lower", "unbounded s"]
    assert rows["spread"][-2:] == ["descriptive", "unbounded"]
    assert rows["legacy"][-2:] == ["?", "not declared"]


def test_an_unfinished_run_says_how_many_conversations_were_planned():
    from mteval.report import summary_lines

    manifest = {"status": "interrupted", "tasks": {"t/a": {"conversations": 30}, "t/b": {"conversations": 10}},
                "totals": {"conversations": 12, "errored_conversations": 1}}
    assert summary_lines(manifest)[0].startswith("conversations: 12 of 40 planned (1 errored)")
    assert summary_lines({**manifest, "status": "complete"})[0].startswith("conversations: 12 (1 errored)")


def test_show_of_a_directory_that_is_not_a_run(capsys, tmp_path):
    code, out, err = run_cli(capsys, "show", str(tmp_path))
    assert code == EXIT_USAGE
    assert "not a run directory" in err and out == ""


def test_run_json_output_matches_run_directory(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "run", "--tasks", "example/arithmetic", "--model", "replay/gold", "--limit", "3", "--run-id", "j", "--json", *dirs(tmp_path))
    assert code == 0
    run_dir = tmp_path / "out" / "j"
    assert json.loads(out) == read_manifest(run_dir)
    assert len((run_dir / SAMPLES).read_text().splitlines()) == 3
