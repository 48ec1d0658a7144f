"""`IdSet` (the run plan's compact set of conversation ids) answers exactly as a Python set
of the same ids: membership, iteration, duplicates, odd ids (long, NUL-ended, non-ASCII,
lone surrogates, prefixes of each other)."""

from __future__ import annotations

import random

import pytest

from mteval import id_set
from mteval.id_set import IdSet

ODD = ["", "a", "ab", "a\0", "a\0b", "é", "\ud800", "x" * 100, "x" * 64, "🙂", "a b", "A"]


@pytest.mark.parametrize("chunk", [3, 4096])
def test_answers_as_a_set_does(chunk, monkeypatch) -> None:
    monkeypatch.setattr(id_set, "_CHUNK", chunk)
    rng = random.Random(1)
    ids = [f"c{rng.randint(0, 500)}" for _ in range(400)] + ODD + ODD[:4]
    made = IdSet.of(ids)
    assert sorted(made) == sorted(set(ids)) and len(made) == len(set(ids))
    assert made.duplicates() == sorted({i for i in ids if ids.count(i) > 1})
    for probe in [*set(ids), "c9999", "a\0\0", "x" * 65, "x" * 63, "ab\0", "c", 3, None]:
        assert (probe in made) == (probe in set(ids)), probe


def test_empty() -> None:
    made = IdSet.of([])
    assert list(made) == [] and "a" not in made and made.duplicates() == []


def test_closing_is_np_unique_without_importing_numpy_ma():
    """The sorted distinct ids are np.unique's, computed from the sorted array; neither a
    scan nor a turn curve imports numpy.ma (~30 ms of a cached re-run's start-up)."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from mteval.id_set import IdSet\n"
        "from mteval.stats import turn_curve\n"
        "ids = ['b', 'a', 'c', 'a', '', 'b', 'a']\n"
        "s = IdSet.of(ids)\n"
        "assert list(s) == sorted(set(ids)), list(s)\n"
        "assert s.duplicates() == ['a', 'b'] and len(IdSet.of([])) == 0\n"
        "assert turn_curve(np.array([1.0, 0.0, np.nan, 1.0]), np.array([1, 0, 1, 1])) == "
        "{'1': {'value': 0.0, 'n': 1}, '2': {'value': 1.0, 'n': 2}}\n"
        "assert 'numpy.ma' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
