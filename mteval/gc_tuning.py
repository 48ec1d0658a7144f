"""Garbage-collector settings for the duration of a run.

Profiled at concurrency 256 against a local server, CPython's cyclic collector took ~0.1
ms of the ~0.55 ms of harness CPU per call: every young-generation collection re-scanned
the objects of the hundreds of conversations in flight, and each full collection every
object of every imported module. During a run, objects alive before it started (modules,
tasks, clients) are frozen out of the collector's scans and young collections run after
20,000 allocations instead of 700. Both are undone when the run ends, so a process that
runs several evaluations (tests, notebooks) collects as before in between.

The `mteval` command itself (`command_process`) collects young objects as rarely for its
whole life and freezes everything before the interpreter shuts down: shutdown runs full
collections that scanned every object of every imported module (about 0.1 s of a cached
re-run's 1.2 s; 10 ms once frozen). Frozen objects are still freed by reference counting;
what the collector skips is cyclic garbage, whose finalizers Python never promises to run
at exit (mteval closes its files, connections and sessions itself). A library caller of
`mteval.cli.main` (tests, scripts) is left as it was: its process goes on running.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

YOUNG_THRESHOLD = 20_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Freeze what exists now and collect the young generation less often, until exit."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], YOUNG_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


@contextlib.contextmanager
def command_process() -> Iterator[None]:
    """The life of the `mteval` process (never a library caller's): young collections every
    `YOUNG_THRESHOLD` allocations, and everything frozen on the way out."""
    gc.set_threshold(max(gc.get_threshold()[0], YOUNG_THRESHOLD), *gc.get_threshold()[1:])
    try:
        yield
    finally:
        gc.freeze()
