"""MT-Eval benchmark records from the shipped JSONL files or the Hugging Face dataset.

Every record is checked field by field; a problem raises `mteval.data.DataError` naming the
file (or dataset config), the line (or row) and the field, e.g.
`.../refinement_multi.jsonl:3: field 'conv[4].user': missing`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mteval.data import DataError, FieldError, iter_jsonl

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
DOCUMENTS = DATA_DIR / "raw_data" / "documents.jsonl"
HF_DATASET = "wckwan/MT-Eval"
HF_SPLIT = "test"
HF_CONFIGS = frozenset(
    {
        "refinement_single", "refinement_multi", "expansion_single", "expansion_multi", "follow-up_single",
        "follow-up_multi", "recollection_single_cls", "recollection_multi_cls", "recollection_single_global-inst",
        "recollection_multi_global-inst",
    }
)
"""Config names as published on Hugging Face (split `test`). The ablation files are not there."""


@dataclass(frozen=True)
class RawTurn:
    id: str
    user: str
    sys: str
    do_inference: bool
    inst: str | None = None


@dataclass(frozen=True)
class Record:
    """One dialogue line: `{"id", "conv": [turn...]}` plus optional dialogue-level fields."""

    id: str
    turns: tuple[RawTurn, ...]
    where: str
    """`file:line` (or `dataset config row N`) for error messages."""
    inst_name: str | None = None
    inst_args: dict[str, Any] | None = None
    n_distracts: int | None = None


def _identifier(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FieldError(name, f"must be a string, got {type(value).__name__}")
    text = str(value)
    if not text:
        raise FieldError(name, "is empty")
    return text


def _required(obj: dict[str, Any], key: str, name: str) -> Any:
    if key not in obj:
        raise FieldError(name, "missing")
    return obj[key]


def parse_turn(obj: Any, index: int) -> RawTurn:
    prefix = f"conv[{index}]"
    if not isinstance(obj, dict):
        raise FieldError(prefix, f"must be an object, got {type(obj).__name__}")
    user = _required(obj, "user", f"{prefix}.user")
    if not isinstance(user, str):
        raise FieldError(f"{prefix}.user", f"must be a string, got {type(user).__name__}")
    if not user.strip():
        raise FieldError(f"{prefix}.user", "a turn needs a non-empty user message")
    sys = _required(obj, "sys", f"{prefix}.sys")
    if not isinstance(sys, str):
        raise FieldError(f"{prefix}.sys", f"must be a string, got {type(sys).__name__}")
    do_inference = _required(obj, "do_inference", f"{prefix}.do_inference")
    if not isinstance(do_inference, bool):
        raise FieldError(f"{prefix}.do_inference", f"must be true or false, got {do_inference!r}")
    inst = obj.get("inst")
    if inst is not None and not isinstance(inst, str):
        raise FieldError(f"{prefix}.inst", f"must be a string, got {type(inst).__name__}")
    turn_id = _identifier(_required(obj, "id", f"{prefix}.id"), f"{prefix}.id")
    return RawTurn(id=turn_id, user=user, sys=sys, do_inference=do_inference, inst=inst)


def parse_record(obj: dict[str, Any], where: str) -> Record:
    """A checked `Record`; raises `FieldError` for the first bad field."""
    record_id = _identifier(_required(obj, "id", "id"), "id")
    conv = _required(obj, "conv", "conv")
    if not isinstance(conv, list):
        raise FieldError("conv", f"must be a list of turns, got {type(conv).__name__}")
    if not conv:
        raise FieldError("conv", "has no turns")
    turns = tuple(parse_turn(turn, i) for i, turn in enumerate(conv))
    n_distracts = obj.get("n_distracts")
    if n_distracts is not None and (isinstance(n_distracts, bool) or not isinstance(n_distracts, int)):
        raise FieldError("n_distracts", f"must be an integer, got {n_distracts!r}")
    inst_name = obj.get("inst_name")
    if "inst_name" in obj and not isinstance(inst_name, str):
        raise FieldError("inst_name", f"must be a string, got {type(inst_name).__name__}")
    inst_args = obj.get("inst_args")
    if inst_args is not None and not isinstance(inst_args, dict):
        raise FieldError("inst_args", f"must be an object, got {type(inst_args).__name__}")
    if inst_name is not None and inst_args is None:
        inst_args = {}
    return Record(id=record_id, turns=turns, where=where, inst_name=inst_name, inst_args=inst_args, n_distracts=n_distracts)


def convert(items: Iterable[tuple[int, dict[str, Any]]], label: str, unit: str = "") -> list[Record]:
    """Records from `(line, object)` pairs; errors become `DataError` naming label, line, field."""
    records = []
    for line_no, obj in items:
        where = f"{label}:{unit}{line_no}"
        try:
            records.append(parse_record(obj, where))
        except FieldError as exc:
            raise DataError(f"{where}: field {exc.field!r}: {exc.reason}") from exc
    return records


def read_local(path: str | Path) -> list[Record]:
    """Records of one shipped (or user-supplied) MT-Eval JSONL file."""
    return convert(iter_jsonl(path), str(path))


def _drop_none(value: Any) -> Any:
    """Arrow gives every struct the union of all rows' keys, filling absent ones with None
    (e.g. every global-inst row gets all 9 argument names); the file had no such keys."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def hf_rows(config: str, dataset: str = HF_DATASET, revision: str | None = None) -> list[dict[str, Any]]:
    """Rows of one Hugging Face config (split `test`) as plain dicts, absent keys dropped."""
    import datasets

    loaded = datasets.load_dataset(dataset, config, split=HF_SPLIT, revision=revision)
    return [_drop_none(dict(row)) for row in loaded]


def read_hf(config: str, dataset: str = HF_DATASET, revision: str | None = None) -> tuple[list[Record], str]:
    """Records of one Hugging Face config and the sha256 of their canonical JSON."""
    rows = hf_rows(config, dataset, revision)
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    label = f"hf:{dataset}/{config}[{HF_SPLIT}]"
    return convert(((i, row) for i, row in enumerate(rows, 1)), label, unit="row "), digest.hexdigest()


@functools.lru_cache(maxsize=4)
def documents(path: str = str(DOCUMENTS)) -> dict[int, str]:
    """Document id (1-based record number) -> judge `{content}`: `gen_resp` minus everything up to
    its first blank line (the `Topic:` paragraph)."""
    contents: dict[int, str] = {}
    for number, (line_no, obj) in enumerate(iter_jsonl(path), 1):
        text = obj.get("gen_resp")
        if not isinstance(text, str):
            raise DataError(f"{path}:{line_no}: field 'gen_resp': missing or not a string")
        _, sep, rest = text.partition("\n\n")
        contents[number] = rest if sep else text
    return contents

