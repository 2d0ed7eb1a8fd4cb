"""Schema helpers shared by every service."""

from __future__ import annotations

import copy
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing, validate

from common.errors import ValidationFailed

COUNTRY = validate.Regexp(r"^[A-Z]{2}$", error="Use a two-letter ISO 3166 country code.")


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"organisation.name": ["..."]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix or "_schema"
            for sub_path, msgs in flatten_errors(value, path).items():
                flat.setdefault(sub_path, []).extend(msgs)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            flat.update(flatten_errors(value, f"{prefix}.{index}"))
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


def text_errors(data: Any) -> dict[str, list[str]]:
    """Strings no database stores: NUL characters and lone surrogates (JSON's "\\ud800"),
    by their path. Walked without recursion, so any depth is safe."""
    errors: dict[str, list[str]] = {}
    pending: list[tuple[str, Any]] = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                key = str(key)
                sub = f"{path}.{key}" if path else key
                problem = _text_problem(key)
                if problem:
                    errors.setdefault(sub.encode("utf-8", "backslashreplace").decode(), []).append(
                        "The name " + problem)
                pending.append((sub, item))
        elif isinstance(value, list):
            pending.extend((f"{path}.{index}" if path else str(index), item)
                           for index, item in enumerate(value))
        elif isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                errors.setdefault(path.encode("utf-8", "backslashreplace").decode() or "_schema",
                                  []).append("The text " + problem)
    return errors


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)."
    return None


def load(schema: Schema, data: Any, **kwargs: Any) -> dict[str, Any]:
    """Input through a contract: every RPC payload and query passes here, whoever sent it, so
    this is where text that would break a database write is refused by field."""
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object.", {"_schema": ["Expected an object."]})
    bad_text = text_errors(data)
    if bad_text:
        raise ValidationFailed("Some fields are not valid.", bad_text)
    try:
        return schema.load(data, **kwargs)
    except ValidationError as exc:
        raise ValidationFailed("Some fields are not valid.", flatten_errors(exc.messages)) from exc


class PageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_of(items: list[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page, "per_page": per_page}


class IsoDate(fields.Date):
    """A date that may already be an ISO string (dates kept in JSON columns)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            return value
        return super()._serialize(value, attr, obj, **kwargs)


def merge_patch_schema(schema: type[Schema], name: str, not_null: tuple[str, ...] = (),
                       **overrides: fields.Field) -> type[Schema]:
    """The schema of a JSON merge patch (RFC 7396) of `schema`'s objects: no member is
    required, and `null` removes a member, except the `not_null` ones (which cannot be
    removed). Arrays are replaced whole, so their items keep the full schema."""
    declared: dict[str, fields.Field] = {}
    for field_name, original in schema._declared_fields.items():
        if original.dump_only:
            continue
        field = copy.copy(original)
        field.required, field.load_default = False, missing
        field.allow_none = field_name not in not_null
        declared[field_name] = field
    declared.update(overrides)
    return Schema.from_dict(declared, name=name)


class StatisticsQuerySchema(Schema):
    partnership_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64),
                                   metadata={"description": "One partnership's figures "
                                             "(administrators; a contact point always gets its own)"})


class CountSchema(Schema):
    """One group of a breakdown: its key (a code, a state, a month `YYYY-MM`, or `unknown`)
    and how many."""

    key = fields.String()
    count = fields.Integer()
