"""RAD-Bench (Kuo et al., arXiv 2409.12558, Apache-2.0): retrieval-augmented dialogues.

Tasks `rad_bench/synthesis` and `rad_bench/reasoning` (family `rad_bench`), with
per-scenario scores `score/<category>` and the family Average of the 6 categories.
Importing the family also registers `mteval import rad-bench` (import_command.py).
See README.md in this folder.
"""

from mteval.manifest import higher
from mteval.registry import register_family_aggregate, register_task
from mteval_tasks.rad_bench import import_command  # noqa: F401  (registers `mteval import rad-bench`)
from mteval_tasks.rad_bench.metrics import family_average
from mteval_tasks.rad_bench.tasks import (
    RadBenchTask,
    RetrievalReasoning,
    RetrievalSynthesis,
)

register_task(RetrievalSynthesis)
register_task(RetrievalReasoning)
register_family_aggregate("rad_bench", family_average, headline="average", semantics={"average": higher(1, 10, "judge points")})

__all__ = ["RadBenchTask", "RetrievalReasoning", "RetrievalSynthesis"]
