"""Benchmark code lives in its family: the engine imports no family module, families
register their parsers, judge definitions and importers, and a registered source is found
by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mteval
from mteval.errors import ConfigurationError
from mteval.plugins import DuplicateRegistration
from mteval.scoring import parsers
from mteval.scoring.judge_spec import SPEC_SOURCES, JudgeSpec, list_specs, load_spec, register_spec_source

PACKAGE = Path(mteval.__file__).parent


def _family_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith(("mteval_tasks", "mteval_judges"))}


def test_the_engine_imports_no_family_module():
    offenders = {
        str(f.relative_to(PACKAGE)): sorted(found)
        for f in sorted(PACKAGE.rglob("*.py"))
        if (found := _family_imports(f))
    }
    assert offenders == {}


def test_benchmark_parsers_are_defined_by_their_families():
    import mteval_judges.amulet
    import mteval_tasks.full_duplex.parsers

    assert parsers.get_parser("fdb_relevance") is mteval_tasks.full_duplex.parsers.parse_fdb_relevance
    assert parsers.get_parser("amulet_maxim") is mteval_judges.amulet.parse_amulet_maxim
    core = {name for name, fn in parsers.PARSERS.items() if fn.__module__ == parsers.__name__}
    assert core == {"rating", "rating_first", "rating_strict", "json_score", "json_score_lenient", "pairwise_abc"}


def test_mt_bench_definitions_come_from_the_family():
    spec = load_spec("mt_bench/single-v1")
    assert spec.name == "mt_bench/single-v1" and spec.parser == "rating" and "[[rating]]" in spec.template
    assert "mt_bench/pair-v2" in list_specs()
    with pytest.raises(ConfigurationError, match="unknown MT-Bench judge prompt"):
        load_spec("mt_bench/nope")


def test_a_registered_spec_source_is_found_by_prefix(tmp_path):
    def build(name: str) -> JudgeSpec:
        if name != "only":
            raise ConfigurationError(f"unknown toy prompt {name!r}")
        return JudgeSpec(name=f"toyfam/{name}", template="Rate {answer}", template_format="placeholders")

    register_spec_source("toyfam", build, lambda: {"only": tmp_path / "toy.jsonl"})
    try:
        assert load_spec("toyfam/only").template == "Rate {answer}"
        assert list_specs()["toyfam/only"] == tmp_path / "toy.jsonl"
        with pytest.raises(ConfigurationError, match="unknown toy prompt"):
            load_spec("toyfam/other")
        with pytest.raises(DuplicateRegistration, match=r"judge 'toyfam' is registered twice"):
            register_spec_source("toyfam", lambda name: build("only"), lambda: {})
    finally:
        SPEC_SOURCES.unregister("toyfam")
    assert "toyfam/only" not in list_specs()


def test_the_engine_names_no_amulet_judge_and_the_cascade_is_registered_by_its_package():
    import mteval_judges.amulet
    from mteval.scoring import cascades
    from mteval.scoring.pairwise import amulet_cascade  # the old path still works

    literals = {
        str(f.relative_to(PACKAGE))
        for f in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.lower().startswith("amulet") and len(node.value) < 40
    }
    assert literals == set()
    assert cascades.default_cascade() == "amulet"
    assert cascades.cascade_stages("amulet") == ["amulet_dialog_act", "amulet_maxim", "pairwise"]
    assert amulet_cascade() == mteval_judges.amulet.amulet_cascade() == ["amulet_dialog_act", "amulet_maxim", "pairwise"]
    assert amulet_cascade("rubric")[-1] == "rubric"
    with pytest.raises(ConfigurationError, match="both claim to be the default"):
        cascades.register_cascade("toy_default", ["pairwise"], default=True)
    cascades.register_cascade("toy_cascade", ["rubric", "pairwise"])
    try:
        assert cascades.is_cascade("toy_cascade") and cascades.cascade_stages("toy_cascade") == ["rubric", "pairwise"]
    finally:
        cascades.CASCADES.unregister("toy_cascade")
