"""The static leaderboard site: `mteval leaderboard build --results results --out site`.

`data` collects run directories into tables, `charts` draws the SVGs, `pages` and
`transcripts` render the Jinja2 templates (autoescaped), `build` puts it together.
"""

from mteval.leaderboard.build import BuildResult, build_site

__all__ = ["BuildResult", "build_site"]
