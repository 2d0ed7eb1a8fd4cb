"""A schema's dump as one plain function, for the hot read paths.

marshmallow's `Schema.dump` walks every field through `Field.serialize`, an accessor and
the field's `_serialize` on each call (~7 % of registration's CPU on a GET). `fast_dump`
does the same steps, decided once per schema: a value that is already of the field's
output type (a `str` for a String, an `int` for an Integer, ...) is taken as it is, which
is what marshmallow's conversion would return for it; anything else goes through the
field's own `_serialize`. A schema the plan cannot follow exactly (dump hooks, overridden
accessors, dotted attributes, fields that do not read their attribute) is dumped by
marshmallow itself. tests/unit/test_fast_dump.py compares both on the same data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, missing, utils
from marshmallow.decorators import POST_DUMP, PRE_DUMP

Convert = Callable[[Any, str, Any], Any]


def _convert(field: fields.Field) -> Convert:
    """What `field._serialize(value, attr, obj)` returns, with its common cases inlined."""
    serialize = field._serialize
    kind = type(field)
    if kind._serialize is fields.Field._serialize:  # Boolean, Raw: the value as it is
        return lambda value, attr, obj: value
    if isinstance(field, fields.String) and kind._serialize is fields.String._serialize:
        return lambda value, attr, obj: (value if value is None or type(value) is str
                                         else serialize(value, attr, obj))
    if (isinstance(field, fields.Number) and kind._serialize is fields.Number._serialize
            and kind._format_num is fields.Number._format_num and not field.as_string
            and field.num_type in (int, float)):
        num_type = field.num_type
        return lambda value, attr, obj: (value if value is None or type(value) is num_type
                                         else serialize(value, attr, obj))
    if isinstance(field, fields.List) and kind._serialize is fields.List._serialize:
        inner = _convert(field.inner)
        return lambda value, attr, obj: (None if value is None
                                         else [inner(each, attr, obj) for each in value])
    if isinstance(field, fields.Nested) and kind._serialize is fields.Nested._serialize:
        schema = field.schema
        dump = fast_dump(schema)
        many = schema.many or field.many
        return lambda value, attr, obj: (None if value is None
                                         else dump(value, many=many))
    return serialize


def _plain(field: fields.Field) -> bool:
    kind = type(field)
    return (field._CHECK_ATTRIBUTE and kind.serialize is fields.Field.serialize
            and kind.get_value is fields.Field.get_value)


def fast_dump(schema: Schema) -> Callable[..., Any]:
    """A function equal to `schema.dump(obj, many=...)`."""
    if (schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP] or schema.dict_class is not dict
            or type(schema).get_attribute is not Schema.get_attribute
            or not all(_plain(field) for field in schema.dump_fields.values())):
        return schema.dump
    plan = []
    for name, field in schema.dump_fields.items():
        attr = field.attribute if field.attribute is not None else name
        if "." in attr:
            return schema.dump
        plan.append((name, attr, field.data_key if field.data_key is not None else name,
                     field.dump_default, _convert(field)))
    default_many = schema.many

    def one(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        is_dict = type(obj) is dict
        for name, attr, key, default, convert in plan:
            if is_dict:
                value = obj.get(attr, missing)
                if value is missing:  # marshmallow falls back to an attribute of the object
                    value = getattr(obj, attr, missing)
            else:
                value = utils.get_value(obj, attr, missing)
            if value is missing:
                value = default() if callable(default) else default
                if value is missing:
                    continue
            out[key] = convert(value, name, obj)
        return out

    def dump(obj: Any, *, many: bool | None = None) -> Any:
        if (default_many if many is None else many) and obj is not None:
            return [one(each) for each in obj]
        return one(obj)

    return dump
