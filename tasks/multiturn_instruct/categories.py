"""The benchmark's nine categories (its `task` keys) grouped into its three levels.

The grouping follows the MultiTurnInstruct paper (Han et al., arXiv 2503.13222) and its
repository, github.com/Glaciohound/Multi-Turn-Instruct.
"""

from __future__ import annotations

FAMILY = "multiturn_instruct"
HF_DATASET = "Glaciohound/Multi-Turn-Instruct"

LEVELS: dict[str, tuple[str, ...]] = {
    "context_retrieving": ("memorization", "dynamic_instruction", "multitasking"),
    "context_tracking": ("dynamic_environment", "triggering", "recursive_reasoning"),
    "contradiction_resolution": ("privacy_protection", "personalization", "prioritization"),
}
CATEGORIES: tuple[str, ...] = tuple(category for members in LEVELS.values() for category in members)
LEVEL_OF: dict[str, str] = {category: level for level, members in LEVELS.items() for category in members}


def level_label(level: str) -> str:
    """'context_retrieving' -> 'Context Retrieving'."""
    return level.replace("_", " ").title()
