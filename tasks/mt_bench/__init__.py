"""`mt_bench/mt_bench`: a minimal native MT-Bench (FastChat llm_judge, Apache-2.0).

80 two-turn questions in 8 categories (data/question.jsonl), single-answer grading as
FastChat llm_judge describes (Zheng et al., arXiv 2306.05685; github.com/lm-sys/FastChat): turn 1 `single-v1`, turn 2 `single-v1-multi-turn` (both turns
shown, focus on the second); math, reasoning and coding use the reference-guided
`single-math-v1[-multi-turn]` with the GPT-4 reference answers
(data/reference_answer/gpt-4.jsonl). Rating parse, not clipped: by default the judge's
own final verdict (the last `Rating: [[x]]`, else the last `[[x]]`, else the last `[x]`),
so a judge quoting the candidate's `[[10]]` before its `Rating: [[3]]` gives 3;
`rating_rule=first` restores FastChat's first `[[x]]` then `[x]` for exact reproduction. Generation: temperature by category (writing/roleplay 0.7,
extraction/math/coding/reasoning 0.0, stem/humanities 0.1), 1024 new tokens (FastChat's
default), no system message (FastChat uses each model's own chat template's).

It exists so that runs imported with `mteval import fastchat` (published FastChat
answers and judgments) have a native counterpart to compare with. Options:
`questions=PATH`, `references=PATH` (defaults: the shipped files), `rating_rule=final|first`.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mteval.conversation import Conversation, Turn
from mteval.data import DataError, iter_jsonl
from mteval.errors import ConfigurationError
from mteval.manifest import higher
from mteval.registry import register_task
from mteval.scoring.base import TurnState
from mteval.scoring.judge_scorer import JudgeScorer
from mteval.scoring.judge_spec import JudgeSpec, load_spec
from mteval.stats import mean_metrics, metric_from_rows
from mteval.task import DataInfo, Task
from mteval_tasks.mt_bench import judge_prompts as _judge_prompts  # noqa: F401  registers the mt_bench/<prompt> judge definitions

if TYPE_CHECKING:
    import pandas as pd

    from mteval.stats import Metric

DATA = Path(__file__).parent / "data"
QUESTIONS = DATA / "question.jsonl"
REFERENCES = DATA / "reference_answer" / "gpt-4.jsonl"
CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")
TEMPERATURES = {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0, "reasoning": 0.0, "stem": 0.1, "humanities": 0.1}
REFERENCE_CATEGORIES = ("math", "reasoning", "coding")


def prompt_name(category: str, turn: int) -> str:
    """FastChat's single-answer prompt for a category and turn (1 or 2)."""
    base = "single-math-v1" if category in REFERENCE_CATEGORIES else "single-v1"
    return base + ("-multi-turn" if turn == 2 else "")


def read_references(path: Path) -> dict[str, list[str]]:
    """FastChat reference file -> {question_id: choices[0].turns}; the turns are checked here, since a
    non-string one would otherwise surface as a pydantic traceback from `Turn(gold=...)` in load()."""
    refs: dict[str, list[str]] = {}
    for line, obj in iter_jsonl(path):
        try:
            turns = obj["choices"][0]["turns"]
            qid = str(obj["question_id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise DataError(f"{path}:{line}: expected question_id and choices[0].turns") from exc
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise DataError(f"{path}:{line}: field 'choices.0.turns': expected a list of strings")
        refs[qid] = turns
    return refs


RATING_RULES = {"final": "rating", "first": "rating_first"}
"""Task option `rating_rule`: `final` (default) reads the judge's own last verdict; `first`
is FastChat's first-match rule, for exact reproduction of published numbers."""


class MtBenchJudge(JudgeScorer):
    """Scorer `score`: single-v1 / single-v1-multi-turn (math variants for reference categories)."""

    def __init__(self, name: str = "score", rating_rule: str = "final"):
        super().__init__(name, "mt_bench/single-v1", self._variables)
        self.rating_parser = RATING_RULES[rating_rule]

    def spec_for(self, state: TurnState) -> JudgeSpec:
        spec = load_spec("mt_bench/" + prompt_name(state.conversation.metadata.get("category", ""), state.index + 1))
        return spec if spec.parser == self.rating_parser else spec.model_copy(update={"parser": self.rating_parser})

    @staticmethod
    def _variables(state: TurnState) -> dict[str, Any]:
        turns = state.conversation.turns
        category = state.conversation.metadata.get("category", "")
        refs = [t.references.get("ref_answer") for t in turns]
        if category in REFERENCE_CATEGORIES and any(r is None for r in refs[: state.index + 1]):
            raise ConfigurationError(f"MT-Bench question {state.conversation.id} ({category}) has no reference answer")
        if state.index == 0:
            variables = {"question": turns[0].user, "answer": state.reply}
            if category in REFERENCE_CATEGORIES:
                variables["ref_answer_1"] = refs[0]
            return variables
        variables = {
            "question_1": turns[0].user,
            "answer_1": state.records[0].reply or "",
            "question_2": turns[1].user,
            "answer_2": state.reply,
        }
        if category in REFERENCE_CATEGORIES:
            variables.update(ref_answer_1=refs[0], ref_answer_2=refs[1])
        return variables


@register_task
class MtBench(Task):
    name = "mt_bench/mt_bench"
    option_names = frozenset({"questions", "references", "rating_rule"})
    version = "1"
    category = "multi-turn chat"
    description = "MT-Bench: 80 two-turn questions in 8 categories, single-answer grading (FastChat prompts)."
    generation = {"max_tokens": 1024}
    headline = "score"
    semantics = {"score": higher(1, 10, "judge points")}

    def data_files(self) -> list[Path]:
        return [Path(self.options.get("questions") or QUESTIONS), Path(self.options.get("references") or REFERENCES)]

    def data_info(self) -> DataInfo:
        """As the default, but the digest takes the files in name order, so a copy of the
        question file elsewhere (e.g. `--questions` of an import) gives the same sha256."""
        files = self.data_files()
        digest = hashlib.sha256()
        for path in sorted(files, key=lambda p: (p.name, str(p))):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        return DataInfo(source=", ".join(str(p) for p in files), sha256=digest.hexdigest(), files=tuple(p.name for p in files))

    @cached_property
    def _records(self) -> list[dict[str, Any]]:
        path = self.data_files()[0]
        records = []
        for line, obj in iter_jsonl(path):
            turns = obj.get("turns")
            if "question_id" not in obj or not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t for t in turns):
                raise DataError(f"{path}:{line}: expected question_id and a list of non-empty turns")
            if obj.get("category") not in TEMPERATURES:
                raise DataError(f"{path}:{line}: field 'category': {obj.get('category')!r} is not an MT-Bench category")
            records.append(obj)
        return records

    def categories_by_id(self) -> dict[str, str]:
        return {str(r["question_id"]): r["category"] for r in self._records}

    def load(self) -> list[Conversation]:
        refs = read_references(self.data_files()[1])
        conversations = []
        for record in self._records:
            qid = str(record["question_id"])
            ref_turns = refs.get(qid, [])
            turns = tuple(
                Turn(
                    id=str(j + 1),
                    user=text,
                    gold=ref_turns[j] if j < len(ref_turns) else None,
                    references={"ref_answer": ref_turns[j]} if j < len(ref_turns) else {},
                )
                for j, text in enumerate(record["turns"])
            )
            conversations.append(
                Conversation(
                    id=qid,
                    turns=turns,
                    metadata={"category": record["category"]},
                    generation={"temperature": TEMPERATURES[record["category"]]},
                )
            )
        return conversations

    @property
    def rating_rule(self) -> str:
        rule = str(self.options.get("rating_rule", "final"))
        if rule not in RATING_RULES:
            raise ConfigurationError(f"mt_bench: task option rating_rule must be one of {', '.join(RATING_RULES)}, got {rule!r}")
        return rule

    def task_info(self) -> dict[str, Any]:
        return {"rating_rule": self.rating_rule}

    def scorers(self) -> list[JudgeScorer]:
        return [MtBenchJudge("score", self.rating_rule)]

    def metrics(self, frame: "pd.DataFrame") -> dict[str, "Metric"]:
        """`score` (mean over all turns) and `score/<category>`."""
        from mteval.stats import Metric

        metrics = mean_metrics(frame, ["score"])
        if frame.empty:
            return {**metrics, **{f"score/{c}": Metric(value=None) for c in CATEGORIES}}
        by_id = self.categories_by_id()
        cats = [by_id.get(str(c).split("#", 1)[0]) for c in frame["conversation_id"].tolist()]
        column = frame["score_score"].tolist() if "score_score" in frame else [None] * len(frame)
        values = [None if v is None or v != v else float(v) for v in column]  # unjudged rows: excluded, counted
        clusters = frame["conversation_id"].tolist()
        for category in CATEGORIES:
            picked = [(v, c) for v, c, k in zip(values, clusters, cats) if k == category]
            metrics[f"score/{category}"] = metric_from_rows([v for v, _ in picked], [c for _, c in picked]) if picked else Metric(value=None)
        return metrics
