"""Where the test data comes from: a local file, or the Hugging Face dataset.

Either way the result is one local JSON file, which the loader parses and the task
hashes, so the recorded sha256 is that of the exact file that was read.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mteval.errors import ConfigurationError

# Looked for, in this order, when `data_path` is a folder.
LOCAL_NAMES = ("test.json", "dataset.json", "data/dataset.json")
HUB_FILE = "test.json"
_COMMIT = re.compile(r"@([0-9a-f]{40})/")


@dataclass(frozen=True)
class DataSource:
    path: Path
    """The local file that is parsed and hashed."""
    origin: str
    """What it is: the local path, or the hf:// address of the Hub file."""
    revision: str | None = None


def local_source(data_path: str | Path) -> DataSource:
    """A `dataset.json` / `test.json` file, or a folder holding one."""
    path = Path(data_path).expanduser()
    if path.is_dir():
        found = next((path / name for name in LOCAL_NAMES if (path / name).is_file()), None)
        if found is None:
            raise ConfigurationError(f"data_path={data_path}: the folder holds none of {', '.join(LOCAL_NAMES)}")
        path = found
    elif not path.is_file():
        raise ConfigurationError(f"data_path={data_path}: no such file")
    return DataSource(path=path.resolve(), origin=str(path.resolve()))


@functools.lru_cache(maxsize=8)
def hub_source(dataset: str, revision: str | None = None) -> DataSource:
    """Fetch the dataset's `test.json` through `datasets` (its Hub resolution, cache
    and offline mode). `dataset` may also be a local folder laid out like the Hub repo.

    The published JSON file itself is parsed (not `load_dataset`'s Arrow table), so
    that both layouts share one loader and the hash is that of the published file."""
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a dependency of mteval
        raise ConfigurationError("reading the Hugging Face dataset needs the `datasets` package") from exc
    try:
        builder = datasets.load_dataset_builder(dataset, revision=revision)
        files = [str(f) for split_files in builder.config.data_files.values() for f in split_files]
        chosen = _pick_file(files)
        local = datasets.DownloadManager(dataset_name=dataset).download(chosen)
    except ConfigurationError:
        raise
    except Exception as exc:  # offline, unknown dataset, missing file: one clear message
        raise ConfigurationError(
            f"could not read the Hugging Face dataset {dataset!r}"
            f"{f' at revision {revision}' if revision else ''}: {type(exc).__name__}: {exc}. "
            f"Without network access, download {HUB_FILE} from huggingface.co/datasets/{dataset} "
            "and pass --task-args data_path=/path/to/test.json"
        ) from exc
    commit = _COMMIT.search(chosen)
    return DataSource(path=Path(local).resolve(), origin=chosen, revision=commit.group(1) if commit else revision)


def _pick_file(files: list[str]) -> str:
    named = [f for f in files if PurePosixPath(f).name == HUB_FILE]
    if len(named) == 1:
        return named[0]
    if len(files) == 1:
        return files[0]
    raise ConfigurationError(f"expected one {HUB_FILE} in the dataset, found {files or 'no data files'}")


def resolve_source(data_path: str | None, dataset: str, revision: str | None) -> DataSource:
    """`data_path` if given, else the Hugging Face dataset."""
    if data_path:
        return local_source(data_path)
    return hub_source(dataset, revision)


def file_sha256(path: Path) -> str:
    """sha256 of the file's bytes (comparable with `sha256sum` and the Hub's LFS id)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
