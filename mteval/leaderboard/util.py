"""Small deterministic helpers: slugs, number formatting, JSON/CSV writers."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence, TypeGuard


def short_hash(text: str, length: int = 8) -> str:
    """First `length` hex digits of the sha256 of `text` (a stable id)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def slugify(text: str, max_len: int = 60) -> str:
    """A file-name-safe, lower-case slug (`a/b c` -> `a-b-c`); never empty."""
    slug = re.sub(r"[^a-z0-9._]+", "-", text.lower()).strip("-._")[:max_len].strip("-._")
    return slug or "x"


def unique_slugs(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """`{key: slug}` for `(key, readable name)` pairs; slugs that would collide (or
    were truncated) get a hash of their key appended, so ids are unique and stable."""
    names = dict(sorted(set(items)))
    by_slug: dict[str, list[str]] = defaultdict(list)
    for key, name in names.items():
        by_slug[slugify(name)].append(key)
    result: dict[str, str] = {}
    for slug, keys in by_slug.items():
        for key in keys:
            name = names[key]
            clash = len(keys) > 1 or len(slugify(name, 10_000)) > len(slug)
            result[key] = f"{slug}-{short_hash(key)}" if clash else slug
    return result


def is_number(value: Any) -> TypeGuard[float]:
    """A finite int or float (not a bool); narrows `value` for the type checker."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def fmt(value: Any, digits: int = 3) -> str:
    """A score as shown on the site ("-" when missing)."""
    if not is_number(value):
        return "—"
    return f"{float(value):.{digits}f}"


def fmt_int(value: Any) -> str:
    """An integer count with thousands separators ("-" when missing)."""
    if not is_number(value):
        return "—"
    return f"{int(value):,}"


def clean(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null, tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def dumps(data: Any) -> str:
    """Canonical JSON text (sorted keys, fixed indentation, trailing newline)."""
    return json.dumps(clean(data), indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def write_json(path: Path, data: Any) -> None:
    write_text(path, dumps(data))


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV with `\\n` line ends; floats written with repr precision, None as empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v for v in row])
    return buffer.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    write_text(path, csv_text(header, rows))
