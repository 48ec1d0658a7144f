"""A compact, exact set of conversation ids (the run plan's scan keeps one per task).

A Python `set` of 20,000 ids costs ~3 MB (a str object and a hash slot each) and was a
good part of what a run's memory grew by with its size. Here the ids are one sorted
numpy array of fixed-width UTF-8 bytes (a few bytes each); `in` is a binary search and
iteration decodes them. Ids that a fixed width cannot hold faithfully (longer than
`MAX_WIDTH` bytes, or ending in NUL, which numpy strips) are kept in a plain set instead.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

MAX_WIDTH = 64
_CHUNK = 4096


def _fits(raw: bytes) -> bool:
    return len(raw) <= MAX_WIDTH and not raw.endswith(b"\0")


class IdSet:
    """Exact membership over the ids added; `duplicates()` names those added more than once.
    Add every id, then `close()` before asking (the scan does both in its one pass)."""

    def __init__(self) -> None:
        self._chunk: list[bytes] = []
        self._parts: list[np.ndarray] = []
        self._odd: set[str] = set()
        self._odd_repeated: set[str] = set()
        self._sorted = np.zeros(0, dtype="S1")
        self._repeated: list[str] = []
        self._width = 1

    @classmethod
    def of(cls, ids: Iterable[str]) -> "IdSet":
        made = cls()
        for value in ids:
            made.add(value)
        return made.close()

    def add(self, value: str) -> None:
        raw = value.encode("utf-8", "surrogatepass")
        if not _fits(raw):
            (self._odd_repeated if value in self._odd else self._odd).add(value)
            return
        self._chunk.append(raw)
        self._width = max(self._width, len(raw))
        if len(self._chunk) == _CHUNK:  # bounded: no list ever holds every id as an object
            self._parts.append(np.array(self._chunk, dtype=f"S{self._width}"))
            self._chunk = []

    def close(self) -> "IdSet":
        """Sort what was added (and find the duplicates); the set is ready to be asked."""
        merged = np.concatenate([*self._parts, np.array(self._chunk, dtype=f"S{self._width}")])
        self._parts, self._chunk = [], []
        ordered = np.sort(merged.astype(f"S{self._width}"))
        del merged
        same = ordered[1:] == ordered[:-1]
        self._repeated = sorted({raw.decode("utf-8", "surrogatepass") for raw in ordered[1:][same].tolist()} | self._odd_repeated)
        # unique of a sorted array: each first of a run (np.unique would sort again and import numpy.ma, ~30 ms)
        self._sorted = ordered[np.concatenate(([True], ~same))] if ordered.size else ordered
        return self

    def duplicates(self) -> list[str]:
        return list(self._repeated)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        raw = value.encode("utf-8", "surrogatepass")
        if not _fits(raw):
            return value in self._odd
        at = int(np.searchsorted(self._sorted, raw))
        return at < self._sorted.size and bytes(self._sorted[at]) == raw

    def __iter__(self) -> Iterator[str]:
        for raw in self._sorted.tolist():
            yield raw.decode("utf-8", "surrogatepass")
        yield from self._odd

    def __len__(self) -> int:
        return int(self._sorted.size) + len(self._odd)
