"""FastChat's eight MT-Bench judge prompts (Apache-2.0, shipped as data in
`judges/mt_bench_judge_prompts.jsonl`) as judge definitions named `mt_bench/<prompt>`,
registered with the judge-spec mechanism when this family is imported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mteval.errors import ConfigurationError
from mteval.scoring.judge_spec import JUDGES_DIR, JudgeSpec, register_spec_source

MT_BENCH_PROMPTS = "mt_bench_judge_prompts.jsonl"


def _mt_bench_prompts() -> dict[str, dict[str, Any]]:
    path = JUDGES_DIR / MT_BENCH_PROMPTS
    if not path.is_file():
        return {}
    return {d["name"]: d for d in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if d}


def mt_bench_spec(name: str) -> JudgeSpec:
    """One of FastChat's eight MT-Bench judge prompts, as published (Apache-2.0)."""
    prompts = _mt_bench_prompts()
    if name not in prompts:
        raise ConfigurationError(f"unknown MT-Bench judge prompt {name!r}. Known: {', '.join(sorted(prompts))}")
    prompt = prompts[name]
    pairwise = prompt["type"] == "pairwise"
    return JudgeSpec(
        name=f"mt_bench/{name}",
        kind="pairwise" if pairwise else "score",
        description=prompt.get("description", ""),
        system=prompt["system_prompt"],
        template=prompt["prompt_template"],
        template_format="placeholders",
        parser="pairwise_abc" if pairwise else "rating",
        scale=None if pairwise else (1, 10),
        out_of_range="keep",
        reminder='Reply again and end with your verdict in exactly the format "[[A]]", "[[B]]" or "[[C]]".'
        if pairwise
        else 'Reply again and end with your rating in exactly the format "Rating: [[5]]".',
        generation={"temperature": 0.0, "max_tokens": 2048},
        source="FastChat llm_judge judge_prompts.jsonl (Apache-2.0)",
    )


def prompt_files() -> dict[str, Path]:
    """Each prompt's name and the file it comes from (for `list_specs`)."""
    return {name: JUDGES_DIR / MT_BENCH_PROMPTS for name in _mt_bench_prompts()}


register_spec_source("mt_bench", mt_bench_spec, prompt_files)
