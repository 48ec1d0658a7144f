"""Terminal tables of a run's metrics (used by `mteval run` and `mteval show`)."""

from __future__ import annotations

from typing import Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def metrics_table(manifest: dict[str, Any]) -> Table:
    title = f"{manifest.get('model', {}).get('id', '?')}  history={manifest.get('history')}  [{manifest.get('status')}]"
    if manifest.get("imported"):
        title += "  (imported)"
    table = Table(title=escape(title), title_justify="left")
    columns: tuple[tuple[str, Literal["left", "right"]], ...] = (
        ("task", "left"), ("metric", "left"), ("value", "right"), ("95% CI", "right"), ("n", "right"), ("excluded", "right"),
        ("better", "left"), ("scale", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for task, metrics in manifest.get("metrics", {}).items():
        for name, metric in metrics.items():
            table.add_row(escape(task), escape(_label(name, metric)), *_metric_cells(metric))
    for group, metrics in manifest.get("groups", {}).items():
        for name, metric in metrics.items():
            table.add_row(f"[bold]{escape(group)}[/bold]", escape(_label(name, metric)), *_metric_cells(metric))
    return table


def _label(name: str, metric: dict[str, Any]) -> str:
    """The metric name, marked * when it is its task's (or family's) headline and ↓ when lower
    is better (its declared semantics)."""
    semantics = metric.get("semantics") or {}
    return name + (" *" if semantics.get("headline") else "") + (" ↓" if semantics.get("direction") == "lower" else "")


_BETTER = {"higher": "higher", "lower": "lower", "neither": "descriptive"}


def _metric_cells(metric: dict[str, Any]) -> tuple[str, str, str, str, str, str]:
    """value, interval, n, excluded, which way is better, and the scale: every number says
    what it means (a metric recorded without semantics says so instead of guessing)."""
    ci = metric.get("ci")
    ci_text = f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else "-"
    semantics = metric.get("semantics")
    if isinstance(semantics, dict):
        from mteval.semantics import Scale

        better = _BETTER.get(str(semantics.get("direction", "higher")), "?")
        scale = Scale.model_validate(semantics.get("scale") or {}).describe()
    else:
        better, scale = "?", "not declared"
    return _fmt(metric.get("value")), ci_text, str(metric.get("n", 0)), str(metric.get("excluded", 0)), better, escape(scale)


def summary_lines(manifest: dict[str, Any]) -> list[str]:
    totals = manifest.get("totals", {})
    lines = [_conversations_line(manifest)]
    calls = totals.get("calls") or {}
    model_calls = calls.get("model")
    if model_calls:
        lines.append(
            f"model calls: {model_calls['requests']} requests, {model_calls['cache_hits']} cache hits, "
            f"{model_calls['retries']} retries, {model_calls['errors']} errors{_cost(model_calls)}"
        )
    for judge, stats in (calls.get("judges") or {}).items():
        lines.append(f"judge {judge}: {stats['requests']} requests, {stats['cache_hits']} cache hits, {stats['errors']} errors{_cost(stats)}")
    jury = _jury_line(manifest, calls.get("jury"))
    if jury:
        lines.append(jury)
    for error in totals.get("first_errors") or []:
        lines.append(f"error: {error}")
    lines.extend(unparsed_warnings(manifest))
    return lines


def _conversations_line(manifest: dict[str, Any]) -> str:
    """Conversations finished (of those planned, for an unfinished run), scored turns and score statuses."""
    totals = manifest.get("totals", {})
    from mteval.results import planned_conversations

    planned = planned_conversations(manifest)
    of_planned = f" of {planned} planned" if manifest.get("status") not in (None, "complete") and planned else ""
    return (
        f"conversations: {totals.get('conversations', 0)}{of_planned} ({totals.get('errored_conversations', 0)} errored), "
        f"scored turns: {totals.get('scored_turns', 0)}, scores: {totals.get('scores', {})}"
    )


def _jury_line(manifest: dict[str, Any], jury: dict[str, Any] | None) -> str | None:
    """What an adaptive jury saved (also when it saved nothing), or None."""
    adaptive = bool((manifest.get("jury") or {}).get("adaptive"))
    if not jury or not (adaptive or jury.get("calls_saved") or jury.get("audit_calls")):
        return None
    agreement = jury.get("agreement_with_full_jury")
    audit = f", incl. {jury['audit_calls']} audit calls" if jury.get("audit_calls") else ""
    may_differ = f"; {jury['may_differ']} verdicts may differ from the full jury's" if jury.get("may_differ") else ""
    return (
        f"adaptive jury: {jury['calls']} of {jury['full_jury_calls']} juror calls ({jury['calls_saved']} saved{audit}){may_differ}"
        + (f", equal to the full jury on {agreement:.0%} of {jury['audited']} audited items" if agreement is not None else "")
    )


UNPARSED_WARNING_SHARE = 0.5


def unparsed_warnings(manifest: dict[str, Any]) -> list[str]:
    """A warning per scorer whose verdicts are mostly unparsed (> 50%): its judge's
    replies do not match the expected format, so its scores mean little."""
    judges = ", ".join(j.get("model", "?") for j in ((manifest.get("jury") or {}).get("jurors") or [])) or "no judge recorded"
    out = []
    for scorer, tally in ((manifest.get("totals") or {}).get("verdicts") or {}).items():
        total, unparsed = tally.get("total", 0), tally.get("unparsed", 0)
        if total and unparsed / total > UNPARSED_WARNING_SHARE:
            raw = (tally.get("example_raw") or "").replace("\n", " ")[:200]
            out.append(
                f"warning: {unparsed} of {total} verdicts of scorer {scorer!r} (judge {judges}) are unparsed; "
                f"one raw reply: {raw!r}"
            )
    return out


def _cost(stats: dict[str, Any]) -> str:
    cost = stats.get("cost_usd")
    return f", ${cost:.4f}" if cost else ""


def _any_semantics(manifest: dict[str, Any], key: str, value: Any) -> bool:
    """Whether a metric of the manifest (task or group) declares `key` = `value`."""
    groups = [*manifest.get("metrics", {}).values(), *manifest.get("groups", {}).values()]
    return any((m.get("semantics") or {}).get(key) == value for metrics in groups for m in metrics.values())


def print_report(manifest: dict[str, Any], run_dir: str | None = None, console: Console | None = None) -> None:
    if console is None:
        from mteval.progress import output_console

        console = output_console()  # full names and run directories when stdout is a log or a pipe
    console.print(metrics_table(manifest))
    marks = (("*: headline", "headline", True), ("↓: lower is better", "direction", "lower"))
    legend = [text for text, key, value in marks if _any_semantics(manifest, key, value)]
    if legend:
        console.print("   ".join(legend), highlight=False)
    for line in summary_lines(manifest):  # raw judge replies and errors: no markup, never wrapped mid-word
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if run_dir:
        console.print(f"run directory: {run_dir}", highlight=False)
