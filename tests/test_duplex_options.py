"""The engine's simulation options and the Full-Duplex-Bench family's options built on them:
one `--task-args` set, the same keys and errors as before the split, and engine errors
that do not name a task family."""

from __future__ import annotations

from dataclasses import fields

import pytest

from mteval.duplex import options as engine
from mteval.duplex.options import SimulationOptions
from mteval.errors import ConfigurationError
from mteval_tasks.full_duplex import PauseHandling
from mteval_tasks.full_duplex.options import FullDuplexOptions

ENGINE_KEYS = {
    "ipu_min_silence_s", "slice_s", "slice_by", "slice_words", "speaking_rate_wpm", "user_wps",
    "idle_token", "silence_token", "history_slices", "max_slices",
}
FAMILY_KEYS = {
    "takeover_rule", "to_max_duration_s", "to_max_words", "paper_bc_max_duration_s", "paper_bc_max_words",
    "clamp_negative_latency", "bc_long_segment_s", "bc_max_words", "bc_short_s", "bc_short_max_words", "bc_window_s",
    "bc_epsilon", "jsd", "speech_activity", "bc_min_silence_s", "relevance", "judge_temperature", "scenarios", "recorded",
    "gt_distribution",
}


def test_the_engine_holds_only_simulation_and_segmentation_options():
    assert {f.name for f in fields(SimulationOptions)} == ENGINE_KEYS
    assert engine.DuplexOptions is SimulationOptions  # the old name still imports


def test_full_duplex_tasks_take_the_same_keys_as_before_the_split():
    assert {f.name for f in fields(FullDuplexOptions)} == ENGINE_KEYS | FAMILY_KEYS
    assert PauseHandling.option_names == ENGINE_KEYS | FAMILY_KEYS
    info = PauseHandling(slice_s=1.5, takeover_rule="paper").task_info()
    assert info["options"]["slice_s"] == 1.5 and info["options"]["takeover_rule"] == "paper"
    assert set(info["options"]) == ENGINE_KEYS | FAMILY_KEYS


def test_engine_errors_do_not_name_a_family():
    with pytest.raises(ConfigurationError) as caught:
        SimulationOptions.from_mapping({"slice_s": 0})
    assert str(caught.value) == "duplex: option slice_s must be > 0, got 0.0"
    with pytest.raises(ConfigurationError, match=r"^duplex: option slice_by must be one of \('time', 'words'\)"):
        SimulationOptions.from_mapping({"slice_by": "bytes"})
    with pytest.raises(ConfigurationError, match=r"^duplex: unknown option 'slice_ss'. Did you mean 'slice_s'\?"):
        SimulationOptions.from_mapping({"slice_ss": 1})
    # the family's keys are another family's options to the engine: ignored, not errors
    assert SimulationOptions.from_mapping({"takeover_rule": "paper", "slice_words": 3}).slice_words == 3


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"slice_s": 0}, "full_duplex: option slice_s must be > 0, got 0.0"),
        ({"bc_window_s": -1}, "full_duplex: option bc_window_s must be > 0, got -1.0"),
        ({"history_slices": 0}, "full_duplex: option history_slices must be >= 1 (or none for all)"),
        ({"bc_min_silence_s": -0.5}, "full_duplex: option bc_min_silence_s must be >= 0"),
        ({"ipu_min_silence_s": -1}, "full_duplex: option ipu_min_silence_s must be >= 0"),
        ({"takeover_rul": "paper"}, "full_duplex: unknown option 'takeover_rul'. Did you mean 'takeover_rule'?"),
        ({"to_max_words": 1.5}, "full_duplex: option to_max_words must be an integer, got 1.5"),
        ({"recorded": "a", "scenarios": "b"}, "full_duplex: give either recorded= (score outputs) or scenarios= (simulate), not both"),
    ],
)
def test_full_duplex_errors_keep_their_wording(given, message):
    with pytest.raises(ConfigurationError) as caught:
        FullDuplexOptions.from_mapping(given)
    assert str(caught.value) == message


def test_single_turn_rendering_is_declared_on_task_and_read_plainly():
    from mteval.penalty import no_single_turn_rendering
    from mteval.registry import get_task_spec
    from mteval.task import Task

    assert Task.single_turn_rendering is True and PauseHandling.single_turn_rendering is False
    assert get_task_spec("mt_eval/follow_up") is not None  # the negative case is a registered task
    assert no_single_turn_rendering("full_duplex/pause_handling") and not no_single_turn_rendering("mt_eval/follow_up")
