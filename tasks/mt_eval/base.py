"""What every MT-Eval task shares: loading records into conversations (context-only turns
with their gold replies), the published single-turn items mapped back to their multi-turn
turn, and the data provenance recorded in the run manifest.

Task options (`--task-args key=value,...`, given to every task of the run):
- `source=local|hf`: the shipped files (default) or the Hugging Face dataset `wckwan/MT-Eval`
  (split `test`, via `datasets`; `hf_dataset=` and `hf_revision=` override name and revision).
  The ablation sets are not on Hugging Face and refuse `source=hf`.
- `data_dir=PATH`: read the JSONL files from another folder (same file names).
- `system=TEXT`: the system prompt (default upstream's "You are a helpful, respectful and
  honest assistant."; `system=` or `system=none` sends none).
- `cls_match=substring|word`: classification rule; `substring` is upstream's (default).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

from mteval.conversation import Conversation, Turn
from mteval.data import DataError, FieldError
from mteval.errors import ConfigurationError
from mteval.manifest import higher
from mteval.task import DataInfo, Task, sha256_files

from .data import DATA_DIR, DOCUMENTS, HF_CONFIGS, HF_DATASET, RawTurn, Record, documents, read_hf, read_local
from .judging import template_files

UPSTREAM_SYSTEM = "You are a helpful, respectful and honest assistant."
UPSTREAM_COMMIT = "bfe3a46e41c9837a8ca2a9957c1b1699e5fffef1"


def doc_id(turn_id: str, index: int) -> int:
    """The document a judged turn is about: the first `_` field of its id (after any `k#`)."""
    head = turn_id.rsplit("#", 1)[-1].split("_", 1)[0]
    if not head.isdigit() or int(head) not in documents():
        raise FieldError(f"conv[{index}].id", f"names no document ({head!r}; ids look like '{{doc}}_{{task}}_{{k}}')")
    return int(head)


def judged_inst(raw: RawTurn, index: int) -> str:
    if not raw.inst:
        raise FieldError(f"conv[{index}].inst", "missing (a judged turn needs the instruction the judge sees)")
    return raw.inst


def make_turn(raw: RawTurn, references: dict[str, Any]) -> Turn:
    """Context-only turns (`do_inference: false`) are sent with their gold reply and never
    scored; an answered turn's empty `sys` means the data has no gold reply."""
    gold = raw.sys if (not raw.do_inference or raw.sys) else None
    return Turn(id=raw.id, user=raw.user, gold=gold, generate=raw.do_inference, scored=raw.do_inference, references=references)


class MTEvalTask(Task):
    """Loading, single-turn mapping and data provenance common to every MT-Eval task."""
    option_names = frozenset({"source", "hf_dataset", "hf_revision", "data_dir", "system", "cls_match"})

    version = "1"
    generation = {"temperature": 0.0, "max_tokens": 1024}
    # rule turns score 0 or 10, judge turns 1-10 (MT-Eval, arXiv 2401.16745): one 0-10 scale
    semantics = {"cls_match": higher(0, 10, "points"), "instruction": higher(0, 10, "points"), "judge": higher(0, 10, "points")}
    multi_config: ClassVar[str] = ""
    single_config: ClassVar[str | None] = None
    """The published single-turn file (None: `--history single` flattens the dialogue)."""
    templates: ClassVar[tuple[str, ...]] = ()
    """Judge templates the task uses (hashed into the data sha256)."""
    on_hf: ClassVar[bool] = True

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.source = str(options.get("source", "local"))
        if self.source not in ("local", "hf"):
            raise ConfigurationError(f"{self.name}: task option source must be 'local' or 'hf', got {self.source!r}")
        self.hf_dataset = str(options.get("hf_dataset", HF_DATASET))
        revision = options.get("hf_revision")
        self.hf_revision = str(revision) if revision not in (None, "") else None
        self.data_dir = Path(options.get("data_dir", DATA_DIR))
        system = options.get("system", UPSTREAM_SYSTEM)
        self.system = str(system) if system else None
        self.cls_mode = str(options.get("cls_match", "substring"))
        if self.cls_mode not in ("substring", "word"):
            raise ConfigurationError(f"{self.name}: task option cls_match must be 'substring' or 'word', got {self.cls_mode!r}")
        self._records: dict[str, list[Record]] = {}
        self._hf_digests: dict[str, str] = {}
        self._multi: list[Conversation] | None = None

    # --- records ------------------------------------------------------------------------------
    def records(self, config: str) -> list[Record]:
        if config not in self._records:
            if self.source == "hf":
                if not self.on_hf or config not in HF_CONFIGS:
                    raise ConfigurationError(
                        f"{self.name}: {config} is not published on Hugging Face ({self.hf_dataset}); run it with source=local"
                    )
                self._records[config], self._hf_digests[config] = read_hf(config, self.hf_dataset, self.hf_revision)
            else:
                self._records[config] = read_local(self.data_dir / f"{config}.jsonl")
        return self._records[config]

    def _build(self, records: list[Record], single: bool) -> list[Conversation]:
        """Conversations of `records`. A dialogue id that repeats in a file (the cls ablations
        have `27_98` twice: k = 27 of the 5-document and of the 10-document half) becomes
        `{id}~{n}` for its n-th occurrence, keeping the file's id as metadata `data_id`."""
        conversations = []
        seen: dict[str, int] = {}
        for record in records:
            try:
                conversation = self.conversation(record, single)
            except FieldError as exc:
                raise DataError(f"{record.where}: field {exc.field!r}: {exc.reason}") from exc
            seen[record.id] = seen.get(record.id, 0) + 1
            if seen[record.id] > 1:
                conversation = conversation.model_copy(
                    update={"id": f"{record.id}~{seen[record.id]}", "metadata": {**conversation.metadata, "data_id": record.id}}
                )
            conversations.append(conversation)
        return conversations

    def conversation(self, record: Record, single: bool = False) -> Conversation:
        refs = self.references(record, single)
        turns = tuple(make_turn(raw, refs.get(i, {})) for i, raw in enumerate(record.turns))
        return Conversation(id=record.id, system=self.system, turns=turns, metadata=self.metadata(record))

    def references(self, record: Record, single: bool) -> dict[int, dict[str, Any]]:
        """What the scorer of each scored turn needs, by turn index."""
        return {}

    def metadata(self, record: Record) -> dict[str, Any]:
        return {}

    def load(self) -> list[Conversation]:
        if self._multi is None:
            self._multi = self._build(self.records(self.multi_config), single=False)
        return list(self._multi)

    # --- single-turn ---------------------------------------------------------------------------
    def single_file(self) -> str | None:
        return self.single_config

    def source_of(self, single_id: str, multi: list[Conversation]) -> tuple[str, str] | None:
        """(multi-turn conversation id, turn id) of a published single-turn item."""
        conversation, sep, turn = single_id.partition("#")
        return (conversation, turn) if sep else None

    def single_turn(self, conversations: list[Conversation]) -> list[Conversation]:
        """The published single-turn items whose multi-turn source is among `conversations`,
        with `source_conversation` / `source_turn_index` metadata (the multi-turn penalty
        pairs turns through it). Without a published file, the dialogue is flattened."""
        config = self.single_file()
        if config is None:
            return [self.adjust_flattened(c) for c in super().single_turn(conversations)]
        multi = self.load()
        positions = {c.id: {t.id: i for i, t in enumerate(c.turns)} for c in multi}
        wanted = {c.id for c in conversations}
        limited = wanted != set(positions)
        items = []
        for conversation in self._build(self.records(config), single=True):
            source = self.source_of(conversation.id, multi)
            if source is not None and source[1] in positions.get(source[0], {}):
                if source[0] not in wanted:
                    continue
                extra = {"source_conversation": source[0], "source_turn_index": positions[source[0]][source[1]]}
            elif limited:
                continue  # unmapped items only run with the whole benchmark
            else:
                extra = {}
            items.append(conversation.model_copy(update={"metadata": {**conversation.metadata, **extra}}))
        return items

    def adjust_flattened(self, conversation: Conversation) -> Conversation:
        return conversation

    # --- provenance ----------------------------------------------------------------------------
    def local_files(self) -> list[Path]:
        files = [self.data_dir / f"{self.multi_config}.jsonl"]
        single = self.single_file()
        if single:
            files.append(self.data_dir / f"{single}.jsonl")
        if any(key != "mt-bench" for key in self.templates):  # the other templates show the document
            files.append(DOCUMENTS)
        return files + template_files(self.templates)

    def data_files(self) -> list[Path]:
        return self.local_files()

    def variant(self) -> str:
        system = "upstream" if self.system == UPSTREAM_SYSTEM else ("none" if self.system is None else "custom")
        return f"cls_match={self.cls_mode}, system={system}"

    def data_info(self) -> DataInfo:
        return self._local_data_info() if self.source == "local" else self._hub_data_info()

    def _local_data_info(self) -> DataInfo:
        """The shipped (or user) files: their hash, names and where they come from."""
        files = self.local_files()
        origin = (
            f"KwanWaiChung/MT-Eval@{UPSTREAM_COMMIT[:7]} (rebuilt from raw_data)" if self.data_dir == DATA_DIR else f"user files in {self.data_dir}"
        )
        return DataInfo(
            source=", ".join(str(p) for p in files),
            sha256=sha256_files(files),
            files=tuple(p.name for p in files),
            version=f"{origin}; {self.variant()}",
        )

    def _hub_data_info(self) -> DataInfo:
        """The Hub configs read (their content digests) plus the local files they need
        (documents, templates)."""
        configs = [c for c in (self.multi_config, self.single_file()) if c]
        for config in configs:
            self.records(config)  # fills self._hf_digests
        extra = [p for p in self.local_files() if p.parent != self.data_dir]
        digest = hashlib.sha256()
        for config in configs:
            digest.update(f"{config}\0{self._hf_digests[config]}\0".encode())
        if extra:
            digest.update(sha256_files(extra).encode())
        return DataInfo(
            source=f"hf:{self.hf_dataset} configs {', '.join(configs)} split test" + (f" + {', '.join(str(p) for p in extra)}" if extra else ""),
            sha256=digest.hexdigest(),
            files=tuple(configs) + tuple(p.name for p in extra),
            version=f"revision {self.hf_revision or 'default'}; {self.variant()}",
        )
