"""Task discovery: built-in families in tasks/ (package `mteval_tasks`), folders given
with --include-path, and the `mteval.tasks` entry-point group.

A family folder is a Python package whose import registers its tasks with
`@register_task`; every task it registers is named `<folder>/<task>` (refused
otherwise), so a name says which folder to import. Looking names up imports only their
folders plus the `mteval.tasks` entry points (a plugin may add tasks to any family): a
run of one task does not import every benchmark. Listing and the did-you-mean hints of
an unknown name import everything. An entry point names a module to import or a Task
subclass.
Tasks and family aggregates are kept in `mteval.plugins.Registry` objects like every
other named thing; this module reads the `mteval.tasks` group itself, since one entry
point may register many tasks.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, TypeVar

from mteval.errors import ConfigurationError
from mteval.plugins import Registry, complete_before_unknown, group_entry_points
from mteval.suggest import close_matches_message  # re-exported: older code imports it from here
from mteval.task import Task, TaskSpec

T = TypeVar("T", bound=type[Task])

_TASKS: Registry[TaskSpec] = Registry("tasks", autoload=False)
"""Filled by `load_family` (one folder of tasks/), `load_entry_points` (the `mteval.tasks`
group), `load_builtin` (both, every folder) and `load_include_path`."""
BUILTIN_PACKAGE = "mteval_tasks"
_loaded_families: set[str] = set()
_loading_family: str | None = None
"""The built-in family folder being imported: its tasks must be named `<folder>/...`."""
_loaded_entry_points = False
_loaded_paths: set[Path] = set()
_current_origin = "builtin"


class UnknownTask(ConfigurationError):
    pass


def register_task(cls: T) -> T:
    """Class decorator that makes a task available by its `name`."""
    if not cls.name or "/" not in cls.name:
        raise ValueError(f"{cls.__name__}.name must look like 'family/task', got {cls.name!r}")
    family = cls.name.split("/", 1)[0]
    if _loading_family is not None and _current_origin == "builtin" and family != _loading_family:
        raise ValueError(
            f"{cls.__name__}.name {cls.name!r}: the tasks of the built-in folder tasks/{_loading_family} must be "
            f"named '{_loading_family}/...' (the registry finds a task's folder by its name)"
        )
    if _current_origin != "builtin":
        load_family(family)  # a plugin reusing a built-in name is refused even when that folder was not needed yet
    existing = _TASKS.get(cls.name)
    if existing is not None and existing.cls.__qualname__ != cls.__qualname__:
        raise ValueError(f"task {cls.name!r} is registered twice ({existing.origin} and {_current_origin})")
    _TASKS.register(cls.name, TaskSpec(cls=cls, origin=_current_origin), origin=_current_origin, replace=True)
    return cls


@dataclass(frozen=True)
class FamilyAggregate:
    """A family summary function with the meaning of its metrics: which one is the
    family's headline (the leaderboard's family cell) and each metric's semantics."""

    aggregate: Callable
    headline: str | None = None
    semantics: Mapping[str, Any] = field(default_factory=dict)
    """metric name (or prefix before '/') -> `mteval.manifest.Semantics`."""


_FAMILY_INFO: Registry[FamilyAggregate] = Registry("family_aggregates", autoload=False)


def register_family_aggregate(
    family: str, aggregate: Callable, *, headline: str | None = None, semantics: Mapping[str, Any] | None = None
) -> None:
    """A family-level summary (e.g. MT-Eval's overall score) computed from its tasks'
    per-turn rows and task instances: `aggregate(frame, tasks) -> dict[str, Metric]`.
    `headline` names the metric that stands for the family; `semantics` declares every
    metric's direction and scale."""
    _FAMILY_INFO.register(family, FamilyAggregate(aggregate, headline, dict(semantics or {})), replace=True)


def family_aggregates() -> Mapping[str, Callable]:
    """family -> its aggregate function, of every installed family (imports them all; a
    run asks `family_aggregate_info` for its own families only)."""
    load_builtin()
    return {family: info.aggregate for family, info in _FAMILY_INFO.items()}


def family_aggregate_info(family: str) -> FamilyAggregate | None:
    """The aggregate `family` declares (its folder and the entry points imported first), or None."""
    load_names([family])
    return _FAMILY_INFO.get(family)


def get_task_spec(name: str) -> TaskSpec | None:
    """The registered task `name`, or None (not installed)."""
    load_names([name])
    return _TASKS.get(name)


@lru_cache(maxsize=None)
def builtin_families() -> frozenset[str]:
    """The family folders of tasks/ (package `mteval_tasks`), listed without importing them."""
    package = importlib.import_module(BUILTIN_PACKAGE)
    return frozenset(info.name for info in pkgutil.iter_modules(package.__path__) if info.ispkg and not info.name.startswith("_"))


def load_family(family: str) -> None:
    """Import the built-in folder `family` once; a name no folder has is left to the plugins."""
    global _current_origin, _loading_family
    if family in _loaded_families or family not in builtin_families():
        return
    _loaded_families.add(family)
    saved = _current_origin, _loading_family
    _current_origin, _loading_family = "builtin", family
    try:
        importlib.import_module(f"{BUILTIN_PACKAGE}.{family}")
    finally:
        _current_origin, _loading_family = saved


def load_entry_points() -> None:
    """Import the `mteval.tasks` entry points once (a module that registers tasks, or a Task subclass)."""
    global _loaded_entry_points, _current_origin
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    for ep in group_entry_points("mteval.tasks"):
        _current_origin = f"entry point {ep.name} ({ep.value})"
        try:
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin must not hide the others
                raise ConfigurationError(f"task entry point {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
            if isinstance(obj, type) and issubclass(obj, Task):
                register_task(obj)
        finally:
            _current_origin = "builtin"


def load_names(names: Iterable[str]) -> None:
    """Everything that can define these task or family names: their built-in folders (unless
    registered in this process already, e.g. from --include-path), then the entry points,
    always: a plugin claiming a name registered here is refused, not silently outranked. The
    command line has read the installed entry points for its commands by then, so this costs
    a selection, not a scan."""
    names = list(names)
    for family in sorted({name.split("/", 1)[0] for name in names if name not in _TASKS}):
        load_family(family)
    if names:
        load_entry_points()


def load_builtin() -> None:
    """Every built-in folder and every entry point (listing, did-you-mean, judge prompt sources)."""
    for family in sorted(builtin_families()):
        load_family(family)
    load_entry_points()


complete_before_unknown(load_builtin)  # scripts and parsers that families register


def load_include_path(directory: str | Path) -> None:
    """Import every family folder (package) or module file under `directory`."""
    global _current_origin
    root = Path(directory).resolve()
    if root in _loaded_paths:
        return
    if not root.is_dir():
        raise ConfigurationError(f"--include-path {directory}: not a directory")
    _loaded_paths.add(root)
    package_name = "mteval_include_" + str(abs(hash(str(root))))
    spec = importlib.util.spec_from_loader(package_name, loader=None, is_package=True)
    assert spec is not None  # is_package=True always gives a spec
    module = importlib.util.module_from_spec(spec)
    module.__path__ = [str(root)]  # type: ignore[attr-defined]  # typeshed's ModuleType has no __path__; a package's module does
    sys.modules[package_name] = module
    for info in pkgutil.iter_modules([str(root)]):
        _current_origin = f"include path {root}"
        try:
            importlib.import_module(f"{package_name}.{info.name}")
        except ConfigurationError:
            raise
        except Exception as exc:  # a broken plugin is a usage error, not a crash
            raise ConfigurationError(f"--include-path {root}: {info.name} failed to import: {type(exc).__name__}: {exc}") from exc
        finally:
            _current_origin = "builtin"


def all_tasks() -> dict[str, TaskSpec]:
    load_builtin()
    return dict(sorted(_TASKS.items()))  # a copy: callers may filter it


def check_task_options(classes: Iterable[type[Task]], options: Mapping[str, object]) -> None:
    """Reject `--task-args` keys that no task of this run reads (`memroy=3` would be
    recorded in the manifest and silently ignored). Tasks that declare no `option_names`
    (third-party plugins) switch the check off, since any key may be theirs."""
    classes = list(classes)
    if not options or any(cls.option_names is None for cls in classes):
        return
    known = sorted({name for cls in classes for name in (cls.option_names or ())})
    for key in options:
        if key not in known:
            tasks = ", ".join(cls.name for cls in classes)
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
            if close:
                hint = "Did you mean " + " or ".join(repr(c) for c in close) + "?"
            else:
                hint = ("Known keys: " + ", ".join(known)) if known else "These tasks take no options."
            raise ConfigurationError(f"--task-args: unknown key {key!r} for {tasks}. {hint}")


def resolve(spec: str | Iterable[str]) -> list[type[Task]]:
    """Task names from `a,b` where each is a task (`fam/task`) or a family (`fam`,
    meaning its main tasks). Unknown names raise with the close matches.

    Only the folders these names belong to and the entry points are imported; an unknown
    name imports everything, for the hints."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s and s.strip()]
    if not names:
        raise UnknownTask("no tasks given")
    load_names(names)
    tasks = dict(sorted(_TASKS.items()))
    families = sorted({name.split("/", 1)[0] for name in tasks})
    if any(name not in tasks and name not in families for name in names):
        tasks = all_tasks()  # the hints look at everything installed
        families = sorted({name.split("/", 1)[0] for name in tasks})
    resolved: list[type[Task]] = []
    for name in names:
        for cls in _resolve_name(name, tasks, families):
            if cls not in resolved:  # `mt_eval,mt_eval/refinement` runs refinement once
                resolved.append(cls)
    return resolved


def _resolve_name(name: str, tasks: Mapping[str, TaskSpec], families: list[str]) -> list[type[Task]]:
    """One name: the task itself, or a family's main tasks (none is an error: the run would
    evaluate nothing and still report "complete")."""
    if name in tasks:
        return [tasks[name].cls]
    if "/" in name or name not in families:
        raise UnknownTask(f"unknown task {name!r}. {close_matches_message(name, list(tasks) + families)}")
    chosen = [s.cls for n, s in tasks.items() if n.startswith(name + "/") and s.cls.main]
    if not chosen:
        members = sorted(n for n in tasks if n.startswith(name + "/"))
        raise UnknownTask(f"family {name!r} has no main tasks; name one of: {', '.join(members)}")
    return chosen
