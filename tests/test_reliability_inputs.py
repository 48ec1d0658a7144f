"""Malformed input of every kind a user can hand mteval (issue 14, defects 6, 8, 9, 12).

Each case asserts the exit code, a one-line message naming the file with its line (or the
option and field), no traceback, and that nothing was lost: files mteval was given are
left as they were, and nothing is written outside --output-dir.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml

from mteval.cli import main

GOOD = {"id": "c1", "turns": [{"id": "1", "user": "Start with the number 2. Add 3 to it. What is the result?", "gold": "5", "references": {"answer": 5}}]}
GOOD_LINE = json.dumps(GOOD) + "\n"


@dataclass
class Case:
    name: str
    build: Callable[[Path], list[str]]
    """Writes the bad input under tmp and returns the argv."""
    code: int
    expect: tuple[str, ...]
    """Fragments the message must contain; `{tmp}` is the test's directory."""


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def common(tmp: Path) -> list[str]:
    return ["--output-dir", str(tmp / "out"), "--cache-dir", str(tmp / "cache"), "--no-progress"]


def data_run(content: bytes | str, name: str = "data.jsonl") -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        path = write(tmp / name, content) if content is not None else tmp / name
        return ["run", "--tasks", "example/arithmetic", "--task-args", f"data_path={path}", "--model", "replay/gold", *common(tmp)]

    return build


def finished_run(tmp: Path) -> Path:
    """A real finished run to damage."""
    assert main(["run", "--tasks", "example/arithmetic", "--limit", "2", "--model", "replay/gold", "--run-id", "r", *common(tmp)]) == 0
    return tmp / "out" / "r"


def damaged_manifest(content: bytes | str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        run_dir = finished_run(tmp)
        write(run_dir / "run.json", content)
        return ["show", str(run_dir)]

    return build


def resume_damaged_manifest(samples: bytes | None) -> Callable[[Path], list[str]]:
    """A finished run whose run.json is torn (and samples.jsonl replaced by `samples`), run again."""

    def build(tmp: Path) -> list[str]:
        run_dir = finished_run(tmp)
        write(run_dir / "run.json", '{"schema": "mteval.run/1",\n  "status": ')
        if samples is not None:
            write(run_dir / "samples.jsonl", samples)
        return ["run", "--tasks", "example/arithmetic", "--limit", "2", "--model", "replay/gold", "--run-id", "r", *common(tmp)]

    return build


def damaged_samples(line: bytes, command: str) -> Callable[[Path], list[str]]:
    """A good first sample line followed by a bad one, then `command` on that run."""

    def build(tmp: Path) -> list[str]:
        run_dir = finished_run(tmp)
        good = (run_dir / "samples.jsonl").read_bytes().splitlines(keepends=True)[0]
        write(run_dir / "samples.jsonl", good + line + b"\n")
        if command == "resume":
            return ["run", "--tasks", "example/arithmetic", "--limit", "2", "--model", "replay/gold", "--run-id", "r", *common(tmp)]
        if command == "judge":
            return ["judge", str(run_dir), "--judge", "scripted/constant", "--judge-def", "rubric", "--output-dir", str(tmp / "judged"), "--no-cache"]
        return ["leaderboard", "build", "--results", str(tmp / "out"), "--out", str(tmp / "site")]

    return build


def reshaped_samples(change: Callable[[dict], None], command: str) -> Callable[[Path], list[str]]:
    """The first sample line again as line 2, valid JSON with one field of the wrong shape."""

    def build(tmp: Path) -> list[str]:
        good = (finished_run(tmp) / "samples.jsonl").read_bytes().splitlines()[0]
        sample = json.loads(good)
        sample["conversation"]["id"] = "c-second"
        change(sample)
        return damaged_samples(json.dumps(sample).encode(), command)(tmp)

    return build


def _set(path: str, value: object) -> Callable[[dict], None]:
    """Set (or with `...`, delete) the field at a dotted path such as `turns.0.index`."""

    def change(sample: dict) -> None:
        *parents, last = path.split(".")
        node: object = sample
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]  # type: ignore[index]
        key = int(last) if isinstance(node, list) else last
        if value is ...:
            del node[key]  # type: ignore[union-attr, arg-type]
        else:
            node[key] = value  # type: ignore[index]

    return change


def plugin_task(name: str, load_body: str) -> Callable[[Path], list[str]]:
    """A task plugin (--include-path) named `badload/<name>` whose load() is `load_body`."""
    code = (
        "from mteval.conversation import Conversation\nfrom mteval.registry import register_task\nfrom mteval.task import Task\n\n\n"
        f"@register_task\nclass Bad(Task):\n    name = 'badload/{name}'\n    version = '1'\n\n    def load(self):\n        {load_body}\n\n"
        "    def scorers(self):\n        return []\n"
    )
    return with_file(f"plugins/badload_{name}.py", code, run_with("--include-path", "{tmp}/plugins", tasks=f"badload/{name}"))


def prices(content: bytes | str, suffix: str = ".json") -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        finished_run(tmp)
        path = write(tmp / f"prices{suffix}", content)
        return ["leaderboard", "build", "--results", str(tmp / "out"), "--out", str(tmp / "site"), "--prices", str(path)]

    return build


def run_with(*extra: str, model: str = "replay/gold", tasks: str = "example/arithmetic") -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        argv = [a.replace("{tmp}", str(tmp)) for a in extra]
        return ["run", "--tasks", tasks, "--model", model.replace("{tmp}", str(tmp)), *common(tmp), *argv]

    return build


def with_file(path: str, content: bytes | str, builder: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        write(tmp / path, content)
        return builder(tmp)

    return build


def judge_def(content: bytes) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        run_dir = finished_run(tmp)
        path = write(tmp / "judge.yaml", content)
        return ["judge", str(run_dir), "--judge", "scripted/constant", "--judge-def", str(path), "--output-dir", str(tmp / "judged"), "--no-cache"]

    return build


def fastchat_answers(content: bytes) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        write(tmp / "answers" / "model-a.jsonl", content)
        return ["import", "fastchat", "--answers", str(tmp / "answers"), "--output-dir", str(tmp / "imported")]

    return build


def output_dir_is_file(tmp: Path) -> list[str]:
    write(tmp / "out", "a file")
    return ["run", "--tasks", "example/arithmetic", "--model", "replay/gold", "--output-dir", str(tmp / "out"), "--no-progress", "--no-cache"]


def cache_dir_is_file(tmp: Path) -> list[str]:
    write(tmp / "cache", "a file")
    return ["run", "--tasks", "example/arithmetic", "--model", "replay/gold", *common(tmp)]


D = "{tmp}/data.jsonl"
CASES = [
    # task data (defect 6 and empty files, defect 12)
    Case("data-latin1-byte", data_run(GOOD_LINE.encode() + '{"id": "c2", "turns": [{"id": "1", "user": "caf\xe9"}]}\n'.encode("latin-1")), 2, (f"{D}:2: not UTF-8", "0xe9")),
    Case("data-utf16", data_run(GOOD_LINE.encode("utf-16")), 2, (f"{D}:1: not UTF-8",)),
    Case("data-invalid-json", data_run(GOOD_LINE + GOOD_LINE.replace("c1", "c2") + '{"id": "c3", "turns": [\n'), 2, (f"{D}:3: invalid JSON",)),
    Case("data-json-list", data_run("[1, 2]\n"), 2, (f"{D}:1: expected a JSON object",)),
    Case("data-missing-turns", data_run('{"id": "c1"}\n'), 2, (f"{D}:1:", "turns")),
    Case("data-turns-not-a-list", data_run('{"id": "c1", "turns": "hello"}\n'), 2, (f"{D}:1:", "turns")),
    Case("run-baseline-not-a-run", lambda tmp: ["run", "--tasks", "example/arithmetic", "--limit", "1", "--model", "replay/gold",
         "--baseline", str(tmp / "nowhere"), *common(tmp)], 2, ("--baseline {tmp}/nowhere: not a run directory",)),
    Case("data-repeated-turn-id", data_run(GOOD_LINE + '{"id": "c2", "turns": [{"id": "1", "user": "a", "gold": "1"}, {"id": "1", "user": "b", "gold": "2"}]}\n'), 2,
         (f"{D}:2:", "turn ids must be unique", "'1' is used twice")),
    # a JSON escape of a lone surrogate parses but no request can carry it (it was sent, failed and
    # was retried as the server's "unreadable response", or stored changed); name the field instead
    Case("data-lone-surrogate", data_run(GOOD_LINE + '{"id": "c2", "turns": [{"id": "1", "user": "x \\ud800 y", "gold": "1"}]}\n'), 2,
         (f"{D}:2: field 'turns.0.user'", "lone surrogate")),
    Case("data-empty-file", data_run(""), 2, ("no conversations in", D)),
    Case("data-blank-lines", data_run("\n\n  \n"), 2, ("no conversations in", D)),
    Case("data-missing-file", data_run(None, "absent.jsonl"), 2, ("{tmp}/absent.jsonl", "cannot read")),
    Case("data-is-a-directory", with_file("dir.jsonl/x", "", data_run(None, "dir.jsonl")), 2, ("{tmp}/dir.jsonl", "directory")),
    # a plugin task whose load() gives no Conversations: an AttributeError/TypeError traceback from the data hash before
    Case("plugin-load-yields-dicts", plugin_task("dicts", "yield {'id': 'c1', 'turns': [{'id': '1', 'user': 'hi', 'gold': 'x'}]}"), 2,
         ("task badload/dicts: load() item 1 is a dict, not a Conversation",)),
    Case("plugin-load-returns-none", plugin_task("none", "return None"), 2, ("task badload/none: load() returned NoneType",)),
    Case("plugin-load-returns-str", plugin_task("str", "return 'conversations.jsonl'"), 2, ("task badload/str: load() returned str",)),
    Case("plugin-load-list-with-none", plugin_task("listnone", "return [Conversation(id='c1', turns=[{'id': '1', 'user': 'hi'}]), None]"), 2,
         ("task badload/listnone: load() item 2 is a NoneType, not a Conversation",)),
    # run.json (defect 12)
    Case("manifest-list", damaged_manifest("[1, 2, 3]"), 2, ("{tmp}/out/r/run.json", "expected a JSON object, got a list")),
    Case("manifest-invalid-json", damaged_manifest('{"schema": "mteval.run/1",\n  "status": '), 2, ("{tmp}/out/r/run.json", "line 2", "invalid JSON")),
    Case("manifest-not-utf8", damaged_manifest(b'{"schema": "mteval.run/1",\n "x": "\xff"}'), 2, ("{tmp}/out/r/run.json:2: not UTF-8",)),
    # resuming over it: the refusal says where the finished conversations are and what to do
    Case("resume-manifest-invalid-json", resume_damaged_manifest(None), 2,
         ("{tmp}/out/r/run.json: line 2: invalid JSON", "finished conversations are in {tmp}/out/r/samples.jsonl",
          "delete {tmp}/out/r/run.json and re-run this command", "another --output-dir or --run-id")),
    Case("resume-manifest-invalid-json-no-samples", resume_damaged_manifest(b""), 2,
         ("{tmp}/out/r/run.json: line 2: invalid JSON", "No conversation of this run was written", "delete {tmp}/out/r and re-run this command")),
    Case("manifest-wrong-schema", damaged_manifest('{"schema": "other/9"}'), 2, ("{tmp}/out/r/run.json", "field 'schema'")),
    # samples.jsonl (defect 6): resume, judge and the leaderboard all name the line
    Case("samples-not-utf8-resume", damaged_samples(b'{"task": "\xff"}', "resume"), 2, ("{tmp}/out/r/samples.jsonl:2: not UTF-8",)),
    Case("samples-not-utf8-judge", damaged_samples(b'{"task": "\xfe\xff"}', "judge"), 2, ("{tmp}/out/r/samples.jsonl:2: not UTF-8",)),
    Case("samples-not-utf8-leaderboard", damaged_samples(b"\x80", "leaderboard"), 2, ("{tmp}/out/r/samples.jsonl:2: not UTF-8",)),
    Case("samples-json-list", damaged_samples(b"[1]", "resume"), 2, ("{tmp}/out/r/samples.jsonl:2: expected a sample object",)),
    Case("samples-invalid-json", damaged_samples(b'{"task": ', "leaderboard"), 2, ("{tmp}/out/r/samples.jsonl:2: invalid JSON",)),
    # samples.jsonl lines that parse but hold the wrong shape: KeyError/TypeError tracebacks in resume, judge and the
    # leaderboard before; now the field with its line
    Case("samples-no-task-resume", reshaped_samples(_set("task", ...), "resume"), 2, ("{tmp}/out/r/samples.jsonl:2: field 'task': missing",)),
    Case("samples-turns-not-list-leaderboard", reshaped_samples(_set("turns", "x"), "leaderboard"), 2,
         ("{tmp}/out/r/samples.jsonl:2: field 'turns': expected a list, got str",)),
    Case("samples-index-not-int-leaderboard", reshaped_samples(_set("turns.0.index", "zero"), "leaderboard"), 2,
         ("{tmp}/out/r/samples.jsonl:2: field 'turns.0.index': expected an integer, got str",)),
    Case("samples-score-not-number-judge", reshaped_samples(_set("turns.0.scores.exact.value", "high"), "judge"), 2,
         ("{tmp}/out/r/samples.jsonl:2: field 'turns.0.scores.exact.value': expected a number or null, got str",)),
    Case("samples-conversation-id-int-resume", reshaped_samples(_set("conversation.id", 7), "resume"), 2,
         ("{tmp}/out/r/samples.jsonl:2: field 'conversation.id': expected a string, got int",)),
    Case("samples-bad-history-judge", reshaped_samples(_set("history", "sideways"), "judge"), 2,
         ("{tmp}/out/r/samples.jsonl:2: field 'history'", "'own', 'gold' or 'single'")),
    # --prices (defect 12)
    Case("prices-garbage", prices("this is not json"), 2, ("--prices {tmp}/prices.json:1: invalid JSON",)),
    Case("prices-list", prices("[1, 2]"), 2, ("--prices {tmp}/prices.json", "expected a mapping")),
    Case("prices-not-numbers", prices('{"openai/x": {"input_per_million": "cheap"}}'), 2, ("--prices {tmp}/prices.json", "'openai/x'", "numbers")),
    Case("prices-entry-not-mapping", prices('{"openai/x": 3}'), 2, ("--prices {tmp}/prices.json", "'openai/x'")),
    Case("prices-not-utf8", prices(b'{"a\xff": {}}'), 2, ("--prices {tmp}/prices.json:1: not UTF-8",)),
    Case("prices-bad-yaml", prices("a: [1, 2\nb: {", ".yaml"), 2, ("--prices {tmp}/prices.yaml", "invalid YAML")),
    # paths (defects 8 and 12)
    Case("run-id-parent", run_with("--run-id", "../escape"), 2, ("--run-id '../escape'", "plain directory name")),
    Case("run-id-deep-parent", run_with("--run-id", "../../x"), 2, ("--run-id '../../x'",)),
    Case("run-id-absolute", run_with("--run-id", "{tmp}/abs"), 2, ("--run-id '{tmp}/abs'",)),
    Case("run-id-nested", run_with("--run-id", "a/b"), 2, ("--run-id 'a/b'",)),
    Case("run-id-dotdot", run_with("--run-id", ".."), 2, ("--run-id '..'",)),
    Case("output-dir-is-file", output_dir_is_file, 2, ("--output-dir {tmp}/out", "not a directory")),
    Case("cache-dir-is-file", cache_dir_is_file, 2, ("--cache-dir {tmp}/cache", "not a directory")),
    # unknown keys (defect 9)
    Case("model-args-typo", run_with("--model-args", "base_ur=http://127.0.0.1:9/v1", model="openai/m"), 2, ("unknown model arg 'base_ur'", "base_url")),
    Case("model-args-anthropic-typo", run_with("--model-args", "api_versoin=2023-06-01", model="anthropic/m"), 2, ("unknown model arg 'api_versoin'", "api_version")),
    Case("scripted-args-typo", run_with("--model-args", "memroy=3", model="scripted/calculator", tasks="example"), 2, ("unknown model arg 'memroy'", "memory")),
    # a declared numeric arg with a value that is no number: a ValueError traceback at the first request, or for a
    # judge every conversation errored after the model had answered (exit 3); now refused before any request
    Case("model-args-timeout-not-a-number", run_with("--model-args", "timeout=abc,base_url=http://127.0.0.1:9/v1", model="openai/m"), 2,
         ("openai/m: model arg timeout must be a positive number, got 'abc'",)),
    Case("judge-args-timeout-not-a-number",
         run_with("--judge", "openai/j", "--judge-args", "timeout=30s,base_url=http://127.0.0.1:9/v1", "--limit", "1",
                  model="scripted/echo", tasks="mt_bench"), 2,
         ("openai/j: model arg timeout must be a positive number, got '30s'",)),
    # a script's numeric arg (declared with register_script(number_args=...)): a ValueError traceback inside the
    # calculator before, and for the scripted judge every conversation errored after the model had answered (exit 3)
    Case("scripted-args-memory-not-a-number", run_with("--model-args", "memory=abc", model="scripted/calculator", tasks="example"), 2,
         ("scripted/calculator: model arg memory must be a positive integer, got 'abc'",)),
    Case("scripted-args-memory-fraction", run_with("--model-args", "memory=2.5", model="scripted/calculator", tasks="example"), 2,
         ("scripted/calculator: model arg memory must be a positive integer, got 2.5",)),
    Case("scripted-judge-score-not-a-number",
         run_with("--judge", "scripted/mt_eval_judge", "--judge-args", "score=high", "--limit", "1", model="scripted/echo", tasks="mt_eval/expansion"), 2,
         ("scripted/mt_eval_judge: model arg score must be an integer, got 'high'",)),
    Case("model-args-timeout-negative", run_with("--model-args", "timeout=-1,base_url=http://127.0.0.1:9", model="anthropic/m"), 2,
         ("anthropic/m: model arg timeout must be a positive number, got -1",)),
    Case("task-args-typo", run_with("--task-args", "memroy=3"), 2, ("--task-args: unknown key 'memroy'",)),
    Case("task-args-near-miss", run_with("--task-args", "data_pth=x.jsonl"), 2, ("unknown key 'data_pth'", "'data_path'")),
    Case("task-args-bad-rule", run_with("--task-args", "rating_rule=middle", "--judge", "scripted/constant", "--limit", "1", tasks="mt_bench"), 2, ("rating_rule must be one of final, first", "'middle'")),
    # other user files
    Case("jury-not-utf8", with_file("jury.yaml", b"name: j\njurors:\n  - model: \xff\n", run_with("--jury", "{tmp}/jury.yaml")), 2, ("--jury {tmp}/jury.yaml",)),
    # a key the jury file does not declare was ignored: the default judge, the default aggregation or every juror
    # asked, silently and at the jurors' price
    Case("jury-juror-key-typo", with_file("jury.yaml", "jurors:\n  - model: scripted/constant\n    judeg: rubric\n", run_with("--jury", "{tmp}/jury.yaml")), 2,
         ("--jury {tmp}/jury.yaml", "unknown key 'jurors.0.judeg'", "Did you mean: judge?")),
    Case("jury-key-typo", with_file("jury.yaml", "aggregat: median\njurors:\n  - model: scripted/constant\n", run_with("--jury", "{tmp}/jury.yaml")), 2,
         ("--jury {tmp}/jury.yaml", "unknown key 'aggregat'", "Did you mean: aggregate?")),
    Case("jury-adaptive-key-typo",
         with_file("jury.yaml", "jurors:\n  - model: scripted/constant\nadaptive:\n  quorom: 1\n", run_with("--jury", "{tmp}/jury.yaml")), 2,
         ("--jury {tmp}/jury.yaml", "unknown key 'adaptive.quorom'", "Did you mean: quorum?")),
    Case("jury-is-a-list", with_file("jury.yaml", yaml.safe_dump([1, 2]), run_with("--jury", "{tmp}/jury.yaml")), 2, ("--jury {tmp}/jury.yaml", "invalid jury definition")),
    Case("replay-not-utf8", with_file("replay.jsonl", b'{"conversation_id": "c", "turn_id": "1", "reply": "\xff"}\n', run_with(model="replay/{tmp}/replay.jsonl")), 2, ("replay: {tmp}/replay.jsonl:1: not UTF-8",)),
    Case("replay-invalid-json", with_file("replay.jsonl", '{"conversation_id": "c", "turn_id": "1", "reply": "x"}\n{"a"\n', run_with(model="replay/{tmp}/replay.jsonl")), 2, ("replay: {tmp}/replay.jsonl:2: invalid JSON",)),
    Case("rad-bench-questions-not-utf8", with_file("q.jsonl", b'{"question_id": "\xfe"}\n', run_with("--task-args", "questions={tmp}/q.jsonl", "--judge", "scripted/constant", tasks="rad_bench/synthesis")), 2, ("{tmp}/q.jsonl:1: not UTF-8",)),
    # an MT-Bench reference file whose turns are not text: a pydantic traceback from Turn(gold=...) before
    Case("mt-bench-references-turns-not-text",
         with_file("refs.jsonl", '{"question_id": 101, "choices": [{"turns": ["a", "b"]}]}\n{"question_id": 102, "choices": [{"turns": [1, 2]}]}\n',
                   run_with("--task-args", "references={tmp}/refs.jsonl", "--judge", "scripted/constant", "--limit", "1",
                            model="scripted/echo", tasks="mt_bench")), 2,
         ("{tmp}/refs.jsonl:2: field 'choices.0.turns': expected a list of strings",)),
    Case("judge-def-not-utf8", judge_def(b"name: j\ntemplate: \xff\n"), 2, ("{tmp}/judge.yaml:2: not UTF-8",)),
    Case("imported-answers-not-utf8", fastchat_answers(b'{"question_id": 81, "choices": [{"turns": ["\xff"]}]}\n'), 1, ("{tmp}/answers/model-a.jsonl:1: not UTF-8",)),
]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and "cache" not in p.parts and "site" not in p.parts}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_input_is_a_clear_message(case: Case, tmp_path: Path, capfd, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    work = tmp_path / "w"
    work.mkdir()
    argv = case.build(work)
    capfd.readouterr()
    before = _snapshot(work)
    code = main(argv)
    out, err = capfd.readouterr()
    assert code == case.code, err
    assert "Traceback" not in err and "Traceback" not in out
    message = out + err
    for fragment in case.expect:
        fragment = fragment.replace("{tmp}", str(work))
        assert fragment in message, f"{fragment!r} not in {message!r}"
    if case.code == 2:  # a user error: one line, prefixed
        assert err.startswith("mteval: error: ") and err.count("\n") == 1, err
    if case.name == "run-baseline-not-a-run":  # refused before the run, not after it
        assert not (work / "out").exists()
    after = _snapshot(work)
    for name, data in before.items():  # nothing the user gave us, and nothing already written, was lost
        assert after.get(name) == data, f"{name} changed"
    assert not any(p for p in tmp_path.rglob("*") if not str(p).startswith(str(work))), "wrote outside the working folder"


def test_at_least_thirty_malformed_inputs():
    assert len(CASES) >= 30


def test_run_id_traversal_writes_nothing_outside_the_output_dir(tmp_path, capfd):
    out = tmp_path / "a" / "b" / "out"
    code = main(["run", "--tasks", "example/arithmetic", "--model", "replay/gold", "--output-dir", str(out), "--run-id", "../../x", "--no-cache", "--no-progress"])
    assert code == 2
    assert not (tmp_path / "a" / "x").exists() and not (tmp_path / "x").exists()


def test_compare_names_the_sample_line_of_the_wrong_shape(tmp_path, capfd):
    """`mteval compare` (the CI gate) on a line with a score of the wrong type: before, a
    ValueError's text without the file ("could not convert string to float"), or a
    TypeError traceback for a `turns` that is not a list."""
    for field, value, expect in (("turns.0.scores.exact.value", "high", "expected a number or null, got str"), ("turns", "x", "expected a list, got str")):
        work = tmp_path / field
        reshaped_samples(_set(field, value), "resume")(work)  # a finished run with line 2 damaged
        capfd.readouterr()
        code = main(["compare", str(work / "out" / "r"), str(work / "out" / "r")])
        out, err = capfd.readouterr()
        assert code == 2, out + err
        assert "Traceback" not in out + err
        assert f"{work}/out/r/samples.jsonl:2: field '{field}': {expect}" in out + err
