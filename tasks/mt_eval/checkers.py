"""MT-Eval's rule scores: the classification substring rule (Recollection, cls ablations)
and the 14 global-instruction checks (Kwan et al., arXiv 2401.16745;
github.com/KwanWaiChung/MT-Eval).

Where lm-eval's IFEval checker has exactly the semantics of MT-Eval's table it is reused
(json_format, number_sentences, no_comma, two_responses, placeholder); the others differ
(quote stripping, empty replies, N = 0 bullets, regex keywords, an English-only case check,
fixed answer options, or no IFEval counterpart) and are written here. Checkers are built
and their arguments validated when the data is loaded, so a bad instruction fails before
any model call.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

# IFEval's 30 response languages (lm_eval.tasks.ifeval.instructions_util.LANGUAGE_CODES),
# keyed by the English name that MT-Eval's `lang` argument carries.
LANGUAGES: dict[str, str] = {
    "English": "en", "Spanish": "es", "Portuguese": "pt", "Arabic": "ar", "Hindi": "hi", "French": "fr",
    "Russian": "ru", "German": "de", "Japanese": "ja", "Italian": "it", "Bengali": "bn", "Ukrainian": "uk",
    "Thai": "th", "Urdu": "ur", "Tamil": "ta", "Telugu": "te", "Bulgarian": "bg", "Korean": "ko",
    "Polish": "pl", "Hebrew": "he", "Persian": "fa", "Vietnamese": "vi", "Nepali": "ne", "Swahili": "sw",
    "Kannada": "kn", "Marathi": "mr", "Gujarati": "gu", "Punjabi": "pa", "Malayalam": "ml", "Finnish": "fi",
}

PASS, FAIL = 10.0, 0.0

# --- classification rule -----------------------------------------------------------------
_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation})


def normalize_label(text: str) -> str:
    """Every `string.punctuation` character becomes a space, then lowercase (no strip)."""
    return text.translate(_PUNCTUATION).lower()


def cls_match(reply: str, label: str, mode: str = "substring") -> bool:
    """MT-Eval's rule: the normalised gold label is a substring of the normalised reply
    (so `art` matches inside `start`). Option `word`: whole-word match instead."""
    gold, got = normalize_label(label), normalize_label(reply)
    if mode == "substring":
        return gold in got
    if mode == "word":
        want, have = gold.split(), got.split()
        return bool(want) and any(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1))
    raise ValueError(f"cls_match must be 'substring' or 'word', got {mode!r}")


# --- global instructions -------------------------------------------------------------------
class InstructionError(ValueError):
    """A global instruction that cannot be checked; `field` is the offending record field."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Checker:
    """One dialogue's instruction check; `implementation` says whose code decides."""

    name: str
    args: Mapping[str, Any]
    check: Callable[[str], bool] = field(repr=False)
    implementation: str = "mteval"

    def __call__(self, reply: str) -> bool:
        return bool(self.check(reply))

    def score(self, reply: str) -> float:
        return PASS if self(reply) else FAIL


def _int(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer, got {value!r}")
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value


def _letter(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 1:
        raise ValueError(f"must be one character, got {value!r}")
    return value


def _texts(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"must be a non-empty list of non-empty strings, got {value!r}")
    return list(value)


def _language(value: Any) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"unknown language {value!r}; known: {', '.join(sorted(LANGUAGES))}")
    return value


def _relation(value: Any) -> str:
    if value not in ("less than", "at least"):
        raise ValueError(f"must be 'less than' or 'at least', got {value!r}")
    return value


ARGUMENTS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "startend:start_char": {"letter": _letter},
    "startend:start_emoji": {},
    "startend:end_phrase": {"end_phrase": _text},
    "language:response_language": {"lang": _language},
    "format:json_format": {},
    "format:bullet_list": {"num_bullets": _int(0)},
    "length_constraints:number_sentences": {"num_sentences": _int(1), "relation": _relation},
    "keywords:existence": {"keywords": _texts},
    "change_case:capital_letter": {},
    "change_case:lowercase": {},
    "punctuation:no_comma": {},
    "combination:two_responses": {},
    "content:placeholder": {"num_placeholder": _int(0)},
    "format:constrained_response": {"response_options": _texts},
}
"""The 14 instruction names and their (all required) arguments."""

_BULLET_STAR = re.compile(r"^\s*\*[^\*].*$", re.MULTILINE)
_BULLET_DASH = re.compile(r"^\s*-.*$", re.MULTILINE)


def count_bullets(reply: str) -> int:
    return len(_BULLET_STAR.findall(reply)) + len(_BULLET_DASH.findall(reply))


def starts_with_emoji(reply: str) -> bool:
    import emoji

    text = reply.strip()
    return bool(text) and emoji.is_emoji(text[0])


def in_language(reply: str, code: str) -> bool:
    """Empty: fail; `langdetect.detect(reply.strip()) == code`; a detection error counts
    as a pass. MT-Eval strips first, and langdetect's answer depends on trailing
    whitespace (a Punjabi reply ending in a space can come out as English)."""
    text = reply.strip()
    if not text:
        return False
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0  # langdetect samples at random; seeded, it is deterministic
    try:
        return detect(text) == code
    except LangDetectException:
        return True


def _own(name: str, a: Mapping[str, Any]) -> Callable[[str], bool] | None:
    """MT-Eval's own conditions (no identical lm-eval checker)."""
    if name == "startend:start_char":
        return lambda r: r.strip().lower().startswith(a["letter"].lower())
    if name == "startend:start_emoji":
        return starts_with_emoji
    if name == "startend:end_phrase":
        return lambda r: r.strip().strip("'").lower().endswith(a["end_phrase"].lower())
    if name == "language:response_language":
        code = LANGUAGES[a["lang"]]
        return lambda r: in_language(r, code)
    if name == "format:bullet_list":
        n = a["num_bullets"]
        return lambda r: count_bullets(r) > 0 if n == 0 else count_bullets(r) == n
    if name == "keywords:existence":
        words = [k.lower() for k in a["keywords"]]
        return lambda r: all(k in r.lower() for k in words)
    if name == "change_case:capital_letter":
        return lambda r: r.isupper()
    if name == "change_case:lowercase":
        return lambda r: r.islower()
    if name == "format:constrained_response":
        options = list(a["response_options"])
        return lambda r: any(option in r for option in options)
    return None


_LM_EVAL = {
    "format:json_format": ("JsonFormat", lambda a: {}),
    "length_constraints:number_sentences": (
        "NumberOfSentences",
        lambda a: {"num_sentences": a["num_sentences"], "relation": a["relation"]},
    ),
    "punctuation:no_comma": ("CommaChecker", lambda a: {}),
    "combination:two_responses": ("TwoResponsesChecker", lambda a: {}),
    "content:placeholder": ("PlaceholderChecker", lambda a: {"num_placeholders": a["num_placeholder"]}),
}


def _lm_eval_checker(name: str, a: Mapping[str, Any]) -> Callable[[str], bool]:
    """lm-eval's IFEval checker for an instruction whose semantics match MT-Eval's."""
    from .sentences import ifeval_instructions

    class_name, kwargs = _LM_EVAL[name]
    instruction = getattr(ifeval_instructions(), class_name)(name)
    instruction.build_description(**kwargs(a))
    return instruction.check_following


def validate_instruction(name: Any, args: Any) -> dict[str, Any]:
    """Checked, normalised arguments for `name`; raises `InstructionError` naming the field."""
    if not isinstance(name, str) or name not in ARGUMENTS:
        hint = " (disabled in MT-Eval)" if name == "length_constraints:number_words" else ""
        raise InstructionError("inst_name", f"unknown global instruction {name!r}{hint}; known: {', '.join(ARGUMENTS)}")
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise InstructionError("inst_args", f"must be an object, got {type(args).__name__}")
    expected = ARGUMENTS[name]
    for key in args:
        if key not in expected:
            allowed = ", ".join(expected) or "none"
            raise InstructionError(f"inst_args.{key}", f"unknown argument for {name} (expected: {allowed})")
    checked: dict[str, Any] = {}
    for key, validate in expected.items():
        if key not in args:
            raise InstructionError(f"inst_args.{key}", f"missing (required by {name})")
        try:
            checked[key] = validate(args[key])
        except ValueError as exc:
            raise InstructionError(f"inst_args.{key}", str(exc)) from exc
    return checked


def build_checker(name: Any, args: Any) -> Checker:
    """The checker for one dialogue's `inst_name` and `inst_args` (validated here)."""
    checked = validate_instruction(name, args)
    own = _own(name, checked)
    if own is not None:
        return Checker(name=name, args=checked, check=own, implementation="mteval")
    return Checker(name=name, args=checked, check=_lm_eval_checker(name, checked), implementation="lm-eval ifeval")
