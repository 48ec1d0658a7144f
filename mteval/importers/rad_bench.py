"""Old import path of the RAD-Bench importer, which now lives in its family
(`mteval_tasks.rad_bench.importer`). Kept so `mteval import rad-bench` finds it until the
import command finds importers through the registry; new code imports the family's module."""

from mteval_tasks.rad_bench.importer import SOURCE, import_rad_bench, placeholder_text, rad_bench_spec

__all__ = ["SOURCE", "import_rad_bench", "placeholder_text", "rad_bench_spec"]
