"""Looking task names up imports only the families they name (plus the `mteval.tasks`
entry points); listing and unknown names still see every family, and a name cannot be
claimed twice, whichever family happens to be imported first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mteval import registry
from mteval.registry import UnknownTask, all_tasks, builtin_families, resolve


def _fresh(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, env=env)


def _loaded_families_after(code: str) -> list[str]:
    done = _fresh(textwrap.dedent(code) + textwrap.dedent("""
        import json, sys
        print(json.dumps(sorted({m.split(".")[1] for m in sys.modules if m.startswith("mteval_tasks.")})))
    """))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_resolving_one_task_imports_only_its_family():
    assert _loaded_families_after("""
        from mteval.registry import resolve
        assert [c.name for c in resolve("example/arithmetic")] == ["example/arithmetic"]
    """) == ["example"]


def test_a_family_name_and_lookups_import_only_that_family():
    assert _loaded_families_after("""
        from mteval.registry import family_aggregate_info, get_task_spec, resolve
        assert {c.name for c in resolve("mt_eval")} >= {"mt_eval/refinement", "mt_eval/follow_up"}
        assert get_task_spec("mt_eval/cls_ablation_gold") is not None
        assert family_aggregate_info("mt_eval") is not None  # the aggregate of the family that ran
    """) == ["mt_eval"]


def test_a_run_of_an_in_process_task_imports_no_family_and_no_duplex():
    done = _fresh("""
        import json, sys
        from mteval.registry import register_task, resolve
        from mteval.task import Task

        @register_task
        class Mine(Task):
            name = "mine/one"
        assert resolve("mine/one") == [Mine]
        print(json.dumps(sorted(m for m in sys.modules if m.startswith(("mteval_tasks.", "mteval.duplex")))))
    """)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_unknown_names_and_listing_see_every_family():
    with pytest.raises(UnknownTask, match=r"unknown task 'rad_bench/reasonin'\. Did you mean: rad_bench/reasoning"):
        resolve("rad_bench/reasonin")
    with pytest.raises(UnknownTask, match=r"Did you mean: multiturn_instruct"):
        resolve("multiturn_instruc")
    families = {name.split("/", 1)[0] for name in all_tasks()}
    assert families >= set(builtin_families())


def test_every_builtin_task_is_named_after_its_folder_so_names_cannot_collide():
    """The registry imports folder X for the name 'X/...': a folder's tasks carry its name, so
    two folders can never register the same task name."""
    tasks = all_tasks()
    import mteval_tasks

    folders = {init.parent.name for init in Path(mteval_tasks.__file__).parent.glob("*/__init__.py")}
    assert builtin_families() == folders and "mt_eval" in folders
    for name, spec in tasks.items():
        if spec.origin != "builtin" or not spec.cls.__module__.startswith("mteval_tasks."):
            continue  # tasks other tests register in this process
        folder = spec.cls.__module__.split(".")[1]
        assert name.split("/", 1)[0] == folder, (name, spec.cls.__module__)
    for family in builtin_families():
        assert any(name.startswith(family + "/") for name in tasks), f"tasks/{family} registers no task"


def test_a_builtin_folder_registering_another_familys_name_is_refused(tmp_path, monkeypatch):
    package = tmp_path / "fake_builtin_tasks"
    (package / "fam_a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "fam_a" / "__init__.py").write_text(textwrap.dedent("""
        from mteval.registry import register_task
        from mteval.task import Task

        @register_task
        class Stray(Task):
            name = "fam_b/stray"
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "BUILTIN_PACKAGE", "fake_builtin_tasks")
    monkeypatch.setattr(registry, "_loaded_families", set())
    registry.builtin_families.cache_clear()
    try:
        assert registry.builtin_families() == frozenset({"fam_a"})
        with pytest.raises(ValueError, match=r"'fam_b/stray': the tasks of the built-in folder tasks/fam_a must be named 'fam_a/\.\.\.'"):
            registry.load_family("fam_a")
        assert "fam_b/stray" not in registry._TASKS.registered()
    finally:
        registry.builtin_families.cache_clear()
        for module in [m for m in sys.modules if m.startswith("fake_builtin_tasks")]:
            del sys.modules[module]


def _install_task_plugin(root: Path, body: str) -> dict[str, str]:
    (root / "taskplug").mkdir()
    (root / "taskplug" / "__init__.py").write_text(textwrap.dedent(body))
    dist = root / "taskplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: taskplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[mteval.tasks]\ntaskplug = taskplug\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}


PLUGIN_TASKS = """
    from mteval.registry import register_task
    from mteval.task import Task

    @register_task
    class Own(Task):
        name = "taskplug/own"
        main = True

    @register_task
    class Sums(Task):
        name = "example/arithmetic"  # a built-in task's name
"""


def test_a_plugin_claiming_a_builtin_name_is_refused_when_it_loads(tmp_path):
    """The plugin is loaded to resolve its own task; the built-in family it collides with was
    not needed for that run, and is imported to make the refusal."""
    env = _install_task_plugin(tmp_path, PLUGIN_TASKS)
    done = _fresh("""
        from mteval.errors import ConfigurationError
        from mteval.registry import resolve
        try:
            resolve("taskplug/own")
        except ConfigurationError as exc:
            print(exc)
    """, env)
    assert done.returncode == 0, done.stderr
    assert "task 'example/arithmetic' is registered twice (builtin and entry point taskplug (taskplug))" in done.stdout


def test_a_plugin_claiming_an_include_path_task_name_is_refused(tmp_path):
    """A task registered in this process (here from --include-path) does not skip the entry
    points: an installed plugin claiming the same name is an error naming both, not outranked."""
    env = _install_task_plugin(tmp_path, PLUGIN_TASKS.split("    @register_task\n    class Sums")[0])
    include = tmp_path / "include"
    include.mkdir()
    (include / "mine.py").write_text(textwrap.dedent(PLUGIN_TASKS.split("    @register_task\n    class Sums")[0]).replace("class Own", "class Mine"))
    done = _fresh(f"""
        from mteval.errors import ConfigurationError
        from mteval.registry import load_include_path, resolve
        load_include_path({str(include)!r})
        try:
            resolve("taskplug/own")
        except ConfigurationError as exc:
            print(exc)
    """, env)
    assert done.returncode == 0, done.stderr
    assert f"task 'taskplug/own' is registered twice (include path {include.resolve()} and entry point taskplug (taskplug))" in done.stdout


def test_a_plugin_adds_tasks_to_a_family_and_is_found_by_name(tmp_path):
    env = _install_task_plugin(tmp_path, PLUGIN_TASKS.split("    @register_task\n    class Sums")[0].replace("taskplug/own", "mt_eval/plugged"))
    done = _fresh("""
        import json, sys
        from mteval.registry import resolve
        print(json.dumps([c.name for c in resolve("mt_eval/plugged")]))
        print(json.dumps("mt_eval/plugged" in [c.name for c in resolve("mt_eval")]))
    """, env)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [["mt_eval/plugged"], True]


def test_entry_points_are_read_once_for_every_group(monkeypatch):
    from mteval import plugins

    calls = []
    real = plugins.entry_points

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(plugins, "entry_points", counting)
    plugins._installed_entry_points.cache_clear()
    try:
        plugins.group_entry_points("mteval.tasks")
        plugins.group_entry_points("mteval.providers")
        assert plugins.group_entry_points("console_scripts") == list(real(group="console_scripts"))
        assert len(calls) == 1
    finally:
        plugins._installed_entry_points.cache_clear()


def test_scripts_and_parsers_a_family_registers_are_found_when_another_family_runs():
    """`scripted/calculator` (tasks/example) and the parser `fdb_relevance` (tasks/full_duplex)
    work in a run of rad_bench: an unknown script or parser name imports every family first."""
    done = _fresh("""
        import sys
        from mteval.models import create_model
        from mteval.registry import resolve
        from mteval.scoring.parsers import get_parser

        resolve("rad_bench/reasoning")
        assert "mteval_tasks.example" not in sys.modules
        create_model("scripted/calculator", {"memory": 3}).validate()
        print(get_parser("fdb_relevance").__name__)
        try:
            create_model("scripted/calculatr").validate()
        except Exception as exc:
            print(exc)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["parse_fdb_relevance", "unknown script 'calculatr'. Did you mean: calculator?"]


def test_listings_after_a_one_family_lookup_are_whole():
    """A lookup imports one family; a listing (scripts, parsers, family aggregates) must not
    then show only what that family happened to register."""
    done = _fresh("""
        import json
        from mteval.registry import family_aggregates, resolve
        from mteval.models.scripted import SCRIPTS, SCRIPT_ARGS
        from mteval.scoring.parsers import PARSERS
        resolve("example/arithmetic")
        print(json.dumps({"scripts": sorted(SCRIPTS), "script_args": sorted(SCRIPT_ARGS), "parsers": PARSERS.names(),
                          "parser_count": len(PARSERS), "aggregates": sorted(family_aggregates())}))
    """)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout.strip().splitlines()[-1])
    assert "mt_eval_judge" in listed["scripts"] and "mt_eval_judge" in listed["script_args"]
    assert "calculator" in listed["scripts"]
    assert "fdb_relevance" in listed["parsers"] and any(p.startswith("amulet") for p in listed["parsers"])
    assert listed["parser_count"] == len(listed["parsers"])
    assert listed["aggregates"] == ["mt_eval", "multiturn_instruct", "rad_bench"]
