"""MT-Eval data: the shipped files load into the dialogue shapes of MT-Eval (arXiv 2401.16745),
context-only turns carry their gold reply, single-turn items map back to their multi-turn
turn, bad input fails with file, line and field, and the Hugging Face path works through
`datasets` (a local `Dataset.from_list` stand-in, never the network)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mteval.conversation import Conversation
from mteval.data import DataError
from mteval.models.errors import ConfigurationError
from mteval.registry import all_tasks, resolve
from mteval.task import sha256_files

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tasks" / "mt_eval" / "data"


def source_hashes() -> dict[str, tuple[int, str]]:
    """`path -> (bytes, sha256)` from the table in tasks/mt_eval/SOURCE.md, recorded when
    the files were copied from upstream."""
    import re

    text = (ROOT / "tasks" / "mt_eval" / "SOURCE.md").read_text(encoding="utf-8")
    return {m[1]: (int(m[2]), m[3]) for m in re.finditer(r"^\| `([^`]+)` \| (\d+) \| `([0-9a-f]{64})` \|$", text, re.MULTILINE)}


def task(name: str, **options):
    return all_tasks()[f"mt_eval/{name}"].cls(**options)


def raw(file: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{file}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


# (task, dialogues, turns, scored, single-turn items)
SHAPES = [
    ("recollection_cls", 10, 110, 100, 100),
    ("recollection_global_inst", 28, 308, 280, 280),
    ("expansion", 10, 70, 70, 70),
    ("refinement", 40, 480, 480, 200),
    ("follow_up", 80, 400, 240, 240),
    ("cls_ablation_gold", 100, 850, 100, 100),
    ("cls_ablation_dgc", 100, 850, 100, 100),
    ("cls_ablation_sgc", 100, 850, 100, 100),
    ("cls_ablation_rc", 100, 850, 100, 100),
    ("refinement_irrelevant_front", 120, 1120, 720, 720),
]


def test_family_and_registration():
    names = {n for n in all_tasks() if n.startswith("mt_eval/")}
    assert names == {f"mt_eval/{s[0]}" for s in SHAPES}
    assert [c.name for c in resolve("mt_eval")] == [
        "mt_eval/expansion", "mt_eval/follow_up", "mt_eval/recollection_cls", "mt_eval/recollection_global_inst", "mt_eval/refinement",
    ]
    categories = {all_tasks()[n].cls.category for n in names if all_tasks()[n].cls.main}
    assert categories == {"Recollection", "Expansion", "Refinement", "Follow-up"}


@pytest.mark.parametrize("name,dialogues,turns,scored,singles", SHAPES)
def test_shapes_and_single_turn_mapping(name, dialogues, turns, scored, singles):
    t = task(name)
    conversations = t.load()
    assert len(conversations) == dialogues
    assert sum(len(c.turns) for c in conversations) == turns
    assert sum(len(c.scored_turns) for c in conversations) == scored
    assert len({c.id for c in conversations}) == dialogues
    for conversation in conversations:
        assert conversation.system == "You are a helpful, respectful and honest assistant."
        for turn in conversation.turns:
            assert turn.generate == turn.scored
            if not turn.generate:
                assert turn.gold is not None  # context-only turns are sent with their gold reply
    single = t.single_turn(conversations)
    assert len(single) == singles
    by_id = {c.id: c for c in conversations}
    for item in single:
        assert len(item.turns) == 1 and item.turns[0].generate and item.turns[0].scored
        source = by_id[item.metadata["source_conversation"]]
        assert source.turns[item.metadata["source_turn_index"]].scored
    # --limit 1: only the first dialogue's single-turn items
    limited = t.single_turn(conversations[:1])
    assert limited and {c.metadata["source_conversation"] for c in limited} == {conversations[0].id}


def test_single_turn_ids_and_positions():
    cls = task("recollection_cls")
    single = {c.id: c.metadata for c in cls.single_turn(cls.load())}
    assert single["1#4"] == {"source_conversation": "1", "source_turn_index": 1}
    refinement = task("refinement")
    conversations = refinement.load()
    single = refinement.single_turn(conversations)
    item = next(c for c in single if c.id == "1_sum_3")
    source = next(c for c in conversations if c.id == item.metadata["source_conversation"])
    assert source.turns[0].id.startswith("1_sum_")  # the dialogue where the task comes first
    assert source.turns[item.metadata["source_turn_index"]].id == "1_sum_4"  # k merges turns 1..k+1
    follow = task("follow_up")
    flattened = follow.single_turn(follow.load()[:1])
    assert [c.id for c in flattened] == ["81#3", "81#4", "81#5"]
    first = raw("follow-up_multi")[0]["conv"]
    assert flattened[0].turns[0].user == (
        f"User: {first[0]['user'].strip()}\nAssistant: {first[0]['sys'].strip()}\n"
        f"User: {first[1]['user'].strip()}\nAssistant: {first[1]['sys'].strip()}\n"
        f"User: {first[2]['user'].strip()}\nAssistant:"
    )
    assert flattened[0].turns[0].references["history"] == ""


def test_gold_replies_and_their_absence():
    gi = task("recollection_global_inst").load()[0]
    assert gi.turns[0].gold == "ok." and not gi.turns[0].generate
    assert all(t.gold is None for t in gi.turns[1:])  # empty sys: no gold reply in the shipped file
    assert gi.metadata == {"inst_name": "startend:start_char", "inst_args": {"letter": "o"}}
    fu = task("follow_up").load()[0]
    assert [t.generate for t in fu.turns] == [False, False, True, True, True]
    assert all(t.gold for t in fu.turns)
    front = task("refinement_irrelevant_front").load()
    empty_context = [t for c in front for t in c.turns if not t.generate and t.gold == ""]
    assert len(empty_context) == 6  # as in the file; sent as an empty assistant message
    assert front[0].metadata == {"n_distracts": 1}


def test_repeated_dialogue_ids_are_made_unique():
    conversations = task("cls_ablation_gold").load()
    ids = [c.id for c in conversations]
    assert "27_98" in ids and "27_98~2" in ids
    assert next(c for c in conversations if c.id == "27_98~2").metadata["data_id"] == "27_98"


def test_shipped_files_equal_the_recorded_upstream_copies_and_hash_into_data_info():
    import hashlib

    recorded = source_hashes()
    shipped = sorted(DATA.glob("*.jsonl")) + [DATA / "raw_data" / "documents.jsonl"]
    assert {f"data/{p.relative_to(DATA).as_posix()}" for p in shipped} <= set(recorded)
    for path in shipped:
        data = path.read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == recorded[f"data/{path.relative_to(DATA).as_posix()}"], path.name
    t = task("refinement")
    info = t.data_info()
    assert info.sha256 == sha256_files(t.data_files())
    assert info.files == (
        "refinement_multi.jsonl", "refinement_single.jsonl", "documents.jsonl",
        "refinement_multi_evaluation.txt", "refinement_single_evaluation.txt",
    )
    assert "bfe3a46" in info.version and "cls_match=substring" in info.version


# --- bad input -------------------------------------------------------------------------------
def _broken(tmp_path: Path, file: str, edit) -> Path:
    records = raw(file)
    edit(records)
    (tmp_path / f"{file}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return tmp_path


def _del(key):
    return lambda records: records[2]["conv"][4].pop(key)


@pytest.mark.parametrize(
    "file,name,edit,field",
    [
        ("refinement_multi", "refinement", _del("user"), "conv[4].user"),
        ("refinement_multi", "refinement", _del("do_inference"), "conv[4].do_inference"),
        ("refinement_multi", "refinement", lambda r: r[2]["conv"][4].update(user="   "), "conv[4].user"),
        ("refinement_multi", "refinement", lambda r: r[2]["conv"][4].update(sys=None), "conv[4].sys"),
        ("refinement_multi", "refinement", lambda r: r[2]["conv"][4].update(do_inference="yes"), "conv[4].do_inference"),
        ("refinement_multi", "refinement", _del("inst"), "conv[4].inst"),
        ("refinement_multi", "refinement", lambda r: r[2]["conv"][4].update(id="x_sum_5"), "conv[4].id"),
        ("refinement_multi", "refinement", lambda r: r[2].pop("conv"), "conv"),
        ("refinement_multi", "refinement", lambda r: r[2].update(conv={}), "conv"),
        ("refinement_multi", "refinement", lambda r: r[2].update(id=None), "id"),
        ("recollection_multi_cls", "recollection_cls", lambda r: r[2]["conv"][4].update(sys=""), "conv[4].sys"),
        ("recollection_multi_global-inst", "recollection_global_inst", lambda r: r[2].pop("inst_name"), "inst_name"),
        ("recollection_multi_global-inst", "recollection_global_inst", lambda r: r[2].update(inst_name="startend:nope"), "inst_name"),
        ("recollection_multi_global-inst", "recollection_global_inst", lambda r: r[2]["inst_args"].update(letter=7), "inst_args.letter"),
        ("recollection_multi_global-inst", "recollection_global_inst", lambda r: r[2]["inst_args"].update(extra=1), "inst_args.extra"),
    ],
)
def test_bad_records_name_file_line_and_field(tmp_path, file, name, edit, field):
    folder = _broken(tmp_path, file, edit)
    with pytest.raises(DataError) as info:
        task(name, data_dir=str(folder)).load()
    message = str(info.value)
    assert f"{file}.jsonl:3: field {field!r}" in message, message


def test_bad_json_line_is_named(tmp_path):
    shutil.copy(DATA / "expansion_multi.jsonl", tmp_path / "expansion_multi.jsonl")
    with (tmp_path / "expansion_multi.jsonl").open("a") as handle:
        handle.write('\n{"id": "11", "conv": [\n')
    with pytest.raises(DataError, match=r"expansion_multi.jsonl:11: invalid JSON"):
        task("expansion", data_dir=str(tmp_path)).load()


def test_bad_options_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="source"):
        task("expansion", source="web")
    with pytest.raises(ConfigurationError, match="cls_match"):
        task("recollection_cls", cls_match="fuzzy")
    with pytest.raises(ConfigurationError, match="not published on Hugging Face"):
        task("cls_ablation_gold", source="hf").load()
    assert task("expansion", system="").load()[0].system is None


# --- Hugging Face ----------------------------------------------------------------------------------
@pytest.fixture
def fake_hub(monkeypatch):
    """`datasets.load_dataset` answered from the shipped files through `Dataset.from_list`
    (which unifies struct keys across rows like the hub's Arrow files do)."""
    import datasets

    calls = []

    def follow_up_single() -> list[dict]:
        rows = []
        for record in raw("follow-up_multi"):
            conv = record["conv"]
            for t in (3, 4, 5):
                history = "".join(f"User: {x['user']}\nAssistant: {x['sys']}\n" for x in conv[: t - 1])
                rows.append({"id": f"{record['id']}#{t}", "conv": [{"user": history + f"User: {conv[t - 1]['user']}", "sys": conv[t - 1]["sys"], "id": f"{record['id']}#{t}", "do_inference": True}]})
        return rows

    def load_dataset(path, name=None, split=None, revision=None, **kwargs):
        calls.append((path, name, split, revision))
        rows = follow_up_single() if name == "follow-up_single" else raw(name)
        return datasets.Dataset.from_list(rows)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


@pytest.mark.parametrize("name", ["recollection_cls", "recollection_global_inst", "expansion", "refinement", "follow_up"])
def test_hf_source_gives_the_same_conversations(fake_hub, name):
    local, hub = task(name), task(name, source="hf")
    assert [c.model_dump() for c in hub.load()] == [c.model_dump() for c in local.load()]
    configs = [call[1] for call in fake_hub]
    assert all(call[0] == "wckwan/MT-Eval" and call[2] == "test" for call in fake_hub)
    info = hub.data_info()
    assert info.source.startswith("hf:wckwan/MT-Eval") and info.sha256 != local.data_info().sha256
    assert local.multi_config in configs


def test_hf_global_inst_args_lose_arrow_fill_ins(fake_hub):
    import datasets

    row = datasets.Dataset.from_list(raw("recollection_multi_global-inst"))[0]
    assert row["inst_args"]["lang"] is None  # what the hub returns
    conversation = task("recollection_global_inst", source="hf").load()[0]
    assert conversation.metadata["inst_args"] == {"letter": "o"}


def test_hf_follow_up_single_uses_the_published_items(fake_hub):
    t = task("follow_up", source="hf", hf_revision="abc123")
    single = t.single_turn(t.load()[:2])
    assert [c.id for c in single] == ["81#3", "81#4", "81#5", "82#3", "82#4", "82#5"]
    assert single[1].metadata["source_turn_index"] == 3
    assert single[1].turns[0].references == {"judge": "mt-bench", "history": ""}
    assert ("wckwan/MT-Eval", "follow-up_single", "test", "abc123") in fake_hub


def test_conversations_are_plain_data():
    conversation = task("refinement").load()[0]
    assert Conversation.model_validate_json(conversation.model_dump_json()) == conversation


def test_hf_bad_row_names_config_row_and_field(monkeypatch):
    import datasets

    rows = raw("expansion_multi")
    del rows[2]["conv"][1]["user"]
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, split=None, revision=None: datasets.Dataset.from_list(rows))
    with pytest.raises(DataError, match=r"hf:wckwan/MT-Eval/expansion_multi\[test\]:row 3: field 'conv\[1\].user': missing"):
        task("expansion", source="hf").load()
