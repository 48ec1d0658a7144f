"""The static leaderboard site, built from a results folder made by the real runner:
structure, provenance links, byte-identical rebuilds, escaping, and the pages in a real
headless Chromium (Debian's /usr/bin/chromium driven by playwright; never downloaded).
"""

from __future__ import annotations

import contextlib
import functools
import html.parser
import http.server
import json
import shutil
import threading
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

import pytest

from mteval.cli import main
from mteval.client import RetryPolicy
from mteval.conversation import Conversation, Turn
from mteval.leaderboard import build_site
from mteval.manifest import higher
from mteval.models.errors import ServerError
from mteval.models.scripted import register_script
from mteval.registry import register_task
from mteval.runner import RunConfig, Runner
from mteval.scoring.judge_scorer import JudgeScorer
from mteval.scoring.jury import JuryConfig
from mteval.task import Task

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"><a href="javascript:window.__pwned=3">x</a>'
JUDGE_PAYLOAD = '</script><img src=y onerror="window.__pwned=4">'
FAST_RETRY = RetryPolicy(max_attempts=1, initial_wait_s=0.0, max_wait_s=0.0, jitter_s=0.0, timeout_s=10.0)


# --- a small judged task and scripted models and judges ------------------------------------------
@register_task
class JudgedProbe(Task):
    name = "lbtest/judged"
    version = "2"
    description = "Leaderboard test task <b>judged</b> by a scripted jury."
    category = "instruction following"
    semantics = {"rubric": higher(1, 10, "judge points")}

    def load(self) -> list[Conversation]:
        return [
            Conversation(id=f"j{i}", system="Be brief.", turns=(Turn(id="t1", user=f"Question {i}?", gold="Answer."), Turn(id="t2", user="And then?", gold="Then.")))
            for i in range(1, 5)
        ]

    def scorers(self):
        return [JudgeScorer("rubric", "rubric")]


def _judge_a(messages, params, context, args) -> str:
    return f"Reasonable reply. {JUDGE_PAYLOAD}\nRating: [[7]]"


def _judge_b(messages, params, context, args) -> str:
    if context.conversation_id == "j3" and context.turn_id == "t2":
        return "I cannot decide."  # unparsed, also after the re-ask
    return f"Rating: [[{5 + int(context.conversation_id[1:]) % 3}]]"


def _flaky(messages, params, context, args) -> str:
    if context.conversation_id == "j2" and context.turn_id == "t2":
        raise ServerError("scripted outage", status=503)
    return "A fine answer."


register_script("lbtest_judge_a", _judge_a)
register_script("lbtest_judge_b", _judge_b)
register_script("lbtest_flaky", _flaky)


def _run(results: Path, cache: Path, **options: Any) -> Path:
    config = RunConfig(output_dir=results, cache_dir=cache, progress=False, retry=FAST_RETRY, max_concurrency=4, command=["mteval", "run"], **options)
    return Runner(config).run().run_dir


def make_results(root: Path) -> Path:
    """Runs with the real runner: the example task (own and single history, two
    memories, gold), the judged task (an injection reply, a flaky model), plus an
    imported run."""
    results, cache = root / "results", root / "cache"
    for memory in (2, 3):
        _run(results, cache, tasks="example", model="scripted/calculator", model_args={"memory": memory}, limit=12)
    _run(results, cache, tasks="example", model="scripted/calculator", model_args={"memory": 3}, history="single", limit=12)
    _run(results, cache, tasks="example", model="replay/gold", limit=12)
    jury = JuryConfig.from_models(["scripted/lbtest_judge_a", "scripted/lbtest_judge_b"])
    _run(results, cache, tasks="lbtest/judged", model="scripted/constant", model_args={"text": PAYLOAD}, jury=jury)
    flaky = _run(results, cache, tasks="lbtest/judged", model="scripted/lbtest_flaky", jury=jury)
    # the one row that covers every family on the board, so it alone gets an overall score
    _run(results, cache, tasks="lbtest/judged", model="scripted/calculator", model_args={"memory": 3}, jury=jury)
    assert json.loads((flaky / "run.json").read_text())["totals"]["errored_conversations"] == 1
    # An imported run: a run directory whose manifest says where it came from.
    source = next(results.glob("scripted-calculator__example__own__*"))
    imported = results / "imported" / "lm-eval-tiny"
    shutil.copytree(source, imported)
    manifest = json.loads((imported / "run.json").read_text())
    manifest.update(run_id="lm-eval-tiny", model={"id": "lmeval/tiny-imported", "provider": "lmeval", "args": {}},
                    imported={"source": "lm-eval", "format": "lm-eval samples"})
    (imported / "run.json").write_text(json.dumps(manifest, indent=2))
    return results


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    return make_results(tmp_path_factory.mktemp("lb"))


@pytest.fixture(scope="module")
def site(results: Path) -> Path:
    out = results.parent / "site"
    build_site(results, out)
    return out


# --- static checks -------------------------------------------------------------------------------
class Page(html.parser.HTMLParser):
    """Elements of one page: every tag with its attributes, plus number cells' links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.num_cells: list[list[str]] = []
        self._cell: list[str] | None = None
        self._cell_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag == "td" and "num" in attributes.get("class", "").split() and "empty" not in attributes.get("class", "").split():
            self._cell = []
            self.num_cells.append(self._cell)
        elif tag == "a" and self._cell is not None:
            self._cell.append(attributes.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_site_has_every_page(site: Path, results: Path) -> None:
    runs = sorted(p.parent for p in results.rglob("run.json"))
    assert len(runs) == 8
    copied = sorted(site.glob("runs/*/run.json"))
    assert len(copied) == 8
    assert {p.read_bytes() for p in copied} == {(r / "run.json").read_bytes() for r in runs}
    for page in ("index.html", "tasks/index.html", "runs/index.html", "tasks/example-arithmetic/index.html", "tasks/lbtest-judged/index.html"):
        assert (site / page).is_file(), page
    assert len(list(site.glob("models/*/index.html"))) == 6
    for name in ("charts/overall.svg", "charts/overall.csv", "charts/overall.json", "overview.json", "overview.csv",
                 "tasks/example-arithmetic/turns.svg", "tasks/example-arithmetic/turns.csv", "models/scripted-calculator-memory-3/turns.svg"):
        assert (site / name).is_file(), name
    svg = (site / "charts/overall.svg").read_text()
    assert "<dc:date>" not in svg
    # a transcript page for every finished conversation of every run
    conversations = sum(json.loads(p.read_text())["totals"]["conversations"] for p in copied)
    assert len(list(site.glob("runs/*/*/*.html"))) == conversations > 100


def test_pages_are_safe_by_construction(site: Path) -> None:
    """CSP on every page, JavaScript only from static/site.js, no event-handler
    attributes, no javascript: links, no external sources."""
    for path in html_pages(site):
        text = path.read_text(encoding="utf-8")
        assert "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'self';" in text, path
        for tag, attributes in parse(path).tags:
            assert not [a for a in attributes if a.startswith("on")], (path, tag, attributes)
            if tag == "script":
                assert attributes.get("src", "").endswith("static/site.js"), (path, attributes)
            for name in ("href", "src"):
                value = attributes.get(name, "")
                assert not value.lower().startswith(("javascript:", "http:", "https:", "//", "data:")), (path, tag, value)
    transcript = next(p for p in html_pages(site) if "scripted-constant" in str(p) and p.parent.name == "lbtest-judged")
    text = transcript.read_text(encoding="utf-8")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text
    assert "&lt;/script&gt;&lt;img src=y onerror=" in text  # the judge's rationale, escaped too


def test_every_number_links_to_a_copied_manifest(site: Path) -> None:
    checked = 0
    for path in html_pages(site):
        for hrefs in parse(path).num_cells:
            manifests = [h for h in hrefs if h.endswith("run.json")]
            assert manifests, (path, hrefs)
            for href in manifests:
                target = (path.parent / unquote(urlsplit(href).path)).resolve()
                assert target.is_file() and target.is_relative_to(site.resolve()), (path, href)
                checked += 1
    assert checked > 1000


def test_rebuild_is_byte_identical(site: Path, results: Path) -> None:
    again = results.parent / "site-again"
    build_site(results, again)
    assert tree(again) == tree(site)


def test_tables_hold_the_right_numbers(site: Path) -> None:
    overview = json.loads((site / "overview.json").read_text())
    rows = {(r["model"], r["history"]): r for r in overview["rows"]}
    own = rows[("scripted/calculator (memory=3)", "own")]["cells"]
    single = rows[("scripted/calculator (memory=3)", "single")]["cells"]
    assert single["task:example/arithmetic"]["value"] == 1.0
    # overall: family headlines mapped to 0-1 on their declared ranges (accuracy 0-1, rubric 1-10), averaged
    rubric = own["task:lbtest/judged"]["value"]
    assert own["overall"]["value"] == pytest.approx((own["task:example/arithmetic"]["value"] + (rubric - 1) / 9) / 2)
    assert own["overall"]["manifests"][0].startswith("runs/scripted-calculator__example__own__")
    # rows that did not run every family on the board are not ranked overall
    assert "overall" not in single and "overall" not in rows[("replay/gold", "own")]["cells"]
    assert rows[("lmeval/tiny-imported", "own")]["source"] == "imported"
    flaky = rows[("scripted/lbtest_flaky", "own")]["cells"]
    assert set(flaky) == {"family:lbtest", "category:instruction following", "task:lbtest/judged"}
    index = (site / "index.html").read_text()
    assert 'class="badge imported"' in index
    model_page = (site / "models/scripted-calculator-memory-3/index.html").read_text()
    assert "Multi-turn penalty" in model_page and "example/arithmetic" in model_page
    penalty = 1.0 - own["task:example/arithmetic"]["value"]  # mteval.penalty: single - own, positive = the dialogue hurts
    assert penalty > 0 and f"{penalty:.3f}" in model_page and f"{-penalty:.3f}" not in model_page
    assert "Single-turn score minus own-history score" in model_page
    flaky_page = (site / "models/scripted-lbtest_flaky/index.html").read_text()
    assert "scripted/lbtest_judge_a" in flaky_page and "scripted/lbtest_judge_b" in flaky_page
    assert "Krippendorff" in flaky_page
    task_page = (site / "tasks/lbtest-judged/index.html").read_text()
    assert "Leaderboard test task &lt;b&gt;judged&lt;/b&gt;" in task_page
    sha = json.loads(next(site.glob("runs/scripted-lbtest_flaky*/run.json")).read_text())["tasks"]["lbtest/judged"]["data"]["sha256"]
    assert sha in task_page


def test_the_best_run_fills_each_cell(results: Path, tmp_path: Path) -> None:
    """Complete before interrupted, then the latest finished; older runs stay listed."""
    from mteval.leaderboard.data import collect

    copy = tmp_path / "results"
    original = next(results.glob("scripted-calculator__example__own__*"))
    shutil.copytree(original, copy / original.name)
    manifest = json.loads((original / "run.json").read_text())
    manifest["metrics"]["example/arithmetic"]["exact"]["value"] = 0.123
    for name, status, finished in (("rerun-a", "interrupted", "2999-01-01T00:00:00Z"), ("rerun-b", "complete", "1999-01-01T00:00:00Z")):
        shutil.copytree(original, copy / name)
        (copy / name / "run.json").write_text(json.dumps(dict(manifest, run_id=name, status=status, finished_at=finished)))
    board = collect(copy)
    (row,) = board.rows
    assert row.runs["example/arithmetic"].run_id == original.name
    assert len(board.runs_for_model(row.model.key)) == 3
    (copy / "rerun-b" / "run.json").write_text(json.dumps(dict(manifest, run_id="rerun-b", status="complete", finished_at="2999-01-01T00:00:00Z")))
    (row,) = collect(copy).rows
    assert row.runs["example/arithmetic"].run_id == "rerun-b"
    assert row.cells["task:example/arithmetic"].value == 0.123


def test_cli_rebuilds_over_its_site_and_refuses_foreign_folders(results: Path, tmp_path: Path, capsys) -> None:
    small = tmp_path / "results"
    shutil.copytree(next(results.glob("replay-gold__*")), small / "gold")
    out = tmp_path / "cli-site"
    assert main(["leaderboard", "build", "--results", str(small), "--out", str(out)]) == 0
    assert "1 runs" in capsys.readouterr().out
    first = tree(out)
    (out / "stale.html").write_text("left over")
    assert main(["leaderboard", "build", "--results", str(small), "--out", str(out)]) == 0
    assert tree(out) == first
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    assert main(["leaderboard", "build", "--results", str(small), "--out", str(foreign)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (foreign / "keep.txt").read_text() == "mine"


# --- in a real browser ---------------------------------------------------------------------------
@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(site: Path):
    # Depends on `site`: the runner's asyncio.run() cannot start once playwright's loop runs.
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is required for the leaderboard browser tests and was not found at {CHROMIUM}: "
                    "install it with `apt-get install -y chromium` (as .ci/run does).", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is required for the browser tests: pip install -e '.[dev]'", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    with serve(site) as url:
        yield url


@contextlib.contextmanager
def open_page(browser, url: str) -> Iterator[tuple[Any, list[str]]]:
    """A page with every console error, page error and off-site request recorded."""
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: problems.append(f"off-site request: {r.url}") if not r.url.startswith(url.split("/", 3)[0] + "//" + url.split("/", 3)[2]) else None)
    try:
        yield page, problems
    finally:
        context.close()


def column_values(page, column: int) -> list[float | None]:
    return page.eval_on_selector_all(
        "#leaderboard tbody tr:not([hidden])",
        f"rows => rows.map(r => {{ const v = r.cells[{column}].getAttribute('data-sort'); return v === '' ? null : parseFloat(v); }})",
    )


def test_overview_sorts_and_filters_in_the_browser(browser, base_url: str) -> None:
    with open_page(browser, base_url) as (page, problems):
        page.goto(base_url + "index.html", wait_until="load")
        assert page.title().startswith("Leaderboard")
        headers = page.eval_on_selector_all("#leaderboard thead th", "ths => ths.map(t => t.querySelector('button').textContent)")
        column = headers.index("example/arithmetic")
        assert page.locator("#leaderboard tbody tr").count() == 7  # six models, one of them in two modes

        page.locator("#leaderboard thead th").nth(column).locator("button").click()
        values = column_values(page, column)
        present = [v for v in values if v is not None]
        assert values == sorted(present, reverse=True) + [None] * (len(values) - len(present)) and len(set(present)) > 1
        assert page.locator("#leaderboard thead th").nth(column).get_attribute("aria-sort") == "descending"
        page.locator("#leaderboard thead th").nth(column).locator("button").click()
        assert column_values(page, column) == sorted(present) + [None] * (len(values) - len(present))

        page.fill("#filter-model", "calculator")
        visible = page.eval_on_selector_all("#leaderboard tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.model)")
        assert len(visible) == 3 and all("calculator" in m for m in visible)
        assert not page.locator("tr#row-replay-gold--own").is_visible()
        page.fill("#filter-model", "")
        page.select_option("#filter-task", "lbtest/judged")
        assert page.locator("#leaderboard tbody tr:not([hidden])").count() == 3  # constant, flaky, calculator
        assert not page.locator("#leaderboard thead th[data-col='task:example/arithmetic']").is_visible()
        page.select_option("#filter-task", "")
        page.select_option("#filter-family", "example")
        assert page.locator("#leaderboard tbody tr:not([hidden])").count() == 5
        page.select_option("#filter-family", "")
        page.select_option("#filter-source", "imported")
        assert page.eval_on_selector_all("#leaderboard tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.model)") == ["lmeval/tiny-imported"]
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert problems == []


def test_injected_reply_is_shown_as_text_and_never_runs(browser, base_url: str, site: Path) -> None:
    transcript = next(p for p in site.glob("runs/scripted-constant*/lbtest-judged/*.html"))
    model_page = next(site.glob("models/scripted-constant*/index.html"))
    for path in (transcript, model_page, site / "tasks/lbtest-judged/index.html", transcript.parent.parent / "index.html"):
        with open_page(browser, base_url) as (page, problems):
            page.goto(base_url + str(path.relative_to(site)), wait_until="load")
            page.wait_for_timeout(100)
            assert page.evaluate("typeof window.__pwned") == "undefined", path
            assert page.locator("img[src='x'], img[src='y'], a[href^='javascript:']").count() == 0, path
            assert problems == [], (path, problems)
            if path == transcript:
                replies = page.locator("pre.reply-text").all_inner_texts()
                assert replies and all(r == PAYLOAD for r in replies)
                assert JUDGE_PAYLOAD in page.locator("table.verdicts").first.text_content()
                for link in page.locator("td.num a").all():
                    assert link.get_attribute("href").endswith("run.json")
