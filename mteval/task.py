"""The task plugin API: data in, conversations and scorers out.

Modelled on inspect_ai's Task/Solver/Scorer split. A task loads its data and yields
`Conversation`s, names the scorers for its scored turns, and may override how the
current turn's prompt is rendered (`render_user`), how the same content is flattened
into single-turn prompts (`single_turn`), and how per-turn scores become metrics
(`metrics`). It never talks to a model: the runner does, for every task alike.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Mapping, Sequence

from mteval.conversation import ContextDocument, Conversation
from mteval.semantics import lookup

if TYPE_CHECKING:
    import pandas as pd

    from mteval.scoring.base import Scorer
    from mteval.solver import Solver
    from mteval.stats import Metric


@dataclass(frozen=True)
class DataInfo:
    """Where a task's data came from, recorded in every run manifest."""

    source: str
    sha256: str
    files: tuple[str, ...] = ()
    version: str | None = None


def sha256_files(paths: Iterable[Path]) -> str:
    """One digest over several files (name and content), independent of the directory."""
    digest = hashlib.sha256()
    for path in sorted((Path(p) for p in paths), key=lambda p: (p.name, str(p))):
        digest.update(path.name.encode())
        digest.update(b"\0")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def sha256_conversations(conversations: Iterable[Conversation]) -> str:
    """One digest over conversations as mteval's conversation JSON, in order."""
    digest = ConversationDigest()
    for conversation in conversations:
        digest.add(conversation)
    return digest.hexdigest()


class ConversationDigest:
    """The default data hash (`sha256_conversations`) fed one conversation at a time, so
    a pass that reads the conversations for another reason (the run plan's data check)
    hashes them on the way instead of loading them again."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.count = 0

    def add(self, conversation: Conversation) -> None:
        self._digest.update(conversation.model_dump_json().encode())
        self._digest.update(b"\n")
        self.count += 1

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def data_info(self, task: "Task") -> DataInfo:
        """What `Task.data_info` records for a task without data files, from the conversations added."""
        if not self.count:
            from mteval.errors import ConfigurationError

            raise ConfigurationError(
                f"task {task.name or type(task).__name__}: load() returned no conversations and data_files() names no "
                "file, so there is no data to hash; return the files load() reads from data_files()"
            )
        return DataInfo(source=f"{self.count} conversations from {type(task).__qualname__}.load()", sha256=self.hexdigest())


class Task:
    """Base class of every task. Subclass, set `name`, implement `load` and `scorers`."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    category: ClassVar[str | None] = None
    main: ClassVar[bool] = True
    """Whether the family name alone (e.g. `mt_eval`) runs this task."""
    generation: ClassVar[Mapping[str, Any]] = {}
    """Generation defaults of the benchmark; explicit command-line values win."""
    single_turn_rendering: ClassVar[bool] = True
    """Whether `--history single` renders the task differently from `own`. False when the
    same samples run in every mode (full-duplex timelines): `mteval penalty` and the
    leaderboard then compute no multi-turn penalty for the task."""
    option_names: ClassVar[frozenset[str] | None] = None
    """The `--task-args` keys this task reads. When every task of a run declares its
    names, a key none of them reads is an error with a did-you-mean (None: not checked)."""

    def __init__(self, **options: Any):
        self.options = options

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap a subclass's `load` so the default `data_info` can hash what it returned
        without loading the data a second time."""
        super().__init_subclass__(**kwargs)
        load = cls.__dict__.get("load")
        if load is None or getattr(load, "_remembers_result", False):
            return

        @functools.wraps(load)
        def remembering_load(self: "Task", *args: Any, **kw: Any) -> list[Conversation]:
            conversations = load(self, *args, **kw)
            if isinstance(conversations, Sequence):  # a generator is read once, by the runner
                self.__dict__["_loaded_conversations"] = conversations
            return conversations

        remembering_load._remembers_result = True  # type: ignore[attr-defined]  # a marker on the wrapper: wrap once
        cls.load = remembering_load  # type: ignore[method-assign]  # same signature, the subclass's own load wrapped

    @property
    def solver(self) -> "Solver | None":
        """The task's own solver (e.g. time-sliced duplex); None runs the engine's
        `ChatSolver`. Override as a property when the choice depends on options."""
        return None

    @property
    def family(self) -> str:
        return self.name.split("/", 1)[0]

    # --- data -------------------------------------------------------------------------
    def load(self) -> list[Conversation]:
        """The multi-turn conversations of this task."""
        raise NotImplementedError

    def data_info(self) -> DataInfo:
        """Source and sha256 of the data, recorded in the manifest and part of the run's
        fingerprint (so changed data makes a new run instead of resuming the old one).

        The default hashes `data_files()` when a task names them, else the conversations
        `load()` returned (their JSON), and refuses when there is nothing to hash: a digest
        of empty input would make every version of the data look the same."""
        files = self.data_files()
        if files:
            return DataInfo(source=", ".join(str(p) for p in files), sha256=sha256_files(files), files=tuple(p.name for p in files))
        conversations = self.__dict__.get("_loaded_conversations")
        if conversations is None:
            conversations = self.load()  # a generator is hashed as it streams, never held whole
        digest = ConversationDigest()
        for conversation in conversations:
            digest.add(conversation)
        return digest.data_info(self)

    def data_files(self) -> list[Path]:
        """The files `load()` reads; the default `data_info` hashes them (name and bytes)."""
        return []

    def task_info(self) -> dict[str, Any]:
        """Extra facts for the manifest: resolved options, thresholds, rule variants.
        Everything a number depends on belongs here or in the data hash."""
        return {}

    # --- prompts -------------------------------------------------------------------------
    def render_user(self, conversation: Conversation, index: int) -> str:
        """The user message sent at turn `index`. History keeps `turn.user`; only the
        current turn is rendered, so per-turn context appears once, where it belongs."""
        turn = conversation.turns[index]
        if not turn.context:
            return turn.user
        return render_context(turn.context) + "\n\n" + turn.user

    def single_turn(self, conversations: list[Conversation]) -> list[Conversation]:
        """The same content as single-turn prompts, one conversation per scored turn.

        Default: a transcript of the earlier turns with their gold replies, then the
        request. Tasks with published single-turn files override this."""
        flattened: list[Conversation] = []
        for conversation in conversations:
            for index in conversation.scored_turns:
                flattened.append(flatten_turn(conversation, index, self.render_user(conversation, index)))
        return flattened

    # --- scoring -------------------------------------------------------------------------
    headline: ClassVar[str | None] = None
    """The metric that stands for the task (default: the first scorer's mean)."""
    semantics: ClassVar[Mapping[str, Any]] = {}
    """Metric and score name (or prefix before '/') -> `mteval.semantics.Semantics`:
    direction, scale, unit. Undeclared names are recorded as unknown (higher is better,
    unbounded), which the leaderboard never averages with anything."""

    def scorers(self) -> list["Scorer"]:
        raise NotImplementedError

    def headline_metric(self) -> str | None:
        if self.headline:
            return self.headline
        scorers = self.scorers()
        return scorers[0].name if scorers else None

    def metric_semantics(self) -> Mapping[str, Any]:
        """Declared semantics of this task's metrics (override when they depend on options)."""
        return self.semantics

    def score_semantics(self) -> dict[str, Any]:
        """Semantics of each per-turn score, for paired comparisons (`mteval compare`)."""
        declared = self.metric_semantics()
        return {s.name: lookup(declared, s.name) for s in self.scorers()}

    def metrics(self, frame: "pd.DataFrame") -> dict[str, "Metric"]:
        """Metrics over this task's scored-turn rows. Default: the mean of every scorer,
        with a 95% bootstrap interval that resamples whole conversations. The frame's
        columns: task, conversation_id, turn_index, score_<scorer>, status_<scorer>
        (`mteval.score_rows`); the default is computed from those arrays without pandas."""
        from mteval.stats import mean_metrics

        return mean_metrics(frame, [s.name for s in self.scorers()])


def render_context(documents: Iterable[ContextDocument]) -> str:
    parts = []
    for doc in documents:
        header = f"Document: {doc.title}\n" if doc.title else ""
        parts.append(f"{header}{doc.text}")
    return "\n\n".join(parts)


def flatten_turn(conversation: Conversation, index: int, request: str) -> Conversation:
    """One-message rendering of turn `index` with the gold history before it."""
    lines: list[str] = []
    for earlier in conversation.turns[:index]:
        if earlier.gold is None:
            from mteval.errors import ConfigurationError

            raise ConfigurationError(
                f"--history single: conversation {conversation.id!r} turn {earlier.id!r} has no gold reply to "
                "flatten into the prompt; this task needs its own single_turn rendering"
            )
        lines.append(f"User: {earlier.user.strip()}")
        lines.append(f"Assistant: {(earlier.gold or '').strip()}")
    if lines:
        prompt = "\n".join(lines) + f"\nUser: {request.strip()}\nAssistant:"
    else:
        prompt = request
    turn = conversation.turns[index]
    single = turn.model_copy(update={"user": prompt, "context": (), "generate": True})
    return Conversation(
        id=f"{conversation.id}#{turn.id}",
        system=conversation.system,
        turns=(single,),
        metadata={**conversation.metadata, "source_conversation": conversation.id, "source_turn_index": index},
        generation=conversation.generation,
    )


@dataclass
class TaskSpec:
    """A registered task class with where it came from (for `mteval list tasks`)."""

    cls: type[Task]
    origin: str = "builtin"
    options: dict[str, Any] = field(default_factory=dict)
