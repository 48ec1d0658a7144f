"""The wheel must ship every task and judge folder: pyproject lists them by hand."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _package_dirs(folder: str, package: str) -> set[str]:
    base = ROOT / folder
    return {
        ".".join([package, *p.parent.relative_to(base).parts])
        for p in base.rglob("__init__.py")
        if "__pycache__" not in p.parts
    }


def test_every_task_and_judge_package_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    expected = _package_dirs("tasks", "mteval_tasks") | _package_dirs("judges", "mteval_judges") | _package_dirs("mteval", "mteval")
    assert expected - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_litellm_requirement_excludes_compromised_releases():
    from packaging.requirements import Requirement

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    litellm = next(Requirement(r) for r in config["project"]["dependencies"] if r.startswith("litellm"))
    for bad in ("1.82.7", "1.82.8"):
        assert not litellm.specifier.contains(bad)
    assert litellm.specifier.contains("1.83.0")


def test_shipped_data_has_a_license():
    for data_dir in (ROOT / "tasks").glob("*/data"):
        family = data_dir.parent
        assert any(family.glob("LICENSE*")), f"{family} ships data without a LICENSE file"


def test_py_typed_marker_ships():
    """PEP 561: without the marker in the wheel, mypy ignores mteval's annotations."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["mteval"]
    assert (ROOT / "mteval" / "py.typed").is_file()
