"""From HTML form fields to the JSON the services take: dotted names nest, lists repeat,
empty fields are left out (the service says what is missing)."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict


def nested(form: MultiDict, scalars: tuple[str, ...] = (), lists: tuple[str, ...] = (),
           integers: tuple[str, ...] = (), booleans: tuple[str, ...] = (),
           keep_empty: bool = False) -> dict[str, Any]:
    """`organisation.country=PT` -> {"organisation": {"country": "PT"}}."""
    body: dict[str, Any] = {}
    for name in scalars + integers:
        value = (form.get(name) or "").strip()
        if not value and not keep_empty:
            continue
        put(body, name, _integer(value) if name in integers else (value or None))
    for name in lists:
        put(body, name, [v for v in form.getlist(name) if v])
    for name in booleans:
        put(body, name, form.get(name) in ("on", "true", "1", "yes"))
    return body


def _integer(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        return value  # the service's schema says what is wrong with it


def put(body: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        body = body.setdefault(part, {})
    body[last] = value


def flatten_errors(errors: dict[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """A service's field errors, nested or dotted, as {dotted name: [messages]}."""
    flat: dict[str, list[str]] = {}
    for key, value in (errors or {}).items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten_errors(value, name))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            flat[name] = value
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    flat.update(flatten_errors(item, f"{name}.{index}"))
                else:
                    flat.setdefault(name, []).append(str(item))
        else:
            flat[name] = [str(value)]
    return flat
