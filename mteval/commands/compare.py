"""`mteval compare BASE CANDIDATE`: did the candidate regress? (`--judges`: do two
judges agree?) Exit code 0 no, 1 yes, 2 the runs cannot be compared.

Also the pieces `mteval run --baseline RUN_DIR` uses: `add_gate_arguments` for its
parser and `run_gate` after the run. The statistics live in `mteval.compare`.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # imported when used: every `mteval` command builds this parser
    from rich.console import Console
    from rich.table import Table

    from mteval.compare import CompareOptions, CompareReport, JudgeAgreement, MetricComparison

FORMATS = ("table", "markdown", "json")
MARKER = "<!-- mteval-compare -->"
"""First line of the markdown report, so a CI job can find and update its PR comment."""
EXIT_ERROR = 2
# Help texts only; the defaults themselves are CompareOptions' (tests keep them equal).
HELP_DEFAULTS = {"alpha": 0.05, "max_drop": 0.0, "min_pairs": 10, "min_agreement": 0.8, "max_error_rate_increase": 0.02}


# --- arguments -----------------------------------------------------------------------------
def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0.0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def add_statistics_arguments(parser: argparse.ArgumentParser) -> None:
    """--alpha, --max-drop, --min-pairs (shared by `compare` and `run --baseline`)."""
    d = HELP_DEFAULTS
    parser.add_argument("--alpha", type=_probability, default=None, help=f"significance level over all metrics, Holm-corrected (default {d['alpha']:g})")
    parser.add_argument(
        "--max-drop", type=_non_negative, default=None,
        help=f"tolerated absolute drop of a metric's mean, in score units (default {d['max_drop']:g})",
    )
    parser.add_argument(
        "--min-pairs", type=_positive_int, default=None,
        help=f"fewest conversations in both runs per task and metric; fewer refuses with exit 2 (default {d['min_pairs']})",
    )
    parser.add_argument(
        "--max-error-rate-increase", type=_non_negative, default=None,
        help=(
            "fail (exit 1) when the candidate's errored-conversation or unparsed-verdict rate (run-wide, per task, per task "
            f"and scorer) exceeds the base's by more than this share, 0-1 (default {d['max_error_rate_increase']:g}); "
            "a candidate with no scored turns, unfinished, or without a task the base has always fails"
        ),
    )


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `mteval run` needs for `--baseline RUN_DIR`."""
    parser.add_argument(
        "--baseline", type=Path, default=None,
        help="after the run, compare it with this run directory; exit 1 on a regression, 2 if they cannot be compared",
    )
    add_statistics_arguments(parser)
    parser.add_argument("--compare-format", choices=FORMATS, default="table", help="how --baseline reports (default table)")
    parser.add_argument("--compare-output", type=Path, default=None, help="write the --baseline report to this file (e.g. a PR comment in markdown)")


def register(subparsers: Any) -> None:
    """Add `mteval compare`."""
    parser = subparsers.add_parser(
        "compare",
        help="compare two runs: did the candidate regress? (exit 0 no, 1 yes, 2 cannot compare)",
        description=(
            "Pair the scored turns of two runs by task, conversation and turn, and test each metric's difference "
            "(candidate - base) with conversations as clusters. Exit 0: no regression, 1: regression, 2: cannot compare. "
            "With --judges: agreement of two scorings of identical replies, exit 1 below --min-agreement."
        ),
    )
    parser.add_argument("base", type=Path, help="baseline run directory")
    parser.add_argument("candidate", type=Path, nargs="?", default=None, help="candidate run directory (with --judges, default: BASE)")
    add_statistics_arguments(parser)
    parser.add_argument(
        "--test", choices=["auto", "permutation", "wilcoxon", "sign"], default=None,
        help="paired test (default auto: permutation for binary scores, Wilcoxon otherwise)",
    )
    parser.add_argument("--tasks", default=None, help="comma-separated tasks to compare (default: all tasks both runs have)")
    parser.add_argument("--no-groups", action="store_true", help="no family means, only task metrics")
    parser.add_argument("--seed", type=int, default=None, help="seed of the bootstrap and permutation resampling")
    parser.add_argument("--format", choices=FORMATS, default="table", help="table (terminal), markdown (PR comment) or json")
    parser.add_argument("--output", type=Path, default=None, help="write the report in --format to this file (the terminal still gets the table)")
    judges = parser.add_argument_group("judges")
    judges.add_argument("--judges", action="store_true", help="compare judges: the same replies scored twice; exit 1 when agreement < --min-agreement")
    judges.add_argument("--min-agreement", type=float, default=None, help=f"agreement threshold (default {HELP_DEFAULTS['min_agreement']:g})")
    judges.add_argument(
        "--agreement", choices=["alpha", "kappa", "exact", "pearson", "spearman"], default=None,
        help="measure the threshold applies to (default alpha: Krippendorff's)",
    )
    judges.add_argument("--base-scorer", default=None, help="scorer of BASE to compare (default: every scorer both runs have)")
    judges.add_argument("--candidate-scorer", default=None, help="scorer of CANDIDATE to compare (two scorers of one run: give BASE only)")
    parser.set_defaults(handler=handle)


def _given(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def gate_options(args: argparse.Namespace) -> CompareOptions:
    """CompareOptions from the `run --baseline` arguments (unset ones keep their defaults)."""
    from mteval.compare import CompareOptions

    return CompareOptions(**_given(args, ["alpha", "max_drop", "min_pairs", "max_error_rate_increase"]))


def options_from_args(args: argparse.Namespace) -> CompareOptions:
    """CompareOptions from the `compare` arguments (unset ones keep their defaults)."""
    from mteval.compare import CompareOptions

    values = _given(args, [
        "alpha", "max_drop", "min_pairs", "max_error_rate_increase", "test", "seed", "min_agreement", "agreement", "base_scorer", "candidate_scorer",
    ])
    if args.tasks:
        values["tasks"] = [t.strip() for t in args.tasks.split(",") if t.strip()]
    return CompareOptions(**values, groups=not args.no_groups, judges=args.judges)


def handle(args: argparse.Namespace) -> int:
    """`mteval compare`."""
    from mteval.compare import gate

    candidate = args.candidate
    if candidate is None:
        if not args.judges:
            print("mteval compare: error: give BASE and CANDIDATE run directories", file=sys.stderr)
            return EXIT_ERROR
        candidate = args.base
    code, report = gate(args.base, candidate, options_from_args(args))
    emit(report, args.format, args.output)
    return code


def run_gate(args: argparse.Namespace, candidate_dir: str | Path) -> int:
    """`mteval run --baseline`: compare the finished run with the baseline and report.
    Returns the exit code (0 no regression, 1 regression, 2 cannot compare)."""
    from mteval.compare import gate
    from mteval.progress import output_console

    code, report = gate(args.baseline, candidate_dir, gate_options(args))
    console = output_console(stderr=True) if getattr(args, "json", False) else None
    emit(report, args.compare_format, args.compare_output, console=console)
    return code


# --- output --------------------------------------------------------------------------------
def emit(report: CompareReport, fmt: str, output: Path | None = None, console: Console | None = None) -> None:
    """Print the report in `fmt`, or write it to `output` and print the table."""
    from mteval.progress import output_console

    console = console or output_console(stderr=report.error is not None and fmt == "table" and output is None)
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(render(report, fmt), encoding="utf-8")
        fmt = "table"
    if fmt == "table":
        print_table(report, console)
    else:
        console.file.write(render(report, fmt))
        console.file.flush()


def render(report: CompareReport, fmt: str) -> str:
    """The report as markdown, JSON or plain-text table."""
    if fmt == "json":
        return json.dumps(report.model_dump(mode="json"), indent=2) + "\n"
    if fmt == "markdown":
        return markdown(report)
    from rich.console import Console

    buffer = io.StringIO()
    print_table(report, Console(file=buffer, width=200, color_system=None))
    return buffer.getvalue()


def _num(value: float | None, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _ci(metric: MetricComparison) -> str:
    return f"[{_num(metric.ci[0], signed=True)}, {_num(metric.ci[1], signed=True)}]" if metric.ci else "-"


def _headline(report: CompareReport) -> str:
    if report.error:
        return "cannot compare"
    if report.mode == "judges":
        return "judges disagree" if report.regression else "judges agree"
    if any(metric.regression for metric in report.metrics):
        return "REGRESSION"
    # failed for work the candidate could not do (errors, unparsed verdicts, unfinished, missing tasks): not a metric's drop
    return "FAIL" if report.regression else "no regression"


def _method(report: CompareReport) -> str:
    o = report.options
    if report.mode == "judges":
        return f"threshold: {o.agreement} >= {o.min_agreement} per task and scorer"
    return (
        "difference = candidate - base (lower-is-better metrics, marked ↓, regress when they rise); "
        f"{1 - o.alpha:.0%} CI by cluster bootstrap over conversations; "
        f"one-sided paired tests of getting worse by > {o.max_drop:g} at alpha {o.alpha:g}, "
        f"Holm-corrected over {len(report.metrics)} metric{'s' if len(report.metrics) != 1 else ''}"
    )


def _score_header(report: CompareReport) -> list[str]:
    return [f"{1 - report.options.alpha:.0%} CI" if column == "95% CI" else column for column in SCORE_HEADER]


def _score_rows(report: CompareReport) -> list[list[str]]:
    return [
        [
            m.name + {"lower": " ↓", "neither": " (descriptive)"}.get(m.direction, ""),
            _num(m.base),
            _num(m.candidate),
            _num(m.diff, signed=True),
            _ci(m),
            f"{_p(m.p_value)} ({m.test})",
            _p(m.p_adjusted),
            f"{m.n_pairs} / {m.n_conversations}",
            f"{m.excluded_base} / {m.excluded_candidate}",
            m.verdict,
        ]
        for m in report.metrics
    ]


SCORE_HEADER = ["metric", "base", "candidate", "diff", "95% CI", "p (test)", "p Holm", "turns / conv.", "excluded base / cand.", "verdict"]
JUDGE_HEADER = [
    "task", "base scorer", "candidate scorer", "turns / conv.", "excluded base / cand.", "exact", "Pearson", "Spearman",
    "Cohen's kappa", "Krippendorff's alpha", "mean abs diff", "mean diff", "verdict",
]


def _judge_rows(report: CompareReport) -> list[list[str]]:
    return [
        [
            a.task,
            a.base_scorer,
            a.candidate_scorer,
            f"{a.n_pairs} / {a.n_conversations}",
            f"{a.excluded_base} / {a.excluded_candidate}",
            _num(a.exact),
            _num(a.pearson),
            _num(a.spearman),
            _num(a.kappa),
            _num(a.alpha),
            _num(a.mean_abs_diff),
            _num(a.mean_diff, signed=True),
            _judge_verdict(a, report),
        ]
        for a in report.agreements
    ]


def _judge_verdict(a: JudgeAgreement, report: CompareReport) -> str:
    relation = "<" if a.below else ">="
    return f"{'below' if a.below else 'ok'} ({a.measure} {_num(a.value)} {relation} {report.options.min_agreement:g})"


def print_table(report: CompareReport, console: Console) -> None:
    """The report as a rich table, with notes below it."""
    from rich.markup import escape

    if report.error:
        console.print(f"[bold red]mteval compare: cannot compare:[/bold red] {escape(report.error)}")
        return
    console.print(_rich_table(report))
    console.print(escape(_method(report)), highlight=False)
    for failure in report.failures:
        console.print(f"[bold red]FAIL:[/bold red] {escape(failure)}", highlight=False)
    for note in report.notes:
        console.print(f"note: {escape(note)}", highlight=False)


_LEFT_COLUMNS = frozenset({"metric", "task", "base scorer", "candidate scorer", "verdict"})
"""Text columns; the rest are numbers, right-aligned."""


def _rich_table(report: CompareReport) -> Table:
    from rich.markup import escape
    from rich.table import Table

    judges = report.mode == "judges"
    colour = "red" if report.regression else "green"
    title = f"[bold {colour}]{_headline(report)}[/bold {colour}]  {escape(report.base.run_id)} -> {escape(report.candidate.run_id)}"
    table = Table(title=title, title_justify="left")
    for column in JUDGE_HEADER if judges else _score_header(report):
        table.add_column(column, justify="left" if column in _LEFT_COLUMNS else "right")
    items: Sequence[Any] = report.agreements if judges else report.metrics
    for item, row in zip(items, _judge_rows(report) if judges else _score_rows(report)):
        table.add_row(*[escape(cell) for cell in row], style=_row_style(item, judges))
    return table


def _row_style(item: Any, judges: bool) -> str | None:
    """Bold red for a flagged row (a regression, or judges agreeing too little), green for a
    metric that got better."""
    if item.below if judges else item.regression:
        return "bold red"
    return "green" if not judges and item.verdict == "better" else None


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def markdown(report: CompareReport) -> str:
    """The report as GitHub markdown (a PR comment)."""
    icon = ":x:" if report.regression or report.error else ":white_check_mark:"
    lines = [MARKER, f"### {icon} mteval compare: {_headline(report)}", ""]
    if report.error:
        lines += [f"The runs could not be compared: {_md_cell(report.error)}", ""]
        lines.append(f"base `{report.base.path}`, candidate `{report.candidate.path}`")
        return "\n".join(lines) + "\n"
    lines.append(
        f"base `{report.base.run_id}` ({report.base.model}) -> candidate `{report.candidate.run_id}` ({report.candidate.model})"
    )
    lines.append("")
    if report.mode == "judges":
        lines += _md_table(JUDGE_HEADER, _judge_rows(report))
    else:
        rows = _score_rows(report)
        for metric, row in zip(report.metrics, rows):
            if metric.regression:
                row[-1] = f"**{row[-1]}**"
        lines += _md_table(_score_header(report), rows)
    lines += ["", f"_{_method(report)}._"]
    if report.failures:
        lines.append("")
        lines += [f"- **FAIL:** {_md_cell(failure)}" for failure in report.failures]
    if report.notes:
        lines.append("")
        lines += [f"- {_md_cell(note)}" for note in report.notes]
    return "\n".join(lines) + "\n"
