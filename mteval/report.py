"""Terminal tables of a run's metrics (used by `mteval run` and `mteval show`)."""

from __future__ import annotations

from typing import Any

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
    for column, justify in (("task", "left"), ("metric", "left"), ("value", "right"), ("95% CI", "right"), ("n", "right"), ("excluded", "right")):
        table.add_column(column, justify=justify)
    for task, metrics in manifest.get("metrics", {}).items():
        for name, metric in metrics.items():
            table.add_row(escape(task), escape(name), *_metric_cells(metric))
    for group, metrics in manifest.get("groups", {}).items():
        for name, metric in metrics.items():
            table.add_row(f"[bold]{escape(group)}[/bold]", escape(name), *_metric_cells(metric))
    return table


def _metric_cells(metric: dict[str, Any]) -> tuple[str, str, str, str]:
    ci = metric.get("ci")
    ci_text = f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else "-"
    return _fmt(metric.get("value")), ci_text, str(metric.get("n", 0)), str(metric.get("excluded", 0))


def summary_lines(manifest: dict[str, Any]) -> list[str]:
    totals = manifest.get("totals", {})
    lines = [
        f"conversations: {totals.get('conversations', 0)} ({totals.get('errored_conversations', 0)} errored), "
        f"scored turns: {totals.get('scored_turns', 0)}, scores: {totals.get('scores', {})}",
    ]
    calls = totals.get("calls") or {}
    model_calls = calls.get("model")
    if model_calls:
        lines.append(
            f"model calls this invocation: {model_calls['requests']} requests, {model_calls['cache_hits']} cache hits, "
            f"{model_calls['retries']} retries, {model_calls['errors']} errors{_cost(model_calls)}"
        )
    for judge, stats in (calls.get("judges") or {}).items():
        lines.append(f"judge {judge}: {stats['requests']} requests, {stats['cache_hits']} cache hits, {stats['errors']} errors{_cost(stats)}")
    jury = calls.get("jury")
    if jury and (jury.get("calls_saved") or jury.get("audit_calls")):
        agreement = jury.get("agreement_with_full_jury")
        audit = f", incl. {jury['audit_calls']} audit calls" if jury.get("audit_calls") else ""
        may_differ = f"; {jury['may_differ']} verdicts may differ from the full jury's" if jury.get("may_differ") else ""
        lines.append(
            f"adaptive jury: {jury['calls']} of {jury['full_jury_calls']} juror calls ({jury['calls_saved']} saved{audit}){may_differ}"
            + (f", equal to the full jury on {agreement:.0%} of {jury['audited']} audited items" if agreement is not None else "")
        )
    return lines


def _cost(stats: dict[str, Any]) -> str:
    cost = stats.get("cost_usd")
    return f", ${cost:.4f}" if cost else ""


def print_report(manifest: dict[str, Any], run_dir: str | None = None, console: Console | None = None) -> None:
    if console is None:
        from mteval.progress import output_console

        console = output_console()  # full names and run directories when stdout is a log or a pipe
    console.print(metrics_table(manifest))
    for line in summary_lines(manifest):
        console.print(line, highlight=False)
    if run_dir:
        console.print(f"run directory: {run_dir}", highlight=False)
