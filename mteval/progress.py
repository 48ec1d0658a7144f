"""Live progress and terminal-or-log output.

On a terminal: a rich progress bar (conversations done, turns/s, tokens, cache hits,
errors, ETA). Anywhere else (CI logs, pipes, files) a bar is useless and an 80-column
table cuts names, so: one plain progress line every `interval` seconds and at the end,
and consoles as wide as their content (`output_console`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from rich.console import Console

    from mteval.client import ModelClient
    from mteval.transcript import Sample
# rich is imported when something is shown (a bar, a table): ~50 ms of start-up otherwise

DEFAULT_INTERVAL_S = 30.0
"""Seconds between progress lines when stderr is not a terminal ($MTEVAL_PROGRESS_INTERVAL)."""

NOT_A_TERMINAL_WIDTH = 100_000
"""Console width when output is not a terminal: wide enough that rich never cuts or wraps
a cell, so every table comes out at its natural width."""


def output_console(stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A rich console that prints full names when its stream is not a terminal."""
    from rich.console import Console

    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    if _is_terminal(stream):
        return Console(file=stream)
    return Console(file=stream, width=NOT_A_TERMINAL_WIDTH, color_system=None, soft_wrap=True)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _interval() -> float:
    try:
        value = float(os.environ.get("MTEVAL_PROGRESS_INTERVAL", DEFAULT_INTERVAL_S))
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if value > 0 else DEFAULT_INTERVAL_S


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class RunProgress:
    """Counts finished conversations; shows them as a bar or as periodic lines."""

    def __init__(
        self,
        total: int,
        already_done: int,
        clients: Sequence[ModelClient],
        enabled: bool = True,
        *,
        stream: IO[str] | None = None,
        interval_s: float | None = None,
    ):
        self.total = total
        self.already_done = already_done
        self.done = already_done
        self.clients = clients
        self.turns = 0
        self.errors = 0
        self.started = time.perf_counter()
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 0
        self.plain = self.enabled and not _is_terminal(self.stream)
        self.interval_s = interval_s if interval_s is not None else _interval()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._ticker: threading.Thread | None = None
        self._progress: Any = self._bar(total, already_done) if self.enabled and not self.plain else None

    def _bar(self, total: int, already_done: int) -> Any:
        """The rich progress bar and its task id (a terminal only)."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(
            TextColumn("[bold]conversations"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=False,
            refresh_per_second=4,
        )
        self._task_id = bar.add_task("run", total=total, completed=already_done, stats="")
        return bar

    def __enter__(self) -> "RunProgress":
        self.started = time.perf_counter()
        if self.plain:
            self._ticker = threading.Thread(target=self._tick, name="mteval-progress", daemon=True)
            self._ticker.start()
        elif self._progress is not None:
            self._progress.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.plain:
            self._stopped.set()
            if self._ticker is not None:
                self._ticker.join()
            self._write("done" if self.done >= self.total else "stopped")
        elif self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)

    def _tick(self) -> None:
        while not self._stopped.wait(self.interval_s):
            self._write("progress")

    def _cache_hits(self) -> int:
        return sum(c.stats.cache_hits for c in self.clients)

    def line(self, label: str = "progress") -> str:
        """`progress: 12/150 conversations, 40 turns, 0 errors, 3 cache hits, elapsed 0:00:31, ETA 0:05:10`."""
        with self._lock:
            done, turns, errors = self.done, self.turns, self.errors
        elapsed = time.perf_counter() - self.started
        finished_now = done - self.already_done
        if done >= self.total:
            eta = "0:00:00"
        elif finished_now > 0:
            eta = _clock(elapsed / finished_now * (self.total - done))
        else:
            eta = "unknown"
        return (
            f"{label}: {done}/{self.total} conversations, {turns} turns, {errors} errors, "
            f"{self._cache_hits()} cache hits, elapsed {_clock(elapsed)}, ETA {eta}"
        )

    def _write(self, label: str) -> None:
        try:
            self.stream.write(self.line(label) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe must not stop the run
            pass

    def advance(self, sample: "Sample | dict[str, Any]") -> None:
        """One finished conversation (the typed sample, or its JSON form)."""
        if not self.enabled:
            return
        if isinstance(sample, dict):
            generated = sum(1 for t in sample["turns"] if t.get("generated"))
            status = sample.get("status")
        else:
            generated, status = sum(1 for t in sample.turns if t.generated), sample.status
        with self._lock:
            self.done += 1
            self.turns += generated
            if status != "ok":
                self.errors += 1
        if self._progress is None:
            return
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        tokens = sum(c.stats.usage.input_tokens + c.stats.usage.output_tokens for c in self.clients)
        stats = f"{self.turns / elapsed:.1f} turns/s  {tokens:,} tok  {self._cache_hits()} cached  {self.errors} errors"
        self._progress.update(self._task_id, advance=1, stats=stats)
