"""Checks a JSON value against the subset of JSON Schema the API's request schemas use.

Supported: type (one or a list), enum, properties / required / additionalProperties,
min/maxProperties, min/maxLength, minimum / maximum, items, min/maxItems. A schema using
anything else is a programming error (`unsupported`), caught by the OpenAPI tests.
"""

from __future__ import annotations

import re
from typing import Any

from bot.api.schemas import Schema

SUPPORTED = frozenset(
    {
        "type",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "items",
        "minItems",
        "maxItems",
        "description",
        "format",
        "default",
        "pattern",
        "examples",
    }
)
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


class Invalid(ValueError):
    """A value does not fit its schema; the message names the place."""


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind not in ("boolean",):
        return False
    return isinstance(value, _TYPES[kind])


def validate(value: Any, schema: Schema, where: str) -> None:
    """Raise Invalid naming the first place where `value` breaks `schema`."""
    unknown = set(schema) - SUPPORTED
    if unknown:
        raise TypeError(f"unsupported schema keywords {sorted(unknown)} at {where}")
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, k) for k in kinds):
            raise Invalid(f"{where}: expected {' or '.join(kinds)}")
    if "enum" in schema and value not in schema["enum"]:
        shown = ", ".join(str(v) for v in schema["enum"] if v is not None)
        raise Invalid(f"{where}: expected one of {shown}")
    if isinstance(value, str):
        _string(value, schema, where)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _number(value, schema, where)
    elif isinstance(value, list):
        _array(value, schema, where)
    elif isinstance(value, dict):
        _object(value, schema, where)


def _string(value: str, schema: Schema, where: str) -> None:
    if len(value) < schema.get("minLength", 0):
        raise Invalid(f"{where}: shorter than {schema['minLength']} character(s)")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise Invalid(f"{where}: longer than {schema['maxLength']} characters")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        raise Invalid(f"{where}: does not match {schema['pattern']}")


def _number(value: float, schema: Schema, where: str) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        raise Invalid(f"{where}: must be at least {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise Invalid(f"{where}: must be at most {schema['maximum']}")


def _array(value: list[Any], schema: Schema, where: str) -> None:
    if len(value) < schema.get("minItems", 0):
        raise Invalid(f"{where}: needs at least {schema['minItems']} entries")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise Invalid(f"{where}: holds at most {schema['maxItems']} entries")
    if "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{where}[{i}]")


def _object(value: dict[str, Any], schema: Schema, where: str) -> None:
    properties: dict[str, Schema] = schema.get("properties", {})
    if schema.get("additionalProperties", True) is False:
        extra = sorted(set(value) - set(properties))
        if extra:
            raise Invalid(f"{where}: unknown field `{extra[0][:60]}`")
    for name in schema.get("required", ()):
        if name not in value:
            raise Invalid(f"{where}.{name}: required")
    if len(value) < schema.get("minProperties", 0):
        raise Invalid(f"{where}: needs at least {schema['minProperties']} field(s)")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        raise Invalid(f"{where}: takes at most {schema['maxProperties']} field(s)")
    for name, item in value.items():
        if name in properties:
            validate(item, properties[name], f"{where}.{name}")


def parameter(text: str, schema: Schema, where: str) -> Any:
    """A path or query parameter's text as its schema's type, validated."""
    if "\x00" in text:
        raise Invalid(f"{where}: can't contain NUL characters")
    value: Any = text
    kinds = schema.get("type")
    if kinds == "integer":
        if not re.fullmatch(r"-?\d{1,12}", text):
            raise Invalid(f"{where}: expected an integer")
        value = int(text)
    elif kinds == "boolean":
        if text not in ("true", "false"):
            raise Invalid(f"{where}: expected true or false")
        value = text == "true"
    validate(value, schema, where)
    return value


__all__ = ["Invalid", "parameter", "validate"]
