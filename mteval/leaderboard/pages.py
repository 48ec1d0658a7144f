"""The site's pages besides transcripts: overview, task, model and run pages, each
with its charts and the charts' data as JSON and CSV next to them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mteval.leaderboard import charts
from mteval.leaderboard.data import HISTORY_ORDER, Cell, Leaderboard, Row, Run, penalties, run_metric_cell, task_cell
from mteval.leaderboard.judges import jury_report
from mteval.leaderboard.render import Site
from mteval.leaderboard.transcripts import task_slug, transcript_href
from mteval.leaderboard.util import is_number, write_csv, write_json

MAX_PROBLEM_LINKS = 25
Prices = dict[str, dict[str, float]]


def task_pages(board: Leaderboard) -> dict[str, str]:
    return {name: f"tasks/{meta.slug}/index.html" for name, meta in board.tasks.items()}


def _row_label(row: Row) -> str:
    label = row.model.label if len(row.model.label) <= 44 else row.model.label[:43] + "…"
    return f"{label} [{row.history}]"


def _ci(cell: Cell | None) -> tuple[Any, Any]:
    return (cell.ci[0], cell.ci[1]) if cell is not None and cell.ci else (None, None)


def _bar(cell: Cell) -> float:
    """A cell's bar length. Drawn cells always hold a number (`run_metric_cell` makes none
    without one); were one missing, NaN draws no bar where None would fail the build."""
    return float("nan") if cell.value is None else cell.value


# --- overview ----------------------------------------------------------------------------------
def write_overview(site: Site, board: Leaderboard) -> None:
    histories = sorted({r.history for r in board.rows}, key=lambda h: (HISTORY_ORDER.get(h, 9), h))
    ranked = sorted((r for r in board.rows if "overall" in r.cells), key=lambda r: (-(r.cells["overall"].value or 0.0), r.id))
    if ranked:
        cells = [r.cells["overall"] for r in ranked]
        charts.bar_chart([_row_label(r) for r in ranked], [_bar(c) for c in cells], [c.ci for c in cells],
                         site.out / "charts" / "overall.svg", title="Overall score (95% interval where defined)",
                         xlabel="mean of family headlines, each mapped to 0 (worst) .. 1 (best) on its range")
        data = [{"model": r.model.label, "model_id": r.model.id, "history": r.history, **c.as_json()} for r, c in zip(ranked, cells)]
        write_json(site.out / "charts" / "overall.json", data)
        write_csv(site.out / "charts" / "overall.csv", ["model", "history", "value", "ci_low", "ci_high", "n", "runs"],
                  [[r.model.label, r.history, c.value, *_ci(c), c.n, ";".join(x.run_id for x in c.runs)] for r, c in zip(ranked, cells)])
    site.render(
        "index.html.j2", "index.html", title="Leaderboard", rows=board.rows, columns=board.columns, histories=histories,
        families=board.families(), tasks=list(board.tasks.values()), task_pages=task_pages(board), overall_chart=bool(ranked),
    )
    _write_overview_data(site.out, board)
    site.render("tasks.html.j2", "tasks/index.html", title="Tasks", tasks=list(board.tasks.values()))


def _write_overview_data(out: Path, board: Leaderboard) -> None:
    columns = [{"key": c.key, "kind": c.kind, "label": c.label, "families": c.families, "tasks": c.tasks, "direction": c.direction}
               for c in board.columns]
    rows = []
    flat = []
    for row in board.rows:
        rows.append({
            "id": row.id, "model": row.model.label, "model_id": row.model.id, "model_args": dict(row.model.args),
            "history": row.history, "source": row.source, "page": f"models/{row.model.slug}/index.html",
            "cells": {key: cell.as_json() for key, cell in row.cells.items()},
        })
        for column in board.columns:
            cell = row.cells.get(column.key)
            if cell is not None:
                flat.append([row.model.label, row.history, row.source, column.kind, column.label, cell.metric, cell.value,
                             *_ci(cell), cell.n, cell.note or "", ";".join(r.run_id for r in cell.runs)])
    write_json(out / "overview.json", {"columns": columns, "rows": rows})
    write_csv(out / "overview.csv", ["model", "history", "source", "kind", "column", "metric", "value", "ci_low", "ci_high", "n", "note", "runs"], flat)


# --- tasks -------------------------------------------------------------------------------------
def write_task_pages(site: Site, board: Leaderboard) -> None:
    for name, meta in board.tasks.items():
        base = f"tasks/{meta.slug}"
        entries = _task_entries(board, name, meta)
        bars = _write_task_scores(site, base, name, meta, entries)
        curves = _write_task_curves(site, base, name, meta, entries)
        site.render("task.html.j2", f"{base}/index.html", title=name, task=meta, entries=entries, bars=bars, curves=curves)


def _task_entries(board: Leaderboard, name: str, meta: Any) -> list[dict[str, Any]]:
    """One entry per leaderboard row that ran the task, best primary score first."""
    entries: list[dict[str, Any]] = []
    for row in board.rows_for_task(name):
        run = row.runs[name]
        info = run.tasks.get(name) or {}
        cells = {m: task_cell(row, name, m) for m in meta.metrics}
        entries.append({
            "row": row, "run": run, "cells": cells, "version": str(info.get("version", "")),
            "sha256": str((info.get("data") or {}).get("sha256", "")),
        })
    entries.sort(key=lambda e: (_rank_key(e["cells"].get(meta.primary)), e["row"].id))
    return entries


def _write_task_scores(site: Site, base: str, name: str, meta: Any, entries: list[dict[str, Any]]) -> bool:
    """The task's bar chart (when a row has the primary metric), scores.json and scores.csv; True if a chart was drawn."""
    primary = [(e, e["cells"].get(meta.primary)) for e in entries]
    primary = [(e, c) for e, c in primary if c is not None]
    if primary:
        charts.bar_chart([_row_label(e["row"]) for e, _ in primary], [_bar(c) for _, c in primary], [c.ci for _, c in primary],
                         site.out / base / "scores.svg", title=f"{name}: {meta.primary} (95% interval)",
                         xlabel=meta.primary + (" (lower is better)" if primary[0][1].lower_is_better else ""))
    write_json(site.out / base / "scores.json", [
        {"model": e["row"].model.label, "model_id": e["row"].model.id, "history": e["row"].history, "version": e["version"],
         "sha256": e["sha256"], "metrics": {m: c.as_json() for m, c in e["cells"].items() if c is not None}}
        for e in entries
    ])
    write_csv(site.out / base / "scores.csv", ["model", "history", "metric", "value", "ci_low", "ci_high", "n", "version", "sha256", "run"], [
        [e["row"].model.label, e["row"].history, m, c.value, *_ci(c), c.n, e["version"], e["sha256"], c.runs[0].run_id]
        for e in entries for m, c in e["cells"].items() if c is not None
    ])
    return bool(primary)


def _write_task_curves(site: Site, base: str, name: str, meta: Any, entries: list[dict[str, Any]]) -> bool:
    """The primary metric by turn (chart and points) for rows that record it; True if any did."""
    series, points = [], []
    for e in entries:
        curve = e["run"].turn_curve(name, meta.primary)
        if curve:
            series.append(charts.Series(_row_label(e["row"]), [(t, v) for t, v, _ in curve], e["row"].history))
            points += [[e["row"].model.label, e["row"].history, meta.primary, t, v, n, e["run"].run_id] for t, v, n in curve]
    if series:
        charts.line_chart(series, site.out / base / "turns.svg", title=f"{name}: {meta.primary} by turn", ylabel=meta.primary)
        _write_points(site.out / base, "turns", points)
    return bool(series)


def _write_points(directory: Path, stem: str, points: list[list[Any]]) -> None:
    header = ["model", "history", "metric", "turn", "value", "n", "run"]
    write_csv(directory / f"{stem}.csv", header, points)
    write_json(directory / f"{stem}.json", [dict(zip(header, p)) for p in points])


# --- models ------------------------------------------------------------------------------------
def write_model_pages(site: Site, board: Leaderboard, prices: Prices) -> None:
    for key, model in board.models.items():
        rows = board.rows_for_model(key)
        used = sorted({run.sid: run for row in rows for run in row.runs.values()}.values(), key=lambda r: r.sid)
        base = f"models/{model.slug}"
        site.render(
            "model.html.j2", f"{base}/index.html", title=model.label, model=model, rows=rows, score_rows=_model_score_rows(board, rows),
            task_pages=task_pages(board), curve=_model_curve(site.out / base, board, rows), penalties=penalties(board, key),
            juries=_juries(used), usage=[_usage(run, prices) for run in used], cost_note=_cost_note(prices),
            problems=[_problems(board, run) for run in used],
            runs=[(run, run in used) for run in board.runs_for_model(key)],
        )


def _model_score_rows(board: Leaderboard, rows: list[Row]) -> list[tuple[Any, dict[str, Cell | None]]]:
    """(column, {history: cell}) for every leaderboard column the model has a score in."""
    score_rows = []
    for column in board.columns:
        cells = {row.history: row.cells.get(column.key) for row in rows}
        if any(c is not None for c in cells.values()):
            score_rows.append((column, cells))
    return score_rows


def _juries(runs: list[Run]) -> list[tuple[Run, list[Any]]]:
    """(run, jury reports per judged task and metric) for the runs that were judged."""
    juries = []
    for run in runs:
        reports = [jury_report(t, m, items) for t, metrics in sorted(run.samples.verdicts.items()) for m, items in sorted(metrics.items()) if items]
        if reports:
            juries.append((run, reports))
    return juries


def _model_curve(directory: Path, board: Leaderboard, rows: list[Row]) -> dict[str, Any]:
    series, cells_by_series, points = [], [], []
    for task, meta in board.tasks.items():
        for row in rows:
            run = row.runs.get(task)
            curve = run.turn_curve(task, meta.primary) if run is not None else []
            if run is None or not curve:
                continue
            label = f"{task} · {meta.primary} [{row.history}]"
            series.append(charts.Series(label, [(t, v) for t, v, _ in curve], row.history))
            cells_by_series.append({t: Cell(value=v, n=n, metric=f"{meta.primary} at turn {t}", runs=[run]) for t, v, n in curve})
            points += [[row.model.label, row.history, f"{task}:{meta.primary}", t, v, n, run.run_id] for t, v, n in curve]
    if not series:
        return {"series": [], "rows": []}
    charts.line_chart(series, directory / "turns.svg", title="Score by turn", ylabel="score")
    _write_points(directory, "turns", points)
    turns = sorted({t for cells in cells_by_series for t in cells})
    return {"series": [s.label for s in series], "rows": [(t, [cells.get(t) for cells in cells_by_series]) for t in turns]}


def load_prices(path: Path | None) -> Prices:
    """`{model id: {input_per_million: USD, output_per_million: USD}}` from JSON or YAML.
    Anything else is a `ConfigurationError` naming the file and the entry."""
    if path is None:
        return {}
    from mteval.data import DataError, read_utf8
    from mteval.errors import ConfigurationError

    try:
        text = read_utf8(path)
    except DataError as exc:
        raise ConfigurationError(f"--prices {exc}") from None
    try:
        if Path(path).suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"--prices {path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    except Exception as exc:  # yaml.YAMLError carries its own line
        from mteval.data import yaml_message

        raise ConfigurationError(f"--prices {yaml_message(path, exc)}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"--prices {path}: expected a mapping of model id to prices, got a {type(data).__name__}")
    prices: Prices = {}
    for model, entry in data.items():
        if not isinstance(entry, dict):
            raise ConfigurationError(f"--prices {path}: entry {model!r} must map input_per_million/output_per_million to numbers")
        try:
            prices[str(model)] = {str(f): float(x) for f, x in entry.items()}
        except (TypeError, ValueError):
            raise ConfigurationError(f"--prices {path}: entry {model!r}: prices must be numbers, got {entry!r}") from None
    return prices


def _price(prices: Prices, model: str, tokens_in: int, tokens_out: int) -> float | None:
    if not tokens_in and not tokens_out:
        return 0.0
    price = prices.get(model)
    if price is None:
        return None
    return (tokens_in * price.get("input_per_million", 0.0) + tokens_out * price.get("output_per_million", 0.0)) / 1e6


def _rank_key(cell: Cell | None) -> float:
    """Best first: high values of higher-is-better metrics, low values of lower-is-better ones."""
    if cell is None or cell.value is None:
        return float("inf")
    return cell.value if cell.lower_is_better else -cell.value


def _usage(run: Run, prices: Prices) -> dict[str, Any]:
    totals = run.manifest.get("totals") or {}
    scored = totals.get("scored_turn_tokens") or {}
    calls = totals.get("calls") or {}
    model_calls = calls.get("model") or {}
    judges = {str(k): v for k, v in (calls.get("judges") or {}).items() if isinstance(v, dict)}
    scored_in, scored_out = int(scored.get("input") or 0), int(scored.get("output") or 0)
    judge_in, judge_out = _judge_tokens(judges)
    cost = _usage_cost(run, prices, totals, (scored_in, scored_out), judges)
    return {
        "run": run, "scored_in": scored_in, "scored_out": scored_out,
        "requests": model_calls.get("requests"), "cache_hits": model_calls.get("cache_hits"), "retries": model_calls.get("retries"),
        "judge_in": judge_in, "judge_out": judge_out, "cost": cost,
    }




def _judge_tokens(judges: dict[str, Any]) -> tuple[int | None, int | None]:
    """Input and output tokens over all judges (None, None for an unjudged run)."""
    if not judges:
        return None, None
    return sum(int(j.get("input_tokens") or 0) for j in judges.values()), sum(int(j.get("output_tokens") or 0) for j in judges.values())

def _usage_cost(run: Run, prices: Prices, totals: dict[str, Any], scored: tuple[int, int], judges: dict[str, Any]) -> float | None:
    """The run's recorded cost, else priced from its token counts (None when a price is missing)."""
    from mteval.manifest import Totals

    recorded = Totals.model_validate(totals).cost_usd  # the runner's totals.calls.*.cost_usd
    if is_number(recorded):
        return float(recorded)
    parts = [_price(prices, run.model.id, *scored)]
    parts += [_price(prices, name, int(j.get("input_tokens") or 0), int(j.get("output_tokens") or 0)) for name, j in sorted(judges.items())]
    known = [p for p in parts if p is not None]
    return None if not prices or len(known) < len(parts) else sum(known)

def _cost_note(prices: Prices) -> str:
    common = ("Scored-turn tokens cover the whole run; request, cache and judge counts cover the run's last invocation "
              "(a resumed run counts only what it asked after resuming).")
    if prices:
        return common + " Cost is estimated from these tokens with the prices given to the build (--prices), unless the manifest records one."
    return common + (
        " No prices were given: build with --prices FILE (JSON or YAML, {model id: {input_per_million: USD, output_per_million: USD}}) to estimate cost."
    )


def _problems(board: Leaderboard, run: Run) -> dict[str, Any]:
    totals = run.manifest.get("totals") or {}
    scores = totals.get("scores") or {}
    flagged = [c for task in sorted(run.samples.conversations) for c in run.samples.conversations[task] if c.has_problem]
    return {
        "run": run,
        "errored_conversations": totals.get("errored_conversations", 0),
        "errored_turns": totals.get("errored_turns", 0),
        "unparsed": scores.get("unparsed", 0),
        "score_errors": scores.get("error", 0),
        "conversations": [
            {"href": transcript_href(board, run, c.task, c.slug), "label": f"{c.task}: {c.conversation_id}"} for c in flagged[:MAX_PROBLEM_LINKS]
        ],
        "more": max(0, len(flagged) - MAX_PROBLEM_LINKS),
    }


# --- runs --------------------------------------------------------------------------------------
def write_run_pages(site: Site, board: Leaderboard) -> None:
    site.render("runs.html.j2", "runs/index.html", title="Runs", runs=board.runs)
    for run in board.runs:
        tasks = [_run_task(board, run, name) for name in sorted(set(run.task_names()) | set(run.samples.conversations))]
        imported = sorted((str(k), v if isinstance(v, str) else json.dumps(v, sort_keys=True)) for k, v in (run.imported or {}).items())
        command = run.manifest.get("command")
        jury = run.manifest.get("jury")
        site.render(
            "run.html.j2", f"{run.index_href}", title=f"Run {run.run_id}", run=run, tasks=tasks, imported=imported,
            command=" ".join(str(c) for c in command) if isinstance(command, list) else (command or ""),
            jury=json.dumps(jury, indent=1, sort_keys=True) if jury else "",
        )


def _run_task(board: Leaderboard, run: Run, name: str) -> dict[str, Any]:
    """One task's section of a run page: its metrics and its conversations' links."""
    metric_names = list(((run.manifest.get("metrics") or {}).get(name) or {}))
    conversations = run.samples.conversations.get(name, [])
    slug = task_slug(board, name)
    return {
        "name": name, "slug": slug, "page": f"tasks/{slug}/index.html" if name in board.tasks else None,
        "metrics": [(m, run_metric_cell(run, name, m)) for m in metric_names],
        "metric_names": sorted({m for c in conversations for m in c.means}),
        "conversations": conversations,
    }
