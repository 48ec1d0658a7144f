"""MultiTurnInstruct: both data layouts, the Hugging Face path (local stand-in), the
context options, and end-to-end runs with exactly known category scores.

The fixture below is hand-written (the real test data is not available offline); its
conversation ids are real ones from the shipped metadata.json, so validation applies.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from mteval.client import RetryPolicy
from mteval.data import DataError
from mteval.models.errors import ConfigurationError
from mteval.models.scripted import register_script
from mteval.registry import family_aggregates, resolve
from mteval.results import load, load_samples, read_manifest
from mteval.runner import RunConfig, Runner
from mteval_tasks.multiturn_instruct import CATEGORIES, LEVELS
from mteval_tasks.multiturn_instruct import source as source_module
from mteval_tasks.multiturn_instruct.tasks import Memorization, PrivacyProtection, Triggering
from tests.servers import FakeLLMServer, Fault


def u(text: str) -> dict[str, Any]:
    return {"role": "user", "text": text}


def a(text: str, refs: list[str] | None = None, metric: str | None = None) -> dict[str, Any]:
    return {"role": "assistant", "text": text, "evaluation_reference": refs, "evaluation_metric": metric}


BLEU, IOU, SQUAD, ANY, NOT_ANY, EXACT = "bleu", "intersection_over_union", "squad", "matching_any", "not_matching_any", "matching_any_exact"
SENTENCE = "the quick brown fox jumps over the lazy dog."

# Repo layout: {category: {conversation_id: [turn, ...]}}.
REPO: dict[str, dict[str, list[dict[str, Any]]]] = {
    "memorization": {
        "936ce188": [
            u(f"Remember this sentence: {SENTENCE}"), a("Noted.", None, BLEU),
            u("How is the weather?"), a("Sunny.", None, BLEU),
            u("Repeat the sentence I asked you to remember."), a(SENTENCE, [SENTENCE], BLEU),
        ],
        "87dfdf0b": [u("Remember: Paris. Now repeat it."), a("Paris", ["Paris"], BLEU)],
    },
    "dynamic_instruction": {
        "9bf5606c": [
            u("List the categories of the reviews."), a("Categories: books, music", ["books", "music"], IOU),
            u("Now only the five-star ones."), a("books", ["books"], IOU),
        ],
    },
    "multitasking": {
        "a317f4d7": [u("Who won Super Bowl 50?"), a("Denver Broncos", ["Denver Broncos"], SQUAD)],
        "1689903b": [
            u("Keep track of review categories."), a("OK.", None, IOU),
            u("Which category is review 3?"), a("electronics", ["electronics"], IOU),
        ],
    },
    "dynamic_environment": {
        "d5ae8dc1": [u("Items: a1, b2. Remove c3."), a("Done.", None, IOU), u("What is left?"), a("a1, b2", ["a1", "b2"], IOU)],
    },
    "triggering": {
        "abb3dc1d": [
            u("Whenever I mention coffee, remind me to buy beans."), a("Sure.", None, ANY),
            u("I'm drinking coffee."), a("Remember to buy beans!", ["buy beans"], ANY),
            u("Coffee time again."), a("Buy beans!", ["buy beans"], ANY),
        ],
    },
    "recursive_reasoning": {
        "7b5b975f": [u("Let f(x) = x + 1."), a("OK.", None, EXACT), u("What is f(f(1))?"), a("Answer: 3", ["3"], EXACT)],
        "06e32aaa": [
            u("Where are the keys?"), a("In the kitchen.", ["kitchen"], ANY),
            u("And the bike?"), a("In the garage.", ["garage"], ANY),
        ],
    },
    "privacy_protection": {
        "637ad2e4": [
            u("My email is ada@example.com; never reveal it."), a("Understood.", None, NOT_ANY),
            u("What's my email?"), a("I can't share that.", ["ada@example.com"], NOT_ANY),
            u("Tell Bob my email."), a("I can't share that.", ["ada@example.com"], NOT_ANY),
        ],
        "87ef9be2": [u("Karte 4111 1111 – geheim. Womit zahle ich?"), a("Mit Karte.", ["4111 1111"], NOT_ANY)],
    },
    "personalization": {
        "603de1dc": [
            u("I am vegan. Pick A or B."), a("Answer: B", ["B"], EXACT),
            u("Suggest a dish."), a("Answer: Vegan Curry", ["Vegan Curry"], EXACT),
            u("Thanks!"),  # a trailing user message: upstream never sends it
        ],
    },
    "prioritization": {
        "5727fb16": [u("When do we meet?"), a("Monday.", ["Monday"], ANY)],
        "d5c86ab9": [u("Choose A, B or C."), a("Answer: A", ["A"], EXACT)],
    },
}

# The scripted model's replies; every other generated turn gets "OK.".
REPLIES: dict[tuple[str, str], str] = {
    ("936ce188", "3"): SENTENCE,  # bleu 1.0
    ("87dfdf0b", "1"): "Paris",  # bleu ~0 (no 4-grams)
    ("9bf5606c", "1"): "Categories: Books, Music, toys",  # IoU 2/3
    ("9bf5606c", "2"): "Books",  # 1.0
    ("a317f4d7", "1"): "The Denver Broncos won.",  # squad F1 0.8
    ("1689903b", "2"): "Answer: Electronics",  # IoU 1.0
    ("d5ae8dc1", "2"): "",  # IoU 0.0 (empty reply)
    ("abb3dc1d", "2"): "Don't forget to BUY BEANS.",  # 1.0
    ("abb3dc1d", "3"): "Enjoy!",  # 0.0
    ("7b5b975f", "2"): "f(1)=2, f(2)=3.\nAnswer: 3.",  # 1.0
    ("06e32aaa", "1"): "It is in the Kitchen.",  # 1.0
    ("06e32aaa", "2"): "In the attic.",  # 0.0
    ("637ad2e4", "2"): "I can't share that.",  # 1.0
    ("637ad2e4", "3"): "Sure: ADA@example.com",  # 0.0 (leaked)
    ("87ef9be2", "1"): "Zahlung mit Karte ✓",  # 1.0
    ("603de1dc", "1"): "answer: B",  # 0.0 ("Answer:" is case-sensitive)
    ("603de1dc", "2"): "Answer: vegan curry!",  # 1.0
    ("5727fb16", "1"): "Let's meet monday.",  # 1.0
    ("d5c86ab9", "1"): "Answer: C",  # 0.0
}
EXPECTED = {
    "memorization": 0.5,
    "dynamic_instruction": (2 / 3 + 1) / 2,
    "multitasking": (0.8 + 1.0) / 2,
    "dynamic_environment": 0.0,
    "triggering": 0.5,
    "recursive_reasoning": 2 / 3,
    "privacy_protection": 2 / 3,
    "personalization": 0.5,
    "prioritization": 0.5,
}
SCORED_TURNS = {"memorization": 2, "dynamic_instruction": 2, "multitasking": 2, "dynamic_environment": 1, "triggering": 2,
                "recursive_reasoning": 3, "privacy_protection": 3, "personalization": 2, "prioritization": 2}
SENT: list[tuple[str, str, list[tuple[str, str]]]] = []


def fixture_script(messages, params, context, args) -> str:
    SENT.append((context.conversation_id, context.turn_id, [(m.role, m.content) for m in messages]))
    return REPLIES.get((context.conversation_id, context.turn_id), "OK.")


register_script("mti_fixture", fixture_script)


def write_repo(folder: Path, data: Any = REPO) -> Path:
    path = folder / "dataset.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def write_hf(folder: Path, data: Any = REPO) -> Path:
    """The Hugging Face layout, converted the way upstream's convert_data_to_hf.py does."""
    rows = [{"category": c, "conversation_id": cid, "turns": turns} for c, convs in data.items() for cid, turns in convs.items()]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "test.json"
    path.write_text(json.dumps(rows, indent=4, ensure_ascii=False), encoding="utf-8")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- loading ----------------------------------------------------------------------------------
def test_both_layouts_load_to_the_same_conversations(tmp_path):
    repo, hf = write_repo(tmp_path), write_hf(tmp_path / "hf")
    for cls in resolve("multiturn_instruct"):
        from_repo = cls(data_path=str(repo)).load()
        from_hf = cls(data_path=str(hf)).load()
        assert from_repo == from_hf and from_repo
        assert [c.id for c in from_repo] == list(REPO[cls.key])


def test_turns_map_user_assistant_pairs_and_metadata_annotates(tmp_path):
    conversations = {c.id: c for c in Memorization(data_path=str(write_repo(tmp_path))).load()}
    conv = conversations["936ce188"]
    assert [t.user for t in conv.turns] == [f"Remember this sentence: {SENTENCE}", "How is the weather?", "Repeat the sentence I asked you to remember."]
    assert [t.gold for t in conv.turns] == ["Noted.", "Sunny.", SENTENCE]
    assert [t.scored for t in conv.turns] == [False, False, True]
    assert [t.generate for t in conv.turns] == [True, True, True]  # default: every assistant turn is generated
    assert conv.turns[2].references == {"turn_id": 5, "metric": "bleu", "references": [SENTENCE]}
    assert conv.metadata == {
        "category": "memorization", "level": "context_retrieving", "subtask": "memorization", "datum_id": "51mjKUI_20",
        "evaluation_metric": "bleu", "context": "own", "turn_window": None, "answer_match": "first",
    }
    personal = {c.id: c for c in resolve("multiturn_instruct/personalization")[0](data_path=str(write_repo(tmp_path))).load()}
    assert len(personal["603de1dc"].turns) == 2 and personal["603de1dc"].metadata["trailing_user_message_not_sent"] is True


def test_ground_truth_context_makes_unscored_turns_context_only(tmp_path):
    conv = {c.id: c for c in Memorization(data_path=str(write_repo(tmp_path)), use_ground_truth_context=True).load()}["936ce188"]
    assert [t.generate for t in conv.turns] == [False, False, True]
    assert [t.gold for t in conv.turns[:2]] == ["Noted.", "Sunny."]
    assert conv.metadata["context"] == "ground_truth"


def test_a_folder_is_searched_for_either_file(tmp_path):
    for name in ("repo", "empty"):
        (tmp_path / name).mkdir()
    write_hf(tmp_path / "hf")
    write_repo(tmp_path / "repo")
    assert Triggering(data_path=str(tmp_path / "hf")).data_files() == [(tmp_path / "hf" / "test.json").resolve()]
    assert Triggering(data_path=str(tmp_path / "repo")).data_files() == [(tmp_path / "repo" / "dataset.json").resolve()]
    with pytest.raises(ConfigurationError, match="holds none of"):
        Triggering(data_path=str(tmp_path / "empty")).data_files()
    with pytest.raises(ConfigurationError, match="no such file"):
        Triggering(data_path=str(tmp_path / "missing.json")).data_files()


def test_data_info_hashes_the_file_read(tmp_path):
    repo, hf = write_repo(tmp_path), write_hf(tmp_path / "hf")
    for path in (repo, hf):
        info = Triggering(data_path=str(path)).data_info()
        assert info.sha256 == sha256(path) and info.files == (path.name,) and info.source == str(path.resolve())
    assert Triggering(data_path=str(repo)).data_info().sha256 != Triggering(data_path=str(hf)).data_info().sha256


def _bad(tmp_path: Path, mutate, layout: str = "hf") -> tuple[str, str]:
    data = json.loads(json.dumps(REPO))
    mutate(data)
    path = write_hf(tmp_path / "bad", data) if layout == "hf" else write_repo(tmp_path, data)
    with pytest.raises(DataError) as info:
        Triggering(data_path=str(path)).load()
    return str(info.value), path.read_text(encoding="utf-8")


def _line(text: str, needle: str, opening: bool = False) -> int:
    """Line of `needle`, or of the `{` that opens the object holding it."""
    index = text.index(needle)
    if opening:
        index = text.rindex("{", 0, index)
    return text.count("\n", 0, index) + 1


def test_errors_name_file_line_and_field(tmp_path):
    # a wrong role, HF layout: conversation 1 of the list is 87dfdf0b
    message, text = _bad(tmp_path, lambda d: d["memorization"]["87dfdf0b"][1].update(role="user"))
    assert message.startswith(f"{(tmp_path / 'bad' / 'test.json').resolve()}:")
    line = _line(text[text.index("Remember: Paris"):], '"role": "user"') + text.count("\n", 0, text.index("Remember: Paris"))
    assert f":{line}: field '[1].turns[1].role': expected 'assistant'" in message

    # references that are not a list, repo layout
    message, text = _bad(tmp_path, lambda d: d["triggering"]["abb3dc1d"][3].update(evaluation_reference="buy beans"), "repo")
    line = _line(text, '"evaluation_reference": "buy beans"')
    assert f"dataset.json:{line}: field 'triggering.abb3dc1d[3].evaluation_reference': expected a list of strings or null" in message

    # a missing field points at the turn
    message, text = _bad(tmp_path, lambda d: d["triggering"]["abb3dc1d"][3].pop("evaluation_metric"), "repo")
    assert "field 'triggering.abb3dc1d[3].evaluation_metric': missing on an assistant turn" in message
    assert f"dataset.json:{_line(text, 'Remember to buy beans!', opening=True)}:" in message

    # a metric that disagrees with metadata.json
    message, _ = _bad(tmp_path, lambda d: d["triggering"]["abb3dc1d"][3].update(evaluation_metric="bleu"))
    assert "evaluation_metric': 'bleu' differs from metadata.json ('matching_any')" in message

    # a conversation id metadata.json does not know
    message, text = _bad(tmp_path, lambda d: d["triggering"].update({"deadbeef": [u("q"), a("r", ["x"], ANY)]}), "repo")
    line = _line(text, '"deadbeef"')
    assert f":{line}: field 'triggering.deadbeef': conversation 'deadbeef' of triggering is not in metadata.json" in message

    # an unknown category, an empty user message, an empty reference list for bleu
    assert "unknown category 'chitchat'" in _bad(tmp_path, lambda d: d.update(chitchat={"x": []}), "repo")[0]
    assert "[0].text': empty user message" in _bad(tmp_path, lambda d: d["triggering"]["abb3dc1d"][0].update(text=""))[0]
    assert "bleu needs at least one reference" in _bad(tmp_path, lambda d: d["memorization"]["87dfdf0b"][1].update(evaluation_reference=[]))[0]


def test_errors_for_broken_json_and_duplicates(tmp_path):
    path = tmp_path / "test.json"
    path.write_text('[\n  {"category": "triggering",\n   "conversation_id": "abb3dc1d", "turns": [}\n]', encoding="utf-8")
    with pytest.raises(DataError, match=r"test\.json:3: invalid JSON"):
        Triggering(data_path=str(path)).load()
    rows = json.loads(write_hf(tmp_path / "hf").read_text())
    dup = [r for r in rows if r["conversation_id"] == "abb3dc1d"]
    path.write_text(json.dumps(rows + dup, indent=1), encoding="utf-8")
    with pytest.raises(DataError, match=rf"field '\[{len(rows)}\].turns': conversation 'abb3dc1d' of triggering appears twice"):
        Triggering(data_path=str(path)).load()
    path.write_text('"just a string"', encoding="utf-8")
    with pytest.raises(DataError, match=r":1: field '\(document\)': expected a JSON object"):
        Triggering(data_path=str(path)).load()


def test_options_are_checked():
    with pytest.raises(ConfigurationError, match="turn_window"):
        Triggering(turn_window=0)
    with pytest.raises(ConfigurationError, match="use_ground_truth_context"):
        Triggering(use_ground_truth_context="yes")
    with pytest.raises(ConfigurationError, match="answer_match"):
        Triggering(answer_match="middle")
    Triggering(other_family_option=1)  # options reach every task of a run


# --- the Hugging Face path ----------------------------------------------------------------------
@pytest.fixture
def fresh_hub_cache(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")  # keep ~/.cache clean
    source_module.hub_source.cache_clear()
    yield
    source_module.hub_source.cache_clear()


def test_hugging_face_dataset_through_datasets_with_a_local_stand_in(tmp_path, fresh_hub_cache):
    """`hf_dataset` may name a local folder laid out like the Hub repo: the real
    `datasets` resolution and download code runs, without the network."""
    mirror = tmp_path / "Multi-Turn-Instruct"
    hf_file = write_hf(mirror)
    task = Triggering(hf_dataset=str(mirror))
    assert task.load() == Triggering(data_path=str(write_repo(tmp_path))).load()
    info = task.data_info()
    assert info.sha256 == sha256(hf_file) and info.files == ("test.json",)


def test_default_source_is_the_hub_dataset(tmp_path, monkeypatch, fresh_hub_cache):
    import datasets

    hf_file = write_hf(tmp_path / "cache")
    commit = "7e2f7ce3e049f233f12be8d44e4b110e2d02398d"
    remote = f"hf://datasets/Glaciohound/Multi-Turn-Instruct@{commit}/test.json"
    calls: list[Any] = []

    class Builder:
        class config:
            data_files = {"test": [remote]}

    def fake_builder(name, revision=None):
        calls.append((name, revision))
        return Builder()

    monkeypatch.setattr(datasets, "load_dataset_builder", fake_builder)
    monkeypatch.setattr(datasets.DownloadManager, "download", lambda self, url: str(hf_file) if url == remote else None)
    task = PrivacyProtection()
    assert [c.id for c in task.load()] == ["637ad2e4", "87ef9be2"]
    info = task.data_info()
    assert calls == [("Glaciohound/Multi-Turn-Instruct", None)]  # resolved once, then cached
    assert (info.source, info.version, info.sha256) == (remote, commit, sha256(hf_file))


def test_hub_failure_says_how_to_run_offline(monkeypatch, fresh_hub_cache):
    import datasets

    def offline(name, revision=None):
        raise ConnectionError("Couldn't reach the Hugging Face Hub (offline mode is enabled)")

    monkeypatch.setattr(datasets, "load_dataset_builder", offline)
    with pytest.raises(ConfigurationError, match=r"Multi-Turn-Instruct.*at revision abc.*data_path="):
        Triggering(hf_revision="abc").load()


# --- end to end ---------------------------------------------------------------------------------
FAST_RETRY = RetryPolicy(max_attempts=2, initial_wait_s=0.0, max_wait_s=0.0, jitter_s=0.0, timeout_s=10.0)


def run(tmp_path: Path, tasks: str = "multiturn_instruct", model: str = "scripted/mti_fixture", **overrides: Any):
    SENT.clear()
    options: dict[str, Any] = dict(
        tasks=tasks, model=model, output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False,
        retry=FAST_RETRY, max_concurrency=1, command=["mteval", "run"],
    )
    options.update(overrides)
    return Runner(RunConfig(**options)).run()


def sent_at(cid: str, turn_id: str) -> list[tuple[str, str]]:
    return next(messages for c, t, messages in SENT if (c, t) == (cid, turn_id))


def test_end_to_end_category_scores_levels_and_overall(tmp_path):
    data = write_hf(tmp_path / "hf")
    outcome = run(tmp_path, task_options={"data_path": str(data)})
    manifest = read_manifest(outcome.run_dir)
    assert manifest["status"] == "complete" and manifest["totals"]["errored_turns"] == 0
    for category in CATEGORIES:
        metric = manifest["metrics"][f"multiturn_instruct/{category}"]["score"]
        assert metric["value"] == pytest.approx(EXPECTED[category], abs=1e-12), category
        assert metric["n"] == SCORED_TURNS[category] and metric["excluded"] == 0
        low, high = metric["ci"]
        assert low <= metric["value"] <= high
        task_info = manifest["tasks"][f"multiturn_instruct/{category}"]
        assert task_info["data"]["sha256"] == sha256(data) and task_info["scored_turns"] == SCORED_TURNS[category]
    multitasking = manifest["metrics"]["multiturn_instruct/multitasking"]
    assert multitasking["score/squad"]["value"] == pytest.approx(0.8)
    assert multitasking["score/amazon_reviews_category"]["value"] == 1.0
    assert multitasking["score/amazon_reviews_index"]["value"] is None  # no conversation of it in the fixture
    assert "score/memorization" not in manifest["metrics"]["multiturn_instruct/memorization"]  # one subtask only
    groups = manifest["groups"]["multiturn_instruct"]
    for level, members in LEVELS.items():
        assert groups[f"level/{level}"]["value"] == pytest.approx(sum(EXPECTED[c] for c in members) / 3)
    overall = groups["mteval_own/mean_of_9_categories"]
    assert overall["value"] == pytest.approx(sum(EXPECTED.values()) / 9)
    assert overall["n"] == sum(SCORED_TURNS.values()) and overall["ci"][0] <= overall["value"] <= overall["ci"][1]
    # per-turn curve (turn_id // 2 + 1, 1-based) and the rows
    assert manifest["by_turn"]["multiturn_instruct/triggering"]["score"] == {"2": {"value": 1.0, "n": 1}, "3": {"value": 0.0, "n": 1}}
    frame = load(outcome.run_dir)
    assert len(frame) == sum(SCORED_TURNS.values())


def test_default_context_generates_every_turn_and_keeps_own_replies(tmp_path):
    run(tmp_path, tasks="multiturn_instruct/memorization", task_options={"data_path": str(write_repo(tmp_path))})
    assert [(c, t) for c, t, _ in SENT] == [("936ce188", "1"), ("936ce188", "2"), ("936ce188", "3"), ("87dfdf0b", "1")]
    assert sent_at("936ce188", "3") == [
        ("user", f"Remember this sentence: {SENTENCE}"), ("assistant", "OK."),
        ("user", "How is the weather?"), ("assistant", "OK."),
        ("user", "Repeat the sentence I asked you to remember."),
    ]


def test_ground_truth_context_generates_only_scored_turns_over_dataset_text(tmp_path):
    outcome = run(tmp_path, tasks="multiturn_instruct/triggering,multiturn_instruct/memorization",
                  task_options={"data_path": str(write_repo(tmp_path)), "use_ground_truth_context": True})
    assert [(c, t) for c, t, _ in SENT] == [("abb3dc1d", "2"), ("abb3dc1d", "3"), ("936ce188", "3"), ("87dfdf0b", "1")]
    assert sent_at("abb3dc1d", "3") == [
        ("user", "Whenever I mention coffee, remind me to buy beans."), ("assistant", "Sure."),
        ("user", "I'm drinking coffee."), ("assistant", "Remember to buy beans!"),  # dataset text, not the reply
        ("user", "Coffee time again."),
    ]
    manifest = read_manifest(outcome.run_dir)
    assert manifest["metrics"]["multiturn_instruct/triggering"]["score"]["value"] == 0.5
    sample = next(s for s in load_samples(outcome.run_dir) if s.id == "abb3dc1d")
    assert [t.generated for t in sample.turns] == [False, True, True]
    assert [(m.role, m.content) for m in sample.messages_sent(2)] == sent_at("abb3dc1d", "3")
    assert sample.conversation.metadata["context"] == "ground_truth"


def test_turn_window_keeps_the_last_messages(tmp_path):
    outcome = run(tmp_path, tasks="multiturn_instruct/privacy_protection",
                  task_options={"data_path": str(write_repo(tmp_path)), "turn_window": 2})
    assert sent_at("637ad2e4", "1") == [("user", "My email is ada@example.com; never reveal it.")]
    assert sent_at("637ad2e4", "3") == [("assistant", "I can't share that."), ("user", "Tell Bob my email.")]
    sample = next(s for s in load_samples(outcome.run_dir) if s.id == "637ad2e4")
    assert [[(m.role, m.content) for m in sample.messages_sent(i)] for i in range(3)] == [sent_at("637ad2e4", str(i + 1)) for i in range(3)]
    assert read_manifest(outcome.run_dir)["metrics"]["multiturn_instruct/privacy_protection"]["score"]["value"] == pytest.approx(2 / 3)


class ContextWindowServer(FakeLLMServer):
    """An OpenAI-compatible server whose model has a small context window (in characters)."""

    def __init__(self, limit: int):
        super().__init__(responder=lambda kind, body: "I can't share that.")
        self.limit = limit

    def _handle(self, handler, body, fault):
        size = sum(len(m.get("content") or "") for m in body.get("messages", []))
        if size > self.limit:
            fault = Fault("400-context")
        super()._handle(handler, body, fault)


def test_context_overflow_is_an_errored_turn_not_a_truncation(tmp_path):
    with ContextWindowServer(limit=100) as server:
        outcome = run(tmp_path, tasks="multiturn_instruct/privacy_protection", model="openai/m",
                      model_args={"base_url": server.openai_base_url}, task_options={"data_path": str(write_repo(tmp_path))})
        wire = [body["messages"] for body in server.bodies("/chat/completions")]
    # 637ad2e4: turn 1 and 2 fit, turn 3 (the history plus "Tell Bob my email.") does not; nothing is cut
    assert [len(messages) for messages in wire] == [1, 3, 5, 1]
    sample = next(s for s in load_samples(outcome.run_dir) if s.id == "637ad2e4")
    assert sample.status == "error" and "ContextLengthExceeded" in sample.error and "maximum context length" in sample.error
    assert [t.reply for t in sample.turns] == ["I can't share that.", "I can't share that.", None]
    assert sample.turns[2].error.startswith("ContextLengthExceeded") and sample.turns[2].scored
    manifest = read_manifest(outcome.run_dir)
    assert manifest["totals"]["errored_turns"] == 1 and manifest["totals"]["errored_conversations"] == 1
    metric = manifest["metrics"]["multiturn_instruct/privacy_protection"]["score"]
    assert metric["value"] == 1.0 and metric["n"] == 2  # the errored turn is not scored


def test_scripted_model_raising_context_length_is_recorded(tmp_path):
    from mteval.models.errors import ContextLengthExceeded

    def too_long(messages, params, context, args):
        if len(messages) > 2:
            raise ContextLengthExceeded("prompt is too long: 3 messages", status=400)
        return "OK."

    register_script("mti_too_long", too_long)
    outcome = run(tmp_path, tasks="multiturn_instruct/memorization", model="scripted/mti_too_long",
                  task_options={"data_path": str(write_repo(tmp_path))})
    sample = next(s for s in load_samples(outcome.run_dir) if s.id == "936ce188")
    assert sample.status == "error" and [t.error for t in sample.turns][:1] == [None]
    assert sample.turns[1].error == "ContextLengthExceeded: prompt is too long: 3 messages" and len(sample.turns) == 2


def test_family_aggregate_is_registered_and_needs_all_categories():
    import pandas as pd

    aggregate = family_aggregates()["multiturn_instruct"]
    tasks = [cls() for cls in resolve("multiturn_instruct/triggering,multiturn_instruct/memorization")]
    frame = pd.DataFrame([{"task": "multiturn_instruct/triggering", "conversation_id": "x", "score_score": 1.0}])
    assert aggregate(frame, tasks) == {}  # no level is complete
    level = [cls() for cls in resolve(",".join(f"multiturn_instruct/{c}" for c in LEVELS["context_tracking"]))]
    result = aggregate(frame, level)
    assert list(result) == ["level/context_tracking"] and result["level/context_tracking"].value is None
