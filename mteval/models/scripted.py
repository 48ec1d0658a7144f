"""`scripted/<name>`: deterministic models for tests, demos and judge stand-ins.

A script is a function `(messages, params, context, args) -> str`. Built-ins:
`echo` (repeats the last user message), `constant` (`text=` argument, default "OK"),
`fail` (always raises a server error, for error-path tests). Tasks and tests add their
own with `register_script`, third parties through the entry-point group `mteval.scripts`
(naming a `ScriptEntry`, or a bare script function, whose args are then not checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from typing import Any, Callable, Iterable, Mapping, Sequence

from mteval.conversation import Message
from mteval.errors import ConfigurationError, ServerError
from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext, check_number_args
from mteval.plugins import Registry
from mteval.transcript import Usage

Script = Callable[[Sequence[Message], GenerationParams, RequestContext, Mapping[str, Any]], str]



@dataclass(frozen=True)
class ScriptEntry:
    """A script with the model args it reads (None: not declared, any key is accepted),
    one entry so that scripts from entry points get their arguments checked too."""

    script: Script
    args: frozenset[str] | None = None
    number_args: Mapping[str, str] = field(default_factory=dict)
    """Args that must be numbers, name -> kind as in `ModelAdapter.number_args`: checked before
    the run, so `memory=abc` is a usage error naming the arg, not a ValueError inside the script.
    They count as declared args."""

    def __post_init__(self) -> None:
        if self.args is not None:
            object.__setattr__(self, "args", self.args.union(self.number_args))

    def __call__(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext, args: Mapping[str, Any]) -> str:
        return self.script(messages, params, context, args)


def _from_entry_point(ep: EntryPoint) -> ScriptEntry:
    loaded = ep.load()
    if isinstance(loaded, ScriptEntry):
        return loaded
    if not callable(loaded):
        raise ConfigurationError(f"mteval.scripts entry point {ep.name!r} ({ep.value}) is neither a ScriptEntry nor a function")
    return ScriptEntry(loaded)


SCRIPTS: Registry[ScriptEntry] = Registry("scripts", from_entry_point=_from_entry_point, complete_on_miss=True)
"""name -> ScriptEntry; also the entry-point group `mteval.scripts`. Task families register
scripts too (`scripted/calculator`), so a name not yet seen imports them before it is unknown."""


def register_script(name: str, script: Script, args: Iterable[str] | None = None, number_args: Mapping[str, str] | None = None) -> Script:
    """Make `scripted/<name>` available; `args` names the model args it reads, so a typo
    (`memroy=3`) is an error instead of a silently ignored setting. `number_args` (name ->
    kind, see `ModelAdapter.number_args`) are args it reads as numbers; they count as declared."""
    entry = ScriptEntry(script, frozenset(args) if args is not None else None, dict(number_args or {}))
    SCRIPTS.register(name, entry, replace=True)  # tests redefine their scripts
    return script


def _echo(messages, params, context, args) -> str:
    return next((m.content for m in reversed(messages) if m.role == "user"), "")


def _constant(messages, params, context, args) -> str:
    return str(args.get("text", "OK"))


def _fail(messages, params, context, args) -> str:
    raise ServerError("scripted failure", status=500)


register_script("echo", _echo, args=())
register_script("constant", _constant, args={"text"})
register_script("fail", _fail, args=())


class ScriptedModel(ModelAdapter):
    provider = "scripted"
    cacheable = False

    def validate(self) -> None:
        if self.model not in SCRIPTS:
            from mteval.suggest import close_matches_message

            raise ConfigurationError(f"unknown script {self.model!r}. {close_matches_message(self.model, SCRIPTS)}")
        known = SCRIPTS[self.model].args
        for name in self.args:
            if known is not None and name not in known:
                from mteval.suggest import close_matches_message

                hint = close_matches_message(str(name), known) if known else "This script takes no model args."
                raise ConfigurationError(f"{self.model_id}: unknown model arg {name!r}. {hint}")
        check_number_args(self.model_id, self.args, SCRIPTS[self.model].number_args)

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        text = SCRIPTS[self.model](messages, params, context, self.args)
        words_in = sum(len(m.content.split()) for m in messages)
        return ModelOutput(text=text, usage=Usage(input_tokens=words_in, output_tokens=len(text.split())), finish_reason="stop")


def __getattr__(name: str) -> Any:
    """`SCRIPT_ARGS`, the old separate table of each script's args, as a snapshot of the
    registry (read-only: register a script with its args instead)."""
    if name == "SCRIPT_ARGS":
        return {script: entry.args for script, entry in SCRIPTS.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
