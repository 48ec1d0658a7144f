"""`mteval view` builds the site into a temporary folder and serves it on 127.0.0.1: a
real HTTP client fetches the pages, Ctrl-C stops it and removes the folder."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def test_view_serves_the_built_site_until_ctrl_c(tmp_path):
    results = tmp_path / "results"
    source = ROOT / "docs" / "ci" / "baseline"  # a small committed run (scripted model, example task)
    shutil.copytree(source, results / source.name)
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "mteval", "view", "--results", str(results), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env={**os.environ, "TMPDIR": str(temp)},
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"leaderboard of 1 runs from .*: (http://127\.0\.0\.1:\d+/)", line)
        assert match, line + process.stderr.read()
        url = match[1]
        index = httpx.get(url, timeout=10)
        assert index.status_code == 200 and "<html" in index.text.lower()
        assert "scripted/calculator" in index.text
        overview = httpx.get(url + "overview.json", timeout=10)
        assert overview.status_code == 200 and overview.json()["rows"]
        assert httpx.get(url + "no-such-page.html", timeout=10).status_code == 404
        served = list(temp.glob("mteval-view-*"))
        assert len(served) == 1 and (served[0] / "site" / "index.html").is_file()  # built into a temporary folder
        assert sorted(tmp_path.iterdir()) == sorted([results, temp])  # nothing written to the working directory
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0
    assert not served[0].exists()  # removed on exit


def test_view_without_results_says_where_runs_are(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mteval", "view"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "--results mteval-results: not a directory" in result.stderr and "results/" in result.stderr
    assert "Traceback" not in result.stderr
