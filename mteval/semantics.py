"""What a number means: which direction is better, its scale, whether it is the headline.

Tasks declare these (`higher(0, 1)`, `lower(unit="seconds")`, `descriptive()`) and every
consumer (manifest, `compare`, leaderboard, `penalty`) reads them instead of guessing from
a metric's name. Plain values with no dependency on the task registry, so `mteval.task`
can use them without importing the manifest (which imports the registry, which imports
`mteval.task`). `mteval.manifest` re-exports every name here.
"""

from __future__ import annotations

import math
from typing import Literal, Mapping

from pydantic import BaseModel, ConfigDict

Direction = Literal["higher", "lower", "neither"]
"""`neither`: a descriptive number (a spread, a count) that is never gated or ranked."""


class Scale(BaseModel):
    """A metric's range (`low`..`high`) or, when either bound is None, unbounded, with a unit."""

    model_config = ConfigDict(frozen=True)

    low: float | None = None
    high: float | None = None
    unit: str = ""

    @property
    def bounded(self) -> bool:
        return self.low is not None and self.high is not None

    def describe(self) -> str:
        if self.bounded:
            return f"{self.low:g}-{self.high:g}" + (f" {self.unit}" if self.unit else "")
        return f"unbounded{' ' + self.unit if self.unit else ''}"


class Semantics(BaseModel):
    """What a metric's number means: better direction, scale, and whether it is the headline."""

    model_config = ConfigDict(frozen=True)

    direction: Direction = "higher"
    scale: Scale = Scale()
    headline: bool = False

    @property
    def sign(self) -> int:
        """+1 if higher is better, -1 if lower is better, 0 for descriptive numbers."""
        return {"higher": 1, "lower": -1, "neither": 0}[self.direction]

    def same_kind(self, other: "Semantics") -> bool:
        """Whether two metrics may be averaged: same direction and same scale."""
        return self.direction == other.direction and self.scale.model_dump() == other.scale.model_dump()

    def normalised(self, value: float) -> float | None:
        """`value` mapped to 0 (worst) .. 1 (best) on its range; None if unbounded or descriptive."""
        low, high = self.scale.low, self.scale.high
        if low is None or high is None or self.sign == 0 or value is None or math.isnan(value):
            return None
        share = (value - low) / (high - low)
        return share if self.sign > 0 else 1.0 - share


UNKNOWN = Semantics()
"""Semantics of a metric nobody declared: higher is better, unbounded, no unit."""


def higher(low: float | None = None, high: float | None = None, unit: str = "", headline: bool = False) -> Semantics:
    return Semantics(direction="higher", scale=Scale(low=low, high=high, unit=unit), headline=headline)


def lower(low: float | None = None, high: float | None = None, unit: str = "", headline: bool = False) -> Semantics:
    return Semantics(direction="lower", scale=Scale(low=low, high=high, unit=unit), headline=headline)


def descriptive(unit: str = "") -> Semantics:
    return Semantics(direction="neither", scale=Scale(unit=unit))


def lookup(declared: Mapping[str, Semantics], name: str, headline: str | None = None) -> Semantics:
    """The semantics of metric `name`: declared exactly, or by its prefix (`score/finance`
    takes `score`'s), else UNKNOWN; `headline` marks exactly one name."""
    found = declared.get(name)
    if found is None and "/" in name:
        found = declared.get(name.split("/", 1)[0])
    found = found or UNKNOWN
    return found.model_copy(update={"headline": name == headline})
