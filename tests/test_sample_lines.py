"""samples.jsonl line checks: a line orjson parses is taken after a shape check alone (the
fields the readers index, named with the line when wrong); every other line gets the full
checks (bad bytes, blank, torn tail, invalid JSON, JSON only the json module reads). Both readers (one pass for a fresh run, two for a resumed one) give
the same verdicts and messages, naming the file and line."""

from __future__ import annotations

import json

import pytest

from mteval.results import ResultsError, iter_sample_dicts

GOOD = json.dumps({"task": "t", "conversation": {"id": "c", "turns": []}, "turns": []}).encode()


def other(cid: str) -> bytes:
    return GOOD.replace(b'"c"', json.dumps(cid).encode())


def read(tmp_path, data: bytes, one: bool) -> list[str]:
    (tmp_path / "samples.jsonl").write_bytes(data)
    return [s["conversation"]["id"] for s in iter_sample_dicts(tmp_path, one_invocation=one)]


@pytest.mark.parametrize("one", [True, False])
@pytest.mark.parametrize("data, ids", [
    (GOOD + b"\n" + other("d") + b"\r\n", ["c", "d"]),
    (GOOD + b"\n\n   \n" + other("d") + b"\n", ["c", "d"]),  # blank lines are skipped
    (GOOD + b"\n" + other("d")[:-5], ["c"]),  # a torn last line (invalid JSON, no newline) is cut off
    (GOOD + b"\n" + other("é")[:-4], ["c"]),  # torn inside a character
    (GOOD + b"\n" + other("d"), ["c", "d"]),  # a whole last line without its newline is kept
    (GOOD + b"\n" + GOOD.replace(b'"c"', b'"x \\ud800 y"') + b"\n", ["c", "x \ud800 y"]),  # lone surrogate, kept as written
])
def test_lines_read(tmp_path, data, ids, one) -> None:
    assert read(tmp_path, data, one) == ids


@pytest.mark.parametrize("one", [True, False])
@pytest.mark.parametrize("line, message", [
    (b'{"task": "\xff"}', r"samples.jsonl:2: not UTF-8"),
    (b'"\xed\xa0\x80"', r"samples.jsonl:2: not UTF-8"),  # an encoded surrogate is not UTF-8 either
    (b'{"task": ', r"samples.jsonl:2: invalid JSON"),
    (b"[1]", r"samples.jsonl:2: expected a sample object, got list"),
    (b'{"task": "t", "conversation": 3}', r"samples.jsonl:2: field 'conversation': expected an object, got int"),
    (b'{"task": "t", "conversation": {"id": "c", "turns": []}, "turns": [{"index": "0"}]}',
     r"samples.jsonl:2: field 'turns.0.index': expected an integer, got str"),
])
def test_bad_lines_are_named(tmp_path, line, message, one) -> None:
    with pytest.raises(ResultsError, match=message):
        read(tmp_path, GOOD + b"\n" + line + b"\n" + other("d") + b"\n", one)
