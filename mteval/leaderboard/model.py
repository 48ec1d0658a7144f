"""The leaderboard's tables as types: a run, a task's description, a cell, a column, a row, the board."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mteval.leaderboard.samples import RunSamples
from mteval.leaderboard.util import is_number
from mteval.manifest import UNKNOWN, Scale, Semantics
from mteval.results import MANIFEST

OVERALL_SEMANTICS = Semantics(direction="higher", scale=Scale(low=0.0, high=1.0, unit="normalised"))

HISTORY_ORDER = {"own": 0, "gold": 1, "single": 2}


@dataclass(frozen=True)
class ModelRef:
    """A model as the leaderboard distinguishes it: id plus public adapter arguments."""

    key: str
    id: str
    args: tuple[tuple[str, str], ...]
    slug: str = ""

    @property
    def label(self) -> str:
        if not self.args:
            return self.id
        shown = ", ".join(f"{k}={_shorten(v)}" for k, v in self.args)
        return f"{self.id} ({shown})"


def _shorten(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def model_ref(model: dict[str, Any]) -> ModelRef:
    args = model.get("args") or {}
    items = tuple(sorted((str(k), v if isinstance(v, str) else json.dumps(v, sort_keys=True)) for k, v in args.items()))
    model_id = str(model.get("id") or "unknown")
    return ModelRef(key=json.dumps([model_id, items]), id=model_id, args=items)


@dataclass
class Run:
    """One run directory, its manifest and what its samples add."""

    sid: str
    source: Path
    manifest: dict[str, Any]
    model: ModelRef
    samples: RunSamples

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or self.source.name)

    @property
    def history(self) -> str:
        return str(self.manifest.get("history") or "own")

    @property
    def status(self) -> str:
        return str(self.manifest.get("status") or "unknown")

    @property
    def imported(self) -> dict[str, Any] | None:
        value = self.manifest.get("imported")
        return value if isinstance(value, dict) else ({"source": str(value)} if value else None)

    @property
    def href(self) -> str:
        """The copied manifest, relative to the site root."""
        return f"runs/{self.sid}/{MANIFEST}"

    @property
    def index_href(self) -> str:
        return f"runs/{self.sid}/index.html"

    @property
    def tasks(self) -> dict[str, Any]:
        return self.manifest.get("tasks") or {}

    def metric(self, task: str, name: str) -> dict[str, Any] | None:
        found = ((self.manifest.get("metrics") or {}).get(task) or {}).get(name)
        return found if isinstance(found, dict) else None

    def headline(self, task: str) -> str | None:
        return (self.tasks.get(task) or {}).get("headline")

    def task_names(self) -> list[str]:
        return sorted(set(self.tasks) | set(self.manifest.get("metrics") or {}))

    @property
    def whole(self) -> bool:
        """Whether the run covers its tasks' whole data (no --limit, no --ids)."""
        return self.manifest.get("limit") is None and self.manifest.get("ids") is None

    @property
    def errored(self) -> int:
        return int((self.manifest.get("totals") or {}).get("errored_conversations") or 0)

    def shortfall(self, task: str) -> str | None:
        """What the run could not do on `task`, for the cells built from it: unfinished
        (status not complete) or errored conversations. Their means cover only the
        conversations that finished cleanly, so the cell says so and is never ranked overall."""
        finished = self.samples.conversations.get(task, [])
        planned = int((self.tasks.get(task) or {}).get("conversations") or 0) or len(finished)
        problems = []
        if self.status != "complete":
            problems.append(f"run {self.status}: {len(finished)} of {planned} conversations finished")
        errored = sum(c.status != "ok" for c in finished)
        if errored:
            problems.append(f"{errored} of {planned} conversations errored")
        return "; ".join(problems) or None

    def rank(self) -> tuple:
        """Higher is preferred for a row: complete, then whole data (a later `--limit 5` smoke
        run must not replace a model's full result), then without errored conversations (a
        later run whose calls failed must not either), then newest."""
        finished = str(self.manifest.get("finished_at") or self.manifest.get("started_at") or "")
        return (self.status == "complete", self.whole, self.errored == 0, finished, self.run_id, self.sid)

    def turn_curve(self, task: str, metric: str) -> list[tuple[int, float, int]]:
        """(1-based turn, mean, n): the manifest's `by_turn`, else from the samples."""
        recorded = ((self.manifest.get("by_turn") or {}).get(task) or {}).get(metric)
        if isinstance(recorded, dict) and recorded:
            points = [(int(t), p.get("value"), int(p.get("n") or 0)) for t, p in recorded.items() if isinstance(p, dict)]
            return sorted((t, float(v), n) for t, v, n in points if is_number(v))
        by_turn: dict[int, list[float]] = defaultdict(list)
        for _, position, value in self.samples.scores.get(task, {}).get(metric, []):
            by_turn[position + 1].append(value)
        return [(t, sum(vs) / len(vs), len(vs)) for t, vs in sorted(by_turn.items())]


@dataclass
class TaskMeta:
    """A task as the runs describe it (several versions if the runs disagree)."""

    name: str
    family: str
    category: str | None = None
    description: str = ""
    primary: str = ""
    """The headline metric the runs declare (else the first metric they report)."""
    metrics: list[str] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    """One entry per distinct (version, sha256): with the runs that used it."""
    slug: str = ""


@dataclass
class Cell:
    """One number of a table and the runs it came from."""

    value: float | None
    ci: tuple[float, float] | None = None
    n: int = 0
    metric: str = ""
    runs: list[Run] = field(default_factory=list)
    note: str | None = None
    semantics: Semantics = UNKNOWN
    shortfall: str | None = None
    """Work the runs behind the cell could not do (`Run.shortfall`); also in `note`."""

    @property
    def lower_is_better(self) -> bool:
        return self.semantics.direction == "lower"

    @property
    def href(self) -> str:
        return self.runs[0].href if self.runs else ""

    @property
    def imported(self) -> bool:
        return any(r.imported for r in self.runs)

    def as_json(self) -> dict[str, Any]:
        return {
            "value": self.value, "ci": list(self.ci) if self.ci else None, "n": self.n, "metric": self.metric,
            "note": self.note, "shortfall": self.shortfall, "runs": [r.run_id for r in self.runs], "manifests": [r.href for r in self.runs],
            "direction": self.semantics.direction, "scale": self.semantics.scale.describe(),
        }


@dataclass
class Column:
    """An overview column: overall, a family, a category or a task."""

    key: str
    kind: str
    label: str
    families: list[str]
    tasks: list[str]
    direction: str = "higher"
    """Which way is better in this column (the sort order follows; "lower" is labelled)."""


@dataclass
class Row:
    """One model in one history mode."""

    model: ModelRef
    history: str
    runs: dict[str, Run]
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.model.slug}--{self.history}"

    @property
    def source(self) -> str:
        flags = {bool(r.imported) for r in self.runs.values()}
        return "mixed" if len(flags) > 1 else ("imported" if True in flags else "native")

    def families(self) -> list[str]:
        return sorted({t.split("/", 1)[0] for t in self.runs})


@dataclass
class Leaderboard:
    runs: list[Run]
    tasks: dict[str, TaskMeta]
    models: dict[str, ModelRef]
    columns: list[Column]
    rows: list[Row]

    def families(self) -> list[str]:
        return sorted({t.family for t in self.tasks.values()})

    def rows_for_model(self, key: str) -> list[Row]:
        return [r for r in self.rows if r.model.key == key]

    def runs_for_model(self, key: str) -> list[Run]:
        return [r for r in self.runs if r.model.key == key]

    def rows_for_task(self, task: str) -> list[Row]:
        return [r for r in self.rows if task in r.runs]


# --- collection ----------------------------------------------------------------------------
