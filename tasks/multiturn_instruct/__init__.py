"""MultiTurnInstruct (Han et al., arXiv 2503.13222): "Can Language Models Follow Multiple
Turns of Entangled Instructions?" Nine rule-scored categories over three levels.

Tasks `multiturn_instruct/<category>` (the benchmark's task keys); the family name runs
all nine and adds the level averages and mteval's own overall mean (`aggregate.py`).
Data: the Hugging Face dataset `Glaciohound/Multi-Turn-Instruct` or a local file given
with `--task-args data_path=...` (see README.md).
"""

from mteval.manifest import higher
from mteval.registry import register_family_aggregate

from .aggregate import OVERALL, family_aggregate
from .categories import CATEGORIES, FAMILY, LEVELS
from .tasks import MultiTurnInstructTask

register_family_aggregate(
    FAMILY,
    family_aggregate,
    headline=OVERALL,
    semantics={"level": higher(0, 1, "fraction"), "mteval_own": higher(0, 1, "fraction")},
)

__all__ = ["CATEGORIES", "FAMILY", "LEVELS", "MultiTurnInstructTask", "family_aggregate"]
