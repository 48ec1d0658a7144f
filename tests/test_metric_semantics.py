"""Every score a built-in task produces declares what its number means (issue 12). An
undeclared score falls back to "higher is better", so `mteval compare` read the full-duplex
talk-over scores (seconds of talking over the user, barge-ins, the interruption's
informed latency) the wrong way round: talking over the user more passed as "better".
"""

from __future__ import annotations

import numpy as np
import pytest

from mteval import registry
from mteval.compare import EXIT_OK, EXIT_REGRESSION, gate
from tests.test_compare import write_run
from tests.test_contract import as_v1, options


def builtin_tasks() -> list[str]:
    registry.load_builtin()
    # the built-in families' own tasks (test modules register probe tasks of their own)
    return sorted(
        name for name, spec in registry.all_tasks().items()
        if spec.origin == "builtin" and spec.cls.__module__.split(".")[0] in ("mteval_tasks", "tasks")
    )


@pytest.mark.parametrize("name", builtin_tasks())
def test_every_builtin_score_declares_its_semantics(name):
    spec = registry.get_task_spec(name)
    task = spec.cls(**spec.options)
    declared = task.metric_semantics()
    undeclared = [s.name for s in task.scorers() if s.name not in declared and s.name.split("/")[0] not in declared]
    assert not undeclared, f"{name}: no semantics declared for {undeclared} (compare would read them as higher-is-better)"


@pytest.mark.parametrize(("task", "scorer"), [
    ("full_duplex/smooth_turn_taking", "overlap_s"),
    ("full_duplex/user_interruption", "barge_ins"),
    ("full_duplex/user_interruption", "informed_latency"),
])
@pytest.mark.parametrize("more", [True, False])
def test_more_talking_over_the_user_is_a_regression(tmp_path, task, scorer, more):
    rng = np.random.default_rng(4)
    base_values = {f"c{c:02d}": [float(x) for x in rng.uniform(0.5, 1.5, size=2)] for c in range(30)}
    shift = 0.5 if more else -0.5
    cand_values = {k: [v + shift + float(rng.normal(0, 0.02)) for v in vs] for k, vs in base_values.items()}
    base = as_v1(write_run(tmp_path / "base", {task: base_values}, scorer=scorer))  # semantics from the task's declaration
    cand = as_v1(write_run(tmp_path / "cand", {task: cand_values}, scorer=scorer))
    code, report = gate(base, cand, options())
    (metric,) = [m for m in report.metrics if m.scorer == scorer]
    assert metric.direction == "lower"
    assert (code, metric.regression) == ((EXIT_REGRESSION, True) if more else (EXIT_OK, False))


def test_a_zero_lower_is_better_score_prints_without_a_minus_sign(tmp_path):
    """Lower-is-better scores are compared negated; turning them back gave -0.000 s latencies."""
    import math

    task = "full_duplex/smooth_turn_taking"
    values = {f"c{c:02d}": [0.0, 0.0] for c in range(12)}
    base = as_v1(write_run(tmp_path / "base", {task: values}, scorer="latency"))
    cand = as_v1(write_run(tmp_path / "cand", {task: values}, scorer="latency"))
    _, report = gate(base, cand, options())
    (metric,) = [m for m in report.metrics if m.scorer == "latency"]
    assert metric.direction == "lower"
    assert [math.copysign(1.0, x) for x in (metric.base, metric.candidate, metric.diff, *metric.ci)] == [1.0] * 5
