"""Static SVG charts (matplotlib, Agg backend), byte-stable across rebuilds: a fixed
`svg.hashsalt` for element ids and no date in the metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

if TYPE_CHECKING:  # the stubs of recent matplotlib name the rcParams keys
    from matplotlib.typing import RcKeyType

RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": "mteval-leaderboard",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
METADATA = {"Date": None, "Creator": "mteval leaderboard"}
LINESTYLES = {"own": "-", "gold": ":", "single": "--"}


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]
    history: str = "own"


def _text(label: str, limit: int = 60) -> str:
    """Label text for matplotlib: no mathtext, bounded length."""
    label = label if len(label) <= limit else label[: limit - 1] + "…"
    return label.replace("$", r"\$")


def _save(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg", metadata=METADATA, bbox_inches="tight")


def line_chart(series: Sequence[Series], path: Path, *, title: str, xlabel: str = "turn", ylabel: str = "score") -> None:
    """One line per series (line style by history mode), integer x ticks."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.0, 3.6))
        ax = fig.add_subplot()
        turns: set[int] = set()
        for item in series:
            xs = [p[0] for p in item.points]
            ys = [p[1] for p in item.points]
            turns.update(int(x) for x in xs)
            ax.plot(xs, ys, marker="o", markersize=3.5, linewidth=1.5, linestyle=LINESTYLES.get(item.history, "-"), label=_text(item.label))
        if turns:
            ax.set_xticks(sorted(turns))
        ax.set_title(_text(title, 90))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(_text(ylabel))
        ax.grid(True, linewidth=0.4, alpha=0.5)
        if series:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        _save(fig, path)


def bar_chart(
    labels: Sequence[str], values: Sequence[float], cis: Sequence[tuple[float, float] | None], path: Path, *, title: str, xlabel: str = "score"
) -> None:
    """Horizontal bars with 95% interval whiskers, first label on top."""
    with matplotlib.rc_context(RC):
        height = 1.0 + 0.32 * max(1, len(labels))
        fig = Figure(figsize=(7.0, height))
        ax = fig.add_subplot()
        positions = list(range(len(labels)))[::-1]
        low = [max(0.0, v - ci[0]) if ci else 0.0 for v, ci in zip(values, cis)]
        high = [max(0.0, ci[1] - v) if ci else 0.0 for v, ci in zip(values, cis)]
        ax.barh(positions, values, xerr=[low, high], color="#4c78a8", ecolor="#333333", capsize=2.5, height=0.6)
        ax.set_yticks(positions)
        ax.set_yticklabels([_text(label) for label in labels])
        ax.set_title(_text(title, 90))
        ax.set_xlabel(_text(xlabel))
        ax.grid(True, axis="x", linewidth=0.4, alpha=0.5)
        _save(fig, path)
