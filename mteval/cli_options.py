"""Argument types and option groups shared by the `mteval` subcommands.

Numbers are checked where they are parsed, so `--limit -1` or `--rate-limit abc` end in
argparse's own one-line usage error (exit 2) instead of a traceback or a silently odd
run. `run` and `judge` get their request options from `add_request_options`, so the two
commands cannot drift apart.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT_DIR = Path("mteval-results")
"""Where `mteval run` writes run directories unless told otherwise: a folder of its own
in the working directory, never the repository's committed `results/`."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends "(default: X)" to an option's help unless the help already names its default
    or there is none worth showing (None, False, an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, [], "", argparse.SUPPRESS):
            return text
        if not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def apply_formatter(parser: argparse.ArgumentParser) -> None:
    """Give `parser` and every subparser below it `HelpFormatter`."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                apply_formatter(child)


# --- argument types ----------------------------------------------------------------------
def _number(text: str, cast: type) -> Any:
    try:
        value = cast(text)
    except ValueError:
        kind = "a whole number" if cast is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def limit_value(text: str) -> int | float:
    """`--limit`: N >= 1 conversations per task, or a fraction 0 < x < 1 of each task
    (as in lm-eval: `--limit 0.1` is the first 10%, rounded up)."""
    value = _number(text, float)
    if 0 < value < 1:
        return value
    if value >= 1 and value.is_integer():
        return int(value)
    raise argparse.ArgumentTypeError(f"must be a whole number >= 1 or a fraction between 0 and 1, got {text}")


def id_list(text: str) -> list[str]:
    """`--ids a,b,c`: conversation ids, comma-separated."""
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("expected one or more conversation ids, e.g. --ids conv-1,conv-7")
    return ids


def rate_limits(text: str) -> dict[str, float]:
    """`--rate-limit 5` (every provider) or `openai=5,anthropic=2`: requests per second > 0."""
    limits: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            key, value = "*", key
        elif not key.strip():
            raise argparse.ArgumentTypeError(f"expected provider=rate, got {part!r}")
        try:
            rate = float(value.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected requests per second (5, or provider=rate,... such as openai=5), got {text!r}") from None
        if not math.isfinite(rate) or rate <= 0:
            raise argparse.ArgumentTypeError(f"requests per second must be a number > 0, got {part.strip()!r}")
        limits[key.strip()] = rate
    if not limits:
        raise argparse.ArgumentTypeError("expected requests per second, e.g. 5 or openai=5,anthropic=2")
    return limits


# --- option groups -----------------------------------------------------------------------
def add_request_options(parser: argparse.ArgumentParser) -> None:
    """--max-concurrency, --rate-limit, --max-attempts, --timeout: how requests are sent
    (the model's and the judges'). Values land in args.max_concurrency, args.rate_limit
    (a dict, {} when unset), args.max_attempts and args.timeout."""
    parser.add_argument("--max-concurrency", type=positive_int, default=32, metavar="N", help="conversations in flight at once")
    parser.add_argument(
        "--rate-limit", type=rate_limits, default={}, metavar="RATE",
        help="requests per second: a number for every provider, or provider=rate,... (default: unlimited)",
    )
    parser.add_argument("--max-attempts", type=positive_int, default=6, metavar="N", help="attempts per request, retries included")
    parser.add_argument("--timeout", type=positive_float, default=120.0, metavar="SECONDS", help="seconds per request")


def add_cache_options(parser: argparse.ArgumentParser) -> None:
    """--cache-dir and --no-cache."""
    parser.add_argument(
        "--cache-dir", type=Path, default=None,
        help="response cache directory (default: $MTEVAL_CACHE_DIR or ~/.cache/mteval)",
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")
