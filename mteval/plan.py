"""The run plan: what a run will do, settled before any request is sent.

Which conversations each task runs (after --ids, --limit and --history single), one
streaming scan that refuses bad data early (no conversations, duplicate ids, missing gold
replies), the run's identity (fingerprint) and its directory. The runner executes a plan;
the importers use it to name and identify the runs they write.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, NamedTuple, Protocol, Sequence

from mteval.client import endpoint_of
from mteval.conversation import Conversation
from mteval.errors import ConfigurationError
from mteval.id_set import IdSet
from mteval.models.base import ENDPOINT_ARGS, GenerationParams, ModelAdapter
from mteval.run_source import RunSource
from mteval.selection import check_ids_found, limit_count
from mteval.solver import ChatSolver, Solver, missing_gold
from mteval.task import ConversationDigest, DataInfo, Task

if TYPE_CHECKING:
    from mteval.runner import RunConfig
    from mteval.scoring.base import Scorer


class _Sink(Protocol):
    def add(self, conversation: Conversation) -> None: ...


class Scan(NamedTuple):
    """One task's scan: how many conversations and scored turns will run, and their ids."""

    conversations: int
    scored_turns: int
    ids: IdSet


class ScanTally:
    """A `Scan` accumulated one conversation at a time; `close` refuses duplicate ids (when
    `check`) and turns without the gold replies --history gold needs (when `gold`)."""

    def __init__(self, task: str, *, check: bool, gold: bool):
        self.task, self.check, self.gold = task, check, gold
        self.count = self.scored = 0
        self.ids = IdSet()  # compact: a set of str ids was ~150 bytes per conversation
        self.missing: list[str] = []

    def add(self, conversation: Conversation) -> None:
        self.count += 1
        self.scored += len(conversation.scored_turns)
        self.ids.add(conversation.id)
        if self.gold:
            self.missing.extend(missing_gold([conversation]))

    def close(self) -> Scan:
        dupes = self.ids.close().duplicates()
        if self.missing:
            raise ConfigurationError(
                f"--history gold: task {self.task} has no gold replies for {len(self.missing)} turns "
                f"(first: {self.missing[0]}). Use --history own or single for this task."
            )
        if self.check and dupes:
            raise ConfigurationError(f"task {self.task}: duplicate conversation ids {sorted(dupes)[:5]}")
        return Scan(self.count, self.scored, self.ids)


def hashes_conversations(task: Task) -> bool:
    """Whether the task's data hash is the default one over its conversations (no data files)."""
    return type(task).data_info is Task.data_info and not task.data_files()


@dataclass
class PreparedRun:
    """A plan checked against the data: where the run goes and what it is."""

    run_dir: Path
    fingerprint: str
    scans: dict[str, Scan]
    task_info: dict[str, dict[str, Any]]


class RunPlan:
    """Tasks, their data, the run's identity and directory, and where conversations, their
    solver and their scorers come from (`run_source`, a `mteval.run_source.RunSource`: the tasks' own, or a
    finished run's transcripts when re-judging)."""

    def __init__(
        self,
        config: "RunConfig",
        tasks: list[Task],
        model: ModelAdapter,
        judges: list[ModelAdapter],
        public_task_options: dict[str, Any],
        source: RunSource | None = None,
    ):
        self.config = config
        self.tasks = tasks
        self.model = model
        self.judges = judges
        self.public_task_options = public_task_options
        self.run_source = source or RunSource()
        self._chat: Solver = ChatSolver()
        self._loaded: dict[str, Sequence[Conversation]] = {}
        self._selected_counts: dict[str, int] = {}
        self._task_params: dict[str, GenerationParams] = {}

    @property
    def fixed(self) -> bool:
        """The conversations are given as they are (re-judging): no selection, no data checks."""
        return self.run_source.replays

    def solver_for(self, task: Task) -> Solver:
        """The solver that drives `task`'s conversations: the source's, the task's own, or `ChatSolver`."""
        return self.run_source.solver_for(task, self._chat)

    def scorers(self, task: Task) -> list[Scorer]:
        """The scorers of `task` in this run (the source's when re-judging with another judge definition)."""
        return self.run_source.scorers_for(task)

    # --- conversations ---------------------------------------------------------------------
    def source(self, task: Task) -> Iterable[Conversation]:
        """The task's conversations as `load` gives them. A list is kept for the second
        pass; an iterator (a generator `load`) is asked for again, so a lazy task is never
        held in memory whole: only the conversations in flight are."""
        if self.fixed:
            return self.run_source.conversations_of(task)
        if task.name in self._loaded:
            return self._loaded[task.name]
        loaded = task.load()
        if loaded is None or isinstance(loaded, (str, bytes, Mapping)) or not isinstance(loaded, Iterable):
            raise ConfigurationError(f"task {task.name}: load() returned {type(loaded).__name__}; expected a list (or an iterator) of Conversation")
        if isinstance(loaded, Sequence):
            self._loaded[task.name] = loaded
        return loaded

    def _selected(self, task: Task) -> Iterator[Conversation]:
        """The task's conversations named by --ids (all without it), lazily, in task order."""
        source = self.source(task)
        if self.fixed or self.config.ids is None:
            return iter(source)
        wanted = set(self.config.ids)
        return (c for c in source if c.id in wanted)

    def _limit_for(self, task: Task) -> int | None:
        """--limit as a count for this task: a whole number, or a fraction of the selected
        conversations rounded up (counted in one extra streaming pass)."""
        if self.config.limit is None or self.fixed:
            return None
        if task.name not in self._selected_counts and 0 < self.config.limit < 1:
            self._selected_counts[task.name] = sum(1 for _ in self._selected(task))
        return limit_count(self._selected_counts.get(task.name, 0), self.config.limit)

    def conversations(self, task: Task) -> Iterator[Conversation]:
        """The conversations to run, after --ids, --limit and --history single, one at a time."""
        conversations: Iterable[Conversation] = self._selected(task)
        limit = self._limit_for(task)
        if limit is not None:
            conversations = itertools.islice(conversations, limit)
        if not self.fixed and self.config.history == "single":
            conversations = task.single_turn(list(conversations))  # task overrides may need the whole list
        return iter(conversations)

    def params(self, task: Task, conversation: Conversation) -> GenerationParams:
        """Generation parameters of one conversation: task defaults, then the conversation's, then the user's.
        One (frozen) object per task for conversations without their own: the cache key's
        lookup of it is then an identity check, not a field-by-field comparison per turn."""
        if not conversation.generation:
            shared = self._task_params.get(task.name)
            if shared is None:
                shared = self._task_params[task.name] = self._merged(task, {})
            return shared
        return self._merged(task, conversation.generation)

    def _merged(self, task: Task, own: Mapping[str, Any]) -> GenerationParams:
        return GenerationParams().merged(dict(task.generation)).merged(own).merged(self.config.generation)

    # --- checks ----------------------------------------------------------------------------
    def _check_source(self, task: Task, sinks: Sequence[_Sink] = ()) -> list[str]:
        """One streaming pass over everything `load` gives: refuse a task with no
        conversations (a "complete" run of nothing would look like a result); the ids, for
        checking --ids, only when --ids is given. Each conversation is also handed to
        `sinks` (the data hash, the scan), so a generator task is not loaded once per check."""
        if self.fixed:
            return []
        count, ids = 0, []
        for conversation in self.source(task):
            count += 1
            if not isinstance(conversation, Conversation):
                raise ConfigurationError(
                    f"task {task.name}: load() item {count} is a {type(conversation).__name__}, not a Conversation "
                    "(build one with Conversation.model_validate(...), or read a file with mteval.data.read_conversations)"
                )
            if self.config.ids is not None:
                ids.append(conversation.id)
            for sink in sinks:
                sink.add(conversation)
        if not count:
            files = ", ".join(str(p) for p in task.data_files()) or "its data source"
            raise ConfigurationError(f"task {task.name}: no conversations in {files}")
        return ids

    def scan(self, task: Task) -> Scan:
        """One streaming pass before any request, failing on duplicate ids or on gold
        replies --history gold would need."""
        tally = self._tally(task)
        for conversation in self.conversations(task):
            tally.add(conversation)
        return tally.close()

    def _tally(self, task: Task) -> ScanTally:
        return ScanTally(task.name, check=not self.fixed, gold=not self.fixed and self.config.history == "gold")

    def _selects_everything(self) -> bool:
        """The conversations to run are exactly what `load` gives (no --ids, --limit or --history single)."""
        return not self.fixed and self.config.ids is None and self.config.limit is None and self.config.history != "single"

    def prepare(self) -> PreparedRun:
        """Check the data, then fix the run's identity and directory. The source check also
        hashes the data (the default hash of conversations) and, when every conversation
        runs, scans it: one pass over a generator task instead of three."""
        digests = {t.name: ConversationDigest() for t in self.tasks if not self.fixed and hashes_conversations(t)}
        tallies = {t.name: self._tally(t) for t in self.tasks} if self._selects_everything() else {}
        loaded_ids: dict[str, Sequence[str]] = {
            t.name: self._check_source(t, [s for s in (digests.get(t.name), tallies.get(t.name)) if s is not None]) for t in self.tasks
        }
        if not self.fixed:
            check_ids_found(self.config.ids, loaded_ids)
        del loaded_ids
        scans = {t.name: tallies[t.name].close() if t.name in tallies else self.scan(t) for t in self.tasks}
        info = {
            t.name: task_info(t, scans[t.name].conversations, scans[t.name].scored_turns, digests[t.name].data_info(t) if t.name in digests else None)
            for t in self.tasks
        }
        fingerprint = self.fingerprint(info)
        return PreparedRun(self.run_dir(fingerprint), fingerprint, scans, info)

    # --- identity --------------------------------------------------------------------------
    def fingerprint(self, data: dict[str, Any]) -> str:
        """What makes two runs the same run (and lets a re-run resume): tasks with their
        data hashes, model, generation, history, selection, task options and jury."""
        identity: dict[str, Any] = {
            "tasks": {name: [info["version"], info["data"]["sha256"]] for name, info in data.items()},
            "model": self.model.model_id,
            "model_args": self.model.public_args(),
            "generation": self.config.generation,
            "history": self.config.history,
            "limit": self.config.limit,
            "task_options": self.public_task_options,
            "jury": self.jury_identity(),
        }
        if self.config.ids is not None:  # only when set, so earlier runs keep their fingerprints
            identity["ids"] = sorted(set(self.config.ids))
        if env_endpoint(self.model) is not None:  # only when set, like ids
            identity["endpoint"] = env_endpoint(self.model)
        return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()

    def jury_identity(self) -> dict[str, Any] | None:
        if self.config.jury is None:
            return None
        identity = self.config.jury.model_dump(mode="json")
        for juror, adapter in zip(identity["jurors"], self.judges):
            juror["args"] = adapter.public_args()
            if env_endpoint(adapter) is not None:
                juror["endpoint"] = env_endpoint(adapter)
        return identity

    def run_dir(self, fingerprint: str) -> Path:
        if self.config.run_id:
            return Path(self.config.output_dir) / check_run_id(self.config.run_id)
        model_slug = _slug(Path(self.model.model).name if self.model.provider == "replay" else self.model.model)
        tasks_slug = _slug(self.config.tasks if isinstance(self.config.tasks, str) else ",".join(self.config.tasks))[:40]
        return Path(self.config.output_dir) / f"{self.model.provider}-{model_slug}__{tasks_slug}__{self.config.history}__{fingerprint[:8]}"


def task_info(task: Task, conversations: int, scored_turns: int, data: DataInfo | None = None) -> dict[str, Any]:
    """A task's entry in the manifest: version, data identity (`task.data_info()` unless
    given), counts and score semantics."""
    data = data if data is not None else task.data_info()
    return {
        "version": task.version,
        "family": task.family,
        "category": task.category,
        "description": task.description,
        "generation": dict(task.generation),
        "data": {"source": data.source, "sha256": data.sha256, "files": list(data.files), "version": data.version},
        "conversations": conversations,
        "scored_turns": scored_turns,
        "headline": task.headline_metric(),
        "scores": {name: sem.model_dump(mode="json") for name, sem in task.score_semantics().items()},
        **task.task_info(),
    }


def check_run_id(run_id: str) -> str:
    """--run-id names one directory inside --output-dir: no separators, no `..`, not absolute."""
    if not run_id or run_id in (".", "..") or "/" in run_id or "\\" in run_id or "\0" in run_id or Path(run_id).is_absolute():
        raise ConfigurationError(f"--run-id {run_id!r}: must be a plain directory name (no '/', '..' or absolute path)")
    return run_id


def env_endpoint(adapter: ModelAdapter) -> str | None:
    """The endpoint when the environment sets it (OPENAI_BASE_URL, ...), else None. It is part
    of a run's identity: a base_url argument already is (through the public args), and without
    it the same command against another server resumed the first server's run."""
    if any(adapter.public_args().get(name) for name in ENDPOINT_ARGS):
        return None
    return endpoint_of(adapter)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"
