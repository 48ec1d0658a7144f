"""What does the adaptive jury save, and how often is its verdict the full jury's?

Judges that disagree the way real ones do: every item has a true quality; each juror
reads it with its own bias and noise, rounds to the 1-10 scale, and now and then gives
no usable verdict. Label judges (A / B / tie) pick the true label with a fixed accuracy,
else one of the others. The same verdicts go through mteval's `Jury` twice, adaptive
and full, and the table compares the two per item:

- calls saved: juror calls the adaptive jury did not make, out of the full jury's;
- identical: items whose adaptive verdict (value and label) equals the full jury's;
- may differ: items where the jury stopped although it could not rule a difference
  out (only mean and median with threshold > 0 do that, and they say so per item);
- max |diff|: the largest difference seen, against the threshold it promised.

Usage: python bench/jury_adaptive.py [--items 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mteval.models.base import RequestContext  # noqa: E402
from mteval.scoring.judge_spec import JudgeSpec, Verdict  # noqa: E402
from mteval.scoring.jury import AdaptiveConfig, Jury, JuryConfig, JurorConfig  # noqa: E402

SCORE = JudgeSpec(name="bench-score", template="{{ answer }}", kind="score", scale=(1, 10))
LABEL = JudgeSpec(name="bench-label", template="{{ answer }}", kind="label", parser="pairwise_abc", scale=None)

NOISE = {"low": 0.7, "moderate": 1.3}
"""Standard deviation of a juror's reading around the item's quality, in scale points."""
ACCURACY = {"low": 0.9, "moderate": 0.75}
"""How often a label juror gives the true label."""
BIASES = (0.0, 0.4, -0.5, 0.2, -0.3)
UNUSABLE = 0.02


@dataclass
class TableJuror:
    """A juror whose verdicts were drawn in advance (duck-types `Juror`)."""

    id: str
    verdicts: dict[str, Verdict]
    spec_override: JudgeSpec | None = None

    async def judge(self, spec, variables, context: RequestContext) -> Verdict:
        return self.verdicts[context.conversation_id]


def draw(kind: str, noise: str, n_jurors: int, items: int, rng: random.Random) -> list[dict[str, Verdict]]:
    tables: list[dict[str, Verdict]] = [{} for _ in range(n_jurors)]
    for i in range(items):
        item = f"item{i}"
        quality = rng.uniform(1, 10)
        truth = rng.choice("AAB" if quality > 5 else "ABB") if kind == "label" else None
        for k in range(n_jurors):
            name = f"j{k}"
            if rng.random() < UNUSABLE:
                tables[k][item] = Verdict(judge=name, spec="bench", status="unparsed")
            elif kind == "score":
                value = min(10, max(1, round(quality + BIASES[k] + rng.gauss(0, NOISE[noise]))))
                tables[k][item] = Verdict(judge=name, spec="bench", value=float(value))
            else:
                label = truth if rng.random() < ACCURACY[noise] else rng.choice([x for x in "ABC" if x != truth])
                tables[k][item] = Verdict(judge=name, spec="bench", label=label)
    return tables


async def compare(tables, spec: JudgeSpec, aggregate: str, quorum: int, threshold: float) -> dict[str, float]:
    jurors = [TableJuror(f"j{k}", t) for k, t in enumerate(tables)]
    configs = [JurorConfig(model=j.id) for j in jurors]
    adaptive = Jury(JuryConfig(jurors=configs, aggregate=aggregate, adaptive=AdaptiveConfig(quorum=quorum, threshold=threshold)), jurors)
    full = Jury(JuryConfig(jurors=configs, aggregate=aggregate), jurors)
    identical = may_differ = 0
    worst = 0.0
    items = list(tables[0])
    for item in items:
        context = RequestContext(task="bench", conversation_id=item, role="judge")
        a = await adaptive.score(spec, {"answer": ""}, context)
        f = await full.score(spec, {"answer": ""}, context)
        same = (a.value, a.details.get("label")) == (f.value, f.details.get("label"))
        identical += same
        may_differ += a.details["adaptive"]["may_differ"]
        if a.value is not None and f.value is not None:
            worst = max(worst, abs(a.value - f.value))
    stats = adaptive.stats
    return {
        "saved": 1 - stats.calls / stats.full_jury_calls,
        "identical": identical / len(items),
        "may_differ": may_differ / len(items),
        "worst": worst,
    }


SETTINGS = [
    # (kind, aggregate, jurors, quorum, threshold)
    ("score", "mean", 3, 2, 0.0),
    ("score", "mean", 3, 2, 1.0),
    ("score", "mean", 3, 2, 2.5),
    ("score", "median", 3, 2, 0.0),
    ("score", "median", 3, 2, 0.5),
    ("score", "median", 5, 3, 0.0),
    ("score", "majority", 3, 2, 0.0),
    ("score", "max_vote", 3, 2, 0.0),
    ("label", "majority", 3, 2, 0.0),
    ("label", "max_vote", 3, 2, 0.0),
    ("label", "majority", 5, 3, 0.0),
    ("label", "max_vote", 5, 3, 0.0),
]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{args.items} items per row; score jurors: noise sd {NOISE}, biases {BIASES[:5]}; label jurors: accuracy {ACCURACY}; {UNUSABLE:.0%} unusable")
    print("| kind | noise | aggregate | jurors (quorum) | threshold | calls saved | identical to full jury | may differ | max abs diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for noise in ("low", "moderate"):
        for kind, aggregate, n, quorum, threshold in SETTINGS:
            tables = draw(kind, noise, n, args.items, random.Random(f"{args.seed}{kind}{noise}{n}"))
            r = await compare(tables, SCORE if kind == "score" else LABEL, aggregate, quorum, threshold)
            thr = f"{threshold:g}" if kind == "score" and aggregate in ("mean", "median") else "-"
            print(
                f"| {kind} | {noise} | {aggregate} | {n} ({quorum}) | {thr} | {r['saved']:.1%} | {r['identical']:.1%} | {r['may_differ']:.1%} | {r['worst']:.2f} |"
            )


if __name__ == "__main__":
    asyncio.run(main())
