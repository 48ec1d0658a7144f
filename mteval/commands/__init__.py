"""The `mteval` subcommands, one module each (`run`, `list`, `show` included).

A command module defines `register(subparsers)`, which adds its parser and sets
`handler=<function(args) -> exit code>` with `set_defaults`. Registering its module name
in `COMMANDS` (or, from another package, an entry point `name = package.module` in the
group `mteval.commands`) is all it takes to add a command; modules are imported only
when the CLI builds its parser.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint

from mteval.plugins import Registry


def _command_from_entry_point(ep: EntryPoint) -> str:
    """The module name; imported (and checked for `register`) when the CLI is built."""
    return ep.module


COMMANDS: Registry[str] = Registry("commands", from_entry_point=_command_from_entry_point)

_BUILTINS = {
    "run": "run", "list": "listing", "show": "show", "judge": "judge", "compare": "compare",
    "importer": "importer", "leaderboard": "leaderboard", "penalty": "penalty", "view": "view",
}
"""Registry name -> module in this package, in the order `mteval --help` lists the commands."""
for _name, _module in _BUILTINS.items():
    COMMANDS.register(_name, f"mteval.commands.{_module}")
