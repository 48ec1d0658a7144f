"""Subcommands beyond run/list/show, one module each.

A command module defines `register(subparsers)`, which adds its parser and sets
`handler=<function(args) -> exit code>` with `set_defaults`. Listing a module here is
all it takes to add a command; modules are imported lazily only when present.
"""

COMMAND_MODULES = [
    "mteval.commands.judge",
    "mteval.commands.compare",
    "mteval.commands.importer",
    "mteval.commands.leaderboard",
    "mteval.commands.penalty",
    "mteval.commands.view",
]
