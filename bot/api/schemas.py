"""JSON Schemas and checks derived from the records of `bot.api.models` by pydantic.

A request body, a query or path parameter and a response all go through the one
`TypeAdapter` of their record; the OpenAPI components are that adapter's JSON Schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"


class Invalid(ValueError):
    """A value does not fit its record; the message names the field."""


@cache
def adapter(record: Any) -> TypeAdapter[Any]:
    return TypeAdapter(record)


def ref(record: Any) -> Schema:
    return {"$ref": REF.format(model=record.__name__)}


def components(records: Iterable[Any]) -> dict[str, Schema]:
    """The JSON Schema of each record and of every record inside one, by name."""
    wanted = [(r, "validation", adapter(r)) for r in dict.fromkeys(records)]
    _, found = TypeAdapter.json_schemas(wanted, ref_template=REF)  # type: ignore[arg-type]
    return dict(sorted(found.get("$defs", {}).items()))


@cache
def schema(kind: Any) -> Schema:
    """The inline JSON Schema of a parameter's type (shared: don't change it)."""
    return adapter(kind).json_schema(ref_template=REF)


def _message(exc: ValidationError, where: str) -> str:
    first = exc.errors(include_url=False)[0]
    place = ".".join([where, *(str(part)[:60] for part in first["loc"])])
    if first["type"] == "extra_forbidden":
        return f"{place}: unknown field"
    if first["type"] == "missing":
        return f"{place}: required"
    return f"{place}: {first['msg']}"


def check(record: Any, value: Any, where: str = "body") -> Any:
    """`value` validated against `record` (strictly, as requests are), or Invalid."""
    try:
        return adapter(record).validate_python(value, strict=True)
    except ValidationError as exc:
        raise Invalid(_message(exc, where)) from None


def serialise(record: Any, value: Any) -> Any:
    """A response value as its record's JSON (a value that does not fit is a bug: it raises)."""
    made = adapter(record)
    return made.dump_python(made.validate_python(value), mode="json")


def parameter(text: str, kind: Any, where: str) -> Any:
    """A path or query parameter's text as its type, validated."""
    if "\x00" in text:
        raise Invalid(f"{where}: can't contain NUL characters")
    value: Any = text
    if schema(kind).get("type") == "integer":
        if not re.fullmatch(r"-?\d{1,12}", text):
            raise Invalid(f"{where}: expected an integer")
        value = int(text)
    try:
        return adapter(kind).validate_python(value, strict=True)
    except ValidationError as exc:
        raise Invalid(f"{where}: {exc.errors(include_url=False)[0]['msg']}") from None


__all__ = ["REF", "Invalid", "Schema", "adapter", "check", "components", "parameter", "ref"]
