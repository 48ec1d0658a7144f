"""Argument types and option groups shared by the `mteval` subcommands.

Numbers are checked where they are parsed, so `--limit -1` or `--rate-limit abc` end in
argparse's own one-line usage error (exit 2) instead of a traceback or a silently odd
run. `run` and `judge` get their request and judge options from `add_request_options` and
`add_judge_options`, so the two commands cannot drift apart. `parse_kv` reads the
`key=value,...` options (--model-args, --judge-args, --task-args) of every command.

Only the standard library is imported here: every `mteval` invocation, `--help` included,
loads this module.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from mteval.errors import ConfigurationError

if TYPE_CHECKING:
    from mteval.scoring.jury import JuryConfig

EXIT_USAGE = 2
"""Bad input or configuration (argparse's own usage errors exit 2 as well)."""
EXIT_RUN_ERRORS = 3
"""`mteval run`: some conversations errored (unless --allow-errors); distinct from usage errors (2)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT, as a shell reports it): finished conversations are kept."""

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


class LazyChoices(Sequence[str]):
    """argparse `choices` read from a registry when first needed (parsing the option, or
    its command's --help), not when the parser is built: `mteval --help` and commands
    that do not use the option never import the registry's module (the aggregations
    pull in pydantic, half of `mteval --help`'s start-up). Give the option a `metavar`:
    argparse then never lists the choices while the parser is built (it formats the
    metavar once to check it), and `%(choices)s` in the help is expanded only when the
    help is shown."""

    def __init__(self, names: Callable[[], Sequence[str]]) -> None:
        self._names = names

    def _all(self) -> list[str]:
        return list(self._names())

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __contains__(self, name: object) -> bool:
        return name in self._all()


def _aggregation_names() -> list[str]:
    from mteval.scoring.aggregations import aggregation_names

    return list(aggregation_names())


def _label_aggregation_names() -> list[str]:
    from mteval.scoring.aggregations import label_aggregation_names

    return list(label_aggregation_names())


AGGREGATION_CHOICES = LazyChoices(_aggregation_names)
LABEL_AGGREGATION_CHOICES = LazyChoices(_label_aggregation_names)


def add_judge_options(parser: argparse.ArgumentParser) -> None:
    """--judge, --judge-args, --jury, --aggregate: who judges and how verdicts combine."""
    parser.add_argument("--judge", action="append", default=[], help="judge model id; several (repeated or comma-separated) form a jury")
    parser.add_argument("--judge-args", default="", help="key=value,... for the judge adapters")
    parser.add_argument("--jury", type=Path, default=None, help="jury definition file (YAML, see judges/jury-example.yaml)")
    parser.add_argument(
        "--aggregate", default="mean", choices=AGGREGATION_CHOICES, metavar="AGGREGATION",
        help="how --judge models are combined: %(choices)s (default: %(default)s)",
    )


def judge_ids(values: list[str]) -> list[str]:
    """`--judge a --judge b,c` -> ["a", "b", "c"]."""
    return [j.strip() for item in values for j in item.split(",") if j.strip()]


def jury_from_args(args: argparse.Namespace, *, required_by: str | None = None) -> JuryConfig | None:
    """The jury of --judge models or a --jury file (not both), for every command with the
    judge options. None: neither given (the tasks' own judging); a command that cannot do
    without judges names itself in `required_by` and gets an error instead."""
    from mteval.scoring.jury import JuryConfig

    judges = judge_ids(args.judge)
    if required_by is not None and bool(judges) == bool(args.jury):
        raise ConfigurationError(f"{required_by} needs exactly one of --judge or --jury")
    if args.jury and judges:
        raise ConfigurationError("give either --judge or --jury, not both")
    if judges:
        return JuryConfig.from_models(judges, parse_kv(args.judge_args, "--judge-args"), aggregate=args.aggregate)
    return JuryConfig.from_file(args.jury) if args.jury else None


# --- key=value options -------------------------------------------------------------------
def parse_kv(text: str | None, what: str = "--model-args") -> dict[str, Any]:
    """`a=1,b=x,c=true` -> {"a": 1, "b": "x", "c": True}. A value starting with `{` or `[`
    is JSON (`default_headers={"X-Sig": "v", "X-Other": "w"}`; commas inside it do not split),
    so headers reach the SDK as a mapping and their values are masked like any header."""
    result: dict[str, Any] = {}
    if not text:
        return result
    for part in _split_top_level(text):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"{what}: expected key=value, got {_shown(part)}")
        key, value = key.strip(), value.strip()
        result[key] = _structured(key, value, what) if value.startswith(("{", "[")) else _scalar(value)
        _check_headers(key, result[key], what)
    return result


def _check_headers(key: str, value: Any, what: str) -> None:
    """Headers must be a mapping: only then is each value masked where args are recorded (a
    plain string was written in clear, then crashed the SDK). The value is not quoted."""
    from mteval.redact import is_header_name

    if is_header_name(key) and value is not None and not isinstance(value, dict):
        raise ConfigurationError(
            f'{what}: {key}= must be a JSON mapping of header name to value, e.g. {key}={{"X-Name": "value"}} '
            "(the value given is not shown)"
        )


def _shown(item: str) -> str:
    """A malformed item as an error may quote it: not at all when it names a credential
    (`api_key` typed without its `=` is followed by the key itself)."""
    from mteval.models.base import is_secret_name

    return "an item naming a credential (value not shown)" if is_secret_name(item) else repr(item)


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside JSON brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            if char == quote and text[i - 1] != "\\":
                quote = ""
        elif char == '"' and depth:
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]" and depth:
            depth -= 1
        elif char == "," and not depth:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _structured(key: str, value: str, what: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:  # the value is not quoted back: it may hold a header secret
        raise ConfigurationError(
            f"{what}: {key}= starts with {value[0]!r} but is not valid JSON ({exc.msg} at character {exc.pos}); "
            'write it as JSON, e.g. default_headers={"X-Name": "value"}'
        ) from None


_WORDS: dict[str, Any] = {"true": True, "false": False, "none": None, "null": None}


def _scalar(value: str) -> Any:
    """true/false/none/null (any case), then an int, then a float, else the text."""
    lowered = value.lower()
    if lowered in _WORDS:
        return _WORDS[lowered]
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value
