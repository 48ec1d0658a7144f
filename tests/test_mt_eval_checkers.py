"""MT-Eval rule scoring: the classification substring rule on the benchmark's real labels,
every global-instruction checker on passing and failing replies, argument validation, and
the offline NLTK / lm-eval set-up the sentence counts depend on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mteval_tasks.mt_eval.checkers import ARGUMENTS, LANGUAGES, InstructionError, build_checker, cls_match, count_bullets
from mteval_tasks.mt_eval.sentences import PUNKT_ENGLISH, count_sentences

DATA = Path(__file__).resolve().parents[1] / "tasks" / "mt_eval" / "data"
TOPICS = {"ethics", "sports", "music", "art", "science", "literature", "economics", "medicine", "food", "technology", "history", "travel", "education"}


def check(name: str, args: dict | None = None):
    return build_checker(name, args or {})


# --- classification rule ------------------------------------------------------------------------
def _labels(file: str) -> list[str]:
    labels = []
    for line in (DATA / file).read_text(encoding="utf-8").splitlines():
        for turn in json.loads(line)["conv"]:
            if turn["do_inference"]:
                labels.append(turn["sys"])
    return labels


@pytest.mark.parametrize("file", ["recollection_multi_cls.jsonl", "recollection_single_cls.jsonl", "cls_ablation_gold.jsonl", "cls_ablation_rc.jsonl"])
def test_cls_rule_on_real_labels(file):
    labels = _labels(file)
    assert len(labels) == 100 and set(labels) <= TOPICS
    for label in labels:
        assert cls_match(label, label)
        assert cls_match(f"Category: {label.upper()}.", label)  # punctuation -> space, lowercase
        assert cls_match(f"The document is about {label}!", label, mode="word")
        others = [t for t in TOPICS if t != label and t not in label and label not in t]
        assert not cls_match(others[0], label)


def test_cls_rule_quirks_match_upstream():
    assert len(set(_labels("recollection_multi_cls.jsonl"))) == 13
    assert cls_match("start", "art")  # substring, as upstream
    assert not cls_match("start", "art", mode="word")
    assert cls_match("Science-fiction", "science")
    assert cls_match("food/travel", "travel", mode="word")  # '/' becomes a space
    assert not cls_match("", "music")
    with pytest.raises(ValueError):
        cls_match("x", "music", mode="fuzzy")


# --- the 14 checkers ----------------------------------------------------------------------------
CASES = [
    ("startend:start_char", {"letter": "o"}, ["Of course.", "  ok then", "OBVIOUSLY"], ["Sure, o.", "", " 0k"]),
    ("startend:start_emoji", {}, ["😀 Hello", "  🎉 Party!", "❤️ love it", "🚀"], ["Hello 😀", "", ":) hi", "1 apple"]),
    (
        "startend:end_phrase",
        {"end_phrase": "Is there anything else I can help with?"},
        ["Done. Is there anything else I can help with?", "'Done. is there anything else i can help with?'", "x Is there anything else I can help with?  \n"],
        ['"Done. Is there anything else I can help with?"', "Is there anything else I can help with? Bye", "Anything else?"],
    ),
    (
        "language:response_language",
        {"lang": "Bulgarian"},
        ["Здравейте, как сте днес? Аз съм добре, благодаря ви много за въпроса.", "12345 !!!"],
        ["Hello, how are you today? I am fine, thank you very much for asking.", "", "   \n"],
    ),
    (
        "format:json_format",
        {},
        ['```json\n{"answer": 1}\n```', '```JSON\n{"a": [1, 2]}```', "```\n[1, 2]\n```", '  {"a": "b"}  ', '```Json {"k": null} ```'],
        ['Here is JSON: {"a": 1}', '```json\n{"a": 1}\n``` and more', "{a: 1}", "```python\n{}\n```"],
    ),
    (
        "format:bullet_list",
        {"num_bullets": 4},
        ["* one\n* two\n* three\n* four", "Intro\n- a\n- b\n* c\n  * d\nOutro", "* a\n* b\n* c\n* d\n**bold** line"],
        ["* one\n* two\n* three", "* a\n* b\n* c\n* d\n* e", "1. a\n2. b\n3. c\n4. d", "**a**\n**b**\n**c**\n**d**"],
    ),
    ("format:bullet_list", {"num_bullets": 0}, ["- just one", "* a\n* b"], ["no bullets here", "**bold** only"]),
    (
        "length_constraints:number_sentences",
        {"num_sentences": 4, "relation": "less than"},
        ["One. Two. Three.", "Dr. Smith met Mr. Jones at 5 p.m. in the U.S. capital. They talked.", "No full stop at all"],
        ["One. Two. Three. Four.", "It rains! Why? We stay home. We read. Then we sleep."],
    ),
    (
        "keywords:existence",
        {"keywords": ["city", "garbage"]},
        ["The CITY has a Garbage problem.", "cityscapes produce garbage"],
        ["The city is clean.", "garbage only", ""],
    ),
    ("keywords:existence", {"keywords": ["c++", "hat"]}, ["I wear a hat and write C++."], ["I write C and wear a hat."]),
    ("change_case:capital_letter", {}, ["HELLO WORLD 123!", "ÉCOLE"], ["Hello world", "", "123"]),
    ("change_case:lowercase", {}, ["hello world, 123!", "école"], ["Hello world", "", "123"]),
    ("punctuation:no_comma", {}, ["No commas here.", ""], ["One, two.", "Full-width ， is fine but this, is not"]),
    (
        "combination:two_responses",
        {},
        ["First answer.\n******\nSecond answer.", "****** A ****** B", "A ****** B ******"],
        ["Same ****** Same ", "A ****** ****** B", "Only one", "A ****** B ****** C", "A ***** B"],
    ),
    ("content:placeholder", {"num_placeholder": 2}, ["Dear [name], see [address].", "[a][b][c]"], ["Dear [name].", "No brackets", "[unclosed"]),
    (
        "format:constrained_response",
        {"response_options": ["My answer is yes.", "My answer is no.", "My answer is maybe."]},
        ["My answer is yes.", "Well... My answer is maybe. Because reasons."],
        ["my answer is yes.", "My answer is yes", "Yes."],
    ),
]


@pytest.mark.parametrize("name,args,passing,failing", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_checker(name, args, passing, failing):
    checker = check(name, args)
    for reply in passing:
        assert checker(reply), f"{name} should pass {reply!r}"
        assert checker.score(reply) == 10.0
    for reply in failing:
        assert not checker(reply), f"{name} should fail {reply!r}"
        assert checker.score(reply) == 0.0


def test_every_instruction_type_is_covered_and_attributed():
    assert {c[0] for c in CASES} == set(ARGUMENTS) and len(ARGUMENTS) == 14
    reused = {name for name in ARGUMENTS if check(name, {k: v for c in CASES if c[0] == name for k, v in c[1].items()}).implementation != "mteval"}
    assert reused == {"format:json_format", "length_constraints:number_sentences", "punctuation:no_comma", "combination:two_responses", "content:placeholder"}


def test_differences_from_lm_eval_variants():
    from mteval_tasks.mt_eval.sentences import ifeval_instructions

    ifeval = ifeval_instructions()
    # end phrase: MT-Eval strips single quotes, lm-eval double quotes
    lm_end = ifeval.EndChecker("startend:end_checker")
    lm_end.build_description(end_phrase="Any other questions?")
    mine = check("startend:end_phrase", {"end_phrase": "Any other questions?"})
    assert lm_end.check_following('"Sure. Any other questions?"') and not mine('"Sure. Any other questions?"')
    assert mine("'Sure. Any other questions?'")
    # language: empty reply passes in lm-eval (detection error), fails in MT-Eval
    lm_lang = ifeval.ResponseLanguageChecker("language:response_language")
    lm_lang.build_description(language="bg")
    assert lm_lang.check_following("") and not check("language:response_language", {"lang": "Bulgarian"})("")
    # bullets: N = 0 means "some bullets" in MT-Eval
    assert count_bullets("- a") == 1 and check("format:bullet_list", {"num_bullets": 0})("- a")
    # the language table is IFEval's, keyed by English name
    assert {name: code for code, name in ifeval.instructions_util.LANGUAGE_CODES.items()} == LANGUAGES


def test_language_detection_is_seeded_on_short_text():
    checker = check("language:response_language", {"lang": "French"})
    short = ["Oui", "Bonjour", "Merci beaucoup", "Ja", "ok"]
    first = [checker(text) for text in short]
    for _ in range(3):
        assert [checker(text) for text in short] == first
    from langdetect import DetectorFactory, detect

    DetectorFactory.seed = 0
    assert first[1] == (detect("Bonjour") == "fr")


def test_sentence_counts_use_the_shipped_punkt_model():
    assert count_sentences("Dr. Smith went to Washington. He arrived at 5 p.m. on Jan. 3rd! Was it fun? Yes.") == 4
    assert count_sentences("") == 0
    checker = check("length_constraints:number_sentences", {"num_sentences": 3, "relation": "at least"})
    assert checker("We went. It rained. We left.") and not checker("We went. It rained.")
    assert sorted(p.name for p in PUNKT_ENGLISH.iterdir()) == ["abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt"]


@pytest.mark.parametrize(
    "name,args,field",
    [
        ("startend:made_up", {}, "inst_name"),
        ("length_constraints:number_words", {"num_words": 100}, "inst_name"),
        (None, {}, "inst_name"),
        ("startend:start_char", {}, "inst_args.letter"),
        ("startend:start_char", {"letter": "ab"}, "inst_args.letter"),
        ("startend:start_emoji", {"emoji": "x"}, "inst_args.emoji"),
        ("format:bullet_list", {"num_bullets": "4"}, "inst_args.num_bullets"),
        ("format:bullet_list", {"num_bullets": True}, "inst_args.num_bullets"),
        ("format:bullet_list", {"num_bullets": -1}, "inst_args.num_bullets"),
        ("language:response_language", {"lang": "Klingon"}, "inst_args.lang"),
        ("length_constraints:number_sentences", {"num_sentences": 4, "relation": "more than"}, "inst_args.relation"),
        ("keywords:existence", {"keywords": []}, "inst_args.keywords"),
        ("content:placeholder", {"num_placeholders": 2}, "inst_args.num_placeholders"),
        ("format:constrained_response", {"response_options": "My answer is yes."}, "inst_args.response_options"),
        ("punctuation:no_comma", [1], "inst_args"),
    ],
)
def test_bad_instruction_is_a_clear_error(name, args, field):
    with pytest.raises(InstructionError) as info:
        build_checker(name, args)
    assert info.value.field == field


def test_lm_eval_import_never_downloads():
    """Without the model on NLTK's path lm-eval's import-time download is refused at once
    (no network, no wait); with the shipped model it finds punkt_tab and never calls
    nltk.download. One subprocess, so lm-eval is imported fresh."""
    code = (
        "import nltk\n"
        "import mteval_tasks.mt_eval.sentences as s\n"
        "real_ensure = s.ensure_punkt\n"
        "s.ensure_punkt = lambda: None\n"
        "nltk.data.path[:] = []\n"
        "try:\n"
        "    s.ifeval_instructions()\n"
        "except Exception as exc:\n"
        "    print('absent:', type(exc).__name__, exc)\n"
        "s.ensure_punkt = real_ensure\n"
        "s.ifeval_instructions.cache_clear()\n"
        "calls = []\n"
        "nltk.download = lambda *a, **k: calls.append(a) or False\n"
        "from mteval_tasks.mt_eval.checkers import build_checker\n"
        "c = build_checker('length_constraints:number_sentences', {'num_sentences': 2, 'relation': 'less than'})\n"
        "assert c('One sentence.') and not c('One. Two.')\n"
        "print('present: downloads', calls)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={**os.environ, "NLTK_DATA": "/nonexistent"})
    assert done.returncode == 0, done.stderr
    assert "absent: ConfigurationError mt_eval never downloads NLTK data" in done.stdout
    assert "present: downloads []" in done.stdout


def test_language_is_detected_on_the_stripped_reply():
    """MT-Eval strips the reply before langdetect; on the raw text this Punjabi reply's
    trailing space tips the detector to English."""
    from langdetect import DetectorFactory, detect

    reply = "ਧੰਨਵਾਦ Google Maps "
    DetectorFactory.seed = 0
    assert detect(reply) == "en"  # the deviation: raw text detected as English
    assert check("language:response_language", {"lang": "Punjabi"})(reply)
    assert not check("language:response_language", {"lang": "English"})(reply)
