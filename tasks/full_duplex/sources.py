"""Find and read timelines wherever they are: one loader for every supported layout.

- a directory holding FDB sample folders (`output.json`, `pause.json`, ...): `fdb`
- a directory of timeline files (`*.json`, `*.jsonl`)
- a `.json` timeline (or a JSON list of them)
- a `.jsonl` of timelines (lines with `schema`), of scenario scripts (lines with
  `script`) or a plain event log (lines with `timeline`)
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from mteval.data import DataError, iter_jsonl, validation_message
from mteval.duplex import events, scenarios
from mteval.duplex.timeline import Timeline
from mteval_tasks.full_duplex import fdb


def _timeline(obj: object, where: str) -> Timeline:
    try:
        return Timeline.model_validate(obj)
    except ValidationError as exc:
        raise DataError(f"{where}: {validation_message(exc)}") from exc


def read_jsonl(path: Path, *, user_wps: float, ipu_min_silence_s: float) -> list[Timeline]:
    first = next(iter_jsonl(path), None)
    if first is None:
        return []
    obj = first[1]
    if scenarios.is_scenario_line(obj):
        return scenarios.read_scenarios(path, user_wps)
    if "timeline" in obj and "schema" not in obj:
        return events.read_event_log(path, ipu_min_silence_s=ipu_min_silence_s)
    return [_timeline(o, f"{path}:{n}") for n, o in iter_jsonl(path)]


def read_json(path: Path) -> list[Timeline]:
    try:
        from mteval.data import read_utf8

        data = json.loads(read_utf8(path))  # bad bytes: DataError with file:line
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    items = data if isinstance(data, list) else [data]
    return [_timeline(o, f"{path}[{i}]") for i, o in enumerate(items)]


def is_fdb_tree(path: Path) -> bool:
    return path.is_dir() and bool(fdb.sample_dirs(path))


def load_timelines(
    path: str | Path,
    *,
    task: str | None = None,
    gt_distribution: str | None = None,
    user_wps: float = 2.5,
    ipu_min_silence_s: float = 0.2,
    speech_activity: str = "auto",
) -> list[Timeline]:
    """Every timeline at `path`. `task` names FDB samples whose folder has no marker;
    `speech_activity` decides whether FDB backchannel samples get detector segments."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if is_fdb_tree(path):
        gt = fdb.load_gt_distribution(gt_distribution, path)
        return fdb.read_fdb_tree(
            path, task=task, gt_distribution=gt, ipu_min_silence_s=ipu_min_silence_s, user_wps=user_wps, speech_activity=speech_activity
        )
    out: list[Timeline] = []
    for file in timeline_files(path):
        if file.suffix == ".jsonl":
            out.extend(read_jsonl(file, user_wps=user_wps, ipu_min_silence_s=ipu_min_silence_s))
        else:
            out.extend(read_json(file))
    return out


def timeline_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl"))


def source_files(path: str | Path, gt_distribution: str | None = None) -> list[Path]:
    """The files `load_timelines` reads, for the data hash in the manifest."""
    path = Path(path)
    if is_fdb_tree(path):
        files = sorted(p for d in fdb.sample_dirs(path) for p in d.iterdir() if p.name in (*fdb.SAMPLE_FILES, fdb.AUDIO_FILE))
        gt = Path(gt_distribution) if gt_distribution else path / fdb.GT_FILE
        return files + ([gt] if gt.is_file() else [])
    return timeline_files(path) if path.exists() else []
