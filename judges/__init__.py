"""Judge and jury definitions (installed as the package `mteval_judges`)."""
