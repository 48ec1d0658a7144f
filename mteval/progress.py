"""Live progress: conversations done, turns/s, tokens, cache hits, errors, ETA."""

from __future__ import annotations

import sys
import time
from typing import Any, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class RunProgress:
    def __init__(self, total: int, already_done: int, clients: Sequence[Any], enabled: bool = True):
        self.total = total
        self.clients = clients
        self.turns = 0
        self.errors = 0
        self.started = time.perf_counter()
        self.enabled = enabled and total > 0
        self._progress = Progress(
            TextColumn("[bold]conversations"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=False,
            disable=not self.enabled,
            refresh_per_second=4,
        )
        self._task_id = self._progress.add_task("run", total=total, completed=already_done, stats="")

    def __enter__(self) -> "RunProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def advance(self, sample: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.turns += sum(1 for t in sample["turns"] if t.get("generated"))
        if sample.get("status") != "ok":
            self.errors += 1
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        tokens = sum(c.stats.usage.input_tokens + c.stats.usage.output_tokens for c in self.clients)
        hits = sum(c.stats.cache_hits for c in self.clients)
        stats = f"{self.turns / elapsed:.1f} turns/s  {tokens:,} tok  {hits} cached  {self.errors} errors"
        self._progress.update(self._task_id, advance=1, stats=stats)
