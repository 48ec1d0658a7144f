"""mteval: measure how well language models hold up across multi-turn conversations."""

__version__ = "0.1.0"

__all__ = ["__version__"]
