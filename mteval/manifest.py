"""The typed run manifest (`run.json`) and the meaning of every number in it.

Every writer (runner, importers, re-judging) builds a `RunManifest` and every reader
(`show`, `compare`, the leaderboard, `mteval.results`) loads one through `load_manifest`,
so a field has one name and one type everywhere. A metric carries its `Semantics`:
which direction is better, its scale (a range, or unbounded with a unit) and whether it
is its task's (or family's) headline. Consumers that rank, colour, average or gate use
these and never guess from a metric's name.

Versioning: `SCHEMA` is the current version. Older manifests are migrated on load
(`migrate`), so results written by an earlier release stay readable; `mteval.run/1`
manifests get the semantics the tasks declare today (or "unknown" for tasks that are
not installed) and no recorded endpoint.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field

from mteval.semantics import UNKNOWN, Direction, Scale, Semantics, descriptive, higher, lookup, lower  # noqa: F401  (re-exported: tasks import them from here)
from mteval.stats import Metric

SCHEMA = "mteval.run/2"
SCHEMA_V1 = "mteval.run/1"
SUPPORTED = (SCHEMA_V1, SCHEMA)


class MetricRecord(Metric):
    """A metric as stored: value, interval, counts, and what the number means."""

    semantics: Semantics = UNKNOWN


class DataRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: str = ""
    sha256: str = ""
    files: list[str] = Field(default_factory=list)
    version: str | None = None


class TaskRecord(BaseModel):
    """One task of the run; extra facts a task reports (`task_info()`) are kept as extra fields."""

    model_config = ConfigDict(extra="allow")

    version: str = "1"
    family: str = ""
    category: str | None = None
    description: str = ""
    generation: dict[str, Any] = Field(default_factory=dict)
    data: DataRecord = Field(default_factory=DataRecord)
    conversations: int = 0
    scored_turns: int = 0
    headline: str | None = None
    """The metric that stands for this task (leaderboard cell, `show` first line)."""
    scores: dict[str, Semantics] = Field(default_factory=dict)
    """Semantics of each per-turn score (scorer name), used by `compare`."""


class ModelRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    provider: str = ""
    args: dict[str, Any] = Field(default_factory=dict)
    params_not_sent: list[str] = Field(default_factory=list)
    endpoint: str | None = None
    """Base URL the requests went to (credentials removed); None = the provider's default."""


class Totals(BaseModel):
    model_config = ConfigDict(extra="allow")

    conversations: int = 0
    errored_conversations: int = 0
    turns: int = 0
    errored_turns: int = 0
    scored_turns: int = 0
    scores: dict[str, int] = Field(default_factory=lambda: {"ok": 0, "unparsed": 0, "error": 0})
    scored_turn_tokens: dict[str, int] = Field(default_factory=lambda: {"input": 0, "output": 0})
    calls: dict[str, Any] | None = None
    """`model` and `judges` call counts with `cost_usd`, summed over every invocation of the run."""
    first_errors: list[str] = Field(default_factory=list)
    """The first few conversation errors (`task conversation: cause`)."""
    verdicts: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per scorer: `total` scored turns, `unparsed` verdicts, `example_raw` (one unparsed reply)."""

    @property
    def errored_rate(self) -> float:
        return self.errored_conversations / self.conversations if self.conversations else 0.0

    @property
    def unparsed_rate(self) -> float:
        judged = sum(self.scores.values())
        return self.scores.get("unparsed", 0) / judged if judged else 0.0

    @property
    def scored_ok(self) -> int:
        return self.scores.get("ok", 0)

    @property
    def cost_usd(self) -> float | None:
        """Recorded dollar cost of model and judge calls; None if no price was known."""
        if not self.calls:
            return None
        costs = [(self.calls.get("model") or {}).get("cost_usd")]
        costs += [(j or {}).get("cost_usd") for j in (self.calls.get("judges") or {}).values()]
        known = [c for c in costs if c is not None]
        return float(sum(known)) if known else None


class RunManifest(BaseModel):
    """`run.json`. Written atomically by the runner and importers; read by everything."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_: str = Field(SCHEMA, alias="schema")
    run_id: str
    status: Literal["running", "complete", "interrupted"] | str = "complete"
    fingerprint: str = ""
    mteval_version: str = ""
    command: list[str] = Field(default_factory=list)
    started_at: str | None = None
    finished_at: str | None = None
    model: ModelRecord
    generation: dict[str, Any] = Field(default_factory=dict)
    history: str = "own"
    limit: int | float | None = None
    task_options: dict[str, Any] = Field(default_factory=dict)
    max_concurrency: int | None = None
    jury: dict[str, Any] | None = None
    tasks: dict[str, TaskRecord] = Field(default_factory=dict)
    totals: Totals = Field(default_factory=Totals)
    metrics: dict[str, dict[str, MetricRecord]] = Field(default_factory=dict)
    groups: dict[str, dict[str, MetricRecord]] = Field(default_factory=dict)
    """Family aggregates (MT-Eval overall, RAD-Bench average, ...), one headline each."""
    by_turn: dict[str, Any] = Field(default_factory=dict)
    judging: dict[str, Any] = Field(default_factory=dict)
    imported: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def headline(self, task: str) -> tuple[str, MetricRecord] | None:
        """The task's headline metric (name, record), or None if it has none recorded."""
        return _headline_of(self.metrics.get(task, {}), self.tasks.get(task, TaskRecord()).headline)

    def group_headline(self, family: str) -> tuple[str, MetricRecord] | None:
        return _headline_of(self.groups.get(family, {}), None)


def _headline_of(metrics: Mapping[str, MetricRecord], name: str | None) -> tuple[str, MetricRecord] | None:
    if name and name in metrics:
        return name, metrics[name]
    for key, record in metrics.items():
        if record.semantics.headline:
            return key, record
    return None


class ManifestError(ValueError):
    pass


def migrate(data: dict[str, Any], where: str = "run.json") -> dict[str, Any]:
    """Bring a manifest dict of any supported schema to `SCHEMA` (a new dict)."""
    schema = data.get("schema")
    if schema not in SUPPORTED:
        raise ManifestError(f"{where}: field 'schema' is {schema!r}, expected one of {list(SUPPORTED)}")
    if schema == SCHEMA:
        return data
    data = dict(data)
    data["schema"] = SCHEMA
    data["model"] = {**data.get("model", {}), "endpoint": None}
    tasks = {name: dict(info) for name, info in data.get("tasks", {}).items()}
    for name, info in tasks.items():
        declared = declared_task_semantics(name)
        if declared is not None:
            info.setdefault("headline", declared[0])
            info.setdefault("scores", {k: v.model_dump() for k, v in declared[2].items()})
        metrics = data.get("metrics", {}).get(name, {})
        for metric, record in metrics.items():
            sem = lookup(declared[1], metric, declared[0]) if declared else UNKNOWN
            record.setdefault("semantics", sem.model_dump())
    data["tasks"] = tasks
    for family, group in data.get("groups", {}).items():
        headline, group_semantics = declared_group_semantics(family)
        for metric, record in group.items():
            record.setdefault("semantics", lookup(group_semantics, metric, headline).model_dump())
    return data


def declared_task_semantics(task_name: str) -> tuple[str | None, dict[str, Semantics], dict[str, Semantics]] | None:
    """(headline, metric semantics, score semantics) a registered task declares, or None."""
    from mteval.registry import get_task_spec

    spec = get_task_spec(task_name)
    if spec is None:
        return None
    try:
        task = spec.cls(**spec.options)
        return task.headline_metric(), dict(task.metric_semantics()), task.score_semantics()
    except Exception:  # a plugin task that cannot be built offline: semantics unknown
        return None


def declared_group_semantics(family: str) -> tuple[str | None, dict[str, Semantics]]:
    from mteval.registry import family_aggregate_info

    info = family_aggregate_info(family)
    return (info.headline, dict(info.semantics)) if info else (None, {})


def parse(data: dict[str, Any], where: str = "run.json") -> RunManifest:
    """Validate (after migration) a manifest dict; errors name the file and field."""
    from pydantic import ValidationError

    try:
        return RunManifest.model_validate(migrate(data, where))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ManifestError(f"{where}: field {field!r}: {first['msg']}") from None
