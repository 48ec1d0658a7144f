"""Importers: published answers and judgments of other harnesses -> ordinary mteval runs.

`common` writes a run exactly as the runner does (same manifest code path, real
`Sample`s, the task's own metrics); `rad_bench` and `fastchat` read their formats.
"""

from mteval.importers.common import ImportResult, Problem

__all__ = ["ImportResult", "Problem"]
