"""Importers: published answers and judgments of other harnesses -> ordinary mteval runs.

`common` writes a run exactly as the runner does (same manifest code path, real
`Sample`s, the task's own metrics); `fastchat` reads its format; `registry` holds the
`mteval import` formats by name. RAD-Bench's importer lives in its family
(`mteval_tasks.rad_bench.importer`); `mteval_tasks.rad_bench.import_command` registers it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ImportResult", "Problem"]


def __getattr__(name: str) -> Any:
    """`ImportResult` and `Problem` from `common` on first use: the import command reads
    `registry` while every command line is built, which must not pull in `common`'s
    run-writing stack (numpy, pandas)."""
    if name in __all__:
        from mteval.importers import common

        return getattr(common, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
