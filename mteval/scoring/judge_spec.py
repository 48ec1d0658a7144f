"""Judge definitions and single judge calls.

A judge definition (`JudgeSpec`) is data: prompt template, system prompt, output
parser, scale, and the format reminder used for one re-ask. Definitions live as YAML
in `judges/` or are built by a task from its benchmark's own template. A definition
bound to a judge *model* (a `ModelClient`) makes one juror; judges go through the same
adapters, cache, retries and concurrency as the model under test.

Templates are either Jinja2 (`template_format: jinja`, mteval's own judges) or the
benchmarks' `{name}` placeholders (`placeholders`), substituted in a single pass so a
candidate reply that contains `{constraints}` is never expanded (upstream MT-Eval
replaces sequentially; this only differs for such replies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

from pydantic import BaseModel, Field

from mteval.conversation import Message
from mteval.errors import ConfigurationError, ModelError
from mteval.models.base import GenerationParams, RequestContext
from mteval.plugins import Registry
from mteval.scoring.parsers import Parsed, ParseFailure, get_parser

if TYPE_CHECKING:
    from mteval.client import ModelClient

def _judges_dir() -> Path:
    """The shipped judge definitions: package data of `mteval_judges` (the repository's
    `judges/` folder), found through importlib.resources so a wheel install finds them
    as well as an editable one. Wheels are unpacked on disk, so this is a real folder."""
    from importlib.resources import files

    return Path(str(files("mteval_judges")))


JUDGES_DIR = _judges_dir()

DEFAULT_REMINDER = "Your previous reply could not be parsed. Reply again, ending with the verdict in exactly the required format."


class JudgeSpec(BaseModel):
    name: str
    kind: Literal["score", "pairwise", "label"] = "score"
    description: str = ""
    system: str | None = None
    template: str
    template_format: Literal["jinja", "placeholders"] = "jinja"
    parser: str = "rating"
    scale: tuple[float, float] | None = (1, 10)
    out_of_range: Literal["unparsed", "keep", "clip"] = "unparsed"
    reminder: str = DEFAULT_REMINDER
    generation: dict[str, Any] = Field(default_factory=lambda: {"temperature": 0.0, "max_tokens": 2048})
    sees: str = "the current turn"
    source: str | None = None

    def params(self) -> GenerationParams:
        return GenerationParams().merged(self.generation)

    def render(self, variables: Mapping[str, Any]) -> list[Message]:
        """The judge's messages for these variables: optional system, one user message."""
        if self.template_format == "jinja":
            text = _jinja_env().from_string(self.template).render(**variables)
        else:
            text = fill_placeholders(self.template, variables)
        messages = [Message(role="system", content=self.system)] if self.system else []
        messages.append(Message(role="user", content=text))
        return messages


def fill_placeholders(template: str, variables: Mapping[str, Any]) -> str:
    """Replace `{name}` for the given names in one pass over the template only."""
    if not variables:
        return template
    pattern = re.compile("{(" + "|".join(re.escape(k) for k in variables) + ")}")
    return pattern.sub(lambda m: str(variables[m.group(1)]), template)


_ENV = None


def _jinja_env():
    global _ENV
    if _ENV is None:
        import jinja2

        _ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return _ENV


def load_spec(name_or_path: str | Path) -> JudgeSpec:
    """A judge definition by name (judges/<name>.yaml) or path."""
    import yaml

    source = _family_source(str(name_or_path))
    if source is not None:
        return source.build(str(name_or_path).split("/", 1)[1])
    path = Path(name_or_path)
    if not path.suffix:
        path = JUDGES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigurationError(f"unknown judge definition {str(name_or_path)!r}. Known: {', '.join(sorted(list_specs()))}")
    try:
        from mteval.data import read_utf8

        data = yaml.safe_load(read_utf8(path))  # bad bytes: DataError (a ConfigurationError) with file:line
        return JudgeSpec.model_validate(data)
    except Exception as exc:
        raise ConfigurationError(f"{path}: invalid judge definition: {exc}") from exc


def list_specs() -> dict[str, Path]:
    specs = {p.stem: p for p in sorted(JUDGES_DIR.glob("*.yaml")) if not p.stem.startswith("jury")}
    for prefix, source in _spec_sources().items():
        specs.update({f"{prefix}/{name}": path for name, path in source.names().items()})
    return specs


@dataclass(frozen=True)
class SpecSource:
    """A family's judge definitions, named `<prefix>/<name>`: `build(name)` makes one
    (a ConfigurationError for an unknown name), `names()` maps each name to its file."""

    build: Callable[[str], JudgeSpec]
    names: Callable[[], Mapping[str, Path]]


SPEC_SOURCES: Registry[SpecSource] = Registry("judges")
"""prefix -> SpecSource: the families' judge definitions (`<prefix>/<name>`); third parties
add theirs through the entry-point group `mteval.judges` (an entry point named after the
prefix, naming a `SpecSource`). The shipped YAML definitions (`JUDGES_DIR`) have no prefix."""
_SPEC_SOURCES = SPEC_SOURCES  # the old name


def register_spec_source(prefix: str, build: Callable[[str], JudgeSpec], names: Callable[[], Mapping[str, Path]]) -> SpecSource:
    """Let a family serve judge definitions built from its benchmark's own prompt files
    (e.g. `mt_bench/single-v1`), so the engine holds no benchmark's prompts. A prefix
    another source holds is refused (`DuplicateRegistration`)."""
    return SPEC_SOURCES.register(prefix, SpecSource(build, names))


def _spec_sources() -> Registry[SpecSource]:
    """The registered sources, after the families (which register them) are imported."""
    from mteval.registry import load_builtin

    load_builtin()
    return SPEC_SOURCES


def _family_source(name: str) -> SpecSource | None:
    prefix, slash, _ = name.partition("/")
    if not slash or not prefix or Path(name).suffix:
        return None
    return _spec_sources().get(prefix)


class Verdict(BaseModel):
    """One juror's reading of one item."""

    judge: str
    spec: str
    status: Literal["ok", "unparsed", "error"] = "ok"
    value: float | None = None
    label: str | None = None
    explanation: str | None = None
    raw: str | None = None
    reasked: bool = False
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Juror:
    """A judge model, optionally with its own definition overriding the task's."""

    client: "ModelClient"
    spec_override: JudgeSpec | None = None
    calls: int = field(default=0)

    @property
    def id(self) -> str:
        return self.client.model_id

    async def judge(self, spec: JudgeSpec, variables: Mapping[str, Any], context: RequestContext) -> Verdict:
        spec = self.spec_override or spec
        messages = spec.render(variables)
        params = spec.params()
        try:
            completion = await self.client.generate(messages, params, context)
        except ModelError as exc:
            return Verdict(judge=self.id, spec=spec.name, status="error", explanation=f"{type(exc).__name__}: {exc}")
        self.calls += 1
        verdict = _read(spec, completion.text)
        if verdict is not None and verdict.ok:
            return verdict.model_copy(update={"judge": self.id, "cached": completion.cached})
        # one re-ask with a short format reminder (also for a rating outside the scale,
        # which the reminder states), then give up honestly
        reask = messages + [Message(role="assistant", content=completion.text), Message(role="user", content=spec.reminder)]
        try:
            second = await self.client.generate(reask, params, context)
        except ModelError as exc:
            return Verdict(judge=self.id, spec=spec.name, status="unparsed", raw=completion.text, reasked=True, explanation=f"re-ask failed: {exc}")
        self.calls += 1
        verdict = _read(spec, second.text)
        if verdict is not None and verdict.ok:
            return verdict.model_copy(update={"judge": self.id, "reasked": True, "cached": second.cached})
        return Verdict(
            judge=self.id,
            spec=spec.name,
            status="unparsed",
            raw=completion.text + "\n\n[re-ask]\n" + second.text,
            reasked=True,
            explanation=verdict.explanation if verdict is not None else None,
            cached=completion.cached and second.cached,
        )


def _read(spec: JudgeSpec, text: str) -> Verdict | None:
    try:
        parsed: Parsed = get_parser(spec.parser)(text)
    except ParseFailure:
        return None
    value = parsed.value
    if value is not None and spec.scale is not None:
        low, high = spec.scale
        if not low <= value <= high:
            if spec.out_of_range == "unparsed":
                return Verdict(judge="", spec=spec.name, status="unparsed", raw=text, explanation=f"rating {value:g} outside {low:g}-{high:g}")
            if spec.out_of_range == "clip":
                value = min(max(value, low), high)
    return Verdict(judge="", spec=spec.name, value=value, label=parsed.label, explanation=parsed.explanation, raw=text)
