"""Keep secrets out of everything we write: logs, results, caches and the site."""

from __future__ import annotations

import os
import re
from typing import Iterable

# Environment variables whose values are credentials, wherever they show up.
_SECRET_ENV = re.compile(r"(API_KEY|_TOKEN|_SECRET|PASSWORD)$")
# Shapes of common provider keys, scrubbed even when we never held the value.
_KEY_SHAPES = re.compile(r"\b(sk-(?:ant-)?[A-Za-z0-9_\-]{16,}|hf_[A-Za-z0-9]{20,}|AIza[0-9A-Za-z_\-]{30,})\b")


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        values = {s for s in secrets if s and len(s) >= 6}
        values |= {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and v and len(v) >= 6}
        self._values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, "***")
        return _KEY_SHAPES.sub("***", text)
