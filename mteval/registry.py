"""Task discovery: built-in families in tasks/ (package `mteval_tasks`), folders given
with --include-path, and the `mteval.tasks` entry-point group.

A family folder is a Python package whose import registers its tasks with
`@register_task`. An entry point names a module to import or a Task subclass.
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
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, TypeVar

from mteval.errors import ConfigurationError
from mteval.plugins import Registry
from mteval.suggest import close_matches_message  # re-exported: older code imports it from here
from mteval.task import Task, TaskSpec

T = TypeVar("T", bound=type[Task])

_TASKS: Registry[TaskSpec] = Registry("tasks", autoload=False)
"""Loaded by `load_builtin` (tasks/, then the `mteval.tasks` group) and `load_include_path`."""
_loaded_builtin = False
_loaded_paths: set[Path] = set()
_current_origin = "builtin"


class UnknownTask(ConfigurationError):
    pass


def register_task(cls: T) -> T:
    """Class decorator that makes a task available by its `name`."""
    if not cls.name or "/" not in cls.name:
        raise ValueError(f"{cls.__name__}.name must look like 'family/task', got {cls.name!r}")
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
    """family -> its aggregate function, of the families registered so far."""
    return {family: info.aggregate for family, info in _FAMILY_INFO.items()}


def family_aggregate_info(family: str) -> FamilyAggregate | None:
    load_builtin()
    return _FAMILY_INFO.get(family)


def get_task_spec(name: str) -> TaskSpec | None:
    """The registered task `name`, or None (not installed)."""
    return all_tasks().get(name)


def _import_family_packages(package_name: str, origin: str) -> None:
    global _current_origin
    package = importlib.import_module(package_name)
    for info in pkgutil.iter_modules(package.__path__):
        if info.ispkg and not info.name.startswith("_"):
            _current_origin = origin
            try:
                importlib.import_module(f"{package_name}.{info.name}")
            finally:
                _current_origin = "builtin"


def load_builtin() -> None:
    global _loaded_builtin, _current_origin
    if _loaded_builtin:
        return
    _loaded_builtin = True
    _import_family_packages("mteval_tasks", "builtin")
    for ep in entry_points(group="mteval.tasks"):
        _current_origin = f"entry point {ep.name} ({ep.value})"
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not hide the others
            raise ConfigurationError(f"task entry point {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        finally:
            _current_origin = "builtin"
        if isinstance(obj, type) and issubclass(obj, Task):
            register_task(obj)


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
    meaning its main tasks). Unknown names raise with the close matches."""
    tasks = all_tasks()
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s and s.strip()]
    if not names:
        raise UnknownTask("no tasks given")
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
