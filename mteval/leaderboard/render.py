"""The Jinja2 environment (autoescaping on for every template) and the page writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from mteval.leaderboard.util import fmt, fmt_int, is_number, write_text


def pct(value: Any) -> str:
    return "—" if not is_number(value) else f"{100.0 * float(value):+.1f}%"


def environment() -> Environment:
    """Templates from the package; all output HTML-escaped unless marked safe."""
    env = Environment(
        loader=PackageLoader("mteval.leaderboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fmt=fmt, fmt_int=fmt_int, pct=pct)
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    return env


@dataclass
class Site:
    """Where pages go: `render` writes one template to a path under the site root."""

    out: Path
    title: str
    env: Environment = field(default_factory=environment)
    pages: int = 0

    def render(self, template: str, relative: str, **context: Any) -> None:
        depth = len(Path(relative).parts) - 1
        html = self.env.get_template(template).render(root="../" * depth, site_title=self.title, **context)
        write_text(self.out / relative, html)
        self.pages += 1
