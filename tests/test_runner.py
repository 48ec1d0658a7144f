"""The runner end to end, in process: what goes on the wire in each history mode, the
response cache, errored conversations, replay, and what a run directory holds.

Requests that must be counted go through the real `openai/<m>` adapter to the local
`FakeLLMServer` (echo replies), never to the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mteval
from mteval.client import RetryPolicy
from mteval.conversation import ContextDocument, Conversation, Message, Turn
from mteval.models.errors import ConfigurationError
from mteval.registry import register_task
from mteval.results import SAMPLES, load, load_samples, read_manifest
from mteval.runner import RunConfig, Runner, RunOutcome
from mteval.scoring import rule
from mteval.task import Task, sha256_files
from tests.servers import Fault

EXAMPLE_DATA = Path(mteval.__file__).resolve().parents[1] / "tasks" / "example" / "data" / "arithmetic.jsonl"
FAST_RETRY = RetryPolicy(max_attempts=2, initial_wait_s=0.0, max_wait_s=0.0, jitter_s=0.0, timeout_s=10.0)
SECRET = "sk-secret-value-123"

# --- a small task with everything the history modes must get right ------------------------
SYS = "You are terse."
SETUP = Turn(id="setup", user="My name is Ada.", gold="Noted, Ada.", generate=False, scored=False)
Q1 = Turn(id="q1", user="What is my name?", gold="Ada.", context=(ContextDocument(title="Bio", text="Ada was born in 1815."),))
MID = Turn(id="mid", user="I like tea.", gold="Tea it is.", generate=False, scored=False)
Q2 = Turn(id="q2", user="And the year?", gold="1815.")
Q3 = Turn(id="q3", user="Summarise.", gold="Ada, 1815.", context=(ContextDocument(text="Note: be brief."),))
A1 = Turn(id="a", user="Hello", gold="Hi there", context=(ContextDocument(title="X", text="x-doc"),))
A2 = Turn(id="b", user="Bye", gold="Goodbye")
PROBE_CONVERSATIONS = [
    Conversation(id="c1", system=SYS, turns=(SETUP, Q1, MID, Q2, Q3)),
    Conversation(id="c2", turns=(A1, A2)),
]
# What the current turn's prompt must be (context documents rendered in front).
RENDERED = {
    "q1": "Document: Bio\nAda was born in 1815.\n\nWhat is my name?",
    "q2": "And the year?",
    "q3": "Note: be brief.\n\nSummarise.",
    "a": "Document: X\nx-doc\n\nHello",
    "b": "Bye",
}


@rule("echoed")
def _echoed(reply: str, turn) -> float:
    return 1.0 if turn.user.split("\n")[-1] in reply else 0.0


@register_task
class HistoryProbe(Task):
    name = "testfam/history_probe"
    version = "3"
    generation = {"max_tokens": 32}

    def load(self) -> list[Conversation]:
        return list(PROBE_CONVERSATIONS)

    def scorers(self):
        return [_echoed]


def _u(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _a(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def expected_requests(mode: str) -> dict[tuple[str, str], list[dict[str, str]]]:
    """(conversation id, turn id) -> the message list the model must receive. Written out
    by hand from the data above, independently of the solver."""
    echo = {tid: "echo: " + text for tid, text in RENDERED.items()}  # the fake server's replies
    if mode == "single":
        transcript = "User: My name is Ada.\nAssistant: Noted, Ada.\n"
        mid = "User: I like tea.\nAssistant: Tea it is.\n"
        return {
            ("c1#q1", "q1"): [{"role": "system", "content": SYS}, _u(transcript + "User: " + RENDERED["q1"] + "\nAssistant:")],
            ("c1#q2", "q2"): [
                {"role": "system", "content": SYS},
                _u(transcript + "User: What is my name?\nAssistant: Ada.\n" + mid + "User: And the year?\nAssistant:"),
            ],
            ("c1#q3", "q3"): [
                {"role": "system", "content": SYS},
                _u(
                    transcript
                    + "User: What is my name?\nAssistant: Ada.\n"
                    + mid
                    + "User: And the year?\nAssistant: 1815.\nUser: "
                    + RENDERED["q3"]
                    + "\nAssistant:"
                ),
            ],
            ("c2#a", "a"): [_u(RENDERED["a"])],
            ("c2#b", "b"): [_u("User: Hello\nAssistant: Hi there\nUser: Bye\nAssistant:")],
        }
    reply = echo if mode == "own" else {"q1": "Ada.", "q2": "1815.", "a": "Hi there"}
    c1 = [{"role": "system", "content": SYS}, _u("My name is Ada."), _a("Noted, Ada.")]
    mid = [_u("I like tea."), _a("Tea it is.")]
    return {
        ("c1", "q1"): c1 + [_u(RENDERED["q1"])],
        ("c1", "q2"): c1 + [_u("What is my name?"), _a(reply["q1"]), *mid, _u("And the year?")],
        ("c1", "q3"): c1 + [_u("What is my name?"), _a(reply["q1"]), *mid, _u("And the year?"), _a(reply["q2"]), _u(RENDERED["q3"])],
        ("c2", "a"): [_u(RENDERED["a"])],
        ("c2", "b"): [_u("Hello"), _a(reply["a"]), _u("Bye")],
    }


# --- helpers -----------------------------------------------------------------------------
def run(tmp_path: Path, **overrides: Any) -> RunOutcome:
    options: dict[str, Any] = dict(
        output_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        progress=False,
        retry=FAST_RETRY,
        max_concurrency=4,
        command=["mteval", "run"],
    )
    options.update(overrides)
    return Runner(RunConfig(**options)).run()


def openai_args(server, **extra: Any) -> dict[str, Any]:
    return {"base_url": server.openai_base_url, **extra}


def wire_messages(server) -> list[list[dict[str, str]]]:
    return [body["messages"] for body in server.bodies("/chat/completions")]


def canon(messages: list[Any]) -> str:
    return json.dumps([m.model_dump() if isinstance(m, Message) else m for m in messages], sort_keys=True)


# --- 1. history modes --------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["own", "gold", "single"])
def test_history_mode_messages_on_the_wire_and_in_samples(mode, fake_server, tmp_path):
    outcome = run(tmp_path, tasks="testfam/history_probe", model="openai/probe", model_args=openai_args(fake_server), history=mode)
    assert outcome.manifest["status"] == "complete"
    expected = expected_requests(mode)

    # On the wire: exactly the expected requests, each once; the context-only turn never.
    sent = wire_messages(fake_server)
    assert sorted(canon(m) for m in sent) == sorted(canon(m) for m in expected.values())
    assert not any(m[-1]["content"] in ("My name is Ada.", "I like tea.") for m in sent)

    # From samples.jsonl: messages_sent(i) rebuilds the very same lists.
    samples = {s.id: s for s in load_samples(outcome.run_dir)}
    rebuilt = {}
    for sample in samples.values():
        for record in sample.turns:
            if record.generated:
                rebuilt[(sample.id, record.turn_id)] = [m.model_dump() for m in sample.messages_sent(record.index)]
    assert rebuilt == expected
    if mode != "single":
        setup, mid = samples["c1"].turns[0], samples["c1"].turns[2]
        assert (setup.generated, setup.scored, setup.reply) == (False, False, "Noted, Ada.")
        assert (mid.generated, mid.scored, mid.reply) == (False, False, "Tea it is.")
        assert samples["c1"].turns[4].reply == "echo: " + RENDERED["q3"]
    # Context documents appear only in the turn they belong to, as the model's input.
    user_texts = [m["content"] for msgs in sent for m in msgs if m["role"] == "user"]
    assert sum("Ada was born in 1815." in text for text in user_texts) == 1

    frame = load(outcome.run_dir)
    # One row per scored turn (q1, q2, q3, a, b), at its position in the original conversation.
    positions = {(row.conversation_id.split("#")[0], row.turn_id): row.turn_index for row in frame.itertuples()}
    assert positions == {("c1", "q1"): 1, ("c1", "q2"): 3, ("c1", "q3"): 4, ("c2", "a"): 0, ("c2", "b"): 1}
    assert frame["score_echoed"].tolist() == [1.0] * 5


@pytest.mark.parametrize("mode", ["own", "gold"])
def test_reconstruction_when_replies_equal_gold(mode, tmp_path):
    """With replies equal to the gold ones, own and gold history coincide, and the stored
    prefix runs through the previous reply: rebuilding must still give the exact list."""
    outcome = run(tmp_path, tasks="testfam/history_probe", model="replay/gold", history=mode)
    expected = expected_requests("gold")
    samples = load_samples(outcome.run_dir)
    rebuilt = {
        (s.id, r.turn_id): [m.model_dump() for m in s.messages_sent(r.index)] for s in samples for r in s.turns if r.generated
    }
    assert rebuilt == expected
    c1 = next(s for s in samples if s.id == "c1")
    assert c1.turns[4].prompt_prefix == 9 and len(c1.turns[4].prompt_new) == 1


def test_reconstruction_is_delta_encoded(fake_server, tmp_path):
    """The stored prompt of a later turn reuses the earlier messages instead of repeating them."""
    outcome = run(tmp_path, tasks="testfam/history_probe", model="openai/probe", model_args=openai_args(fake_server))
    c1 = {s.id: s for s in load_samples(outcome.run_dir)}["c1"]
    q2, q3 = c1.turns[3], c1.turns[4]
    # q1 was sent with its context document, history keeps the bare question: 3 reused.
    assert q2.prompt_prefix == 3
    assert [m.content for m in q2.prompt_new] == ["What is my name?", "echo: " + RENDERED["q1"], "I like tea.", "Tea it is.", "And the year?"]
    assert q3.prompt_prefix == 9 and [m.content for m in q3.prompt_new] == [RENDERED["q3"]]


# --- 2. the response cache ---------------------------------------------------------------
def test_cache_serves_a_repeated_run_and_no_cache_asks_again(fake_server, tmp_path):
    base = dict(tasks="example/arithmetic", model="openai/calc", model_args=openai_args(fake_server), limit=4)
    first = run(tmp_path, **base, output_dir=tmp_path / "a")
    n_turns = first.manifest["totals"]["turns"]
    assert n_turns == 5 + 6 + 4 + 5
    assert fake_server.count == n_turns
    assert first.manifest["totals"]["calls"]["model"]["requests"] == n_turns

    second = run(tmp_path, **base, output_dir=tmp_path / "b")  # fresh run directory, same cache
    assert fake_server.count == n_turns, "a cached turn was sent to the server again"
    assert second.manifest["metrics"] == first.manifest["metrics"]
    assert second.manifest["totals"]["calls"]["model"] == {**second.manifest["totals"]["calls"]["model"], "requests": 0, "cache_hits": n_turns}
    assert all(t.cached for s in load_samples(second.run_dir) for t in s.turns)
    replies = lambda o: {(s.id, t.turn_id): t.reply for s in load_samples(o.run_dir) for t in s.turns}  # noqa: E731
    assert replies(second) == replies(first)

    third = run(tmp_path, **base, output_dir=tmp_path / "c", use_cache=False)
    assert fake_server.count == 2 * n_turns
    assert third.manifest["metrics"] == first.manifest["metrics"]
    assert not any(t.cached for s in load_samples(third.run_dir) for t in s.turns)


def test_rerun_of_a_complete_run_sends_nothing(fake_server, tmp_path):
    base = dict(tasks="example/arithmetic", model="openai/calc", model_args=openai_args(fake_server), limit=3)
    first = run(tmp_path, **base)
    count = fake_server.count
    again = run(tmp_path, **base, use_cache=False)  # even without the cache: the samples are done
    assert again.run_dir == first.run_dir
    assert fake_server.count == count
    assert again.manifest["metrics"] == first.manifest["metrics"]
    assert again.manifest["totals"]["conversations"] == 3
    assert len((first.run_dir / SAMPLES).read_text().splitlines()) == 3


# --- 5. errored conversations ------------------------------------------------------------
def test_failing_conversation_is_recorded_and_retried_on_rerun(fake_server, tmp_path):
    base = dict(tasks="example/arithmetic", model="openai/calc", model_args=openai_args(fake_server), limit=4, max_concurrency=1)
    # Concurrency 1: arith-01's turns 1 and 2 pass ("slow" with no delay is a pass-through),
    # its turn 3 and the one retry get a 500.
    fake_server.inject(Fault("slow"), Fault("slow"), Fault("500", retry_after=0), Fault("500", retry_after=0))
    first = run(tmp_path, **base)
    assert first.manifest["status"] == "complete"
    samples = {s.id: s for s in load_samples(first.run_dir)}
    failed = samples["arith-01"]
    assert failed.status == "error"
    assert "turn '3'" in failed.error and "ServerError" in failed.error and "injected 500" in failed.error
    assert [t.reply is not None for t in failed.turns] == [True, True, False]
    assert "injected 500" in failed.turns[2].error and failed.turns[2].retries == 1
    assert [samples[c].status for c in ("arith-02", "arith-03", "arith-04")] == ["ok"] * 3
    totals = first.manifest["totals"]
    assert (totals["conversations"], totals["errored_conversations"], totals["errored_turns"]) == (4, 1, 1)
    assert totals["calls"]["model"]["errors"] == 1 and totals["calls"]["model"]["retries"] == 1
    assert fake_server.count == 4 + 6 + 4 + 5

    before = fake_server.count
    second = run(tmp_path, **base)
    new = fake_server.bodies()[before:]
    # Only arith-01 is redone; its turns 1-2 come from the cache, turns 3-5 are asked.
    assert len(new) == 3
    assert all("Start with the number 11." in body["messages"][1]["content"] for body in new)
    assert second.manifest["totals"]["errored_conversations"] == 0
    assert second.manifest["totals"]["conversations"] == 4
    # call counts cover the whole run, the first invocation's 19 requests included
    assert second.manifest["totals"]["calls"]["model"] == {**second.manifest["totals"]["calls"]["model"], "requests": 19 + 3, "cache_hits": 2}
    redone = {s.id: s for s in load_samples(second.run_dir)}
    assert {k: s.status for k, s in redone.items()} == {f"arith-0{i}": "ok" for i in range(1, 5)}
    assert [t.cached for t in redone["arith-01"].turns] == [True, True, False, False, False]
    assert len(load(second.run_dir)) == 5 + 6 + 4 + 5


def test_scripted_fail_errors_every_conversation_without_stopping_the_run(tmp_path):
    outcome = run(tmp_path, tasks="example/arithmetic", model="scripted/fail", limit=3)
    assert outcome.manifest["status"] == "complete"
    assert outcome.manifest["totals"]["errored_conversations"] == 3
    samples = load_samples(outcome.run_dir)
    assert len(samples) == 3
    assert all(s.status == "error" and "scripted failure" in s.error for s in samples)
    metric = outcome.manifest["metrics"]["example/arithmetic"]["exact"]
    assert metric["value"] is None
    frame = load(outcome.run_dir)
    # every scored turn of the three conversations is a row, errored, without a score
    assert len(frame) == metric["excluded"] == sum(len(s.conversation.scored_turns) for s in samples)
    assert frame["error"].notna().all()


# --- 6. replay ---------------------------------------------------------------------------
def test_replay_of_an_earlier_run_reproduces_replies_and_scores(tmp_path):
    source = run(tmp_path, tasks="example/arithmetic", model="scripted/calculator", model_args={"memory": 2}, limit=10, output_dir=tmp_path / "src")
    value = source.manifest["metrics"]["example/arithmetic"]["exact"]["value"]
    assert 0.0 < value < 1.0  # a short memory loses the thread: a non-trivial score to reproduce
    replay = run(tmp_path, tasks="example/arithmetic", model=f"replay/{source.run_dir / SAMPLES}", limit=10, output_dir=tmp_path / "rep")
    assert replay.manifest["metrics"] == source.manifest["metrics"]
    assert replay.manifest["by_turn"] == source.manifest["by_turn"]
    cols = ["conversation_id", "turn_id", "reply", "score_exact"]
    a = load(source.run_dir)[cols].sort_values(cols[:2]).reset_index(drop=True)
    b = load(replay.run_dir)[cols].sort_values(cols[:2]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_replay_gold_scores_one(tmp_path):
    outcome = run(tmp_path, tasks="example/arithmetic", model="replay/gold")
    metric = outcome.manifest["metrics"]["example/arithmetic"]["exact"]
    assert metric["value"] == 1.0
    assert metric["n"] == outcome.manifest["tasks"]["example/arithmetic"]["scored_turns"] > 100


def test_replay_missing_entry_errors_that_conversation(tmp_path):
    records = []
    for line in EXAMPLE_DATA.read_text().splitlines()[:3]:
        conv = json.loads(line)
        for turn in conv["turns"]:
            if (conv["id"], turn["id"]) != ("arith-02", "3"):
                records.append({"conversation_id": conv["id"], "turn_id": turn["id"], "reply": turn["gold"]})
    replies = tmp_path / "replies.jsonl"
    replies.write_text("".join(json.dumps(r) + "\n" for r in records))
    outcome = run(tmp_path, tasks="example/arithmetic", model=f"replay/{replies}", limit=3)
    samples = {s.id: s for s in load_samples(outcome.run_dir)}
    assert samples["arith-02"].status == "error"
    assert "'arith-02'" in samples["arith-02"].error and "turn '3'" in samples["arith-02"].error
    assert [t.reply for t in samples["arith-02"].turns[:2]] == ["10", "20"]
    assert samples["arith-01"].status == samples["arith-03"].status == "ok"
    assert outcome.manifest["totals"]["errored_conversations"] == 1
    assert outcome.manifest["metrics"]["example/arithmetic"]["exact"]["value"] == 1.0


# --- 7. gold history needs gold replies --------------------------------------------------
@register_task
class NoGold(Task):
    name = "testfam/no_gold"

    def load(self) -> list[Conversation]:
        return [Conversation(id="n1", turns=(Turn(id="1", user="hi"), Turn(id="2", user="again")))]

    def scorers(self):
        return [_echoed]


def test_gold_history_without_gold_fails_before_any_request(fake_server, tmp_path):
    with pytest.raises(ConfigurationError, match=r"--history gold: task testfam/no_gold .*n1/1"):
        run(tmp_path, tasks="testfam/no_gold", model="openai/x", model_args=openai_args(fake_server), history="gold")
    assert fake_server.count == 0
    assert not (tmp_path / "out").exists()


# --- 8. results and the manifest ---------------------------------------------------------
def test_results_frame_and_manifest(fake_server, tmp_path):
    args = openai_args(fake_server, api_key=SECRET)
    command = ["mteval", "run", "--model-args", f"base_url={fake_server.openai_base_url},api_key={SECRET}"]
    outcome = run(tmp_path, tasks="example/arithmetic", model="openai/calc", model_args=args, limit=5, command=command)
    assert all(h.get("authorization") == f"Bearer {SECRET}" for _, _, h in fake_server.requests)  # it was used

    frame = load(outcome.run_dir)
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 5 + 6 + 4 + 5 + 6
    assert not frame.duplicated(["conversation_id", "turn_id"]).any()
    assert {"score_exact", "status_exact", "task", "conversation_id", "turn_index", "reply"} <= set(frame.columns)
    assert frame["reply"].str.startswith("echo: ").all()
    assert (frame["score_exact"] == 0.0).all()  # the echo of "... Reply with the number only." has no right answer

    manifest = read_manifest(outcome.run_dir)
    assert manifest == json.loads(json.dumps(outcome.manifest))
    assert manifest["schema"] == "mteval.run/2"
    assert manifest["mteval_version"] == mteval.__version__
    assert manifest["status"] == "complete"
    task = manifest["tasks"]["example/arithmetic"]
    assert task["version"] == "1"
    assert task["data"]["sha256"] == sha256_files([EXAMPLE_DATA])
    assert (task["conversations"], task["scored_turns"]) == (5, 26)
    assert manifest["model"]["args"] == {"base_url": fake_server.openai_base_url}
    metric = manifest["metrics"]["example/arithmetic"]["exact"]
    assert metric["value"] == 0.0 and metric["n"] == 26 and metric["n_conversations"] == 5
    assert isinstance(metric["ci"], list) and len(metric["ci"]) == 2
    assert manifest["by_turn"]["example/arithmetic"]["exact"]["1"] == {"value": 0.0, "n": 5}

    stored = [p for root in (outcome.run_dir, tmp_path / "cache") for p in root.rglob("*") if p.is_file()]
    assert any(p.name.startswith("responses.sqlite") for p in stored)
    for path in stored:
        data = path.read_bytes()
        assert SECRET.encode() not in data and b"secret-value-123" not in data, path


def test_manifest_metrics_ci_brackets_value(tmp_path):
    outcome = run(tmp_path, tasks="example/arithmetic", model="scripted/calculator", model_args={"memory": 2})
    metric = outcome.manifest["metrics"]["example/arithmetic"]["exact"]
    low, high = metric["ci"]
    assert low < metric["value"] < high
    assert metric["n"] == 200 and metric["n_conversations"] == 40
    frame = load(outcome.run_dir)
    assert frame["score_exact"].mean() == pytest.approx(metric["value"])


def test_different_configuration_in_the_same_run_directory_is_refused(tmp_path):
    run(tmp_path, tasks="example/arithmetic", model="replay/gold", limit=2, run_id="fixed")
    with pytest.raises(ConfigurationError, match="different configuration"):
        run(tmp_path, tasks="example/arithmetic", model="replay/gold", limit=3, run_id="fixed")
