"""Offline sentence counting (NLTK Punkt, English) and a network-free import of lm-eval's
IFEval checkers.

MT-Eval counts sentences with `nltk.sent_tokenize`, whose English model NLTK downloads at
run time, and `lm_eval.tasks.ifeval.instructions_util` calls `nltk.download("punkt_tab")`
at import when that model is missing. The model ships in `nltk_data/` (Apache-2.0, see its
README); this module puts that folder first on `nltk.data.path` so both find it, and refuses
any download while lm-eval is imported, so nothing here can reach or wait on the network.
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType
from typing import Any

from mteval.errors import ConfigurationError

NLTK_DATA = Path(__file__).resolve().parent / "nltk_data"
PUNKT_ENGLISH = NLTK_DATA / "tokenizers" / "punkt_tab" / "english"
PUNKT_FILES = ("abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab")


def ensure_punkt() -> None:
    """Make NLTK find the shipped English Punkt model (idempotent)."""
    missing = [name for name in PUNKT_FILES if not (PUNKT_ENGLISH / name).is_file()]
    if missing:
        raise ConfigurationError(
            f"mt_eval: the shipped NLTK Punkt model is incomplete ({', '.join(missing)} missing in {PUNKT_ENGLISH}); "
            "reinstall mteval (the package data must include *.tab files)"
        )
    import nltk

    folder = str(NLTK_DATA)
    if not nltk.data.path or nltk.data.path[0] != folder:
        if folder in nltk.data.path:
            nltk.data.path.remove(folder)
        nltk.data.path.insert(0, folder)


@functools.lru_cache(maxsize=1)
def _tokenizer() -> Any:
    ensure_punkt()
    from nltk.tokenize import PunktTokenizer

    return PunktTokenizer("english")


def sent_tokenize(text: str) -> list[str]:
    """`nltk.sent_tokenize(text)` with the shipped English model."""
    return _tokenizer().tokenize(text)


def count_sentences(text: str) -> int:
    """MT-Eval's `{num_sent}`: `len(nltk.sent_tokenize(text))`."""
    return len(sent_tokenize(text))


def _refuse_download(*args: Any, **kwargs: Any) -> bool:
    raise ConfigurationError("mt_eval never downloads NLTK data; the shipped Punkt model was not found by NLTK")


@functools.lru_cache(maxsize=1)
def ifeval_instructions() -> ModuleType:
    """`lm_eval.tasks.ifeval.instructions`, imported with the shipped Punkt model on the
    NLTK path and `nltk.download` disabled for the duration of the import. Imported lazily:
    lm-eval's task package is slow to import and only global-instruction checks need it."""
    ensure_punkt()
    import nltk

    original = nltk.download
    nltk.download = _refuse_download
    try:
        from lm_eval.tasks.ifeval import instructions
    finally:
        nltk.download = original
    return instructions
