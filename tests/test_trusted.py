"""`trusted` builds exactly what `model_construct` builds (equality, hash, dumps, fields set)."""

from __future__ import annotations

from mteval.conversation import Message
from mteval.transcript import TurnRecord, Usage
from mteval.trusted import trusted


def test_trusted_message_is_the_constructed_one():
    built = trusted(Message, {"role": "user", "content": "hi \u00e9"})
    reference = Message.model_construct(role="user", content="hi \u00e9")
    assert built == reference and hash(built) == hash(reference)
    assert built.model_dump_json() == reference.model_dump_json()
    assert built.model_fields_set == reference.model_fields_set == {"role", "content"}
    assert built == Message(role="user", content="hi \u00e9")


def test_trusted_usage_dumps_and_adds_like_a_validated_one():
    built = trusted(Usage, {"input_tokens": 3, "output_tokens": 4})
    assert built == Usage(input_tokens=3, output_tokens=4)
    assert (built + built).model_dump() == {"input_tokens": 6, "output_tokens": 8}
    record = TurnRecord(index=0, turn_id="t", usage=built, prompt_new=[trusted(Message, {"role": "user", "content": "x"})])
    assert record.model_dump_json() == TurnRecord(index=0, turn_id="t", usage=Usage(input_tokens=3, output_tokens=4),
                                                 prompt_new=[Message(role="user", content="x")]).model_dump_json()


def test_a_cached_turn_record_and_rule_score_are_the_validated_ones():
    import asyncio

    from mteval.client import Completion
    from mteval.scoring import rule
    from mteval.solver import request_record

    sent = [Message(role="system", content="s"), Message(role="user", content="u")]
    previous = sent[:1]
    cached = Completion("reply", Usage(input_tokens=1, output_tokens=2), "stop", 0.0, 0, True)
    fresh = Completion("reply", Usage(input_tokens=1, output_tokens=2), "stop", 0.0, 0, False)
    fast = request_record(1, "t1", previous, sent, cached, scored=True, metadata={"window": 2})
    slow = request_record(1, "t1", previous, sent, fresh, scored=True, metadata={"window": 2})
    slow_as_cached = slow.model_copy(update={"cached": True})
    assert fast.model_dump_json() == slow_as_cached.model_dump_json()
    assert fast == TurnRecord.model_validate(fast.model_dump()) and fast.model_fields_set == slow.model_fields_set

    @rule("half")
    def half(reply, turn):
        return 0.5

    score = asyncio.run(half.score(type("S", (), {"reply": "r", "turn": None})(), None))
    from mteval.transcript import Score

    assert score == Score(value=0.5) and score.model_fields_set == {"value"}
    assert score.model_dump_json() == Score(value=0.5).model_dump_json()
