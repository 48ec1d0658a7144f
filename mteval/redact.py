"""Keep secrets out of everything we write: logs, results, caches and the site.

Three rules, applied wherever text leaves the process (see SECURITY.md):
- values we know are secret (api_key args, header values, URL passwords, credential-named
  environment variables) are replaced by `***` in any text;
- a URL's userinfo (`scheme://user:pass@host`) is replaced by `***@` wherever it appears;
- strings shaped like common provider keys are replaced even when we never held them.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

MASK = "***"
# Environment variables whose values are credentials, wherever they show up.
_SECRET_ENV = re.compile(r"(API_KEY|ACCESS_KEY|SECRET_KEY|_TOKEN|_SECRET|PASSWORD|_PASS|_PASSWD|_CREDENTIALS?)$", re.IGNORECASE)
# Placeholder "keys" local servers accept; masking these words everywhere would only garble text.
_PLACEHOLDERS = {"empty", "none", "null", "dummy", "test", "x"}
# Shapes of common provider keys, scrubbed even when we never held the value.
_KEY_SHAPES = re.compile(r"\b(sk-(?:ant-)?[A-Za-z0-9_\-]{16,}|hf_[A-Za-z0-9]{20,}|AIza[0-9A-Za-z_\-]{30,})\b")
# `scheme://userinfo@` in any text (command lines, error messages, URLs in args).
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s@?#]+)@")
# `Bearer <token>` / `Basic <token>` as printed in headers and SDK errors.
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{8,}")
_MIN_SECRET_LEN = 6  # shorter values would garble ordinary words; URL userinfo is scrubbed by shape


def scrub_url_userinfo(text: str) -> str:
    """`http://user:pw@host/v1` -> `http://***@host/v1` everywhere in `text`."""
    return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)


def url_secrets(value: Any) -> list[str]:
    """The userinfo, user and password of a URL-valued argument (empty if none)."""
    if not isinstance(value, str) or "://" not in value or "@" not in value:
        return []
    try:
        parts = urlsplit(value)
    except ValueError:
        return []
    found = []
    if "@" in parts.netloc:
        found.append(parts.netloc.rsplit("@", 1)[0])
    for piece in (parts.password, parts.username):
        if piece:
            found.append(piece)
    return found


def is_header_name(name: str) -> bool:
    """Args holding HTTP headers (`default_headers`, `extra_headers`, `headers`): every
    value in them is treated as a credential (custom signature headers are common)."""
    return "header" in name.lower()


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    return [v for k, v in environ.items() if _SECRET_ENV.search(k) and v and len(v) >= 6]


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        values = {s for s in secrets if s and len(s) >= _MIN_SECRET_LEN and s.lower() not in _PLACEHOLDERS}
        values |= set(env_secrets())
        self._values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        text = scrub_url_userinfo(text)
        text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {MASK}", text)
        return _KEY_SHAPES.sub(MASK, text)

    def deep(self, value: Any) -> Any:
        """The same rules applied to every string inside nested dicts and lists."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.deep(v) for v in value]
        return value
