"""One registry pattern for everything mteval looks up by name (providers, commands,
judge-reply parsers, jury aggregations, importers, judge-definition sources, cascades, tasks).

A `Registry` maps a name to an entry. Built-ins register at import; third-party
packages add entries through the entry-point group `mteval.<kind>` (see
docs/architecture.md, "Where a change goes"), read lazily on the first lookup so that startup does
not pay for it. Unknown names get "did you mean" hints; registering a name twice with a
different entry is an error naming both origins, so a plugin cannot silently replace a
built-in.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Callable, Generic, Iterator, Mapping, TypeVar, cast

from mteval.errors import ConfigurationError
from mteval.suggest import close_matches_message

E = TypeVar("E")


class UnknownName(ConfigurationError):
    """A name nothing registered (the message lists the close matches)."""


class DuplicateRegistration(ConfigurationError):
    """Two different entries claimed the same name."""


@lru_cache(maxsize=None)
def _installed_entry_points():  # EntryPoints, or SelectableGroups before Python 3.12
    """Every entry point of every installed distribution, read once per process: each
    `entry_points(group=...)` call reads all distributions' metadata again (~10 ms with
    230 installed), and a run looks up several groups (tasks, providers, ...)."""
    return entry_points()


def group_entry_points(group: str) -> list[EntryPoint]:
    """The entry points of `group` (e.g. "mteval.tasks"), as `entry_points(group=group)` lists them."""
    return list(_installed_entry_points().select(group=group))


_COMPLETERS: list[Callable[[], None]] = []


def complete_before_unknown(loader: Callable[[], None]) -> None:
    """Register `loader`, which imports whatever may still register entries (`mteval.registry`:
    every task family, whose modules also register scripts and parsers). Registries made with
    `complete_on_miss=True` call the loaders before they call a name unknown, so a family
    loaded lazily still provides its entries to a run of another family."""
    if loader not in _COMPLETERS:
        _COMPLETERS.append(loader)


def _run_completers() -> None:
    for loader in list(_COMPLETERS):
        loader()


def _load(ep: EntryPoint) -> object:
    return ep.load()


class Registry(Mapping[str, E], Generic[E]):
    """name -> entry, with entry points from the group `mteval.<kind>`.

    `from_entry_point` turns an entry point into an entry; the default imports it
    (`ep.load()`). Registries whose entries name a module (providers, commands) pass a
    converter that reads `ep.value` without importing, so loading stays lazy until the
    entry is used.
    """

    def __init__(
        self,
        kind: str,
        *,
        from_entry_point: Callable[[EntryPoint], E] | None = None,
        same: Callable[[E, E], bool] | None = None,
        autoload: bool = True,
        complete_on_miss: bool = False,
    ) -> None:
        self.kind = kind
        self.noun = kind[:-1] if kind.endswith("s") else kind
        """One entry, for messages ("unknown provider 'x'")."""
        self.group = f"mteval.{kind}"
        self._entries: dict[str, E] = {}
        self._origins: dict[str, str] = {}
        self._from_entry_point: Callable[[EntryPoint], E] = from_entry_point or cast(Callable[[EntryPoint], E], _load)
        self._entry_points_loaded = not autoload
        """`autoload=False`: the owner reads the group itself (tasks: an entry point may be a
        module that registers many tasks)."""
        self._complete_on_miss = complete_on_miss
        """Entries that task families register (scripts, parsers): on a miss, the loaders of
        `complete_before_unknown` run first."""
        self._same: Callable[[E, E], bool] = same or (lambda a, b: a == b)
        """When a second registration of a name is the same entry (e.g. a module imported
        again under another package name); then it replaces the first silently."""

    def register(self, name: str, entry: E, *, origin: str = "builtin", replace: bool = False) -> E:
        """Add `name`; the same entry again is a no-op (modules may be re-imported).
        `replace=True` is for registries whose entries are meant to be redefined (test scripts)."""
        if not replace and name in self._entries and not self._same(self._entries[name], entry):
            raise DuplicateRegistration(
                f"{self.noun} {name!r} is registered twice ({self._origins[name]} and {origin})"
            )
        self._entries[name] = entry
        self._origins[name] = origin
        return entry

    def unregister(self, name: str) -> None:
        """Remove `name` (tests and plugins that replace one of their own entries)."""
        self.pop(name)

    def pop(self, name: str, default: E | None = None) -> E | None:
        """Remove `name` and return its entry (`default` when absent), like `dict.pop`."""
        self._origins.pop(name, None)
        return self._entries.pop(name, default)

    def origin(self, name: str) -> str:
        self.load_entry_points()
        return self._origins[name]

    def load_entry_points(self) -> None:
        """Register every entry point of the group once. A plugin that fails to load is a
        configuration error naming it, not a traceback."""
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in group_entry_points(self.group):
            try:
                entry = self._from_entry_point(ep)
            except ConfigurationError:
                raise
            except Exception as exc:
                raise ConfigurationError(
                    f"{self.group} entry point {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
                ) from exc
            self.register(ep.name, entry, origin=f"entry point {ep.name} = {ep.value} ({self.group})")

    def _known(self, name: object) -> bool:
        """`name` is registered, after the entry points and (on a miss, if this registry
        completes) the loaders that may register it."""
        self.load_entry_points()
        if name not in self._entries and self._complete_on_miss:
            _run_completers()
        return name in self._entries

    def get_entry(self, name: str) -> E:
        """The entry for `name`; unknown names raise `UnknownName` with close matches."""
        self._known(name)
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownName(f"unknown {self.noun} {name!r}. {close_matches_message(name, self._entries)}") from None

    def _complete(self) -> None:
        """Everything that may register here: the entry points and (if this registry
        completes) the loaders, so that a listing is never partial."""
        self.load_entry_points()
        if self._complete_on_miss:
            _run_completers()

    def names(self) -> list[str]:
        self._complete()
        return list(self._entries)

    def registered(self) -> dict[str, E]:
        """The entries registered so far, without reading the entry points: for checks made
        while a module registers (loading plugins then could import that module half-done)."""
        return dict(self._entries)

    # Mapping protocol: `PROVIDERS.items()`, `name in registry`, `registry[name]`.
    def __getitem__(self, name: str) -> E:
        self._known(name)
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        self._complete()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self._complete()
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return self._known(name)
