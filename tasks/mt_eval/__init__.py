"""MT-Eval (Kwan et al., arXiv 2401.16745, MIT): multi-turn recollection, expansion,
refinement and follow-up, plus the in-context-label and irrelevant-context ablations.

Importing the package registers the tasks (`mt_eval` runs the five main ones), the family
aggregate (category and overall scores in the manifest's "groups") and a scripted judge
(`scripted/mt_eval_judge`, a fixed verdict in MT-Eval's JSON format, for offline runs).
Analysis helpers live in `mteval_tasks.mt_eval.report`. See README.md.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from mteval.conversation import Message
from mteval.manifest import higher
from mteval.models.base import GenerationParams, RequestContext
from mteval.models.scripted import register_script
from mteval.registry import register_family_aggregate

from . import tasks  # noqa: F401  (registers the tasks)
from .aggregate import CATEGORIES, FAMILY, mt_eval_aggregate

register_family_aggregate(
    FAMILY,
    mt_eval_aggregate,
    headline="overall",
    semantics={name: higher(0, 10, "points") for name in ("overall", *CATEGORIES)},
)


def scripted_judge(messages: Sequence[Message], params: GenerationParams, context: RequestContext, args: Mapping[str, Any]) -> str:
    """A stand-in judge: always `{"Rationale": "scripted", "Score": <score>}` (default 7)
    in the fenced JSON the MT-Eval templates ask for."""
    score = int(args.get("score", 7))
    return f'```json\n{{"Rationale": "scripted verdict", "Score": {score}}}\n```'


register_script("mt_eval_judge", scripted_judge, args=(), number_args={"score": "integer"})
