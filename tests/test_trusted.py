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
