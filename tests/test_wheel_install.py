"""A non-editable install finds its package data.

`pip install -e .` hides packaging mistakes: files are read from the checkout. This test
builds a wheel from a copy of the sources, installs it (without dependencies) into a
fresh virtual environment that borrows the current environment's dependencies, and runs
the installed code from outside the repository: judge definitions load, `mteval list
judges` lists them, and the example task runs offline from its shipped data.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_COPY = shutil.ignore_patterns(".git", "results", "tests", "build", "dist", "site", "*.egg-info", "__pycache__", "mteval-results", "bench")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory) -> Path:
    """bin/ of a venv holding only the built wheel (dependencies borrowed via a .pth)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=SKIP_COPY)
    dist = work / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("*.whl")
    env_dir = work / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    # The current environment's packages, added after the venv's own (a .pth line does not
    # run that folder's own .pth files, so an editable mteval there stays invisible).
    (purelib / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    if install.returncode != 0 and "no such option: --python" in install.stderr:  # pip < 22.3
        install = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--prefix", str(env_dir), str(wheel)],
            capture_output=True, text=True, timeout=300,
        )
    assert install.returncode == 0, install.stderr
    return env_dir / "bin"


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return env


def test_installed_wheel_loads_judge_definitions(wheel_env, tmp_path):
    code = (
        "import json, mteval, mteval_judges\n"
        "from mteval.scoring.judge_spec import list_specs, load_spec\n"
        "print(json.dumps({'mteval': mteval.__file__, 'judges': mteval_judges.__file__,"
        " 'specs': sorted(list_specs()), 'rubric': load_spec('rubric').name, 'mt': load_spec('mt_bench/single-v1').parser}))\n"
    )
    result = subprocess.run([str(wheel_env / "python"), "-c", code], capture_output=True, text=True, cwd=tmp_path, env=_clean_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    venv_dir = str(wheel_env.parent)
    assert found["mteval"].startswith(venv_dir) and found["judges"].startswith(venv_dir), found  # the wheel, not the checkout
    assert found["rubric"] == "rubric"
    assert {"rubric", "pairwise", "reference", "mt_bench/single-v1"} <= set(found["specs"])


def test_installed_wheel_command_lists_judges_and_runs_offline(wheel_env, tmp_path):
    listing = subprocess.run([str(wheel_env / "mteval"), "list", "judges"], capture_output=True, text=True, cwd=tmp_path, env=_clean_env(), timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "rubric" in listing.stdout and "mt_bench/single-v1" in listing.stdout
    run = subprocess.run(
        [str(wheel_env / "mteval"), "run", "--tasks", "example", "--model", "replay/gold", "--limit", "2", "--no-cache", "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=_clean_env(), timeout=120,
    )
    assert run.returncode == 0, run.stderr
    manifest = json.loads(run.stdout)
    assert manifest["metrics"]["example/arithmetic"]["exact"]["value"] == 1.0
    assert (tmp_path / "mteval-results" / manifest["run_id"] / "run.json").is_file()  # the default output dir
