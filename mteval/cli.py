"""The `mteval` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from mteval import __version__
from mteval.cli_options import (
    DEFAULT_OUTPUT_DIR,
    add_cache_options,
    add_request_options,
    apply_formatter,
    id_list,
    limit_value,
    positive_int,
)
from mteval.models.errors import ConfigurationError
from mteval.scoring.aggregations import aggregation_names

EXIT_USAGE = 2
EXIT_RUN_ERRORS = 3
"""`mteval run`: some conversations errored (unless --allow-errors); distinct from usage errors (2)."""


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
        result[key] = _structured(key, value, what) if value.startswith(("{", "[")) else _coerce(value)
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


def _coerce(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mteval", description="Multi-turn evaluation of language models.")
    parser.add_argument("--version", action="version", version=f"mteval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="evaluate a model on tasks")
    run.add_argument("--tasks", required=True, help="comma-separated tasks or families, e.g. mt_eval or example/arithmetic")
    run.add_argument("--model", required=True, help="provider/model, e.g. openai/gpt-4o-mini, replay/gold, scripted/echo")
    run.add_argument("--model-args", default="", help="key=value,... passed to the model adapter (base_url=..., pretrained=...)")
    run.add_argument("--history", choices=["own", "gold", "single"], default="own", help="what earlier turns contain (default: own)")
    run.add_argument(
        "--limit", type=limit_value, default=None, metavar="N|FRACTION",
        help="first N conversations of each task, or a fraction of each (0.1 = first 10%%, rounded up)",
    )
    run.add_argument(
        "--ids", type=id_list, default=None, metavar="ID[,ID...]",
        help="only these conversation ids (comma-separated; applied before --limit)",
    )
    run.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: the task's, else the provider's)")
    run.add_argument("--max-tokens", type=positive_int, default=None, help="most tokens per reply (default: the task's, else the provider's)")
    run.add_argument("--seed", type=int, default=None, help="sampling seed, for providers that accept one")
    run.add_argument("--stop", action="append", default=None, help="stop sequence (repeatable)")
    run.add_argument("--judge", action="append", default=[], help="judge model id; several (repeated or comma-separated) form a jury")
    run.add_argument("--judge-args", default="", help="key=value,... for the judge adapters")
    run.add_argument("--jury", type=Path, default=None, help="jury definition file (YAML, see judges/jury-example.yaml)")
    run.add_argument("--aggregate", default="mean", choices=aggregation_names(), help="how --judge models are combined")
    run.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="folder that receives the run directory")
    run.add_argument("--run-id", default=None, help="name of the run directory (default: derived from the configuration)")
    add_cache_options(run)
    add_request_options(run)  # --max-concurrency --rate-limit --max-attempts --timeout
    run.add_argument("--include-path", action="append", type=Path, default=[], help="extra folder of task plugins")
    run.add_argument("--task-args", default="", help="key=value,... passed to every task")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on a terminal, no progress lines otherwise")
    run.add_argument("--json", action="store_true", help="print the manifest as JSON instead of the table")
    run.add_argument("--allow-errors", action="store_true", help=f"exit 0 even if conversations errored (default: exit {EXIT_RUN_ERRORS})")
    from mteval.commands.compare import add_gate_arguments

    add_gate_arguments(run)  # --baseline RUN_DIR and the gate's options

    lst = sub.add_parser("list", help="list tasks, providers or judges")
    lst.add_argument("what", choices=["tasks", "providers", "judges"], help="what to list")
    lst.add_argument("--include-path", action="append", type=Path, default=[], help="extra folder of task plugins")

    show = sub.add_parser("show", help="print a run's metrics")
    show.add_argument("run_dir", type=Path, help="a run directory (holds run.json)")
    show.add_argument("--json", action="store_true", help="print the manifest as JSON instead of the table")

    import importlib
    import importlib.util

    from mteval.commands import COMMANDS

    for command, module_name in COMMANDS.items():
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:  # its parent package is missing
            spec = None
        if spec is None:
            if COMMANDS.origin(command) != "builtin":  # a built-in may be left out of a slim install
                raise ConfigurationError(f"command {command!r} ({COMMANDS.origin(command)}): no module {module_name}")
        else:
            module = importlib.import_module(module_name)
            if not callable(getattr(module, "register", None)):
                raise ConfigurationError(f"command module {module_name} has no register(subparsers) function")
            module.register(sub)
    apply_formatter(parser)
    return parser


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from mteval.client import RetryPolicy
    from mteval.report import print_report
    from mteval.runner import RunConfig, Runner

    generation: dict[str, Any] = {}
    for name in ("temperature", "max_tokens", "seed"):
        if getattr(args, name) is not None:
            generation[name] = getattr(args, name)
    if args.stop:
        generation["stop"] = list(args.stop)
    from mteval.scoring.jury import JuryConfig

    judges = [j.strip() for item in args.judge for j in item.split(",") if j.strip()]
    if args.jury and judges:
        raise ConfigurationError("give either --judge or --jury, not both")
    jury = JuryConfig.from_file(args.jury) if args.jury else None
    if judges:
        jury = JuryConfig.from_models(judges, parse_kv(args.judge_args, "--judge-args"), aggregate=args.aggregate)
    config = RunConfig(
        tasks=args.tasks,
        model=args.model,
        model_args=parse_kv(args.model_args),
        history=args.history,
        limit=args.limit,
        ids=args.ids,
        max_concurrency=args.max_concurrency,
        generation=generation,
        jury=jury,
        output_dir=args.output_dir,
        run_id=args.run_id,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        rate_limits=dict(args.rate_limit),
        retry=RetryPolicy(max_attempts=args.max_attempts, timeout_s=args.timeout),
        include_paths=args.include_path,
        task_options=parse_kv(args.task_args, "--task-args"),
        command=["mteval", *argv],
        progress=not args.no_progress,  # a bar on a terminal, periodic lines otherwise
    )
    outcome = Runner(config).run()
    if args.json:
        print(json.dumps(outcome.manifest, indent=2))
    else:
        print_report(outcome.manifest, str(outcome.run_dir))
    if outcome.interrupted:
        print("interrupted: finished conversations are saved; run the same command again to resume", file=sys.stderr)
        return 130
    code = 0
    if args.baseline is not None:
        from mteval.commands.compare import run_gate

        code = run_gate(args, outcome.run_dir)  # 0 no regression, 1 regression, 2 not comparable
    errored = outcome.manifest["totals"]["errored_conversations"]
    if errored and not args.allow_errors and code == 0:
        print(
            f"mteval run: {errored} conversation(s) errored (see the errors above); exit {EXIT_RUN_ERRORS}. "
            "Re-run the same command to retry them, or pass --allow-errors to accept them.",
            file=sys.stderr,
        )
        return EXIT_RUN_ERRORS
    return code


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from mteval.progress import output_console

    console = output_console()  # full names when piped (`mteval list tasks | grep rad`)
    if args.what == "providers":
        from mteval.models import PROVIDERS

        table = Table("provider", "what it reaches")
        for name, (_, _, doc) in PROVIDERS.items():
            table.add_row(name, doc)
        console.print(table)
        return 0
    if args.what == "judges":
        from mteval.scoring.judge import list_specs, load_spec

        table = Table("judge definition", "kind", "parser", "sees")
        for name in list_specs():
            judge = load_spec(name)
            table.add_row(name, judge.kind, judge.parser, judge.sees)
        console.print(table)
        console.print("Judge models are any model id: --judge provider/model[,provider/model...] or --jury FILE.")
        return 0
    from mteval.registry import all_tasks, load_include_path

    for path in args.include_path:
        load_include_path(path)
    table = Table("task", "version", "main", "category", "origin", "description")
    for name, spec in all_tasks().items():
        cls = spec.cls
        table.add_row(name, cls.version, "yes" if cls.main else "", cls.category or "", spec.origin, cls.description)
    console.print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from mteval.redact import Redactor
    from mteval.report import print_report
    from mteval.results import read_manifest

    manifest = Redactor().deep(read_manifest(args.run_dir))  # older runs may hold URL passwords
    if args.json:
        print(json.dumps(manifest, indent=2))
    else:
        print_report(manifest, str(args.run_dir))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
    except ConfigurationError as exc:  # a broken command plugin: one line, no traceback
        print(f"mteval: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return _dispatch(args, argv)
    except BrokenPipeError:
        # `mteval show RUN --json | head`: the reader left; say nothing more
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        known = user_error(exc)
        if known is None:
            raise  # a bug: keep the traceback
        from mteval.redact import Redactor

        code, message = known
        print(f"mteval: error: {Redactor()(message)}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def user_error(exc: BaseException) -> tuple[int, str] | None:
    """Exit code for errors the user can act on (printed as one line, no traceback):
    2 for bad input or configuration, 1 for a failed write or a missing optional
    dependency; None for anything else (a bug, shown with its traceback)."""
    from mteval.cache import CacheWriteError
    from mteval.results import ResultsError, SampleWriteError

    if isinstance(exc, (CacheWriteError, SampleWriteError)):
        return 1, str(exc)
    if isinstance(exc, (ConfigurationError, ResultsError)):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, ModuleNotFoundError):
        return 1, f"missing optional dependency {exc.name!r}; for local models install the extra: pip install 'mteval[hf]'"
    if isinstance(exc, OSError) and exc.filename is not None:
        return 1, f"{exc.filename}: {exc.strerror}"
    return None


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    from mteval.results import ResultsError

    try:
        if args.command == "run":
            return cmd_run(args, argv)
        if args.command == "list":
            return cmd_list(args)
        if args.command == "show":
            return cmd_show(args)
        if hasattr(args, "handler"):
            args.argv = argv  # the command line as given, for manifests
            return int(args.handler(args))
    except (ConfigurationError, ResultsError):
        raise
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
