"""Juries: several judge models scoring the same item, and one verdict from them.

Every kind of judging goes through `Jury.collect(JuryItem)`: the item says what one juror
does for it (`ask`: one judge call for a score or label; for pairwise judging both games
or the whole cascade, see `mteval.scoring.pairwise`), so the collection below, with its
adaptive quorum, audits and statistics, is the same for all.

Aggregations: `mean` and `median` for scores, `majority` (strict majority, else tie)
and `max_vote` (plurality, PoLL's max voting) for labels, and `cascade` (the first
juror, in order, with a usable verdict); they are registered in
`mteval.scoring.aggregations`, where a new one is added. Every juror's verdict is kept
on the item.

An adaptive jury asks the first `quorum` jurors, then one more at a time while the
jurors not yet asked could still move the verdict by more than `threshold`
(`mteval.scoring.escalation` defines that for each aggregation: for label votes any
possible change escalates, ties included; for mean and median the threshold bounds the
difference, and with 0 the adaptive verdict is always the full jury's). An item that
stopped while a difference was still possible says so (`may_differ`, `max_difference`).
On a deterministic `audit_fraction` of items it also asks the silent jurors, so the run
can report how often the adaptive verdict equals the full jury's; `calls` counts every
juror call, audits included, so `calls_saved` is what was really saved.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Literal, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mteval.errors import ConfigurationError
from mteval.models.base import RequestContext
from mteval.suggest import close_matches_message
from mteval.transcript import Score

# Judge definitions, aggregations and the escalation rule are imported where a jury uses
# them: the runner imports this module, and a run without judges should not pay for them.
if TYPE_CHECKING:
    from pydantic import ValidationError

    from mteval.client import ModelClient
    from mteval.scoring.judge_spec import JudgeSpec, Juror, Verdict

_REEXPORTED = {"AGGREGATIONS", "aggregation_names", "register_aggregation"}
"""Names of `mteval.scoring.aggregations` older code imports from here."""


def __getattr__(name: str) -> Any:
    if name in _REEXPORTED:
        from mteval.scoring import aggregations

        return getattr(aggregations, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

Aggregate = str
"""An aggregation's name: one of `AGGREGATIONS` (mteval.scoring.aggregations)."""


# defer_build: the schemas are built on the first validation (a run with a jury), not when
# the runner imports this module.
class AdaptiveConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    quorum: int = Field(2, ge=1)
    threshold: float = Field(0.0, ge=0)
    """The largest difference from the full jury's verdict accepted when stopping early
    (score units, mean and median only); 0 = stop only when the verdict is settled."""
    audit_fraction: float = Field(0.0, ge=0, le=1)


class JurorConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    model: str
    args: dict[str, Any] = Field(default_factory=dict)
    judge: str | None = None
    """A judge definition (name in judges/ or path) that replaces the task's for this juror."""

    @field_validator("args")
    @classmethod
    def _headers_are_mappings(cls, args: dict[str, Any]) -> dict[str, Any]:
        """Only a mapping's header values can be masked where args are recorded; the message
        does not quote the value (it is a credential)."""
        from mteval.redact import is_header_name

        for name, value in args.items():
            if is_header_name(str(name)) and value is not None and not isinstance(value, Mapping):
                raise ValueError(f"{name} must be a mapping of header name to value (the value given is not shown)")
        return args


def _unknown_key_message(exc: ValidationError) -> str | None:
    """`unknown key 'jurors.0.judeg'. Did you mean: judge?` when pydantic's first problem is
    a key the models do not declare, else None."""
    first = exc.errors()[0]
    if first["type"] != "extra_forbidden":
        return None
    *parents, key = [str(part) for part in first["loc"]]
    nested: dict[str, type[BaseModel]] = {"jurors": JurorConfig, "adaptive": AdaptiveConfig}
    model: type[BaseModel] = JuryConfig
    for part in parents:
        model = nested.get(part, model)
    return f"unknown key {'.'.join([*parents, key])!r}. {close_matches_message(key, model.model_fields)}"


class JuryConfig(BaseModel):
    """A jury file's content. Unknown keys are errors with a did-you-mean (all three
    models): `judeg: rubric` or `adaptive: {quorom: 1}` must not run the default judge or
    ask every juror, silently and at the jurors' price."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    name: str = "jury"
    jurors: list[JurorConfig]
    aggregate: Aggregate = "mean"
    adaptive: AdaptiveConfig | None = None

    @field_validator("aggregate")
    @classmethod
    def _known_aggregation(cls, name: str) -> str:
        from mteval.scoring.aggregations import AGGREGATIONS

        if name not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {name!r}. {close_matches_message(name, AGGREGATIONS)}")
        return name

    @classmethod
    def from_models(cls, models: Sequence[str], args: Mapping[str, Any] | None = None, aggregate: Aggregate = "mean") -> "JuryConfig":
        return cls(name=",".join(models), jurors=[JurorConfig(model=m, args=dict(args or {})) for m in models], aggregate=aggregate)

    @classmethod
    def from_file(cls, path: str | Path) -> "JuryConfig":
        import yaml
        from pydantic import ValidationError

        from mteval.data import DataError, read_utf8, validation_message, yaml_message

        path = Path(path)
        if not path.is_file():
            raise ConfigurationError(f"--jury {path}: no such file")
        try:
            data = yaml.safe_load(read_utf8(path))
            config = cls.model_validate(data)
        except DataError as exc:
            raise ConfigurationError(f"--jury {exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"--jury {yaml_message(path, exc)}") from None
        except ValidationError as exc:
            raise ConfigurationError(f"--jury {path}: invalid jury definition: {_unknown_key_message(exc) or validation_message(exc)}") from None
        except Exception as exc:
            raise ConfigurationError(f"--jury {path}: invalid jury definition: {exc}") from exc
        if not config.jurors:
            raise ConfigurationError(f"--jury {path}: field 'jurors' is empty")
        return config


@dataclass
class JuryStats:
    items: int = 0
    calls: int = 0
    full_jury_calls: int = 0
    audited: int = 0
    audit_agreements: int = 0
    audit_calls: int = 0
    """Of `calls`, those made only to audit: what measuring the agreement cost."""
    may_differ: int = 0
    """Items where the jury stopped although the silent jurors could have changed the verdict
    (by at most `threshold`)."""

    def as_dict(self) -> dict[str, Any]:
        saved = self.full_jury_calls - self.calls
        return {
            "items": self.items,
            "calls": self.calls,
            "full_jury_calls": self.full_jury_calls,
            "calls_saved": saved,
            "audit_calls": self.audit_calls,
            "may_differ": self.may_differ,
            "audited": self.audited,
            "agreement_with_full_jury": (self.audit_agreements / self.audited) if self.audited else None,
        }


Ask = Callable[["Juror"], Awaitable["Verdict"]]
"""What one juror does for one item (a judge call, or a whole pairwise protocol) -> its verdict."""


def _no_scale(juror: Juror) -> tuple[float, float] | None:
    return None


@dataclass(frozen=True)
class JuryItem:
    """One item for the jury: what each juror does for it (`ask`), the kind of judgment,
    the aggregation that combines the verdicts, and the range a silent juror's score must
    fall in (for the adaptive bound; None = unbounded). Score, label and pairwise judging
    all go through `Jury.collect` with one of these."""

    ask: Ask
    context: RequestContext
    kind: str = "score"
    method: Aggregate = "mean"
    scale: Callable[[Juror], "tuple[float, float] | None"] = _no_scale


@dataclass
class Jury:
    config: JuryConfig
    jurors: list[Juror]
    stats: JuryStats = field(default_factory=JuryStats)

    @classmethod
    def build(cls, config: JuryConfig, clients: Sequence["ModelClient"]) -> "Jury":
        from mteval.scoring.judge_spec import Juror, load_spec

        jurors = [Juror(client, load_spec(j.judge) if j.judge else None) for j, client in zip(config.jurors, clients)]
        return cls(config=config, jurors=jurors)

    def item(self, spec: JudgeSpec, variables: Mapping[str, Any], context: RequestContext) -> JuryItem:
        """A judge definition's item: each juror renders `spec` (or its own) with `variables`."""
        return JuryItem(
            ask=lambda juror: juror.judge(spec, variables, context),
            context=context,
            kind=spec.kind,
            method=self.config.aggregate,
            scale=lambda juror: _scale(juror.spec_override or spec),
        )

    async def verdicts(self, spec: JudgeSpec, variables: Mapping[str, Any], context: RequestContext) -> list[Verdict]:
        """Every juror's verdict (adaptive: only as many as needed)."""
        return (await self.collect(self.item(spec, variables, context)))[0]

    async def score(self, spec: JudgeSpec, variables: Mapping[str, Any], context: RequestContext) -> Score:
        verdicts, details = await self.collect(self.item(spec, variables, context))
        value, label = aggregate(verdicts, self.config.aggregate, spec.kind)
        details = {
            "aggregate": self.config.aggregate,
            "verdicts": [v.model_dump(mode="json") for v in verdicts],
            **details,
        }
        if label is not None:
            details["label"] = label
        if value is None and label is None:
            statuses = {v.status for v in verdicts}
            status: Literal["error", "unparsed"] = "error" if statuses == {"error"} else "unparsed"
            raw = "\n\n".join(f"[{v.judge}] {v.raw or v.explanation or ''}" for v in verdicts)
            return Score(value=None, status=status, raw=raw, details=details, explanation="no juror gave a usable verdict")
        explanation = next((v.explanation for v in verdicts if v.ok and v.explanation), None)
        return Score(value=value, explanation=explanation, details=details)

    async def collect(self, item: JuryItem) -> tuple[list[Verdict], dict[str, Any]]:
        """The verdicts of the jurors asked, in jury order (the first `len(verdicts)` jurors),
        and the adaptive jury's details; the one collection loop for every kind of judging."""
        from mteval.scoring.aggregations import AGGREGATIONS

        self.stats.items += 1
        self.stats.full_jury_calls += len(self.jurors)
        adaptive = self.config.adaptive
        if AGGREGATIONS.get_entry(item.method).sequential:
            verdicts = await self._cascade(item)
        elif adaptive is None or adaptive.quorum >= len(self.jurors):
            verdicts = await _ask(self.jurors, item)
        else:
            return await self._adaptive(item, adaptive)
        self.stats.calls += len(verdicts)
        return verdicts, {}

    async def _cascade(self, item: JuryItem) -> list[Verdict]:
        """Jurors in order up to the first usable verdict."""
        verdicts = []
        for juror in self.jurors:
            verdict = await item.ask(juror)
            verdicts.append(verdict)
            if verdict.ok:
                break
        return verdicts

    async def _adaptive(self, item: JuryItem, adaptive: AdaptiveConfig) -> tuple[list[Verdict], dict[str, Any]]:
        verdicts = await _ask(self.jurors[: adaptive.quorum], item)
        bound = self._bound(verdicts, item)
        while bound > adaptive.threshold and len(verdicts) < len(self.jurors):  # one more juror at a time
            verdicts.append(await item.ask(self.jurors[len(verdicts)]))
            bound = self._bound(verdicts, item)
        self.stats.calls += len(verdicts)
        may_differ = bound > 0
        self.stats.may_differ += int(may_differ)
        info: dict[str, Any] = {"escalated": len(verdicts) > adaptive.quorum, "calls": len(verdicts), "may_differ": may_differ, "max_difference": bound}
        if _audited(item.context, adaptive.audit_fraction):
            info.update(await self._audit(item, verdicts))
        return verdicts, {"adaptive": info}

    async def _audit(self, item: JuryItem, verdicts: list[Verdict]) -> dict[str, Any]:
        """Ask the silent jurors too and record whether the full jury decides the same."""
        audit = await _ask(self.jurors[len(verdicts):], item)
        self.stats.audit_calls += len(audit)
        self.stats.calls += len(audit)
        full_result = aggregate(verdicts + audit, item.method, item.kind)
        adaptive_result = aggregate(verdicts, item.method, item.kind)
        self.stats.audited += 1
        self.stats.audit_agreements += int(full_result == adaptive_result)
        return {
            "full_jury": {"value": full_result[0], "label": full_result[1]},
            "audit_verdicts": [v.model_dump(mode="json") for v in audit],
        }

    def _bound(self, heard: Sequence[Verdict], item: JuryItem) -> float:
        """How far the full jury's verdict could still be from that of `heard`."""
        from mteval.scoring.escalation import possible_difference

        scales = [item.scale(j) for j in self.jurors[len(heard):]]
        return possible_difference(heard, scales, item.method, item.kind, aggregate)


async def _ask(jurors: Sequence[Juror], item: JuryItem) -> list[Verdict]:
    """These jurors at once, their verdicts in jury order."""
    import asyncio

    return list(await asyncio.gather(*(item.ask(j) for j in jurors)))


def _scale(spec: JudgeSpec) -> tuple[float, float] | None:
    """The range a juror's score must fall in; None when the judge may leave it."""
    return None if spec.scale is None or spec.out_of_range == "keep" else (float(spec.scale[0]), float(spec.scale[1]))


def aggregate(verdicts: Sequence[Verdict], method: str, kind: str = "score") -> tuple[float | None, str | None]:
    """(value, label) of the jury. Unparsed and errored verdicts do not vote."""
    from mteval.scoring.aggregations import AGGREGATIONS

    usable = [v for v in verdicts if v.ok]
    if not usable:
        return None, None
    return AGGREGATIONS.get_entry(method).combine(usable, kind)


def _audited(context: RequestContext, fraction: float) -> bool:
    if fraction <= 0:
        return False
    if fraction >= 1:
        return True
    digest = hashlib.sha256(f"{context.task}|{context.conversation_id}|{context.turn_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction
