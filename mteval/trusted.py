"""Pydantic models built from values that are already valid, at a quarter of the cost
of `model_construct`.

A cached re-run builds ~3 messages and one `Usage` per turn from strings and integers
mteval itself checked (a conversation's fields, a reply, SQLite NOT NULL INTEGER
columns); `model_construct` spends ~4 us each filling defaults it never needs here.
`trusted` sets exactly what `model_construct` would when every field is given, so the
object is indistinguishable from one it builds (equality, hashing, dumps, fields set).
"""

from __future__ import annotations

from typing import Any, Iterable, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_set = object.__setattr__


def trusted(cls: type[M], values: dict[str, Any], given: Iterable[str] | None = None) -> M:
    """`cls.model_construct(**values)` for a model without extra or private attributes,
    where `values` names every field in declaration order (dumps write `__dict__`'s order),
    and nothing is validated or defaulted. `given`: the
    fields the caller set explicitly, if not all of them (what `cls(**given_values)`
    would record as set)."""
    model = _new(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values if given is None else given))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model
