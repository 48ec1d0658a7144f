"""The plain-dict fast path of `parse_chat_completion` reads what the general path
(attribute access over the decoded JSON, shared with SDK objects) reads, and hands every
unusual reply to it, so errors keep their messages."""

from __future__ import annotations

import pytest

from mteval.errors import MalformedResponse
from mteval.models import openai_model
from mteval.models.openai_model import _Fields, _parse_plain, parse_chat_completion

WELL_FORMED = [
    {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 7, "completion_tokens": 2}},
    {"choices": [{"message": {"content": ""}}]},
    {"choices": [{"message": {"content": "x"}, "finish_reason": None}], "usage": None},
    {"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": None}},
]
UNUSUAL = [
    {"choices": []},
    {"choices": [{"message": {"content": None, "refusal": "no"}}]},
    {"choices": [{"message": {"content": 3}}]},
    {"choices": {"0": {}}},
    {"choices": ["text"]},
    {},
]


@pytest.mark.parametrize("reply", WELL_FORMED)
def test_fast_path_reads_what_the_general_path_reads(reply, monkeypatch) -> None:
    fast = _parse_plain(reply)
    assert fast is not None
    monkeypatch.setattr(openai_model, "_parse_plain", lambda response: None)
    assert parse_chat_completion(reply) == fast == parse_chat_completion(_Fields(reply))


@pytest.mark.parametrize("reply", UNUSUAL)
def test_unusual_replies_go_to_the_general_path(reply) -> None:
    assert _parse_plain(reply) is None
    with pytest.raises(MalformedResponse):
        parse_chat_completion(reply)
