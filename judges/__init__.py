"""Judge and jury definitions (installed as the package `mteval_judges`)."""

from mteval_judges import amulet  # noqa: F401  registers the Amulet output parsers
