"""End to end: a run judged by a real `openai/<m>` judge on the local test server, then
`mteval judge RUN_DIR` with other judges. The model under test sits on its own server,
whose request count must not move while re-judging; the response cache makes a second
identical re-judge free. Also: unparsed verdicts in the manifest, `mteval show`,
pairwise re-judging against another run, jury files, plugin tasks, and bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mteval.cli import EXIT_USAGE, main
from mteval.conversation import Conversation, Turn
from mteval.models.errors import ConfigurationError
from mteval.models.scripted import register_script
from mteval.registry import register_task
from mteval.rejudge import rejudge
from mteval.results import load_samples, read_manifest
from mteval.runner import RunConfig, Runner
from mteval.scoring import rule
from mteval.scoring.judge_scorer import JudgeScorer
from mteval.scoring.jury import JuryConfig
from mteval.task import Task
from tests.judging_support import FAST_RETRY, between
from tests.servers import FakeLLMServer

ROOT = Path(__file__).resolve().parents[1]

USERS = {
    "c1": ["Name a prime number.", "Now name a larger one, please."],
    "c2": ["Describe the sea in five words.", "UNDECIDABLE: and the sky?"],
    "c3": ["Say hi.", "Say bye in one long friendly sentence."],
}
HUMAN = {("c1", "t1"): 6, ("c3", "t2"): 2}


@rule("words")
def _words(reply: str, turn) -> float:
    return float(len(reply.split()))


@register_task
class ChatProbe(Task):
    name = "jtest/chat"
    version = "1"

    def load(self) -> list[Conversation]:
        return [
            Conversation(
                id=cid,
                system="Be brief.",
                turns=tuple(
                    Turn(id=f"t{i}", user=user, references={"human_score": HUMAN[(cid, f"t{i}")]} if (cid, f"t{i}") in HUMAN else {})
                    for i, user in enumerate(users, 1)
                ),
            )
            for cid, users in USERS.items()
        ]

    def scorers(self):
        return [JudgeScorer("quality", "rubric"), _words]


def rating(model: str, reply: str) -> int:
    base = len(reply.split()) % 9 + 1
    return base if model == "judge" else 11 - base


def judge_responder(kind: str, body: dict[str, Any]) -> str:
    """A judge that reads the candidate out of its own prompt; `judge2` rates the other way
    round. It cannot decide on a reply that contains UNDECIDABLE, not even when re-asked."""
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    reply = between(prompt, "candidate_reply")
    assert reply is not None, prompt
    if "UNDECIDABLE" in reply:
        return "Hard to say; it depends on taste."
    return f"The reply is on topic.\nRating: [[{rating(body['model'], reply)}]]"


def replies() -> dict[tuple[str, str], str]:
    return {(cid, f"t{i}"): f"echo: {user}" for cid, users in USERS.items() for i, user in enumerate(users, 1)}


def expected_mean(model: str) -> float:
    values = [rating(model, r) for r in replies().values() if "UNDECIDABLE" not in r]
    return sum(values) / len(values)


@pytest.fixture
def servers():
    with FakeLLMServer() as model_server, FakeLLMServer(responder=judge_responder) as judge_server:
        yield model_server, judge_server


def first_run(tmp_path: Path, model_server: FakeLLMServer, judge_server: FakeLLMServer) -> Path:
    config = RunConfig(
        tasks="jtest/chat",
        model="openai/mut",
        model_args={"base_url": model_server.openai_base_url},
        jury=JuryConfig.from_models(["openai/judge"], {"base_url": judge_server.openai_base_url}),
        output_dir=tmp_path / "runs",
        cache_dir=tmp_path / "cache",
        progress=False,
        retry=FAST_RETRY,
        command=["mteval", "run"],
    )
    return Runner(config).run().run_dir


def judge_cli(capsys, run_dir: Path, *extra: str) -> dict[str, Any]:
    code = main(["judge", str(run_dir), *extra, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_run_then_rejudge_twice_from_the_cache(tmp_path, servers, capsys):
    model_server, judge_server = servers
    run_dir = first_run(tmp_path, model_server, judge_server)
    assert model_server.count == 6 and judge_server.count == 5 + 2  # the undecidable item is re-asked once

    # --- the judged run: the unparsed verdict is recorded, excluded and counted -----------
    manifest = read_manifest(run_dir)
    assert manifest["totals"]["scores"] == {"ok": 5 + 6, "unparsed": 1, "error": 0}
    quality = manifest["metrics"]["jtest/chat"]["quality"]
    assert quality["n"] == 5 and quality["excluded"] == 1 and quality["value"] == pytest.approx(expected_mean("judge"))
    assert manifest["metrics"]["jtest/chat"]["words"]["n"] == 6
    judging = manifest["judging"]["quality"]
    assert judging["jurors"]["openai/judge"]["verdicts"] == {"ok": 5, "unparsed": 1} and judging["jurors"]["openai/judge"]["reasked"] == 1
    assert manifest["totals"]["calls"]["judges"]["openai/judge"]["requests"] == 7
    assert manifest["totals"]["calls"]["model"]["requests"] == 6
    unparsed = next(r.scores["quality"] for s in load_samples(run_dir) for r in s.turns if r.scores["quality"].status != "ok")
    assert unparsed.status == "unparsed" and unparsed.value is None
    assert "Hard to say" in unparsed.raw and unparsed.details["verdicts"][0]["reasked"] is True
    human = judging["human_agreement"]
    assert human["n"] == 2 and human["missing_verdicts"] == 0

    # --- re-judge with another judge: the judge is asked, the model under test is not ------
    args = ["--judge", "openai/judge2", "--judge-args", f"base_url={judge_server.openai_base_url}", "--cache-dir", str(tmp_path / "cache")]
    first = judge_cli(capsys, run_dir, *args, "--output-dir", str(tmp_path / "rejudged1"))
    assert model_server.count == 6 and judge_server.count == 7 + 7
    assert first["rejudged_from"] == {"run_id": manifest["run_id"], "fingerprint": manifest["fingerprint"], "against": None}
    assert first["jury"]["jurors"] == [{"model": "openai/judge2", "args": {"base_url": judge_server.openai_base_url}, "judge": None}]
    assert first["model"]["id"] == "openai/mut"
    calls = first["totals"]["calls"]
    assert calls["model"]["requests"] == 0 and calls["judges"]["openai/judge2"]["requests"] == 7 and calls["judges"]["openai/judge2"]["cache_hits"] == 0
    assert first["metrics"]["jtest/chat"]["quality"]["value"] == pytest.approx(expected_mean("judge2"))
    assert first["metrics"]["jtest/chat"]["words"] == manifest["metrics"]["jtest/chat"]["words"]  # rules re-run on the same replies
    assert first["judging"]["quality"]["jurors"]["openai/judge2"]["verdicts"] == {"ok": 5, "unparsed": 1}
    assert first["totals"]["scores"]["unparsed"] == 1

    # --- the same re-judge again (elsewhere): all from the cache, zero requests --------------
    second = judge_cli(capsys, run_dir, *args, "--output-dir", str(tmp_path / "rejudged2"))
    assert model_server.count == 6 and judge_server.count == 14
    calls = second["totals"]["calls"]
    assert calls["judges"]["openai/judge2"] == {**calls["judges"]["openai/judge2"], "requests": 0, "cache_hits": 7}
    assert second["metrics"] == first["metrics"] and second["judging"] == first["judging"]
    scores = lambda d: {(s.id, r.turn_id): r.scores["quality"].value for s in load_samples(d) for r in s.turns}  # noqa: E731
    first_dir, second_dir = tmp_path / "rejudged1" / first["run_id"], tmp_path / "rejudged2" / second["run_id"]
    assert scores(first_dir) == scores(second_dir)
    assert all(v["cached"] for s in load_samples(second_dir) for r in s.turns for v in r.scores["quality"].details["verdicts"])

    # --- and `mteval show` reads the re-judged run ------------------------------------------------
    assert main(["show", str(first_dir)]) == 0
    out = capsys.readouterr().out
    assert "jtest/chat" in out and "quality" in out and "openai/judge2: 7 requests" in out


def test_rejudge_resumes_in_place_and_no_cache_asks_again(tmp_path, servers, capsys):
    model_server, judge_server = servers
    run_dir = first_run(tmp_path, model_server, judge_server)
    base = ["--judge", "openai/judge2", "--judge-args", f"base_url={judge_server.openai_base_url}", "--cache-dir", str(tmp_path / "cache")]
    first = judge_cli(capsys, run_dir, *base)
    assert (run_dir.parent / first["run_id"]).is_dir() and first["run_id"].startswith(run_dir.name + "__judged-")
    count = judge_server.count
    again = judge_cli(capsys, run_dir, *base)  # the same run directory: finished conversations are kept
    assert judge_server.count == count and again["run_id"] == first["run_id"]
    judge_cli(capsys, run_dir, *base, "--no-cache", "--output-dir", str(tmp_path / "fresh"))
    assert judge_server.count == count + 7 and model_server.count == 6


# --- scripted judges: jury files, judge definitions, pairwise against another run ---------------
def _fixed(messages, params, ctx, args) -> str:
    return f"Rating: [[{args.get('rating', 5)}]]"


def _longer(messages, params, ctx, args) -> str:
    """Pairwise: the longer reply, whatever its position. Amulet stages answer "1"/"2"."""
    prompt = next(m.content for m in messages if m.role == "user")
    if "<reply_a>" in prompt:
        return "[[A]]" if len(between(prompt, "reply_a")) >= len(between(prompt, "reply_b")) else "[[B]]"
    a, b = re.search(r"\nAssistant-1: (.*?)\nAssistant-2: (.*?)\n\n", prompt, re.DOTALL).groups()
    return json.dumps({"Answer": "1" if len(a) >= len(b) else "2", "Explanation": "longer"})


register_script("rj_fixed", _fixed)
register_script("rj_longer", _longer)


def scripted_run(tmp_path: Path, name: str, model: str, **model_args: Any) -> Path:
    config = RunConfig(
        tasks="jtest/chat", model=model, model_args=model_args, jury=JuryConfig.from_models(["scripted/rj_fixed"]),
        output_dir=tmp_path / name, use_cache=False, progress=False, retry=FAST_RETRY, command=["test"],
    )
    return Runner(config).run().run_dir


def test_rejudge_with_a_jury_file_and_another_definition(tmp_path, capsys):
    run_dir = scripted_run(tmp_path, "a", "scripted/echo")
    jury_file = tmp_path / "jury.yaml"
    jury_file.write_text(
        "name: two-fixed\naggregate: median\njurors:\n"
        "  - model: scripted/rj_fixed\n    args: {rating: 4}\n"
        "  - model: scripted/constant\n    args: {text: 'Rating: [[8]]'}\n"
    )
    manifest = judge_cli(capsys, run_dir, "--jury", str(jury_file), "--judge-def", "mt_bench/single-v1", "--output-dir", str(tmp_path / "out"))
    metrics = manifest["metrics"]["jtest/chat"]
    assert list(metrics) == ["mt_bench_single-v1"]  # only the named definition scores
    assert metrics["mt_bench_single-v1"]["value"] == 6.0 and metrics["mt_bench_single-v1"]["n"] == 6
    assert manifest["jury"]["name"] == "two-fixed" and manifest["jury"]["aggregate"] == "median"
    assert manifest["totals"]["calls"]["jury"]["calls"] == 12
    judging = manifest["judging"]["mt_bench_single-v1"]
    assert set(judging["jurors"]) == {"scripted/rj_fixed", "scripted/constant"}


@pytest.mark.parametrize("judge_def, scorer, stage", [("pairwise", "pairwise", "pairwise"), (None, "amulet", "amulet_dialog_act")])
def test_rejudge_pairwise_against_another_run(tmp_path, capsys, judge_def, scorer, stage):
    candidate = scripted_run(tmp_path, "cand", "scripted/echo")  # "echo" repeats the user message: longer
    baseline = scripted_run(tmp_path, "base", "scripted/constant", text="OK")
    extra = ["--judge-def", judge_def] if judge_def else []
    manifest = judge_cli(capsys, candidate, "--against", str(baseline), "--judge", "scripted/rj_longer", *extra, "--output-dir", str(tmp_path / "pw"))
    assert manifest["rejudged_from"]["against"] == str(baseline)
    metric = manifest["metrics"]["jtest/chat"][scorer]
    assert metric["value"] == 1.0 and metric["n"] == 6
    assert manifest["judging"][scorer]["jurors"]["scripted/rj_longer"]["position_consistency"] == 1.0
    sample = load_samples(tmp_path / "pw" / manifest["run_id"])[0]
    outcome = sample.turns[0].scores[scorer].details["jurors"]["scripted/rj_longer"]
    assert outcome["stage"] == stage and outcome["winner"] == "candidate"
    # the other vote method is another re-judged run, not a resumed copy of this one
    other = judge_cli(capsys, candidate, "--against", str(baseline), "--judge", "scripted/rj_longer", *extra, "--vote", "majority", "--output-dir", str(tmp_path / "pw"))
    assert other["run_id"] != manifest["run_id"]


def test_rejudge_bad_input(tmp_path, capsys):
    run_dir = scripted_run(tmp_path, "a", "scripted/echo")
    cases = [
        ([], "exactly one of --judge or --jury"),
        (["--judge", "scripted/rj_fixed", "--jury", str(ROOT / "judges" / "jury-example.yaml")], "exactly one of --judge or --jury"),
        (["--judge", "scripted/rj_fixed", "--judge-def", "pairwise"], "is a pairwise judge: give --against"),
        (["--judge", "scripted/rj_fixed", "--judge-def", "amulet"], "is a pairwise judge: give --against"),
        (["--judge", "scripted/rj_fixed", "--against", str(run_dir), "--judge-def", "rubric"], "needs a pairwise judge definition"),
        (["--judge", "scripted/rj_fixed", "--judge-def", "rubrik"], "unknown judge definition 'rubrik'"),
        (["--judge", "scripted/nope"], "unknown script 'nope'"),
    ]
    for extra, message in cases:
        assert main(["judge", str(run_dir), *extra, "--output-dir", str(tmp_path / "bad")]) == EXIT_USAGE, extra
        assert message in capsys.readouterr().err, extra
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "run.json").write_text((run_dir / "run.json").read_text())
    (empty / "samples.jsonl").write_text("")
    with pytest.raises(ConfigurationError, match="no finished conversations to judge"):
        rejudge(empty, JuryConfig.from_models(["scripted/rj_fixed"]))


def test_rejudge_finds_plugin_tasks_with_include_path(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "plugfam.py").write_text(textwrap.dedent(
        """
        from mteval.conversation import Conversation, Turn
        from mteval.registry import register_task
        from mteval.scoring.judge_scorer import JudgeScorer
        from mteval.task import Task

        @register_task
        class Plugged(Task):
            name = "plugfam/judged"

            def load(self):
                return [Conversation(id="p1", turns=(Turn(id="t1", user="Hello?"),))]

            def scorers(self):
                return [JudgeScorer("quality", "rubric")]
        """
    ))
    common = ["--judge", "scripted/constant", "--judge-args", "text=Rating: [[7]]"]

    def cli(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mteval", *argv], capture_output=True, text=True, timeout=60, cwd=tmp_path)

    run = cli("run", "--tasks", "plugfam/judged", "--model", "scripted/echo", *common, "--include-path", str(plugins),
              "--output-dir", str(tmp_path / "runs"), "--no-cache", "--no-progress", "--json")
    assert run.returncode == 0, run.stderr
    run_dir = tmp_path / "runs" / json.loads(run.stdout)["run_id"]
    missing = cli("judge", str(run_dir), *common, "--no-cache")
    assert missing.returncode == EXIT_USAGE and "unknown task 'plugfam/judged'" in missing.stderr
    found = cli("judge", str(run_dir), *common, "--no-cache", "--include-path", str(plugins), "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["metrics"]["plugfam/judged"]["quality"]["value"] == 7.0


def test_a_run_source_replays_transcripts_as_they_are(tmp_path):
    """`RunSource.from_transcripts` is the one public way to replay: the stored conversations
    run whatever --ids/--limit say, the stored replies come back without a model call, and
    the given scorers replace the task's (plain means, no task metrics)."""
    from mteval.rejudge import RecordedModel
    from mteval.run_source import RunSource

    run_dir = scripted_run(tmp_path, "a", "scripted/echo")
    samples = load_samples(run_dir)
    source = RunSource.from_transcripts(samples, [JudgeScorer("again", "rubric")])
    config = RunConfig(
        tasks="jtest/chat", model="scripted/echo", jury=JuryConfig.from_models(["scripted/rj_fixed"]), ids=["c1"], limit=1,
        output_dir=tmp_path / "b", use_cache=False, progress=False, retry=FAST_RETRY, command=["test"],
    )
    runner = Runner(config, model=RecordedModel("scripted/echo", {}), source=source)
    assert runner.plan.run_source is source and [s.name for s in runner.scorers(runner.tasks[0])] == ["again"]
    outcome = runner.run()  # RecordedModel raises if called: every reply is the stored one
    replayed = {s.conversation.id: [t.reply for t in s.turns] for s in load_samples(outcome.run_dir)}
    assert replayed == {s.conversation.id: [t.reply for t in s.turns] for s in samples} and len(replayed) == 3
    assert list(outcome.manifest["metrics"]["jtest/chat"]) == ["again"] and outcome.manifest["metrics"]["jtest/chat"]["again"]["value"] == 5.0
