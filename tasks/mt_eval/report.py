"""MT-Eval analyses over finished run directories (a Python API, no CLI):

- `category_scores(run_dir)`: per-task and per-category scores with 95% intervals and the overall score.
- `multi_turn_penalty(multi_run_dir, single_run_dir)`: `mteval.penalty`'s penalty (single-turn minus
  multi-turn score on turns paired through `source_conversation`/`source_turn_index`) per category and task.
- `cls_ablation_by_distance(run_dir)`: cls-ablation accuracy against the number of turns between the
  classification instruction and the scored turn.
- `irrelevant_context_by_distractors(run_dir)`: refinement score against the number of irrelevant turns.
- `plot_by_distance(data, path)`: score-against-distance figure (SVG or PNG, matplotlib's Agg canvas,
  no pyplot state touched).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from mteval.results import iter_sample_dicts, load, read_manifest
from mteval.stats import Metric, metric_from_rows

from .aggregate import CATEGORIES, FAMILY, mt_eval_aggregate

COMPARABLE = ("Recollection", "Expansion", "Refinement")
"""Categories upstream compares single- with multi-turn (Follow-up has no upstream single-turn build)."""


def _metric_columns(metric: Metric) -> dict[str, Any]:
    low, high = metric.ci if metric.ci else (None, None)
    return {"value": metric.value, "ci_low": low, "ci_high": high, "n": metric.n, "n_conversations": metric.n_conversations}


def _tasks(names: Iterable[str]) -> list[Any]:
    """Task objects (default options) for the MT-Eval task names of a run."""
    from mteval.registry import all_tasks

    registered = all_tasks()
    return [registered[name].cls() for name in names if name in registered and name.startswith(FAMILY + "/")]


def _score_column(task_name: str) -> str:
    task = _tasks([task_name])[0]
    return f"score_{task.scorers()[0].name}"


def _values(frame: pd.DataFrame, column: str) -> list[float | None]:
    if column not in frame:
        return [None] * len(frame)
    return [None if v is None or v != v else float(v) for v in frame[column].tolist()]


def _metadata(run_dir: str | Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(task, conversation id) -> the conversation's metadata and turn ids, from samples.jsonl.
    Single-turn items are also reachable by their source conversation id (results rows of
    single-turn runs may carry either id, depending on the mteval version)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for sample in iter_sample_dicts(run_dir):
        conversation = sample["conversation"]
        metadata = conversation.get("metadata", {})
        info = {**metadata, "_turn_ids": [t["id"] for t in conversation.get("turns", [])]}
        out[(sample["task"], str(conversation["id"]))] = info
        if "source_conversation" in metadata:
            out.setdefault((sample["task"], str(metadata["source_conversation"])), {**info, "_turn_ids": []})
    return out


# --- scores -----------------------------------------------------------------------------------
def category_scores(run_dir: str | Path) -> pd.DataFrame:
    """One row per MT-Eval task, per category and `overall` (level, name, value, ci_low,
    ci_high, n, n_conversations), recomputed from the run's samples."""
    frame = load(run_dir)
    manifest = read_manifest(run_dir)
    names = [n for n in manifest.get("tasks", {}) if n.startswith(FAMILY + "/")]
    tasks = _tasks(names)
    rows = []
    for task in tasks:
        task_rows = frame[frame["task"] == task.name] if not frame.empty else frame
        metric = metric_from_rows(_values(task_rows, _score_column(task.name)), task_rows["conversation_id"].tolist())
        rows.append({"level": "task", "name": task.name, "category": task.category, **_metric_columns(metric)})
    for name, metric in mt_eval_aggregate(frame, tasks).items():
        rows.append({"level": "overall" if name == "overall" else "category", "name": name, "category": name, **_metric_columns(metric)})
    return pd.DataFrame(rows)


# --- multi-turn penalty -------------------------------------------------------------------------
def multi_turn_penalty(multi_run_dir: str | Path, single_run_dir: str | Path, *, allow_different_models: bool = False) -> pd.DataFrame:
    """How much worse the model does in dialogue than with the same content in one message,
    by `mteval.penalty`'s definition: single-turn minus multi-turn score on paired turns
    (positive: worse in multi-turn), with a paired 95% interval over source dialogues.

    Rows: each category (its main tasks' paired turns pooled), `overall` (mean over the
    three categories upstream compares, only when all three are in both runs) and each
    task. Columns: `multi`, `single` (means over the paired turns), `penalty`, `ci_low`,
    `ci_high`, `n_pairs`, `n_conversations`, `comparable` (False for Follow-up: mteval's
    own single-turn rendering, not score-compatible). `frame.attrs["notes"]` says what
    could not be computed.
    """
    from mteval.penalty import check_runs, mean_penalty, pairs, penalty_of

    multi_manifest, single_manifest = read_manifest(multi_run_dir), read_manifest(single_run_dir)
    check_runs(multi_manifest, single_manifest, str(multi_run_dir), str(single_run_dir), allow_different_models=allow_different_models)
    names = _shared_task_names(multi_manifest, single_manifest)
    multi, single = load(multi_run_dir), load(single_run_dir)
    tasks = _tasks(names)
    paired = {task.name: pairs(multi, single, task.name, _score_column(task.name)[len("score_"):]) for task in tasks}
    notes = [f"{name}: no turn scored in both runs" for name, found in paired.items() if not found]
    by_category = _pairs_by_category(tasks, paired)
    rows = [_penalty_row("category", c, c, penalty_of(c, "", found)) for c, found in by_category.items()]
    comparable = {c: by_category[c] for c in COMPARABLE if by_category.get(c)}
    if len(comparable) == len(COMPARABLE):
        rows.append(_penalty_row("overall", "overall", "+".join(comparable), mean_penalty("overall", comparable)))
    else:
        notes.append(f"no overall row: it needs {', '.join(COMPARABLE)} in both runs (have {', '.join(comparable) or 'none'})")
    for task in tasks:
        rows.append(_penalty_row("task", task.name, task.category, penalty_of(task.name, task.scorers()[0].name, paired[task.name])))
    frame = pd.DataFrame(rows)
    frame.attrs["notes"] = notes
    return frame


def _shared_task_names(multi_manifest: dict[str, Any], single_manifest: dict[str, Any]) -> list[str]:
    """MT-Eval tasks both runs have; a clear error when there is none."""
    names = [n for n in multi_manifest.get("tasks", {}) if n in single_manifest.get("tasks", {}) and n.startswith(FAMILY + "/")]
    if not names:
        raise ValueError(
            f"no MT-Eval task is in both runs ({', '.join(multi_manifest.get('tasks', {})) or 'none'}); "
            "for other tasks use `mteval penalty RUN_OWN RUN_SINGLE`"
        )
    return names


def _pairs_by_category(tasks: list[Any], paired: dict[str, list]) -> dict[str, list]:
    """Each category's main tasks' paired turns pooled, in CATEGORIES order (categories without a main task left out)."""
    by_category: dict[str, list] = {}
    for category in CATEGORIES:
        members = [t for t in tasks if t.category == category and t.main]
        if members:
            by_category[category] = [p for t in members for p in paired[t.name]]
    return by_category


def _penalty_row(level: str, name: str, category: str, result: Any) -> dict[str, Any]:
    low, high = result.ci if result.ci else (None, None)
    return {
        "level": level, "name": name, "category": category, "multi": result.own, "single": result.single,
        "penalty": result.penalty, "ci_low": low, "ci_high": high, "n_pairs": result.n_pairs,
        "n_conversations": result.n_conversations, "comparable": all(c in COMPARABLE for c in category.split("+")),
    }


# --- ablations ----------------------------------------------------------------------------------
def cls_ablation_by_distance(run_dir: str | Path) -> pd.DataFrame:
    """Accuracy of the cls ablations against distance = the number of turns between the
    classification instruction and the scored turn (the labelled context documents: 4 or 9,
    the two halves of the data). One row per (task, distance): variant, distance, value,
    ci_low, ci_high, n, and `echo_baseline`: what echoing the prompt scores on the same
    turns (`echo_baseline`), the floor a reader should compare against."""
    frame = load(run_dir)
    if frame.empty:
        return pd.DataFrame(columns=["task", "variant", "distance", "value", "ci_low", "ci_high", "n", "n_conversations", "echo_baseline"])
    frame = frame[frame["task"].str.startswith(f"{FAMILY}/cls_ablation_")]
    meta = _metadata(run_dir)
    rows = []
    for task, task_rows in frame.groupby("task", sort=True):
        column = _score_column(str(task))
        distances = []
        for conv, turn in zip(task_rows["conversation_id"], task_rows["turn_index"]):
            ids = meta.get((str(task), str(conv)), {}).get("_turn_ids", [])
            start = ids.index("instruction") if "instruction" in ids and len(ids) > 1 else 0
            distances.append(int(turn) - start - 1)
        task_rows = task_rows.assign(distance=distances)
        options = (read_manifest(run_dir).get("tasks", {}).get(str(task)) or {}).get("options") or {}
        floor = echo_baseline(str(task), **options).set_index("distance")["value"].to_dict()
        for distance, group in task_rows.groupby("distance", sort=True):
            metric = metric_from_rows(_values(group, column), group["conversation_id"].tolist())
            rows.append(
                {"task": task, "variant": str(task).rsplit("_", 1)[-1], "distance": int(distance), **_metric_columns(metric),
                 "echo_baseline": floor.get(int(distance))}
            )
    return pd.DataFrame(rows)


def echo_baseline(task_name: str, **options: Any) -> pd.DataFrame:
    """The no-skill baseline of a cls task's substring rule: the score of a model that echoes
    each scored turn's prompt (what `scripted/echo` does), computed from the task's data. The
    documents often contain their label's word (or a word containing it: `art` in `start`),
    so echoing scores well above 0. One row per distance: distance, value, ci_low, ci_high, n."""
    from mteval.registry import all_tasks

    from .checkers import FAIL, PASS, cls_match

    task = all_tasks()[task_name].cls(**options) if options else _tasks([task_name])[0]
    values, clusters, distances = [], [], []
    for conversation in task.load():
        ids = [t.id for t in conversation.turns]
        start = ids.index("instruction") if "instruction" in ids and len(ids) > 1 else 0
        for index, turn in enumerate(conversation.turns):
            if turn.scored and "label" in turn.references:
                values.append(PASS if cls_match(turn.user, turn.references["label"], task.cls_mode) else FAIL)
                clusters.append(conversation.id)
                distances.append(index - start - 1)
    frame = pd.DataFrame({"value": values, "conversation": clusters, "distance": distances})
    rows = []
    for distance, group in frame.groupby("distance", sort=True):
        metric = metric_from_rows(group["value"].tolist(), group["conversation"].tolist())
        rows.append({"distance": int(distance), **_metric_columns(metric)})
    return pd.DataFrame(rows, columns=["distance", "value", "ci_low", "ci_high", "n", "n_conversations"])


def irrelevant_context_by_distractors(run_dir: str | Path) -> pd.DataFrame:
    """Refinement score of `refinement_irrelevant_front` against the number of irrelevant
    turns before the task (1, 3 or 6): n_distracts, value, ci_low, ci_high, n."""
    frame = load(run_dir)
    task = f"{FAMILY}/refinement_irrelevant_front"
    if frame.empty or task not in set(frame["task"]):
        return pd.DataFrame(columns=["n_distracts", "value", "ci_low", "ci_high", "n", "n_conversations"])
    meta = _metadata(run_dir)
    rows_ = frame[frame["task"] == task]
    counts = []
    for conv in rows_["conversation_id"]:
        counts.append(meta.get((task, str(conv)), {}).get("n_distracts"))
    rows_ = rows_.assign(n_distracts=counts)
    out = []
    for n, group in rows_.groupby("n_distracts", sort=True):
        metric = metric_from_rows(_values(group, _score_column(task)), group["conversation_id"].tolist())
        out.append({"n_distracts": int(n), **_metric_columns(metric)})
    return pd.DataFrame(out)


def plot_by_distance(
    data: pd.DataFrame | str | Path,
    path: str | Path,
    *,
    x: str = "distance",
    series: str = "variant",
    title: str | None = None,
) -> Path:
    """Write a score-against-distance figure (format from the suffix: .svg or .png) and
    return its path. `data` is a frame from `cls_ablation_by_distance` (or any frame with
    columns `x`, `value`, `ci_low`, `ci_high` and optionally `series` and `echo_baseline`)
    or a run directory.

    The data has few distinct `x` values (the cls ablations: 4 and 9 only), so each is a
    category, not a line: one point with its 95% interval per series, side by side so equal
    values stay visible, and a dashed mark at the echo baseline (the rule's no-skill score)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frame = cls_ablation_by_distance(data) if isinstance(data, (str, Path)) else data
    path = Path(path)
    if path.suffix.lower() not in (".svg", ".png"):
        raise ValueError(f"{path}: the figure is written as .svg or .png")
    figure = Figure(figsize=(5.5, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = {v: i for i, v in enumerate(sorted(frame[x].unique()))}
    groups = list(frame.groupby(series, sort=True)) if series in frame else [("score", frame)]
    width = 0.8 / max(len(groups), 1)
    baseline_drawn = False
    for k, (label, group) in enumerate(groups):
        offset = (k - (len(groups) - 1) / 2) * width
        xs = np.array([positions[v] for v in group[x]], dtype=float) + offset
        colour = _draw_points(axes, xs, group, str(label))
        baseline_drawn = _draw_baseline(axes, xs, group, width, colour, labelled=baseline_drawn) or baseline_drawn
    axes.set_xticks(list(positions.values()), [f"{v}" for v in positions])
    axes.set_xlabel("turns between the instruction and the scored turn" if x == "distance" else x)
    axes.set_ylabel("score (0-10)")
    axes.set_ylim(0, 10.5)
    axes.set_title(title or "MT-Eval classification ablation: score against distance")
    if series in frame or baseline_drawn:
        axes.legend(title=series if series in frame else None, fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def _draw_points(axes: Any, xs: np.ndarray, group: pd.DataFrame, label: str) -> Any:
    """One series: a point per x with its 95% interval; returns the series' colour."""
    values = group["value"].astype(float).to_numpy()
    low = values - group["ci_low"].astype(float).to_numpy()
    high = group["ci_high"].astype(float).to_numpy() - values
    return axes.errorbar(xs, values, yerr=[low, high], fmt="o", capsize=3, label=label)[0].get_color()


def _draw_baseline(axes: Any, xs: np.ndarray, group: pd.DataFrame, width: float, colour: Any, *, labelled: bool) -> bool:
    """A dashed mark at each point's echo baseline, in the series' colour; the legend entry
    only once over all series (`labelled`: already given). True when something was drawn."""
    if "echo_baseline" not in group or not group["echo_baseline"].notna().any():
        return False
    for xpos, floor in zip(xs, group["echo_baseline"].astype(float)):
        axes.hlines(floor, xpos - width * 0.45, xpos + width * 0.45, colors=colour, linestyles="dashed",
                    label=None if labelled else "echo baseline (no skill)")
        labelled = True
    return True
