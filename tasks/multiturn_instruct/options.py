"""The task options (`--task-args key=value,...`), checked once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from mteval.errors import ConfigurationError

from .categories import HF_DATASET
from .metrics import ANSWER_MATCH


@dataclass(frozen=True)
class Options:
    data_path: str | None = None
    """A local `dataset.json` (repo layout) or `test.json` (Hugging Face layout), or a
    folder holding one. Unset: the Hugging Face dataset `hf_dataset`."""
    hf_dataset: str = HF_DATASET
    hf_revision: str | None = None
    use_ground_truth_context: bool = False
    """Generate only scored turns; every earlier assistant turn holds the dataset text."""
    turn_window: int | None = None
    """Send only the last N messages (the current user message included)."""
    answer_match: str = "first"
    """`matching_any_exact`: "first" (upstream after 2025-03-27) or "last" (before)."""

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> "Options":
        """Pick this family's keys (options reach every task of a run) and check them."""
        data_path = options.get("data_path")
        hf_dataset = options.get("hf_dataset") or HF_DATASET
        revision = options.get("hf_revision")
        ground_truth = options.get("use_ground_truth_context", False)
        window = options.get("turn_window")
        answer_match = options.get("answer_match", "first")
        if not isinstance(ground_truth, bool):
            raise ConfigurationError(f"use_ground_truth_context must be true or false, got {ground_truth!r}")
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
            raise ConfigurationError(f"turn_window must be a positive integer (messages kept), got {window!r}")
        if answer_match not in ANSWER_MATCH:
            raise ConfigurationError(f"answer_match must be one of {', '.join(ANSWER_MATCH)}, got {answer_match!r}")
        return cls(
            data_path=None if data_path in (None, "") else str(data_path),
            hf_dataset=str(hf_dataset),
            hf_revision=None if revision in (None, "") else str(revision),
            use_ground_truth_context=ground_truth,
            turn_window=window,
            answer_match=answer_match,
        )

    def variant(self) -> dict[str, Any]:
        """What a sample records about how it was run."""
        return {
            "context": "ground_truth" if self.use_ground_truth_context else "own",
            "turn_window": self.turn_window,
            "answer_match": self.answer_match,
        }
