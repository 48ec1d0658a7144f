"""`mteval import rad-bench` on the real published files (a five-model subset in
tests/fixtures/rad_bench_published, see its SOURCE.md) and on the fixture: every model imported, counts and scores as in the source, the published
per-category table reproduced, native-format runs (show, compare, leaderboard), byte-
identical re-imports, the question file's sha256 equal to a native run's, and bad input
reported with file and line without stopping the other models.
"""

from __future__ import annotations

import atexit
import csv
import gzip
import json
import random
import shutil
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest

import mteval
from mteval.cli import main
from mteval.results import load, load_samples, read_manifest
from mteval.runner import RunConfig, Runner
from mteval.scoring.jury import JuryConfig
from mteval_tasks.rad_bench.questions import CATEGORIES, category_of
from mteval_tasks.rad_bench.tasks import RetrievalReasoning, RetrievalSynthesis

ROOT = Path(mteval.__file__).resolve().parents[1]
PUBLISHED = Path(__file__).parent / "fixtures" / "rad_bench_published"


def _decompressed() -> Path:
    """The published files as the importer expects them (plain .jsonl), in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="rad-bench-published-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for packed in PUBLISHED.rglob("*.gz"):
        target = folder / packed.relative_to(PUBLISHED).with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.decompress(packed.read_bytes()))
    return folder


DATA = _decompressed()
ANSWERS = DATA / "model_answer"
JUDGMENTS = DATA / "model_judgment" / "gpt-4o.jsonl"
TABLE = PUBLISHED / "evaluated_models.csv"
FIXTURES = Path(__file__).parent / "fixtures" / "rad_bench"
QUESTIONS = FIXTURES / "questions.jsonl"
REFERENCES = FIXTURES / "reference_ans_model.jsonl"
CSV_NAMES = {
    "GPT-4o": "gpt-4o",
    "GPT-3.5-Turbo": "gpt-35-turbo-16k-4k",
    "Llama3-70B": "llama3-70b-instruct",
    "Llama3-8B": "llama3-8b-instruct",
    "BreeXe-8x7B": "breexe-8x7b-instruct-v01",
    "Breeze-7B": "breeze-7B-32k-instruct-v10",
    "Mixtral-8x22B": "mixtral-8x22b-instruct",
}
JUDGED = {"gpt-4o", "breeze-7B-32k-instruct-v10", "llama3-8b-instruct"}
"""The judged models of the fixture subset (the published file judges these and four more)."""
TASK_OF = {c: ("rad_bench/synthesis" if c in ("academic", "news", "education") else "rad_bench/reasoning") for c in CATEGORIES}


def source_answers() -> dict[str, list[dict]]:
    return {p.stem: [json.loads(line) for line in p.read_text().splitlines() if line.strip()] for p in sorted(ANSWERS.glob("*.jsonl"))}


def source_judgments() -> list[tuple[int, dict]]:
    return [(i, json.loads(line)) for i, line in enumerate(JUDGMENTS.read_text().splitlines(), 1)]


def published_table() -> dict[str, dict[str, float]]:
    rows = {}
    with TABLE.open() as handle:
        for row in csv.reader(handle):
            if row and row[0].strip() in CSV_NAMES:
                values = [float(v) for v in row[1:] if v.strip()]
                rows[CSV_NAMES[row[0].strip()]] = dict(zip([*CATEGORIES, "average"], values))
    return rows


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("imported")
    code = main(["import", "rad-bench", "--answers", str(ANSWERS), "--judgments", str(JUDGMENTS), "--output-dir", str(out)])
    assert code == 0
    return out


def run_of(root: Path, model: str) -> Path:
    return root / f"imported-rad-bench-{model}"


def test_every_model_is_imported_with_its_source_counts(imported):
    answers = source_answers()
    assert len(answers) == 5  # the fixture's subset of the 16 published models
    assert sorted(p.name for p in imported.iterdir()) == sorted(f"imported-rad-bench-{m}" for m in answers)
    for model, records in answers.items():
        run = run_of(imported, model)
        samples = load_samples(run)
        expected = Counter(category_of(r["question_id"]) for r in records)
        assert Counter(s.conversation.metadata["category"] for s in samples) == expected, model
        assert {s.conversation.id: s.task for s in samples} == {r["question_id"]: TASK_OF[category_of(r["question_id"])] for r in records}
        replies = {(s.conversation.id, t.turn_id): t.reply for s in samples for t in s.turns}
        assert replies == {(r["question_id"], str(j + 1)): a for r in records for j, a in enumerate(r["choices"][0]["turns"])}
        manifest = read_manifest(run)
        assert manifest["imported"]["format"] == "rad-bench" and manifest["imported"]["questions"] == "unavailable"
        assert sum(t["conversations"] for t in manifest["tasks"].values()) == len(records)
    assert len(load_samples(run_of(imported, "deepseek-chat"))) == 85


def test_models_without_judgments_have_replies_and_no_scores(imported):
    judged = {j["model"] for _, j in source_judgments()}
    assert judged == JUDGED and judged <= set(CSV_NAMES.values())
    for model in source_answers():
        manifest = read_manifest(run_of(imported, model))
        assert manifest["imported"]["judged"] == (model in judged)
        if model not in judged:
            assert manifest["jury"] is None and manifest["groups"] == {"rad_bench": {}}
            assert any("No published judgments" in n for n in manifest["imported"]["notes"])
            assert manifest["metrics"]["rad_bench/synthesis"]["score"]["value"] is None
            assert "score_score" not in load(run_of(imported, model))


def test_spot_checked_scores_equal_the_source_lines(imported):
    lines = source_judgments()
    samples = {m: {(s.conversation.id, t.turn_id): t for s in load_samples(run_of(imported, m)) for t in s.turns} for m in JUDGED}
    picked = random.Random(5).sample(lines, 60) + [(i, j) for i, j in lines if j["score"] == -1]
    for line, record in picked:
        turn = samples[record["model"]][(record["question_id"], str(record["turn"]))]
        score = turn.scores["score"]
        verdict = score.details["verdicts"][0]
        assert score.explanation == record["judgment"]
        assert (verdict["judge"], verdict["spec"]) == ("gpt-4o", f"rad_bench/{record['judge'][1]}")
        assert verdict["raw"] == record["judgment"] and verdict["source"]["line"] == line
        if record["score"] == -1:
            assert score.status == "unparsed" and score.value is None and verdict["status"] == "unparsed"
        else:
            assert score.status == "ok" and score.value == record["score"] and verdict["value"] == record["score"]


def test_judged_turn_counts_per_model_and_scenario(imported):
    expected: dict[str, Counter] = defaultdict(Counter)
    for _, record in source_judgments():
        expected[record["model"]][category_of(record["question_id"])] += 1
    for model, counts in expected.items():
        frame = load(run_of(imported, model))
        found = Counter(category_of(c) for c, status in zip(frame["conversation_id"], frame["status_score"]) if status in ("ok", "unparsed"))
        assert found == counts
        assert read_manifest(run_of(imported, model))["totals"]["scores"]["ok"] + read_manifest(run_of(imported, model))["totals"]["scores"]["unparsed"] == 267


def test_per_category_means_equal_the_published_table(imported):
    table = published_table()
    assert set(table) == set(CSV_NAMES.values())
    differing = []
    for model, row in sorted(table.items()):
        if model not in JUDGED:  # not in the fixture's subset
            continue
        manifest = read_manifest(run_of(imported, model))
        metrics = {**manifest["metrics"]["rad_bench/synthesis"], **manifest["metrics"]["rad_bench/reasoning"]}
        for category in CATEGORIES:
            if metrics[f"score/{category}"]["value"] != pytest.approx(row[category], abs=1e-9):
                differing.append((model, category))
        if not differing or differing[-1][0] != model:
            assert manifest["groups"]["rad_bench"]["average"]["value"] == pytest.approx(row["average"], abs=1e-9)
    # the RAD-Bench paper's table counted the one -1 as a value; mteval excludes it by default.
    assert differing == [("breeze-7B-32k-instruct-v10", "education")]
    frame = load(run_of(imported, "breeze-7B-32k-instruct-v10"))
    synthesis = RetrievalSynthesis(unparsed_as=-1).metrics(frame[frame.task == "rad_bench/synthesis"])
    assert synthesis["score/education"].value == pytest.approx(table["breeze-7B-32k-instruct-v10"]["education"], abs=1e-9)
    assert synthesis["score/education"].excluded == 0
    default = RetrievalSynthesis().metrics(frame[frame.task == "rad_bench/synthesis"])["score/education"]
    assert default.excluded == 1 and default.n == 59


def test_minus_one_option_reproduces_the_whole_table(tmp_path):
    table = published_table()
    code = main([
        "import", "rad-bench", "--answers", str(ANSWERS), "--judgments", str(JUDGMENTS), "--output-dir", str(tmp_path),
        "--models", "breeze-7B-32k-instruct-v10,gpt-4o", "--task-args", "unparsed_as=-1",
    ])
    assert code == 0
    for model in ("breeze-7B-32k-instruct-v10", "gpt-4o"):
        manifest = read_manifest(run_of(tmp_path, model))
        metrics = {**manifest["metrics"]["rad_bench/synthesis"], **manifest["metrics"]["rad_bench/reasoning"]}
        for category in CATEGORIES:
            assert metrics[f"score/{category}"]["value"] == pytest.approx(table[model][category], abs=1e-9)
        assert manifest["groups"]["rad_bench"]["average"]["value"] == pytest.approx(table[model]["average"], abs=1e-9)
        assert manifest["task_options"] == {"unparsed_as": -1}


def test_api_error_answers_are_kept_and_flagged(imported):
    records = source_answers()["gemma-2-27b-it"]
    errors = sum(a == "$ERROR$" for r in records for a in r["choices"][0]["turns"])
    manifest = read_manifest(run_of(imported, "gemma-2-27b-it"))
    assert manifest["imported"]["api_error_answers"] == errors == manifest["totals"]["errored_turns"]
    samples = load_samples(run_of(imported, "gemma-2-27b-it"))
    flagged = [t for s in samples for t in s.turns if t.error]
    assert len(flagged) == errors and all(t.reply == "$ERROR$" for t in flagged)


def test_placeholders_name_question_and_turn(imported):
    sample = next(s for s in load_samples(run_of(imported, "gpt-4o")) if s.conversation.id == "TR_travel_03")
    assert sample.messages_sent(2)[-1].content == "[RAD-Bench question TR_travel_03, turn 3: text unavailable (imported without --questions)]"
    assert [m.role for m in sample.messages_sent(2)] == ["user", "assistant", "user", "assistant", "user"]
    assert sample.messages_sent(2)[1].content == sample.turns[0].reply
    manifest = read_manifest(run_of(imported, "gpt-4o"))
    assert any("Questions unavailable" in n for n in manifest["imported"]["notes"])
    assert manifest["tasks"]["rad_bench/synthesis"]["data"]["source"].startswith("unavailable")


def test_imported_runs_work_with_show_and_compare(imported, capsys):
    assert main(["show", str(run_of(imported, "gpt-4o"))]) == 0
    out = capsys.readouterr().out
    assert "(imported)" in out and "score/travel" in out and "average" in out
    from mteval.compare import gate

    code, report = gate(run_of(imported, "llama3-8b-instruct"), run_of(imported, "gpt-4o"))
    assert code == 0 and report.error is None
    assert {t.task: t.paired_turns for t in report.tasks} == {"rad_bench/reasoning": 120, "rad_bench/synthesis": 147}


def test_imported_runs_on_the_leaderboard(imported, tmp_path):
    import shutil

    from mteval.leaderboard.build import build_site

    results = tmp_path / "results"
    for model in ("gpt-4o", "deepseek-chat"):
        shutil.copytree(run_of(imported, model), results / run_of(imported, model).name)
    built = build_site(results, tmp_path / "site")
    assert built.runs == 2
    overview = json.loads((tmp_path / "site" / "overview.json").read_text())
    row = next(r for r in overview["rows"] if "gpt-4o" in json.dumps(r.get("model", r)))
    assert row["cells"]["family:rad_bench"]["value"] == pytest.approx(published_table()["gpt-4o"]["average"])


def test_reimport_is_byte_identical(tmp_path):
    args = ["import", "rad-bench", "--answers", str(ANSWERS), "--judgments", str(JUDGMENTS), "--models", "gpt-4o,deepseek-chat"]
    assert main([*args, "--output-dir", str(tmp_path / "a")]) == 0
    assert main([*args, "--output-dir", str(tmp_path / "b")]) == 0
    assert main([*args, "--output-dir", str(tmp_path / "a")]) == 0  # over an earlier import
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 4
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    import time

    manifest = read_manifest(tmp_path / "a" / "imported-rad-bench-gpt-4o")
    stamps = [r["tstamp"] for r in source_answers()["gpt-4o"]] + [j["tstamp"] for _, j in source_judgments() if j["model"] == "gpt-4o"]
    assert manifest["started_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(min(r["tstamp"] for r in source_answers()["gpt-4o"])))
    assert manifest["finished_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(max(stamps)))


# --- with the question file (fixture) --------------------------------------------------------------
def _fixture_sources(root: Path, models: dict[str, dict[str, int]]) -> tuple[Path, Path]:
    """Answer files for `models` over the fixture questions, and judgments with the
    given per-(question) base score."""
    answers, judgments = root / "model_answer", root / "judgments.jsonl"
    answers.mkdir(parents=True)
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]
    lines = []
    for model, scores in models.items():
        with (answers / f"{model}.jsonl").open("w") as handle:
            for i, q in enumerate(questions):
                turns = [f"answer to {q['question_id']} turn {t}" for t in (1, 2, 3)]
                handle.write(json.dumps({"question_id": q["question_id"], "answer_id": f"a{i}", "model_id": model, "choices": [{"index": 0, "turns": turns}], "tstamp": 1720000000.0 + i}) + "\n")
                for t in (1, 2, 3):
                    lines.append({"question_id": q["question_id"], "turn": t, "type": q["aspect"], "score": scores.get(q["question_id"], 7), "model": model,
                                  "judge": ["gpt-4o", f"{q['aspect']}-{t}-turn"], "judgment": f"ok. Rating: [[{scores.get(q['question_id'], 7)}]]", "tstamp": 1720001000.0 + t})
    judgments.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return answers, judgments


def test_with_questions_the_import_matches_a_native_run(tmp_path):
    answers, judgments = _fixture_sources(tmp_path / "src", {"m1": {"RS_news_00": 9}})
    out = tmp_path / "imported"
    code = main(["import", "rad-bench", "--answers", str(answers), "--judgments", str(judgments), "--questions", str(QUESTIONS),
                 "--references", str(REFERENCES), "--output-dir", str(out)])
    assert code == 0
    imported_dir = out / "imported-rad-bench-m1"
    config = RunConfig(
        tasks="rad_bench", model="scripted/radbench_answer", jury=JuryConfig.from_models(["scripted/radbench_judge"]),
        task_options={"questions": str(QUESTIONS), "references": str(REFERENCES)}, output_dir=tmp_path / "native",
        cache_dir=tmp_path / "cache", progress=False, command=["mteval", "run"],
    )
    import tests.test_rad_bench  # noqa: F401  (registers the scripted model and judge)

    native_dir = Runner(config).run().run_dir
    native, mine = read_manifest(native_dir), read_manifest(imported_dir)
    assert set(mine) == set(native) | {"task_options"}
    assert mine["imported"]["questions"] == "given" and native["imported"] is None
    for task in ("rad_bench/synthesis", "rad_bench/reasoning"):
        assert mine["tasks"][task] == native["tasks"][task]  # version, data sha256, counts
        assert set(mine["metrics"][task]) == set(native["metrics"][task])
    assert set(mine["totals"]) == set(native["totals"])
    native_samples = {s.conversation.id: s for s in load_samples(native_dir)}
    for sample in load_samples(imported_dir):
        other = native_samples[sample.conversation.id]
        assert sample.conversation == other.conversation and sample.generation == other.generation
        for i in range(3):
            assert sample.messages_sent(i) == other.messages_sent(i)
    assert mine["metrics"]["rad_bench/synthesis"]["score/news"]["value"] == 9.0
    assert mine["imported"]["files"][str(QUESTIONS)] and mine["imported"]["files"][str(REFERENCES)]
    from mteval.compare import CompareOptions, gate

    code, report = gate(native_dir, imported_dir, CompareOptions(min_pairs=1))
    assert report.error is None and {t.task: t.paired_turns for t in report.tasks} == {"rad_bench/reasoning": 9, "rad_bench/synthesis": 9}


def test_bad_input_is_reported_and_good_models_are_written(tmp_path, capsys):
    answers, judgments = _fixture_sources(tmp_path / "src", {"good": {}, "bad_q": {}, "bad_dup": {}, "bad_range": {}, "bad_answers": {}})
    lines = [json.loads(line) for line in judgments.read_text().splitlines()]
    base = next(line for line in lines if line["model"] == "bad_q")
    extra = [
        dict(base, question_id="RS_news_99"),  # a question that does not exist
        dict(base, turn=4),  # a turn that does not exist
        dict(next(line for line in lines if line["model"] == "bad_dup")),  # a duplicate
        dict(base, model="ghost"),  # a model without answers
    ]
    ranged = [i for i, line in enumerate(lines) if line["model"] == "bad_range"]
    lines[ranged[1]]["score"] = 11
    lines[ranged[2]]["score"] = 0
    judgments.write_text("".join(json.dumps(line) + "\n" for line in lines + extra))
    with (answers / "bad_answers.jsonl").open("a") as handle:
        handle.write("{not json\n")
    code = main(["import", "rad-bench", "--answers", str(answers), "--judgments", str(judgments), "--questions", str(QUESTIONS),
                 "--references", str(REFERENCES), "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["imported-rad-bench-good"]
    n = len(lines)
    expected = [
        f"{answers / 'bad_answers.jsonl'}:7: invalid JSON",
        f"{judgments}:{n + 1}: judgment for question RS_news_99",
        f"{judgments}:{n + 2}: judgment for turn 4 of question",
        f"{judgments}:{n + 3}: duplicate judgment of bad_dup",
        f"{judgments}:{n + 4}: judgment for model 'ghost', which has no answer file",
        f"{judgments}:{ranged[1] + 1}: score 11 is outside 1-10 (and not -1, which means unparsed)",
        f"{judgments}:{ranged[2] + 1}: score 0 is outside 1-10",
    ]
    for text in expected:
        assert text in err, text
    assert "not imported (input problems): bad_answers, bad_dup, bad_q, bad_range" in err


def test_answers_for_unknown_questions_or_wrong_turn_counts(tmp_path):
    from mteval_tasks.rad_bench.importer import import_rad_bench

    answers, _ = _fixture_sources(tmp_path / "src", {"m": {}})
    with (answers / "m.jsonl").open("a") as handle:
        handle.write(json.dumps({"question_id": "RS_sports_00", "choices": [{"turns": ["a", "b", "c"]}]}) + "\n")
        handle.write(json.dumps({"question_id": "RS_news_00", "choices": [{"turns": ["a"]}]}) + "\n")
    result = import_rad_bench(answers, None, tmp_path / "out")
    messages = sorted(str(p) for p in result.problems)
    assert result.exit_code == 1 and result.skipped == ["m"] and not result.runs
    assert any(":7: question RS_sports_00 does not exist in the benchmark" in m for m in messages)
    assert any(":8: duplicate answer to question RS_news_00" in m for m in messages)
    result = import_rad_bench(answers, None, tmp_path / "out2", questions=str(QUESTIONS))
    assert any(":7: question RS_sports_00 does not exist in the question file" in str(p) for p in result.problems)


def test_native_run_cannot_be_overwritten_by_an_import(tmp_path):
    from mteval.models.errors import ConfigurationError
    from mteval_tasks.rad_bench.importer import import_rad_bench

    answers, _ = _fixture_sources(tmp_path / "src", {"m": {}})
    target = tmp_path / "out" / "imported-rad-bench-m"
    target.mkdir(parents=True)
    (target / "run.json").write_text(json.dumps({"schema": "mteval.run/1", "imported": None}))
    with pytest.raises(ConfigurationError, match="native run"):
        import_rad_bench(answers, None, tmp_path / "out")


def test_reasoning_task_alone_has_no_family_average(tmp_path):
    answers, judgments = _fixture_sources(tmp_path / "src", {"m": {}})
    frame_dir = tmp_path / "out"
    assert main(["import", "rad-bench", "--answers", str(answers), "--judgments", str(judgments), "--output-dir", str(frame_dir)]) == 0
    frame = load(frame_dir / "imported-rad-bench-m")
    from mteval_tasks.rad_bench.metrics import family_average

    reasoning_only = frame[frame.task == "rad_bench/reasoning"]
    assert family_average(reasoning_only, [RetrievalReasoning()]) == {}
    assert family_average(frame, [RetrievalReasoning()])["average"].value == pytest.approx(7.0)


def test_missing_inputs_are_usage_errors(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["import", "rad-bench", "--answers", str(ANSWERS), "--judgments", str(tmp_path / "nope.jsonl"), "--output-dir", str(out)]) == 2
    assert main(["import", "rad-bench", "--answers", str(tmp_path / "none"), "--output-dir", str(out)]) == 2
    assert not out.exists()
    assert main(["import", "rad-bench", "--answers", str(ANSWERS), "--models", "gpt-4o,no-such-model", "--output-dir", str(out)]) == 1
    assert "no answer file no-such-model.jsonl" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["imported-rad-bench-gpt-4o"]
