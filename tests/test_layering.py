"""Layering: errors and small utilities sit at the bottom of the import graph, and the
model and parser layers never import the task registry (the old models <-> registry cycle)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mteval

PACKAGE = Path(mteval.__file__).parent


def _mteval_imports(path: Path) -> set[str]:
    """Every `mteval...` module a source file imports, at top level or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mteval"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("mteval"))
    return names


def test_bottom_modules_import_nothing_from_mteval():
    code = (
        "import sys, mteval.errors, mteval.suggest; "
        "print(sorted(m for m in sys.modules if m.startswith('mteval') and m != 'mteval'))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "['mteval.errors', 'mteval.suggest']"


def test_models_and_parsers_do_not_import_the_registry():
    files = sorted((PACKAGE / "models").glob("*.py")) + [PACKAGE / "scoring" / "parsers.py"]
    offenders = {str(f.relative_to(PACKAGE)): sorted(i) for f in files if (i := _mteval_imports(f) & {"mteval.registry", "mteval.task"})}
    assert offenders == {}


def test_old_import_paths_are_the_same_objects():
    from mteval import errors, registry, suggest
    from mteval.models import errors as model_errors

    assert model_errors.ConfigurationError is errors.ConfigurationError
    assert model_errors.ModelError is errors.ModelError
    assert model_errors.from_status is errors.from_status
    assert registry.close_matches_message is suggest.close_matches_message
    assert issubclass(registry.UnknownTask, errors.ConfigurationError)


def test_close_matches_message():
    from mteval.suggest import close_matches_message

    assert close_matches_message("opnai", ["openai", "anthropic"]) == "Did you mean: openai?"
    assert close_matches_message("zzz", ["b", "a", "a"]) == "Known: a, b"
    assert close_matches_message("zzz", []) == "None are registered."


def test_errors_are_imported_from_the_bottom_layer():
    """`mteval.models.errors` is a compatibility alias for plugins; inside the project the
    errors come from `mteval.errors`, so raising one never loads the model package."""
    root = PACKAGE.parent
    files = [p for folder in ("mteval", "tasks", "judges") for p in sorted((root / folder).rglob("*.py"))]
    offenders = [str(f.relative_to(root)) for f in files if f != PACKAGE / "models" / "errors.py" and "mteval.models.errors" in _mteval_imports(f)]
    assert offenders == []


def test_the_registry_does_not_load_the_model_package():
    code = "import sys, mteval.registry; print(sorted(m for m in sys.modules if m.startswith('mteval.models')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
