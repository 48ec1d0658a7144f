"""Where the RAD-Bench question and reference files come from: a local path, or a URL
the user gave (fetched once with httpx into the download cache, never otherwise).

The files are not redistributed with mteval (see data/SOURCE.md). `published` names the
files in the benchmark's repository at the commit the rest of mteval's RAD-Bench data
comes from.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

from mteval.errors import ConfigurationError

REPOSITORY = "https://github.com/mtkresearch/RAD-Bench"
COMMIT = "d77bcb5d3b66fa61702117c378c088d05f9067f6"
_RAW = f"{REPOSITORY.replace('github.com', 'raw.githubusercontent.com')}/{COMMIT}/rad_bench/data"
PUBLISHED = {
    "questions": f"{_RAW}/questions.jsonl",
    "references": f"{_RAW}/reference_answer/reference_ans_model.jsonl",
}

Fetcher = Callable[[str, Path], None]


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def download_dir() -> Path:
    """`$MTEVAL_CACHE_DIR/downloads` (default `~/.cache/mteval/downloads`)."""
    base = Path(os.environ.get("MTEVAL_CACHE_DIR", Path.home() / ".cache" / "mteval"))
    return base / "downloads"


def httpx_fetch(url: str, target: Path) -> None:
    """Download `url` to `target` (atomically); errors name the URL."""
    import httpx

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            response.raise_for_status()
            with partial.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise ConfigurationError(f"cannot download {url}: {exc}") from exc
    os.replace(partial, target)


def resolve(value: str | os.PathLike, what: str, fetch: Fetcher | None = None) -> Path:
    """A local file for `value`: an existing path, a URL (downloaded once and cached,
    keeping the URL's file name) or `published` (the benchmark's own file)."""
    text = str(value)
    if text == "published":
        if what not in PUBLISHED:
            raise ConfigurationError(f"RAD-Bench: no published location for {what}")
        text = PUBLISHED[what]
    if is_url(text):
        name = text.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or f"{what}.jsonl"
        target = download_dir() / hashlib.sha256(text.encode()).hexdigest()[:16] / name
        if not target.is_file():
            (fetch or httpx_fetch)(text, target)
        return target
    path = Path(text).expanduser()
    if not path.is_file():
        raise ConfigurationError(f"RAD-Bench {what} file not found: {text}")
    return path
