"""Collect every run under results/ into the leaderboard's tables.

A row is a model (its id and public arguments) in one history mode. For each task the
row shows the best run of that model and mode: a complete run before an interrupted
one, then the most recently finished, then the run id. Every number carries the
semantics its manifest records (direction, scale), and no cell mixes kinds:

* task cells: the task's headline metric, straight from the manifest;
* family cells: the family's headline aggregate (`groups`, e.g. MT-Eval overall,
  RAD-Bench average) from the one run that holds the row's family tasks; a family
  without a registered aggregate shows the unweighted mean of its tasks' headlines
  only when they share direction and scale;
* category cells: the same mean over a category's tasks, under the same rule;
* overall: the mean, over every family on the board, of the family cell mapped to
  0 (worst) .. 1 (best) on its declared range (direction-adjusted). Shown only for rows
  with a bounded family cell in every family on the board, so rows that ran different
  task sets are never ranked side by side, and none from a run with errored or
  unfinished conversations (such cells carry `shortfall`, shown as their note).

Every cell keeps the runs it came from, for the provenance links.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mteval.leaderboard.model import (  # noqa: F401  (re-exported: the tables' types)
    HISTORY_ORDER,
    OVERALL_SEMANTICS,
    Cell,
    Column,
    Leaderboard,
    ModelRef,
    Row,
    Run,
    TaskMeta,
    model_ref,
)
from mteval.leaderboard.samples import read_run_samples
from mteval.leaderboard.util import is_number, unique_slugs
from mteval.manifest import UNKNOWN, Semantics
from mteval.results import MANIFEST, read_manifest
from mteval.stats import stratified_mean_ci


def find_run_dirs(results: Path, exclude: Iterable[Path] = ()) -> list[Path]:
    """Every folder under `results` holding a run.json (hidden folders and `exclude`d
    trees, such as the site being built, are skipped)."""
    results = results.resolve()
    skipped = [p.resolve() for p in exclude]
    found = []
    for manifest in sorted(results.rglob(MANIFEST)):
        relative = manifest.parent.relative_to(results)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if any(manifest.is_relative_to(s) for s in skipped):
            continue
        found.append(manifest.parent)
    return found


def collect(results: Path, exclude: Iterable[Path] = ()) -> Leaderboard:
    """Read every run under `results` and build the leaderboard tables."""
    results = Path(results)
    dirs = find_run_dirs(results, exclude)
    root = results.resolve()
    sids = unique_slugs((str(d), "__".join(d.relative_to(root).parts) or d.name) for d in dirs)
    from mteval.redact import Redactor

    scrub = Redactor()  # runs written by hand or by older versions may hold URL passwords
    loaded = [(d, scrub.deep(read_manifest(d))) for d in dirs]
    model_slugs = unique_slugs((model_ref(m.get("model") or {}).key, model_ref(m.get("model") or {}).label) for _, m in loaded)
    runs = []
    for run_dir, manifest in loaded:
        ref = model_ref(manifest.get("model") or {})
        ref = ModelRef(key=ref.key, id=ref.id, args=ref.args, slug=model_slugs[ref.key])
        runs.append(Run(sid=sids[str(run_dir)], source=run_dir, manifest=manifest, model=ref, samples=read_run_samples(run_dir)))
    runs.sort(key=lambda r: r.sid)
    models = {r.model.key: r.model for r in runs}
    tasks = _task_metas(runs)
    rows = _rows(runs)
    columns = _columns(tasks, rows)
    for row in rows:
        row.cells = _cells(row, columns, tasks, rows)
    return Leaderboard(runs=runs, tasks=tasks, models=dict(sorted(models.items(), key=lambda kv: kv[1].slug)), columns=columns, rows=rows)


def _task_metas(runs: list[Run]) -> dict[str, TaskMeta]:
    metas: dict[str, TaskMeta] = {}
    firsts: dict[str, Counter] = defaultdict(Counter)
    versions: dict[str, dict[tuple, dict[str, Any]]] = defaultdict(dict)
    for run in sorted(runs, key=lambda r: r.rank()):  # the newest run's description wins
        for name in run.task_names():
            info = run.tasks.get(name) or {}
            meta = metas.setdefault(name, TaskMeta(name=name, family=str(info.get("family") or name.split("/", 1)[0])))
            _describe(meta, run, info, firsts[name])
            _add_version(versions[name], run, info)
    slugs = unique_slugs((name, name) for name in metas)
    for name, meta in metas.items():
        counts = firsts[name]
        meta.primary = min(counts, key=lambda m: (-counts[m], m)) if counts else (meta.metrics[0] if meta.metrics else "")
        meta.versions = [dict(v, runs=sorted(v["runs"], key=lambda r: r.sid)) for _, v in sorted(versions[name].items())]
        meta.slug = slugs[name]
    return dict(sorted(metas.items()))


def _describe(meta: TaskMeta, run: Run, info: dict[str, Any], firsts: Counter) -> None:
    """Fold one run's description, category and metrics of the task into `meta`; count its headline metric."""
    meta.category = info.get("category") or meta.category
    meta.description = info.get("description") or meta.description
    metric_names = list((run.manifest.get("metrics") or {}).get(meta.name) or {})
    headline = run.headline(meta.name)
    if headline or metric_names:
        firsts[headline or metric_names[0]] += 1
    meta.metrics = sorted(set(meta.metrics) | set(metric_names))


def _add_version(versions: dict[tuple, dict[str, Any]], run: Run, info: dict[str, Any]) -> None:
    """File `run` under the task version and data (version, sha256, data version) it ran."""
    data = info.get("data") or {}
    key = (str(info.get("version", "")), str(data.get("sha256", "")), str(data.get("version") or ""))
    entry = versions.setdefault(key, {
        "version": key[0], "sha256": key[1], "data_version": key[2] or None,
        "source": data.get("source"), "files": list(data.get("files") or []), "runs": [],
    })
    entry["runs"].append(run)


def _rows(runs: list[Run]) -> list[Row]:
    grouped: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in runs:
        grouped[(run.model.key, run.history)].append(run)
    rows = []
    for (_, history), members in grouped.items():
        chosen: dict[str, Run] = {}
        for run in sorted(members, key=lambda r: r.rank()):
            for task in run.task_names():
                chosen[task] = run  # later (better-ranked) runs replace earlier ones
        rows.append(Row(model=members[0].model, history=history, runs=dict(sorted(chosen.items()))))
    rows.sort(key=lambda r: (r.model.slug, HISTORY_ORDER.get(r.history, 9), r.history))
    return rows


def _columns(tasks: dict[str, TaskMeta], rows: list[Row]) -> list[Column]:
    present = sorted({t for row in rows for t in row.runs if t in tasks})
    columns = [Column("overall", "overall", "Overall", sorted({tasks[t].family for t in present}), present)]
    columns += _group_columns(tasks, present)
    for task in present:
        columns.append(Column(f"task:{task}", "task", task, [tasks[task].family], [task]))
    for column in columns:
        _set_direction(column, tasks, rows)
    return columns


def _group_columns(tasks: dict[str, TaskMeta], present: list[str]) -> list[Column]:
    """One column per family, then one per category, of the tasks present."""
    columns = []
    for family in sorted({tasks[t].family for t in present}):
        members = [t for t in present if tasks[t].family == family]
        columns.append(Column(f"family:{family}", "family", family, [family], members))
    for category in sorted({c for c in (tasks[t].category for t in present) if c}):
        members = [t for t in present if tasks[t].category == category]
        columns.append(Column(f"category:{category}", "category", category, sorted({tasks[t].family for t in members}), members))
    return columns


def _set_direction(column: Column, tasks: dict[str, TaskMeta], rows: list[Row]) -> None:
    """A column's direction is its cells' (they never mix); lower-is-better columns are marked ↓."""
    directions = {c.semantics.direction for row in rows if (c := _cell_for(row, column, tasks, rows)) is not None}
    column.direction = directions.pop() if len(directions) == 1 else "higher"
    if column.direction == "lower":
        column.label += " ↓"


def _cell_for(row: Row, column: Column, tasks: dict[str, TaskMeta], rows: list[Row]) -> Cell | None:
    if column.kind == "task":
        return task_cell(row, column.tasks[0], tasks[column.tasks[0]].primary)
    if column.kind == "family":
        return family_cell(row, column, tasks, rows)
    if column.kind == "category":
        return aggregate_cell(row, column.tasks, tasks)
    return None


def task_cell(row: Row, task: str, metric: str) -> Cell | None:
    """The row's score on one task (None if it has none)."""
    run = row.runs.get(task)
    return run_metric_cell(run, task, metric) if run else None


def run_metric_cell(run: Run, task: str, metric: str) -> Cell | None:
    """One metric of one task straight from a run's manifest."""
    found = run.metric(task, metric)
    if found is None or not is_number(found.get("value")):
        return None
    return _record_cell(found, metric, run, [task])


def _record_cell(found: dict[str, Any], metric: str, run: Run, tasks: list[str], note: str | None = None) -> Cell:
    ci = found.get("ci")
    ci = (float(ci[0]), float(ci[1])) if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(is_number(c) for c in ci) else None
    semantics = Semantics.model_validate(found["semantics"]) if isinstance(found.get("semantics"), dict) else UNKNOWN
    shortfall = _joined(f"{t}: {s}" if len(tasks) > 1 else s for t in tasks if (s := run.shortfall(t)))
    return Cell(
        value=float(found["value"]), ci=ci, n=int(found.get("n") or 0), metric=metric, runs=[run],
        note=_joined([note, shortfall]), semantics=semantics, shortfall=shortfall,
    )


def _joined(parts: Iterable[str | None]) -> str | None:
    return "; ".join(p for p in parts if p) or None


def _cells(row: Row, columns: list[Column], tasks: dict[str, TaskMeta], rows: list[Row] | None = None) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    for column in columns:
        cell = _cell_for(row, column, tasks, rows or [row])
        if cell is not None:
            cells[column.key] = cell
    overall = overall_cell(row, [c for c in columns if c.kind == "family"], cells)
    if overall is not None:
        cells["overall"] = overall
    return cells


def family_cell(row: Row, column: Column, tasks: dict[str, TaskMeta], rows: list[Row] | None = None) -> Cell | None:
    """The family's headline aggregate when one run holds all of the row's family tasks.
    A family whose runs report no aggregate falls back to the mean of its tasks'
    headlines (same kind only); a family that has one never shows anything else."""
    mine = [t for t in column.tasks if t in row.runs]
    runs = {row.runs[t].sid: row.runs[t] for t in mine}
    family = column.families[0]
    if len(runs) == 1:
        run = next(iter(runs.values()))
        headline = _family_headline(run, family)
        if headline is not None:
            return _record_cell(headline[1], headline[0], run, mine, note=_partial(mine, column.tasks))
    if any(_groups(r).get(family) for other in (rows or [row]) for r in other.runs.values()):
        return None  # the family's own headline is not available for this row: no stand-in
    return aggregate_cell(row, column.tasks, tasks)


def _groups(run: Run) -> dict[str, Any]:
    return run.manifest.get("groups") or {}


def _family_headline(run: Run, family: str) -> tuple[str, dict[str, Any]] | None:
    """(metric name, record) of the family aggregate the run marks as its headline."""
    for name, metric in (_groups(run).get(family) or {}).items():
        semantics = metric.get("semantics") if isinstance(metric, dict) else None
        if isinstance(semantics, dict) and semantics.get("headline") and is_number(metric.get("value")):
            return name, metric
    return None


def _partial(have: list[str], want: list[str]) -> str | None:
    return None if len(have) >= len(want) else f"{len(have)} of {len(want)} tasks"


def aggregate_cell(row: Row, members: list[str], tasks: dict[str, TaskMeta]) -> Cell | None:
    """Unweighted mean over the row's tasks among `members`, each its headline metric,
    with a stratified cluster-bootstrap interval (`mteval.stats`). None when the
    headlines differ in direction or scale: such numbers are never averaged."""
    found = [(t, task_cell(row, t, tasks[t].primary)) for t in members]
    parts = [(t, c) for t, c in found if c is not None]
    if not parts:
        return None
    if len(parts) == 1 and len(members) == 1:
        return parts[0][1]
    names, cells = [t for t, _ in parts], [c for _, c in parts]
    semantics = _common_semantics(cells)
    if semantics is None:
        return None
    shortfall = _joined(f"{t}: {c.shortfall}" for t, c in parts if c.shortfall)
    return Cell(
        value=sum(c.value for c in cells) / len(cells),  # type: ignore[misc]  # task cells always hold a value
        ci=_pooled_ci(row, names, tasks), n=sum(c.n for c in cells), metric="mean of " + ", ".join(sorted({tasks[t].primary for t in names})),
        runs=_runs_of(cells), note=_joined([_partial(names, members), shortfall]), semantics=semantics.model_copy(update={"headline": False}),
        shortfall=shortfall,
    )


def _pooled_ci(row: Row, names: list[str], tasks: dict[str, TaskMeta]) -> tuple[float, float] | None:
    """Stratified cluster bootstrap over each task's per-conversation scores (one stratum per
    task); None when a task's samples are not available."""
    groups = [row.runs[t].samples.groups(t, tasks[t].primary) for t in names]
    return stratified_mean_ci([_strata(g) for g in groups]) if all(groups) else None


def _common_semantics(cells: list[Cell]) -> Semantics | None:
    """The cells' shared semantics when they may be averaged: the same kind (direction and
    scale), and a direction; None otherwise."""
    first = cells[0].semantics
    if any(not c.semantics.same_kind(first) for c in cells) or first.direction == "neither":
        return None
    return first


def _runs_of(cells: list[Cell]) -> list[Run]:
    """Every run behind `cells`, once each, by id."""
    return sorted({r.sid: r for c in cells for r in c.runs}.values(), key=lambda r: r.sid)


def _strata(group: list[tuple[str, float]]) -> tuple[list[float], list[str]]:
    return [v for _, v in group], [c for c, _ in group]


def overall_cell(row: Row, family_columns: list[Column], cells: dict[str, Cell]) -> Cell | None:
    """Direction-adjusted, range-normalised mean of the row's family cells over every
    family on the board (0 worst .. 1 best); None unless each is present and bounded, and
    none comes from runs with errored or unfinished conversations (their means cover
    only what finished cleanly, so ranking them would reward failing on hard items)."""
    parts = [cells.get(column.key) for column in family_columns]
    normalised = [_normalised(cell) for cell in parts]
    if not family_columns or any(x is None for x in normalised) or any(c is not None and c.shortfall for c in parts):
        return None
    present = [c for c in parts if c is not None]
    label = ", ".join(c.label for c in family_columns)
    return Cell(
        value=sum(x for x in normalised if x is not None) / len(normalised), ci=_overall_ci(present), n=sum(c.n for c in present),
        runs=_runs_of(present), metric=f"mean of family headlines ({label}) on 0-1, 1 = best end of each range", semantics=OVERALL_SEMANTICS,
    )


def _normalised(cell: Cell | None) -> float | None:
    """The cell's value on 0 (worst) .. 1 (best); None when missing or unbounded."""
    return None if cell is None or cell.value is None else cell.semantics.normalised(cell.value)


def _overall_ci(parts: list[Cell]) -> tuple[float, float] | None:
    """With one family, its interval mapped linearly onto 0..1; no interval otherwise."""
    if len(parts) != 1 or parts[0].ci is None:
        return None
    low, high = (parts[0].semantics.normalised(x) for x in parts[0].ci)
    if low is None or high is None:
        return None
    return float(min(low, high)), float(max(low, high))


# --- model pages -----------------------------------------------------------------------------
@dataclass
class Penalty:
    """The multi-turn penalty of one task (or the mean over all shared tasks), by
    `mteval.penalty`'s definition: single-turn minus own-history score on paired turns."""

    task: str
    own: Cell
    single: Cell
    difference: Cell
    relative: float | None = None


def penalties(board: Leaderboard, model_key: str) -> list[Penalty]:
    """Own-history vs single-turn scores on the same turns, per task both rows have, plus their mean."""
    from mteval import penalty as mp
    from mteval.results import load

    rows = {r.history: r for r in board.rows_for_model(model_key)}
    own, single = rows.get("own"), rows.get("single")
    if own is None or single is None:
        return []
    frames: dict[Path, Any] = {}

    def frame(run: Run):
        if run.source not in frames:
            frames[run.source] = load(run.source)
        return frames[run.source]

    def penalty_row(name: str, result: mp.Penalty, runs: list[Run]) -> Penalty:
        cell = lambda value, ci=None: Cell(value=value, ci=ci, n=result.n_pairs, metric=result.metric, runs=runs)  # noqa: E731
        return Penalty(task=name, own=cell(result.own), single=cell(result.single), difference=cell(result.penalty, result.ci), relative=result.relative)

    shared = [t for t in sorted(set(own.runs) & set(single.runs)) if t in board.tasks]
    result, paired, runs = [], {}, {}
    for task in shared:
        metric = board.tasks[task].primary
        found = mp.pairs(frame(own.runs[task]), frame(single.runs[task]), task, metric)
        if not found:
            continue
        paired[task], runs[task] = found, [own.runs[task], single.runs[task]]
        result.append(penalty_row(task, mp.penalty_of(task, metric, found), runs[task]))
    if len(paired) > 1:
        all_runs = sorted({r.sid: r for rs in runs.values() for r in rs}.values(), key=lambda r: r.sid)
        result.append(penalty_row("all shared tasks", mp.mean_penalty("all shared tasks", paired), all_runs))
    return result
