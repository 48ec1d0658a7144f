"""Old import path of `mteval.scoring.judge_spec` (judge definitions, verdicts and juror calls), kept so plugins written
before the rename keep working: the two names were look-alikes (judge.py / judged.py)."""

import sys

from mteval.scoring import judge_spec

sys.modules[__name__] = judge_spec
