"""The command line as a newcomer meets it: numbers checked at parse time (argparse's own
one-line error, exit 2, no traceback), help on every option with its default, `judge`
sharing run's request options, `--limit FRACTION` and `--ids`, full names and periodic
progress lines when stdout/stderr are not a terminal."""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mteval.cli import build_parser, main
from mteval.data import read_conversations
from mteval.progress import RunProgress
from tests.servers import FakeLLMServer

EXAMPLE_DATA = Path(__file__).resolve().parents[1] / "tasks" / "example" / "data"


def dirs(tmp_path: Path) -> list[str]:
    return ["--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]


def example_ids() -> list[str]:
    (path,) = sorted(EXAMPLE_DATA.glob("*.jsonl"))
    return [c.id for c in read_conversations(path)]


# --- 1. numeric options ----------------------------------------------------------------------
BAD = [
    ("--limit", "-1", "--limit"),
    ("--limit", "0", "--limit"),
    ("--limit", "1.5", "--limit"),
    ("--limit", "ten", "--limit"),
    ("--timeout", "0", "--timeout"),
    ("--timeout", "-3", "--timeout"),
    ("--timeout", "nan", "--timeout"),
    ("--max-concurrency", "0", "--max-concurrency"),
    ("--max-concurrency", "-4", "--max-concurrency"),
    ("--max-attempts", "0", "--max-attempts"),
    ("--rate-limit", "0", "--rate-limit"),
    ("--rate-limit", "-2", "--rate-limit"),
    ("--rate-limit", "abc", "--rate-limit"),
    ("--rate-limit", "openai=abc", "--rate-limit"),
    ("--rate-limit", "=5", "--rate-limit"),
    ("--max-tokens", "0", "--max-tokens"),
    ("--ids", ",", "--ids"),
]


@pytest.mark.parametrize("option, value, named", BAD)
def test_bad_numbers_are_usage_errors_for_run(capsys, tmp_path, option, value, named):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--tasks", "example", "--model", "scripted/calculator", *dirs(tmp_path), f"{option}={value}"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert f"argument {named}" in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()  # refused before any run directory exists


@pytest.mark.parametrize("option, value", [("--timeout", "0"), ("--max-attempts", "-1"), ("--rate-limit", "abc"), ("--max-concurrency", "0")])
def test_bad_numbers_are_usage_errors_for_judge(capsys, tmp_path, option, value):
    with pytest.raises(SystemExit) as exc:
        main(["judge", str(tmp_path), "--judge", "scripted/constant", f"{option}={value}"])
    assert exc.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_rate_limit_abc_in_a_real_process_is_one_line_not_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mteval", "run", "--tasks", "example", "--model", "scripted/calculator", "--rate-limit", "abc", *dirs(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "mteval run: error: argument --rate-limit: expected requests per second (5, or provider=rate,... such as openai=5), got 'abc'"


def test_good_numbers_parse():
    args = build_parser().parse_args(["run", "--tasks", "t", "--model", "m", "--limit", "0.25", "--rate-limit", "openai=5,anthropic=0.5", "--timeout", "2.5"])
    assert args.limit == 0.25 and args.rate_limit == {"openai": 5.0, "anthropic": 0.5} and args.timeout == 2.5
    args = build_parser().parse_args(["run", "--tasks", "t", "--model", "m", "--limit", "3", "--rate-limit", "4"])
    assert args.limit == 3 and isinstance(args.limit, int) and args.rate_limit == {"*": 4.0}


# --- 2. help ---------------------------------------------------------------------------------
def _parsers(parser: argparse.ArgumentParser, name: str = "mteval"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child_name, child in action.choices.items():
                yield from _parsers(child, f"{name} {child_name}")


def test_every_option_of_every_command_has_help():
    missing = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in _parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # undo argparse's wrapping
    for expected in ("conversations in flight at once (default: 32)", "(default: mteval-results)", "seconds per request (default: 120.0)", "attempts per request, retries included (default: 6)"):
        assert expected in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_judge_has_the_request_options_of_run():
    def options(command: str) -> set[str]:
        parser = dict(_parsers(build_parser()))[f"mteval {command}"]
        return {s for a in parser._actions for s in a.option_strings}

    shared = {"--rate-limit", "--timeout", "--max-attempts", "--max-concurrency", "--cache-dir", "--no-cache"}
    assert shared <= options("run") and shared <= options("judge")


def test_judge_timeout_and_max_attempts_reach_the_judge(capsys, tmp_path):
    """A judge server slower than --timeout: with --max-attempts 1 each judge prompt is
    sent once (the default would retry it), fails on the timeout (the server would have
    answered) and is recorded as an error, not scored."""
    code = main(["run", "--tasks", "mt_eval/expansion", "--model", "scripted/echo", "--judge", "scripted/mt_eval_judge", "--limit", "1", "--no-progress", *dirs(tmp_path)])
    assert code == 0
    (run_dir,) = (tmp_path / "out").iterdir()
    capsys.readouterr()
    with FakeLLMServer(delay=0.5) as slow:
        code = main([
            "judge", str(run_dir), "--judge", "openai/slow-judge", "--judge-args", f"base_url={slow.openai_base_url},api_key=x",
            "--timeout", "0.1", "--max-attempts", "1", "--no-cache", "--no-progress", "--json", "--output-dir", str(tmp_path / "judged"),
        ])
        manifest = json.loads(capsys.readouterr().out)
        prompts = [json.dumps(body["messages"]) for body in slow.bodies()]
        assert code == 0 and len(prompts) == len(set(prompts)) > 0
    judge_stats = manifest["totals"]["calls"]["judges"]["openai/slow-judge"]
    assert judge_stats["errors"] == judge_stats["requests"] >= len(prompts)  # every request failed, none was retried
    assert manifest["totals"]["scores"]["ok"] == 0


# --- 3. --limit FRACTION and --ids ------------------------------------------------------------
def _run_json(capsys, tmp_path, *extra: str) -> dict:
    code = main(["run", "--tasks", "example", "--model", "replay/gold", "--no-progress", "--json", *dirs(tmp_path), *extra])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


def test_limit_fraction_takes_the_first_share_rounded_up(capsys, tmp_path):
    total = len(example_ids())
    manifest = _run_json(capsys, tmp_path, "--limit", "0.1")
    assert manifest["tasks"]["example/arithmetic"]["conversations"] == math.ceil(total * 0.1)
    assert manifest["limit"] == 0.1
    whole = _run_json(capsys, tmp_path, "--limit", str(math.ceil(total * 0.1)))
    assert whole["fingerprint"] != manifest["fingerprint"]  # a fraction is its own configuration


def test_ids_select_conversations_and_are_recorded(capsys, tmp_path):
    ids = example_ids()
    wanted = [ids[-1], ids[2]]
    manifest = _run_json(capsys, tmp_path, "--ids", ",".join(wanted))
    assert manifest["tasks"]["example/arithmetic"]["conversations"] == 2
    assert manifest["ids"] == wanted
    samples = (Path(manifest_dir(tmp_path, manifest)) / "samples.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["conversation"]["id"] for line in samples) == sorted(wanted)
    other = _run_json(capsys, tmp_path, "--ids", ids[0])
    assert other["fingerprint"] != manifest["fingerprint"] and other["run_id"] != manifest["run_id"]


def manifest_dir(tmp_path: Path, manifest: dict) -> Path:
    return tmp_path / "out" / manifest["run_id"]


def test_unknown_id_is_refused_with_examples(capsys, tmp_path):
    code = main(["run", "--tasks", "example", "--model", "replay/gold", "--no-progress", "--ids", "nope-1", *dirs(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "--ids: no conversation 'nope-1' in task(s) example/arithmetic" in err
    assert f"ids look like {sorted(example_ids())[0]}" in err and "Traceback" not in err


# --- 4. output that is not a terminal -------------------------------------------------------
def test_piped_list_prints_full_names(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mteval", "list", "tasks"], capture_output=True, text=True, timeout=60, env=_env(COLUMNS=None))
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines() if "rad_bench/" in line]
    assert any("rad_bench/reasoning" in line for line in lines) and any("rad_bench/synthesis" in line for line in lines)
    assert "…" not in result.stdout


def test_piped_run_prints_the_run_directory_on_one_line_and_progress_lines(tmp_path):
    out_dir = tmp_path / ("a-rather-long-folder-name-" * 4)
    result = subprocess.run(
        [sys.executable, "-m", "mteval", "run", "--tasks", "example", "--model", "scripted/calculator", "--model-args", "memory=3",
         "--output-dir", str(out_dir), "--no-cache"],
        capture_output=True, text=True, timeout=120, env=_env(COLUMNS=None, MTEVAL_PROGRESS_INTERVAL="0.05"),
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = out_dir.iterdir()
    assert f"run directory: {run_dir}" in result.stdout.splitlines()
    assert "example/arithmetic" in result.stdout and "…" not in result.stdout
    total = len(example_ids())
    final = rf"done: {total}/{total} conversations, \d+ turns, 0 errors, 0 cache hits, elapsed \d+:\d\d:\d\d, ETA 0:00:00"
    assert any(re.fullmatch(final, line) for line in result.stderr.splitlines()), result.stderr


def _env(**changes):
    import os

    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class _Stats:
    def __init__(self) -> None:
        self.cache_hits = 0


class _Client:
    def __init__(self) -> None:
        self.stats = _Stats()


def test_progress_lines_count_turns_errors_cache_hits_and_eta():
    stream = io.StringIO()
    client = _Client()
    progress = RunProgress(total=4, already_done=0, clients=[client], stream=stream, interval_s=0.02)
    assert progress.plain
    with progress:
        progress.advance({"status": "ok", "turns": [{"generated": True}, {"generated": True}, {"generated": False}]})
        client.stats.cache_hits = 3
        progress.advance({"status": "error", "turns": [{"generated": True}]})
        import time

        time.sleep(0.1)
    lines = stream.getvalue().splitlines()
    assert any(line.startswith("progress: 2/4 conversations, 3 turns, 1 errors, 3 cache hits, elapsed ") for line in lines), lines
    assert "ETA unknown" not in lines[-2]  # two done: the rest is estimated
    assert lines[-1].startswith("stopped: 2/4 conversations")


def test_no_progress_prints_nothing():
    stream = io.StringIO()
    with RunProgress(total=3, already_done=0, clients=[], enabled=False, stream=stream, interval_s=0.01) as progress:
        progress.advance({"status": "ok", "turns": []})
    assert stream.getvalue() == ""


def test_piped_compare_prints_full_task_names():
    baseline = Path(__file__).resolve().parents[1] / "docs" / "ci" / "baseline"
    result = subprocess.run([sys.executable, "-m", "mteval", "compare", str(baseline), str(baseline)], capture_output=True, text=True, timeout=120, env=_env(COLUMNS=None))
    assert result.returncode == 0, result.stderr
    assert "example/arithmetic" in result.stdout and "…" not in result.stdout


def test_the_python_api_and_the_cli_share_the_default_output_dir():
    from mteval.cli_options import DEFAULT_OUTPUT_DIR
    from mteval.runner import RunConfig

    assert RunConfig(tasks="example", model="scripted/echo").output_dir == DEFAULT_OUTPUT_DIR == Path("mteval-results")


def test_jury_from_args_is_the_one_reading_of_the_judge_options(tmp_path):
    """`mteval run` and `mteval judge` build their jury from the same options the same way;
    only the judge command requires one."""
    from mteval.cli import build_parser
    from mteval.cli_options import jury_from_args
    from mteval.errors import ConfigurationError

    jury_file = tmp_path / "jury.yaml"
    jury_file.write_text("aggregate: median\njurors:\n  - model: scripted/echo\n  - model: scripted/constant\n")
    run = build_parser().parse_args(["run", "--tasks", "x", "--model", "scripted/echo", "--judge", "scripted/echo,scripted/constant",
                                     "--judge-args", "text=hi", "--aggregate", "median"])
    jury = jury_from_args(run)
    assert jury is not None and [j.model for j in jury.jurors] == ["scripted/echo", "scripted/constant"]
    assert jury.aggregate == "median" and jury.jurors[1].args == {"text": "hi"}
    assert jury_from_args(build_parser().parse_args(["run", "--tasks", "x", "--model", "scripted/echo"])) is None
    both = build_parser().parse_args(["judge", "runs/x", "--judge", "scripted/echo", "--jury", str(jury_file)])
    with pytest.raises(ConfigurationError, match="give either --judge or --jury, not both"):
        jury_from_args(both)
    with pytest.raises(ConfigurationError, match="mteval judge needs exactly one of --judge or --jury"):
        jury_from_args(both, required_by="mteval judge")
    neither = build_parser().parse_args(["judge", "runs/x"])
    with pytest.raises(ConfigurationError, match="mteval judge needs exactly one of --judge or --jury"):
        jury_from_args(neither, required_by="mteval judge")
    from_file = jury_from_args(build_parser().parse_args(["judge", "runs/x", "--jury", str(jury_file)]), required_by="mteval judge")
    assert from_file is not None and from_file.aggregate == "median" and len(from_file.jurors) == 2
