"""Cascades of pairwise judge definitions, by name: `--judge-def <name> --against RUN`
plays the stages in order and keeps the first whose two orders agree (the protocol is
`mteval.scoring.pairwise`). A judge package registers its cascade (`register_cascade`,
or an entry point in the group `mteval.cascades` naming a `Cascade`); the one registered
with `default=True` is what `--against` uses when no `--judge-def` is given. The engine
names no cascade.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from mteval.errors import ConfigurationError
from mteval.plugins import Registry


@dataclass(frozen=True)
class Cascade:
    """Judge definition names played in order (the last one is the fallback judge, which
    counts only if its two orders agree, else the pair is a tie)."""

    stages: tuple[str, ...]
    default: bool = False
    """`mteval judge --against RUN` without `--judge-def` uses this cascade."""


CASCADES: Registry[Cascade] = Registry("cascades")


def register_cascade(name: str, stages: Sequence[str], *, default: bool = False) -> Cascade:
    """Make `--judge-def <name>` a cascade of `stages` (judge definition names)."""
    if not stages:
        raise ConfigurationError(f"cascade {name!r} has no stages")
    # only what is registered so far: reading the entry points here would import a plugin while
    # the module registering this cascade is half-imported (default_cascade checks them all)
    taken = [other for other, cascade in CASCADES.registered().items() if cascade.default and other != name]
    if default and taken:
        raise ConfigurationError(f"cascade {name!r} and {taken[0]!r} both claim to be the default of --against")
    return CASCADES.register(name, Cascade(tuple(stages), default))


def default_cascade() -> str:
    """The name of the cascade `--against` uses without `--judge-def`."""
    _load_shipped()
    defaults = [name for name, cascade in CASCADES.items() if cascade.default]
    if len(defaults) > 1:
        raise ConfigurationError(f"cascades {defaults[0]!r} and {defaults[1]!r} both claim to be the default of --against")
    if not defaults:
        raise ConfigurationError("no default pairwise cascade is registered: give --judge-def (e.g. pairwise)")
    return defaults[0]


def is_cascade(name: str) -> bool:
    _load_shipped()
    return name in CASCADES


def cascade_stages(name: str) -> list[str]:
    """The stages of the cascade `name` (an unknown name: `UnknownName` with close matches)."""
    _load_shipped()
    return list(CASCADES.get_entry(name).stages)


def _load_shipped() -> None:
    """The shipped judge package (`mteval_judges`) registers its cascades on import, which
    loading the judge definitions does anyway."""
    from mteval.scoring.judge_spec import JUDGES_DIR  # noqa: F401  (imports mteval_judges)
