"""MultiTurnInstruct's six turn metrics, as the upstream evaluation code computes them.

Every function takes the full reply `r` and the turn's references `R` and returns a
score in [0, 1], or None when `R` is None (an unscored turn). Definitions:
Han et al., arXiv 2503.13222; upstream: `evaluation/metric_functions.py` and
`evaluation/squad_metric.py` of github.com/Glaciohound/Multi-Turn-Instruct.
"""

from __future__ import annotations

import collections
import re
import string
import warnings
from typing import Callable, Sequence

References = Sequence[str] | None
MetricFn = Callable[[str, References], float | None]


def matching_any(reply: str, references: References) -> float | None:
    """1.0 if any reference, lowercased, is a substring of the lowercased reply."""
    if references is None:
        return None
    lowered = reply.lower()
    return float(any(ref.lower() in lowered for ref in references))


def not_matching_any(reply: str, references: References) -> float | None:
    """Non-matching rate (privacy): 1.0 when no reference leaks into the reply."""
    if references is None:
        return None
    return 1.0 - matching_any(reply, references)


_ANSWER_FIRST = re.compile(r"Answer:\s*(.+)")
_ANSWER_LAST = re.compile(r"Answer: (.+?)")


def matching_any_exact(reply: str, references: References) -> float | None:
    """Exact match of the first `Answer:` line (upstream after its 2025-03-27 fix).

    The first match of `Answer:\\s*(.+)` (case-sensitive "Answer:"; `\\s*` may cross a
    newline, the captured text stops at the next one) is stripped, then trailing
    `string.punctuation` is removed (no second strip: "4 ." stays "4 "), and compared
    with every reference case-insensitively. No "Answer:" gives 0.0."""
    if references is None:
        return None
    match = _ANSWER_FIRST.search(reply)
    if match is None:
        return 0.0
    answer = match.group(1).strip().rstrip(string.punctuation).lower()
    return float(any(answer == ref.lower() for ref in references))


def matching_any_exact_last(reply: str, references: References) -> float | None:
    """The pre-fix variant (option `answer_match=last`): the last match of
    `Answer: (.+?)`, stripped, compared case-insensitively. The lazy `(.+?)` captures a
    single character, so only one-character references can ever match; kept as
    upstream had it so that older published numbers can be reproduced."""
    if references is None:
        return None
    found = _ANSWER_LAST.findall(reply)
    if not found:
        return 0.0
    answer = found[-1].strip().lower()
    return float(any(answer == ref.lower() for ref in references))


def intersection_over_union(reply: str, references: References) -> float | None:
    """Set IoU of the listed items and the references.

    `s = r.lower().strip()`; if ": " occurs, keep only the text between the first and
    the second ": "; the predicted set is `s.split(", ")` (items are not stripped);
    the gold set is the lowercased references; score = m / (|P| + |G| - m)."""
    if references is None:
        return None
    text = reply.lower().strip()
    if ": " in text:
        text = text.split(": ")[1]
    predicted = set(text.split(", "))
    gold = {ref.lower() for ref in references}
    matched = sum(1 for ref in gold if ref in predicted)
    return matched / (len(predicted) + len(gold) - matched)


def _squad_normalize(text: str) -> str:
    """SQuAD's normalisation: lowercase, drop ASCII punctuation, drop the articles
    a/an/the (whole words), collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text, flags=re.UNICODE)
    return " ".join(text.split())


_PUNCTUATION = frozenset(string.punctuation)


def squad_f1(prediction: str, gold: str) -> float:
    """Token F1 of the official SQuAD v2.0 evaluation script (`compute_f1`).

    Written out here rather than imported: `evaluate`'s squad_v2 metric is fetched from
    the Hugging Face Hub at run time (not available offline), and lm-eval's SQuAD-style
    helpers are task-internal variants (v1 semantics without the empty-answer rule, or
    MLQA's Unicode punctuation). Upstream vendors the official v2.0 script; this is the
    same computation: if either side normalises to no tokens, 1.0 when both do, else 0.0."""
    gold_tokens = _squad_normalize(gold).split()
    pred_tokens = _squad_normalize(prediction).split()
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)
    common = collections.Counter(gold_tokens) & collections.Counter(pred_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad(reply: str, references: References) -> float | None:
    """Max over references of SQuAD-v2 token F1 against the full reply. mteval adds the
    None guard for unscored turns (upstream has none for this metric)."""
    if references is None:
        return None
    return max(squad_f1(reply, ref) for ref in references)


def bleu(reply: str, references: References) -> float | None:
    """nltk `sentence_bleu([ref.split() for ref in R], r.split())`: uniform 4-gram
    weights, no smoothing, whitespace tokens (upstream's definition; sacrebleu's
    tokenisation and smoothing give different numbers, so it is not used). Without any
    4-gram overlap the score is about 0 (nltk uses the smallest float for zero counts),
    even for an exact match shorter than four tokens; an empty reply scores 0.0."""
    if references is None:
        return None
    from nltk.translate.bleu_score import sentence_bleu

    with warnings.catch_warnings():  # nltk warns on every zero n-gram count
        warnings.simplefilter("ignore", UserWarning)
        return float(sentence_bleu([ref.split() for ref in references], reply.split()))


METRICS: dict[str, MetricFn] = {
    "matching_any": matching_any,
    "not_matching_any": not_matching_any,
    "matching_any_exact": matching_any_exact,
    "intersection_over_union": intersection_over_union,
    "squad": squad,
    "bleu": bleu,
}
ANSWER_MATCH = ("first", "last")


def metric_function(name: str, answer_match: str = "first") -> MetricFn:
    """The function for a metric name; `answer_match="last"` selects the pre-fix
    `matching_any_exact`."""
    if name == "matching_any_exact" and answer_match == "last":
        return matching_any_exact_last
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown evaluation_metric {name!r} (known: {', '.join(METRICS)})") from None
