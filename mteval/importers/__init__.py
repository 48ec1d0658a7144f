"""Importers: published answers and judgments of other harnesses -> ordinary mteval runs.

`common` writes a run exactly as the runner does (same manifest code path, real
`Sample`s, the task's own metrics); `fastchat` reads its format. RAD-Bench's importer lives in its
family (`mteval_tasks.rad_bench.importer`; `rad_bench` here re-exports it for the import command).
"""

from mteval.importers.common import ImportResult, Problem

__all__ = ["ImportResult", "Problem"]
