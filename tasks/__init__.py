"""Built-in task families (installed as the package `mteval_tasks`). One folder each."""
